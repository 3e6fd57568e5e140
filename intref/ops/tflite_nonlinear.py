"""TFLite's integer SOFTMAX, LOGISTIC and TANH as the TensorFlow Lite Micro reference kernels compute them.

The parameters come from the tensors' float32 scales through each kernel's own Prepare arithmetic (the
``from_quantization`` classmethods, which also refuse what TFLite Micro's Prepare refuses); the kernels are
written in :mod:`intref.spec.gemmlowp` and :func:`intref.spec.rescale` (``tflite_double`` is TFLite's default
``MultiplyByQuantizedMultiplier``; TFLite Micro is built without ``TFLITE_SINGLE_ROUNDING``).

SOFTMAX, int8 input (to int8, or to int16), over the last axis: ``d = x - max(x)``; entries with ``d < diff_min``
give the output minimum; the others ``e = exp_on_negative_values(MultiplyByQuantizedMultiplierGreaterThanOne(d))``
(Q5.26 in, Q0.31 out) and ``S = sum(Rescale<12>(e))`` (Q12.19, wrapping); ``(r, n) = get_reciprocal(S, 12)`` and
``y = RoundingDivideByPOT(srdhm(r, e), n + 31 - bits) + out_min``, clamped (bits = 8 or 16).

SOFTMAX, int16 input to int16: ``s = MultiplyByQuantizedMultiplier(x - max(x))`` maps [-10, 0] to [-65535, 0];
``e = LUT_exp(clamp(s + 32767))`` (Q0.15); ``S = sum(e)`` (int32); with ``h = clz(S)``,
``t = round_half_up(S * 2^(h-1) / 2^14)`` and ``r = LUT_recip(clamp(t - 98304))`` (1/(1+x) on [0, 1), Q0.15);
``y = clamp(round_half_up(e * r / 2^(31-h)), 0, 32767)``. Both tables are built by ``lut_populate_int16`` from
constant float32 ranges, so they are module constants here.

LOGISTIC / TANH, int8: ``d = x - zp``; ``d <= -radius`` gives -128, ``d >= radius`` 127; otherwise
``v = MultiplyByQuantizedMultiplier(d)`` in Q4.27, and ``RoundingDivideByPOT(logistic(v), 23) - 128`` or
``RoundingDivideByPOT(tanh(v), 24)``, clamped. The output scale is implied (1/256 and 1/128): TFLite Micro checks
only LOGISTIC's output zero point (-128) and nothing of TANH's output.

LOGISTIC / TANH, int16 (zero points 0, output scale 2^-15): ``v = (x * m + round) >> shift`` in units of
1/(3 * 4096), then linear interpolation in ``SIGMOID_TABLE_UINT16`` (sigmoid(i/24), tanh(x) = 2 sigmoid(2x) - 1)
on |v| with 9 (logistic) or 8 (tanh) fraction bits, mirrored for v < 0, rounded back to 16 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..spec import gemmlowp as gl
from ..spec import quantize_multiplier, rescale

SCALED_DIFF_INTEGER_BITS = 5  # int8 softmax: the exp input is Q5.26
ACCUMULATION_INTEGER_BITS = 12  # int8 softmax: the sum of exps is Q12.19
SIGMOID_INPUT_INTEGER_BITS = 4  # int8 logistic and tanh: the input is Q4.27
INT16_SIGMOID_INPUT_INTEGER_BITS = 3  # int16 logistic and tanh: the power-of-two input scale is 2^-12
INT16_OUTPUT_FRACTIONAL_BITS = 15  # int16 logistic and tanh: the output scale is 2^-15

_DTYPES = {np.dtype(np.int8): (-128, 127), np.dtype(np.int16): (-32768, 32767)}


def _exp_f32(v: np.ndarray) -> np.ndarray:
    """``expf``, correctly rounded: float64 exp rounded once to float32."""
    return np.exp(v.astype(np.float64)).astype(np.float32)


def _one_over_one_plus_x_f32(v: np.ndarray) -> np.ndarray:
    return np.float32(1) / (np.float32(1) + v)


_INT16_RANGE = np.float32(65535)  # int16 max - min, the denominator of the softmax tables' scales
# exp on [-10, 0] (input zero point 32767) and 1/(1 + x) on [0, 1] (zero point -32768), both to Q0.15
SOFTMAX_EXP_LUT: np.ndarray = gl.lut_populate_int16(
    np.float32(10) / _INT16_RANGE, 32767, np.float32(2) / _INT16_RANGE, 0, _exp_f32
)
SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT: np.ndarray = gl.lut_populate_int16(
    np.float32(1) / _INT16_RANGE, -32768, np.float32(2) / _INT16_RANGE, 0, _one_over_one_plus_x_f32
)
SOFTMAX_EXP_LUT.setflags(write=False)
SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT.setflags(write=False)


def _dtype(owner: str, name: str, value, allowed: tuple[type, ...]) -> np.dtype:
    try:
        dt = np.dtype(value)
    except TypeError:
        raise ValueError(f"{owner}: {name} must be a NumPy dtype, got {value!r}") from None
    if dt not in {np.dtype(a) for a in allowed}:
        names = " or ".join(np.dtype(a).name for a in allowed)
        raise ValueError(f"{owner}: {name} must be {names}, got {dt.name}")
    return dt


def _int(owner: str, name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{owner}: {name} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{owner}: {name} = {value} is outside [{lo}, {hi}]")
    return int(value)


def _scale_f32(owner: str, name: str, value) -> float:
    """A tensor scale as TFLite stores it: a positive finite float32."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}") from None
    with np.errstate(over="ignore"):
        v32 = float(np.float32(v))  # what the model's float32 field holds
    if not (math.isfinite(v32) and v32 > 0.0):
        raise ValueError(f"{owner}: {name} must be a positive finite float32, got {value!r}")
    return v32


