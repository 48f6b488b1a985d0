"""K-quant formats (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) against independent references: gguf-py's
dequantizer bit for bit (crafted NaN/Inf/subnormal scale fields included), SHA-256 digests of
ggml's own quantize_<t> output (with and without imatrix), error bounds and imatrix benefit of
the round trip, float64 dot products against hand-built Q8_K rows, and hostile inputs."""
from __future__ import annotations

import hashlib
from typing import Iterator

import numpy as np
import pytest

import gguf
import xtral._core as core
from gguf import GGMLQuantizationType as QT

K_TYPES = [QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K]
QK_K = 256
Q8_K_BYTES = 292  # f32 d, int8 qs[256], int16 bsums[16]

# Byte offsets of the f16 fields (d, dmin) inside each block (ggml's block_<t> layouts).
SCALE_FIELDS = {
    QT.Q2_K: (80, 82),
    QT.Q3_K: (108,),
    QT.Q4_K: (0, 2),
    QT.Q5_K: (0, 2),
    QT.Q6_K: (208,),
}

# f16 bit patterns for crafted scale fields: zeros, subnormals, normals, max, Inf, NaNs
F16_SPECIAL = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF,
                        0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55, 0xFFFF],
                       dtype=np.uint16)

# Relative RMS error of a N(0, 1) round trip without imatrix (measured about 0.297, 0.151,
# 0.0715, 0.0363, 0.0177): each extra bit roughly halves it. Both ends are checked, so a
# quantizer that silently stores too little (or a lossless shortcut) fails.
REL_RMSE_RANGE = {
    QT.Q2_K: (0.25, 0.34),
    QT.Q3_K: (0.125, 0.18),
    QT.Q4_K: (0.06, 0.085),
    QT.Q5_K: (0.03, 0.043),
    QT.Q6_K: (0.0145, 0.021),
}

# SHA-256 of ggml's quantize_<t>(golden_input(16, 1024)) output bytes (all 16 rows), without
# and with the golden imatrix. Recorded by calling quantize_q2_K .. quantize_q6_K in
# libggml-base (ggml 0.25.3, as vendored by llama-cpp-python) through ctypes — ggml's bytes,
# not ours — so a drift from llama-quantize's output is caught without llama.cpp installed.
GGML_DIGESTS = {
    (QT.Q2_K, False): "499c85ea1ee44445f31254b3b1a575fb47087ee1797c7f7b9930ff81e5e42a8f",
    (QT.Q2_K, True): "4ca4606cfccd40c059d82e07139b86382077e08b0e4ddc1d66170af6fd7a2620",
    (QT.Q3_K, False): "815bc4a9ecdb41d58ef4c6d6b48c8de028d0ce22d8cb509a33a21a6a4fe3aa47",
    (QT.Q3_K, True): "84f40a4d581211e10def5500d1accf8e5ee57d46c8a92c5380c3b0c9b2738711",
    (QT.Q4_K, False): "30192c6591d05f4d031f388fac3f58383adb79f06758d82816aea9717963866c",
    (QT.Q4_K, True): "862af39d0d37f2b1142fdc9809db2b4766c64f00fe7d4508d809c1331f811e05",
    (QT.Q5_K, False): "258a851a82165a3eab51286012071514ea21418a630db720eede247f3933acf7",
    (QT.Q5_K, True): "cd1acf0bdf4e3b8154466c462160c9ea79f1ade66d119333b667c5931066eca1",
    (QT.Q6_K, False): "11b3003daa2be23c318ad48893f854b194aa605372b3759da1e48298589b2a76",
    (QT.Q6_K, True): "70ffec94de57194560976bc6c4eb704f4a67f2f07b80e3190045b6eb0dda4dde",
}


@pytest.fixture
def scalar() -> Iterator[None]:
    """Pins the reference (scalar) kernels for the test, restoring the previous level."""
    prev = core.simd_level()
    core.set_simd("scalar")
    try:
        yield
    finally:
        core.set_simd(prev)


def type_size(qtype: QT) -> int:
    return gguf.GGML_QUANT_SIZES[qtype][1]


