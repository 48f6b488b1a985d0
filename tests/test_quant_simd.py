"""SIMD kernels (quant/arch/x86_*.c) against the scalar reference kernels.

For every type with a SIMD dot product and every level this CPU supports:
* activation quantizers (Q8_0, Q8_1, Q8_K) give the same bytes as the 'scalar' level,
  special values included (NaN, Inf, zeros, .5 ties where roundf and round-half-even differ);
* vec_dot agrees with the 'scalar' level within 1e-6 * sum_i |w_i * a_i| (w, a the decoded
  weight and activation rows). Both levels form the same exact integer block sums; only the
  float accumulation order differs, which bounds the gap by a few 2^-24 of that sum (the
  harness measured <= 6e-8). A relative bound on the result itself would not hold under
  cancellation, hence the condition-number-aware form.
Weights: quantize_rows of Gaussian rows, and random raw bytes with sane scale fields.
AVX-512 is only exercised on CPUs that have it (the level is absent from simd_levels()
otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest

from xtral import _core

F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 = 0, 1, 2, 3, 6, 7, 8, 9
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K = 10, 11, 12, 13, 14, 15
IQ4_NL, IQ4_XS, BF16, MXFP4 = 20, 23, 30, 39

# type -> (activation type, block elements, block bytes, scale fields: (offset, kind))
# kind: "h" signed f16 scale, "hp" positive f16 scale, "e" E8M0 byte
LAYOUT = {
    Q4_0: (Q8_0, 32, 18, [(0, "h")]),
    Q4_1: (Q8_1, 32, 20, [(0, "h"), (2, "h")]),
    Q5_0: (Q8_0, 32, 22, [(0, "h")]),
    Q5_1: (Q8_1, 32, 24, [(0, "h"), (2, "h")]),
    Q8_0: (Q8_0, 32, 34, [(0, "h")]),
    IQ4_NL: (Q8_0, 32, 18, [(0, "h")]),
    MXFP4: (Q8_0, 32, 17, [(0, "e")]),
    Q2_K: (Q8_K, 256, 84, [(80, "hp"), (82, "hp")]),
    Q3_K: (Q8_K, 256, 110, [(108, "h")]),
    Q4_K: (Q8_K, 256, 144, [(0, "hp"), (2, "hp")]),
    Q5_K: (Q8_K, 256, 176, [(0, "hp"), (2, "hp")]),
    Q6_K: (Q8_K, 256, 210, [(208, "h")]),
    IQ4_XS: (Q8_K, 256, 136, [(0, "h")]),
    F32: (F32, 1, 4, []),
    F16: (F32, 1, 2, []),
    BF16: (F32, 1, 2, []),
}

LENGTHS = {32: [32, 96, 288, 4096], 256: [256, 512, 2816], 1: [1, 7, 33, 300, 4096]}
SIMD_LEVELS = [lv for lv in _core.simd_levels() if lv != "scalar"]

pytestmark = pytest.mark.skipif(not SIMD_LEVELS, reason="no SIMD level on this CPU")


@pytest.fixture
def restore_simd():
    before = _core.simd_level()
    yield
    _core.set_simd(before)


def _at(level: str, fn, *args):
    _core.set_simd(level)
    return fn(*args)


def _float_row(t: int, x: np.ndarray) -> np.ndarray:
    if t == F32:
        return x.astype(np.float32).view(np.uint8)
    if t == F16:
        return x.astype(np.float16).view(np.uint8)
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).view(np.uint8)


def _raw_row(t: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random bytes with sane scales (random codes everywhere else)."""
    act, blk, nbytes, fields = LAYOUT[t]
    if blk == 1:
        return _float_row(t, rng.standard_normal(n))
    nb = n // blk
    raw = rng.integers(0, 256, size=(nb, nbytes), dtype=np.uint8)
    for off, kind in fields:
        if kind == "e":
            raw[:, off] = rng.integers(118, 138, size=nb)
            continue
        mag = rng.uniform(1e-3, 5e-2, size=nb)
        if kind == "h":
            mag *= rng.choice([-1.0, 1.0], size=nb)
        raw[:, off : off + 2] = mag.astype(np.float16).view(np.uint8).reshape(nb, 2)
    return raw.reshape(-1)


