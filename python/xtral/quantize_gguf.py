"""Whole-file GGUF re-quantization: :func:`quantize_gguf` writes a copy of a model file with its
weights in another type, choosing each tensor's type exactly as llama.cpp's llama-quantize does.

The per-tensor rules are a port of ``src/llama-quant.cpp`` as vendored by llama-cpp-python
0.3.36 (``tensor_allows_quantization``, ``llama_tensor_get_type_impl``,
``tensor_type_fallback``, ``llama_ftype_get_default_type``): the same tensor order (layer, then
name), the same counters (``i_attention_wv``, ``i_ffn_down``, ...), the same ``use_more_bits``
layer pattern, the output / token-embedding rules and the fallback chain for rows that are not a
whole number of blocks. Every number is computed in C: sources are decoded with
``_core.dequantize_rows`` and encoded with ``_core.quantize_rows``.

Differences from llama-quantize, on purpose: requantizing an already quantized tensor is always
allowed (llama-quantize needs ``--allow-requantize``), and quantized rows are not re-validated
(llama.cpp's ``ggml_validate_row_data`` rejects NaN/Inf scales; a NaN input here gives NaN
scales, as the ggml kernels do, and the file is still written).
"""
from __future__ import annotations

import os
import re
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

import numpy as np

from . import _core
from .gguf import GGUFFile, GGUFValue, dtype_info, write_gguf

__all__ = ["FILE_TYPES", "QuantizeReport", "TensorReport", "quantize_gguf"]

PathLike = Union[str, "os.PathLike[str]"]

# ---- file types ----

# name -> (llama_ftype number written to general.file_type, default ggml tensor type).
# Mirrors llama.h's llama_ftype and llama_ftype_get_default_type(); NVFP4 (39) has no default
# type there, so llama-quantize rejects it and so do we.
FILE_TYPES: dict[str, tuple[int, str]] = {
    "F32": (0, "F32"), "F16": (1, "F16"), "Q4_0": (2, "Q4_0"), "Q4_1": (3, "Q4_1"),
    "Q8_0": (7, "Q8_0"), "Q5_0": (8, "Q5_0"), "Q5_1": (9, "Q5_1"),
    "Q2_K": (10, "Q2_K"), "Q3_K_S": (11, "Q3_K"), "Q3_K_M": (12, "Q3_K"), "Q3_K_L": (13, "Q3_K"),
    "Q4_K_S": (14, "Q4_K"), "Q4_K_M": (15, "Q4_K"), "Q5_K_S": (16, "Q5_K"),
    "Q5_K_M": (17, "Q5_K"), "Q6_K": (18, "Q6_K"), "IQ2_XXS": (19, "IQ2_XXS"),
    "IQ2_XS": (20, "IQ2_XS"), "Q2_K_S": (21, "Q2_K"), "IQ3_XS": (22, "IQ3_S"),
    "IQ3_XXS": (23, "IQ3_XXS"), "IQ1_S": (24, "IQ1_S"), "IQ4_NL": (25, "IQ4_NL"),
    "IQ3_S": (26, "IQ3_S"), "IQ3_M": (27, "IQ3_S"), "IQ2_S": (28, "IQ2_XS"),
    "IQ2_M": (29, "IQ2_S"), "IQ4_XS": (30, "IQ4_XS"), "IQ1_M": (31, "IQ1_M"),
    "BF16": (32, "BF16"), "TQ1_0": (36, "TQ1_0"), "TQ2_0": (37, "TQ2_0"),
    "MXFP4_MOE": (38, "MXFP4"), "Q1_0": (40, "Q1_0"), "Q2_0": (41, "Q2_0"),
}
# The aliases llama-quantize's command line accepts.
_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}

# Arch-independent names llama.cpp never quantizes (substring match), from
# tensor_allows_quantization(). GLM5-next adds more (below).
_NEVER_QUANTIZED = (
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight",
    "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
    "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
    "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
    ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd",
    ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
)
_NEVER_QUANTIZED_GLM5_NEXT = (
    "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
    "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight",
    "ssm_g_b.weight", "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight",
    "attn_v_b.weight",
)
_NEVER_QUANTIZED_EXACT = ("position_embd.weight", "token_types.weight")

