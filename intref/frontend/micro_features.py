"""The micro_speech keyword-spotting front end in integers: 30 ms frames of int16 audio to int8 features, bit for bit
as TensorFlow Lite Micro computes them when it runs the example's ``audio_preprocessor_int8.tflite`` (its Signal
ops and a few int32 builtins).

Every constant comes from that model (:class:`MicroFeatureParams`): the window, the FFT length, the energy bins, the
filterbank tables, the noise-reduction and PCAN settings, the log scale and the int32 ops after the log. Per frame:

1. :func:`window`: ``(x * w) >> shift``, saturated to int16;
2. :func:`auto_scale`: shift left so that the largest magnitude uses 15 bits (undone after the square root);
3. :func:`rfft`: kiss_fft's 16-bit fixed-point real FFT, every butterfly dividing by its radix;
4. :func:`energy`: ``re^2 + im^2`` (uint32) in the bins the model keeps, zero in the others;
5. :func:`filterbank`: overlapping triangular channels summed in uint64;
6. :func:`filterbank_sqrt`: rounded integer square root, shifted down by the auto-scale shift;
7. :func:`spectral_subtraction`: subtract a per-channel noise estimate (the only state), with a floor;
8. :func:`pcan`: a per-channel gain from the noise estimate, then a soft "shrink";
9. :func:`filterbank_log`: ``round(scale * ln(x << bits))`` from a 128-segment log2 table, capped at 32767;
10. :func:`int32_tail`: the model's int32 ops (MUL, ADD, DIV, ADD, MINIMUM, MAXIMUM) and the cast to int8.

Overflow follows the C types of the kernels: int16 and uint32 results wrap modulo 2^16 and 2^32, uint64 sums
modulo 2^64. Stages 1-6 and 8-10 hold no state and run on a batch of frames at once.

Framing (:func:`micro_features`) follows the example's ``evaluate.py``: frames of 480 samples every 320 while a
whole frame fits, the noise estimate reset at the start of the clip and carried from frame to frame within it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np

from ..errors import IntrefInputError
from ..models.tflite.reader import TfliteFormatError, TflModel, TflOperator, read_tflite, tflite_bytes

FRAME = 480  # samples in a frame (30 ms at 16 kHz), the model's input
STRIDE = 320  # samples between frame starts (20 ms)

_U32 = 0xFFFFFFFF

# kiss_fft's fixed-point constants: Q15 values, SAMP_MAX = 2^15 - 1.
_Q15_ONE = 32767
_Q15_HALF = 1 << 14

# Log32: log2 in Q16, interpolated over 128 segments of the mantissa with a table of corrections. Entry i is
# round(2^16 * (log2(1 + i/128) - i/128)), the gap between log2 and its chord; entry 128 is 0 (log2(2) = 1). No
# entry lies within 0.001 of a rounding tie, so float64 gives the kernel's table exactly. ln(2) is 45426 in Q16.
_LOG_SEGMENT_BITS = 7
_LOG_TABLE = np.array(
    [math.floor(0.5 + 65536 * (math.log2(1 + i / 128) - i / 128)) for i in range((1 << _LOG_SEGMENT_BITS) + 1)],
    dtype=np.int64,
)
_LN2_Q16 = math.floor(0.5 + 65536 * math.log(2))

# PcanShrink's fixed-point formats: the signal-to-noise ratio has 12 fractional bits, the output 6.
_PCAN_SNR_BITS = 12
_PCAN_OUTPUT_BITS = 6
_PCAN_TABLE_MIN = 4 * 32 - 6 + 3  # the gain table is read at 4 * msb(x) - 6 .. + 2 for x up to 2^32 - 1

# The operators of the preprocessor, in order; int32 elementwise ops with a constant and a CAST to int8 follow.
_CHAIN = (
    "CUSTOM:SignalWindow",
    "RESHAPE",
    "CUSTOM:SignalFftAutoScale",
    "CUSTOM:SignalRfft",
    "CUSTOM:SignalEnergy",
    "CAST",
    "STRIDED_SLICE",
    "CONCATENATION",
    "CAST",
    "CUSTOM:SignalFilterBank",
    "CUSTOM:SignalFilterBankSquareRoot",
    "CUSTOM:SignalFilterBankSpectralSubtraction",
    "CUSTOM:SignalPCAN",
    "CUSTOM:SignalFilterBankLog",
    "CAST",
)
_TAIL_OPS = ("MUL", "ADD", "SUB", "DIV", "MINIMUM", "MAXIMUM")


# --- integer helpers ---


def wrap16(x) -> np.ndarray:
    """Store into int16: two's complement wrap modulo 2^16."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def wrap32(x) -> np.ndarray:
    """Store into int32: two's complement wrap modulo 2^32."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & _U32) - (1 << 31)


def bit_length(x) -> np.ndarray:
    """MostSignificantBit of non-negative integers below 2^64: the number of significant bits, 0 for 0."""
    v = np.array(x, dtype=np.uint64)
    n = np.zeros(v.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):  # binary search: exact where a float conversion would round
        big = (v >> np.uint64(s)) > 0
        n += np.where(big, s, 0)
        v = np.where(big, v >> np.uint64(s), v)
    return n + (v > 0)


def rounded_sqrt(v: int) -> int:
    """Sqrt64 (Sqrt32 below 2^32): the square root rounded to nearest, ``r = isqrt(v)`` plus one when
    ``v - r^2 > r``, except that the result stays at 2^16 - 1 for ``v < 2^32`` and at 2^32 - 1 above (its type's
    maximum). Halves cannot occur: ``v - r^2 > r`` is ``v > (r + 1/2)^2`` for integers."""
    r = math.isqrt(v)
    top = 0xFFFF if v >> 32 == 0 else _U32
    return r + 1 if v - r * r > r and r != top else r


def log32(x: np.ndarray, out_scale: int) -> np.ndarray:
    """Log32 of uint32 values ``x >= 2``: ``round(out_scale * ln(x))`` in uint32 arithmetic.

    ``n = msb(x) - 1``; the mantissa ``f = (x - 2^n)`` scaled to Q16 (shifted left, or right with truncation);
    segment ``s = f >> 9``; ``log2 = (n << 16) + f + c[s] + (((c[s+1] - c[s]) * (f - 512 s)) >> 16)`` with the
    correction table ``c`` (the shift floors); ``ln = (45426 * log2 + 2^15) >> 16``; result
    ``(out_scale * ln + 2^15) >> 16``, the product wrapping modulo 2^32."""
    x = np.asarray(x, dtype=np.int64)
    n = np.maximum(bit_length(x) - 1, 0)
    frac = x - (np.int64(1) << n)
    frac = np.where(n < 16, frac << np.maximum(16 - n, 0), frac >> np.maximum(n - 16, 0))
    seg = frac >> (16 - _LOG_SEGMENT_BITS)
    c0, c1 = _LOG_TABLE[seg], _LOG_TABLE[seg + 1]
    interpolated = ((c1 - c0) * (frac - (seg << (16 - _LOG_SEGMENT_BITS)))) >> 16
    log2 = ((n << 16) + frac + c0 + interpolated) & _U32
    ln = (_LN2_Q16 * log2 + (1 << 15)) >> 16
    return (((out_scale & _U32) * ln + (1 << 15)) & _U32) >> 16


def wide_dynamic_gain(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """WideDynamicFunction: the int16 PCAN gain for uint32 noise estimates ``x``.

    ``table[x]`` for ``x <= 2``; otherwise a quadratic in the 10 bits below the leading one of ``x``
    (``frac = (x << (11 - n)`` or ``x >> (n - 11)) & 0x3FF`` with ``n = msb(x)``) with the coefficients
    ``c0, c1, c2 = table[4n - 6 : 4n - 3]``: ``r = (c2 * frac) >> 5``; ``r += c1 << 5``; ``r *= frac``;
    ``r = (r + 2^14) >> 15``; ``r += c0``, in int32, stored as int16 (wrapping)."""
    x = np.asarray(x, dtype=np.int64)
    table = np.asarray(table, dtype=np.int64)
    n = bit_length(x)
    base = np.maximum(4 * n - 6, 0)
    frac = np.where(n < 11, x << np.maximum(11 - n, 0), x >> np.maximum(n - 11, 0)) & 0x3FF
    c0, c1, c2 = table[base], table[base + 1], table[base + 2]
    # int32 cannot overflow here: |(c2 * frac) >> 5 + c1 * 32| < 2^21 and frac < 2^10; the int16 store can wrap
    r = ((((c2 * frac) >> 5) + c1 * 32) * frac + (1 << 14)) >> 15
    r = wrap16(r + c0)
    return np.where(x <= 2, table[np.minimum(x, 2)], r)


def pcan_shrink(snr: np.ndarray) -> np.ndarray:
    """PcanShrink of uint32 ``snr`` (12 fractional bits) to 6 fractional bits: ``snr^2 / 4`` below 2 (that is
    ``(snr * snr) >> 20``), ``snr - 1`` from 2 on (``(snr >> 6) - 64``)."""
    snr = np.asarray(snr, dtype=np.int64)
    small = ((snr * snr) & _U32) >> (2 + 2 * _PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)
    large = (snr >> (_PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)) - (1 << _PCAN_OUTPUT_BITS)
    return np.where(snr < (2 << _PCAN_SNR_BITS), small, large)


# --- the parameters ---


@dataclass(frozen=True, eq=False)
class MicroFeatureParams:
    """The preprocessor's constants, as its model holds them (arrays are read-only int64)."""

    window: np.ndarray  # the window's coefficients, one per sample of a frame
    window_shift: int
    fft_length: int
    energy_start: int  # the FFT bins that reach the filterbank: [energy_start, energy_end)
    energy_end: int
    num_channels: int
    filterbank_weights: np.ndarray  # weight of each (channel, bin) pair; the unweight goes to the next channel
    filterbank_unweights: np.ndarray
    channel_frequency_starts: np.ndarray  # per channel + 1: first bin, first weight, number of bins
    channel_weight_starts: np.ndarray
    channel_widths: np.ndarray
    smoothing: int  # noise smoothing of even channels, in 2^-spectral_subtraction_bits
    one_minus_smoothing: int
    alternate_smoothing: int  # of odd channels
    alternate_one_minus_smoothing: int
    smoothing_bits: int
    spectral_subtraction_bits: int
    min_signal_remaining: int
    clamping: bool
    pcan_gain_table: np.ndarray
    pcan_snr_shift: int
    log_output_scale: int
    log_input_correction_bits: int
    tail: tuple[tuple[str, int], ...]  # the int32 ops after the log, each with its constant operand

    @property
    def frame_length(self) -> int:
        return int(self.window.size)

    @property
    def fft_bins(self) -> int:
        return self.fft_length // 2 + 1

    @classmethod
    def from_tflite(cls, source: str | os.PathLike | bytes) -> MicroFeatureParams:
        """Read an ``audio_preprocessor_int8.tflite`` (path or bytes); a file that is not such a model raises
        :class:`~intref.models.tflite.TfliteFormatError` (a ``ValueError``) saying what differs."""
        data = tflite_bytes(source)
        return _parse_preprocessor(read_tflite(data), data)


