"""The Python quantization API (Quantizer, QTensor, matmul, dequantize, quant_types), FP8
against ml_dtypes, SIMD pinning, and bad input."""
from __future__ import annotations

import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import xtral
from xtral import _core

RNG = np.random.default_rng(1234)


# ---- FP8 against ml_dtypes (an independent implementation of the formats) ----

@pytest.mark.parametrize("fmt,e5m2", [(ml_dtypes.float8_e4m3fn, False), (ml_dtypes.float8_e5m2, True)])
def test_fp8_decode_every_code(fmt: type, e5m2: bool) -> None:
    codes = np.arange(256, dtype=np.uint8).reshape(1, 256)
    got = _core.fp8_dequantize(codes, np.ones((1, 2), np.float32), e5m2)[0]
    want = codes[0].view(fmt).astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok].view(np.uint32), want[ok].view(np.uint32))


def test_fp8_e4m3_encode_matches_ml_dtypes() -> None:
    # Every representable value, the midpoints between neighbours (ties), random values over
    # the whole range, subnormals and out-of-range values (saturated like transformers' clamp).
    table = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    finite = np.unique(table[np.isfinite(table)])
    mids = (finite[:-1] + finite[1:]) / 2
    rand = np.concatenate([RNG.standard_normal(20000) * s for s in (1e-3, 0.1, 1, 30, 300)])
    x = np.concatenate([finite, mids, rand, [1e-9, -1e-9, 2.0**-10, 2.0**-11, 449, 1e6, -1e6]])
    x = x.astype(np.float32)
    q = xtral.Quantizer("FP8_E4M3").quantize(np.ones((1, 1), np.float32))  # warm the type row
    del q
    got = _core.quantize_rows(x.reshape(1, -1), xtral.dtype_info("FP8_E4M3")["id"])[0]
    want = np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, f"{bad.size} mismatches, e.g. x={x[bad[:5]]} got={got[bad[:5]]} want={want[bad[:5]]}"


