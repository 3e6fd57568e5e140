"""Output tokens of the hama acoustic models: the G2P decoder list, then `<wb>` and `<blank>`."""

from __future__ import annotations

import json
from pathlib import Path

from .assets import VOCAB_ASSET, find_asset

NUM_TOKENS = 191
WORD_BOUNDARY_ID = 189
BLANK_ID = 190
WORD_BOUNDARY = "<wb>"
BLANK = "<blank>"
UNK = "<unk>"


def load_tokens(vocab_path: str | Path | None = None) -> tuple[str, ...]:
    """The 191 output tokens, from `g2p_vocab.json` (default: the one in the installed hama distribution)."""
    path = Path(vocab_path) if vocab_path is not None else find_asset(VOCAB_ASSET)
    try:
        decoder = json.loads(path.read_text(encoding="utf-8"))["decoder"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a hama vocabulary ({exc})") from exc
    tokens = (*decoder, WORD_BOUNDARY, BLANK)
    if len(tokens) != NUM_TOKENS or not all(isinstance(t, str) for t in decoder):
        raise ValueError(f"{path}: expected {NUM_TOKENS - 2} decoder tokens, found {len(decoder)}")
    return tokens


__all__ = ["BLANK", "BLANK_ID", "NUM_TOKENS", "UNK", "WORD_BOUNDARY", "WORD_BOUNDARY_ID", "load_tokens"]
