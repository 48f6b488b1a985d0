"""LoRA adapters against PEFT (fixtures made by tests/data/make_adapter_fixtures.py with torch +
peft): one adapter (plain, rsLoRA, rank/alpha patterns), a user scale, several adapters with
weights (PEFT add_weighted_adapter "cat"), on the Hugging Face folder and on the GGUF copy of
each base (llama's GGUF Q/K rows are permuted: the adapter's must follow); llama.cpp's GGUF
adapter layout (written like convert_lora_to_gguf.py) equals the PEFT folder; merge/unmerge on
F32 and F16 weights; per-call adapter selection."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gguf
import xtral

DATA = Path(__file__).parent / "data"
AD = DATA / "adapters"
ARCHS = ["llama", "qwen2", "gemma3"]
BASES = ["hf", "model.gguf"]
LORAS = ["lora_a", "lora_b", "lora_c"]
TOL = 1e-4


def expected(arch: str) -> dict[str, np.ndarray]:
    path = AD / arch / "expected.npz"
    assert path.is_file(), f"{path}: committed fixtures are missing"
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def load(arch: str, base: str) -> xtral.Model:
    return xtral.Model.load(DATA / "models" / arch / base, threads=2, kv_type="f32", n_ctx=64)


def run(m: xtral.Model, tokens: np.ndarray) -> np.ndarray:
    m.reset()
    return m.forward(tokens, all_logits=True)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("arch", ARCHS)
def test_single_adapters_match_peft(arch: str, base: str) -> None:
    z = expected(arch)
    with load(arch, base) as m:
        plain = run(m, z["tokens"])
        for name in LORAS:
            m.add_adapter(xtral.Adapter.load(AD / arch / name))
            m.set_adapters([name])
            got = run(m, z["tokens"])
            np.testing.assert_allclose(got, z[name], rtol=0, atol=TOL, err_msg=name)
            assert np.abs(got - plain).max() > 0.1  # the adapter does change the output
            # prefill + decode: the low-rank term also applies to single-token steps
            m.reset()
            part = [m.forward(z["tokens"][:10], all_logits=True)]
            part += [m.forward(z["tokens"][i:i + 1])[None] for i in range(10, len(z["tokens"]))]
            np.testing.assert_allclose(np.concatenate(part), z[name], rtol=0, atol=TOL)
        # a user scale multiplies each module's scaling (llama.cpp --lora-scaled)
        for name in LORAS:
            m.remove_adapter(name)
            m.add_adapter(xtral.Adapter.load(AD / arch / name), name=name, scale=0.5)
            m.set_adapters(name)
            np.testing.assert_allclose(run(m, z["tokens"]), z[f"{name}_scale"], rtol=0, atol=TOL)
        m.set_adapters([])
        np.testing.assert_array_equal(run(m, z["tokens"]), plain)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("arch", ARCHS)
def test_weighted_adapters_match_peft(arch: str, base: str) -> None:
    z = expected(arch)
    w = [float(v) for v in z["mix_weights"]]
    with load(arch, base) as m:
        for name in LORAS:
            m.add_adapter(xtral.Adapter.load(AD / arch / name))
        m.set_adapters(["lora_a", "lora_c"], w)
        assert m.active_adapters() == pytest.approx({"lora_a": w[0], "lora_c": w[1]})
        np.testing.assert_allclose(run(m, z["tokens"]), z["mix"], rtol=0, atol=TOL)
        m.set_adapters({"lora_c": w[1], "lora_a": w[0]})  # order does not matter
        np.testing.assert_allclose(run(m, z["tokens"]), z["mix"], rtol=0, atol=TOL)


def test_forward_adapters_argument_is_per_call() -> None:
    z = expected("qwen2")
    with load("qwen2", "hf") as m:
        for name in LORAS:
            m.add_adapter(xtral.Adapter.load(AD / "qwen2" / name))
        m.set_adapters("lora_b")
        m.reset()
        got = m.forward(z["tokens"], all_logits=True, adapters=["lora_c"])
        np.testing.assert_allclose(got, z["lora_c"], rtol=0, atol=TOL)
        assert m.active_adapters() == {"lora_b": 1.0}
        np.testing.assert_allclose(run(m, z["tokens"]), z["lora_b"], rtol=0, atol=TOL)


@pytest.mark.parametrize("base", BASES)
def test_gguf_lora_equals_peft_folder(base: str) -> None:
    """llama.cpp's adapter layout (Q/K lora_b rows permuted at conversion) gives the PEFT
    folder's logits on either base (the HF folder: rows are un-permuted at attach)."""
    z = expected("llama")
    gg = xtral.Adapter.load(AD / "llama" / "lora_a.gguf")
    assert gg.info["gguf"] and gg.info["architecture"] == "llama"
    with load("llama", base) as m:
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"), name="folder")
        m.set_adapters("folder")
        folder = run(m, z["tokens"])
        m.add_adapter(gg, name="gguf")
        m.set_adapters("gguf")
        got = run(m, z["tokens"])
    np.testing.assert_allclose(got, z["lora_a"], rtol=0, atol=TOL)
    np.testing.assert_allclose(got, folder, rtol=0, atol=1e-5)


