"""The hama P2G decoder as one float graph per decode step (:class:`FGraph`), lowered to an integer model, and the
decode sessions that run either.

A step graph takes the new tokens ``ids`` and their ``positions`` (int32 ``[n]``) and every layer's key/value
cache ``past.k{l}``, ``past.v{l}`` (``[t0, 224]``, held like the keys and values that made them) and returns the
next token ``token`` (argmax of the last row's logits), the ``logits`` themselves, the grown caches
``L{l}.k.all``/``L{l}.v.all`` and the last layer's attention probabilities ``L3.attn.h{j}.softmax`` (for the
alignment). The prefix is one run with ``n = P`` and empty caches; each generated token is one run with ``n = 1``.
No mask is needed: prefix rows see each other (the prefix is bidirectional) and a fed row sees the whole cache
and itself, which is exactly the PrefixLM mask of p2g.md section 4 in cached form.

Integer choices (docs/QUANTIZATION.md, P2G): the residual stream is int16 (it reaches about 430 on a few
outlier channels, while a step of 0.02 is ample); LayerNorm outputs, q, k, v and the GELU outputs are int8; the
feed-forward pre-activations are int16 and GELU is computed as ``x * gate(x)`` (like the acoustic models'
activations); attention probabilities are 15-bit; the logits are int16 and their argmax is the next token. The
embedding is the output projection's own int8/int4 weights (tied, as in the float model), each row rescaled to
the residual scale by the ``embed`` op.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...graph import Model
from ...quantize.fgraph import FGraph, FInput
from .p2g_text import EOS, MAX_INPUT_LEN, MAX_POSITIONS, PAD

IDS, POSITIONS = "ids", "positions"
TOKEN, LOGITS = "token", "logits"
MODEL_ID = "hama-p2g"
ARCHITECTURE = "hama-p2g-prefixlm"


def past_name(kind: str, layer: int) -> str:
    return f"past.{kind}{layer}"


def cache_name(kind: str, layer: int) -> str:
    return f"L{layer}.{kind}.all"


def attention_names(layers: int, heads: int) -> list[str]:
    return [f"L{layers - 1}.attn.h{j}.softmax" for j in range(heads)]


def p2g_graph(weights, *, wide: bool = True) -> FGraph:
    """The decode step of the P2G model (see the module docstring) from its float weights (``P2GWeights``)."""
    d = weights.embedding.shape[1]
    heads = weights.heads
    dh = d // heads
    n_layers = len(weights.layers)
    extra = [FInput(POSITIONS, "int32", ("n",))]
    for layer in range(n_layers):
        for kind in ("k", "v"):
            extra.append(FInput(past_name(kind, layer), "float32", ("t0", d), like=f"L{layer}.{kind}"))
    fg = FGraph(IDS, ("n",), input_dtype="int32", extra_inputs=extra)
    preact = "s16" if wide else "a8"
    x = fg.add(
        "embed", "embed", [IDS, POSITIONS], "s16",
        params={"table": weights.embedding, "positions": weights.positions}, tied_to=LOGITS,
    )  # fmt: skip
    alpha = float(np.float32(dh**-0.5))
    for layer, lw in enumerate(weights.layers):
        p = f"L{layer}."
        a = fg.add(f"{p}norm1", "layernorm", [x], "a8", params={"gamma": lw.norm1_w, "beta": lw.norm1_b})
        qkv = {}
        for j, kind in enumerate(("q", "k", "v")):
            rows = slice(j * d, (j + 1) * d)
            qkv[kind] = fg.add(f"{p}{kind}", "linear", [a], "s8", params={"w": lw.w_qkv[rows], "b": lw.b_qkv[rows]})
        k_all = fg.add(cache_name("k", layer), "concat_rows", [past_name("k", layer), qkv["k"]], "same", shape=("t", d))
        v_all = fg.add(cache_name("v", layer), "concat_rows", [past_name("v", layer), qkv["v"]], "same", shape=("t", d))
        ctx = []
        for j in range(heads):
            h = f"{p}attn.h{j}."
            cols = {"start": j * dh, "stop": (j + 1) * dh}
            qj = fg.add(f"{h}q", "slice", [qkv["q"]], "same", **cols)
            kj = fg.add(f"{h}k", "slice", [k_all], "same", **cols)
            vj = fg.add(f"{h}v", "slice", [v_all], "same", **cols)
            vt = fg.add(f"{h}vT", "transpose", [vj], "same")
            s = fg.add(f"{h}scores", "matmul", [qj, kj], "acc")
            pr = fg.add(f"{h}softmax", "softmax", [s], "p8", alpha=alpha)
            ctx.append(fg.add(f"{h}ctx", "matmul", [pr, vt], "a8", range_of=f"{p}attn.ctx"))
        c = fg.add(f"{p}attn.ctx", "concat", ctx, "a8")
        o = fg.add(f"{p}attn.out", "linear", [c], "a8", params={"w": lw.w_out, "b": lw.b_out})
        x = fg.add(f"{p}attn.add", "add", [x, o], "s16")
        f = fg.add(f"{p}norm2", "layernorm", [x], "a8", params={"gamma": lw.norm2_w, "beta": lw.norm2_b})
        u = fg.add(f"{p}fc1", "linear", [f], preact, params={"w": lw.w_fc1, "b": lw.b_fc1})
        g = fg.add(f"{p}gelu", "lut", [u], "a8" if wide else "lut", fn="gelu_erf")
        o = fg.add(f"{p}fc2", "linear", [g], "a8", params={"w": lw.w_fc2, "b": lw.b_fc2})
        x = fg.add(f"{p}ffn.add", "add", [x, o], "s16")
    last = fg.add("last", "tail_rows", [x], "same", count=1)
    h = fg.add("norm", "layernorm", [last], "a8", params={"gamma": weights.norm_w, "beta": weights.norm_b})
    zeros = np.zeros(weights.embedding.shape[0], dtype=np.float32)  # the tied projection has no bias
    fg.add(LOGITS, "linear", [h], "s16", params={"w": weights.embedding, "b": zeros})
    fg.add(TOKEN, "argmax", [LOGITS], "index")
    caches = [cache_name(kind, layer) for layer in range(n_layers) for kind in ("k", "v")]
    fg.outputs = [TOKEN, LOGITS, *caches, *attention_names(n_layers, heads)]
    return fg


def decoder_info() -> dict:
    return {
        "kind": "prefixlm_greedy",
        "output": TOKEN,
        "eos": EOS,
        "pad": PAD,
        "max_positions": MAX_POSITIONS,
        "prefix": f"[<bos>, <src>, source tokens (at most {MAX_INPUT_LEN}), <tgt>] (p2g.md section 3)",
        "cache": "outputs L{l}.k.all / L{l}.v.all are the next step's inputs past.k{l} / past.v{l}",
    }


def p2g_float_graph(weights, vocab_tokens: Sequence[str] | None = None, *, wide: bool = True) -> FGraph:
    """:func:`p2g_graph` with the integer model's metadata (name, vocabulary, decoding, source)."""
    if vocab_tokens is None:
        from .p2g_text import load_p2g_vocab

        vocab_tokens = load_p2g_vocab().tokens
    fg = p2g_graph(weights, wide=wide)
    fg.info = {
        "name": MODEL_ID,
        "architecture": ARCHITECTURE,
        "vocabulary": list(vocab_tokens),
        "decoder": decoder_info(),
        "source": f"{MODEL_ID} phoneme-to-text model ({weights.source})",
        "source_sha256": weights.sha256,
    }
    return fg


