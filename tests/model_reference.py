"""A float64 NumPy reference of the generic transformer (llama, qwen2, qwen3, gemma3, phi3) and
a writer of tiny random GGUF models for it. Written from formats.md §3-4 and llama.cpp's graph
descriptions, independently of csrc/model; used by tests/test_model_*.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import xtral


@dataclass
class TinyConfig:
    arch: str = "llama"
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 16
    n_ff: int = 96
    n_vocab: int = 100
    n_rot: int | None = None            # default head_dim
    eps: float = 1e-5
    rope_base: float = 10000.0
    rope_base_swa: float = 10000.0
    sliding_window: int = 0
    swa_period: int = 6
    tied: bool = True
    seed: int = 0
    extra_kv: dict[str, Any] = field(default_factory=dict)

    @property
    def rot(self) -> int:
        return self.head_dim if self.n_rot is None else self.n_rot


FLAGS = {  # arch -> (neox, act, qkv_bias, qk_norm, post_norms, embd_scale, fused)
    "llama": (False, "silu", False, False, False, False, False),
    "qwen2": (True, "silu", True, False, False, False, False),
    "qwen3": (True, "silu", False, True, False, False, False),
    "gemma3": (True, "gelu", False, True, True, True, False),
    "phi3": (True, "silu", False, False, False, False, True),
}


def make_weights(cfg: TinyConfig) -> dict[str, np.ndarray]:
    """Random float32 weights in NumPy shape [out, in] under GGUF names."""
    rng = np.random.default_rng(cfg.seed)
    neox, act, bias, qk_norm, post, scale, fused = FLAGS[cfg.arch]
    E, hd, F = cfg.n_embd, cfg.head_dim, cfg.n_ff
    qd, kd = cfg.n_head * hd, cfg.n_head_kv * hd

    def w(*shape: int, s: float = 0.2) -> np.ndarray:
        return (s * rng.standard_normal(shape)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    t = {"token_embd.weight": w(cfg.n_vocab, E, s=1.0 if not scale else 0.1),
         "output_norm.weight": norm(E)}
    if not cfg.tied:
        t["output.weight"] = w(cfg.n_vocab, E)
    for il in range(cfg.n_layer):
        p = f"blk.{il}."
        t[p + "attn_norm.weight"] = norm(E)
        if fused:
            t[p + "attn_qkv.weight"] = w(qd + 2 * kd, E)
        else:
            t[p + "attn_q.weight"] = w(qd, E)
            t[p + "attn_k.weight"] = w(kd, E)
            t[p + "attn_v.weight"] = w(kd, E)
        if bias:
            t[p + "attn_q.bias"] = w(qd)
            t[p + "attn_k.bias"] = w(kd)
            t[p + "attn_v.bias"] = w(kd)
        if qk_norm:
            t[p + "attn_q_norm.weight"] = norm(hd)
            t[p + "attn_k_norm.weight"] = norm(hd)
        t[p + "attn_output.weight"] = w(E, qd)
        t[p + "ffn_norm.weight"] = norm(E)
        if fused:
            t[p + "ffn_up.weight"] = w(2 * F, E)
        else:
            t[p + "ffn_gate.weight"] = w(F, E)
            t[p + "ffn_up.weight"] = w(F, E)
        t[p + "ffn_down.weight"] = w(E, F)
        if post:
            t[p + "post_attention_norm.weight"] = norm(E)
            t[p + "post_ffw_norm.weight"] = norm(E)
    return t


def write_tiny(path: Path, cfg: TinyConfig) -> dict[str, np.ndarray]:
    """Writes the model as an F32 GGUF; returns its weights."""
    a = cfg.arch
    md: dict[str, Any] = {
        "general.architecture": a,
        f"{a}.context_length": xtral.GGUFValue(2048, "uint32"),
        f"{a}.embedding_length": xtral.GGUFValue(cfg.n_embd, "uint32"),
        f"{a}.block_count": xtral.GGUFValue(cfg.n_layer, "uint32"),
        f"{a}.feed_forward_length": xtral.GGUFValue(cfg.n_ff, "uint32"),
        f"{a}.attention.head_count": xtral.GGUFValue(cfg.n_head, "uint32"),
        f"{a}.attention.head_count_kv": xtral.GGUFValue(cfg.n_head_kv, "uint32"),
        f"{a}.attention.key_length": xtral.GGUFValue(cfg.head_dim, "uint32"),
        f"{a}.attention.value_length": xtral.GGUFValue(cfg.head_dim, "uint32"),
        f"{a}.rope.dimension_count": xtral.GGUFValue(cfg.rot, "uint32"),
        f"{a}.attention.layer_norm_rms_epsilon": xtral.GGUFValue(cfg.eps, "float32"),
        f"{a}.rope.freq_base": xtral.GGUFValue(cfg.rope_base, "float32"),
    }
    if cfg.sliding_window:
        md[f"{a}.attention.sliding_window"] = xtral.GGUFValue(cfg.sliding_window, "uint32")
    md.update(cfg.extra_kv)
    weights = make_weights(cfg)
    xtral.write_gguf(path, md, weights)
    return weights


# ---- the reference forward ----

def _rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope(x: np.ndarray, pos: np.ndarray, n_rot: int, base: float, neox: bool) -> np.ndarray:
    """x (T, heads, hd); rotates the first n_rot dims."""
    i = np.arange(n_rot // 2)
    th = pos[:, None] * base ** (-2.0 * i / n_rot)
    c, s = np.cos(th)[:, None, :], np.sin(th)[:, None, :]
    y = x.copy()
    if neox:
        x0, x1 = x[..., : n_rot // 2], x[..., n_rot // 2: n_rot]
        y[..., : n_rot // 2] = x0 * c - x1 * s
        y[..., n_rot // 2: n_rot] = x0 * s + x1 * c
    else:
        x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        y[..., 0:n_rot:2] = x0 * c - x1 * s
        y[..., 1:n_rot:2] = x0 * s + x1 * c
    return y


def _gelu(x: np.ndarray) -> np.ndarray:
    """tanh-approximation GELU (transformers' gelu_pytorch_tanh)."""
    return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def reference_logits(cfg: TinyConfig, W: dict[str, np.ndarray], tokens: list[int]) -> np.ndarray:
    """(T, n_vocab) float64 logits of one forward over `tokens` from position 0."""
    neox, act, _, _, post, scale, fused = FLAGS[cfg.arch]
    g = {k: v.astype(np.float64) for k, v in W.items()}
    E, H, HK, hd, F = cfg.n_embd, cfg.n_head, cfg.n_head_kv, cfg.head_dim, cfg.n_ff
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = g["token_embd.weight"][tokens]
    if scale:
        x = x * np.sqrt(E)
    for il in range(cfg.n_layer):
        p = f"blk.{il}."
        swa = cfg.sliding_window > 0 and cfg.arch == "gemma3" and il % cfg.swa_period < cfg.swa_period - 1
        base = cfg.rope_base_swa if swa else cfg.rope_base
        xn = _rms(x, g[p + "attn_norm.weight"], cfg.eps)
        if fused:
            qkv = xn @ g[p + "attn_qkv.weight"].T
            q, k, v = qkv[:, : H * hd], qkv[:, H * hd: (H + HK) * hd], qkv[:, (H + HK) * hd:]
        else:
            q, k, v = (xn @ g[p + f"attn_{n}.weight"].T for n in "qkv")
            if p + "attn_q.bias" in g:
                q, k, v = q + g[p + "attn_q.bias"], k + g[p + "attn_k.bias"], v + g[p + "attn_v.bias"]
        q, k, v = q.reshape(T, H, hd), k.reshape(T, HK, hd), v.reshape(T, HK, hd)
        if p + "attn_q_norm.weight" in g:
            q = _rms(q, g[p + "attn_q_norm.weight"], cfg.eps)
            k = _rms(k, g[p + "attn_k_norm.weight"], cfg.eps)
        q, k = _rope(q, pos, cfg.rot, base, neox), _rope(k, pos, cfg.rot, base, neox)
        mask = np.triu(np.ones((T, T), bool), 1)
        if swa:
            mask |= (pos[:, None] - pos[None, :]) >= cfg.sliding_window
        out = np.zeros((T, H, hd))
        for h in range(H):
            s = q[:, h] @ k[:, h // (H // HK)].T / np.sqrt(hd)
            s[mask] = -np.inf
            pr = np.exp(s - s.max(-1, keepdims=True))
            out[:, h] = (pr / pr.sum(-1, keepdims=True)) @ v[:, h // (H // HK)]
        o = out.reshape(T, H * hd) @ g[p + "attn_output.weight"].T
        if post:
            o = _rms(o, g[p + "post_attention_norm.weight"], cfg.eps)
        x = x + o
        xn = _rms(x, g[p + "ffn_norm.weight"], cfg.eps)
        if fused:
            gu = xn @ g[p + "ffn_up.weight"].T
            gt, up = gu[:, :F], gu[:, F:]
        else:
            gt, up = xn @ g[p + "ffn_gate.weight"].T, xn @ g[p + "ffn_up.weight"].T
        a = _gelu(gt) if act == "gelu" else gt / (1 + np.exp(-gt))
        o = (a * up) @ g[p + "ffn_down.weight"].T
        if post:
            o = _rms(o, g[p + "post_ffw_norm.weight"], cfg.eps)
        x = x + o
    out_w = g.get("output.weight", g["token_embd.weight"])
    return _rms(x, g["output_norm.weight"], cfg.eps) @ out_w.T
