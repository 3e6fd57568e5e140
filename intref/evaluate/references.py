"""Reference phoneme tokens of a transcript, through the `hama` package's text-to-phoneme (G2P) model.

This is a scoring tool, so it runs hama's own runtime. The recipe:
1. `spoken_words(text)`: abbreviations expanded, numbers spelled out, dashed compounds split (see `text.py`);
2. each word on its own: `G2PModel.predict(word, split_delimiter=None, preserve_literals="punct")`, which strips
   Unicode punctuation before the model sees the word ("don't" -> "dont", '"lower' -> "lower");
3. the word's tokens are the `phoneme`s of its alignments (not a re-split of the IPA string, which is ambiguous
   for multi-character tokens such as `oʊ`), literal ' ' tokens dropped;
4. `<wb>` between words; words that give no phoneme (punctuation only) are skipped.
The tokens are strings of the acoustic models' vocabulary (ids 0..188), so they compare directly with decodings.

G2P takes about 20 ms per word, so results are cached per word in
`g2p/` of intref's cache (`$INTREF_CACHE`, else `$XDG_CACHE_HOME/intref`, default `~/.cache/intref`),
one JSON file per hama version and G2P weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..models.hama.assets import AssetNotFoundError, find_asset, installed_version
from .metrics import phoneme_tokens
from .text import spoken_words

# Bump when the per-word recipe changes, so stale cache files are not read.
RECIPE = "word-punct-v1"
G2P_ASSETS = ("encoder.hama", "decoder_step.hama", "g2p_vocab.json")


def strip_punctuation(word: str) -> str:
    """What `preserve_literals="punct"` hands the model: the word without Unicode punctuation (categories P*)."""
    return "".join(ch for ch in word if not unicodedata.category(ch).startswith("P"))


def cache_dir() -> Path:
    """Folder of the G2P cache: ``g2p/`` in intref's cache ($INTREF_CACHE, else $XDG_CACHE_HOME/intref, else
    ~/.cache/intref)."""
    from ..models.fetch import cache_root

    return cache_root() / "g2p"


def g2p_fingerprint() -> str:
    """hama version plus a digest of the G2P weights and vocabulary: the cache key besides the word."""
    version = installed_version()
    if version is None:
        raise AssetNotFoundError("the hama package is not installed (needed for reference phonemes)")
    digest = hashlib.sha256()
    for name in G2P_ASSETS:
        digest.update(find_asset(name).read_bytes())
    return f"hama-{version}-{digest.hexdigest()[:12]}"


class G2PReferences:
    """Reference tokens of transcripts; `tokens(text)` -> tuple of phoneme tokens with `<wb>`.

    `cache`: a folder (default `cache_dir()`), or False to keep results in memory only.
    """

    def __init__(self, cache: str | os.PathLike | bool = True) -> None:
        self._model = None
        self.fingerprint = g2p_fingerprint()
        folder = cache_dir() if cache is True else Path(cache) if cache else None
        self.cache_file = folder / f"{self.fingerprint}-{RECIPE}.json" if folder else None
        self._words: dict[str, list[str]] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, list[str]]:
        if self.cache_file is None or not self.cache_file.is_file():
            return {}
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # a damaged cache is rebuilt, not fatal
        ok = isinstance(data, dict) and all(isinstance(v, list) for v in data.values())
        return data if ok else {}

    def save(self) -> None:
        """Write new results to the cache file, atomically (concurrent runs may share it); a cache that cannot be
        written only costs time, so that is a warning."""
        if self.cache_file is None or not self._dirty:
            return
        merged = {**self._load(), **self._words}
        tmp = None
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_file.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                lines = (f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                         for k, v in sorted(merged.items()))  # fmt: skip
                f.write("{\n" + ",\n".join(lines) + "\n}\n")  # one word per line, for reading
            os.replace(tmp, self.cache_file)
        except OSError as exc:
            warnings.warn(f"G2P cache not written to {self.cache_file}: {exc}", stacklevel=2)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self._dirty = False

    def _g2p(self):
        if self._model is None:
            from hama import G2PModel  # loads hama's native runtime; only needed on a cache miss

            self._model = G2PModel()
        return self._model

    def word_tokens(self, word: str) -> list[str]:
        """Phoneme tokens of one word. The model call drops punctuation, so the word is cached without it
        ('"lower' and 'lower' are one entry) and a word of punctuation only has no tokens."""
        key = strip_punctuation(word)
        if not key.strip():
            return []
        if key not in self._words:
            result = self._g2p().predict(key, split_delimiter=None, preserve_literals="punct")
            self._words[key] = [a.phoneme for a in result.alignments if a.phoneme.strip()]
            self._dirty = True
        return list(self._words[key])

    def words(self, text: str) -> list[tuple[str, list[str]]]:
        """(spoken word, its tokens) for each word of `text`, for inspecting references."""
        return [(w, self.word_tokens(w)) for w in spoken_words(text)]

    def tokens(self, text: str) -> tuple[str, ...]:
        return phoneme_tokens(toks for _, toks in self.words(text))

    def many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Tokens of several texts, saving the cache once at the end."""
        try:
            return [self.tokens(t) for t in texts]
        finally:
            self.save()

    def __enter__(self) -> G2PReferences:
        return self

    def __exit__(self, *exc) -> None:
        self.save()


__all__ = ["RECIPE", "G2PReferences", "cache_dir", "g2p_fingerprint", "strip_punctuation"]