def test_fp8_block_scaled_matrix_matches_transformers_recipe() -> None:
    x = (RNG.standard_normal((300, 200)) * RNG.uniform(0.01, 10, (300, 1))).astype(np.float32)
    x[128:256, 128:] = 0.0  # an all-zero block gets scale 1
    qt = xtral.Quantizer("FP8_E4M3").quantize(x)
    assert qt.scales.shape == (3, 2) and qt.shape == (300, 200)
    # transformers' Fp8Quantize, written here with NumPy + ml_dtypes:
    want_q = np.empty_like(x, dtype=np.uint8)
    want_s = np.empty((3, 2), np.float32)
    for i in range(3):
        for j in range(2):
            blk = x[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
            amax = np.float32(np.abs(blk).max())
            scale = np.float32(448.0) / amax if amax > 0 else np.float32(1.0)
            q = np.clip(blk * scale, -448, 448).astype(ml_dtypes.float8_e4m3fn)
            want_q[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = q.view(np.uint8)
            want_s[i, j] = np.float32(1.0) / scale
    assert np.array_equal(np.frombuffer(qt.data, np.uint8).reshape(300, 200), want_q)
    assert np.array_equal(qt.scales, want_s)
    deq = qt.dequantize()
    np.testing.assert_allclose(deq, want_q.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
                               * np.repeat(np.repeat(want_s, 128, 0), 128, 1)[:300, :200])
    v = RNG.standard_normal(200).astype(np.float32)
    np.testing.assert_allclose(qt @ v, deq.astype(np.float64) @ v, rtol=1e-5, atol=1e-4)


# ---- the API ----

def test_quant_types_lists_properties() -> None:
    rows = {r["name"]: r for r in xtral.quant_types()}
    for name in ("F32", "F16", "BF16", "Q8_0", "FP8_E4M3"):
        assert rows[name]["can_quantize"] and rows[name]["can_dequantize"]
    assert rows["Q8_0"]["bits_per_weight"] == 8.5
    assert rows["Q8_0"]["activation_type"] == "Q8_0"
    assert not rows["FP8_E5M2"]["can_quantize"] and rows["FP8_E5M2"]["can_dequantize"]


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16", "Q8_0"])
def test_qtensor_properties_and_products(qtype: str) -> None:
    x = RNG.standard_normal((3, 4, 64)).astype(np.float32)
    qt = xtral.Quantizer(qtype, threads=2).quantize(x)
    assert qt.qtype == qtype and qt.shape == (3, 4, 64)
    info = xtral.dtype_info(qtype)
    assert qt.nbytes == 12 * 64 // info["block_size"] * info["type_size"]
    assert qt.bits_per_weight == pytest.approx(8 * info["type_size"] / info["block_size"])
    deq = qt.dequantize()
    assert deq.shape == x.shape and deq.dtype == np.float32
    np.testing.assert_array_equal(xtral.dequantize(qt.data, qtype, x.shape), deq)
    assert qt.data.readonly
    w = xtral.Quantizer(qtype).quantize(x.reshape(12, 64))
    v, m = RNG.standard_normal(64).astype(np.float32), RNG.standard_normal((64, 5)).astype(np.float32)
    ref = w.dequantize().astype(np.float64)
    tol = 1e-5 if qtype in ("F32", "F16", "BF16") else 0.05
    np.testing.assert_allclose(w @ v, ref @ v, rtol=tol, atol=tol * 8)
    np.testing.assert_allclose(xtral.matmul(w, m, threads=1), ref @ m, rtol=tol, atol=tol * 8)
    assert (w @ m).shape == (12, 5) and (w @ v).shape == (12,)


def test_data_is_zero_copy() -> None:
    qt = xtral.Quantizer("Q8_0").quantize(RNG.standard_normal((2, 32)).astype(np.float32))
    a, b = np.frombuffer(qt.data, np.uint8), np.frombuffer(qt.data, np.uint8)
    assert np.shares_memory(a, b)


# ---- bad input ----

def test_bad_input_errors() -> None:
    q = xtral.Quantizer("Q8_0")
    with pytest.raises(ValueError, match="not a multiple of the Q8_0 block size 32"):
        q.quantize(np.zeros((2, 33), np.float32))
    with pytest.raises(ValueError, match="unknown tensor type 'Q7_7'"):
        xtral.Quantizer("Q7_7")
    with pytest.raises(TypeError, match="float"):
        q.quantize(np.zeros((2, 32), np.int32))
    with pytest.raises(TypeError, match="NumPy array"):
        q.quantize([[0.0] * 32])
    with pytest.raises(ValueError, match="C-contiguous"):
        q.quantize(np.zeros((32, 4), np.float32).T)
    with pytest.raises(ValueError, match="imatrix has 31 entries; the rows have 32 columns"):
        xtral.Quantizer("Q8_0", imatrix=np.ones(31, np.float32)).quantize(np.zeros((1, 32), np.float32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        q.quantize(np.array([[np.nan] + [0.0] * 31], np.float32))
    with pytest.raises(ValueError, match="cannot be a quantization target"):
        xtral.Quantizer("FP8_E5M2")
    w = q.quantize(np.zeros((4, 32), np.float32))
    with pytest.raises(ValueError, match="not aligned"):
        w @ np.zeros(31, np.float32)
    with pytest.raises(TypeError, match="float"):
        w @ np.zeros(32, np.int64)
    with pytest.raises(ValueError, match="takes 34 bytes"):
        xtral.dequantize(b"\0" * 33, "Q8_0", (1, 32))
    with pytest.raises(ValueError, match="threads"):
        xtral.Quantizer("Q8_0", threads=0)


# ---- SIMD pinning ----

def test_simd_level_can_be_pinned() -> None:
    levels = _core.simd_levels()
    assert levels[0] == "scalar"
    before = _core.simd_level()
    try:
        for level in levels:
            _core.set_simd(level)
            assert _core.simd_level() == level
    finally:
        _core.set_simd(before)
    for name in ("avx2", "avx512"):
        if name not in levels:
            with pytest.raises(ValueError, match="not supported by this CPU"):
                _core.set_simd(name)
    with pytest.raises(ValueError, match="unknown SIMD level"):
        _core.set_simd("sse9")


def test_simd_level_from_environment() -> None:
    code = "from xtral import _core; print(_core.simd_level())"
    env = dict(os.environ, XTRAL_SIMD="scalar")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "scalar"


# ---- float formats against the reference package ----

def test_bf16_and_f16_match_gguf_quants() -> None:
    import gguf

    x = np.concatenate([RNG.standard_normal(4096) * s for s in (1e-30, 1e-3, 1, 1e30)])
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38, 65504, 65520,
                         6e-8, 2.0**-24 * 1.5], np.float32)
    x = np.concatenate([x.astype(np.float32), specials, np.zeros(32 - specials.size % 32, np.float32)])
    x = x.reshape(1, -1)
    bf16 = _core.quantize_rows(x, gguf.GGMLQuantizationType.BF16.value)
    want = gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16)
    assert np.array_equal(bf16.view(np.uint16), want.view(np.uint16))
    back = _core.dequantize_rows(bf16, gguf.GGMLQuantizationType.BF16.value, x.shape[1])
    ref = gguf.quants.dequantize(want, gguf.GGMLQuantizationType.BF16)
    assert np.array_equal(np.isnan(back), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(back[ok].view(np.uint32), ref[ok].view(np.uint32))
    f16 = _core.quantize_rows(x, gguf.GGMLQuantizationType.F16.value).view(np.uint16)
    with np.errstate(over="ignore"):  # values beyond 65504 become Inf, as intended
        want16 = x.astype(np.float16).view(np.uint16)
    finite = ~np.isnan(x)
    assert np.array_equal(f16[finite], want16[finite])  # NaN payloads: ggml maps every NaN to 0x7E00
    assert np.all((f16[~finite] & 0x7FFF) == 0x7E00)
