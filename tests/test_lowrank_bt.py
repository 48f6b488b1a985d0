"""The B side of the low-rank adapter terms (ops/lowrank_bt.c): y = u B^T from the packed B^T.

Q8_0 B^T holds each 32-column piece of a rank row as one Q8_0 block, so its exact product is
u @ dequantize(Q8_0(B^T)), with the blocks made by the `gguf` package. The kernel rounds each
u_j * d_j to 16 bits per chunk and row group (at most 0.5 * m / 32767 per unit of |q|, m the
largest |u_j * d_j|): the result must stay within that of the exact product, and the scalar
and AVX2 kernels must agree bit for bit. F32 B^T must equal a float64 product to float
rounding."""
from __future__ import annotations

import numpy as np
import pytest

import gguf
from gguf.quants import dequantize, quantize
from xtral import _core

Q8_0 = int(gguf.GGMLQuantizationType.Q8_0)
F32 = int(gguf.GGMLQuantizationType.F32)
SHAPES = [(1, 32), (3, 64), (16, 576), (48, 192), (31, 96), (300, 64)]  # (r, out)


def levels() -> list[str]:
    return [lv for lv in ("scalar", "avx2") if lv in _core.simd_levels()]


def run(u: np.ndarray, bt: np.ndarray, type_id: int, level: str) -> np.ndarray:
    before = _core.simd_level()
    _core.set_simd(level)
    try:
        return _core.lowrank_bt(u, bt, type_id)
    finally:
        _core.set_simd(before)


def data(r: int, out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((3, r)).astype(np.float32)
    u[1] *= 1e-3                       # small values: the 16-bit scale is per chunk
    u[2, ::3] = 0.0
    bt = (rng.standard_normal((r, out)) * rng.uniform(0.01, 2.0, (r, 1))).astype(np.float32)
    return u, bt


@pytest.mark.parametrize("r,out", SHAPES)
def test_q8_0_within_the_16_bit_rounding_of_the_exact_product(r: int, out: int) -> None:
    u, bt = data(r, out, seed=r * 1000 + out)
    deq = dequantize(quantize(bt, gguf.GGMLQuantizationType.Q8_0),
                     gguf.GGMLQuantizationType.Q8_0).astype(np.float64)
    d = np.abs(deq).reshape(r, out // 32, 32).max(-1) / 127.0      # the blocks' scales
    q = np.rint(deq / np.repeat(np.where(d > 0, d, 1), 32, -1))    # their int8 values
    exact = u.astype(np.float64) @ deq
    for level in levels():
        got = run(u, bt, Q8_0, level)
        for k in range(len(u)):
            # per chunk and group of 256 rows: m = max |u_j d_j|; error <= 0.5 m / 32767 |q|
            s = np.abs(u[k].astype(np.float64))[:, None] * d       # (r, chunks)
            bound = np.zeros(out)
            for g0 in range(0, r, 256):
                m = s[g0:g0 + 256].max(0)                          # (chunks,)
                qs = np.abs(q[g0:g0 + 256]).sum(0).reshape(-1, 32)
                bound += (0.5 * m / 32767.0)[:, None].repeat(32, 1).ravel() * qs.ravel()
            bound += 1e-6 * (np.abs(u[k]).astype(np.float64) @ np.abs(deq)) + 1e-30
            err = np.abs(got[k] - exact[k])
            assert (err <= bound).all(), (level, k, float((err / bound).max()))


@pytest.mark.parametrize("r,out", SHAPES)
def test_q8_0_scalar_and_avx2_agree_bit_for_bit(r: int, out: int) -> None:
    if len(levels()) < 2:
        pytest.skip("this CPU has no AVX2")
    u, bt = data(r, out, seed=r + out)
    np.testing.assert_array_equal(run(u, bt, Q8_0, "scalar"), run(u, bt, Q8_0, "avx2"))


@pytest.mark.parametrize("r,out", SHAPES + [(5, 40), (7, 7)])
def test_f32_equals_the_float64_product(r: int, out: int) -> None:
    u, bt = data(r, out, seed=7)
    exact = u.astype(np.float64) @ bt.astype(np.float64)
    scale = np.abs(u).astype(np.float64) @ np.abs(bt).astype(np.float64)
    for level in levels():
        got = run(u, bt, F32, level)
        assert (np.abs(got - exact) <= 1e-6 * scale + 1e-30).all(), level


def test_non_finite_u_propagates() -> None:
    u, bt = data(16, 64, seed=3)
    u[0, 2], u[1, 5], u[2, 0] = np.nan, np.inf, 1e35
    for level in levels():
        got = run(u, bt, Q8_0, level)
        assert np.isnan(got[0]).all()
        assert not np.isfinite(got[1]).any()
        # too large to scale to 16 bits: the float path, the exact Q8_0 product to rounding
        deq = dequantize(quantize(bt, gguf.GGMLQuantizationType.Q8_0),
                         gguf.GGMLQuantizationType.Q8_0).astype(np.float64)
        scale = np.abs(u[2]).astype(np.float64) @ np.abs(deq)
        assert (np.abs(got[2] - u[2].astype(np.float64) @ deq) <= 1e-6 * scale).all()


def test_bad_arguments_are_errors() -> None:
    u, bt = data(4, 64, seed=1)
    with pytest.raises(ValueError, match="do not fit"):
        _core.lowrank_bt(u, bt[:3], F32)
    with pytest.raises(ValueError, match="out % 32"):
        _core.lowrank_bt(u, bt[:, :40].copy(), Q8_0)
    with pytest.raises(TypeError, match="float32"):
        _core.lowrank_bt(u.astype(np.float64), bt, F32)
