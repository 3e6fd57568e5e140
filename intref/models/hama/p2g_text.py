"""The P2G model's vocabulary and text handling: reading ``p2g_vocab.json``, the source tokens and prefix of a
phoneme sequence, and the rendering of generated tokens as text (``../shared/models/p2g.md`` sections 2, 3, 7).

Phonemes and output characters share one table of 21,367 tokens (the phoneme ``a`` and the letter ``a`` are one
id). The acoustic model's tokens map to it by string: its ``<wb>`` becomes ``|``, tokens the table lacks become
``<unk>``, whitespace tokens vanish (the hama package joins the words into one string and splits it again).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import IntrefInputError
from .assets import find_asset

P2G_VOCAB_ASSET = "p2g_vocab.json"
PAD, UNK, BOS, EOS, SRC, TGT, NO_SOURCE = 0, 1, 2, 3, 4, 5, 6
SPECIALS = frozenset((PAD, UNK, BOS, EOS, SRC, TGT, NO_SOURCE))
WORD_SEPARATOR = "|"
MAX_INPUT_LEN = 192  # source tokens kept
MAX_POSITIONS = 416  # learned positions
MAX_NEW = 193
SPECIAL_NAMES = ("<pad>", "<unk>", "<bos>", "<eos>", "<src>", "<tgt>", "<no_source>")

# Hangul: a leading consonant jamo followed by a vowel jamo (and an optional trailing jamo) is one syllable.
_L0, _L1, _V0, _V1, _T0, _T1 = 0x1100, 0x1112, 0x1161, 0x1175, 0x11A8, 0x11C2


@dataclass(frozen=True)
class P2GVocab:
    tokens: tuple[str, ...]
    _ids: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.tokens) <= NO_SOURCE or tuple(self.tokens[: len(SPECIAL_NAMES)]) != SPECIAL_NAMES:
            raise IntrefInputError(f"a P2G vocabulary starts with {', '.join(SPECIAL_NAMES)}")
        ids = self._ids
        for i, t in enumerate(self.tokens):
            ids.setdefault(t, i)  # a repeated string keeps its first id

    @property
    def word_boundary(self) -> int:
        return self.id_of(WORD_SEPARATOR)

    def id_of(self, token: str) -> int:
        return self._ids.get(token, UNK)

    def source_tokens(self, phonemes: str | Sequence[str]) -> list[str]:
        """Phonemes (a string split on whitespace, or a list) as the model reads them: ``|`` never first, never
        doubled, never last; at most MAX_INPUT_LEN tokens; ``["<unk>"]`` when nothing is left."""
        raw = phonemes.split() if isinstance(phonemes, str) else [str(t).strip() for t in phonemes]
        out: list[str] = []
        for t in raw:
            if not t or (t == WORD_SEPARATOR and (not out or out[-1] == WORD_SEPARATOR)):
                continue
            out.append(t)
        while out and out[-1] == WORD_SEPARATOR:
            out.pop()
        return out[:MAX_INPUT_LEN] or [SPECIAL_NAMES[UNK]]

    def prefix(self, source: Sequence[str]) -> list[int]:
        """``<bos> <src> source <tgt>``: the decoder's first input."""
        return [BOS, SRC, *(self.id_of(t) for t in source), TGT]

    @staticmethod
    def max_new(prefix_len: int) -> int:
        return min(MAX_NEW, MAX_POSITIONS - prefix_len)

    def render(self, ids: Sequence[int]) -> str:
        """Generated ids as normalised text: specials dropped, Hangul jamo composed, NFKC, lowercase, one space."""
        chars = [self.tokens[i] for i in ids if i not in SPECIALS and 0 <= i < len(self.tokens)]
        return normalize(compose_hangul(chars))


def compose_hangul(chars: Sequence[str]) -> str:
    """Join tokens; a leading jamo followed by a vowel jamo becomes a syllable, with the next token as its final
    consonant when that is a trailing jamo."""
    out: list[str] = []
    i = 0
    while i < len(chars):
        c = chars[i]
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if len(c) == 1 and len(nxt) == 1 and _L0 <= ord(c) <= _L1 and _V0 <= ord(nxt) <= _V1:
            tail = chars[i + 2] if i + 2 < len(chars) else ""
            t = ord(tail) - _T0 + 1 if len(tail) == 1 and _T0 <= ord(tail) <= _T1 else 0
            out.append(chr(0xAC00 + ((ord(c) - _L0) * 21 + ord(nxt) - _V0) * 28 + t))
            i += 3 if t else 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def asr_words_to_phonemes(words: Sequence[Sequence[str]]) -> list[str]:
    """Recognised words (each a sequence of the acoustic model's token strings) as the P2G source, exactly as the
    hama package's ``word_phoneme_text`` string splits: tokens of each word, ``|`` between words, whitespace
    tokens gone."""
    return " | ".join(" ".join(w) for w in words).split()


def load_p2g_vocab(path: str | Path | None = None) -> P2GVocab:
    """The vocabulary of ``p2g_vocab.json`` (the installed hama package's, or ``path``)."""
    path = Path(path) if path is not None else find_asset(P2G_VOCAB_ASSET)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IntrefInputError(f"{path}: not a readable P2G vocabulary: {exc}") from None
    tokens = doc.get("tokens") if isinstance(doc, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise IntrefInputError(f"{path}: a P2G vocabulary needs a 'tokens' list of strings")
    return P2GVocab(tuple(tokens))


__all__ = [
    "BOS",
    "EOS",
    "MAX_INPUT_LEN",
    "MAX_NEW",
    "MAX_POSITIONS",
    "NO_SOURCE",
    "PAD",
    "SPECIALS",
    "SRC",
    "TGT",
    "UNK",
    "P2GVocab",
    "asr_words_to_phonemes",
    "compose_hangul",
    "load_p2g_vocab",
    "normalize",
]