def calibration_steps(fg: FGraph, prefixes: Sequence[Sequence[int]], max_new: int = 193) -> list[dict]:
    """The inputs of every decode step of the float graph's greedy decoding of each prefix (calibration data)."""
    from .p2g import greedy

    steps: list[dict] = []
    for prefix in prefixes:
        session = FloatGraphP2G(fg, record=True)
        greedy(session, prefix, max_new)
        steps += session.steps or []
    return steps


def _step_inputs(ids: Sequence[int], start: int, caches: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int32)
    return {IDS: ids, POSITIONS: np.arange(start, start + ids.shape[0], dtype=np.int32), **caches}


@dataclass
class _GraphSession:
    """Decode state shared by the float-graph and integer sessions: the caches and the next position."""

    layers: int
    heads: int
    width: int
    cache_dtype: type
    caches: dict[str, np.ndarray] = field(default_factory=dict)
    position: int = 0
    last: dict[str, np.ndarray] = field(default_factory=dict)
    steps: list[dict[str, np.ndarray]] | None = None  # every step's inputs, when recorded (calibration)

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _step(self, ids: Sequence[int]) -> int:
        inputs = _step_inputs(ids, self.position, self.caches)
        if self.steps is not None:
            self.steps.append(inputs)
        out = self._run(inputs)
        self.position += len(ids)
        self.caches = {
            past_name(kind, layer): out[cache_name(kind, layer)] for layer in range(self.layers) for kind in "kv"
        }
        self.last = out
        return int(np.asarray(out[TOKEN]).reshape(-1)[-1])

    def start(self, prefix: Sequence[int]) -> int:
        self.position = 0
        empty = np.zeros((0, self.width), dtype=self.cache_dtype)
        self.caches = {past_name(kind, layer): empty for layer in range(self.layers) for kind in "kv"}
        return self._step(list(prefix))

    def feed(self, token: int) -> int:
        return self._step([token])

    def attention(self) -> np.ndarray:
        """The last row's attention in the last layer, summed over heads (in the session's own number type)."""
        rows = [self.last[name][-1] for name in attention_names(self.layers, self.heads)]
        total = rows[0].astype(np.int64 if rows[0].dtype.kind == "i" else np.float32)
        for r in rows[1:]:
            total = total + r
        return total

    @property
    def logits(self) -> np.ndarray:
        return np.asarray(self.last[LOGITS]).reshape(-1)


