"""Decoders of the IQ lattice types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M), the
ternary types (TQ1_0, TQ2_0) and NVFP4 against gguf-py bit for bit, and against ggml's own C
dequantizers (libggml-base, as vendored by llama-cpp-python) to cross-check the generated grid
tables; TQ1_0/TQ2_0 quantizers against gguf.quants.quantize."""
from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import gguf
import numpy as np
import pytest

import xtral
from xtral import _core as core

QT = gguf.GGMLQuantizationType
ROOT = Path(__file__).resolve().parent.parent

# type -> byte offset of its f16 scale in a block (IQ1_M spreads it: handled apart)
F16_SCALE_AT = {QT.IQ2_XXS: 0, QT.IQ2_XS: 0, QT.IQ2_S: 0, QT.IQ3_XXS: 0, QT.IQ3_S: 0,
                QT.IQ1_S: 0, QT.TQ1_0: 52, QT.TQ2_0: 64}
DEQUANT_TYPES = list(F16_SCALE_AT) + [QT.IQ1_M, QT.NVFP4]
# 0, -0, subnormals, 1, 65504, -65504, +-Inf, quiet and signalling NaN
SPECIAL_F16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x83FF, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
               0x7E00, 0xFE00, 0x7C01, 0x0400]


def sizes(qtype: QT) -> tuple[int, int]:
    return gguf.GGML_QUANT_SIZES[qtype]


def assert_same_floats(got: np.ndarray, want: np.ndarray) -> None:
    """Bit-for-bit equality; NaNs must sit at the same positions (payloads not compared)."""
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    assert got.shape == want.shape
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_g, nan_w), \
        f"NaN positions differ at {np.argwhere(nan_g != nan_w)[:5]}"
    gb, wb = got.view(np.uint32)[~nan_g], want.view(np.uint32)[~nan_w]
    bad = np.flatnonzero(gb != wb)
    assert bad.size == 0, \
        f"{bad.size} values differ: {got[~nan_g][bad[:4]]} vs {want[~nan_w][bad[:4]]}"


def gguf_dequantize(raw: np.ndarray, qtype: QT, n: int) -> np.ndarray:
    with np.errstate(all="ignore"):  # NaN/Inf scale fields are part of the tests
        return gguf.quants.dequantize(np.ascontiguousarray(raw), qtype).reshape(-1, n)


def set_iq1m_scale(blocks: np.ndarray, f16: np.ndarray) -> None:
    """Writes f16 bit patterns into IQ1_M's scale field: the top nibble of each of the 4 LE u16
    at bytes 48..55 (nibble k holds bits 4k..4k+3), keeping the 3-bit sub-block scales."""
    sc = blocks[:, 48:56].copy().view("<u2")
    for k in range(4):
        sc[:, k] = (sc[:, k] & 0x0FFF) | (((f16 >> (4 * k)) & 0xF) << 12).astype(np.uint16)
    blocks[:, 48:56] = sc.view(np.uint8)


def crafted_blocks(qtype: QT, rng: np.random.Generator) -> np.ndarray:
    """Random payload blocks whose scale fields walk through the special values (f16) or all
    256 bytes (NVFP4's UE4M3 scales), plus random ones."""
    _, ts = sizes(qtype)
    if qtype == QT.NVFP4:
        blocks = rng.integers(0, 256, size=(64 + 16, ts), dtype=np.uint8)
        blocks[:64, :4] = np.arange(256, dtype=np.uint8).reshape(64, 4)
        blocks[64:, :4] = np.arange(256, dtype=np.uint8)[::-1].reshape(64, 4)[:16]
        return blocks
    special = np.array(SPECIAL_F16, dtype=np.uint16)
    nspec = special.size
    blocks = rng.integers(0, 256, size=(2 * nspec + 8, ts), dtype=np.uint8)
    scales = np.concatenate([special, special,
                             rng.integers(0x2000, 0x5000, size=8).astype(np.uint16)])
    if qtype == QT.IQ1_M:
        set_iq1m_scale(blocks, scales)
    else:
        at = F16_SCALE_AT[qtype]
        blocks[:, at:at + 2] = scales.astype("<u2").view(np.uint8).reshape(-1, 2)
    return blocks


