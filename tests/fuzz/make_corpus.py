"""Writes the seed corpus for the GGUF fuzz target into tests/fuzz/corpus/gguf/.

Every seed is written by the reference writer (gguf.GGUFWriter) and kept to a few hundred bytes,
so the fuzzer starts from real layouts: each metadata value type, arrays of arrays, empty arrays,
small tensors of many ggml types, custom alignment, layer-structured models (known and unknown
architecture), a version 2 file and a big-endian file. Output is deterministic; rerun after
changing it and commit the result:

    python tests/fuzz/make_corpus.py
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for gguf_helpers

import gguf  # noqa: E402
import numpy as np  # noqa: E402
from gguf import GGMLQuantizationType as QT  # noqa: E402
from gguf import GGUFValueType as VT  # noqa: E402
from gguf_helpers import KV, TensorSpec, make_tensor_spec, set_version, write_reference_gguf  # noqa: E402

DEFAULT_OUT = HERE / "corpus" / "gguf"


def _tensors(types: list[QT], prefix: str = "t") -> list[TensorSpec]:
    """One single-block row per type (the smallest valid tensor of that type)."""
    return [make_tensor_spec(f"{prefix}.{t.name.lower()}", t, 1, 1, seed=int(t)) for t in types]


def _layers(n: int) -> list[TensorSpec]:
    """token_embd, n blocks of (attn_q, attn_norm), output_norm: a tiny layer-structured model."""
    specs = [make_tensor_spec("token_embd.weight", QT.Q8_0, 2, 1, seed=1)]
    for i in range(n):
        specs.append(make_tensor_spec(f"blk.{i}.attn_q.weight", QT.Q4_0, 1, 1, seed=10 + i))
        specs.append(make_tensor_spec(f"blk.{i}.attn_norm.weight", QT.F32, 1, 4, seed=20 + i))
    specs.append(make_tensor_spec("output_norm.weight", QT.F32, 1, 4, seed=30))
    return specs


SCALARS = [KV(f"s.{vt.name.lower()}", v, vt) for vt, v in [
    (VT.UINT8, 200), (VT.INT8, -100), (VT.UINT16, 60000), (VT.INT16, -30000),
    (VT.UINT32, 4_000_000_000), (VT.INT32, -2_000_000_000), (VT.FLOAT32, math.pi),
    (VT.BOOL, True), (VT.UINT64, 2**64 - 1), (VT.INT64, -(2**63)), (VT.FLOAT64, math.e),
]]

SEEDS: dict[str, Callable[[Path], None]] = {
    "minimal": lambda p: write_reference_gguf(p),
    "no_arch": lambda p: write_reference_gguf(p, [KV("x.one", 1, VT.UINT8)], arch=None),
    "scalars": lambda p: write_reference_gguf(p, SCALARS),
    "strings": lambda p: write_reference_gguf(p, [
        KV("general.name", "tiny ✓ 日本", VT.STRING),
        KV("s.invalid", b"\xff\xfe", VT.STRING),
        KV("tokenizer.ggml.tokens", ["<s>", "a", "", "é"], VT.ARRAY, VT.STRING),
    ]),
    "arrays": lambda p: write_reference_gguf(p, [
        KV(f"a.{vt.name.lower()}", [0, 1], VT.ARRAY, vt)
        for vt in [VT.UINT8, VT.INT8, VT.UINT16, VT.INT16, VT.UINT32, VT.INT32, VT.UINT64,
                   VT.INT64]
    ] + [KV("a.float32", [0.5, -1.0], VT.ARRAY, VT.FLOAT32),
         KV("a.float64", [0.25], VT.ARRAY, VT.FLOAT64),
         KV("a.bool", [True, False], VT.ARRAY, VT.BOOL)]),
    "nested": lambda p: write_reference_gguf(p, [
        KV("aa.int32", [[1, 2], [3]], VT.ARRAY),
        KV("aa.string", [["x"], ["y", "z"]], VT.ARRAY),
        KV("aaa.float32", [[[1.5]], [[2.5], [3.5]]], VT.ARRAY),
    ]),
    "empty_arrays": lambda p: write_reference_gguf(p, [
        KV(f"e.{vt.name.lower()}", [], VT.ARRAY, vt)
        for vt in [VT.UINT8, VT.FLOAT32, VT.STRING, VT.ARRAY]
    ]),
    "tensors_plain": lambda p: write_reference_gguf(p, tensors=_tensors(
        [QT.F32, QT.F16, QT.BF16, QT.F64, QT.I8, QT.I16, QT.I32, QT.I64])),
    "tensors_legacy": lambda p: write_reference_gguf(p, tensors=_tensors(
        [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.IQ4_NL, QT.MXFP4])),
    "tensors_k": lambda p: write_reference_gguf(p, tensors=_tensors(
        [QT.Q2_K, QT.Q4_K, QT.Q6_K, QT.TQ2_0])),
    "tensors_iq": lambda p: write_reference_gguf(p, tensors=_tensors(
        [QT.IQ2_XXS, QT.IQ1_S, QT.IQ1_M, QT.NVFP4, QT.Q1_0])),
    "tensors_4d": lambda p: write_reference_gguf(p, tensors=[
        TensorSpec("t.4d", QT.F32, (2, 1, 2, 3), array=np.arange(12, dtype=np.float32).reshape(2, 1, 2, 3))]),
    "align64": lambda p: write_reference_gguf(p, tensors=_tensors([QT.F32, QT.Q8_0]), alignment=64),
    "llama_layers": lambda p: write_reference_gguf(
        p, [KV("llama.block_count", 2, VT.UINT32)], _layers(2), arch="llama"),
    "gemma3_layers": lambda p: write_reference_gguf(
        p, [KV("gemma3.block_count", 1, VT.UINT32)], _layers(1), arch="gemma3"),
    "unknown_arch_layers": lambda p: write_reference_gguf(
        p, [KV("zzarch.block_count", 2, VT.UINT32)], _layers(2), arch="zzarch"),
    "version2": lambda p: (write_reference_gguf(p, SCALARS[:3], _tensors([QT.F32])),
                           set_version(p, 2)),
    "big_endian": lambda p: write_reference_gguf(
        p, SCALARS[:3], _tensors([QT.F32]), endianess=gguf.GGUFEndian.BIG),
}


def main() -> None:
    """Writes every seed (replacing old ones of the same name) and prints the sizes."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, make in SEEDS.items():
        path = args.out / f"{name}.gguf"
        make(path)
        size = path.stat().st_size
        total += size
        print(f"{size:6d}  {path.name}")
    print(f"{total:6d}  total ({len(SEEDS)} files)")


if __name__ == "__main__":
    main()
