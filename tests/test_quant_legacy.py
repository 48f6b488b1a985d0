"""Legacy and 4-bit non-linear quantization formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL,
IQ4_XS, MXFP4) and the 8-bit activation formats (Q8_0, Q8_1, Q8_K) against independent
references: gguf-py's (de)quantizers bit for bit, numpy ports of ggml's activation quantizers
and dot-product order, and float64 dot products of the dequantized rows."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

import gguf
import xtral._core as core
from gguf import GGMLQuantizationType as QT

WEIGHT_TYPES = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.IQ4_NL, QT.IQ4_XS, QT.MXFP4]
GGUF_QUANTIZABLE = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0, QT.MXFP4]
IMATRIX_TYPES = [QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.IQ4_NL, QT.IQ4_XS]
# ggml's vec_dot_type of each weight type (the activation format its rows are dotted with)
ACT_TYPE = {
    QT.Q4_0: QT.Q8_0, QT.Q5_0: QT.Q8_0, QT.Q8_0: QT.Q8_0, QT.IQ4_NL: QT.Q8_0, QT.MXFP4: QT.Q8_0,
    QT.Q4_1: QT.Q8_1, QT.Q5_1: QT.Q8_1, QT.IQ4_XS: QT.Q8_K,
}
Q8_1_BYTES, Q8_K_BYTES = 36, 292  # ggml structs (gguf-py lists Q8_1 as 40 bytes)

# the crafted Inf/NaN scales and huge rows make gguf-py's numpy code warn about overflow
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")

# f16 bit patterns for crafted scale fields: zeros, subnormals, normals, max, Inf, NaNs
F16_SPECIAL = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF,
                        0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55, 0xFFFF],
                       dtype=np.uint16)


@pytest.fixture
def scalar() -> Iterator[None]:
    """Pins the reference (scalar) kernels for the test, restoring the previous level."""
    prev = core.simd_level()
    core.set_simd("scalar")
    try:
        yield
    finally:
        core.set_simd(prev)


def block_info(qtype: QT) -> tuple[int, int]:
    return gguf.GGML_QUANT_SIZES[qtype]


def row_len_ok(qtype: QT, n: int) -> bool:
    return n % block_info(qtype)[0] == 0


def quantize(x: np.ndarray, qtype: QT, imatrix: np.ndarray | None = None) -> np.ndarray:
    return core.quantize_rows(np.ascontiguousarray(x, dtype=np.float32), int(qtype), imatrix)


def dequantize(raw: np.ndarray, qtype: QT, n: int) -> np.ndarray:
    return core.dequantize_rows(np.ascontiguousarray(raw), int(qtype), n)


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


# ---- dequantization vs gguf-py ----

def crafted_blocks(qtype: QT, rng: np.random.Generator) -> np.ndarray:
    """Random payload bytes with the scale fields set to every special f16 (or every E8M0
    value for MXFP4), one (or more) special per block; returns uint8 [n_blocks, type_size]."""
    _, size = block_info(qtype)
    if qtype == QT.MXFP4:
        blocks = rng.integers(0, 256, size=(256, size), dtype=np.uint8)
        blocks[:, 0] = np.arange(256, dtype=np.uint8)  # e = 0..255 (255 decodes as 2^127 here)
        return blocks
    n_sp = F16_SPECIAL.size
    if qtype in (QT.Q4_1, QT.Q5_1):  # d and m: every special for each, plus all pairs
        pairs = np.array([(a, b) for a in F16_SPECIAL for b in F16_SPECIAL], dtype=np.uint16)
        blocks = rng.integers(0, 256, size=(len(pairs), size), dtype=np.uint8)
        blocks[:, 0:4] = pairs.view(np.uint8).reshape(-1, 4)
        return blocks
    # IQ4_XS super-blocks: 8 copies so that each special meets several random scales
    reps = 8 if qtype == QT.IQ4_XS else 4
    blocks = rng.integers(0, 256, size=(n_sp * reps, size), dtype=np.uint8)
    blocks[:, 0:2] = np.tile(F16_SPECIAL, reps).view(np.uint8).reshape(-1, 2)
    return blocks


@pytest.mark.parametrize("qtype", WEIGHT_TYPES, ids=lambda t: t.name)
def test_dequantize_matches_gguf(qtype: QT, scalar: None) -> None:
    rng = np.random.default_rng(1000 + int(qtype))
    bs, size = block_info(qtype)
    crafted = crafted_blocks(qtype, rng)
    random_blocks = rng.integers(0, 256, size=(64, size), dtype=np.uint8)
    if qtype == QT.MXFP4:
        random_blocks[:, 0] = rng.integers(0, 255, size=64, dtype=np.uint8)
    else:  # keep random scales finite so the payload is visible
        d = rng.standard_normal((64, 2 if qtype in (QT.Q4_1, QT.Q5_1) else 1)).astype(np.float16)
        random_blocks[:, : 2 * d.shape[1]] = d.view(np.uint8)
    for blocks in (crafted, random_blocks):
        n_blocks = blocks.shape[0]
        for per_row in (1, n_blocks):  # one block per row, and all blocks in one row
            if n_blocks % per_row:
                continue
            raw = blocks.reshape(n_blocks // per_row, per_row * size)
            got = dequantize(raw, qtype, per_row * bs)
            want = gguf.quants.dequantize(raw, qtype)
            assert_same_floats(got, want)


# ---- quantization vs gguf-py ----

def sample_rows(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows = 3
    return {
        "gauss": rng.standard_normal((rows, n)).astype(np.float32),
        "student_t3": rng.standard_t(3, (rows, n)).astype(np.float32),
        "zeros": np.zeros((rows, n), np.float32),
        "constant": np.stack([np.full(n, c, np.float32) for c in (0.7, -3.25, 1e-3)]),
        "tiny": (rng.standard_normal((rows, n)) * 1e-30).astype(np.float32),
        "small": (rng.standard_normal((rows, n)) * 1e-6).astype(np.float32),
        "large": (rng.standard_normal((rows, n)) * 3e4).astype(np.float32),
        "mixed_scale": (rng.standard_normal((rows, n)) *
                        10.0 ** rng.integers(-4, 4, (rows, n))).astype(np.float32),
    }



@pytest.mark.parametrize("qtype", GGUF_QUANTIZABLE, ids=lambda t: t.name)
@pytest.mark.parametrize("n", [32, 64, 256, 1024, 4096])
def test_quantize_matches_gguf(qtype: QT, n: int) -> None:
    rng = np.random.default_rng(n * 100 + int(qtype))
    for name, x in sample_rows(n, rng).items():
        got = quantize(x, qtype)
        want = gguf.quants.quantize(x, qtype)
        assert got.shape == want.shape
        bad = np.argwhere(got != want)
        assert bad.size == 0, f"{name}: {len(bad)} bytes differ, first at {bad[:4].tolist()}"


def test_mxfp4_exponent_near_powers_of_two() -> None:
    """floor(log2(amax)) right below and at powers of two (where log2f rounds up)."""
    rng = np.random.default_rng(7)
    ks = np.arange(-100, 100)
    amax = np.concatenate([np.ldexp(np.float32(1), ks).astype(np.float32),
                           np.nextafter(np.ldexp(np.float32(1), ks).astype(np.float32), np.float32(0)),
                           (np.ldexp(np.float32(1), ks) * (1 - 3 * 2.0**-24)).astype(np.float32)])
    x = (rng.uniform(-1, 1, (amax.size, 32)) * amax[:, None]).astype(np.float32)
    x[np.arange(amax.size), rng.integers(0, 32, amax.size)] = -amax
    assert np.array_equal(quantize(x, QT.MXFP4), gguf.quants.quantize(x, QT.MXFP4))


@pytest.mark.parametrize("qtype", [QT.Q8_0, QT.MXFP4], ids=lambda t: t.name)
def test_imatrix_ignored(qtype: QT) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 256)).astype(np.float32)
    im = rng.exponential(size=256).astype(np.float32)
    assert np.array_equal(quantize(x, qtype, im), quantize(x, qtype))
    assert core.quant_traits(int(qtype))["uses_imatrix"] is False


def test_traits() -> None:
    for qtype in WEIGHT_TYPES:
        tr = core.quant_traits(int(qtype))
        assert tr["can_dequantize"] and tr["can_quantize"] and tr["has_matmul"], qtype.name
        assert tr["vec_dot_type"] == int(ACT_TYPE[qtype]), qtype.name
        assert tr["uses_imatrix"] == (qtype in IMATRIX_TYPES), qtype.name


# ---- activation quantizers ----

def np_roundf(v: np.ndarray) -> np.ndarray:
    """C roundf (half away from zero) on float32 values."""
    return (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.float32)


def ref_q8_1(x: np.ndarray) -> np.ndarray:
    """numpy port of ggml's quantize_row_q8_1_ref (36-byte blocks)."""
    b = x.reshape(-1, 32).astype(np.float32)
    d = (np.abs(b).max(axis=1, keepdims=True) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    qs = np_roundf((b * idv).astype(np.float32)).astype(np.int8)
    s = (qs.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32) * d).astype(np.float16)
    return np.concatenate([d.astype(np.float16).view(np.uint8), s.view(np.uint8), qs.view(np.uint8)],
                          axis=1).reshape(-1)