# tensor_type_fallback(): a 256-block type whose rows do not split into blocks -> a 32-block one.
_FALLBACK = {
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL", "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL",
    "Q2_0": "Q4_0", "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}
# Types whose tensors llama-quantize refuses to make without an importance matrix.
_NEEDS_IMATRIX = ("IQ3_XXS", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ1_M", "IQ1_S")

_SLAB_FLOATS = 1 << 22  # floats decoded at once (16 MiB): bounds memory on big tensors


# ---- report ----

@dataclass(frozen=True)
class TensorReport:
    """What happened to one tensor."""

    name: str
    shape: tuple[int, ...]  # NumPy order
    src_type: str
    dst_type: str
    src_bytes: int
    dst_bytes: int
    action: str  # "copy" (bytes unchanged) or "quantize"
    imatrix: bool  # an importance vector was used
    fallback: bool  # the mix's type did not fit the row length (see tensor_type_fallback)


@dataclass
class QuantizeReport:
    """Result of :func:`quantize_gguf`: per-tensor types and sizes, totals, time."""

    src: str
    dst: str | None  # None for a dry run
    qtype: str
    file_type: int
    tensors: list[TensorReport] = field(default_factory=list)
    seconds: float = 0.0
    imatrix_entries: int = 0

    @property
    def types(self) -> dict[str, str]:
        """Tensor name -> chosen type."""
        return {t.name: t.dst_type for t in self.tensors}

    @property
    def size_before(self) -> int:
        return sum(t.src_bytes for t in self.tensors)

    @property
    def size_after(self) -> int:
        return sum(t.dst_bytes for t in self.tensors)

    @property
    def n_fallback(self) -> int:
        return sum(t.fallback for t in self.tensors)

    def __str__(self) -> str:
        mib = 1024.0 * 1024.0
        counts: dict[str, int] = {}
        for t in self.tensors:
            counts[t.dst_type] = counts.get(t.dst_type, 0) + 1
        mix = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        return (f"{self.qtype}: {len(self.tensors)} tensors ({mix}), "
                f"{self.size_before / mib:.2f} MiB -> {self.size_after / mib:.2f} MiB "
                f"in {self.seconds:.2f} s")


# ---- model facts the rules read ----

@dataclass
class _Model:
    arch: str
    n_layer: int
    n_head: int
    n_head_kv: int
    n_expert: int

    @property
    def n_gqa(self) -> int:
        return self.n_head // self.n_head_kv if self.n_head_kv else 0

    @property
    def is_70b(self) -> bool:
        """llama.cpp's LLM_TYPE_70B, the only model size the rules look at."""
        if self.arch == "llama":
            return self.n_expert != 8 and self.n_layer == 80 and self.n_head != self.n_head_kv
        if self.arch in ("qwen2", "deci", "olmo"):
            return self.n_layer == 80
        return self.arch == "jais2" and self.n_layer == 68


def _first_int(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (list, tuple, np.ndarray)):
        return int(value[0]) if len(value) else default
    return int(value)


def _model_facts(meta: Mapping[str, Any], names: list[str]) -> _Model:
    arch = str(meta.get("general.architecture", ""))
    n_layer = meta.get(f"{arch}.block_count")
    if n_layer is None:  # llama.cpp requires the key; count the blocks instead of refusing
        layers = [_layer_of(n) for n in names]
        n_layer = max(layers) + 1 if layers else 0
    n_head = _first_int(meta.get(f"{arch}.attention.head_count"), 0)
    n_head_kv = _first_int(meta.get(f"{arch}.attention.head_count_kv"), n_head)
    return _Model(arch, int(n_layer), n_head, n_head_kv,
                  _first_int(meta.get(f"{arch}.expert_count"), 0))


_LAYER_RE = re.compile(r"blk\.\s*([+-]?\d+)")


def _layer_of(name: str) -> int:
    """sscanf(name, "blk.%d.") as llama.cpp uses it: -1 when the name is not a block's."""
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else -1


# ---- tensor categories ----

def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_kv_b.weight", "attn_kv_b"),
                     ("attn_v.weight", "attn_v"), ("attn_k.weight", "attn_k"),
                     ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                     ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _is_attn_v(cat: str) -> bool:
    return cat in ("attn_v", "attn_qkv", "attn_kv_b")


def _n_dims(ne: tuple[int, ...]) -> int:
    """ggml_n_dims: trailing dimensions of size 1 do not count."""
    for i in range(len(ne) - 1, 0, -1):
        if ne[i] > 1:
            return i + 1
    return 1


def _allows_quantization(name: str, ne: tuple[int, ...], arch: str) -> bool:
    if _n_dims(ne) < 2:  # 1-D tensors (norms, biases, rope freqs) are never quantized
        return False
    # llama.cpp tests name.rfind("weight") == name.size() - 6: size_t arithmetic makes that
    # true for every 5-character name too.
    if not (name.endswith("weight") or len(name) == 5):
        return False
    if name in _NEVER_QUANTIZED_EXACT or any(s in name for s in _NEVER_QUANTIZED):
        return False
    if arch == "glm5-next" and any(s in name for s in _NEVER_QUANTIZED_GLM5_NEXT):
        return False
    return True


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    # C integer division; the last term is only reached with i_layer >= n_layers // 8 >= 0.
    return (i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8
            or (i_layer - n_layers // 8) % 3 == 2)


def _block_size(type_name: str) -> int:
    return int(dtype_info(type_name)["block_size"])


# ---- per-tensor type choice ----

class _Chooser:
    """llama_tensor_get_type() with its counters; call :meth:`choose` in llama.cpp's order."""

    def __init__(self, model: _Model, ftype: str, names: list[str], has_imatrix: bool,
                 pure: bool) -> None:
        self.m = model
        self.ftype = ftype
        self.default = FILE_TYPES[ftype][1]
        self.has_imatrix = has_imatrix
        self.pure = pure
        cats = [_category(n) for n in names]
        self.n_attention_wv = sum(_is_attn_v(c) for c in cats)
        self.has_tied_embeddings = "output" not in cats
        self.n_ffn = model.n_layer  # n_ffn_down = n_ffn_gate = n_ffn_up = n_layer_all
        self.i_attention_wv = self.i_ffn_down = self.i_ffn_gate = self.i_ffn_up = 0

    def choose(self, name: str, ne: tuple[int, ...], src_type: str) -> tuple[str, bool]:
        """(type, fell_back) for one tensor."""
        if not _allows_quantization(name, ne, self.m.arch):
            return src_type, False
        new = self.default
        if not dtype_info(new)["is_quantized"]:
            return new, False
        if not self.pure:
            new = self._mix(new, name, ne, _category(name))
        return self._fallback(name, ne, new)

    def _layer_info(self, counter: int, name: str) -> tuple[int, int]:
        if max(1, self.m.n_expert) > 1:  # experts are not consecutive: parse the layer
            i_layer = _layer_of(name)
            if _LAYER_RE.match(name) is None:
                raise ValueError(f"failed to determine the layer of tensor {name!r}")
            if not 0 <= i_layer < self.n_ffn:
                raise ValueError(f"bad layer {i_layer} for tensor {name!r}: "
                                 f"must be in [0, {self.n_ffn})")
            return i_layer, self.n_ffn
        return counter, self.n_ffn

    def _fallback(self, name: str, ne: tuple[int, ...], target: str) -> tuple[str, bool]:
        ncols, blk = ne[0], _block_size(target)
        if ncols % blk == 0:
            return target, False
        if target in _FALLBACK:
            new = _FALLBACK[target]
        elif blk <= 32:
            new = target  # already a 32-block type: only F16 is left (below)
        else:
            raise ValueError(f"tensor {name!r}: {ncols} columns do not split into {target} "
                             f"blocks of {blk} and no fallback type is defined for {target}")
        if ncols % _block_size(new) != 0:
            new = "F16"
        return new, True

    def _mix(self, new: str, name: str, ne: tuple[int, ...], cat: str) -> str:
        """llama_tensor_get_type_impl(): the mix's choice for one tensor (before fallback)."""
        ft, m = self.ftype, self.m
        iq2_family = ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M")
        if m.arch == "glm5-next" and any(s in name for s in ("attn_q_a", "attn_q_b",
                                                               "nextn.eh_proj")):
            if new not in ("F32", "BF16", "F16"):
                return "Q8_0"
        if cat == "output" or (self.has_tied_embeddings and cat == "token_embd"):
            if ft == "MXFP4_MOE":
                new = "Q8_0"
            elif m.arch == "falcon" or ne[0] % _block_size(new) != 0:
                new = "Q8_0"
            elif ft in ("IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"):
                new = "Q5_K"
            elif new != "Q8_0":
                new = "Q6_K"
        elif ft == "MXFP4_MOE":
            bailing_expert = m.arch == "bailingmoe3" and cat in ("ffn_up", "ffn_gate",
                                                                 "ffn_down")
            if ne[2] > 1 and (m.arch != "bailingmoe3" or bailing_expert):
                new = "MXFP4"
            else:
                new = "Q8_0"
        elif cat == "token_embd":
            if ft in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
                new = "Q2_K"
            elif ft in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
                new = "IQ3_S"
            elif ft in ("TQ1_0", "TQ2_0", "Q2_0"):
                new = "Q4_K"
        elif ft in iq2_family:
            if _is_attn_v(cat):
                if m.n_gqa >= 4 or m.n_expert >= 4:
                    new = "Q4_K"
                else:
                    new = "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K"
                self.i_attention_wv += 1
            elif m.n_expert == 8 and cat == "attn_k":
                new = "Q4_K"
            elif cat == "ffn_down":
                if self.i_ffn_down < self.n_ffn // 8:
                    new = "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K"
                self.i_ffn_down += 1
            elif cat == "attn_output":
                if m.n_expert == 8:
                    new = "Q5_K"
                elif ft in ("IQ1_S", "IQ1_M"):
                    new = "IQ2_XXS"
                elif ft in ("IQ2_S", "IQ2_M"):
                    new = "IQ3_S"
        elif _is_attn_v(cat):
            new = self._attn_v(new)
        elif cat == "attn_k":
            if m.n_expert == 8:
                new = "Q8_0"
            elif ft == "IQ3_XS":
                new = "IQ3_XXS"
            elif ft == "IQ3_XXS":
                new = "IQ2_S"
        elif cat == "attn_q":
            if ft == "IQ3_XS":
                new = "IQ3_XXS"
            elif ft == "IQ3_XXS":
                new = "IQ2_S"
        elif cat == "ffn_down":
            new = self._ffn_down(new, name)
        elif cat == "attn_output":
            new = self._attn_output(new)
        elif cat == "attn_qkv":  # unreachable: attn_qkv is attn_v-like (kept as in llama.cpp)
            if ft in ("Q3_K_M", "Q3_K_L", "IQ3_M"):
                new = "Q4_K"
            elif ft == "Q4_K_M":
                new = "Q5_K"
            elif ft == "Q5_K_M":
                new = "Q6_K"
        elif cat in ("ffn_gate", "ffn_up"):
            counter = self.i_ffn_gate if cat == "ffn_gate" else self.i_ffn_up
            i_layer, n_layer = self._layer_info(counter, name)
            if ft == "IQ3_XS" and n_layer // 8 <= i_layer < 7 * n_layer // 8:
                new = "IQ3_XXS"
            if cat == "ffn_gate":
                self.i_ffn_gate += 1
            else:
                self.i_ffn_up += 1
        return new

    def _attn_v(self, new: str) -> str:
        ft, m = self.ftype, self.m
        if ft == "Q2_K":
            new = "Q4_K" if m.n_gqa >= 4 else "Q3_K"
        elif ft == "Q2_K_S" and m.n_gqa >= 4:
            new = "Q4_K"
        elif ft == "IQ3_XXS":
            new = "Q4_K" if m.n_gqa >= 4 else ("IQ3_S" if not self.has_imatrix else "IQ3_XXS")
        elif ft in ("IQ3_XS", "IQ3_S") and m.n_gqa >= 4:
            new = "Q4_K"
        elif ft == "IQ3_M":
            new = "Q4_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if self.i_attention_wv < 2 else "Q4_K"
        elif ft == "Q3_K_L":
            new = "Q5_K"
        elif ft in ("IQ4_NL", "IQ4_XS") and m.n_gqa >= 4:
            new = "Q5_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _use_more_bits(self.i_attention_wv,
                                                           self.n_attention_wv):
            new = "Q6_K"
        elif ft == "Q4_K_S" and self.i_attention_wv < 4:
            new = "Q5_K"
        if m.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"  # 8 heads share attn_v in the 70B model: more bits are cheap
        if m.n_expert == 8:
            new = "Q8_0"
        self.i_attention_wv += 1
        return new

    def _ffn_down(self, new: str, name: str) -> str:
        ft, m = self.ftype, self.m
        i_layer, n_layer = self._layer_info(self.i_ffn_down, name)
        falcon = m.arch == "falcon"
        if ft == "Q2_K":
            new = "Q3_K"
        elif ft == "Q2_K_S":
            if i_layer < n_layer // 8:
                new = "Q4_K"
        elif ft == "IQ3_XXS" and not self.has_imatrix:
            new = "Q4_K" if i_layer < n_layer // 8 else "Q3_K"
        elif ft == "Q3_K_M":
            if i_layer < n_layer // 16:
                new = "Q5_K"
            elif not falcon or _use_more_bits(i_layer, n_layer):
                new = "Q4_K"
            else:
                new = "Q3_K"
        elif ft == "IQ3_M" and (i_layer < n_layer // 8 or
                                (m.n_expert == 8 and _use_more_bits(i_layer, n_layer))):
            new = "Q4_K"
        elif ft == "Q3_K_L":
            new = "Q4_K" if falcon else "Q5_K"
        elif ft == "Q4_K_M":
            if falcon:
                new = ("Q6_K" if i_layer < n_layer // 16 else
                       "Q5_K" if _use_more_bits(i_layer, n_layer) else "Q4_K")
            elif _use_more_bits(i_layer, n_layer):
                new = "Q6_K"
        elif (i_layer < n_layer // 8 and ft in ("IQ4_NL", "IQ4_XS")
              and not self.has_imatrix):
            new = "Q5_K"
        elif ft == "Q5_K_M" and _use_more_bits(i_layer, n_layer):
            new = "Q6_K"
        elif ft == "Q4_K_S" and not falcon and i_layer < n_layer // 8:
            new = "Q5_K"
        elif ft in ("Q4_0", "Q5_0") and self.has_imatrix and i_layer < n_layer // 8:
            new = "Q4_1" if ft == "Q4_0" else "Q5_1"
        self.i_ffn_down += 1
        return new

    def _attn_output(self, new: str) -> str:
        ft, m = self.ftype, self.m
        if m.arch != "falcon":
            if m.n_expert == 8:
                if ft in ("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S",
                          "Q4_K_M", "IQ3_S", "IQ3_M", "IQ4_XS"):
                    new = "Q5_K"
            else:
                new = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K",
                       "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}.get(ft, new)
        elif ft == "Q3_K_L":
            new = "Q4_K"
        return new


# ---- helpers ----

def _llama_order(names: list[str]) -> list[str]:
    """llama_model_loader's weights_map order: by block number (-1 first), then by name."""
    return sorted(names, key=lambda n: (_layer_of(n), n.encode("utf-8", "surrogateescape")))


def _rewrap(value: Any, type_str: str) -> GGUFValue:
    """A metadata value as a GGUFValue of exactly the type it had in the source file."""
    if not type_str.startswith("array["):
        return GGUFValue(value, type_str)
    inner = type_str[len("array["):-1]
    if not inner.startswith("array") or inner == "array":
        return GGUFValue(value, "array", inner)
    items = [v if len(v) else _rewrap(v, inner) for v in value]  # type an empty inner array
    return GGUFValue(items, "array", "array")


def _resolve_qtype(qtype: Any) -> str:
    if not isinstance(qtype, str):
        raise TypeError(f"qtype must be a str such as 'Q4_K_M', not {type(qtype).__name__}")
    name = qtype.strip().upper()
    name = _ALIASES.get(name, name)
    if name not in FILE_TYPES:
        valid = ", ".join(sorted(FILE_TYPES) + sorted(_ALIASES))
        raise ValueError(f"unknown quantization type {qtype!r}; valid names: {valid}")
    return name


def _resolve_threads(threads: Any) -> int:
    if threads is None:
        return max(1, min(1024, os.cpu_count() or 1))
    if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 1024:
        raise ValueError(f"threads must be an int in [1, 1024], got {threads!r}")
    return threads


def _prepare_imatrix(imatrix: Mapping[str, Any] | None) -> dict[str, np.ndarray] | None:
    if imatrix is None:
        return None
    if not isinstance(imatrix, Mapping):
        raise TypeError(f"imatrix must be a mapping of tensor name -> float array, "
                        f"not {type(imatrix).__name__}")
    out: dict[str, np.ndarray] = {}
    for key, value in imatrix.items():
        if not isinstance(key, str):
            raise TypeError(f"imatrix keys must be tensor names (str), got {type(key).__name__}")
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.float32).reshape(-1))
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"imatrix entry {key!r} contains non-finite values")
        out[key] = arr
    return out


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar without it
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False)


