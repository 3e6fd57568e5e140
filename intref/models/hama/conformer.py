"""Float32 forward pass of the hama v1.7.0 acoustic model: a 4-block Conformer-CTC, d = 144, log-mel [80, t] -> logits.

Weights are float16 in the file and used as float32. Linear weights (`onnx::MatMul_*`) are stored [in, out].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .container import HamaFile
from .layers import N_MELS, conv1d_stem, depthwise_conv1d, gelu, layer_norm, mhsa, network_input, sigmoid, silu
from .vocab import NUM_TOKENS

D_MODEL = 144
D_FF = 576
HEADS = 4
BLOCKS = 4
CONV_KERNEL = 31
PREFIX = "acoustic_model.model."


@dataclass(frozen=True)
class FeedForward:
    norm_w: np.ndarray
    norm_b: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __call__(self, h: np.ndarray) -> np.ndarray:
        a = layer_norm(h, self.norm_w, self.norm_b)
        return silu(a @ self.w1 + self.b1) @ self.w2 + self.b2


@dataclass(frozen=True)
class ConformerBlock:
    ffn1: FeedForward
    attn_norm_w: np.ndarray
    attn_norm_b: np.ndarray
    w_qkv: np.ndarray
    b_qkv: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    conv_norm_w: np.ndarray
    conv_norm_b: np.ndarray
    pw1_w: np.ndarray  # [288, 144]
    pw1_b: np.ndarray
    dw_w: np.ndarray  # [144, 1, 31], BatchNorm folded in
    dw_b: np.ndarray
    pw2_w: np.ndarray  # [144, 144]
    pw2_b: np.ndarray
    ffn2: FeedForward
    norm_w: np.ndarray
    norm_b: np.ndarray

    def __call__(self, h: np.ndarray) -> np.ndarray:
        half = np.float32(0.5)
        h = h + half * self.ffn1(h)
        a = layer_norm(h, self.attn_norm_w, self.attn_norm_b)
        h = h + mhsa(a, self.w_qkv, self.b_qkv, self.w_out, self.b_out, HEADS)
        h = h + self._conv_module(h)
        h = h + half * self.ffn2(h)
        return layer_norm(h, self.norm_w, self.norm_b)

    def _conv_module(self, h: np.ndarray) -> np.ndarray:
        # Time-major pointwise convs are matmuls; only the depthwise conv needs [C, T].
        c = layer_norm(h, self.conv_norm_w, self.conv_norm_b) @ self.pw1_w.T + self.pw1_b
        c = c[:, :D_MODEL] * sigmoid(c[:, D_MODEL:])  # GLU over channels
        c = silu(depthwise_conv1d(np.ascontiguousarray(c.T), self.dw_w, self.dw_b).T)
        return c @ self.pw2_w.T + self.pw2_b


@dataclass(frozen=True)
class ConformerCTC:
    """The v1.7.0 network; `logits(logmel [80, t])` -> [T, 191] with T = (t - 1) // 2 + 1."""

    stem_w: np.ndarray
    stem_b: np.ndarray
    blocks: tuple[ConformerBlock, ...]
    proj_w: np.ndarray  # [191, 144]
    proj_b: np.ndarray

    @classmethod
    def from_hama(cls, f: HamaFile) -> ConformerCTC:
        def get(name: str, *shape: int) -> np.ndarray:
            return f.float32(name, shape)

        blocks = []
        for i in range(BLOCKS):
            p = f"{PREFIX}blocks.{i}."
            mm = 829 + 9 * i
            conv = 804 + 3 * i

            def ffn(tag: str, w1: int, w2: int, p: str = p) -> FeedForward:
                return FeedForward(
                    get(f"{p}{tag}.norm.weight", D_MODEL),
                    get(f"{p}{tag}.norm.bias", D_MODEL),
                    get(f"onnx::MatMul_{w1}", D_MODEL, D_FF),
                    get(f"{p}{tag}.fc1.bias", D_FF),
                    get(f"onnx::MatMul_{w2}", D_FF, D_MODEL),
                    get(f"{p}{tag}.fc2.bias", D_MODEL),
                )

            blocks.append(
                ConformerBlock(
                    ffn1=ffn("ffn1", mm, mm + 1),
                    attn_norm_w=get(f"{p}attn_norm.weight", D_MODEL),
                    attn_norm_b=get(f"{p}attn_norm.bias", D_MODEL),
                    w_qkv=get(f"onnx::MatMul_{mm + 2}", D_MODEL, 3 * D_MODEL),
                    b_qkv=get(f"{p}attn.in_proj_bias", 3 * D_MODEL),
                    w_out=get(f"onnx::MatMul_{mm + 6}", D_MODEL, D_MODEL),
                    b_out=get(f"{p}attn.out_proj.bias", D_MODEL),
                    conv_norm_w=get(f"{p}conv.norm.weight", D_MODEL),
                    conv_norm_b=get(f"{p}conv.norm.bias", D_MODEL),
                    pw1_w=get(f"{p}conv.pointwise1.weight", 2 * D_MODEL, D_MODEL, 1)[:, :, 0],
                    pw1_b=get(f"{p}conv.pointwise1.bias", 2 * D_MODEL),
                    dw_w=get(f"onnx::Conv_{conv}", D_MODEL, 1, CONV_KERNEL),
                    dw_b=get(f"onnx::Conv_{conv + 1}", D_MODEL),
                    pw2_w=get(f"{p}conv.pointwise2.weight", D_MODEL, D_MODEL, 1)[:, :, 0],
                    pw2_b=get(f"{p}conv.pointwise2.bias", D_MODEL),
                    ffn2=ffn("ffn2", mm + 7, mm + 8),
                    norm_w=get(f"{p}norm.weight", D_MODEL),
                    norm_b=get(f"{p}norm.bias", D_MODEL),
                )
            )
        return cls(
            stem_w=get("onnx::Conv_801", D_MODEL, N_MELS, 3),
            stem_b=get("onnx::Conv_802", D_MODEL),
            blocks=tuple(blocks),
            proj_w=get(f"{PREFIX}proj.weight", NUM_TOKENS, D_MODEL, 1)[:, :, 0],
            proj_b=get(f"{PREFIX}proj.bias", NUM_TOKENS),
        )

    def logits(self, logmel: np.ndarray) -> np.ndarray:
        x = network_input(logmel)
        if x.shape[1] == 0:
            return np.zeros((0, NUM_TOKENS), dtype=np.float32)
        h = gelu(conv1d_stem(x, self.stem_w, self.stem_b))  # no positional encoding, no input scaling
        for block in self.blocks:
            h = block(h)
        return h @ self.proj_w.T + self.proj_b


def is_conformer(f: HamaFile) -> bool:
    return f"{PREFIX}blocks.0.ffn1.norm.weight" in f


__all__ = ["ConformerCTC", "is_conformer"]
