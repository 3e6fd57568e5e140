"""Scoring and evaluation: manifests of clips with transcripts, reference phonemes through hama's G2P, phoneme
error rates and agreement between decodings, result tables."""

from .manifest import Manifest, ManifestEntry, ManifestError, parse_manifest, read_manifest
from .metrics import (
    WORD_BOUNDARY,
    Agreement,
    ErrorCounts,
    agreement,
    corpus_errors,
    frame_agreement,
    phoneme_tokens,
    token_agreement,
    token_errors,
)
from .report import Table, render
from .text import normalize_text, spell_numbers, spoken_words

__all__ = [
    "WORD_BOUNDARY",
    "Agreement",
    "ErrorCounts",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "Table",
    "agreement",
    "corpus_errors",
    "frame_agreement",
    "normalize_text",
    "parse_manifest",
    "phoneme_tokens",
    "read_manifest",
    "render",
    "spell_numbers",
    "spoken_words",
    "token_agreement",
    "token_errors",
]