def ref_q8_K(x: np.ndarray) -> np.ndarray:
    """numpy port of ggml's quantize_row_q8_K_ref (292-byte blocks)."""
    out = []
    for b in x.reshape(-1, 256).astype(np.float32):
        i = int(np.argmax(np.abs(b)))
        if b[i] == 0:
            out.append(np.zeros(Q8_K_BYTES, np.uint8))
            continue
        iscale = np.float32(-127) / b[i]
        qs = np.minimum(np.rint((iscale * b).astype(np.float32)), 127).astype(np.int8)
        bsums = qs.astype(np.int32).reshape(16, 16).sum(axis=1).astype(np.int16)
        d = np.array([np.float32(1) / iscale], np.float32)
        out.append(np.concatenate([d.view(np.uint8), qs.view(np.uint8), bsums.view(np.uint8)]))
    return np.concatenate(out)


def decode_q8_1(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values [n], s field per block) of a Q8_1 row."""
    b = raw.reshape(-1, Q8_1_BYTES)
    d = b[:, 0:2].copy().view(np.float16).astype(np.float64)
    s = b[:, 2:4].copy().view(np.float16).astype(np.float64)
    qs = b[:, 4:].copy().view(np.int8).astype(np.float64)
    return (d * qs).reshape(-1), s.reshape(-1)


def decode_q8_K(raw: np.ndarray) -> np.ndarray:
    b = raw.reshape(-1, Q8_K_BYTES)
    d = b[:, 0:4].copy().view(np.float32).astype(np.float64)
    qs = b[:, 4:260].copy().view(np.int8).astype(np.float64)
    return (d * qs).reshape(-1)


@pytest.mark.parametrize("level", ["scalar", "default"])
def test_activation_quantizers(level: str) -> None:
    prev = core.simd_level()
    if level == "scalar":
        core.set_simd("scalar")
    try:
        rng = np.random.default_rng(11)
        for n in (256, 1024):
            for x in sample_rows(n, rng).values():
                for row in x:
                    assert np.array_equal(core.quantize_act(row, int(QT.Q8_0)),
                                          gguf.quants.quantize(row, QT.Q8_0).reshape(-1))
                    assert np.array_equal(core.quantize_act(row, int(QT.Q8_1)), ref_q8_1(row))
                    assert np.array_equal(core.quantize_act(row, int(QT.Q8_K)), ref_q8_K(row))
    finally:
        core.set_simd(prev)


def test_activation_rows_roundtrip(scalar: None) -> None:
    """quantize_rows / dequantize_rows for the activation types agree with the decoders."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 512)).astype(np.float32)
    q81 = quantize(x, QT.Q8_1)
    assert np.array_equal(q81.reshape(-1), np.concatenate([ref_q8_1(r) for r in x]))
    got = dequantize(q81, QT.Q8_1, 512)
    assert np.array_equal(got.reshape(-1), np.concatenate([decode_q8_1(r)[0] for r in q81]).astype(np.float32))
    q8k = quantize(x, QT.Q8_K)
    got = dequantize(q8k, QT.Q8_K, 512)
    assert np.array_equal(got.reshape(-1), np.concatenate([decode_q8_K(r) for r in q8k]).astype(np.float32))


