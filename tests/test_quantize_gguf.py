"""quantize_gguf: per-tensor type choice against llama.cpp's llama_model_quantize (through
llama-cpp-python) on small synthetic llama-shaped files, output bytes decoded by `gguf`,
metadata kept with its types, and bad input turned into named exceptions.

`make_llama_gguf` is also used by test_quant_vs_llamacpp.py.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pytest

import gguf
import xtral
from xtral import _core
from xtral.quantize_gguf import FILE_TYPES, QuantizeReport, quantize_gguf

import llama_cpp  # the reference: llama.cpp's own quantizer (a test dependency)



# ---- synthetic llama-shaped models ----

def _weights(rng: np.random.Generator, shape: tuple[int, ...], dist: str) -> np.ndarray:
    if dist == "t3":
        x = rng.standard_t(3, size=shape)
    else:
        x = rng.standard_normal(size=shape)
    return (0.02 * x).astype(np.float32)


def make_llama_gguf(path: Path, *, n_layer: int = 8, n_embd: int = 256, n_ff: int = 512,
                    n_head: int = 4, n_head_kv: int = 1, n_vocab: int = 320,
                    tied: bool = False, odd: bool = True, dist: str = "gauss", seed: int = 0,
                    rows: int | None = None, n_expert: int = 0,
                    overrides: dict[str, np.ndarray] | None = None,
                    extra_meta: dict[str, Any] | None = None) -> Path:
    """A float32 GGUF that llama.cpp's quantizer accepts as a llama model.

    Shapes are NumPy order (rows, columns). ``odd`` adds ``blk.0.odd.weight`` with rows of 72
    columns (not a whole number of 32-blocks: F16 fallback). ``overrides`` replaces tensors by
    name (same shape). ``rows`` gives every matrix that many rows (type choices depend only on
    names and row lengths: a thin model makes llama.cpp's runs quick). ``n_expert`` > 0 makes
    the feed-forward a mixture of experts (3-D ``ffn_*_exps`` tensors and a router)."""
    rng = np.random.default_rng(seed)
    head_dim = n_embd // n_head
    kv = n_head_kv * head_dim
    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": _weights(rng, (n_vocab, n_embd), dist),
        "output_norm.weight": np.ones(n_embd, np.float32),
    }
    if not tied:
        tensors["output.weight"] = _weights(rng, (n_vocab, n_embd), dist)
    for i in range(n_layer):
        p = f"blk.{i}."
        tensors[p + "attn_norm.weight"] = (1 + 0.1 * rng.standard_normal(n_embd)).astype(
            np.float32)
        tensors[p + "attn_q.weight"] = _weights(rng, (n_embd, n_embd), dist)
        tensors[p + "attn_k.weight"] = _weights(rng, (kv, n_embd), dist)
        tensors[p + "attn_v.weight"] = _weights(rng, (kv, n_embd), dist)
        tensors[p + "attn_output.weight"] = _weights(rng, (n_embd, n_embd), dist)
        tensors[p + "ffn_norm.weight"] = np.ones(n_embd, np.float32)
        if n_expert:
            tensors[p + "ffn_gate_inp.weight"] = _weights(rng, (n_expert, n_embd), dist)
            tensors[p + "ffn_gate_exps.weight"] = _weights(rng, (n_expert, n_ff, n_embd), dist)
            tensors[p + "ffn_up_exps.weight"] = _weights(rng, (n_expert, n_ff, n_embd), dist)
            tensors[p + "ffn_down_exps.weight"] = _weights(rng, (n_expert, n_embd, n_ff), dist)
        else:
            tensors[p + "ffn_gate.weight"] = _weights(rng, (n_ff, n_embd), dist)
            tensors[p + "ffn_up.weight"] = _weights(rng, (n_ff, n_embd), dist)
            tensors[p + "ffn_down.weight"] = _weights(rng, (n_embd, n_ff), dist)
    if odd:
        tensors["blk.0.odd.weight"] = _weights(rng, (8, 72), dist)
    if rows is not None:
        tensors = {n: (v[..., :rows, :] if v.ndim >= 2 else v) for n, v in tensors.items()}
    for name, value in (overrides or {}).items():
        assert tensors[name].shape == value.shape, name
        tensors[name] = np.ascontiguousarray(value, dtype=np.float32)
    meta: dict[str, Any] = {
        "general.architecture": "llama",
        "general.name": "synthetic",
        "general.file_type": xtral.GGUFValue(0, "uint32"),
        "llama.context_length": xtral.GGUFValue(256, "uint32"),
        "llama.embedding_length": xtral.GGUFValue(n_embd, "uint32"),
        "llama.block_count": xtral.GGUFValue(n_layer, "uint32"),
        "llama.feed_forward_length": xtral.GGUFValue(n_ff, "uint32"),
        "llama.attention.head_count": xtral.GGUFValue(n_head, "uint32"),
        "llama.attention.head_count_kv": xtral.GGUFValue(n_head_kv, "uint32"),
        "llama.attention.layer_norm_rms_epsilon": xtral.GGUFValue(1e-5, "float32"),
        "llama.rope.dimension_count": xtral.GGUFValue(head_dim, "uint32"),
        "llama.vocab_size": xtral.GGUFValue(n_vocab, "uint32"),
        "test.u8": xtral.GGUFValue(7, "uint8"),
        "test.i16_array": xtral.GGUFValue([1, -2, 3], "array", "int16"),
        "test.strings": ["a", "b c"],
        "test.f64": xtral.GGUFValue(1.5, "float64"),
        "test.flag": True,
    }
    if n_expert:
        meta["llama.expert_count"] = xtral.GGUFValue(n_expert, "uint32")
        meta["llama.expert_used_count"] = xtral.GGUFValue(2, "uint32")
    meta.update(extra_meta or {})
    xtral.write_gguf(path, meta, tensors)
    return path


# ---- llama.cpp as the reference ----

LLAMA_FTYPE = {name: num for name, (num, _t) in FILE_TYPES.items()}


def llama_quantize(src: Path, dst: Path, qtype: str, *, pure: bool = False,
                   imatrix: dict[str, np.ndarray] | None = None,
                   allow_requantize: bool = False) -> None:
    """llama.cpp's llama_model_quantize on `src` (quiet; raises on failure)."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = LLAMA_FTYPE[qtype]
    params.pure = pure
    params.allow_requantize = allow_requantize
    params.nthread = 2
    keep: list[Any] = []
    if imatrix is not None:
        entries = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, values) in enumerate(imatrix.items()):
            arr = np.ascontiguousarray(values, dtype=np.float32)
            keep.append(arr)
            entries[i].name = name.encode()
            entries[i].data = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            entries[i].size = arr.size
        entries[len(imatrix)].name = None
        keep.append(entries)
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    _quiet_llama()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(),
                                        ctypes.byref(params))
    assert rc == 0, f"llama_model_quantize({qtype}) failed with {rc}"