def quantize(x: np.ndarray, qtype: QT, imatrix: np.ndarray | None = None) -> np.ndarray:
    return core.quantize_rows(np.ascontiguousarray(x, dtype=np.float32), int(qtype), imatrix)


def dequantize(raw: np.ndarray, qtype: QT, n: int) -> np.ndarray:
    return core.dequantize_rows(np.ascontiguousarray(raw), int(qtype), n)


def gguf_dequantize(raw: np.ndarray, qtype: QT, n: int) -> np.ndarray:
    with np.errstate(all="ignore"):  # NaN/Inf scale fields are part of the tests
        return gguf.quants.dequantize(np.ascontiguousarray(raw), qtype).reshape(-1, n)


def assert_same_floats(got: np.ndarray, want: np.ndarray) -> None:
    """Bit-for-bit equality; NaNs must sit at the same positions (payloads not compared)."""
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_g, nan_w), f"NaN positions differ at {np.argwhere(nan_g != nan_w)[:5]}"
    gb, wb = got.view(np.uint32)[~nan_g], want.view(np.uint32)[~nan_w]
    bad = np.flatnonzero(gb != wb)
    assert bad.size == 0, f"{bad.size} values differ, first: {got[~nan_g][bad[:4]]} vs {want[~nan_w][bad[:4]]}"