class FloatGraphP2G(_GraphSession):
    """The step graph run in float32 (calibration, and the float side of per-tensor error analysis)."""

    def __init__(self, fg: FGraph, record: bool = False) -> None:
        caches = [i for i in fg.extra_inputs if i.name.startswith("past.k")]
        layers = len(caches)
        heads = sum(1 for t in fg.outputs if t.startswith(f"L{layers - 1}.attn.h"))
        super().__init__(layers, heads, caches[0].shape[1], np.float32, steps=[] if record else None)
        self.fg = fg

    def _run(self, inputs):
        return self.fg.run(inputs)


class IntegerP2G(_GraphSession):
    """An integer P2G model file as a decode session: every step is one run of the model on ``backend``."""

    def __init__(self, model: Model, backend=None) -> None:
        caches = [t for t in model.inputs if t.name.startswith("past.k")]
        if not caches or IDS not in {t.name for t in model.inputs}:
            raise ValueError(f"{model.name}: not a P2G step model (no ids input or key cache inputs)")
        layers = len(caches)
        heads = sum(1 for t in model.outputs if t.name.startswith(f"L{layers - 1}.attn.h"))
        super().__init__(layers, heads, int(caches[0].shape[1]), caches[0].np_dtype)
        self.model = model
        self.backend = backend

    def _run(self, inputs):
        return self.model.run(inputs, backend=self.backend)


__all__ = [
    "ARCHITECTURE",
    "IDS",
    "LOGITS",
    "MODEL_ID",
    "POSITIONS",
    "TOKEN",
    "FloatGraphP2G",
    "IntegerP2G",
    "attention_names",
    "cache_name",
    "calibration_steps",
    "decoder_info",
    "p2g_float_graph",
    "p2g_graph",
    "past_name",
]
