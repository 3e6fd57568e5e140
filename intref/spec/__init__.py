"""The integer arithmetic of intref, written to be read: every other part follows these definitions."""

from .accumulator import POLICIES, Accumulator
from .errors import AccumulatorOverflowError, IntrefError, RescaleError
from .int4 import PackedInt4, int4_range, pack_int4, pack_nibbles, unpack_nibbles
from .multiplier import divide_multiplier, quantize_multiplier, quantize_multipliers, represented_scale
from .requant import Requant, dtype_for_range
from .rescale import SCHEMES, check_params, rescale, scheme_limits
from .rounding import ROUNDING_MODES, div_pow2, div_round

__all__ = [
    "POLICIES",
    "ROUNDING_MODES",
    "SCHEMES",
    "Accumulator",
    "AccumulatorOverflowError",
    "IntrefError",
    "PackedInt4",
    "RescaleError",
    "Requant",
    "check_params",
    "div_pow2",
    "div_round",
    "divide_multiplier",
    "dtype_for_range",
    "int4_range",
    "pack_int4",
    "pack_nibbles",
    "quantize_multiplier",
    "quantize_multipliers",
    "represented_scale",
    "rescale",
    "scheme_limits",
    "unpack_nibbles",
]
