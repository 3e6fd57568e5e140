"""Integer versions of the hama acoustic models: their float networks as :class:`FGraph` s (one node per integer
node), the default bit configurations, and a runner that transcribes audio with an integer model file.

The integer region starts at the ``quantize`` node ``logmel.q``: the graph input ``logmel`` is the float32 log-mel
of :class:`intref.frontend.LogMelFrontEnd` (after its float16 round trip), transposed to time-major ``[t, 80]``.
Everything after that node is integer arithmetic, up to the per-frame token ids ``frames`` (argmax of the int16
logits with hama's blank offset as an integer) and the int16 ``logits`` themselves.

Naming: 1.7.0 (Conformer): ``stem``, ``stem.act``, then per block ``b{i}.ffn1.{norm,fc1,act,fc2,add}``,
``b{i}.attn.{norm,q,k,v,h{j}.*,ctx,out,add}``, ``b{i}.conv.{norm,pw1a,pw1b,gate,glu,dw,act,pw2,add}``,
``b{i}.ffn2.*``, ``b{i}.norm``; then ``logits`` (the output projection) and ``frames``.
1.6.0 (separable conv): ``stem``, ``stem.act``, then per block
``c{i}.{in,dw,pw,act,se.mean,se.fc1,se.act,se.fc2,se.gate,se.mul,add}``, per transformer layer
``t{L}.{norm1,attn.*,norm2,ff0,ff.act,ff3,ff.add}``, then ``logits.in``, ``logits``, ``frames``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...frontend.chunking import chunked
from ...frontend.logmel import MAX_FRAMES, N_MELS, LogMelFrontEnd
from ...graph import Model
from ...quantize.config import BitConfig
from ...quantize.fgraph import FGraph
from .conformer import ConformerCTC
from .decode import CTCResult, collapse, split_words
from .sepconv import SepConvCTC
from .vocab import BLANK_ID, NUM_TOKENS, WORD_BOUNDARY_ID

INPUT = "logmel"
MODEL_IDS = ("hama-1.7", "hama-1.6")

# Default mixed precision. hama 1.7.0, in the spirit of 4-bit Conformer quantisation: the large feed-forward and
# conv-module pointwise matrices get 4 bits; attention projections, stem, output projection and depthwise kernels
# keep 8. hama 1.6.0, by measurement (docs/QUANTIZATION.md): its pointwise convolutions carry folded batch norms
# whose outputs cancel, and are the layers most hurt by 4 bits, so they keep 8 with the stem, the output projection
# and the depthwise kernels; attention projections, feed-forward and squeeze-excite take 4 bits.
MIXED: dict[str, BitConfig] = {
    "hama-1.7": BitConfig(8, (("b*.ffn*.fc*", 4), ("b*.conv.pw*", 4))),
    "hama-1.6": BitConfig(4, (("stem", 8), ("logits", 8), ("c*.dw", 8), ("c*.pw", 8))),
}


def frontend_info() -> dict:
    return {
        "kind": "hama-logmel",
        "sample_rate": 16000,
        "window": 400,
        "hop": 160,
        "n_mels": N_MELS,
        "max_frames": MAX_FRAMES,
        "float16_round_trip": True,
        "layout": "time-major [t, 80] float32 (the transpose of LogMelFrontEnd's [80, t])",
        "constants": "stft_real_kernel, stft_imag_kernel and mel_fb of the source .hama file",
    }


def decoder_info(blank_offset: float) -> dict:
    return {
        "kind": "ctc_greedy",
        "output": "frames",
        "blank": BLANK_ID,
        "word_boundary": WORD_BOUNDARY_ID,
        "blank_offset": blank_offset,
        "blank_offset_in": "argmax offset of node 'frames' (logit units)",
    }


class _Builder:
    """Adds the nodes shared by both networks to an FGraph."""

    def __init__(self, fg: FGraph, residual_bits: int, wide: bool) -> None:
        self.fg = fg
        self.stream = "s16" if residual_bits == 16 else "a8"
        # wide: pre-activations in int16 and activations as x * gate(x) (see intref.quantize.lower)
        self.preact = "s16" if wide else "a8"
        self.wide = wide

    def act_out(self, wanted: str) -> str:
        """Output kind of an activation: ``wanted`` (a8 or s16) when its input is int16, else a table's."""
        return wanted if self.wide else "lut"

    def linear(self, name: str, x: str, w: np.ndarray, b: np.ndarray, out: str = "a8", alpha: float = 1.0) -> str:
        """``w`` as [N, K] (output channels first)."""
        attrs = {"alpha": alpha} if alpha != 1.0 else {}
        return self.fg.add(name, "linear", [x], out, params={"w": w, "b": b}, **attrs)

    def norm(self, name: str, x: str, gamma: np.ndarray, beta: np.ndarray, out: str = "a8") -> str:
        return self.fg.add(name, "layernorm", [x], out, params={"gamma": gamma, "beta": beta})

    def act(self, name: str, x: str, fn: str, out: str = "lut") -> str:
        return self.fg.add(name, "lut", [x], out, fn=fn)

    def add(self, name: str, a: str, b: str) -> str:
        return self.fg.add(name, "add", [a, b], self.stream)

    def stem(self, w: np.ndarray, b: np.ndarray) -> str:
        self.fg.add("logmel.q", "quantize", [INPUT], "a8")
        self.fg.add(
            "stem", "conv1d", ["logmel.q"], self.preact,
            params={"w": w, "b": b}, stride=2, padding=(1, 1), groups=1, shape=("T", w.shape[0]),
        )  # fmt: skip
        return self.act("stem.act", "stem", "gelu", self.act_out("s16"))

    def attention(self, p: str, a: str, w_qkv: np.ndarray, b_qkv: np.ndarray, w_out, b_out, heads: int) -> str:
        """Multi-head self-attention of ``a`` [T, C] (no mask): q, k, v int8 without zero point, raw int32 scores,
        integer softmax with 1/sqrt(d) folded in, heads by slice and concat. ``w_qkv`` is [C, 3C] (x @ W)."""
        c = w_qkv.shape[0]
        dh = c // heads
        q = self.linear(f"{p}q", a, w_qkv[:, :c].T, b_qkv[:c], out="s8")
        k = self.linear(f"{p}k", a, w_qkv[:, c : 2 * c].T, b_qkv[c : 2 * c], out="s8")
        v = self.linear(f"{p}v", a, w_qkv[:, 2 * c :].T, b_qkv[2 * c :], out="s8")
        heads_out = []
        for j in range(heads):
            h = f"{p}h{j}."
            cols = {"start": j * dh, "stop": (j + 1) * dh}
            qj = self.fg.add(f"{h}q", "slice", [q], "same", **cols)
            kj = self.fg.add(f"{h}k", "slice", [k], "same", **cols)
            vj = self.fg.add(f"{h}v", "slice", [v], "same", **cols)
            vt = self.fg.add(f"{h}vT", "transpose", [vj], "same")
            s = self.fg.add(f"{h}scores", "matmul", [qj, kj], "acc")
            pr = self.fg.add(f"{h}softmax", "softmax", [s], "p8", alpha=float(np.float32(dh**-0.5)))
            heads_out.append(self.fg.add(f"{h}ctx", "matmul", [pr, vt], "a8", range_of=f"{p}ctx"))
        ctx = self.fg.add(f"{p}ctx", "concat", heads_out, "a8")
        return self.linear(f"{p}out", ctx, w_out.T, b_out)

    def head(self, h: str, proj_w: np.ndarray, proj_b: np.ndarray, blank_offset: float) -> None:
        self.linear("logits", h, proj_w, proj_b, out="s16")
        offset = np.zeros(proj_w.shape[0], dtype=np.float32)
        offset[BLANK_ID] = blank_offset
        self.fg.add("frames", "argmax", ["logits"], "index", params={"offset": offset})
        self.fg.outputs = ["frames", "logits"]


