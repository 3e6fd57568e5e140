"""The acoustic models of the `hama` package (1.7.0 Conformer-CTC, 1.6.0 separable-conv CTC): container reader,
float32 reference forward passes and greedy CTC decoding."""

from .assets import AssetNotFoundError, find_asset, installed_version
from .container import HamaFile, HamaFormatError, load_hama, parse_hama
from .decode import BLANK_OFFSET_V160, BLANK_OFFSET_V170, CTCResult, decode_greedy
from .model import HamaAcousticModel, load_acoustic_model
from .vocab import BLANK_ID, NUM_TOKENS, WORD_BOUNDARY_ID, load_tokens

__all__ = [
    "BLANK_ID",
    "BLANK_OFFSET_V160",
    "BLANK_OFFSET_V170",
    "NUM_TOKENS",
    "WORD_BOUNDARY_ID",
    "AssetNotFoundError",
    "CTCResult",
    "HamaAcousticModel",
    "HamaFile",
    "HamaFormatError",
    "decode_greedy",
    "find_asset",
    "installed_version",
    "load_acoustic_model",
    "load_hama",
    "load_tokens",
    "parse_hama",
]