def _weights(t: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    rows = [_raw_row(t, n, rng)]
    if LAYOUT[t][1] > 1:
        x = rng.standard_normal((1, n)).astype(np.float32)
        rows.append(np.ascontiguousarray(_core.quantize_rows(x, t)[0]))
    return rows


def _act_row(at: int, x: np.ndarray, level: str) -> np.ndarray:
    if at == F32:
        return x.astype(np.float32).view(np.uint8)
    return _at(level, _core.quantize_act, x, at)


def _decode(raw: np.ndarray, t: int, n: int) -> np.ndarray:
    if t == F32:
        return raw.view(np.float32).astype(np.float64)
    return _core.dequantize_rows(raw.reshape(1, -1), t, n)[0].astype(np.float64)


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("t", sorted(LAYOUT), ids=lambda t: f"type{t}")
def test_vec_dot_matches_scalar(restore_simd, level: str, t: int) -> None:
    at, blk, _, _ = LAYOUT[t]
    rng = np.random.default_rng(1000 + t)
    for n in LENGTHS[blk]:
        for rep in range(3):
            x = rng.standard_normal(n).astype(np.float32) * (1e-3 if rep == 2 else 1.0)
            a = _act_row(at, x, "scalar")
            da = _decode(a, at, n)
            for w in _weights(t, n, rng):
                ref = _at("scalar", _core.vec_dot_rows, w, t, a, n)
                got = _at(level, _core.vec_dot_rows, w, t, a, n)
                bound = 1e-6 * float(np.sum(np.abs(_decode(w, t, n) * da))) + 1e-30
                assert abs(got - ref) <= bound, (level, t, n, rep, got, ref, bound)


ACT_TYPES = {Q8_0: 32, Q8_1: 32, Q8_K: 256}


def _special_rows(blk: int, rng: np.random.Generator) -> list[np.ndarray]:
    n = 4 * blk
    rows = [rng.standard_normal(n).astype(np.float32) * s for s in (1.0, 1e-4, 1e3)]
    z = np.zeros(n, np.float32)
    rows.append(z)
    ties = rng.integers(-120, 120, size=n).astype(np.float32) + 0.5
    ties[::blk] = 127.0  # amax = 127 -> d = 1: x * id keeps the .5 ties
    rows.append(ties)
    sp = rng.standard_normal(n).astype(np.float32)
    sp[3] = np.nan
    sp[blk + 5] = np.inf
    sp[2 * blk + 1] = -np.inf
    sp[3 * blk + blk - 1] = np.nan
    sp[3 * blk] = 50.0  # larger element before the NaN (scalar max fold resets at NaN)
    rows.append(sp)
    tie_sign = rng.standard_normal(n).astype(np.float32)
    tie_sign[7], tie_sign[9] = -9.0, 9.0  # equal magnitudes, first one wins (Q8_K)
    rows.append(tie_sign)
    return rows


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("at", sorted(ACT_TYPES), ids=lambda t: f"act{t}")
def test_quantize_act_bytes(restore_simd, level: str, at: int) -> None:
    rng = np.random.default_rng(7 + at)
    for x in _special_rows(ACT_TYPES[at], rng):
        ref = _at("scalar", _core.quantize_act, x, at)
        got = _at(level, _core.quantize_act, x, at)
        assert np.array_equal(ref, got), (level, at, np.flatnonzero(ref != got)[:8])


@pytest.mark.parametrize("level", SIMD_LEVELS)
def test_matmul_uses_simd_consistently(restore_simd, level: str) -> None:
    """matmul at a SIMD level agrees with the scalar level (several rows, 2 threads)."""
    rng = np.random.default_rng(3)
    n, rows = 512, 16
    x = rng.standard_normal((2, n)).astype(np.float32)
    for t in (Q4_0, Q8_0, MXFP4, Q4_K, Q6_K):
        w = np.stack([_raw_row(t, n, rng) for _ in range(rows)])
        ref = _at("scalar", _core.matmul, w, t, n, x, 2)
        got = _at(level, _core.matmul, w, t, n, x, 2)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max() + 1))


# Types with tile (gemm) kernels, plus Q4_1-shaped ones without: the blocked vec_dot path.
TILE_TYPES = (Q4_0, Q4_1, Q5_0, Q8_0, IQ4_NL, Q4_K, Q6_K, Q5_1, Q5_K)  # K: grouped vec_dot


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("t", TILE_TYPES, ids=lambda t: f"type{t}")
def test_matmul_tiles_match_vec_dot(restore_simd, level: str, t: int) -> None:
    """Every entry of a multi-token matmul (the tile kernels: several rows x several tokens,
    edge tiles included) agrees with the scalar vec_dot of its row and token within
    1e-6 * sum_i |w_i a_i|."""
    at, blk, _, _ = LAYOUT[t]
    rng = np.random.default_rng(500 + t)
    n = 3 * blk if blk == 256 else 9 * blk
    for rows, ntok, threads in ((13, 7, 1), (8, 9, 2), (3, 2, 1), (21, 5, 2)):
        w = np.stack([_weights(t, n, rng)[i % 2] for i in range(rows)])
        x = rng.standard_normal((ntok, n)).astype(np.float32)
        x[ntok // 2] *= 1e-3
        got = _at(level, _core.matmul, w, t, n, x, threads)
        assert got.shape == (ntok, rows)
        dw = [_decode(w[r], t, n) for r in range(rows)]
        for c in range(ntok):
            a = _act_row(at, x[c], "scalar")
            da = _decode(a, at, n)
            for r in range(rows):
                ref = _at("scalar", _core.vec_dot_rows, w[r], t, a, n)
                bound = 1e-6 * float(np.sum(np.abs(dw[r] * da))) + 1e-30
                assert abs(got[c, r] - ref) <= bound, (level, t, rows, ntok, r, c, got[c, r], ref)


@pytest.mark.parametrize("level", SIMD_LEVELS)
@pytest.mark.parametrize("t", TILE_TYPES, ids=lambda t: f"type{t}")
def test_one_token_matmul_equals_vec_dot_bitwise(restore_simd, level: str, t: int) -> None:
    """A one-token matmul (decode: the multi-row gemv kernels, rows in groups plus a tail)
    returns exactly the level's own vec_dot of each row: decode keeps the dot products'
    arithmetic, only independent rows run side by side."""
    at, blk, _, _ = LAYOUT[t]
    rng = np.random.default_rng(900 + t)
    n = 3 * blk if blk == 256 else 9 * blk
    for rows, threads in ((13, 1), (8, 2), (3, 1), (37, 2)):
        w = np.stack([_weights(t, n, rng)[i % 2] for i in range(rows)])
        x = rng.standard_normal((1, n)).astype(np.float32)
        got = _at(level, _core.matmul, w, t, n, x, threads)
        a = _act_row(at, x[0], level)
        ref = np.array([_at(level, _core.vec_dot_rows, w[r], t, a, n) for r in range(rows)],
                       dtype=np.float32)
        assert np.array_equal(got[0], ref), (level, t, rows, np.flatnonzero(got[0] != ref))