_LOG_CB: Any = None


def _quiet_llama() -> None:
    """Route llama.cpp's log lines to nowhere (once)."""
    global _LOG_CB
    if _LOG_CB is None:
        _LOG_CB = llama_cpp.llama_log_callback(lambda level, text, user: None)
        llama_cpp.llama_log_set(_LOG_CB, ctypes.c_void_p(0))


def gguf_types(path: Path) -> dict[str, str]:
    reader = gguf.GGUFReader(path)
    return {t.name: t.tensor_type.name for t in reader.tensors}


def can_quantize(*names: str) -> bool:
    return all(_core.quant_traits(xtral.dtype_info(n)["id"])["can_quantize"] for n in names)


def needs_types(report_types: Iterable[str]) -> None:
    missing = sorted({t for t in report_types if not can_quantize(t)})
    if missing:
        pytest.fail(f"no xtral quantizer for {missing}")


# ---- fixtures ----

@pytest.fixture(scope="module")
def gqa_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 layers, GQA 4, separate output.weight, K-quant friendly widths + one odd tensor."""
    return make_llama_gguf(tmp_path_factory.mktemp("q") / "gqa.gguf")


@pytest.fixture(scope="module")
def gqa_thin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gqa_model's names and row lengths, 4 rows per matrix."""
    return make_llama_gguf(tmp_path_factory.mktemp("q") / "gqa-thin.gguf", rows=4)


@pytest.fixture(scope="module")
def tied_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 layers, no GQA, tied embeddings, ffn rows of 288 (fallback for 256-blocks); 4 rows
    per matrix."""
    return make_llama_gguf(tmp_path_factory.mktemp("q") / "tied.gguf", n_layer=16,
                           n_embd=256, n_ff=288, n_head=4, n_head_kv=4, tied=True,
                           n_vocab=256, seed=1, rows=4)


@pytest.fixture(scope="module")
def moe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 layers with 4 experts of 16 rows each (3-D tensors), GQA 4."""
    return make_llama_gguf(tmp_path_factory.mktemp("q") / "moe.gguf", n_layer=4, n_expert=4,
                           n_ff=256, rows=16, seed=2)


