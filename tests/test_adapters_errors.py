"""Bad adapter input: each a clear exception naming the problem, and the model's adapter set
unchanged afterwards."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import gguf
import xtral

DATA = Path(__file__).parent / "data"
AD = DATA / "adapters"


def load(arch: str = "llama") -> xtral.Model:
    return xtral.Model.load(DATA / "models" / arch / "hf", threads=1, kv_type="f32", n_ctx=64)


def edit(folder: Path, **changes: object) -> None:
    cfg = json.loads((folder / "adapter_config.json").read_text())
    cfg.update(changes)
    (folder / "adapter_config.json").write_text(json.dumps(cfg))


def test_shape_mismatch_names_tensor_and_shapes() -> None:
    # gemma3's q_proj is [64, 32] (4 heads x 16); llama's is [32, 32]
    with load("llama") as m:
        with pytest.raises(ValueError, match=r"q_proj.*\[64, 32\] delta.*blk\.0\.attn_q\.weight.*"
                                             r"\[32, 32\]"):
            m.add_adapter(xtral.Adapter.load(AD / "gemma3" / "lora_a"))
        assert m.adapters == {}


def rewrite_gguf_lora(dst: Path, arch: str = "llama", rename: dict[str, str] | None = None) -> Path:
    """llama/lora_a.gguf rewritten with the gguf package: another architecture, renamed tensors."""
    src = gguf.GGUFReader(AD / "llama" / "lora_a.gguf")
    w = gguf.GGUFWriter(dst, arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 8.0)
    for t in src.tensors:
        name = (rename or {}).get(t.name, t.name)
        w.add_tensor(name, np.array(t.data).reshape([int(x) for x in reversed(t.shape)]))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dst


def test_target_the_model_lacks(tmp_path: Path) -> None:
    ren = {"blk.1.attn_q.weight.lora_a": "blk.5.attn_q.weight.lora_a",
           "blk.1.attn_q.weight.lora_b": "blk.5.attn_q.weight.lora_b"}
    with load("llama") as m:
        with pytest.raises(ValueError, match=r"blk\.5\.attn_q\.weight' targets layer 5 but the "
                                             r"llama model has 2 layers"):
            m.add_adapter(xtral.Adapter.load(rewrite_gguf_lora(tmp_path / "a.gguf", rename=ren)))
    ren = {"blk.0.attn_q.weight.lora_a": "blk.0.attn_qkv.weight.lora_a",
           "blk.0.attn_q.weight.lora_b": "blk.0.attn_qkv.weight.lora_b"}
    with load("llama") as m:
        with pytest.raises(ValueError, match=r"blk\.0\.attn_qkv\.weight.*qkv_proj.*the llama "
                                             r"model does not have"):
            m.add_adapter(xtral.Adapter.load(rewrite_gguf_lora(tmp_path / "b.gguf", rename=ren)))


def test_gguf_adapter_for_another_architecture(tmp_path: Path) -> None:
    path = rewrite_gguf_lora(tmp_path / "qwen.gguf", arch="qwen2")
    with load("llama") as m:
        with pytest.raises(ValueError, match="architecture 'qwen2' but the model is 'llama'"):
            m.add_adapter(xtral.Adapter.load(path))


def test_gguf_model_is_not_an_adapter() -> None:
    with pytest.raises(ValueError, match="not a GGUF adapter"):
        xtral.Adapter.load(DATA / "models" / "llama" / "model.gguf")


def test_classifier_output_does_not_fit(tmp_path: Path) -> None:
    # a layerwise classifier for 14 layers x 3 experts, given only 2 experts (14 x 2 = 28)
    d = tmp_path / "x"
    shutil.copytree(AD / "llama" / "xlora_d2_topk", d)
    edit(d, adapters={"0": str(AD / "llama" / "lora_a"), "1": str(AD / "llama" / "lora_b")})
    ad = xtral.Adapter.load_xlora(d)
    with load("llama") as m:
        with pytest.raises(ValueError, match=r"classifier gives 42 outputs.*14 LoRA layers x 2 "
                                             r"adapters = 28"):
            m.add_adapter(ad)
        assert m.adapters == {}


def test_classifier_depth_mismatch(tmp_path: Path) -> None:
    d = tmp_path / "x"
    shutil.copytree(AD / "llama" / "xlora_d1", d)
    edit(d, adapters={str(i): str(AD / "llama" / n) for i, n in
                      enumerate(["lora_a", "lora_b", "lora_c"])}, xlora_depth=2)
    with pytest.raises(xtral.FormatError, match="1 Linear layers.*xlora_depth is 2"):
        xtral.Adapter.load_xlora(d)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        xtral.Adapter.load(tmp_path / "nowhere")
    d = tmp_path / "a"
    shutil.copytree(AD / "llama" / "lora_a", d)
    (d / "adapter_model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="adapter_model.safetensors"):
        xtral.Adapter.load(d)
    (d / "adapter_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        xtral.Adapter.load(d)
    x = tmp_path / "x"
    shutil.copytree(AD / "llama" / "xlora_d1", x)  # experts are ../lora_*: not there
    with pytest.raises(FileNotFoundError, match="expert 0"):
        xtral.Adapter.load_xlora(x)


def test_unknown_name_in_set_adapters() -> None:
    with load("llama") as m:
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"))
        with pytest.raises(KeyError, match="no adapter named 'nope'"):
            m.set_adapters(["lora_a", "nope"])
        assert m.active_adapters() == {"lora_a": 1.0}  # unchanged
        with pytest.raises(KeyError, match="nope"):
            m.remove_adapter("nope")
        with pytest.raises(ValueError, match="already attached"):
            m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"))
        with pytest.raises(ValueError, match="2 names but 1 weights"):
            m.set_adapters(["lora_a", "lora_a"], [1.0])


def test_wrong_loader_and_unsupported_variants(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="load_xlora"):
        xtral.Adapter.load(AD / "llama" / "xlora_d1")
    with pytest.raises(ValueError, match="peft_type is not"):
        xtral.Adapter.load_xlora(AD / "llama" / "lora_a")
    d = tmp_path / "dora"
    shutil.copytree(AD / "llama" / "lora_a", d)
    edit(d, use_dora=True)
    with pytest.raises(xtral.UnsupportedError, match="use_dora"):
        xtral.Adapter.load(d)
    edit(d, use_dora=False, bias="all")
    with pytest.raises(xtral.UnsupportedError, match="bias"):
        xtral.Adapter.load(d)
    edit(d, bias="none", r=5)
    with pytest.raises(xtral.FormatError, match="rank 4 but the config says 5"):
        xtral.Adapter.load(d)
    edit(d, r=4, alpha_pattern={"q_.*": 3})
    with pytest.raises(xtral.UnsupportedError, match="regular expression"):
        xtral.Adapter.load(d)


def test_xlora_must_be_alone_and_cannot_merge() -> None:
    z = dict(np.load(AD / "llama" / "expected.npz"))
    with load("llama") as m:
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"))
        m.add_adapter(xtral.Adapter.load_xlora(AD / "llama" / "xlora_d1"), name="x")
        with pytest.raises(ValueError, match="only active adapter"):
            m.set_adapters(["x", "lora_a"])
        with pytest.raises(ValueError, match="cannot be merged"):
            m.merge_adapter("x")
        assert m.active_adapters() == {"x": 1.0}
        m.reset()
        got = m.forward(z["xlora_d1_seq"], all_logits=True)
        np.testing.assert_allclose(got, z["xlora_d1_logits"], rtol=0, atol=1e-4)


def test_xlora_activated_mid_sequence() -> None:
    """The scaling pass needs its own K/V of every earlier position: switching X-LoRA on in
    the middle of a sequence is an error, not a silently wrong answer."""
    z = dict(np.load(AD / "llama" / "expected.npz"))
    seq = z["xlora_d1_seq"]
    with load("llama") as m:
        m.add_adapter(xtral.Adapter.load_xlora(AD / "llama" / "xlora_d1"), name="x")
        m.forward(seq[:8], adapters=[])
        with pytest.raises(ValueError, match=r"'x' was not active for positions 0\.\.7"):
            m.forward(seq[8:9])
        assert m.n_past == 8
        m.reset()
        m.forward(seq[:8])
        got = m.forward(seq[8:9])
        np.testing.assert_allclose(got, z["xlora_d1_step_logits"][1], rtol=0, atol=1e-4)
