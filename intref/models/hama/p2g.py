"""The hama P2G (phoneme-to-text) model in float32: its weights, the forward pass with a key/value cache, and the
greedy decoding and alignment shared with the integer decoder (``../shared/models/p2g.md`` sections 1, 4-6).

The network is a 4-layer pre-norm transformer (width 224, 4 heads, feed-forward 896, GELU) read as a PrefixLM:
the prefix ``<bos> <src> phonemes <tgt>`` attends to itself in both directions; each generated token attends
to the whole prefix and the tokens before it. The token embedding is also the output projection (tied, no
bias). Plain float32 NumPy gives the hama runtime's tokens on every case measured (p2g.md section 9); the
runtime's own summation order is not copied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ...errors import IntrefInputError
from .assets import find_asset
from .container import HamaFormatError, load_hama
from .layers import gelu_erf, layer_norm
from .p2g_text import EOS, MAX_POSITIONS, PAD, SPECIALS, P2GVocab

P2G_ASSET = "p2g.hama"
F32 = np.float32
WIDTH, HEADS, FFN, LAYERS = 224, 4, 896, 4


@dataclass
class P2GLayer:
    """One pre-norm block; weights as PyTorch keeps them, [out, in]."""

    norm1_w: np.ndarray
    norm1_b: np.ndarray
    w_qkv: np.ndarray  # [3 D, D]: rows q | k | v
    b_qkv: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    norm2_w: np.ndarray
    norm2_b: np.ndarray
    w_fc1: np.ndarray  # [FF, D]
    b_fc1: np.ndarray
    w_fc2: np.ndarray  # [D, FF]
    b_fc2: np.ndarray


@dataclass
class P2GWeights:
    embedding: np.ndarray  # [V, D]: token embedding and tied output projection
    positions: np.ndarray  # [416, D]
    layers: list[P2GLayer]
    norm_w: np.ndarray
    norm_b: np.ndarray
    heads: int = HEADS
    sha256: str = ""
    source: str = P2G_ASSET


_LAYER_TENSORS = {
    "norm1_w": ("norm1.weight", (WIDTH,)),
    "norm1_b": ("norm1.bias", (WIDTH,)),
    "w_qkv": ("self_attn.in_proj_weight", (3 * WIDTH, WIDTH)),
    "b_qkv": ("self_attn.in_proj_bias", (3 * WIDTH,)),
    "w_out": ("self_attn.out_proj.weight", (WIDTH, WIDTH)),
    "b_out": ("self_attn.out_proj.bias", (WIDTH,)),
    "norm2_w": ("norm2.weight", (WIDTH,)),
    "norm2_b": ("norm2.bias", (WIDTH,)),
    "w_fc1": ("linear1.weight", (FFN, WIDTH)),
    "b_fc1": ("linear1.bias", (FFN,)),
    "w_fc2": ("linear2.weight", (WIDTH, FFN)),
    "b_fc2": ("linear2.bias", (WIDTH,)),
}


def load_p2g_weights(path: str | Path | None = None) -> P2GWeights:
    """The float32 weights of ``p2g.hama`` (the installed hama package's, or ``path``), with every shape checked."""
    path = Path(path) if path is not None else find_asset(P2G_ASSET)
    f = load_hama(path)

    def get(name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if name not in f:
            raise HamaFormatError(f"{path}: tensor {name!r} is missing (not a P2G model file?)")
        return f.float32(name, shape)

    embedding = get("embedding.weight")
    if embedding.ndim != 2 or embedding.shape[1] != WIDTH or embedding.shape[0] <= 7:
        raise HamaFormatError(f"{path}: embedding.weight has shape {list(embedding.shape)}, want [V, {WIDTH}]")
    layers = [
        P2GLayer(**{k: get(f"layers.layers.{i}.{n}", shape) for k, (n, shape) in _LAYER_TENSORS.items()})
        for i in range(LAYERS)
    ]
    return P2GWeights(
        embedding=embedding,
        positions=get("pos.embedding.weight", (MAX_POSITIONS, WIDTH)),
        layers=layers,
        norm_w=get("layers.norm.weight", (WIDTH,)),
        norm_b=get("layers.norm.bias", (WIDTH,)),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        source=path.name,
    )


# --- decoding, shared by the float and the integer decoders ---


class DecodeSession(Protocol):
    def start(self, prefix: Sequence[int]) -> int: ...  # run the prefix; the argmax token of its last row
    def feed(self, token: int) -> int: ...  # append one token at the next position; the next argmax token
    def attention(self) -> np.ndarray: ...  # last fed row, last layer: attention summed over heads, per key


@dataclass(frozen=True)
class P2GResult:
    ids: tuple[int, ...]  # generated ids (specials included; the final <eos> is not)
    alignment: tuple[int, ...]  # per generated id: index into the source, or -1
    text: str
    tokens: tuple[str, ...]  # the generated tokens as strings, specials dropped


def greedy(
    session: DecodeSession,
    prefix: Sequence[int],
    max_new: int,
    *,
    eos: int = EOS,
    pad: int = PAD,
    max_positions: int = MAX_POSITIONS,
) -> tuple[list[int], list[int]]:
    """Greedy decoding with the runtime's stop rules (p2g.md section 5) and alignment (section 6): ``(ids, align)``.

    Generation stops at ``eos``/``pad`` (not emitted), after ``max_new`` tokens, or when the positions run out;
    the last emitted token is then never fed back and aligns to -1. A fed token aligns to the source phoneme its
    row attends to most in the last layer (heads summed; first maximum over keys 2 .. P-2)."""
    p = len(prefix)
    out: list[int] = []
    align: list[int] = []
    token = session.start(prefix)
    position = p
    while token not in (eos, pad):
        out.append(token)
        align.append(-1)
        if len(out) >= max_new or position >= max_positions:
            break
        token = session.feed(token)
        position += 1
        if p > 3:
            weights = np.asarray(session.attention())[2 : p - 1]
            align[-1] = int(np.argmax(weights))
    return out, align


def predict(session: DecodeSession, vocab: P2GVocab, phonemes: str | Sequence[str]) -> P2GResult:
    """Phonemes (``|`` between words) to text with any decoding session."""
    prefix = vocab.prefix(vocab.source_tokens(phonemes))
    ids, align = greedy(session, prefix, vocab.max_new(len(prefix)))
    tokens = tuple(vocab.tokens[i] for i in ids if i not in SPECIALS)
    return P2GResult(tuple(ids), tuple(align), vocab.render(ids), tokens)


# --- the float32 forward pass ---


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int) -> tuple[np.ndarray, np.ndarray]:
    """Every query row against every key (no mask: see FloatP2G); (context [n, D], probabilities [H, n, t])."""
    n, d = q.shape
    dh = d // heads
    qh = q.reshape(n, heads, dh).transpose(1, 0, 2)
    kh = k.reshape(-1, heads, dh).transpose(1, 0, 2)
    vh = v.reshape(-1, heads, dh).transpose(1, 0, 2)
    s = (qh @ kh.transpose(0, 2, 1)) * F32(dh**-0.5)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    prob = (e / e.sum(axis=-1, keepdims=True)).astype(F32)
    ctx = (prob @ vh).transpose(1, 0, 2).reshape(n, d)
    return ctx.astype(F32), prob


class FloatP2G:
    """The float32 decoder with a key/value cache: ``start`` runs the prefix (all rows see each other), ``feed``
    one token that sees the cache and itself. That is the PrefixLM mask, since prefix rows never see later ones."""

    def __init__(self, weights: P2GWeights) -> None:
        self.w = weights
        self.keys: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.position = 0
        self.last_logits = np.zeros(0, dtype=F32)
        self._attention = np.zeros(0, dtype=F32)

    def _rows(self, ids: Sequence[int]) -> int:
        w = self.w
        n = len(ids)
        if self.position + n > w.positions.shape[0]:
            raise IntrefInputError(
                f"P2G: position {self.position + n - 1} is beyond the {w.positions.shape[0]} learned"
            )
        x = (w.embedding[np.asarray(ids)] + w.positions[self.position : self.position + n]).astype(F32)
        d = x.shape[1]
        for i, layer in enumerate(w.layers):
            a = layer_norm(x, layer.norm1_w, layer.norm1_b).astype(F32)
            qkv = (a @ layer.w_qkv.T + layer.b_qkv).astype(F32)
            q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]
            if len(self.keys) <= i:
                self.keys.append(k)
                self.values.append(v)
            else:
                self.keys[i] = np.concatenate([self.keys[i], k])
                self.values[i] = np.concatenate([self.values[i], v])
            ctx, prob = _attend(q, self.keys[i], self.values[i], w.heads)
            x = (x + ctx @ layer.w_out.T + layer.b_out).astype(F32)
            f = layer_norm(x, layer.norm2_w, layer.norm2_b).astype(F32)
            h = gelu_erf((f @ layer.w_fc1.T + layer.b_fc1).astype(F32))
            x = (x + h @ layer.w_fc2.T + layer.b_fc2).astype(F32)
        self._attention = prob[:, -1, :].sum(axis=0)
        self.position += n
        h = layer_norm(x[-1:], w.norm_w, w.norm_b).astype(F32)
        self.last_logits = (h @ w.embedding.T).astype(F32).reshape(-1)
        return int(np.argmax(self.last_logits))

    def start(self, prefix: Sequence[int]) -> int:
        self.keys, self.values, self.position = [], [], 0
        return self._rows(list(prefix))

    def feed(self, token: int) -> int:
        return self._rows([token])

    def attention(self) -> np.ndarray:
        return self._attention

    def predict(self, phonemes: str | Sequence[str], vocab: P2GVocab) -> P2GResult:
        return predict(self, vocab, phonemes)


__all__ = [
    "P2G_ASSET",
    "DecodeSession",
    "FloatP2G",
    "P2GLayer",
    "P2GResult",
    "P2GWeights",
    "greedy",
    "load_p2g_weights",
    "predict",
]