def load_micro_params(source: str | os.PathLike | bytes) -> MicroFeatureParams:
    """:meth:`MicroFeatureParams.from_tflite`."""
    return MicroFeatureParams.from_tflite(source)


def _reject(problem: str) -> TfliteFormatError:
    return TfliteFormatError(f"not a micro_speech audio preprocessor (audio_preprocessor_int8.tflite): {problem}")


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise _reject(problem)


def _custom_options(op: TflOperator, *keys: str) -> list[int]:
    from flatbuffers import flexbuffers

    try:
        options = flexbuffers.Loads(op.custom_options) if op.custom_options else {}
    except Exception as exc:  # a corrupt flexbuffer raises whatever its decoder hits
        raise _reject(f"{op.op} has unreadable options ({type(exc).__name__})") from None
    _require(isinstance(options, dict), f"{op.op} options are not a map")
    missing = [k for k in keys if k not in options]
    _require(not missing, f"{op.op} lacks the option(s) {', '.join(missing)}")
    for k in keys:
        _require(isinstance(options[k], (int, bool)), f"{op.op} option {k} is not an integer")
    return [int(options[k]) for k in keys]


def _constant(model: TflModel, index: int, dtype: str, what: str) -> np.ndarray:
    _require(index >= 0, f"{what} is missing")
    tensor = model.tensors[index]
    _require(tensor.data is not None, f"{what} ({tensor.describe()}) is not a constant")
    _require(tensor.dtype == dtype, f"{what} is {tensor.dtype}, expected {dtype}")
    data = tensor.data.astype(np.int64).ravel()
    data.setflags(write=False)
    return data


