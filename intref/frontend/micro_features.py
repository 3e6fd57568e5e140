"""The TensorFlow Lite Micro keyword-spotting front end, in integers: 30 ms frames of int16 audio to 40 int8
features, bit for bit as the ``audio_preprocessor_int8.tflite`` model of the micro_speech example computes them
with TFLite Micro's Signal ops.

Stages, per frame (every constant is read from the preprocessor model, see :class:`MicroFeatureParams`):

1. window: ``(x * w) >> shift``, saturated to int16;
2. auto scale: shift left by ``15 - bit_length(max |x|)`` bits (at least 0), remembered as ``scale_bits`` (the
   maximum as TFLite Micro's int16 loop finds it, see :func:`max_abs16`);
3. real FFT of ``fft_length`` points (zero-padded): kiss_fft 1.3.0 in 16-bit fixed point, the half-length complex
   FFT by radix-4 and radix-2 butterflies that divide by their radix with rounding at every stage (Q15
   twiddles ``floor(0.5 + 32767 cos/sin)``), then the real-FFT split; every stored value wraps to int16;
4. energy: ``re^2 + im^2`` of the bins ``[start, end)`` (the others are zeroed by the model's slice);
5. mel filterbank: per channel, a uint64 sum of weighted energies plus the previous band's unweighted ones
   (overlapping triangles); the first of the ``num_channels + 1`` sums is dropped;
6. square root: the integer square root of each uint64 sum, rounded up when the remainder exceeds the root,
   then shifted down by ``scale_bits``;
7. spectral subtraction (the state): a per-channel noise estimate smoothed over frames, subtracted with a floor;
8. PCAN: a gain from the noise estimate through a piecewise-quadratic table, the signal-to-noise ratio shifted,
   then compressed;
9. log: ``round(output_scale * ln(x << correction_bits))`` from a 128-segment log2 table, capped at 32767;
10. the model's int32 tail: ``((log * 256 + 333) / 666) - 128`` truncated and clamped to int8 (the constants are
    the model's).

A clip is framed as the example's ``evaluate.py`` does: frames of 480 samples every 320, while a whole frame fits,
with the noise estimate reset at the start of the clip and carried from frame to frame.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import IntrefInputError

FRAME = 480  # samples of a 30 ms frame at 16 kHz
STRIDE = 320  # 20 ms
_U32 = 0xFFFFFFFF

# The 128-segment log2 table of TFLite Micro's Log32 (Q16 corrections to the linear interpolation of log2).
_LOG_LUT = np.array(
    [0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
     3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001,
     5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631,
     5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332,
     5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
     4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549,
     2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0,
     0],
    dtype=np.int64,
)  # fmt: skip
_LOG_COEFF = 45426  # ln(2) in Q16
_PCAN_SNR_BITS, _PCAN_OUTPUT_BITS = 12, 6


def wrap16(x) -> np.ndarray:
    """Store into int16 (two's complement wrap), as C does for kiss_fft's int16 results."""
    return ((np.asarray(x, dtype=np.int64) + 2**15) & 0xFFFF) - 2**15


def bit_length(x) -> np.ndarray:
    """MostSignificantBit of non-negative integers: the number of bits (0 for 0)."""
    x = np.asarray(x, dtype=np.uint64)
    out = np.zeros(x.shape, dtype=np.int64)
    v = x.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = v >= (np.uint64(1) << np.uint64(shift))
        out += np.where(big, shift, 0)
        v = np.where(big, v >> np.uint64(shift), v)
    return out + (v > 0)


@dataclass(frozen=True)
class MicroFeatureParams:
    """The preprocessor's constants, read from its model."""

    window: np.ndarray  # int16 [480]
    window_shift: int
    fft_length: int
    energy_start: int
    energy_end: int
    weights: np.ndarray  # int16: filterbank weights and unweights, channel starts and widths
    unweights: np.ndarray
    channel_frequency_starts: np.ndarray
    channel_weight_starts: np.ndarray
    channel_widths: np.ndarray
    num_channels: int
    smoothing: int
    one_minus_smoothing: int
    alternate_smoothing: int
    alternate_one_minus_smoothing: int
    smoothing_bits: int
    min_signal_remaining: int
    clamping: bool
    spectral_subtraction_bits: int
    pcan_lut: np.ndarray  # int16
    snr_shift: int
    log_output_scale: int
    log_correction_bits: int
    tail: tuple[int, int, int, int, int, int]  # mul, add, div, add, min, max of the int32 tail

    @cached_property
    def twiddles(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.fft_length // 2
        phase = -2 * math.pi * np.arange(n) / n
        return np.floor(0.5 + 32767 * np.cos(phase)), np.floor(0.5 + 32767 * np.sin(phase))

    @cached_property
    def super_twiddles(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.fft_length // 2
        phase = -math.pi * ((np.arange(n // 2) + 1) / n + 0.5)
        return np.floor(0.5 + 32767 * np.cos(phase)), np.floor(0.5 + 32767 * np.sin(phase))


def load_micro_params(source: str | os.PathLike | bytes) -> MicroFeatureParams:
    """Read the constants of an ``audio_preprocessor_int8.tflite`` (path or bytes)."""
    from flatbuffers import flexbuffers

    from ..models.tflite.reader import TfliteFormatError, read_tflite

    model = read_tflite(source)
    by_op: dict[str, list] = {}
    for op in model.operators:
        by_op.setdefault(op.op, []).append(op)

    def one(name: str):
        ops = by_op.get(name, [])
        if len(ops) != 1:
            raise TfliteFormatError(f"not a micro_speech audio preprocessor: expected one {name}, found {len(ops)}")
        return ops[0]

    def options(name: str) -> dict:
        raw = one(name).custom_options
        return flexbuffers.Loads(raw) if raw else {}

    def const(index: int) -> np.ndarray:
        data = model.tensors[index].data
        if data is None:
            raise TfliteFormatError(
                f"not a micro_speech audio preprocessor: {model.tensors[index].describe()} is not a constant"
            )
        return data

    def scalar_operand(op_name: str, k: int = 0) -> int:
        op = by_op.get(op_name, [])
        if len(op) <= k:
            raise TfliteFormatError(f"not a micro_speech audio preprocessor: no {op_name} #{k + 1}")
        return int(const(op[k].inputs[1]).ravel()[0])

    window_op = one("CUSTOM:SignalWindow")
    bank = one("CUSTOM:SignalFilterBank")
    pcan = one("CUSTOM:SignalPCAN")
    sub = options("CUSTOM:SignalFilterBankSpectralSubtraction")
    energy = options("CUSTOM:SignalEnergy")
    log = options("CUSTOM:SignalFilterBankLog")
    tail = (
        scalar_operand("MUL"),
        scalar_operand("ADD", 0),
        scalar_operand("DIV"),
        scalar_operand("ADD", 1),
        scalar_operand("MINIMUM"),
        scalar_operand("MAXIMUM"),
    )
    if tail[2] == 0:
        raise TfliteFormatError("the preprocessor divides by zero")
    params = MicroFeatureParams(
        window=const(window_op.inputs[1]).astype(np.int64),
        window_shift=int(options("CUSTOM:SignalWindow")["shift"]),
        fft_length=int(options("CUSTOM:SignalRfft")["fft_length"]),
        energy_start=int(energy["start_index"]),
        energy_end=int(energy["end_index"]),
        weights=const(bank.inputs[1]).astype(np.int64),
        unweights=const(bank.inputs[2]).astype(np.int64),
        channel_frequency_starts=const(bank.inputs[3]).astype(np.int64),
        channel_weight_starts=const(bank.inputs[4]).astype(np.int64),
        channel_widths=const(bank.inputs[5]).astype(np.int64),
        num_channels=int(options("CUSTOM:SignalFilterBank")["num_channels"]),
        smoothing=int(sub["smoothing"]),
        one_minus_smoothing=int(sub["one_minus_smoothing"]),
        alternate_smoothing=int(sub["alternate_smoothing"]),
        alternate_one_minus_smoothing=int(sub["alternate_one_minus_smoothing"]),
        smoothing_bits=int(sub["smoothing_bits"]),
        min_signal_remaining=int(sub["min_signal_remaining"]),
        clamping=bool(sub["clamping"]),
        spectral_subtraction_bits=int(sub["spectral_subtraction_bits"]),
        pcan_lut=const(pcan.inputs[2]).astype(np.int64),
        snr_shift=int(options("CUSTOM:SignalPCAN")["snr_shift"]),
        log_output_scale=int(log["output_scale"]),
        log_correction_bits=int(log["input_correction_bits"]),
        tail=tail,
    )
    n = params.fft_length // 2
    if params.fft_length < 8 or n & (n - 1):
        raise TfliteFormatError(f"fft_length {params.fft_length}: only powers of two are supported")
    if params.window.shape != (FRAME,):
        raise TfliteFormatError(f"the window has {params.window.size} taps, expected {FRAME}")
    return params


# --- the stages, each over a batch of frames [F, ...] ---


def apply_window(frames: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    return np.clip((frames * p.window) >> p.window_shift, -32768, 32767)


def max_abs16(frame: np.ndarray) -> int:
    """MaxAbs16 as the C loop computes it in int16: ``-(-32768)`` stores back as -32768, after which the next
    larger value replaces the maximum. Without -32768 this is the largest magnitude."""
    if frame.min() > -32768:
        return int(np.abs(frame).max())
    top = 0
    for value in frame.tolist():
        if value > top:
            top = value
        elif -value > top:
            top = -32768 if value == -32768 else -value
    return top


def auto_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each frame up to use 15 bits: ``15 - MostSignificantBit32(MaxAbs16)``, at least 0, where the bit
    count of the maximum read as uint32 is 32 for 0 and for a negative maximum (see max_abs16)."""
    tops = np.array([max_abs16(frame) for frame in x], dtype=np.int64)
    bits = np.where(tops > 0, bit_length(np.maximum(tops, 0)), 32)
    scale_bits = np.maximum(15 - bits, 0)
    return wrap16(x << scale_bits[:, None]), scale_bits


def wrap32(x) -> np.ndarray:
    return ((np.asarray(x, dtype=np.int64) + 2**31) & _U32) - 2**31


def _sround(x) -> np.ndarray:
    """kiss_fft's rounding of a Q30 product to Q15: ``(x + 2^14) >> 15`` in int32, stored as int16."""
    return wrap16(wrap32(wrap32(x) + (1 << 14)) >> 15)


def _fixdiv(x: np.ndarray, radix: int) -> np.ndarray:
    return _sround(x * (32767 // radix))


def _cmul(ar, ai, br, bi):
    return _sround(ar * br - ai * bi), _sround(ar * bi + ai * br)


def _factors(n: int) -> list[tuple[int, int]]:
    """kiss_fft's factorisation: radix 4 first, then 2 (then odd primes, not needed for powers of two)."""
    out, p = [], 4
    while n > 1:
        while n % p:
            p = 2 if p == 4 else p + 1
        n //= p
        out.append((p, n))
    return out


def _kf_work(re, im, offset: int, fstride: int, factors, tw):
    """kiss_fft's recursive decimation in time: the transform of x[offset::fstride], [F, p*m]."""
    p, m = factors[0]
    if m == 1:  # the leaves: the p inputs themselves, then the butterfly
        idx = offset + np.arange(p) * fstride
        fr, fi = re[:, idx].copy(), im[:, idx].copy()
    else:
        parts = [_kf_work(re, im, offset + j * fstride, fstride * p, factors[1:], tw) for j in range(p)]
        fr = np.concatenate([a for a, _ in parts], axis=1)
        fi = np.concatenate([b for _, b in parts], axis=1)
    k = np.arange(m)
    if p == 2:
        _bfly2(fr, fi, fstride, m, k, tw)
    else:
        _bfly4(fr, fi, fstride, m, k, tw)
    return fr, fi


def _bfly2(fr, fi, fstride, m, k, tw):
    ar, ai = _fixdiv(fr[:, :m], 2), _fixdiv(fi[:, :m], 2)
    br, bi = _fixdiv(fr[:, m:], 2), _fixdiv(fi[:, m:], 2)
    tr, ti = _cmul(br, bi, tw[0][k * fstride], tw[1][k * fstride])
    fr[:, m:], fi[:, m:] = wrap16(ar - tr), wrap16(ai - ti)
    fr[:, :m], fi[:, :m] = wrap16(ar + tr), wrap16(ai + ti)


def _bfly4(fr, fi, fstride, m, k, tw):
    q = [(_fixdiv(fr[:, j * m : (j + 1) * m], 4), _fixdiv(fi[:, j * m : (j + 1) * m], 4)) for j in range(4)]
    s0 = _cmul(*q[1], tw[0][k * fstride], tw[1][k * fstride])
    s1 = _cmul(*q[2], tw[0][2 * k * fstride], tw[1][2 * k * fstride])
    s2 = _cmul(*q[3], tw[0][3 * k * fstride], tw[1][3 * k * fstride])
    s5 = wrap16(q[0][0] - s1[0]), wrap16(q[0][1] - s1[1])
    f0 = wrap16(q[0][0] + s1[0]), wrap16(q[0][1] + s1[1])
    s3 = wrap16(s0[0] + s2[0]), wrap16(s0[1] + s2[1])
    s4 = wrap16(s0[0] - s2[0]), wrap16(s0[1] - s2[1])
    fr[:, 2 * m : 3 * m], fi[:, 2 * m : 3 * m] = wrap16(f0[0] - s3[0]), wrap16(f0[1] - s3[1])
    fr[:, :m], fi[:, :m] = wrap16(f0[0] + s3[0]), wrap16(f0[1] + s3[1])
    fr[:, m : 2 * m], fi[:, m : 2 * m] = wrap16(s5[0] + s4[1]), wrap16(s5[1] - s4[0])
    fr[:, 3 * m :], fi[:, 3 * m :] = wrap16(s5[0] - s4[1]), wrap16(s5[1] + s4[0])


def rfft(x: np.ndarray, p: MicroFeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """kiss_fftr in int16 fixed point: [F, fft_length] real -> [F, fft_length/2 + 1] complex (re, im)."""
    n = p.fft_length // 2
    padded = np.zeros((x.shape[0], p.fft_length), dtype=np.int64)
    padded[:, : x.shape[1]] = x
    zr, zi = _kf_work(padded[:, 0::2], padded[:, 1::2], 0, 1, _factors(n), p.twiddles)
    out_r = np.zeros((x.shape[0], n + 1), dtype=np.int64)
    out_i = np.zeros_like(out_r)
    dr, di = _fixdiv(zr[:, 0], 2), _fixdiv(zi[:, 0], 2)
    out_r[:, 0], out_r[:, n] = wrap16(dr + di), wrap16(dr - di)
    k = np.arange(1, n // 2 + 1)
    pr, pi = _fixdiv(zr[:, k], 2), _fixdiv(zi[:, k], 2)
    qr, qi = _fixdiv(zr[:, n - k], 2), _fixdiv(wrap16(-zi[:, n - k]), 2)
    f1r, f1i = wrap16(pr + qr), wrap16(pi + qi)
    f2r, f2i = wrap16(pr - qr), wrap16(pi - qi)
    twr, twi = _cmul(f2r, f2i, p.super_twiddles[0][k - 1], p.super_twiddles[1][k - 1])
    out_r[:, k], out_i[:, k] = wrap16((f1r + twr) >> 1), wrap16((f1i + twi) >> 1)
    out_r[:, n - k], out_i[:, n - k] = wrap16((f1r - twr) >> 1), wrap16((twi - f1i) >> 1)
    return out_r, out_i


def energy(re: np.ndarray, im: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """uint32 ``re^2 + im^2`` in the bins [start, end); the model's slice and zeros remove the rest."""
    out = np.zeros(re.shape, dtype=np.int64)
    s = slice(p.energy_start, p.energy_end)
    out[:, s] = (re[:, s] * re[:, s] + im[:, s] * im[:, s]) & _U32
    return out


def filterbank(e: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """uint64 channel sums: each channel's weighted energies plus the previous channel's unweighted ones."""
    out = np.zeros((e.shape[0], p.num_channels + 1), dtype=object)
    carry = np.zeros(e.shape[0], dtype=object)
    for c in range(p.num_channels + 1):
        f0, w0, width = (int(v[c]) for v in (p.channel_frequency_starts, p.channel_weight_starts, p.channel_widths))
        band = e[:, f0 : f0 + width].astype(object)
        weighted = carry + (band * p.weights[w0 : w0 + width].astype(object)).sum(axis=1)
        carry = (band * p.unweights[w0 : w0 + width].astype(object)).sum(axis=1)
        out[:, c] = weighted
    return out[:, 1:]  # sum 0 collects the energy below the first channel: the kernel drops it


def _isqrt_rounded(v: int, bits: int) -> int:
    """Sqrt32/Sqrt64: floor(sqrt(v)), plus one when the remainder exceeds the root (unless at the type's max)."""
    if v == 0:
        return 0
    root = math.isqrt(v)
    limit = (1 << (bits // 2)) - 1
    return root + 1 if v - root * root > root and root != limit else root


def square_root(sums: np.ndarray, scale_bits: np.ndarray) -> np.ndarray:
    out = np.zeros(sums.shape, dtype=np.int64)
    for f in range(sums.shape[0]):
        for c in range(sums.shape[1]):
            v = int(sums[f, c]) & ((1 << 64) - 1)
            out[f, c] = _isqrt_rounded(v, 32 if v >> 32 == 0 else 64) >> int(scale_bits[f])
    return out & _U32


def spectral_subtraction(x: np.ndarray, noise: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """One frame: updates ``noise`` (uint32 per channel, in place) and returns the subtracted signal."""
    odd = np.arange(x.size) % 2 == 1
    smooth = np.where(odd, p.alternate_smoothing, p.smoothing)
    keep = np.where(odd, p.alternate_one_minus_smoothing, p.one_minus_smoothing)
    up = (x << p.smoothing_bits) & _U32
    noise[:] = ((up * smooth + noise * keep) >> p.spectral_subtraction_bits) & _U32
    estimate = np.minimum(noise, up)
    if p.clamping:
        noise[:] = estimate
    floor = ((x * p.min_signal_remaining) >> p.spectral_subtraction_bits) & _U32
    subtracted = ((up - estimate) & _U32) >> p.smoothing_bits
    return np.maximum(subtracted, floor)


def _wide_dynamic(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """PCAN's gain from the noise estimate: a quadratic per octave of x, from the table."""
    interval = bit_length(x)
    base = np.clip(4 * interval - 6, 0, lut.size - 3)
    frac = np.where(interval < 11, x << np.maximum(11 - interval, 0), x >> np.maximum(interval - 11, 0)) & 0x3FF
    c0, c1, c2 = lut[base], lut[base + 1], lut[base + 2]
    r = wrap32((c2 * frac) >> 5)
    r = wrap32(r + c1 * 32)  # (int32)((uint32)c1 << 5)
    r = wrap32(wrap32(r * frac) + (1 << 14)) >> 15
    r = wrap16(r + c0)
    return np.where(x <= 2, lut[np.minimum(x, 2)], r)


def pcan(x: np.ndarray, noise: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    gain = (_wide_dynamic(noise, p.pcan_lut) & _U32).astype(np.uint64)  # the int16 gain as uint32
    snr = ((x.astype(np.uint64) * gain) >> np.uint64(p.snr_shift)).astype(np.int64) & _U32
    small = snr < (2 << _PCAN_SNR_BITS)
    shrunk_small = (snr * snr) >> (2 + 2 * _PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)
    shrunk_big = (snr >> (_PCAN_SNR_BITS - _PCAN_OUTPUT_BITS)) - (1 << _PCAN_OUTPUT_BITS)
    return np.where(small, shrunk_small, shrunk_big) & _U32


def log_scale(x: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    """FilterbankLog: ``round(scale * ln(x << bits))`` via a log2 table; 0 for values up to 1; capped at 32767."""
    scaled = (x << p.log_correction_bits) & _U32
    integer = np.maximum(bit_length(scaled) - 1, 0)
    frac = scaled - (np.int64(1) << integer)
    frac = np.where(integer < 16, frac << np.maximum(16 - integer, 0), frac >> np.maximum(integer - 16, 0))
    seg = frac >> 9
    c0, c1 = _LOG_LUT[np.clip(seg, 0, 128)], _LOG_LUT[np.clip(seg + 1, 0, 128)]
    rel = ((c1 - c0) * (frac - 512 * seg)) >> 16
    log2 = ((integer << 16) + frac + c0 + rel) & _U32
    loge = (_LOG_COEFF * log2 + 32768) >> 16
    value = ((p.log_output_scale * loge + 32768) & _U32) >> 16
    return np.where(scaled > 1, np.minimum(value, 32767), 0)


def tail(x: np.ndarray, p: MicroFeatureParams) -> np.ndarray:
    mul, add1, div, add2, top, bottom = p.tail
    v = x * mul + add1
    q = np.where((v < 0) != (div < 0), -(np.abs(v) // abs(div)), np.abs(v) // abs(div))  # C truncation
    return np.maximum(np.minimum(q + add2, top), bottom).astype(np.int8)


class MicroFrontend:
    """The preprocessor as a stream: ``frame(samples)`` gives one frame's features; the noise estimate carries
    from frame to frame until ``reset()``."""

    def __init__(self, params: MicroFeatureParams) -> None:
        self.params = params
        self.noise = np.zeros(params.num_channels, dtype=np.int64)

    def reset(self) -> None:
        self.noise[:] = 0

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """int16 [F, 480] consecutive frames -> int8 [F, channels]."""
        frames = _check_audio(frames, 2)
        if frames.shape[1] != FRAME:
            raise IntrefInputError(f"a frame holds {FRAME} samples, got {frames.shape[1]}")
        p = self.params
        x, scale_bits = auto_scale(apply_window(frames.astype(np.int64), p))
        re, im = rfft(x, p)
        sums = square_root(filterbank(energy(re, im, p), p), scale_bits)
        out = np.zeros((frames.shape[0], p.num_channels), dtype=np.int8)
        for f in range(frames.shape[0]):
            signal = spectral_subtraction(sums[f], self.noise, p)
            out[f] = tail(log_scale(pcan(signal, self.noise, p), p), p)
        return out

    def frame(self, samples: np.ndarray) -> np.ndarray:
        return self.frames(np.asarray(samples).reshape(1, -1))[0]


def _check_audio(x, ndim: int) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.dtype != np.int16:
        raise IntrefInputError(f"audio must be an int16 array, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim != ndim:
        raise IntrefInputError(f"audio must have {ndim} dimension(s), got shape {x.shape}")
    return x


def micro_features(audio: np.ndarray, params: MicroFeatureParams) -> np.ndarray:
    """int16 mono 16 kHz audio -> int8 [frames, channels], frames = 1 + (len - 480) // 320 (fresh state)."""
    audio = _check_audio(audio, 1)
    if audio.size < FRAME:
        raise IntrefInputError(f"audio of {audio.size} samples is shorter than one {FRAME}-sample frame")
    count = 1 + (audio.size - FRAME) // STRIDE
    idx = np.arange(count)[:, None] * STRIDE + np.arange(FRAME)[None, :]
    return MicroFrontend(params).frames(audio[idx])