# ---- dot products ----

def dequant_act(raw: np.ndarray, act: QT) -> tuple[np.ndarray, np.ndarray | None]:
    if act == QT.Q8_0:
        return gguf.quants.dequantize(raw.reshape(1, -1), QT.Q8_0).reshape(-1).astype(np.float64), None
    if act == QT.Q8_1:
        return decode_q8_1(raw)
    return decode_q8_K(raw), None


def dot_reference(w_raw: np.ndarray, qtype: QT, a_raw: np.ndarray, n: int) -> tuple[float, float]:
    """float64 sum(dequant(w) * dequant(a)) and an error bound for a float32 kernel: f32
    rounding of the per-block products and running sum, plus, for Q4_1/Q5_1, the f16
    rounding of the Q8_1 `s = d*sum(qs)` field that the kernel uses for the min term."""
    w = gguf.quants.dequantize(w_raw.reshape(1, -1), qtype).reshape(-1).astype(np.float64)
    a, s = dequant_act(a_raw, ACT_TYPE[qtype])
    prod = w * a
    ref = float(prod.sum())
    bound = 4e-6 * float(np.abs(prod).sum()) * (1 + np.log2(n))
    if s is not None:  # min term: m * s with s rounded to f16
        m = w_raw.reshape(-1, block_info(qtype)[1])[:, 2:4].copy().view(np.float16).astype(np.float64)
        bound += float(np.sum(np.abs(m.reshape(-1)) * np.abs(s))) * 2.0**-10
    return ref, bound + 1e-30