# ---- mix rules without llama.cpp (expected values worked out from llama-quant.cpp) ----

def plan(path: Path, qtype: str, **kw: Any) -> dict[str, str]:
    return quantize_gguf(path, None, qtype, dry_run=True, progress=False, **kw).types


def test_mix_q4_k_m_rules(gqa_model: Path) -> None:
    t = plan(gqa_model, "Q4_K_M")
    more = {0, 3, 6, 7}  # use_more_bits(i, 8)
    for i in range(8):
        assert t[f"blk.{i}.attn_v.weight"] == ("Q6_K" if i in more else "Q4_K")
        assert t[f"blk.{i}.ffn_down.weight"] == ("Q6_K" if i in more else "Q4_K")
        for n in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
            assert t[f"blk.{i}.{n}.weight"] == "Q4_K"
        assert t[f"blk.{i}.attn_norm.weight"] == "F32"
    assert t["output.weight"] == "Q6_K"
    assert t["token_embd.weight"] == "Q4_K"  # untied: embeddings follow the mix
    assert t["output_norm.weight"] == "F32"
    assert t["blk.0.odd.weight"] == "F16"  # 72 columns: no 256- nor 32-block fits


def test_mix_tied_and_fallback(tied_model: Path) -> None:
    t = plan(tied_model, "Q4_0")
    assert t["token_embd.weight"] == "Q6_K"  # tied embeddings take the output rule
    assert t["blk.0.ffn_down.weight"] == "Q4_0"
    t = plan(tied_model, "Q4_K_S")
    assert t["blk.3.attn_v.weight"] == "Q5_K" and t["blk.4.attn_v.weight"] == "Q4_K"
    assert t["blk.0.ffn_down.weight"] == "Q5_1"  # Q5_K for i < 16/8, 288 columns -> Q5_1
    assert t["blk.5.ffn_down.weight"] == "Q5_0"  # Q4_K -> Q5_0
    t = plan(tied_model, "Q3_K_M")
    assert t["blk.0.attn_v.weight"] == "Q5_K" and t["blk.2.attn_v.weight"] == "Q4_K"
    assert t["blk.0.ffn_down.weight"] == "Q5_1" and t["blk.1.ffn_down.weight"] == "Q5_0"
    assert t["blk.0.attn_output.weight"] == "Q4_K"
    t = plan(tied_model, "Q6_K")
    assert t["blk.0.ffn_down.weight"] == "Q8_0" and t["blk.0.ffn_up.weight"] == "Q6_K"


def test_mix_imatrix_and_pure(gqa_model: Path) -> None:
    im = {"blk.0.ffn_down.weight": np.ones(512, np.float32)}
    assert plan(gqa_model, "Q4_0")["blk.0.ffn_down.weight"] == "Q4_0"
    assert plan(gqa_model, "Q4_0", imatrix=im)["blk.0.ffn_down.weight"] == "Q4_1"
    t = plan(gqa_model, "Q4_K_M", pure=True)
    assert {t[n] for n in t if n.endswith("weight") and "norm" not in n and "odd" not in n} \
        == {"Q4_K"}
    assert plan(gqa_model, "F16")["blk.0.attn_q.weight"] == "F16"
    assert plan(gqa_model, "F16")["blk.0.odd.weight"] == "F16"
    assert plan(gqa_model, "MXFP4_MOE")["blk.0.attn_q.weight"] == "Q8_0"


# ---- the same choices as llama.cpp ----

MIXES = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M",
         "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
         "IQ3_S", "IQ3_M", "MXFP4_MOE"]
# With an importance matrix (some need one; some choose differently with one).
MIXES_IMATRIX = ["Q4_0", "Q5_0", "IQ4_NL", "IQ4_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ2_M"]


def ones_imatrix(path: Path) -> dict[str, np.ndarray]:
    """An all-ones importance vector for every matrix of `path` (one per expert)."""
    with xtral.GGUFFile(path) as f:
        return {n: np.ones(t.shape[-1] * (t.shape[0] if len(t.shape) == 3 else 1), np.float32)
                for n, t in f.tensors.items() if len(t.shape) >= 2}