@pytest.mark.parametrize("qtype", DEQUANT_TYPES, ids=lambda t: t.name)
def test_dequantize_matches_gguf(qtype: QT) -> None:
    bs, ts = sizes(qtype)
    rng = np.random.default_rng(1234 + int(qtype))
    blocks = crafted_blocks(qtype, rng)
    nb = blocks.shape[0]
    for per_row in (1, nb // 2):  # single-block rows and multi-block rows
        rows = nb // per_row
        raw = np.ascontiguousarray(blocks[:rows * per_row]).reshape(rows, per_row * ts)
        got = core.dequantize_rows(raw, int(qtype), per_row * bs)
        assert_same_floats(got, gguf_dequantize(raw, qtype, per_row * bs))


@pytest.mark.parametrize("qtype", DEQUANT_TYPES, ids=lambda t: t.name)
def test_dequantize_matches_ggml_c(qtype: QT) -> None:
    """Same bits as ggml's dequantize_row_<type> (its own grid tables, not gguf-py's)."""
    import llama_cpp  # a test dependency: missing it fails the test

    lib_path = Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    if not lib_path.exists():
        pytest.fail(f"{lib_path} missing")
    lib = ctypes.CDLL(str(lib_path))
    fn = getattr(lib, "dequantize_row_" + qtype.name.lower())
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    bs, ts = sizes(qtype)
    rng = np.random.default_rng(99 + int(qtype))
    nb = 2048 if qtype != QT.NVFP4 else 512  # enough to touch every grid row many times
    raw = rng.integers(0, 256, size=nb * ts, dtype=np.uint8)
    blocks = raw.reshape(nb, ts)
    if qtype == QT.NVFP4:
        blocks[:64, :4] = np.arange(256, dtype=np.uint8).reshape(64, 4)
    else:  # finite, moderate scales so that every grid value shows in the output
        scales = rng.integers(0x3000, 0x4400, size=nb).astype(np.uint16)
        if qtype == QT.IQ1_M:
            set_iq1m_scale(blocks, scales)
        else:
            at = F16_SCALE_AT[qtype]
            blocks[:, at:at + 2] = scales.astype("<u2").view(np.uint8).reshape(-1, 2)
    want = np.zeros(nb * bs, dtype=np.float32)
    fn(raw.ctypes.data, want.ctypes.data, nb * bs)
    got = core.dequantize_rows(raw.reshape(1, -1), int(qtype), nb * bs)[0]
    assert_same_floats(got, want)


def test_tables_header_is_generated() -> None:
    """csrc/quant/iq_tables.h is what gen_iq_tables.py writes from the installed gguf-py."""
    path = ROOT / "csrc" / "quant" / "gen_iq_tables.py"
    spec = importlib.util.spec_from_file_location("gen_iq_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (ROOT / "csrc" / "quant" / "iq_tables.h").read_text() == mod.render()


def tq_rows(dist: str, rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if dist == "gauss":
        x = rng.standard_normal((rows, n))
    elif dist == "t3":
        x = rng.standard_t(3, size=(rows, n))
    elif dist == "zeros":
        x = np.zeros((rows, n))
    else:  # ternary-ish: exact halves and thirds of the absmax, ties included
        x = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25, -0.75], size=(rows, n)) * 3.0
    return np.ascontiguousarray(x, dtype=np.float32)


@pytest.mark.parametrize("qtype", [QT.TQ1_0, QT.TQ2_0], ids=lambda t: t.name)
@pytest.mark.parametrize("dist", ["gauss", "t3", "zeros", "ties"])
def test_tq_quantize_matches_gguf(qtype: QT, dist: str) -> None:
    rng = np.random.default_rng(7)
    x = tq_rows(dist, 6, 4 * 256, rng)
    if dist != "zeros":
        x[1, :256] = 0.0                    # one all-zero block in a non-zero row
        x[2] *= np.float32(1e-6)            # small scales
        x[3] *= np.float32(3e4)             # scale near the f16 limit
    got = core.quantize_rows(x, int(qtype), None)
    with np.errstate(over="ignore"):  # row 3's absmax can round to f16 Inf: both agree
        want = gguf.quants.quantize(x, qtype)
    assert got.dtype == np.uint8 and np.array_equal(got, want)
    # and the decode of our bytes is gguf-py's decode
    assert_same_floats(core.dequantize_rows(got, int(qtype), x.shape[1]),
                       gguf_dequantize(want, qtype, x.shape[1]))


def test_quant_types_lists_new_types() -> None:
    rows = {r["name"]: r for r in xtral.quant_types()}
    for qtype in DEQUANT_TYPES:
        r = rows[qtype.name]
        assert r["can_dequantize"], qtype.name
        assert r["can_quantize"] == (qtype in (QT.TQ1_0, QT.TQ2_0)), qtype.name
        assert not r["has_matmul"], qtype.name


@pytest.mark.parametrize("qtype", DEQUANT_TYPES, ids=lambda t: t.name)
def test_public_dequantize(qtype: QT) -> None:
    bs, ts = sizes(qtype)
    rng = np.random.default_rng(5)
    shape = (3, 2 * 256)
    raw = rng.integers(0, 256, size=shape[0] * (shape[1] // bs) * ts, dtype=np.uint8)
    rb = raw.reshape(-1, ts)
    if qtype == QT.IQ1_M:
        set_iq1m_scale(rb, np.full(rb.shape[0], 0x3C00, dtype=np.uint16))
    elif qtype != QT.NVFP4:
        at = F16_SCALE_AT[qtype]
        rb[:, at:at + 2] = np.frombuffer(np.uint16(0x3C00).tobytes(), np.uint8)
    got = xtral.dequantize(raw.tobytes(), qtype.name, shape)
    assert got.shape == shape and got.dtype == np.float32
    assert_same_floats(got, gguf_dequantize(raw, qtype, shape[1]).reshape(shape))