def _input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """CalculateInputRadius: floor((2^integer_bits - 1) * 2^(total_bits - integer_bits) / 2^left_shift), the
    largest |input| whose rescaled value stays inside the fixed-point range (exact, as the double is)."""
    return (((1 << integer_bits) - 1) << (total_bits - integer_bits)) >> left_shift


def _checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2 in float32: ``l = logf(x) * (1 / logf(2))``; returns (|l - round(l)| < 1e-3, round(l))."""
    f32 = np.float32
    log2 = f32(math.log(x)) * (f32(1) / f32(math.log(2.0)))
    rounded = gl.round_half_away_f32(log2)
    return bool(abs(log2 - rounded) < f32(1e-3)), int(rounded)


def _check_x(name: str, x, dtype: np.dtype) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: x must be a numpy array, got {type(x).__name__}")
    if x.dtype != dtype:
        raise ValueError(f"{name}: x must have dtype {dtype.name} (from its params), got {x.dtype}")
    return x


@dataclass(frozen=True)
class SoftmaxTflite:
    """TFLite Micro SOFTMAX parameters (one per tensor).

    int8 input: ``(input_multiplier, input_left_shift)`` represent ``beta * input_scale * 2^26`` (capped below
    2^31) with a left shift in [0, 31], and ``diff_min`` is the most negative difference from the row maximum
    that still counts. int16 input: ``(input_multiplier, input_left_shift)`` represent
    ``beta * input_scale / (10 / 65535)`` as a TFLite multiplier (shift in [-31, 30]); ``diff_min`` is unused (0).
    """

    input_multiplier: int
    input_left_shift: int
    diff_min: int = 0
    in_dtype: np.dtype = np.dtype(np.int8)
    out_dtype: np.dtype = np.dtype(np.int8)

    def __post_init__(self) -> None:
        owner = "SoftmaxTflite"
        in_dt = _dtype(owner, "in_dtype", self.in_dtype, (np.int8, np.int16))
        allowed_out = (np.int8, np.int16) if in_dt == np.int8 else (np.int16,)
        out_dt = _dtype(owner, "out_dtype", self.out_dtype, allowed_out)
        object.__setattr__(self, "in_dtype", in_dt)
        object.__setattr__(self, "out_dtype", out_dt)
        object.__setattr__(
            self, "input_multiplier", _int(owner, "input_multiplier", self.input_multiplier, 0, 2**31 - 1)
        )
        if in_dt == np.int8:
            shift = _int(owner, "input_left_shift", self.input_left_shift, 0, 31)
            diff_min = _int(owner, "diff_min", self.diff_min, -(2**31), 0)
            if -diff_min > _input_radius(SCALED_DIFF_INTEGER_BITS, shift, 31):
                # diff_min * 2^left_shift must stay inside Q5.26: CalculateInputRadius bounds it
                raise ValueError(f"{owner}: diff_min = {diff_min} is beyond the input radius of left shift {shift}")
        else:
            shift = _int(owner, "input_left_shift", self.input_left_shift, -31, 30)
            diff_min = _int(owner, "diff_min", self.diff_min, 0, 0)
        object.__setattr__(self, "input_left_shift", shift)
        object.__setattr__(self, "diff_min", diff_min)

    @classmethod
    def from_quantization(
        cls,
        input_scale: float,
        beta: float,
        output_scale: float,
        output_zero_point: int,
        in_dtype=np.int8,
        out_dtype=np.int8,
        *,
        input_zero_point: int = 0,
    ) -> SoftmaxTflite:
        """TFLite Micro's softmax Prepare (CalculateSoftmaxParams) on float32 scales and beta.

        int8 input: PreprocessSoftmaxScaling, ``min(beta * input_scale * 2^26, 2^31 - 1)`` in double, must exceed
        1 and goes through QuantizeMultiplier (round half away, carry, a left shift of up to 31);
        ``diff_min = -CalculateInputRadius(5, left_shift)``. Output int8: zero point -128 and scale exactly 1/256;
        int16: zero point -32768 and scale within 0.1% of 1/65536 (float32 comparisons, as TFLite's).
        int16 input: input and output zero points 0, output scale within 0.1% of 1/32768,
        ``QuantizeMultiplier(input_scale * beta / (10 / 65535))``.
        """
        owner = "SoftmaxTflite.from_quantization"
        in_dt = _dtype(owner, "in_dtype", in_dtype, (np.int8, np.int16))
        out_dt = _dtype(owner, "out_dtype", out_dtype, (np.int8, np.int16) if in_dt == np.int8 else (np.int16,))
        scale = _scale_f32(owner, "input_scale", input_scale)
        out_scale = _scale_f32(owner, "output_scale", output_scale)
        beta32 = float(np.float32(beta))
        if not math.isfinite(beta32):
            raise ValueError(f"{owner}: beta must be a finite float32, got {beta!r}")
        f32 = np.float32
        zp_out = _int(owner, "output_zero_point", output_zero_point, -(2**31), 2**31 - 1)
        if in_dt == np.int16:
            if _int(owner, "input_zero_point", input_zero_point, -(2**31), 2**31 - 1) != 0:
                raise ValueError(f"{owner}: input_zero_point must be 0 for int16 input, got {input_zero_point}")
            if zp_out != 0:
                raise ValueError(f"{owner}: output_zero_point must be 0 for int16 input, got {zp_out}")
            if abs(f32(out_scale) - f32(1) / f32(32768)) > f32(0.001) * f32(1) / f32(32768):
                raise ValueError(f"{owner}: output_scale must be 1/32768 (within 0.1%), got {out_scale}")
            real = scale * beta32 / (10.0 / 65535.0)
            try:
                multiplier, shift = quantize_multiplier(real, "tflite_double")
            except ValueError:
                raise ValueError(
                    f"{owner}: input_scale * beta = {scale * beta32} is too large for the int16 kernel "
                    "(its multiplier needs a left shift above 30)"
                ) from None
            return cls(multiplier, shift, 0, in_dt, out_dt)
        if out_dt == np.int8:
            if zp_out != -128:
                raise ValueError(f"{owner}: output_zero_point must be -128 for int8 output, got {zp_out}")
            if f32(out_scale) != f32(1) / f32(256):
                raise ValueError(f"{owner}: output_scale must be exactly 1/256 for int8 output, got {out_scale}")
        else:
            if zp_out != -32768:
                raise ValueError(f"{owner}: output_zero_point must be -32768 for int16 output, got {zp_out}")
            if abs(f32(out_scale) - f32(1) / f32(65536)) > f32(0.001) * f32(1) / f32(65536):
                raise ValueError(f"{owner}: output_scale must be 1/65536 (within 0.1%), got {out_scale}")
        real = min(beta32 * scale * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), 2.0**31 - 1.0)
        if not real > 1.0:
            raise ValueError(
                f"{owner}: beta * input_scale * 2^26 = {real} must exceed 1 (QuantizeMultiplierGreaterThanOne)"
            )
        # QuantizeMultiplier allowing the left shift of 31 that real >= 2^30 needs: halving moves only the exponent
        multiplier, shift = quantize_multiplier(real / 2.0, "tflite_double")
        shift += 1
        return cls(multiplier, shift, -_input_radius(SCALED_DIFF_INTEGER_BITS, shift, 31), in_dt, out_dt)


def softmax_tflite(x: np.ndarray, params: SoftmaxTflite, *, name: str = "softmax") -> np.ndarray:
    """TFLite Micro SOFTMAX over the last axis (see the module docstring). A row whose sum of exponentials leaves
    the range TFLite handles (int32, or the output shift's [0, 31], where TFLite Micro aborts) raises ValueError."""
    if not isinstance(params, SoftmaxTflite):
        raise TypeError(f"{name}: params must be a SoftmaxTflite, got {type(params).__name__}")
    x = _check_x(name, x, params.in_dtype)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name}: x needs a non-empty last axis, got shape {x.shape}")
    if params.in_dtype == np.int16:
        return _softmax_int16(x, params, name)
    lo, hi = _DTYPES[params.out_dtype]
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    valid = diff >= params.diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne; a left shift of 31 comes with diff_min = 0, so every
    # counted difference is 0 and any shift gives 0
    scaled = rescale(
        np.where(valid, diff, 0), params.input_multiplier, min(params.input_left_shift, 30), "tflite_double"
    )
    exps = gl.exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
    parts = np.where(valid, gl.rescale_integer_bits(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
    total = gl.wrap32(parts.sum(axis=-1, keepdims=True))
    if np.any(total <= 0):
        raise ValueError(f"{name}: a row's sum of exponentials overflows int32 (too many entries at the maximum)")
    reciprocal, bits_over_unit = gl.get_reciprocal(total, ACCUMULATION_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8 * params.out_dtype.itemsize
    if np.any((exponent < 0) | (exponent > 31)):
        raise ValueError(f"{name}: a row's sum of exponentials is outside the range TFLite's kernel handles")
    y = gl.rounding_divide_by_pot(gl.saturating_rounding_doubling_high_mul(reciprocal, exps), exponent) + lo
    return np.where(valid, np.clip(y, lo, hi), lo).astype(params.out_dtype)


def _softmax_int16(x: np.ndarray, params: SoftmaxTflite, name: str) -> np.ndarray:
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    # MultiplyByQuantizedMultiplier maps [-10, 0] to [-65535, 0]; recentred on the table's input zero point
    scaled = rescale(diff, params.input_multiplier, params.input_left_shift, "tflite_double")
    exps = gl.lut_lookup_int16(np.clip(scaled + 32767, -32768, 32767), SOFTMAX_EXP_LUT)  # Q0.15
    total = gl.wrap32(exps.sum(axis=-1, keepdims=True))
    headroom_plus_one = gl.count_leading_zeros(total)
    if np.any((headroom_plus_one == 0) | (headroom_plus_one > 30)):
        raise ValueError(f"{name}: a row's sum of exponentials is outside the range TFLite's int16 kernel handles")
    # the sum normalised to [2^30, 2^31), rounded to 17 bits: 1 + x with x in [0, 1) at 2^16, recentred
    shifted = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    reciprocal = gl.lut_lookup_int16(
        np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT
    )
    right_shift = 31 - headroom_plus_one
    y = (exps * reciprocal + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(y, 0, 32767).astype(np.int16)


@dataclass(frozen=True)
class _SigmoidTflite:
    """Parameters of TFLite Micro's LOGISTIC and TANH kernels.

    int8: ``(input_multiplier, input_left_shift)`` take ``x - input_zero_point`` to Q4.27 (TFLite multiplier,
    shift in [-31, 30]); ``|x - zp| >= input_range_radius`` saturates. int16: ``v = (x * input_multiplier +
    round) >> input_left_shift`` with multiplier in [1, 32767] and shift in [0, 31], or multiplier 0 for a
    power-of-two input scale (the kernel then uses ``3 << input_left_shift`` and no shift); zero point and radius
    are unused (0).
    """

    dtype: np.dtype
    input_multiplier: int
    input_left_shift: int
    input_zero_point: int = 0
    input_range_radius: int = 0

    # the int16 left shifts that Prepare takes as a power-of-two input scale, and the int8 output zero point it
    # requires (None: not checked)
    _POT_SHIFTS: ClassVar[tuple[int, ...]] = (0,)
    _INT8_OUTPUT_ZERO_POINT: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        owner = type(self).__name__
        dt = _dtype(owner, "dtype", self.dtype, (np.int8, np.int16))
        object.__setattr__(self, "dtype", dt)
        if dt == np.int8:
            _int(owner, "input_multiplier", self.input_multiplier, 0, 2**31 - 1)
            shift = _int(owner, "input_left_shift", self.input_left_shift, -31, 30)
            _int(owner, "input_zero_point", self.input_zero_point, -128, 127)
            radius = _int(owner, "input_range_radius", self.input_range_radius, 0, 2**31 - 1)
            if shift > 0 and (radius - 1) << shift >= 2**31:
                raise ValueError(f"{owner}: input_range_radius = {radius} lets (x - zp) << {shift} overflow int32")
        else:
            m = _int(owner, "input_multiplier", self.input_multiplier, 0, 32767)
            if m == 0:
                _int(owner, "input_left_shift", self.input_left_shift, min(self._POT_SHIFTS), max(self._POT_SHIFTS))
            else:
                _int(owner, "input_left_shift", self.input_left_shift, 0, 31)
            _int(owner, "input_zero_point", self.input_zero_point, 0, 0)
            _int(owner, "input_range_radius", self.input_range_radius, 0, 0)
        for field in ("input_multiplier", "input_left_shift", "input_zero_point", "input_range_radius"):
            object.__setattr__(self, field, int(getattr(self, field)))

    @classmethod
    def from_quantization(
        cls,
        input_scale: float,
        input_zero_point: int,
        output_scale: float,
        output_zero_point: int,
        dtype=np.int8,
    ):
        """The kernel's Prepare on float32 scales.

        int8: ``frexp(input_scale * 2^27)`` (double) gives ``(q, input_left_shift)``, ``input_multiplier =
        round(q * 2^31)`` (exact for a float32 scale), ``input_range_radius = CalculateInputRadius(4, shift)``;
        scales below 2^-28 or of 8 and above (shift outside [0, 30], where TFLite shifts by a negative amount or
        every input saturates through an overflowing multiplier) are refused.
        int16: zero points 0; CheckedLog2 (float32) of the input scale gives ``input_left_shift = 12 + log2``;
        a power-of-two scale with a shift TFLite takes as such gets multiplier 0, any other scale
        ``m = input_scale * 3 * 4096`` doubled (shift + 1) while ``m <= 32767 / 2`` and shift <= 30, then
        truncated (above 32767 is refused: TFLite's DCHECK); the output scale must be 2^-15 by CheckedLog2.
        """
        owner = f"{cls.__name__}.from_quantization"
        dt = _dtype(owner, "dtype", dtype, (np.int8, np.int16))
        scale = _scale_f32(owner, "input_scale", input_scale)
        zp_in = _int(owner, "input_zero_point", input_zero_point, *_DTYPES[dt])
        zp_out = _int(owner, "output_zero_point", output_zero_point, *_DTYPES[dt])
        if dt == np.int8:
            if cls._INT8_OUTPUT_ZERO_POINT is not None and zp_out != cls._INT8_OUTPUT_ZERO_POINT:
                raise ValueError(
                    f"{owner}: output_zero_point must be {cls._INT8_OUTPUT_ZERO_POINT} for int8, got {zp_out}"
                )
            q, shift = math.frexp(scale * float(1 << (31 - SIGMOID_INPUT_INTEGER_BITS)))
            if not 0 <= shift <= 30:
                raise ValueError(
                    f"{owner}: input_scale = {scale} is outside [2^-28, 8), the range the int8 kernel handles"
                )
            multiplier = int(q * 2**31)  # exact: a float32 significand has 24 bits
            radius = _input_radius(SIGMOID_INPUT_INTEGER_BITS, shift, 31)
            return cls(dt, multiplier, shift, zp_in, radius)
        if zp_in != 0:
            raise ValueError(f"{owner}: input_zero_point must be 0 for int16, got {zp_in}")
        if zp_out != 0:
            raise ValueError(f"{owner}: output_zero_point must be 0 for int16, got {zp_out}")
        out_pot, out_log2 = _checked_log2(_scale_f32(owner, "output_scale", output_scale))
        if not out_pot or out_log2 != -INT16_OUTPUT_FRACTIONAL_BITS:
            raise ValueError(f"{owner}: output_scale must be 2^-15 for int16, got {output_scale}")
        pot, log2 = _checked_log2(scale)
        shift = (15 - INT16_SIGMOID_INPUT_INTEGER_BITS) + log2
        if pot and shift in cls._POT_SHIFTS:
            return cls(dt, 0, shift)
        real = scale * 4096.0 * 3.0  # to units of 1/(3 * 4096): +-2^15 then stands for +-10.7
        shift = 0
        while real <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            real *= 2.0
        if real >= 32768.0:
            raise ValueError(
                f"{owner}: input_scale = {scale} is too large for the int16 kernel (multiplier above 32767)"
            )
        return cls(dt, int(real), shift)

    def _int16_input(self, x: np.ndarray) -> np.ndarray:
        multiplier, shift = self.input_multiplier, self.input_left_shift
        if multiplier == 0:  # power-of-two input scale
            multiplier, shift = 3 << shift, 0
        rounding = (1 << (shift - 1)) if shift > 0 else 0
        return (x.astype(np.int64) * multiplier + rounding) >> shift

    def _int8_input(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x - zp, where it is inside the radius, its Q4.27 value there)."""
        d = x.astype(np.int64) - self.input_zero_point
        inside = (d > -self.input_range_radius) & (d < self.input_range_radius)
        q4 = rescale(np.where(inside, d, 0), self.input_multiplier, self.input_left_shift, "tflite_double")
        return d, inside, q4

    def _saturate_int8(self, y: np.ndarray, d: np.ndarray, inside: np.ndarray) -> np.ndarray:
        y = np.where(inside, np.clip(y, -128, 127), np.where(d <= -self.input_range_radius, -128, 127))
        return y.astype(np.int8)


@dataclass(frozen=True)
class LogisticTflite(_SigmoidTflite):
    """TFLite Micro LOGISTIC parameters (fields as in the base class). Prepare requires an int8 output zero point
    of -128 and takes an int16 power-of-two input scale as such only for left shift 0 (scale 2^-12)."""

    _POT_SHIFTS: ClassVar[tuple[int, ...]] = (0,)
    _INT8_OUTPUT_ZERO_POINT: ClassVar[int | None] = -128


@dataclass(frozen=True)
class TanhTflite(_SigmoidTflite):
    """TFLite Micro TANH parameters (fields as in the base class). Prepare checks nothing of the int8 output and
    takes an int16 power-of-two input scale as such for left shifts 0 and 1 (scales 2^-12 and 2^-11)."""

    _POT_SHIFTS: ClassVar[tuple[int, ...]] = (0, 1)


def _check_sigmoid(name: str, x, params, cls: type) -> np.ndarray:
    if not isinstance(params, cls):
        raise TypeError(f"{name}: params must be a {cls.__name__}, got {type(params).__name__}")
    return _check_x(name, x, params.dtype)


def logistic_tflite(x: np.ndarray, params: LogisticTflite, *, name: str = "logistic") -> np.ndarray:
    """TFLite Micro LOGISTIC, int8 (output scale 1/256, zero point -128) or int16 (output scale 2^-15)."""
    x = _check_sigmoid(name, x, params, LogisticTflite)
    if params.dtype == np.int8:
        d, inside, q4 = params._int8_input(x)
        y = gl.rounding_divide_by_pot(gl.logistic(q4, SIGMOID_INPUT_INTEGER_BITS), 31 - 8) - 128
        return params._saturate_int8(y, d, inside)
    v = params._int16_input(x)
    magnitude = np.abs(v)
    segment = np.minimum(magnitude >> 9, 254)  # 9 fraction bits (1/(3*4096) units, table steps of 1/24)
    ua, ub = gl.SIGMOID_TABLE_UINT16[segment], gl.SIGMOID_TABLE_UINT16[segment + 1]
    result = np.where(magnitude >> 9 >= 255, 0x7FFF << 10, (ua << 9) + (magnitude & 0x1FF) * (ub - ua))
    result = np.where(v >= 0, result + (1 << 9), (1 << (16 + 9)) - result + (1 << 9) - 1)
    return (result >> 10).astype(np.int16)


def tanh_tflite(x: np.ndarray, params: TanhTflite, *, name: str = "tanh") -> np.ndarray:
    """TFLite Micro TANH, int8 (output scale 1/128, zero point 0) or int16 (output scale 2^-15)."""
    x = _check_sigmoid(name, x, params, TanhTflite)
    if params.dtype == np.int8:
        d, inside, q4 = params._int8_input(x)
        y = gl.rounding_divide_by_pot(gl.tanh(q4, SIGMOID_INPUT_INTEGER_BITS), 31 - 7)
        return params._saturate_int8(y, d, inside)
    v = params._int16_input(x)
    magnitude = np.abs(v)
    segment = np.minimum(magnitude >> 8, 254)  # 8 fraction bits: tanh(x) = 2 sigmoid(2x) - 1
    ua, ub = gl.SIGMOID_TABLE_UINT16[segment], gl.SIGMOID_TABLE_UINT16[segment + 1]
    result = np.where(magnitude >> 8 >= 255, 0xFFFF << 8, (ua << 8) + (magnitude & 0xFF) * (ub - ua))
    result = np.where(v >= 0, result - (1 << (14 + 9)) + (1 << (9 - 2)), -result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1)
    return (result >> (9 - 1)).astype(np.int16)


def _int_input(name: str, x) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: x must be a numpy array, got {type(x).__name__}")
    if x.dtype not in (np.dtype(np.int8), np.dtype(np.int16)):
        raise ValueError(f"{name}: x must be int8 or int16, got {x.dtype}")
    return x


def relu_tflite(
    x: np.ndarray, multiplier: int, shift: int, input_zero_point: int, output_zero_point: int, *, name: str = "relu"
) -> np.ndarray:
    """TFLite Micro's quantised RELU (ReluQuantized): ``zp_out + MultiplyByQuantizedMultiplier(x - zp_in, M, s)``
    clamped to ``[max(min(type), zp_out), max(type)]``, in x's type."""
    x = _int_input(name, x)
    info = np.iinfo(x.dtype)
    y = output_zero_point + rescale(x.astype(np.int64) - input_zero_point, multiplier, shift, "tflite_double")
    return np.clip(y, max(info.min, output_zero_point), info.max).astype(x.dtype)


def leaky_relu_tflite(
    x: np.ndarray,
    identity: tuple[int, int],
    alpha: tuple[int, int],
    input_zero_point: int,
    output_zero_point: int,
    *,
    name: str = "leaky_relu",
) -> np.ndarray:
    """TFLite Micro's quantised LEAKY_RELU (QuantizeLeakyRelu): ``d = x - zp_in`` rescaled by the identity
    ``(multiplier, shift)`` when ``d >= 0`` and by the alpha one otherwise (a negative alpha multiplier rescales
    by its magnitude and negates), plus ``zp_out``, clamped to x's type."""
    x = _int_input(name, x)
    info = np.iinfo(x.dtype)
    d = x.astype(np.int64) - input_zero_point
    (mi, si), (ma, sa) = identity, alpha
    below = rescale(d, abs(ma), sa, "tflite_double")
    y = np.where(d >= 0, rescale(d, mi, si, "tflite_double"), -below if ma < 0 else below)
    return np.clip(y + output_zero_point, info.min, info.max).astype(x.dtype)