def f16_copy(src: Path, dst: Path) -> Path:
    """The GGUF with every 2-D weight stored as F16 (written by the gguf package)."""
    r = gguf.GGUFReader(src)
    arch = str(bytes(r.fields["general.architecture"].parts[-1]), "utf-8")
    w = gguf.GGUFWriter(dst, arch)
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            sub = f.types[-1]
            vals = [f.parts[i] for i in f.data]
            if sub == gguf.GGUFValueType.STRING:
                w.add_array(f.name, [str(bytes(v), "utf-8") for v in vals])
            else:
                w.add_array(f.name, [v.tolist()[0] for v in vals])
        elif vt == gguf.GGUFValueType.STRING:
            w.add_string(f.name, str(bytes(f.parts[-1]), "utf-8"))
        else:
            w.add_key_value(f.name, f.parts[-1].tolist()[0], vt)
    for t in r.tensors:
        a = np.array(t.data).reshape([int(x) for x in reversed(t.shape)])
        w.add_tensor(t.name, a.astype(np.float16) if a.ndim == 2 else a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_merge_then_unmerge_restores(dtype: str, tmp_path: Path) -> None:
    z = expected("llama")
    path = DATA / "models" / "llama" / "model.gguf"
    if dtype == "f16":
        path = f16_copy(path, tmp_path / "f16.gguf")
    with xtral.Model.load(path, threads=2, kv_type="f32", n_ctx=64) as m:
        base = run(m, z["tokens"])
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_b"))
        unmerged = run(m, z["tokens"])
        m.merge_adapter("lora_b")
        assert m.adapters["lora_b"]["merged"] and m.active_adapters() == {}
        merged = run(m, z["tokens"])
        # F32: merged weights differ from W + s*B*A only by float32 rounding
        np.testing.assert_allclose(merged, unmerged, rtol=0, atol=1e-4 if dtype == "f32" else 0.05)
        if dtype == "f32":
            np.testing.assert_allclose(merged, z["lora_b"], rtol=0, atol=TOL)
        with pytest.raises(ValueError, match="merged"):
            m.set_adapters("lora_b")
        m.unmerge_adapter("lora_b")
        assert not m.adapters["lora_b"]["merged"]
        np.testing.assert_array_equal(run(m, z["tokens"]), base)  # bit for bit
        m.set_adapters("lora_b")
        np.testing.assert_array_equal(run(m, z["tokens"]), unmerged)
        m.merge_adapter("lora_b")
        m.remove_adapter("lora_b")  # unmerges
        np.testing.assert_array_equal(run(m, z["tokens"]), base)


def test_merge_refused_on_quantized_weights(smollm2_path: Path, tmp_path: Path) -> None:
    """Quantized bases run adapters unmerged; merging names the tensor and its type."""
    rng = np.random.default_rng(0)
    path = tmp_path / "q.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 16.0)
    w.add_tensor("blk.0.attn_q.weight.lora_a", rng.standard_normal((16, 576)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight.lora_b", rng.standard_normal((576, 16)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with xtral.Model.load(smollm2_path, threads=2, n_ctx=32) as m:
        base = m.forward([1, 2, 3, 4])
        m.add_adapter(xtral.Adapter.load(path), name="q")
        m.reset()
        with_lora = m.forward([1, 2, 3, 4])
        assert np.abs(with_lora - base).max() > 1e-2
        with pytest.raises(xtral.UnsupportedError, match=r"blk\.0\.attn_q\.weight.*Q4_1"):
            m.merge_adapter("q")
        m.reset()
        np.testing.assert_array_equal(m.forward([1, 2, 3, 4]), with_lora)
