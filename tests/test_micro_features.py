"""The integer micro_speech front end (:mod:`intref.frontend.micro_features`).

- Without data: the integer pieces (msb, rounded square root, log, PCAN gain and shrink, the fixed-point FFT)
  against Python-integer oracles written from the kernels' C semantics, and input validation.
- With the shared data and tflite-micro: each stage against TensorFlow Lite Micro running that stage's operators
  cut out of ``audio_preprocessor_int8.tflite`` on many edge inputs, then the whole model frame by frame on every
  shared keyword clip and on synthetic edge signals; every element must be identical.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from intref.errors import IntrefInputError
from intref.frontend import micro_features as mf
from intref.models.tflite import TfliteFormatError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
MICRO = DATA / "tflite" / "micro_speech"
PREPROCESSOR = MICRO / "audio_preprocessor_int8.tflite"
U32, U64 = 2**32 - 1, 2**64 - 1


# --- Python-integer oracles, written from the C code's types ---


def _s16(v: int) -> int:
    return (v + 2**15) % 2**16 - 2**15


def _s32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def _digit_sqrt(num: int, bits: int) -> int:
    """Sqrt32 / Sqrt64: the bit-by-bit square root, then round up when the remainder exceeds the root."""
    if num == 0:
        return 0
    res = 0
    max_bit_number = (bits - num.bit_length()) | 1
    bit = 1 << (bits - 1 - max_bit_number)
    for _ in range((bits - 1 - max_bit_number) // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    return res + 1 if num > res and res != (1 << bits // 2) - 1 else res


def _sqrt64(num: int) -> int:
    return _digit_sqrt(num, 32 if num >> 32 == 0 else 64)


def _log32(x: int, scale: int) -> int:
    integer = x.bit_length() - 1
    frac = x - (1 << integer)
    frac = frac << (16 - integer) if integer < 16 else frac >> (integer - 16)
    seg = frac >> 9
    c0, c1 = int(mf._LOG_TABLE[seg]), int(mf._LOG_TABLE[seg + 1])
    log2 = ((integer << 16) + frac + c0 + (((c1 - c0) * (frac - 512 * seg)) >> 16)) % 2**32
    loge = ((45426 * log2 + 32768) >> 16) % 2**32
    return ((scale * loge) % 2**32 + 32768) % 2**32 >> 16


def _wide_dynamic(x: int, lut: list[int]) -> int:
    if x <= 2:
        return lut[x]
    n = x.bit_length()
    base = 4 * n - 6
    frac = ((x << (11 - n)) % 2**32 if n < 11 else x >> (n - 11)) & 0x3FF
    r = (lut[base + 2] * frac) >> 5
    r = _s32(r + _s32(((lut[base + 1] % 2**32) << 5) % 2**32))
    r = _s32(r * frac)
    r = _s32(r + (1 << 14)) >> 15
    return _s16(r + lut[base])


def _sround(v: int) -> int:
    return _s16(_s32(_s32(v) + (1 << 14)) >> 15)


def _kiss_oracle(z: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """kiss_fft's recursive kf_work with kf_bfly2 / kf_bfly4 (forward), one complex value at a time."""
    n = len(z)
    phases = [-2 * math.pi * k / n for k in range(n)]
    tw = [(math.floor(0.5 + 32767 * math.cos(a)), math.floor(0.5 + 32767 * math.sin(a))) for a in phases]
    factors, m, p = [], n, 4
    while m > 1:
        while m % p:
            p = 2
        m //= p
        factors.append((p, m))

    def div(c, radix):
        return _sround(c[0] * (32767 // radix)), _sround(c[1] * (32767 // radix))

    def mul(a, b):
        return _sround(a[0] * b[0] - a[1] * b[1]), _sround(a[0] * b[1] + a[1] * b[0])

    def add(a, b):
        return _s16(a[0] + b[0]), _s16(a[1] + b[1])

    def sub(a, b):
        return _s16(a[0] - b[0]), _s16(a[1] - b[1])

    def work(offset: int, fstride: int, level: int) -> list[tuple[int, int]]:
        p, m = factors[level]
        if m == 1:
            out = [z[offset + j * fstride] for j in range(p)]
        else:
            out = [v for j in range(p) for v in work(offset + j * fstride, fstride * p, level + 1)]
        for k in range(m):
            if p == 2:
                a, b = div(out[k], 2), div(out[k + m], 2)
                t = mul(b, tw[k * fstride])
                out[k + m], out[k] = sub(a, t), add(a, t)
            else:
                q = [div(out[k + j * m], 4) for j in range(4)]
                s0, s1, s2 = (mul(q[j], tw[j * k * fstride]) for j in (1, 2, 3))
                s5, f0 = sub(q[0], s1), add(q[0], s1)
                s3, s4 = add(s0, s2), sub(s0, s2)
                out[k + 2 * m], out[k] = sub(f0, s3), add(f0, s3)
                out[k + m] = _s16(s5[0] + s4[1]), _s16(s5[1] - s4[0])
                out[k + 3 * m] = _s16(s5[0] - s4[1]), _s16(s5[1] + s4[0])
        return out

    return work(0, 1, 0)


def _rfft_oracle(x: list[int]) -> list[tuple[int, int]]:
    """kiss_fftr: a half-length complex FFT of the even/odd samples, then the real split."""
    n = len(x) // 2
    z = _kiss_oracle([(x[2 * t], x[2 * t + 1]) for t in range(n)])
    half = [(_sround(v[0] * 16383), _sround(v[1] * 16383)) for v in z]  # C_FIXDIV by 2
    out = [(0, 0)] * (n + 1)
    out[0], out[n] = (_s16(half[0][0] + half[0][1]), 0), (_s16(half[0][0] - half[0][1]), 0)
    for k in range(1, n // 2 + 1):
        a = half[k]
        b = (_sround(z[n - k][0] * 16383), _sround(_s16(-z[n - k][1]) * 16383))
        f1 = _s16(a[0] + b[0]), _s16(a[1] + b[1])
        f2 = _s16(a[0] - b[0]), _s16(a[1] - b[1])
        phase = -math.pi * (k / n + 0.5)
        w = math.floor(0.5 + 32767 * math.cos(phase)), math.floor(0.5 + 32767 * math.sin(phase))
        t = _sround(f2[0] * w[0] - f2[1] * w[1]), _sround(f2[0] * w[1] + f2[1] * w[0])
        out[k] = _s16((f1[0] + t[0]) >> 1), _s16((f1[1] + t[1]) >> 1)
        out[n - k] = _s16((f1[0] - t[0]) >> 1), _s16((t[1] - f1[1]) >> 1)
    return out


def _edge_signal(rng: np.random.Generator, size: int) -> np.ndarray:
    """int16 samples: noise at a random level, saturated noise, INT16_MIN dropped in, a constant, an impulse, or a
    full-scale square or sine wave (whose spectrum overflows int16 inside the fixed-point FFT)."""
    kind = rng.integers(8)
    level = int(2 ** rng.uniform(0, 15.01))
    x = rng.integers(-level, level + 1, size)
    if kind == 1:
        x = np.where(rng.random(size) < 0.5, 32767, -32768)
    elif kind == 2:
        x[rng.integers(size, size=rng.integers(1, 4))] = -32768
    elif kind == 3:
        x = np.full(size, rng.choice([-32768, -1, 0, 1, 32767]))
    elif kind == 4:
        x = np.zeros(size)
        x[rng.integers(size)] = rng.choice([-32768, 32767, 1])
    elif kind >= 6:
        phase = 2 * np.pi * rng.uniform(0, 0.5) * np.arange(size) + rng.uniform(0, 2 * np.pi)
        x = np.where(np.cos(phase) >= 0, 32767, -32768) if kind == 6 else np.round(32767 * np.cos(phase))
    return np.clip(x, -32768, 32767).astype(np.int16)


def _wide_uint(rng: np.random.Generator, size: int, bits: int = 32) -> np.ndarray:
    """Unsigned values of uniformly random bit length (0..bits), plus the extremes."""
    lengths = rng.integers(0, bits + 1, size)
    raw = rng.integers(0, 2**63, size, dtype=np.uint64) | (rng.integers(0, 2, size, dtype=np.uint64) << np.uint64(63))
    mask = np.where(lengths == 64, np.uint64(U64), (np.uint64(1) << lengths.astype(np.uint64)) - np.uint64(1))
    values = raw & mask
    values[rng.random(size) < 0.05] = 2**bits - 1
    return values


# --- the integer pieces, without data ---


@given(st.integers(0, U64))
@example(0)
@example(U64)
def test_bit_length_is_pythons(v):
    assert int(mf.bit_length(np.array([v], dtype=np.uint64))[0]) == v.bit_length()


@given(st.integers(0, U64))
@example(0)
@example(65535**2 + 65535)  # would round up to 65536: stays at 65535 (Sqrt32's type)
@example(2**32 - 1)
@example(2**32)
@example((2**32 - 1) ** 2 + 2**32 - 1)  # would round up to 2^32: stays at 2^32 - 1
@example(U64)
def test_rounded_sqrt_is_the_kernels_bitwise_square_root(v):
    r = mf.rounded_sqrt(v)
    assert r == _sqrt64(v)
    nearest = max(2 * r - 1, 0) ** 2 <= 4 * v <= (2 * r + 1) ** 2  # |r - sqrt(v)| <= 1/2, exactly
    assert nearest or r in (0xFFFF, U32)  # saturated at the type's maximum


def test_filterbank_sqrt_shifts_each_frame():
    sums = np.array([[0, 1, 2**40], [99, 2**64 - 1, 7]], dtype=np.uint64)
    got = mf.filterbank_sqrt(sums, np.array([0, 3]))
    assert got.tolist() == [[0, 1, 2**20], [_sqrt64(99) >> 3, U32 >> 3, 3 >> 3]]


def test_log_table_is_the_chord_correction_of_log2():
    i = np.arange(129)
    exact = 65536 * (np.log2(1 + i / 128) - i / 128)
    assert np.array_equal(mf._LOG_TABLE, np.floor(exact + 0.5))
    assert np.abs(exact - np.floor(exact) - 0.5).min() > 1e-3  # no entry near a tie: float64 is enough
    assert mf._LOG_TABLE[0] == mf._LOG_TABLE[128] == 0 and mf._LN2_Q16 == 45426


@given(st.integers(2, U32), st.integers(0, U32))
@example(2, 64)
@example(U32, 64)
@example(2**31, U32)
def test_log32_matches_the_integer_definition(x, scale):
    assert int(mf.log32(np.array([x]), scale)[0]) == _log32(x, scale)


@given(st.integers(2, U32), st.integers(1, 2000))
def test_log32_is_scale_times_ln_within_its_table_error(x, scale):
    # below scale 2950 the uint32 product cannot wrap; the table's interpolation error is under 1/400 of ln
    assert abs(int(mf.log32(np.array([x]), scale)[0]) - scale * math.log(x)) <= 1 + scale / 300


@settings(max_examples=60)
@given(st.lists(st.integers(-32768, 32767), min_size=125, max_size=125), st.lists(st.integers(0, U32), min_size=1))
def test_pcan_gain_matches_the_integer_definition(lut, xs):
    xs += [0, 1, 2, 3, 1023, 1024, 2047, 2048, U32]
    got = mf.wide_dynamic_gain(np.array(xs, dtype=np.int64), np.array(lut))
    assert got.tolist() == [_wide_dynamic(x, lut) for x in xs]


@given(st.integers(0, U32))
@example(8191)
@example(8192)
def test_pcan_shrink_matches_its_definition(snr):
    want = ((snr * snr) % 2**32) >> 20 if snr < 8192 else (snr >> 6) - 64
    assert int(mf.pcan_shrink(np.array([snr]))[0]) == want


@settings(max_examples=40)
@given(st.sampled_from([2, 4, 8, 16, 32, 64, 128, 256]), st.integers(0, 2**32 - 1))
def test_kiss_fft_matches_the_recursive_fixed_point_fft(n, seed):
    rng = np.random.default_rng(seed)
    re, im = _edge_signal(rng, n).astype(np.int64), _edge_signal(rng, n).astype(np.int64)
    zr, zi = mf.kiss_fft(re[None, :], im[None, :])
    assert list(zip(zr[0].tolist(), zi[0].tolist(), strict=True)) == _kiss_oracle(
        list(zip(re.tolist(), im.tolist(), strict=True))
    )


@settings(max_examples=15)
@given(st.sampled_from([8, 32, 512]), st.integers(0, 2**32 - 1))
def test_rfft_matches_the_fixed_point_real_fft(fft_length, seed):
    rng = np.random.default_rng(seed)
    x = _edge_signal(rng, fft_length).astype(np.int64)
    re, im = mf.rfft(x[None, :], fft_length)
    assert list(zip(re[0].tolist(), im[0].tolist(), strict=True)) == _rfft_oracle(x.tolist())


def test_kiss_fft_is_the_dft_over_n_within_its_rounding():
    rng = np.random.default_rng(0)
    re, im = rng.integers(-8000, 8001, size=(2, 5, 256))
    zr, zi = mf.kiss_fft(re, im)
    exact = np.fft.fft(re + 1j * im, axis=1) / 256
    assert np.abs(zr - exact.real).max() <= 4 and np.abs(zi - exact.imag).max() <= 4


def _toy_params() -> mf.MicroFeatureParams:
    """A small consistent parameter set (4 channels) for the checks that need no model."""
    ramp = np.array([4096, 2048, 0, 2048], dtype=np.int64)
    return mf.MicroFeatureParams(
        window=np.full(480, 4096, dtype=np.int64),
        window_shift=12,
        fft_length=512,
        energy_start=1,
        energy_end=200,
        num_channels=4,
        filterbank_weights=np.tile(ramp, 5),
        filterbank_unweights=4096 - np.tile(ramp, 5),
        channel_frequency_starts=np.arange(5) * 4 + 1,
        channel_weight_starts=np.arange(5) * 4,
        channel_widths=np.full(5, 4),
        smoothing=409,
        one_minus_smoothing=15975,
        alternate_smoothing=983,
        alternate_one_minus_smoothing=15401,
        smoothing_bits=10,
        spectral_subtraction_bits=14,
        min_signal_remaining=819,
        clamping=False,
        pcan_gain_table=np.zeros(125, dtype=np.int64),
        pcan_snr_shift=6,
        log_output_scale=64,
        log_input_correction_bits=3,
        tail=(("MUL", 256), ("ADD", 333), ("DIV", 666), ("ADD", -128), ("MINIMUM", 127), ("MAXIMUM", -128)),
    )


def test_frames_count_and_shapes():
    params = _toy_params()
    rng = np.random.default_rng(1)
    for size, frames in ((480, 1), (799, 1), (800, 2), (16000, 49), (16159, 49), (16160, 50)):
        got = mf.micro_features(rng.integers(-3000, 3000, size).astype(np.int16), params)
        assert got.shape == (frames, 4) and got.dtype == np.int8


@pytest.mark.parametrize(
    "audio, kwargs, match",
    [
        (np.zeros(16000, dtype=np.float32), {}, "int16 array, got float32"),
        (np.zeros(16000, dtype=np.int32), {}, "int16 array, got int32"),
        ([0] * 16000, {}, "int16 array, got list"),
        (np.zeros((2, 16000), dtype=np.int16), {}, "one channel"),
        (np.zeros(479, dtype=np.int16), {}, "shorter than one 480-sample frame"),
        (np.zeros(16000, dtype=np.int16), {"frame": 512}, "frames of 480 samples, not 512"),
        (np.zeros(16000, dtype=np.int16), {"stride": 0}, "stride must be a positive"),
        (np.zeros(16000, dtype=np.int16), {"stride": 2.5}, "stride must be a positive"),
    ],
)
def test_bad_audio_is_refused(audio, kwargs, match):
    with pytest.raises(IntrefInputError, match=match) as info:
        mf.micro_features(audio, _toy_params(), **kwargs)
    assert isinstance(info.value, ValueError)


def test_bad_frames_are_refused():
    stream = mf.MicroFrontend(_toy_params())
    with pytest.raises(ValueError, match=r"int16 \[480\], got shape \[400\]"):
        stream.frame(np.zeros(400, dtype=np.int16))
    with pytest.raises(ValueError, match=r"int16 \[480\], got shape \[1, 480\]"):
        stream.frame(np.zeros((1, 480), dtype=np.int16))
    with pytest.raises(ValueError, match="int16 array, got uint16"):
        stream.frame(np.zeros(480, dtype=np.uint16))
    with pytest.raises(ValueError, match=r"\[F, 480\]"):
        stream.frames(np.zeros(480, dtype=np.int16))


@pytest.mark.parametrize("source", [b"not a model at all", b"", "/nonexistent/audio_preprocessor_int8.tflite"])
def test_unreadable_model_is_refused(source):
    with pytest.raises(TfliteFormatError) as info:
        mf.MicroFeatureParams.from_tflite(source)
    assert isinstance(info.value, ValueError)


# --- against TensorFlow Lite Micro ---


@pytest.fixture(scope="module")
def preprocessor() -> tuple[bytes, mf.MicroFeatureParams]:
    if not PREPROCESSOR.is_file():
        pytest.skip(f"shared data not found: {PREPROCESSOR} (set INTREF_DATA)")
    data = PREPROCESSOR.read_bytes()
    return data, mf.MicroFeatureParams.from_tflite(data)


@pytest.fixture(scope="module")
def runtime():
    return pytest.importorskip(
        "tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed (Linux x86-64 wheels only)"
    )


def _edit(model: bytes, change) -> bytes:
    """The model with ``change(model_object)`` applied (TFLite schema object API)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    obj = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
    change(obj)
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(obj.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _op_index(model: bytes, name: str) -> int:
    from intref.models.tflite.reader import read_tflite

    return next(op.index for op in read_tflite(model).operators if op.op == name)


def _cut(model: bytes, first: str | int, count: int = 1) -> bytes:
    """``count`` operators of the model from ``first`` (a name or an index) alone, their open inputs as the graph's
    inputs and the outputs of the last as its outputs."""
    lo = first if isinstance(first, int) else _op_index(model, first)
    hi = lo + count - 1

    def change(obj):
        sg = obj.subgraphs[0]
        ops = sg.operators[lo : hi + 1]
        made = {t for op in ops for t in op.outputs}
        data = [obj.buffers[tensor.buffer].data for tensor in sg.tensors]
        const = {t for t, d in enumerate(data) if d is not None and len(d) > 0}
        inputs = [t for op in ops for t in op.inputs if t >= 0 and t not in made and t not in const]
        sg.operators, sg.inputs, sg.outputs = ops, list(dict.fromkeys(inputs)), list(ops[-1].outputs)

    return _edit(model, change)


class _Tflm:
    def __init__(self, runtime, model: bytes, outputs: int = 1) -> None:
        self.ip, self.outputs = runtime.Interpreter.from_bytes(model), outputs

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        for i, x in enumerate(inputs):
            self.ip.set_input(x, i)
        self.ip.invoke()
        return [np.array(self.ip.get_output(i)) for i in range(self.outputs)]


def test_window_and_auto_scale_match_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    win = _Tflm(runtime, _cut(model, "CUSTOM:SignalWindow"))
    scale = _Tflm(runtime, _cut(model, "CUSTOM:SignalFftAutoScale"), outputs=2)
    rng = np.random.default_rng(2)
    frames = np.stack([_edge_signal(rng, 480) for _ in range(600)])
    windowed = mf.window(frames, params)
    scaled, shifts = mf.auto_scale(windowed)
    for f, frame in enumerate(frames):
        assert np.array_equal(win(frame[None, :])[0][0], windowed[f]), f
        # the auto scale on arbitrary int16 input, INT16_MIN included (MaxAbs16's wrap)
        raw = frame.copy()
        got, got_shift = mf.auto_scale(raw[None, :].astype(np.int64))
        want, want_shift = scale(raw)
        assert np.array_equal(want, got[0]) and int(want_shift) == int(got_shift[0]), f
        want, want_shift = scale(windowed[f].astype(np.int16))
        assert np.array_equal(want, scaled[f]) and int(want_shift) == int(shifts[f]), f


def test_rfft_and_energy_match_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    fft = _Tflm(runtime, _cut(model, "CUSTOM:SignalRfft"))
    energy = _Tflm(runtime, _cut(model, "CUSTOM:SignalEnergy", count=5))  # with the model's slice and casts
    rng = np.random.default_rng(3)
    frames = np.stack([_edge_signal(rng, 480) for _ in range(600)])
    re, im = mf.rfft(frames.astype(np.int64), params.fft_length)
    for f, frame in enumerate(frames):
        want = fft(frame)[0]
        assert np.array_equal(want[0::2], re[f]) and np.array_equal(want[1::2], im[f]), f
    spectra = np.stack([_edge_signal(rng, 2 * params.fft_bins) for _ in range(300)]).astype(np.int64)
    got = mf.energy(spectra[:, 0::2], spectra[:, 1::2], params)
    for f, spectrum in enumerate(spectra):
        assert np.array_equal(energy(spectrum.astype(np.int16))[0], got[f]), f


def test_filterbank_and_square_root_match_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    bank = _Tflm(runtime, _cut(model, "CUSTOM:SignalFilterBank"))
    sqrt = _Tflm(runtime, _cut(model, "CUSTOM:SignalFilterBankSquareRoot"))
    rng = np.random.default_rng(4)
    energies = np.stack([_wide_uint(rng, params.fft_bins) for _ in range(300)])
    sums = mf.filterbank(energies, params)
    for f, e in enumerate(energies):
        assert np.array_equal(bank(e.astype(np.uint32))[0], sums[f]), f
    values = np.stack([_wide_uint(rng, params.num_channels, bits=64) for _ in range(600)])
    values[0, :6] = [65535**2 + 65535, 65535**2 + 65536, 2**32 - 1, 2**32, (2**32 - 1) ** 2 + 2**32 - 1, U64]
    shifts = rng.integers(0, 16, len(values))
    got = mf.filterbank_sqrt(values, shifts)
    for f, v in enumerate(values):
        assert np.array_equal(sqrt(v, np.array(shifts[f], dtype=np.int32))[0], got[f]), f


def test_spectral_subtraction_matches_tflite_micro_over_frames(preprocessor, runtime):
    model, params = preprocessor
    op = _Tflm(runtime, _cut(model, "CUSTOM:SignalFilterBankSpectralSubtraction"), outputs=2)
    rng = np.random.default_rng(5)
    for stream in range(6):
        op.ip.reset()  # the kernel's state back to zero, as a new MicroFrontend
        noise = np.zeros(params.num_channels, dtype=np.int64)
        level = [2**8, 2**16, 2**22, 2**32][stream % 4]
        for f in range(50):
            x = rng.integers(0, level, params.num_channels, dtype=np.uint64)
            if stream >= 4:
                x = _wide_uint(rng, params.num_channels)
            out, noise = mf.spectral_subtraction(x, noise, params)
            want_out, want_noise = op(x.astype(np.uint32))
            assert np.array_equal(want_out, out) and np.array_equal(want_noise, noise), (stream, f)


def test_pcan_and_log_match_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    pcan = _Tflm(runtime, _cut(model, "CUSTOM:SignalPCAN"))
    log = _Tflm(runtime, _cut(model, "CUSTOM:SignalFilterBankLog"))
    rng = np.random.default_rng(6)
    for f in range(2000):
        x, noise = _wide_uint(rng, params.num_channels), _wide_uint(rng, params.num_channels)
        if f < 100:  # every small noise value, where the gain table is read directly or nearly
            noise = (np.arange(params.num_channels) + f * params.num_channels).astype(np.uint64)
        got = mf.pcan(x, noise.astype(np.int64), params)
        assert np.array_equal(pcan(x.astype(np.uint32), noise.astype(np.uint32))[0], got), f
    # every log segment at every exponent, and values that wrap when shifted by the correction bits
    mantissas = (np.arange(128) << 9) + rng.integers(0, 512, 128)
    xs = [(2**16 + m) << e >> 16 for e in range(1, 32) for m in mantissas.tolist()]
    xs = np.array(xs + [v >> 3 for v in xs] + list(range(200)) + _wide_uint(rng, 4000).tolist(), dtype=np.uint64)
    xs = xs[: xs.size // params.num_channels * params.num_channels].reshape(-1, params.num_channels)
    got = mf.filterbank_log(xs.astype(np.int64), params)
    for f, x in enumerate(xs):
        assert np.array_equal(log(x.astype(np.uint32))[0], got[f]), f


def test_int32_tail_matches_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    tail = _Tflm(runtime, _cut(model, len(mf._CHAIN) - 1, count=len(params.tail) + 2))  # CAST, the ops, CAST
    rng = np.random.default_rng(7)
    logs = np.concatenate([np.arange(-32768, 32768, 7), rng.integers(-32768, 32768, 400)])
    logs = logs[: logs.size // params.num_channels * params.num_channels].reshape(-1, params.num_channels)
    got = mf.int32_tail(logs, params.tail)
    for f, x in enumerate(logs):
        assert np.array_equal(tail(x.astype(np.int16))[0], got[f]), f


def _tflm_features(runtime, model: bytes, audio: np.ndarray, stride: int = mf.STRIDE) -> np.ndarray:
    ip = runtime.Interpreter.from_bytes(model)  # a new interpreter: the noise estimate starts at 0
    frames = []
    for start in range(0, audio.size - mf.FRAME + 1, stride):
        ip.set_input(audio[start : start + mf.FRAME].reshape(1, mf.FRAME), 0)
        ip.invoke()
        frames.append(np.array(ip.get_output(0)))
    return np.stack(frames)


def _clips() -> list[Path]:
    return sorted(MICRO.glob("*.wav")) + sorted((DATA / "speech_commands").glob("*.wav"))


@pytest.mark.parametrize("clip", [f"{p.parent.name}/{p.name}" for p in _clips()] or ["(no shared data)"])
def test_keyword_clips_match_tflite_micro(preprocessor, runtime, clip):
    import soundfile as sf

    path = next((p for p in _clips() if f"{p.parent.name}/{p.name}" == clip), None)
    if path is None:
        pytest.skip(f"no keyword clips under {DATA} (set INTREF_DATA)")
    audio, rate = sf.read(path, dtype="int16")
    assert rate == 16000 and audio.ndim == 1
    model, params = preprocessor
    want = _tflm_features(runtime, model, audio)
    got = mf.micro_features(audio, params)
    assert got.dtype == np.int8 and got.shape == want.shape == (1 + (audio.size - 480) // 320, 40)
    assert np.array_equal(got, want), f"{int((got != want).sum())} of {want.size} features differ"


def _synthetic() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    t = np.arange(16000)
    out = {
        "silence": np.zeros(16000),
        "impulse": np.where(t == 8017, 32767, 0),
        "impulses_min": np.where(t % 4000 == 17, -32768, 0),
        "square_full_scale": np.where((t // 20) % 2, 32767, -32768),
        "sine_full_scale": np.round(32767 * np.sin(2 * np.pi * 440 * t / 16000)),
        "sine_clipped": np.clip(np.round(90000 * np.sin(2 * np.pi * 1000 * t / 16000)), -32768, 32767),
        "int16_min_runs": np.where((t // 500) % 3 == 0, -32768, rng.integers(-300, 300, t.size)),
        "int16_min_all": np.full(16000, -32768),
        "dc_then_silence": np.where(t < 8000, 12000, 0),
        "chirp_rising_level": np.round(
            np.sin(2 * np.pi * (100 + 3900 * t / 16000) * t / 16000) * np.linspace(10, 30000, t.size)
        ),
    }
    for level in (1, 30, 1000, 12000, 32767):
        out[f"noise_{level}"] = rng.integers(-level, level + 1, t.size)
    out["noise_then_speech_level"] = np.where(
        t < 8000, rng.integers(-50, 51, t.size), rng.integers(-9000, 9001, t.size)
    )
    return {k: np.clip(v, -32768, 32767).astype(np.int16) for k, v in out.items()}


@pytest.mark.parametrize("signal", sorted(_synthetic()))
def test_synthetic_edge_signals_match_tflite_micro(preprocessor, runtime, signal):
    audio = _synthetic()[signal]
    model, params = preprocessor
    want = _tflm_features(runtime, model, audio)
    got = mf.micro_features(audio, params)
    assert np.array_equal(got, want), f"{int((got != want).sum())} of {want.size} features differ"


def test_other_strides_match_tflite_micro(preprocessor, runtime):
    model, params = preprocessor
    audio = _synthetic()["chirp_rising_level"][:8000]
    for stride in (1000, 160, 481):
        want = _tflm_features(runtime, model, audio, stride)
        assert np.array_equal(mf.micro_features(audio, params, stride=stride), want), stride


def test_stream_carries_the_noise_estimate(preprocessor):
    _, params = preprocessor
    audio = _synthetic()["noise_then_speech_level"]
    whole = mf.micro_features(audio, params)
    stream = mf.MicroFrontend(params)
    frames = [stream.frame(audio[i * mf.STRIDE : i * mf.STRIDE + mf.FRAME]) for i in range(whole.shape[0])]
    assert np.array_equal(np.stack(frames), whole)
    assert stream.noise_estimate.any()
    again = stream.frame(audio[: mf.FRAME])  # state carried: not the first frame's features
    stream.reset()
    assert not stream.noise_estimate.any()
    assert np.array_equal(stream.frame(audio[: mf.FRAME]), whole[0]) and not np.array_equal(again, whole[0])


def test_parameters_come_from_the_model(preprocessor):
    from intref.models.tflite.reader import read_tflite

    model, params = preprocessor
    tflm = read_tflite(model)
    window_op = next(op for op in tflm.operators if op.op == "CUSTOM:SignalWindow")
    assert np.array_equal(params.window, tflm.tensors[window_op.inputs[1]].data)
    assert params.frame_length == 480 and params.num_channels == 40 and params.fft_bins == 257
    assert mf.load_micro_params(PREPROCESSOR).tail == params.tail
    assert not params.window.flags.writeable


def _set_options(name: str, **values):
    from flatbuffers import flexbuffers

    def change(obj):
        for op in obj.subgraphs[0].operators:
            if obj.operatorCodes[op.opcodeIndex].customCode == name.encode():
                options = flexbuffers.Loads(bytes(op.customOptions))
                options.update(values)
                op.customOptions = list(flexbuffers.Dumps(options))

    return change


def _drop_op(name: str):
    def change(obj):
        sg = obj.subgraphs[0]
        sg.operators = [op for op in sg.operators if obj.operatorCodes[op.opcodeIndex].customCode != name.encode()]

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (_set_options("SignalRfft", fft_length=500), "only powers of two"),
        (_set_options("SignalRfft", T=2), "expected INT16"),
        (_set_options("SignalEnergy", start_index=9), "reads bins the energy op leaves unwritten"),
        (_set_options("SignalFilterBankSpectralSubtraction", num_channels=20), "over 20 of 40 channels"),
        (_set_options("SignalFilterBankLog", input_correction_bits=40), "input_correction_bits 40"),
        (_drop_op("SignalPCAN"), "expected the operators"),
    ],
)
def test_altered_preprocessor_is_refused(preprocessor, change, match):
    model, _ = preprocessor
    with pytest.raises(TfliteFormatError, match=match):
        mf.MicroFeatureParams.from_tflite(_edit(model, change))


@pytest.mark.parametrize("name", ["micro_speech_quantized.tflite", "audio_preprocessor_float.tflite"])
def test_other_models_are_refused(name):
    path = MICRO / name
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set INTREF_DATA)")
    with pytest.raises(TfliteFormatError, match="not a micro_speech audio preprocessor") as info:
        mf.MicroFeatureParams.from_tflite(path)
    assert isinstance(info.value, ValueError)