@pytest.mark.parametrize("model", ["gqa_thin", "tied_model", "moe_model"])
def test_types_match_llama_cpp(model: str, request: pytest.FixtureRequest,
                               tmp_path: Path) -> None:
    """Every mix's per-tensor types (our dry run) equal those of llama_model_quantize's file."""
    src = request.getfixturevalue(model)
    im = ones_imatrix(src)
    failures = []
    for qtype, imatrix in [(q, None) for q in MIXES] + [(q, im) for q in MIXES_IMATRIX]:
        ref = tmp_path / f"ref-{qtype}.gguf"
        llama_quantize(src, ref, qtype, imatrix=imatrix)
        want = gguf_types(ref)
        got = plan(src, qtype, imatrix=imatrix)
        diff = {n: (got.get(n), want.get(n)) for n in set(want) | set(got)
                if got.get(n) != want.get(n)}
        if diff:
            failures.append((qtype, imatrix is not None, diff))
        ref.unlink()
    assert not failures, failures


@pytest.mark.parametrize("qtype", ["Q4_0", "Q8_0", "Q4_K_M", "Q3_K_M", "Q2_K", "IQ4_XS",
                                   "F16"])
def test_file_like_llama_cpp(qtype: str, gqa_model: Path, tmp_path: Path) -> None:
    """Same tensor order, types, metadata keys and general.* values as llama.cpp's file; in
    fact the same bytes, header and all."""
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    report = quantize_gguf(gqa_model, ours, qtype, progress=False)
    needs_types(report.types.values())
    llama_quantize(gqa_model, ref, qtype)
    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(ref)
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    assert [t.tensor_type for t in a.tensors] == [t.tensor_type for t in b.tensors]
    assert list(a.fields) == list(b.fields)
    for key in ("general.file_type", "general.quantization_version"):
        assert a.fields[key].types == b.fields[key].types
        assert a.fields[key].contents() == b.fields[key].contents()
    assert ours.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("qtype", ["MXFP4_MOE", "Q4_K_M", "IQ4_XS"])
def test_experts_like_llama_cpp(qtype: str, moe_model: Path, tmp_path: Path) -> None:
    """3-D expert tensors with a different importance vector per expert: same file as
    llama.cpp (minus our quantize.imatrix.entries_count key, which its library API leaves to
    the command-line tool)."""
    rng = np.random.default_rng(5)
    im = {n: (rng.gamma(0.5, size=v.size) + 1e-3).astype(np.float32)
          for n, v in ones_imatrix(moe_model).items()}
    ours, ref = tmp_path / "ours.gguf", tmp_path / "ref.gguf"
    report = quantize_gguf(moe_model, ours, qtype, imatrix=im, progress=False)
    needs_types(report.types.values())
    llama_quantize(moe_model, ref, qtype, imatrix=im)
    a, b = gguf.GGUFReader(ours), gguf.GGUFReader(ref)
    assert list(a.fields) == list(b.fields) + ["quantize.imatrix.entries_count"]
    for ta, tb in zip(a.tensors, b.tensors, strict=True):
        assert (ta.name, ta.tensor_type) == (tb.name, tb.tensor_type)
        assert np.array_equal(np.asarray(ta.data).view(np.uint8),
                              np.asarray(tb.data).view(np.uint8)), ta.name
    if qtype == "MXFP4_MOE":
        assert report.types["blk.0.ffn_up_exps.weight"] == "MXFP4"
        assert report.types["blk.0.attn_q.weight"] == "Q8_0"
        assert report.types["blk.0.ffn_gate_inp.weight"] == "F32"


# ---- our output decodes with gguf as xtral decodes it ----

@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0", "Q5_1", "Q4_K_M", "Q3_K_M", "Q2_K",
                                   "IQ4_XS", "BF16"])