def _scalar(model: TflModel, index: int, what: str) -> int:
    data = _constant(model, index, "INT32", what)
    _require(data.size == 1, f"{what} has {data.size} values, expected one")
    return int(data[0])


def _dtype(model: TflModel, index: int) -> str:
    return model.tensors[index].dtype


def _div_activation(data: bytes, op_index: int) -> int:
    """DIV's fused activation (the shared reader does not decode DivOptions)."""
    import tflite

    op = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).Operators(op_index)
    table = op.BuiltinOptions()
    if table is None:
        return tflite.ActivationFunctionType.NONE
    options = tflite.DivOptions()
    options.Init(table.Bytes, table.Pos)
    return int(options.FusedActivationFunction())


def _parse_preprocessor(model: TflModel, data: bytes) -> MicroFeatureParams:
    ops = model.operators
    names = [op.op for op in ops]
    head, tail_ops = names[: len(_CHAIN)], names[len(_CHAIN) :]
    _require(
        tuple(head) == _CHAIN
        and len(tail_ops) >= 1
        and tail_ops[-1] == "CAST"
        and set(tail_ops[:-1]) <= set(_TAIL_OPS),
        f"expected the operators {', '.join(_CHAIN)}, int32 elementwise ops and a CAST; found {', '.join(names)}",
    )
    _require(model.subgraphs == 1, f"{model.subgraphs} subgraphs, expected 1")
    # each op reads the output of the one before (the concatenation: among its inputs)
    for prev, op in pairwise(ops):
        _require(prev.outputs[0] in op.inputs[:3], f"operator {op.index} ({op.op}) does not read {prev.op}")
    (win, _, scale, fft, energy_op, cast_in, slicer, concat, cast_out, bank, sqrt_op, sub, pcan_op, log_op, _) = ops[
        : len(_CHAIN)
    ]
    _require(sqrt_op.inputs[1:] == scale.outputs[1:2], "the square root does not undo the FFT auto scale")
    _require(pcan_op.inputs[:2] == sub.outputs[:2], "PCAN does not read the spectral subtraction's outputs")
    _require(model.inputs == (win.inputs[0],), "the model's input is not the window's input")
    _require(model.outputs == (ops[-1].outputs[0],), "the model's output is not the last operator's output")
    audio = model.tensors[win.inputs[0]]
    _require(audio.dtype == "INT16", f"the audio input is {audio.dtype}, expected INT16")
    features = model.tensors[model.outputs[0]]
    _require(features.dtype == "INT8", f"the output is {features.dtype}, expected INT8")

    window = _constant(model, win.inputs[1], "INT16", "the window")
    (window_shift,) = _custom_options(win, "shift")
    _require(audio.shape[-1:] == (window.size,), f"the audio input {list(audio.shape)} is not one window long")
    _require(0 <= window_shift < 32, f"window shift {window_shift}")

    fft_type, fft_length = _custom_options(fft, "T", "fft_length")
    _require(fft_type == 7, f"SignalRfft of tensor type {fft_type}, expected INT16 (7)")  # tflite.TensorType.INT16
    half = fft_length // 2
    _require(
        fft_length >= 4 and half & (half - 1) == 0,
        f"fft_length {fft_length}: only powers of two (kiss_fft radix 4 and 2) are supported",
    )
    _require(fft_length >= window.size, f"fft_length {fft_length} is shorter than the {window.size}-sample frame")
    bins = half + 1

    end, start = _custom_options(energy_op, "end_index", "start_index")
    _require(0 <= start <= end <= bins, f"energy bins [{start}, {end}) outside the {bins} FFT bins")
    # The energy op leaves the other bins unwritten; the model keeps a slice of them and pads it with zeros.
    _require(_dtype(model, cast_in.outputs[0]) in ("INT32", "UINT32"), "the energy is cast to a non-32-bit type")
    _require(_dtype(model, cast_out.outputs[0]) == "UINT32", "the filterbank input is not UINT32")
    begin = _constant(model, slicer.inputs[1], "INT32", "the slice begin")
    stop = _constant(model, slicer.inputs[2], "INT32", "the slice end")
    step = _constant(model, slicer.inputs[3], "INT32", "the slice strides")
    _require(begin.size == stop.size == step.size == 1 and int(step[0]) == 1, "the energy slice is not a 1-D range")
    _require(not any(slicer.options.get(k) for k in ("begin_mask", "end_mask", "shrink_axis_mask")), "slice masks")
    keep_start, keep_end = int(begin[0]), int(stop[0])
    _require(
        start <= keep_start <= keep_end <= end,
        f"the slice [{keep_start}, {keep_end}) reads bins the energy op leaves unwritten ([{start}, {end}))",
    )
    offset, total = 0, 0
    for index in concat.inputs:
        if index == slicer.outputs[0]:
            offset = total
            total += keep_end - keep_start
        else:
            zeros = _constant(model, index, "INT32", "the energy padding")
            _require(not zeros.any(), "the energy padding is not zeros")
            total += zeros.size
    _require(offset == keep_start and total == bins, "the padded energy does not keep each bin in place")

    (num_channels,) = _custom_options(bank, "num_channels")
    weights = _constant(model, bank.inputs[1], "INT16", "the filterbank weights")
    unweights = _constant(model, bank.inputs[2], "INT16", "the filterbank unweights")
    starts = _constant(model, bank.inputs[3], "INT16", "the channel frequency starts")
    weight_starts = _constant(model, bank.inputs[4], "INT16", "the channel weight starts")
    widths = _constant(model, bank.inputs[5], "INT16", "the channel widths")
    _require(num_channels >= 1, f"{num_channels} channels")
    _require(
        starts.size == weight_starts.size == widths.size == num_channels + 1,
        f"channel tables of {starts.size}, {weight_starts.size}, {widths.size} entries for {num_channels} channels",
    )
    _require(weights.size == unweights.size, "weights and unweights differ in length")
    for c in range(num_channels + 1):
        f0, w0, width = int(starts[c]), int(weight_starts[c]), int(widths[c])
        _require(
            width <= 0 or (f0 >= 0 and f0 + width <= bins and w0 >= 0 and w0 + width <= weights.size),
            f"filterbank channel {c} reads outside the spectrum or the weights",
        )
    _require(features.shape[-1:] == (num_channels,), f"the output {list(features.shape)} is not one per channel")

    keys = (
        "num_channels",
        "smoothing",
        "one_minus_smoothing",
        "alternate_smoothing",
        "alternate_one_minus_smoothing",
        "smoothing_bits",
        "spectral_subtraction_bits",
        "min_signal_remaining",
        "clamping",
    )
    sub_channels, *smoothing, smoothing_bits, subtraction_bits, min_remaining, clamping = _custom_options(sub, *keys)
    _require(sub_channels == num_channels, f"spectral subtraction over {sub_channels} of {num_channels} channels")
    _require(0 <= smoothing_bits < 32 and 0 <= subtraction_bits < 64, "spectral subtraction shifts out of range")

    table = _constant(model, pcan_op.inputs[2], "INT16", "the PCAN gain table")
    (snr_shift,) = _custom_options(pcan_op, "snr_shift")
    _require(table.size >= _PCAN_TABLE_MIN, f"the PCAN gain table has {table.size} entries, needs {_PCAN_TABLE_MIN}")
    _require(0 <= snr_shift < 64, f"PCAN snr_shift {snr_shift}")

    correction_bits, output_scale = _custom_options(log_op, "input_correction_bits", "output_scale")
    _require(0 <= correction_bits < 32, f"log input_correction_bits {correction_bits}")
    _require(_dtype(model, ops[len(_CHAIN) - 1].outputs[0]) == "INT32", "the log is not cast to INT32")

    tail = []
    for op in ops[len(_CHAIN) : -1]:
        _require(_dtype(model, op.outputs[0]) == "INT32", f"operator {op.index} ({op.op}) is not int32")
        constant = _scalar(model, op.inputs[1], f"the constant of operator {op.index} ({op.op})")
        if op.op == "DIV":
            _require(constant != 0, "the int32 tail divides by zero")
            _require(_div_activation(data, op.index) == 0, f"operator {op.index} (DIV) has a fused activation")
        elif op.op in ("ADD", "SUB", "MUL"):
            _require(op.options.get("activation") in (None, "NONE"), f"operator {op.index} has a fused activation")
        tail.append((op.op, constant))

    return MicroFeatureParams(
        window=window,
        window_shift=window_shift,
        fft_length=fft_length,
        energy_start=keep_start,
        energy_end=keep_end,
        num_channels=num_channels,
        filterbank_weights=weights,
        filterbank_unweights=unweights,
        channel_frequency_starts=starts,
        channel_weight_starts=weight_starts,
        channel_widths=widths,
        # the kernel holds these in uint32
        smoothing=smoothing[0] & _U32,
        one_minus_smoothing=smoothing[1] & _U32,
        alternate_smoothing=smoothing[2] & _U32,
        alternate_one_minus_smoothing=smoothing[3] & _U32,
        smoothing_bits=smoothing_bits,
        spectral_subtraction_bits=subtraction_bits,
        min_signal_remaining=min_remaining & _U32,
        clamping=bool(clamping),
        pcan_gain_table=table,
        pcan_snr_shift=snr_shift,
        log_output_scale=output_scale & _U32,
        log_input_correction_bits=correction_bits,
        tail=tuple(tail),
    )