def emulate_dot(w_raw: np.ndarray, qtype: QT, a_raw: np.ndarray, n: int) -> np.float32:
    """ggml_vec_dot_<t>_<act>_generic step by step in float32: exact integer block sums,
    then the scale products in ggml's order."""
    f32 = np.float32
    bs, size = block_info(qtype)
    wb = w_raw.reshape(-1, size)
    sumf = f32(0)
    if qtype == QT.IQ4_XS:
        ab = a_raw.reshape(-1, Q8_K_BYTES)
        kv = np.array(gguf.quants.IQ4_NL.kvalues, np.int64)
        for blk, act in zip(wb, ab):
            d4d8 = f32(f32(blk[0:2].copy().view(np.float16)[0]) * act[0:4].copy().view(np.float32)[0])
            sh = int(blk[2:4].copy().view(np.uint16)[0])
            q8 = act[4:260].copy().view(np.int8).astype(np.int64)
            qs = blk[8:]
            for ib in range(8):
                ls = ((int(blk[4 + ib // 2]) >> 4 * (ib % 2)) & 15) | (((sh >> 2 * ib) & 3) << 4)
                codes = np.concatenate([qs[16 * ib:16 * ib + 16] & 15, qs[16 * ib:16 * ib + 16] >> 4])
                sumi = int(np.sum(kv[codes] * q8[32 * ib:32 * ib + 32]))
                sumf = f32(sumf + f32(f32(d4d8 * f32(ls - 32)) * f32(sumi)))
        return sumf
    ab = a_raw.reshape(-1, Q8_1_BYTES if ACT_TYPE[qtype] == QT.Q8_1 else 34)
    for blk, act in zip(wb, ab):
        da = f32(act[0:2].copy().view(np.float16)[0])
        qa = act[-32:].copy().view(np.int8).astype(np.int64)
        if qtype == QT.MXFP4:
            e = int(blk[0])
            bits = (0x00200000 << e) if e < 2 else ((e - 1) << 23)
            codes = np.concatenate([blk[1:] & 15, blk[1:] >> 4])
            sumi = int(np.sum(np.array(gguf.quants.MXFP4.kvalues, np.int64)[codes] * qa))
            d = f32(da * np.array([bits], np.uint32).view(np.float32)[0])
            sumf = f32(sumf + f32(d * f32(sumi)))
            continue
        dw = f32(blk[0:2].copy().view(np.float16)[0])
        if qtype == QT.Q8_0:
            sumi = int(np.sum(blk[2:].copy().view(np.int8).astype(np.int64) * qa))
            sumf = f32(sumf + f32(f32(sumi) * f32(dw * da)))
        elif qtype == QT.IQ4_NL:
            codes = np.concatenate([blk[2:] & 15, blk[2:] >> 4])
            sumi = int(np.sum(np.array(gguf.quants.IQ4_NL.kvalues, np.int64)[codes] * qa))
            sumf = f32(sumf + f32(f32(da * dw) * f32(sumi)))
        else:
            # integer codes from the block layout
            if qtype in (QT.Q4_0, QT.Q4_1):
                qs = blk[2:] if qtype == QT.Q4_0 else blk[4:]
                q = np.concatenate([qs & 15, qs >> 4]).astype(np.int64)
            else:
                off = 2 if qtype == QT.Q5_0 else 4
                qh = int(blk[off:off + 4].copy().view(np.uint32)[0])
                qs = blk[off + 4:]
                lo = np.concatenate([qs & 15, qs >> 4]).astype(np.int64)
                q = lo | (((qh >> np.arange(32)) & 1) << 4)
            if qtype in (QT.Q4_0, QT.Q5_0):
                sumi = int(np.sum((q - (8 if qtype == QT.Q4_0 else 16)) * qa))
                if qtype == QT.Q4_0:
                    sumf = f32(sumf + f32(f32(f32(sumi) * dw) * da))
                else:
                    sumf = f32(sumf + f32(f32(dw * da) * f32(sumi)))
            else:
                sumi = int(np.sum(q * qa))
                mw = f32(blk[2:4].copy().view(np.float16)[0])
                sa = f32(act[2:4].copy().view(np.float16)[0])
                sumf = f32(sumf + f32(f32(f32(dw * da) * f32(sumi)) + f32(mw * sa)))
    return sumf


@pytest.mark.parametrize("qtype", WEIGHT_TYPES, ids=lambda t: t.name)
def test_vec_dot_scalar(qtype: QT, scalar: None) -> None:
    rng = np.random.default_rng(500 + int(qtype))
    for n in (256, 1024):
        w = rng.standard_t(4, (4, n)).astype(np.float32)
        x = rng.standard_normal((4, n)).astype(np.float32)
        w_raw = quantize(w, qtype)
        for wr in w_raw:
            for xr in x:
                a_raw = core.quantize_act(xr, int(ACT_TYPE[qtype]))
                got = core.vec_dot_rows(wr, int(qtype), a_raw, n)
                ref, bound = dot_reference(wr, qtype, a_raw, n)
                assert abs(got - ref) <= bound, (qtype.name, n, got, ref, bound)
                assert np.float32(got) == emulate_dot(wr, qtype, a_raw, n), (qtype.name, n)


@pytest.mark.parametrize("qtype", WEIGHT_TYPES, ids=lambda t: t.name)
def test_matmul_dispatched(qtype: QT) -> None:
    """matmul (dispatched kernels, 2 threads) against float64 on the same quantized operands."""
    rng = np.random.default_rng(900 + int(qtype))
    n, out, toks = 512, 6, 3
    w_raw = quantize(rng.standard_normal((out, n)).astype(np.float32), qtype)
    x = rng.standard_normal((toks, n)).astype(np.float32)
    got = core.matmul(w_raw, int(qtype), n, x, 2)
    assert got.shape == (toks, out)
    for t in range(toks):
        a_raw = core.quantize_act(x[t], int(ACT_TYPE[qtype]))
        for o in range(out):
            ref, bound = dot_reference(w_raw[o], qtype, a_raw, n)
            assert abs(float(got[t, o]) - ref) <= bound, (qtype.name, t, o, got[t, o], ref)


# ---- IQ4 quality and the imatrix path ----

def naive_iq4(x: np.ndarray) -> np.ndarray:
    """Baseline: per 32-block d = vmax/127 (f16), nearest table level; returns dequantized."""
    kv = np.array(gguf.quants.IQ4_NL.kvalues, np.float32)
    b = x.reshape(-1, 32)
    vmax = b[np.arange(b.shape[0]), np.argmax(np.abs(b), axis=1)]
    d = (vmax / np.float32(127)).astype(np.float16).astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        idx = np.argmin(np.abs(b[:, :, None] / np.where(d == 0, 1, d)[:, :, None] - kv), axis=2)
    return (d * kv[idx]).reshape(x.shape)


@pytest.mark.parametrize("qtype", [QT.IQ4_NL, QT.IQ4_XS], ids=lambda t: t.name)
def test_iq4_beats_naive(qtype: QT) -> None:
    rng = np.random.default_rng(21)
    for x in (rng.standard_normal((16, 1024)).astype(np.float32),
              rng.standard_t(3, (16, 1024)).astype(np.float32)):
        got = dequantize(quantize(x, qtype), qtype, x.shape[1])
        rmse = np.sqrt(np.mean((got - x) ** 2))
        base = np.sqrt(np.mean((naive_iq4(x) - x) ** 2))
        assert rmse < 0.97 * base, (qtype.name, rmse, base)


@pytest.mark.parametrize("qtype", IMATRIX_TYPES, ids=lambda t: t.name)
def test_imatrix_reduces_weighted_error(qtype: QT) -> None:
    rng = np.random.default_rng(31 + int(qtype))
    n = 1024
    x = rng.standard_normal((16, n)).astype(np.float32)
    im = (rng.exponential(size=n) ** 3).astype(np.float32)  # strongly uneven importances
    plain = dequantize(quantize(x, qtype), qtype, n)
    weighted = dequantize(quantize(x, qtype, im), qtype, n)
    err_plain = float(np.sum(im * (plain - x) ** 2))
    err_weighted = float(np.sum(im * (weighted - x) ** 2))
    assert err_weighted < 0.95 * err_plain, (qtype.name, err_weighted, err_plain)
    # deterministic
    assert np.array_equal(quantize(x, qtype, im), quantize(x, qtype, im))


# ---- non-finite input ----

@pytest.mark.parametrize("qtype", WEIGHT_TYPES + [QT.Q8_1, QT.Q8_K], ids=lambda t: t.name)
def test_nonfinite_input_does_not_crash(qtype: QT) -> None:
    """NaN / Inf elements: quantization never crashes, rows decode, and blocks (super-blocks
    for IQ4_XS / Q8_K) holding only finite values are quantized exactly as in a clean row
    when no imatrix is given (the imatrix path shares sigma^2 across the row, so there a NaN
    spreads through the whole row; only absence of crashes is checked)."""
    rng = np.random.default_rng(41)
    n = 1024
    clean = rng.standard_normal((2, n)).astype(np.float32)
    x = clean.copy()
    x[0, 5] = np.nan
    x[0, 300] = np.inf
    x[1, 700] = -np.inf
    x[1, 1023] = np.nan
    raw = quantize(x, qtype)
    ref = quantize(clean, qtype)
    bs, size = block_info(qtype) if qtype != QT.Q8_1 else (32, Q8_1_BYTES)
    if qtype == QT.Q8_K:
        bs, size = 256, Q8_K_BYTES
    bad_blocks = {(0, 5 // bs), (0, 300 // bs), (1, 700 // bs), (1, 1023 // bs)}
    for r in range(2):
        for b in range(n // bs):
            if (r, b) not in bad_blocks:
                assert np.array_equal(raw[r, b * size:(b + 1) * size], ref[r, b * size:(b + 1) * size])
    dequantize(raw, qtype, n)
    if qtype in IMATRIX_TYPES:
        quantize(x, qtype, np.ones(n, np.float32))
    if qtype in ACT_TYPE:
        core.matmul(raw, int(qtype), n, x, 1)


def test_nan_codes_q8_0_q4_0() -> None:
    """Documented encodings: a NaN element takes code 0 (Q8_0: value 0; Q4_0: nibble 0, i.e.
    -8*d), as ggml's x86 casts give; the block's other elements stay finite."""
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 32)
    x[0, 31] = 2.0
    x[0, 3] = np.nan
    q8 = quantize(x, QT.Q8_0)
    assert q8[0, 2 + 3] == 0
    assert np.isfinite(dequantize(q8, QT.Q8_0, 32)).all()
    q4 = quantize(x, QT.Q4_0)
    assert q4[0, 2 + 3] & 0x0F == 0
    assert np.isfinite(dequantize(q4, QT.Q4_0, 32)).all()