def golden_input(rows: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Platform-independent rows (integer hashing, then exact float64 steps) and an imatrix:
    roughly Gaussian values with per-column scales 1/8..8 and sparse 16x outliers."""
    idx = np.arange(rows * n, dtype=np.uint64)
    h = idx * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    u = [((h >> np.uint64(16 * k)) & np.uint64(0xFFFF)).astype(np.float64) / 65536.0
         for k in range(4)]
    g = (u[0] + u[1] + u[2] + u[3] - 2.0) * 1.7320508075688772  # Irwin-Hall, unit variance
    col = (idx % np.uint64(n)).astype(np.int64)
    g *= np.exp2(((col * 5) % 7 - 3).astype(np.float64))
    g[(idx % np.uint64(97)) == 0] *= 16.0
    x = g.astype(np.float32).reshape(rows, n)
    c = np.arange(n, dtype=np.int64)
    imatrix = np.exp2(((c * 37) % 11 - 5).astype(np.float64)).astype(np.float32)
    return x, imatrix


def q8_K_rows(rng: np.random.Generator, rows: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hand-built block_q8_K rows (d f32, qs int8[256], bsums int16[16] = sums of 16) and
    their float64 values d * qs."""
    nb = n // QK_K
    d = (rng.random((rows, nb)) * 0.02 + 1e-3).astype(np.float32)
    qs = rng.integers(-127, 128, size=(rows, nb, QK_K), dtype=np.int8)
    bsums = qs.reshape(rows, nb, 16, 16).astype(np.int16).sum(axis=-1, dtype=np.int16)
    raw = np.zeros((rows, nb, Q8_K_BYTES), np.uint8)
    raw[:, :, 0:4] = d[..., None].view(np.uint8)
    raw[:, :, 4:260] = qs.view(np.uint8)
    raw[:, :, 260:292] = bsums.view(np.uint8)
    values = d.astype(np.float64)[..., None] * qs.astype(np.float64)
    return raw.reshape(rows, nb * Q8_K_BYTES), values.reshape(rows, n)


# ---- dequantization vs gguf-py ----

@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_dequantize_matches_gguf(qtype: QT, scalar: None) -> None:
    rng = np.random.default_rng(2000 + int(qtype))
    size = type_size(qtype)
    fields = SCALE_FIELDS[qtype]
    n_sp = F16_SPECIAL.size
    # crafted: every special in d, each meeting several dmin specials (and random payload)
    crafted = rng.integers(0, 256, size=(n_sp * 4, size), dtype=np.uint8)
    for k, off in enumerate(fields):
        order = np.arange(n_sp * 4) * (1 + 5 * k) + 3 * k  # different pairing per field
        crafted[:, off:off + 2] = F16_SPECIAL[order % n_sp].view(np.uint8).reshape(-1, 2)
    # random payload with finite scales, so every level and sub-scale pattern shows
    finite = rng.integers(0, 256, size=(64, size), dtype=np.uint8)
    for off in fields:
        finite[:, off:off + 2] = rng.standard_normal(64).astype(np.float16).view(np.uint8).reshape(-1, 2)
    for blocks in (crafted, finite):
        n_blocks = blocks.shape[0]
        for per_row in (1, 4):
            raw = blocks.reshape(n_blocks // per_row, per_row * size)
            got = dequantize(raw, qtype, per_row * QK_K)
            want = gguf_dequantize(raw, qtype, per_row * QK_K)
            assert_same_floats(got, want)


# ---- quantization: ggml's bytes, round-trip error, imatrix ----

@pytest.mark.parametrize("with_imatrix", [False, True], ids=["ref", "imatrix"])
@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_quantize_matches_ggml_digest(qtype: QT, with_imatrix: bool) -> None:
    x, imatrix = golden_input(16, 1024)
    raw = quantize(x, qtype, imatrix if with_imatrix else None)
    assert raw.shape == (16, 4 * type_size(qtype))
    assert hashlib.sha256(raw.tobytes()).hexdigest() == GGML_DIGESTS[(qtype, with_imatrix)]


@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_quantize_round_trip(qtype: QT, scalar: None) -> None:
    rng = np.random.default_rng(3000 + int(qtype))
    for n in (256, 1024):
        x = rng.standard_normal((32, n)).astype(np.float32)
        for imatrix in (None, (rng.random(n) + 0.5).astype(np.float32)):
            raw = quantize(x, qtype, imatrix)
            assert raw.shape == (32, n // QK_K * type_size(qtype))
            ref = gguf_dequantize(raw, qtype, n)
            assert_same_floats(dequantize(raw, qtype, n), ref)
            rel = np.sqrt(np.mean((ref - x) ** 2) / np.mean(x ** 2))
            lo, hi = REL_RMSE_RANGE[qtype]
            if imatrix is not None:
                lo *= 0.8  # the weighted fit trades a little plain RMSE
                hi *= 1.1
            assert lo < rel < hi, (n, imatrix is not None, rel)
            # quantizing is deterministic, row by row
            assert np.array_equal(quantize(x[5:7], qtype, imatrix), raw[5:7])


@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_imatrix_reduces_weighted_error(qtype: QT) -> None:
    # Measured ratios weighted_err(imatrix) / weighted_err(none): 0.30 (Q2_K) .. 0.62 (Q6_K).
    for seed in range(3):
        rng = np.random.default_rng(4000 + 10 * int(qtype) + seed)
        n = 1024
        x = rng.standard_normal((16, n)).astype(np.float32)
        imatrix = np.exp(rng.standard_normal(n) * 2.0).astype(np.float32)  # strongly skewed

        def weighted_err(raw: np.ndarray) -> float:
            return float((imatrix * (gguf_dequantize(raw, qtype, n) - x) ** 2).sum())

        plain = weighted_err(quantize(x, qtype))
        weighted = weighted_err(quantize(x, qtype, imatrix))
        assert weighted < 0.8 * plain, (seed, weighted / plain)


@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_quantize_hostile_inputs(qtype: QT, scalar: None) -> None:
    """NaN/Inf/huge/subnormal/zero blocks must not crash or leak into their neighbours;
    all-zero blocks decode to exact zeros."""
    rng = np.random.default_rng(5000 + int(qtype))
    f32 = np.finfo(np.float32)
    specials = {
        "zeros": np.zeros(QK_K),
        "one_nan": np.where(np.arange(QK_K) == 17, np.nan, rng.standard_normal(QK_K)),
        "all_nan": np.full(QK_K, np.nan),
        "pos_inf": np.where(np.arange(QK_K) == 3, np.inf, rng.standard_normal(QK_K)),
        "neg_inf": np.where(np.arange(QK_K) % 50 == 0, -np.inf, rng.standard_normal(QK_K)),
        "inf_nan": np.tile([np.inf, -np.inf, np.nan, 0.0], QK_K // 4),
        "huge": rng.standard_normal(QK_K) * 1e37,
        "f32_max": np.tile([f32.max, -f32.max, 1.0, 0.0], QK_K // 4),
        "subnormal": rng.standard_normal(QK_K) * 1e-40,
        "tiny_one": np.where(np.arange(QK_K) == 9, 1e-20, 0.0),
        "constant": np.full(QK_K, -2.5),
        "one_hot": np.where(np.arange(QK_K) == 200, 7.0, 0.0),
    }
    n = 4 * QK_K
    size = type_size(qtype)
    clean = rng.standard_normal((1, n)).astype(np.float32)
    imatrices = {
        "none": None,
        "skewed": np.exp(rng.standard_normal(n) * 2).astype(np.float32),
        "zeros": np.zeros(n, np.float32),
        "with_nan_inf": np.where(np.arange(n) % 7 == 0, np.nan,
                                 np.where(np.arange(n) % 11 == 0, np.inf, 1.0)).astype(np.float32),
    }
    with np.errstate(all="ignore"):
        for name, block in specials.items():
            x = clean.copy()
            x[0, QK_K:2 * QK_K] = block.astype(np.float32)  # the special block is block 1
            for im_name, im in imatrices.items():
                raw = quantize(x, qtype, im)
                assert raw.shape == (1, 4 * size)
                assert np.array_equal(quantize(x, qtype, im), raw), (name, im_name)
                # blocks 0, 2, 3 equal the clean row's (quantization is block-local)
                ref = quantize(clean, qtype, im)
                for b in (0, 2, 3):
                    assert np.array_equal(raw[0, b * size:(b + 1) * size],
                                          ref[0, b * size:(b + 1) * size]), (name, im_name, b)
                got = dequantize(raw, qtype, n)
                assert_same_floats(got, gguf_dequantize(raw, qtype, n))
                if name == "zeros" and im_name != "with_nan_inf":
                    assert np.all(got[0, QK_K:2 * QK_K] == 0), (name, im_name)


# ---- dot product against Q8_K ----

@pytest.mark.parametrize("qtype", K_TYPES, ids=lambda t: t.name)
def test_vec_dot_matches_float64(qtype: QT, scalar: None) -> None:
    rng = np.random.default_rng(6000 + int(qtype))
    n = 1024
    size = type_size(qtype)
    quantized = quantize(rng.standard_normal((6, n)).astype(np.float32), qtype)
    # random payloads with finite scales reach every level and (signed) sub-scale value
    random_rows = rng.integers(0, 256, size=(6, n // QK_K, size), dtype=np.uint8)
    for off in SCALE_FIELDS[qtype]:
        random_rows[:, :, off:off + 2] = (rng.standard_normal((6, n // QK_K)) * 0.05) \
            .astype(np.float16).view(np.uint8).reshape(6, n // QK_K, 2)
    weights = np.concatenate([quantized, random_rows.reshape(6, -1)])
    acts, act_values = q8_K_rows(rng, weights.shape[0], n)
    w_values = gguf_dequantize(weights, qtype, n).astype(np.float64)
    for r in range(weights.shape[0]):
        terms = w_values[r] * act_values[r]
        want = terms.sum()
        got = core.vec_dot_rows(weights[r], int(qtype), acts[r], n)
        tol = 4e-6 * np.abs(terms).sum() + 1e-30
        assert abs(got - want) <= tol, (r, got, want, tol)
    # a single super-block row, and an all-zero weight row
    got = core.vec_dot_rows(weights[0, :size], int(qtype), acts[0, :Q8_K_BYTES], QK_K)
    want = (w_values[0, :QK_K] * act_values[0, :QK_K]).sum()
    assert abs(got - want) <= 4e-6 * np.abs(w_values[0, :QK_K] * act_values[0, :QK_K]).sum()
    assert core.vec_dot_rows(np.zeros(n // QK_K * size, np.uint8), int(qtype), acts[0], n) == 0.0


def test_kernel_traits() -> None:
    for qtype in K_TYPES:
        t = core.quant_traits(int(qtype))
        assert t["can_dequantize"] and t["can_quantize"] and t["uses_imatrix"], qtype.name
        assert t["vec_dot_type"] == int(QT.Q8_K), qtype.name