# --- the stages; arrays of frames [F, ...], int64 unless a stage says uint64 ---


def window(frames: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """ApplyWindow: ``clamp((x * w) >> shift, -32768, 32767)``; the product is exact in int32 and the shift floors."""
    return np.clip((np.asarray(frames, dtype=np.int64) * p.window) >> p.window_shift, -32768, 32767)


def max_abs16(frame: np.ndarray) -> int:
    """MaxAbs16 as its C loop computes it in int16: keep ``v`` if ``v > max``, else ``-v`` if ``-v > max``.
    ``-(-32768)`` stores back as -32768, after which any larger value (even a negative one) replaces the maximum;
    without -32768 this is simply the largest magnitude."""
    if frame.min() > -32768:
        return int(np.abs(frame).max())
    top = 0
    for v in frame.tolist():
        if v > top:
            top = v
        elif -v > top:
            top = int(wrap16(-v))
    return top


def auto_scale(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FftAutoScale: shift each frame left by ``15 - msb(max_abs16)`` bits (0 if that is negative, or if the maximum
    is 0 or negative), storing into int16 (a wrong maximum, see :func:`max_abs16`, lets values wrap). Returns the
    frames and the shift of each."""
    tops = np.array([max_abs16(f) for f in frames], dtype=np.int64)
    shifts = np.where(tops > 0, np.maximum(15 - bit_length(np.maximum(tops, 0)), 0), 0)
    return wrap16(frames << shifts[:, None]), shifts


def _sround(x: np.ndarray) -> np.ndarray:
    """kiss_fft's sround: a Q30 product (or sum of two) back to Q15, ``(x + 2^14) >> 15``, stored as int16.
    The int32 sum cannot overflow: ``|x| <= 2 * 32768 * 32767`` since twiddles stay within +-32767."""
    return wrap16((x + _Q15_HALF) >> 15)


def _cmul(a: tuple[np.ndarray, np.ndarray], w: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """C_MUL: each part of the complex product rounded once by :func:`_sround`."""
    return _sround(a[0] * w[0] - a[1] * w[1]), _sround(a[0] * w[1] + a[1] * w[0])


def _fixdiv(a: tuple[np.ndarray, np.ndarray], radix: int) -> tuple[np.ndarray, np.ndarray]:
    """C_FIXDIV: divide by the radix as a Q15 multiply by ``floor(32767 / radix)`` with rounding."""
    q = _Q15_ONE // radix
    return _sround(a[0] * q), _sround(a[1] * q)


def _cadd(a, b):
    return wrap16(a[0] + b[0]), wrap16(a[1] + b[1])


def _csub(a, b):
    return wrap16(a[0] - b[0]), wrap16(a[1] - b[1])


def _q15(phase: float) -> tuple[int, int]:
    """A kiss_fft fixed-point twiddle component: ``floor(0.5 + 32767 * cos/sin(phase))``, phase in float64."""
    return math.floor(0.5 + _Q15_ONE * math.cos(phase)), math.floor(0.5 + _Q15_ONE * math.sin(phase))


@lru_cache(maxsize=8)
def _kiss_plan(n: int) -> tuple[list[tuple[int, int, int]], np.ndarray, np.ndarray]:
    """For a complex FFT of ``n`` points (a power of two): the stages (radix p, sub-length m, twiddle stride),
    outermost first, the input index that lands at each position before the first butterflies, and the Q15
    twiddles ``e^(-2 pi i k / n)`` as [2, n]."""
    log2n = n.bit_length() - 1
    radices = [4] * (log2n // 2) + [2] * (log2n % 2)  # kiss_fft factors out 4s first, then a 2
    stages, stride, m = [], 1, n
    for p in radices:
        m //= p
        stages.append((p, m, stride))
        stride *= p
    # decimation in time: position digits (radix p0, p1, ... most significant first) read backwards
    positions = np.arange(n)
    order = np.zeros(n, dtype=np.int64)
    for p, m, stride in stages:
        order += ((positions // m) % p) * stride
    # kiss_fft_alloc: phase = -2 * pi * k / n, evaluated in this order in double (its pi literal is math.pi)
    twiddles = np.array([_q15(-2 * math.pi * k / n) for k in range(n)], dtype=np.int64).T
    return stages, order, twiddles


def _butterfly2(x, tw):
    """kf_bfly2 on x = (re, im) as [F, blocks, 2, m]: both halves divided by 2, ``a + b w``, ``a - b w``."""
    a = _fixdiv((x[0][:, :, 0], x[1][:, :, 0]), 2)
    b = _fixdiv((x[0][:, :, 1], x[1][:, :, 1]), 2)
    t = _cmul(b, tw[1])
    return [_cadd(a, t), _csub(a, t)]


def _butterfly4(x, tw):
    """kf_bfly4 (forward) on x = (re, im) as [F, blocks, 4, m]: all four quarters divided by 4, then the
    radix-4 combination with kiss_fft's order of int16 stores."""
    q = [_fixdiv((x[0][:, :, j], x[1][:, :, j]), 4) for j in range(4)]
    s0, s1, s2 = _cmul(q[1], tw[1]), _cmul(q[2], tw[2]), _cmul(q[3], tw[3])
    s5 = _csub(q[0], s1)
    f0 = _cadd(q[0], s1)
    s3, s4 = _cadd(s0, s2), _csub(s0, s2)
    return [
        _cadd(f0, s3),
        (wrap16(s5[0] + s4[1]), wrap16(s5[1] - s4[0])),
        _csub(f0, s3),
        (wrap16(s5[0] - s4[1]), wrap16(s5[1] + s4[0])),
    ]


def kiss_fft(re: np.ndarray, im: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """kiss_fft 1.3.0 in 16-bit fixed point (forward), [F, n] -> [F, n], n a power of two.

    Mixed-radix decimation in time: radix-4 stages then a radix-2 stage if needed. Each butterfly first divides
    its inputs by its radix (:func:`_fixdiv`), so the result is the DFT divided by n; twiddle products round
    with :func:`_sround`; every sum is stored as int16 (wrapping)."""
    n = re.shape[1]
    stages, order, twiddles = _kiss_plan(n)
    x = re[:, order], im[:, order]
    for p, m, stride in reversed(stages):  # innermost (m = 1) first
        k = np.arange(m)
        tw = [(twiddles[0][j * k * stride], twiddles[1][j * k * stride]) for j in range(p)]
        blocks = (x[0].reshape(-1, stride, p, m), x[1].reshape(-1, stride, p, m))
        out = (_butterfly4 if p == 4 else _butterfly2)(blocks, tw)
        x = tuple(np.stack([o[part] for o in out], axis=2).reshape(-1, n) for part in (0, 1))
    return x


@lru_cache(maxsize=8)
def _super_twiddles(n: int) -> np.ndarray:
    """kiss_fftr's twiddles for the real split, ``e^(-i pi ((k + 1) / n + 1/2))`` for k < n/2, in Q15 as [2, n/2]."""
    return np.array([_q15(-math.pi * ((k + 1) / n + 0.5)) for k in range(n // 2)], dtype=np.int64).T


def rfft(frames: np.ndarray, fft_length: int) -> tuple[np.ndarray, np.ndarray]:
    """kiss_fftr in int16: real [F, L <= fft_length] (zero-padded) to complex [F, fft_length/2 + 1] (re, im).

    The even and odd samples are the real and imaginary parts of a :func:`kiss_fft` of half the length ``N``;
    the split divides both ``Z[k]`` and ``conj(Z[N-k])`` by 2 (:func:`_fixdiv`), ``f1 = a + b``, ``f2 = a - b``,
    ``t = f2 * twiddle`` and ``X[k] = (f1 + t) >> 1``, ``X[N-k] = conj(f1 - t) >> 1``; DC and Nyquist are the
    halved ``re + im`` and ``re - im`` of ``Z[0]``."""
    n = fft_length // 2
    padded = np.zeros((frames.shape[0], fft_length), dtype=np.int64)
    padded[:, : frames.shape[1]] = frames
    zr, zi = kiss_fft(padded[:, 0::2], padded[:, 1::2])
    out_r = np.zeros((frames.shape[0], n + 1), dtype=np.int64)
    out_i = np.zeros_like(out_r)
    dc = _fixdiv((zr[:, 0], zi[:, 0]), 2)
    out_r[:, 0], out_r[:, n] = wrap16(dc[0] + dc[1]), wrap16(dc[0] - dc[1])
    k = np.arange(1, n // 2 + 1)
    a = _fixdiv((zr[:, k], zi[:, k]), 2)
    b = _fixdiv((zr[:, n - k], wrap16(-zi[:, n - k])), 2)
    f1, f2 = _cadd(a, b), _csub(a, b)
    tw = _super_twiddles(n)
    t = _cmul(f2, (tw[0][k - 1], tw[1][k - 1]))
    out_r[:, k], out_i[:, k] = wrap16((f1[0] + t[0]) >> 1), wrap16((f1[1] + t[1]) >> 1)
    # at k = n/2 both lines write the same bin: the second wins, as in the C loop
    out_r[:, n - k], out_i[:, n - k] = wrap16((f1[0] - t[0]) >> 1), wrap16((t[1] - f1[1]) >> 1)
    return out_r, out_i


def energy(re: np.ndarray, im: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """SpectrumToEnergy and the model's slice: ``re^2 + im^2`` in int32 stored as uint32 (so -32768^2 * 2 is 2^31)
    in the bins [energy_start, energy_end), 0 in the others."""
    out = np.zeros(re.shape, dtype=np.int64)
    s = slice(p.energy_start, p.energy_end)
    out[:, s] = (re[:, s] * re[:, s] + im[:, s] * im[:, s]) & _U32
    return out


@lru_cache(maxsize=4)
def _filterbank_matrices(p: MicroFeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """The weights and unweights as dense uint64 [bins, channels + 1] matrices (int16 sign-extended to uint64,
    as C converts them)."""
    shape = (p.fft_bins, p.num_channels + 1)
    weighted, unweighted = np.zeros(shape, dtype=np.uint64), np.zeros(shape, dtype=np.uint64)
    for c in range(p.num_channels + 1):
        f0, w0, width = int(p.channel_frequency_starts[c]), int(p.channel_weight_starts[c]), int(p.channel_widths[c])
        if width > 0:
            weighted[f0 : f0 + width, c] = p.filterbank_weights[w0 : w0 + width].astype(np.uint64)
            unweighted[f0 : f0 + width, c] = p.filterbank_unweights[w0 : w0 + width].astype(np.uint64)
    return weighted, unweighted


def filterbank(e: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """FilterbankAccumulateChannels: sum ``c`` (of channels + 1) is its weighted energies plus the unweighted
    energies of sum ``c - 1`` (the falling side of the previous triangle), modulo 2^64; the model keeps sums
    1..channels. Returns uint64 [F, channels]."""
    weighted, unweighted = _filterbank_matrices(p)
    e = np.asarray(e, dtype=np.uint64)
    return (e @ weighted)[:, 1:] + (e @ unweighted)[:, :-1]


def filterbank_sqrt(sums: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """FilterbankSqrt: :func:`rounded_sqrt` of each uint64 sum, shifted right by the frame's auto-scale shift."""
    roots = np.array([rounded_sqrt(int(v)) for v in np.asarray(sums, dtype=np.uint64).ravel()], dtype=np.int64)
    return roots.reshape(sums.shape) >> np.asarray(shifts, dtype=np.int64)[:, None]


def spectral_subtraction(x: np.ndarray, noise: np.ndarray, p: MicroFeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """FilterbankSpectralSubtraction of one frame (uint32 per channel): returns (output, new noise estimate).

    With ``b = smoothing_bits``, ``s = spectral_subtraction_bits`` and the even/odd channel coefficients:
    ``up = x << b``; ``noise = (up * smoothing + noise * one_minus_smoothing) >> s`` (uint64 products);
    ``estimate = min(noise, up)`` (also the new noise if clamping); output
    ``max((up - estimate) >> b, (x * min_signal_remaining) >> s)``; every stored value is uint32."""
    x = np.asarray(x, dtype=np.uint64)
    noise = np.asarray(noise, dtype=np.uint64)
    odd = np.arange(x.size) % 2 == 1
    smoothing = np.where(odd, p.alternate_smoothing, p.smoothing).astype(np.uint64)
    keep = np.where(odd, p.alternate_one_minus_smoothing, p.one_minus_smoothing).astype(np.uint64)
    b, s, mask = np.uint64(p.smoothing_bits), np.uint64(p.spectral_subtraction_bits), np.uint64(_U32)
    up = (x << b) & mask
    noise = ((up * smoothing + noise * keep) >> s) & mask
    estimate = np.minimum(noise, up)
    if p.clamping:
        noise = estimate
    floor = ((x * np.uint64(p.min_signal_remaining)) >> s) & mask
    return np.maximum((up - estimate) >> b, floor).astype(np.int64), noise.astype(np.int64)


def pcan(x: np.ndarray, noise: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """ApplyPcanAutoGainControlFixed: ``shrink((x * gain(noise)) >> snr_shift)``, the int16 gain read as uint32
    (sign-extended), the product in uint64 and the ratio stored as uint32 (:func:`wide_dynamic_gain`,
    :func:`pcan_shrink`)."""
    gain = (wide_dynamic_gain(noise, p.pcan_gain_table) & _U32).astype(np.uint64)
    snr = (np.asarray(x, dtype=np.uint64) * gain) >> np.uint64(p.pcan_snr_shift)
    return pcan_shrink((snr & np.uint64(_U32)).astype(np.int64))


def filterbank_log(x: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """FilterbankLog: ``scaled = x << input_correction_bits`` (uint32); :func:`log32` of it capped at 32767, or 0
    when ``scaled <= 1``."""
    scaled = (np.asarray(x, dtype=np.int64) << p.log_input_correction_bits) & _U32
    return np.where(scaled > 1, np.minimum(log32(np.maximum(scaled, 2), p.log_output_scale), 32767), 0)


def int32_tail(x: np.ndarray, tail: tuple[tuple[str, int], ...]) -> np.ndarray:
    """The model's int32 ops, each with its constant: MUL, ADD, SUB wrap to int32, DIV truncates toward zero,
    MINIMUM, MAXIMUM; then the CAST to int8 (modulo 2^8)."""
    v = np.asarray(x, dtype=np.int64)
    for op, c in tail:
        if op == "MUL":
            v = wrap32(v * c)
        elif op == "ADD":
            v = wrap32(v + c)
        elif op == "SUB":
            v = wrap32(v - c)
        elif op == "DIV":
            q = np.abs(v) // abs(c)
            v = wrap32(np.where((v < 0) != (c < 0), -q, q))
        elif op == "MINIMUM":
            v = np.minimum(v, c)
        else:
            v = np.maximum(v, c)
    return v.astype(np.int8)  # integer casts wrap


# --- the front end ---


class MicroFrontend:
    """The preprocessor as a stream of frames: :meth:`frame` computes one frame's features and updates the noise
    estimate of the spectral subtraction, which carries over to the next frame until :meth:`reset` (as the
    TFLite Micro interpreter keeps it between invocations until ``reset()``)."""

    def __init__(self, params: MicroFeatureParams) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Zero the noise estimate (a new clip)."""
        self._noise = np.zeros(self.params.num_channels, dtype=np.int64)

    @property
    def noise_estimate(self) -> np.ndarray:
        """The noise estimate per channel (uint32 values) after the last frame."""
        return self._noise.copy()

    def frame(self, samples: np.ndarray) -> np.ndarray:
        """One frame: int16 [frame_length] -> int8 [num_channels]."""
        samples = _check_int16(samples, "a frame")
        if samples.shape != (self.params.frame_length,):
            raise IntrefInputError(f"a frame is int16 [{self.params.frame_length}], got shape {list(samples.shape)}")
        return self.frames(samples[None, :])[0]

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """Consecutive frames of one stream: int16 [F, frame_length] -> int8 [F, num_channels]."""
        frames = _check_int16(frames, "frames")
        if frames.ndim != 2 or frames.shape[1] != self.params.frame_length:
            raise IntrefInputError(f"frames are int16 [F, {self.params.frame_length}], got shape {list(frames.shape)}")
        p = self.params
        x, shifts = auto_scale(window(frames, p))
        re, im = rfft(x, p.fft_length)
        magnitudes = filterbank_sqrt(filterbank(energy(re, im, p), p), shifts)
        signal, noise = np.zeros_like(magnitudes), np.zeros_like(magnitudes)
        for f in range(magnitudes.shape[0]):  # the noise estimate makes this stage sequential
            signal[f], self._noise = spectral_subtraction(magnitudes[f], self._noise, p)
            noise[f] = self._noise
        return int32_tail(filterbank_log(pcan(signal, noise, p), p), p.tail)


def _check_int16(x, what: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.int16:
        got = f"{x.dtype} array" if isinstance(x, np.ndarray) else type(x).__name__
        raise IntrefInputError(f"{what} must be an int16 array, got {got}")
    return x


def micro_features(
    audio: np.ndarray, params: MicroFeatureParams, frame: int = FRAME, stride: int = STRIDE
) -> np.ndarray:
    """int16 mono 16 kHz audio -> int8 features [frames, num_channels], ``frames = 1 + (len - frame) // stride``.

    As the micro_speech example's ``evaluate.py`` frames a clip: frames of ``frame`` samples every ``stride``,
    while a whole frame fits (the samples after the last whole frame are not used); the noise estimate starts at
    zero for the clip and carries from frame to frame. ``evaluate.py`` writes the frames into a fixed [49, 40]
    array; this returns exactly the frames that fit. ``frame`` must be the model's input length."""
    audio = _check_int16(audio, "audio")
    if audio.ndim != 1:
        raise IntrefInputError(f"audio must be one channel (1-D), got shape {list(audio.shape)}")
    if frame != params.frame_length:
        raise IntrefInputError(f"the preprocessor takes frames of {params.frame_length} samples, not {frame}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise IntrefInputError(f"stride must be a positive number of samples, got {stride!r}")
    if audio.size < frame:
        raise IntrefInputError(f"audio of {audio.size} samples is shorter than one {frame}-sample frame")
    count = 1 + (audio.size - frame) // stride
    starts = np.arange(count) * int(stride)
    return MicroFrontend(params).frames(audio[starts[:, None] + np.arange(frame)])
