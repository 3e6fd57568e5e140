"""English text normalisation for scoring: what a reader says, for the text-to-phoneme model and for word scoring.

The text-to-phoneme model reads digits with Chinese-like syllables and "etc." as "etsi", so reference
transcripts are rewritten into the words a reader says before they are turned into phonemes (`spoken_words`):
a few abbreviations expanded, dotted initialisms read letter by letter ("i.e." -> "i e"), numbers spelled out,
words joined by dashes split. `normalize_text` goes further for word error rates: lowercase, no punctuation.

Numbers (a deliberately small rule set):
- a bare four-digit number from 1100 to 1999 or 2010 to 2099 is a year, read in pairs: 1963 -> "nineteen sixty
  three", 1900 -> "nineteen hundred", 1905 -> "nineteen oh five", 2024 -> "twenty twenty four";
- any other integer is a cardinal (short scale, no "and"): 2005 -> "two thousand five", 1,200 -> "one thousand two
  hundred"; digit groups separated by commas count as one number;
- a decimal part is read digit by digit: 3.25 -> "three point two five";
- an ordinal suffix makes an ordinal: 21st -> "twenty first";
- a number with a leading zero is read digit by digit: 007 -> "zero zero seven".
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
# Ordinal forms of the last word of a cardinal; other words add "th" ("-y" -> "-ieth").
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}  # fmt: skip
MAX_CARDINAL = 10**15 - 1

# Whole-word abbreviations a reader expands (matched case-insensitively, trailing period included).
ABBREVIATIONS = {
    "mr.": "mister",
    "mrs.": "missus",
    "dr.": "doctor",
    "etc.": "et cetera",
    "vs.": "versus",
    "&": "and",
}

_NUMBER_RE = re.compile(r"(?<!\d)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(st|nd|rd|th)?(?!\d)", re.IGNORECASE)
_INITIALISM_RE = re.compile(r"(?:[^\W\d_]\.){2,}")
# A dash between two word characters joins words that are spoken (and recognised) as separate words.
_INNER_DASH_RE = re.compile(r"(?<=\w)[-\u2010\u2011\u2012\u2013\u2014](?=\w)")


def cardinal(n: int) -> str:
    """0 <= n <= 999,999,999,999,999 in words: 1205 -> "one thousand two hundred five"."""
    if not 0 <= n <= MAX_CARDINAL:
        raise ValueError(f"cardinal out of range: {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{cardinal(head)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """21 -> "twenty first", 100 -> "one hundredth"."""
    *head, last = cardinal(n).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def is_year(digits: str) -> bool:
    """Four digits read as a year (see the module docstring); 2000-2009 are read as cardinals."""
    if len(digits) != 4 or not digits.isdigit():
        return False
    n = int(digits)
    return 1100 <= n <= 1999 or 2010 <= n <= 2099


def year(n: int) -> str:
    """1963 -> "nineteen sixty three", 1900 -> "nineteen hundred", 1905 -> "nineteen oh five"."""
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{cardinal(head)} hundred"
    return f"{cardinal(head)} {'oh ' if tail < 10 else ''}{cardinal(tail)}"


def _digits(s: str) -> str:
    return " ".join(_ONES[int(c)] for c in s)


def _spell(match: re.Match) -> str:
    integer, fraction, suffix = match.group(1), match.group(2), match.group(3)
    plain = integer.replace(",", "")
    if suffix:
        words = ordinal(int(plain))
    elif fraction is None and "," not in integer and is_year(plain):
        words = year(int(plain))
    elif (len(plain) > 1 and plain.startswith("0")) or int(plain) > MAX_CARDINAL:
        words = _digits(plain)
    else:
        words = cardinal(int(plain))
    if fraction:
        words += " point " + _digits(fraction[1:])
    # Apart from a letter it touches ("A4" -> "A four"), but not from punctuation ("1963," -> "... three,").
    text, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and text[end].isalnum() else ""
    return f"{before}{words}{after}"


def spell_numbers(text: str) -> str:
    """Replace every run of digits (with optional thousands commas, decimals, ordinal suffix) by words."""
    return " ".join(_NUMBER_RE.sub(_spell, text).split())


def expand_abbreviations(text: str) -> str:
    """Replace the whole words in ABBREVIATIONS (case-insensitive), keeping punctuation around them, and read
    dotted initialisms letter by letter ("i.e." -> "i e", "U.S." -> "U S")."""
    out = []
    for word in text.split():
        core = word.strip("\"'()[]{},;:!?\u201c\u201d\u2018\u2019")
        expansion = ABBREVIATIONS.get(core.lower())
        if not expansion and _INITIALISM_RE.fullmatch(core):
            expansion = " ".join(core.replace(".", ""))
        out.append(word.replace(core, expansion, 1) if expansion and core else word)
    return " ".join(out)


def spoken_words(text: str) -> list[str]:
    """The words a reader says, with the punctuation left on them (the text-to-phoneme step drops it):
    abbreviations expanded, numbers spelled out, words joined by dashes split apart."""
    text = spell_numbers(expand_abbreviations(text))
    return _INNER_DASH_RE.sub(" ", text).split()


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def normalize_text(text: str) -> str:
    """For word error rates: `spoken_words`, lowercased, apostrophes dropped ("don't" -> "dont"), other
    punctuation turned into spaces, whitespace collapsed."""
    out = []
    for word in spoken_words(text):
        word = word.lower().replace("'", "").replace("\u2019", "")
        out.append("".join(" " if _is_punctuation(ch) else ch for ch in word))
    return " ".join(" ".join(out).split())


__all__ = [
    "ABBREVIATIONS",
    "cardinal",
    "expand_abbreviations",
    "is_year",
    "normalize_text",
    "ordinal",
    "spell_numbers",
    "spoken_words",
    "year",
]