def _row_bytes(type_name: str, n: int) -> int:
    info = dtype_info(type_name)
    return n // int(info["block_size"]) * int(info["type_size"])


def _convert(gf: GGUFFile, name: str, src_type: str, ne: tuple[int, ...], dst_type: str,
             qw: np.ndarray | None, threads: int, tick: Callable[[int], None]) -> np.ndarray:
    """One tensor decoded to float32 slab by slab and encoded as `dst_type` rows.

    Rows of expert e (index ne[2]) use imatrix slice e, as llama.cpp does."""
    n, rows_per_mat = ne[0], ne[1]
    n_mat = ne[2] * ne[3]
    total_rows = rows_per_mat * n_mat
    src_id = int(dtype_info(src_type)["id"])
    dst_id = int(dtype_info(dst_type)["id"])
    out = np.empty((total_rows, _row_bytes(dst_type, n)), dtype=np.uint8)
    if total_rows == 0:
        return out
    src_rb = _row_bytes(src_type, n)
    if src_type == "F32":
        f32 = np.asarray(gf.tensor(name), dtype=np.float32).reshape(total_rows, n)
        raw = None
    else:
        raw = gf.tensor_bytes(name)
    slab = max(1, _SLAB_FLOATS // max(n, 1))
    for mat in range(n_mat):
        w = None if qw is None else qw[(mat % ne[2]) * n:(mat % ne[2] + 1) * n]
        end = (mat + 1) * rows_per_mat
        for r0 in range(mat * rows_per_mat, end, slab):
            r1 = min(r0 + slab, end)
            if raw is None:
                x = np.require(f32[r0:r1], np.float32, ['C', 'A'])  # copies only if unaligned
            else:
                x = _core.dequantize_rows(raw[r0 * src_rb:r1 * src_rb], src_id, n)
            out[r0:r1] = _core.quantize_rows(x, dst_id, w, threads)
            tick((r1 - r0) * src_rb)
    return out


class _CallableModule(types.ModuleType):
    """Keeps ``xtral.quantize_gguf(...)`` callable once this submodule has been imported:
    importing ``xtral.quantize_gguf`` rebinds the package attribute of the same name (the
    public function) to this module object."""

    def __call__(self, *args: Any, **kwargs: Any) -> "QuantizeReport":
        return quantize_gguf(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


# ---- the public function ----

def quantize_gguf(src: PathLike, dst: PathLike | None, qtype: str,
                  imatrix: Mapping[str, Any] | None = None, threads: int | None = None,
                  progress: bool = True, *, pure: bool = False,
                  dry_run: bool = False) -> QuantizeReport:
    """Re-quantize a whole GGUF model file the way llama.cpp's llama-quantize does.

    Args:
        src: the input GGUF (any tensor types xtral can decode).
        dst: the output file, written atomically; must differ from ``src``. Ignored (may be
            None) with ``dry_run``.
        qtype: a llama-quantize file type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
            Q2_K_S, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K, IQ4_NL, IQ4_XS, MXFP4_MOE, ... (the
            aliases Q3_K, Q4_K, Q5_K mean the _M mixes). Each tensor's type follows llama.cpp's
            rules for that mix; tensor types without an xtral quantizer raise
            :class:`xtral.UnsupportedError` before anything is written.
        imatrix: tensor name -> importance vector of ``ne0 * n_expert`` float32 values (mean
            squared activations, as loaded from an imatrix file). It changes some type choices
            as in llama.cpp and weights the quantization error. Missing names are quantized
            without one; ``quantize.imatrix.*`` keys are added (``file``, ``dataset`` and
            ``chunks_count`` when the mapping has such attributes).
        threads: quantization threads (default ``os.cpu_count()``).
        progress: show a tqdm bar (bytes of the source) when tqdm is installed.
        pure: every quantizable tensor gets the mix's default type (llama-quantize --pure).
        dry_run: choose the types and sizes, write nothing.

    Returns:
        A :class:`QuantizeReport` (per-tensor types and sizes, totals, seconds).

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ValueError: unknown ``qtype``; ``src`` and ``dst`` are the same file; an imatrix entry
            whose length is not ``ne0 * n_expert``; a mix that needs an imatrix (Q2_K_S, IQ2/IQ1)
            without one.
        xtral.UnsupportedError: a chosen tensor type has no quantizer in this build.
    """
    t0 = time.perf_counter()
    ftype = _resolve_qtype(qtype)
    n_threads = _resolve_threads(threads)
    im = _prepare_imatrix(imatrix)
    src_path = os.fspath(src)
    if not os.path.isfile(src_path):
        raise FileNotFoundError(f"no such GGUF file: {src_path!r}")
    dst_path = None
    if not dry_run:
        if dst is None:
            raise ValueError("dst is required unless dry_run=True")
        dst_path = os.fspath(dst)
        if os.path.realpath(dst_path) == os.path.realpath(src_path) or (
                os.path.exists(dst_path) and os.path.samefile(dst_path, src_path)):
            raise ValueError(f"dst must differ from src ({src_path!r}): "
                             "the output is written while the input is read")

    report = QuantizeReport(src_path, dst_path, ftype, FILE_TYPES[ftype][0],
                            imatrix_entries=len(im) if im is not None else 0)
    with GGUFFile(src_path) as gf:
        infos = gf.tensors
        order = _llama_order(list(infos))
        meta = gf.metadata
        chooser = _Chooser(_model_facts(meta, order), ftype, order, im is not None, pure)

        # Preliminary pass (as llama.cpp): every type chosen and every input checked before
        # any work, so a bad imatrix or a missing kernel fails fast and writes nothing.
        plan = []
        for name in order:
            info = infos[name]
            ne = tuple(reversed(info.shape)) + (1,) * (4 - len(info.shape))
            dst_type, fell_back = chooser.choose(name, ne, info.type)
            qw = _plan_imatrix(name, ne, info.type, dst_type, ftype, im)
            plan.append((name, info, ne, dst_type, fell_back, qw))
        if not dry_run:
            _check_kernels(plan)

        bar = _progress_bar(sum(p[1].nbytes for p in plan), f"quantize {ftype}", progress)
        tick = bar.update if bar is not None else (lambda _n: None)
        tensors: dict[str, Any] = {}
        try:
            for name, info, ne, dst_type, fell_back, qw in plan:
                copy = dst_type == info.type
                if dry_run:
                    nbytes = info.nbytes if copy else _row_bytes(dst_type, ne[0]) * (
                        ne[1] * ne[2] * ne[3])
                    tick(info.nbytes)
                elif copy:  # llama.cpp copies a tensor already in the target type verbatim
                    data = gf.tensor_bytes(name)
                    tensors[name] = (data, info.type, info.shape)
                    nbytes = info.nbytes
                    tick(info.nbytes)
                else:
                    out = _convert(gf, name, info.type, ne, dst_type, qw, n_threads, tick)
                    tensors[name] = (out, dst_type, info.shape)
                    nbytes = out.nbytes
                report.tensors.append(TensorReport(
                    name, tuple(info.shape), info.type, dst_type, info.nbytes, nbytes,
                    "copy" if copy else "quantize", qw is not None and not copy, fell_back))
        finally:
            if bar is not None:
                bar.close()

        if not dry_run:
            write_gguf(dst_path, _out_metadata(gf, ftype, im, imatrix), tensors)
    report.seconds = time.perf_counter() - t0
    return report


def _plan_imatrix(name: str, ne: tuple[int, ...], src_type: str, dst_type: str, ftype: str,
                  im: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """The importance vector one tensor is quantized with (llama.cpp's checks and errors)."""
    if dst_type == src_type:
        return None
    embd_or_out = name in ("token_embd.weight", "per_layer_token_embd.weight",
                           "output.weight")
    requires = not embd_or_out and (dst_type in _NEEDS_IMATRIX or
                                    (dst_type == "Q2_K" and ftype == "Q2_K_S"))
    qw = None if im is None else im.get(name)
    if qw is not None and qw.size != ne[0] * ne[2]:
        if name not in ("token_embd.weight", "per_layer_token_embd.weight"):
            raise ValueError(f"imatrix entry for tensor {name!r} has {qw.size} values; the "
                             f"tensor needs {ne[0] * ne[2]} (ne0={ne[0]} x n_expert={ne[2]})")
        qw = None  # llama.cpp quantizes token embeddings without it
    if qw is None and requires:
        raise ValueError(f"tensor {name!r} -> {dst_type} in a {ftype} file needs an importance "
                         "matrix (pass imatrix=...)")
    if qw is not None and not _core.quant_traits(int(dtype_info(dst_type)["id"]))[
            "uses_imatrix"]:
        return None  # the type ignores importance weights (F16, Q8_0, MXFP4, ...)
    return qw


def _check_kernels(plan: list[tuple[Any, ...]]) -> None:
    missing: dict[str, str] = {}
    for name, info, _ne, dst_type, _fb, _qw in plan:
        if dst_type == info.type:
            continue
        for t, what in ((dst_type, "can_quantize"), (info.type, "can_dequantize")):
            tid = int(dtype_info(t)["id"])
            if not _core.quant_traits(tid)[what] and t not in missing:
                missing[t] = f"{'quantize to' if what == 'can_quantize' else 'decode'} " \
                             f"{t} (first needed by {name!r})"
    if missing:
        raise _core.UnsupportedError("this build of xtral cannot " + "; ".join(missing.values()))


def _out_metadata(gf: GGUFFile, ftype: str, im: dict[str, np.ndarray] | None,
                  imatrix: Any) -> dict[str, Any]:
    """The source keys with their types; split.* dropped; general.quantization_version and
    general.file_type (uint32) moved to the end, then quantize.imatrix.* (llama.cpp's order)."""
    types_ = gf.metadata_types
    drop = {"split.no", "split.count", "split.tensors.count",
            "general.quantization_version", "general.file_type"}
    meta: dict[str, Any] = {k: _rewrap(v, types_[k]) for k, v in gf.metadata.items()
                            if k not in drop}
    meta["general.quantization_version"] = GGUFValue(2, "uint32")
    meta["general.file_type"] = GGUFValue(FILE_TYPES[ftype][0], "uint32")
    if im is not None:
        for attr in ("file", "dataset"):
            value = getattr(imatrix, attr, None)
            if isinstance(value, str):
                meta[f"quantize.imatrix.{attr}"] = GGUFValue(
                    value.encode("utf-8")[:127].decode("utf-8", "ignore"), "string")
        meta["quantize.imatrix.entries_count"] = GGUFValue(len(im), "uint32")
        chunks = getattr(imatrix, "chunks_count", None)
        if isinstance(chunks, int) and chunks > 0:
            meta["quantize.imatrix.chunks_count"] = GGUFValue(chunks, "uint32")
    return meta