def conformer_graph(
    net: ConformerCTC, *, blank_offset: float, residual_bits: int = 16, wide: bool = True, heads: int = 4
) -> FGraph:
    """The hama 1.7.0 Conformer-CTC (or any network of its shape) as a float graph; dims come from the weights."""
    fg = FGraph(INPUT, ("t", net.stem_w.shape[1]))
    bld = _Builder(fg, residual_bits, wide)
    h = bld.stem(net.stem_w, net.stem_b)
    last = len(net.blocks) - 1
    for i, blk in enumerate(net.blocks):
        p = f"b{i}."

        def ffn(tag: str, ff, h: str, p: str = p) -> str:
            a = bld.norm(f"{p}{tag}.norm", h, ff.norm_w, ff.norm_b)
            u = bld.linear(f"{p}{tag}.fc1", a, ff.w1.T, ff.b1, out=bld.preact)
            v = bld.act(f"{p}{tag}.act", u, "silu", bld.act_out("a8"))
            o = bld.linear(f"{p}{tag}.fc2", v, ff.w2.T, ff.b2, alpha=0.5)  # the half step, folded into the scale
            return bld.add(f"{p}{tag}.add", h, o)

        h = ffn("ffn1", blk.ffn1, h)
        a = bld.norm(f"{p}attn.norm", h, blk.attn_norm_w, blk.attn_norm_b)
        o = bld.attention(f"{p}attn.", a, blk.w_qkv, blk.b_qkv, blk.w_out, blk.b_out, heads)
        h = bld.add(f"{p}attn.add", h, o)
        c = blk.pw1_w.shape[0] // 2
        a = bld.norm(f"{p}conv.norm", h, blk.conv_norm_w, blk.conv_norm_b)
        g1 = bld.linear(f"{p}conv.pw1a", a, blk.pw1_w[:c], blk.pw1_b[:c])
        g2 = bld.linear(f"{p}conv.pw1b", a, blk.pw1_w[c:], blk.pw1_b[c:])
        gate = bld.act(f"{p}conv.gate", g2, "sigmoid")
        glu = fg.add(f"{p}conv.glu", "mul", [g1, gate], "a8")
        k = blk.dw_w.shape[-1]
        dw = fg.add(
            f"{p}conv.dw", "conv1d", [glu], bld.preact,
            params={"w": blk.dw_w, "b": blk.dw_b}, padding=(k // 2, k // 2), groups=c,
        )  # fmt: skip
        act = bld.act(f"{p}conv.act", dw, "silu", bld.act_out("a8"))
        o = bld.linear(f"{p}conv.pw2", act, blk.pw2_w, blk.pw2_b)
        h = bld.add(f"{p}conv.add", h, o)
        h = ffn("ffn2", blk.ffn2, h)
        h = bld.norm(f"{p}norm", h, blk.norm_w, blk.norm_b, out="a8" if i == last else bld.stream)
    bld.head(h, net.proj_w, net.proj_b, blank_offset)
    return fg


def sepconv_graph(
    net: SepConvCTC, *, blank_offset: float, residual_bits: int = 16, wide: bool = True, heads: int = 4
) -> FGraph:
    """The hama 1.6.0 separable-conv CTC model as a float graph."""
    fg = FGraph(INPUT, ("t", net.stem_w.shape[1]))
    bld = _Builder(fg, residual_bits, wide)
    x = bld.stem(net.stem_w, net.stem_b)
    for i, blk in enumerate(net.blocks):
        p = f"c{i}."
        k = blk.dw_w.shape[-1]
        d = blk.dilation
        xin = fg.add(f"{p}in", "rescale", [x], "a8")  # the stream (int16) as the convolution's int8 input
        y = fg.add(
            f"{p}dw", "conv1d", [xin], "a8",
            params={"w": blk.dw_w, "b": blk.dw_b}, dilation=d, padding=(d * (k // 2), d * (k // 2)),
            groups=blk.dw_w.shape[0],
        )  # fmt: skip
        y = bld.linear(f"{p}pw", y, blk.pw_w, blk.pw_b, out=bld.preact)
        y = bld.act(f"{p}act", y, "silu", bld.act_out("s16"))
        s = fg.add(f"{p}se.mean", "mean", [y], "a8")
        s = bld.linear(f"{p}se.fc1", s, blk.se1_w, blk.se1_b)
        s = bld.act(f"{p}se.act", s, "silu")
        s = bld.linear(f"{p}se.fc2", s, blk.se2_w, blk.se2_b)
        s = bld.act(f"{p}se.gate", s, "sigmoid")
        z = fg.add(f"{p}se.mul", "mul", [y, s], bld.preact)
        x = bld.add(f"{p}add", z, x)
    h = x
    for n, layer in enumerate(net.layers):
        p = f"t{n}."
        a = bld.norm(f"{p}norm1", h, layer.norm1_w, layer.norm1_b)
        o = bld.attention(f"{p}attn.", a, layer.w_qkv, layer.b_qkv, layer.w_out, layer.b_out, heads)
        h = bld.add(f"{p}attn.add", h, o)
        a = bld.norm(f"{p}norm2", h, layer.norm2_w, layer.norm2_b)
        u = bld.linear(f"{p}ff0", a, layer.ff0_w.T, layer.ff0_b, out=bld.preact)
        g = bld.act(f"{p}ff.act", u, "gelu", bld.act_out("a8"))
        o = bld.linear(f"{p}ff3", g, layer.ff3_w.T, layer.ff3_b)
        h = bld.add(f"{p}ff.add", h, o)
    h = fg.add("logits.in", "rescale", [h], "a8")
    bld.head(h, net.proj_w, net.proj_b, blank_offset)
    return fg


def float_graph(model, *, residual_bits: int = 16, wide: bool = True) -> tuple[str, FGraph]:
    """(model id, float graph) of a loaded :class:`HamaAcousticModel`, with the integer model's metadata."""
    opts = {"blank_offset": model.blank_offset, "residual_bits": residual_bits, "wide": wide}
    if model.arch == "conformer":
        model_id, arch = "hama-1.7", "hama-conformer-ctc"
        fg = conformer_graph(model.network, **opts)
    elif model.arch == "sepconv":
        model_id, arch = "hama-1.6", "hama-sepconv-ctc"
        fg = sepconv_graph(model.network, **opts)
    else:
        raise ValueError(f"no integer graph for architecture {model.arch!r}")
    fg.info = {
        "name": model_id,
        "architecture": arch,
        "vocabulary": list(model.tokens),
        "frontend": frontend_info(),
        "decoder": decoder_info(float(model.blank_offset)),
        "source": f"{model_id} acoustic model ({model.file.source})",
        "source_sha256": model.sha256,
    }
    return model_id, fg


@dataclass
class IntegerAcousticModel:
    """An integer model file with the float front end it expects: audio -> frames -> greedy CTC tokens."""

    model: Model
    frontend: LogMelFrontEnd
    tokens: tuple[str, ...]
    backend: object = None  # a backend name or object for Model.run (None: INTREF_BACKEND)

    def logmel(self, wav: np.ndarray) -> np.ndarray:
        """The graph input: float32 [t, 80]."""
        return np.ascontiguousarray(self.frontend(np.asarray(wav, dtype=np.float32)).T)

    def run_window(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        x = self.logmel(wav)
        if x.shape[0] == 0:
            return {"frames": np.zeros(0, dtype=np.int32), "logits": np.zeros((0, NUM_TOKENS), dtype=np.int16)}
        return self.model.run({INPUT: x}, backend=self.backend)

    def frames(self, wav: np.ndarray) -> np.ndarray:
        """Per-frame token ids [T] (clips over 30 s go through overlapping windows)."""
        return chunked(np.asarray(wav, dtype=np.float32), lambda w: self.run_window(w)["frames"])

    def transcribe(self, wav: np.ndarray) -> CTCResult:
        frames = self.frames(wav)
        ids = collapse(frames)
        return CTCResult(
            tuple(int(i) for i in frames), tuple(ids), tuple(tuple(w) for w in split_words(ids, self.tokens))
        )


# --- quantising a hama model (used by `intref quantize` and bench/accuracy.py) ---

ARCH_OF = {"hama-1.7": "conformer", "hama-1.6": "sepconv"}
WEIGHT_PRESETS = ("int8", "int4", "mixed")


def load_float(model_id: str, asset=None):
    """The float model for ``model_id``: ``asset`` (a .hama file) or the installed hama package's."""
    from ...errors import IntrefInputError
    from .model import load_acoustic_model

    if model_id not in ARCH_OF:
        raise IntrefInputError(f"unknown model {model_id!r} (known: {', '.join(ARCH_OF)})")
    model = load_acoustic_model(asset)
    if model.arch != ARCH_OF[model_id]:
        where = asset or "the installed hama package"
        raise IntrefInputError(
            f"{where} holds the {model.arch} model, not {model_id} ({ARCH_OF[model_id]}); "
            "pass the right file with --asset"
        )
    return model


def features_of(model):
    """waveform (16 kHz float32) -> the integer graph's input, log-mel [t, 80]."""
    return lambda wav: np.ascontiguousarray(model.logmel(np.asarray(wav, dtype=np.float32)).T)


def bit_config(model_id: str, weights: str, config: BitConfig | None = None) -> BitConfig:
    """The bit configuration of a preset (int8, int4, mixed) or of an explicit configuration."""
    from ...quantize.config import uniform

    if config is not None:
        return config
    if weights == "int8":
        return uniform(8)
    if weights == "int4":
        return uniform(4)
    if weights == "mixed":
        return MIXED[model_id]
    raise ValueError(f"unknown weight preset {weights!r} (known: {', '.join(WEIGHT_PRESETS)})")


def quantize_hama(
    model_id: str,
    *,
    weights: str = "int8",
    config: BitConfig | None = None,
    calibration=None,
    recipe=None,
    asset=None,
    progress=None,
    **options,
):
    """Quantise a hama model: ``(integer Model, Recipe, float HamaAcousticModel)``.

    Either ``calibration`` (a :class:`intref.quantize.inputs.CalibrationSet`) with the bit configuration
    (``weights`` preset or ``config``) and ``options`` for :func:`intref.quantize.ptq.make_recipe`
    (weight_method, range_method, percentile, equalize_alpha, residual_bits, wide_activations, ...), or a
    ``recipe`` to rebuild from.
    """
    from ...quantize import ptq
    from ...quantize.recipe import RecipeError

    model = load_float(model_id, asset)
    if recipe is not None:
        if recipe.model != model_id:
            raise RecipeError(f"the recipe is for {recipe.model}, not {model_id}")
        if recipe.source_sha256 != model.sha256:
            raise RecipeError(
                f"the recipe was made for weights with sha256 {recipe.source_sha256[:16]}..., "
                f"these are {model.sha256[:16]}..."
            )
        _, fg = float_graph(model, residual_bits=recipe.residual_bits, wide=recipe.wide_activations)
        return ptq.build(fg, recipe, progress), recipe, model
    if calibration is None:
        raise ValueError("quantising needs calibration inputs or a recipe")
    residual_bits = options.pop("residual_bits", 16)
    wide = options.pop("wide_activations", True)
    _, fg = float_graph(model, residual_bits=residual_bits, wide=wide)
    cfg = bit_config(model_id, weights, config)
    recipe = ptq.make_recipe(
        fg,
        calibration.inputs,
        model_id=model_id,
        source_sha256=model.sha256,
        weights_label="config" if config is not None else weights,
        bit_config=cfg,
        calibration_info=calibration.info,
        residual_bits=residual_bits,
        wide_activations=wide,
        progress=progress,
        **options,
    )
    return ptq.build(fg, recipe, progress), recipe, model


def learned_parameters(model_id: str, model) -> int:
    """Learned float parameters of the network (the float32 size is 4 bytes each)."""
    _, fg = float_graph(model)
    return fg.parameter_count()


__all__ = [
    "ARCH_OF",
    "INPUT",
    "MIXED",
    "MODEL_IDS",
    "WEIGHT_PRESETS",
    "IntegerAcousticModel",
    "bit_config",
    "conformer_graph",
    "decoder_info",
    "features_of",
    "float_graph",
    "frontend_info",
    "learned_parameters",
    "load_float",
    "quantize_hama",
    "sepconv_graph",
]