def test_output_decodes_with_gguf(qtype: str, gqa_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    needs_types(plan(gqa_model, qtype).values())
    report = quantize_gguf(gqa_model, out, qtype, progress=False, threads=2)
    assert isinstance(report, QuantizeReport)
    src = xtral.GGUFFile(gqa_model)
    reader = gguf.GGUFReader(out)
    assert len(reader.tensors) == len(src.tensors)
    for t in reader.tensors:
        assert t.tensor_type.name == report.types[t.name]
        raw = np.asarray(t.data)
        ref = gguf.quants.dequantize(raw, t.tensor_type).astype(np.float32)
        shape = tuple(int(s) for s in reversed(t.shape))
        n = shape[-1]
        if t.tensor_type.name == "F32":
            ours = np.asarray(raw, np.float32).reshape(-1, n)
        else:
            ours = _core.dequantize_rows(np.ascontiguousarray(raw).view(np.uint8).tobytes(),
                                         int(t.tensor_type), n)
        np.testing.assert_array_equal(ref.reshape(-1, n).view(np.uint32),
                                      ours.view(np.uint32), err_msg=t.name)
        # and it is close to the float source
        x = np.asarray(src.tensor(t.name), np.float32).reshape(-1, n)
        rel = np.linalg.norm(ours - x) / max(np.linalg.norm(x), 1e-30)
        assert rel < 0.6, (t.name, rel)


def test_metadata_preserved(gqa_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    quantize_gguf(gqa_model, out, "Q8_0", progress=False)
    a, b = xtral.GGUFFile(gqa_model), xtral.GGUFFile(out)
    ta, tb = a.metadata_types, b.metadata_types
    for key, value in a.metadata.items():
        if key in ("general.file_type", "general.quantization_version"):
            continue
        assert tb[key] == ta[key], key
        np.testing.assert_array_equal(np.asarray(b.metadata[key], dtype=object),
                                      np.asarray(value, dtype=object), err_msg=key)
    assert b.metadata["general.file_type"] == 7 and tb["general.file_type"] == "uint32"
    assert b.metadata["general.quantization_version"] == 2
    assert tb["general.quantization_version"] == "uint32"
    assert list(b.metadata)[-2:] == ["general.quantization_version", "general.file_type"]


def test_imatrix_keys_and_copy(gqa_model: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.gguf"
    quantize_gguf(gqa_model, first, "Q8_0", progress=False)
    # Q8_0 -> Q8_0 copies every quantized tensor byte for byte
    second = tmp_path / "b.gguf"
    im = {"blk.0.attn_q.weight": np.ones(256, np.float32)}
    report = quantize_gguf(first, second, "Q8_0", imatrix=im, progress=False)
    assert {t.action for t in report.tensors} == {"copy"}
    a, b = xtral.GGUFFile(first), xtral.GGUFFile(second)
    for name in a.tensors:
        assert bytes(a.tensor_bytes(name)) == bytes(b.tensor_bytes(name)), name
    assert b.metadata["quantize.imatrix.entries_count"] == 1
    assert b.metadata_types["quantize.imatrix.entries_count"] == "uint32"


def test_requantize_from_quantized(gqa_model: Path, tmp_path: Path) -> None:
    """A Q8_0 source is decoded with xtral and re-encoded: same as quantizing the decoded
    floats directly."""
    q8, q4 = tmp_path / "q8.gguf", tmp_path / "q4.gguf"
    quantize_gguf(gqa_model, q8, "Q8_0", progress=False)
    quantize_gguf(q8, q4, "Q4_0", progress=False)
    src, out = xtral.GGUFFile(q8), xtral.GGUFFile(q4)
    name = "blk.1.ffn_up.weight"
    x = _core.dequantize_rows(bytes(src.tensor_bytes(name)), 8, 256)
    assert bytes(out.tensor_bytes(name)) == _core.quantize_rows(x, 2).tobytes()


# ---- bad input ----

def test_bad_input(gqa_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.gguf"
    with pytest.raises(ValueError, match="Q4_K_M"):
        quantize_gguf(gqa_model, out, "Q4_K_X")
    with pytest.raises(ValueError, match="differ"):
        quantize_gguf(gqa_model, gqa_model, "Q8_0")
    with pytest.raises(FileNotFoundError):
        quantize_gguf(tmp_path / "missing.gguf", out, "Q8_0")
    bad = {"blk.2.attn_k.weight": np.ones(100, np.float32)}
    with pytest.raises(ValueError, match=r"blk\.2\.attn_k\.weight.*100.*256"):
        quantize_gguf(gqa_model, out, "Q4_0", imatrix=bad, progress=False)
    with pytest.raises(ValueError, match="non-finite"):
        quantize_gguf(gqa_model, out, "Q4_0", imatrix={"x": np.array([np.nan])})
    with pytest.raises(ValueError, match="threads"):
        quantize_gguf(gqa_model, out, "Q4_0", threads=0)
    with pytest.raises(ValueError, match="importance matrix"):
        quantize_gguf(gqa_model, out, "Q2_K_S", progress=False)
    assert not out.exists()
    # token_embd with a wrong-length entry is quantized without it, as in llama.cpp
    ok = {"token_embd.weight": np.ones(3, np.float32)}
    quantize_gguf(gqa_model, out, "Q8_0", imatrix=ok, progress=False)
    assert out.exists()


def test_package_attribute_stays_callable(gqa_model: Path, tmp_path: Path) -> None:
    report = xtral.quantize_gguf(gqa_model, tmp_path / "o.gguf", "Q8_0", progress=False)
    assert report.types["blk.0.attn_q.weight"] == "Q8_0"
    assert os.path.getsize(tmp_path / "o.gguf") < os.path.getsize(gqa_model)
