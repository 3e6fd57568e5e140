"""Float32 forward pass of the hama v1.6.0 acoustic model: separable-conv + squeeze-excite backbone and two
pre-norm transformer layers, d = 256, log-mel [80, t] -> logits.

The squeeze-excite mean runs over the whole utterance, so every frame depends on the whole clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .container import HamaFile
from .layers import N_MELS, conv1d_stem, depthwise_conv1d, gelu, layer_norm, mhsa, network_input, sigmoid, silu
from .vocab import NUM_TOKENS

D_MODEL = 256
D_SE = 32
D_FF = 512
HEADS = 4
DW_KERNEL = 9
DILATIONS = (1, 1, 2, 2, 4, 1, 1, 2, 2, 4, 1)
PREFIX = "acoustic_model.model."


@dataclass(frozen=True)
class SepConvBlock:
    dilation: int
    dw_w: np.ndarray  # [256, 1, 9]
    dw_b: np.ndarray
    pw_w: np.ndarray  # [256, 256]
    pw_b: np.ndarray
    se1_w: np.ndarray  # [32, 256]
    se1_b: np.ndarray
    se2_w: np.ndarray  # [256, 32]
    se2_b: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [C, T] -> [C, T]."""
        y = depthwise_conv1d(x, self.dw_w, self.dw_b, self.dilation)
        y = silu(self.pw_w @ y + self.pw_b[:, None])
        s = silu(self.se1_w @ y.mean(axis=1) + self.se1_b)
        s = sigmoid(self.se2_w @ s + self.se2_b)
        return y * s[:, None] + x


@dataclass(frozen=True)
class AttentionLayer:
    norm1_w: np.ndarray
    norm1_b: np.ndarray
    w_qkv: np.ndarray
    b_qkv: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    norm2_w: np.ndarray
    norm2_b: np.ndarray
    ff0_w: np.ndarray
    ff0_b: np.ndarray
    ff3_w: np.ndarray
    ff3_b: np.ndarray

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """h [T, C] -> [T, C]."""
        a = layer_norm(h, self.norm1_w, self.norm1_b)
        h = h + mhsa(a, self.w_qkv, self.b_qkv, self.w_out, self.b_out, HEADS)
        a = layer_norm(h, self.norm2_w, self.norm2_b)
        return h + gelu(a @ self.ff0_w + self.ff0_b) @ self.ff3_w + self.ff3_b


@dataclass(frozen=True)
class SepConvCTC:
    """The v1.6.0 network; `logits(logmel [80, t])` -> [T, 191] with T = (t - 1) // 2 + 1."""

    stem_w: np.ndarray
    stem_b: np.ndarray
    blocks: tuple[SepConvBlock, ...]
    layers: tuple[AttentionLayer, ...]
    proj_w: np.ndarray  # [191, 256]
    proj_b: np.ndarray

    @classmethod
    def from_hama(cls, f: HamaFile) -> SepConvCTC:
        def get(name: str, *shape: int) -> np.ndarray:
            return f.float32(name, shape)

        blocks = []
        for i, d in enumerate(DILATIONS):
            p = f"{PREFIX}backbone.{i}."
            blocks.append(
                SepConvBlock(
                    dilation=d,
                    dw_w=get(f"{p}depthwise.weight", D_MODEL, 1, DW_KERNEL),
                    dw_b=get(f"{p}depthwise.bias", D_MODEL),
                    pw_w=get(f"onnx::Conv_{666 + 3 * i}", D_MODEL, D_MODEL, 1)[:, :, 0],
                    pw_b=get(f"onnx::Conv_{667 + 3 * i}", D_MODEL),
                    se1_w=get(f"{p}se.fc1.weight", D_SE, D_MODEL, 1)[:, :, 0],
                    se1_b=get(f"{p}se.fc1.bias", D_SE),
                    se2_w=get(f"{p}se.fc2.weight", D_MODEL, D_SE, 1)[:, :, 0],
                    se2_b=get(f"{p}se.fc2.bias", D_MODEL),
                )
            )
        layers = []
        for n, mm in enumerate((712, 719)):
            p = f"{PREFIX}attn_layers.{n}."
            layers.append(
                AttentionLayer(
                    norm1_w=get(f"{p}norm1.weight", D_MODEL),
                    norm1_b=get(f"{p}norm1.bias", D_MODEL),
                    w_qkv=get(f"onnx::MatMul_{mm}", D_MODEL, 3 * D_MODEL),
                    b_qkv=get(f"{p}attn.in_proj_bias", 3 * D_MODEL),
                    w_out=get(f"onnx::MatMul_{mm + 4}", D_MODEL, D_MODEL),
                    b_out=get(f"{p}attn.out_proj.bias", D_MODEL),
                    norm2_w=get(f"{p}norm2.weight", D_MODEL),
                    norm2_b=get(f"{p}norm2.bias", D_MODEL),
                    ff0_w=get(f"onnx::MatMul_{mm + 5}", D_MODEL, D_FF),
                    ff0_b=get(f"{p}ff.0.bias", D_FF),
                    ff3_w=get(f"onnx::MatMul_{mm + 6}", D_FF, D_MODEL),
                    ff3_b=get(f"{p}ff.3.bias", D_MODEL),
                )
            )
        return cls(
            stem_w=get("onnx::Conv_663", D_MODEL, N_MELS, 3),
            stem_b=get("onnx::Conv_664", D_MODEL),
            blocks=tuple(blocks),
            layers=tuple(layers),
            proj_w=get(f"{PREFIX}proj.weight", NUM_TOKENS, D_MODEL, 1)[:, :, 0],
            proj_b=get(f"{PREFIX}proj.bias", NUM_TOKENS),
        )

    def logits(self, logmel: np.ndarray) -> np.ndarray:
        x = network_input(logmel)
        if x.shape[1] == 0:
            return np.zeros((0, NUM_TOKENS), dtype=np.float32)
        c = np.ascontiguousarray(gelu(conv1d_stem(x, self.stem_w, self.stem_b)).T)  # [C, T]
        for block in self.blocks:
            c = block(c)
        h = np.ascontiguousarray(c.T)
        for layer in self.layers:
            h = layer(h)
        return h @ self.proj_w.T + self.proj_b


def is_sepconv(f: HamaFile) -> bool:
    return f"{PREFIX}backbone.0.depthwise.weight" in f


__all__ = ["SepConvCTC", "is_sepconv"]
