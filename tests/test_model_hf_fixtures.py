"""The committed tiny models of tests/data/models/<arch> (made by make_model_fixtures.py with
torch + transformers): xtral's logits from the GGUF copy against transformers' logits, F32,
within 1e-4. Pins the conversion facts (llama Q/K permutation + llama3 rope_freqs, qwen2
biases, qwen3 key_length, gemma3 norms + window + local rope base, phi3 fused tensors +
partial rotary + longrope factors and attention factor). The Hugging Face folders themselves
(config.json + safetensors, one file or shards) load too and must give the same logits, and
broken folders fail with errors that name what is wrong."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import xtral

DATA = Path(__file__).parent / "data" / "models"
ARCHS = ["llama", "qwen2", "qwen3", "gemma3", "phi3"]


@pytest.mark.parametrize("arch", ARCHS)
def test_gguf_copy_matches_transformers(arch: str) -> None:
    d = DATA / arch
    assert (d / "model.gguf").is_file(), f"{d}: committed fixtures are missing"
    tokens, want = np.load(d / "tokens.npy"), np.load(d / "logits.npy")
    with xtral.Model.load(d / "model.gguf", threads=2, kv_type="f32", n_ctx=64) as m:
        assert m.info["architecture"] == arch
        for seq, ref in zip(tokens, want):
            m.reset()
            got = m.forward(seq, all_logits=True)
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
            m.reset()  # prefill + decode gives the same logits
            part = [m.forward(seq[:10], all_logits=True)] + [m.forward(seq[i:i + 1])[None]
                                                           for i in range(10, len(seq))]
            np.testing.assert_allclose(np.concatenate(part), ref, rtol=0, atol=1e-4)


def check_logits(m: xtral.Model, tokens: np.ndarray, want: np.ndarray) -> None:
    for seq, ref in zip(tokens, want):
        m.reset()
        got = m.forward(seq, all_logits=True)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
        m.reset()  # prefill + decode gives the same logits
        part = [m.forward(seq[:10], all_logits=True)] + [m.forward(seq[i:i + 1])[None]
                                                       for i in range(10, len(seq))]
        np.testing.assert_allclose(np.concatenate(part), ref, rtol=0, atol=1e-4)


@pytest.mark.parametrize("arch,folder", [(a, "hf") for a in ARCHS] + [("qwen2", "hf_sharded")])
def test_hf_folder_matches_transformers(arch: str, folder: str) -> None:
    d = DATA / arch
    assert (d / folder / "config.json").is_file(), f"{d / folder}: committed fixtures are missing"
    tokens, want = np.load(d / "tokens.npy"), np.load(d / "logits.npy")
    with xtral.Model.load(d / folder, threads=2, kv_type="f32", n_ctx=64) as m:
        assert m.info["architecture"] == arch
        assert m.info["n_vocab"] == want.shape[-1]
        check_logits(m, tokens, want)


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_config(folder: Path, **changes: object) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (folder / "config.json").write_text(json.dumps(cfg))


def test_hf_missing_config_json(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf", tmp_path / "m")
    (d / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        xtral.Model.load(d)


def test_hf_unknown_model_type(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf", tmp_path / "m")
    edit_config(d, model_type="mamba")
    with pytest.raises(xtral.UnsupportedError, match="model_type 'mamba'"):
        xtral.Model.load(d)


def test_hf_missing_config_key(tmp_path: Path) -> None:
    d = copy_folder(DATA / "llama" / "hf", tmp_path / "m")
    edit_config(d, hidden_size=None)
    with pytest.raises(xtral.FormatError, match="'hidden_size' is missing"):
        xtral.Model.load(d)


def test_hf_unsupported_rope_type(tmp_path: Path) -> None:
    d = copy_folder(DATA / "llama" / "hf", tmp_path / "m")
    edit_config(d, rope_scaling={"rope_type": "yarn", "factor": 4.0})
    with pytest.raises(xtral.UnsupportedError, match="rope type 'yarn'"):
        xtral.Model.load(d)


def test_hf_truncated_shard(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf", tmp_path / "m")
    f = d / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(xtral.FormatError, match=r"model\.safetensors: .*run past the end"):
        xtral.Model.load(d)


def test_hf_index_names_a_missing_file(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf_sharded", tmp_path / "m")
    (d / "model-00002-of-00003.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model-00002-of-00003.safetensors"):
        xtral.Model.load(d)


def test_hf_no_weights(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf", tmp_path / "m")
    (d / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        xtral.Model.load(d)


def test_hf_shape_mismatch_names_tensor_and_shapes(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf", tmp_path / "m")
    edit_config(d, intermediate_size=48)
    with pytest.raises(xtral.FormatError,
                       match=r"model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[32, 64, 1\], "
                             r"expected \[32, 48\]"):
        xtral.Model.load(d)


def test_hf_missing_tensor_is_named(tmp_path: Path) -> None:
    d = copy_folder(DATA / "qwen2" / "hf_sharded", tmp_path / "m")
    edit_config(d, num_hidden_layers=3)  # no shard holds layer 2
    with pytest.raises(xtral.FormatError, match=r"model\.layers\.2\.input_layernorm\.weight"):
        xtral.Model.load(d)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    assert all(v["dtype"] == "F32" for v in header.values())
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             dtype=np.float32).reshape(v["shape"]) for k, v in header.items()}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, bytes, list[int]]]) -> None:
    header, blobs, off = {}, [], 0
    for k, (dtype, data, shape) in tensors.items():
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def to_bf16(a: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Round to nearest even bfloat16: the raw bytes and the values as float32."""
    u = a.astype(np.float32).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r.tobytes(), (r.astype(np.uint32) << 16).view(np.float32)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_hf_half_weights(tmp_path: Path, arch: str, dtype: str) -> None:
    """F16/BF16 safetensors run as such (views, no conversion) and match the same values
    stored as F32."""
    src = DATA / arch / "hf"
    half, wide = tmp_path / "half", tmp_path / "wide"
    for d in (half, wide):
        d.mkdir()
        shutil.copy(src / "config.json", d / "config.json")
    ts = read_safetensors(src / "model.safetensors")
    h, w = {}, {}
    for k, a in ts.items():
        if dtype == "F16":
            raw, vals = a.astype(np.float16).tobytes(), a.astype(np.float16).astype(np.float32)
        else:
            raw, vals = to_bf16(a)
        h[k] = (dtype, raw, list(a.shape))
        w[k] = ("F32", np.ascontiguousarray(vals, dtype=np.float32).tobytes(), list(a.shape))
    write_safetensors(half / "model.safetensors", h)
    write_safetensors(wide / "model.safetensors", w)
    seq = np.load(DATA / arch / "tokens.npy")[0]
    with xtral.Model.load(half, threads=2, kv_type="f32", n_ctx=64) as m:
        assert m.info["tensor_types"][dtype]["tensors"] == len(ts)
        got = m.forward(seq, all_logits=True)
    with xtral.Model.load(wide, threads=2, kv_type="f32", n_ctx=64) as m:
        ref = m.forward(seq, all_logits=True)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3)
