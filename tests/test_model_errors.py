"""Model loading and calling with bad input: each case is a clear exception, never a crash."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xtral
from model_reference import TinyConfig, write_tiny


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("err") / "llama.gguf"
    write_tiny(path, TinyConfig("llama"))
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        xtral.Model.load(tmp_path / "nope.gguf")


def test_folder_without_config_json(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a Hugging Face model folder"):
        xtral.Model.load(tmp_path)


@pytest.mark.parametrize("keep", [0, 7, 100, 1000, -1])
def test_truncated_file(good: Path, tmp_path: Path, keep: int) -> None:
    data = good.read_bytes()
    bad = tmp_path / "t.gguf"
    bad.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises((xtral.GGUFError, OSError)):
        xtral.Model.load(bad)


def test_corrupt_bytes_never_crash(good: Path, tmp_path: Path) -> None:
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(0)
    bad = tmp_path / "c.gguf"
    for _ in range(30):
        d = bytearray(data)
        for i in rng.integers(0, 4096, 4):
            d[i] ^= 0xFF
        bad.write_bytes(bytes(d))
        try:
            with xtral.Model.load(bad, threads=1, n_ctx=8) as m:
                m.forward([1])
        except (xtral.XtralError, ValueError, OSError, KeyError):
            pass


def test_bad_arguments(good: Path) -> None:
    with pytest.raises(ValueError):
        xtral.Model.load(good, device="cuda")
    with pytest.raises(ValueError):
        xtral.Model.load(good, kv_type="q8")
    with pytest.raises(ValueError):
        xtral.Model.load(good, threads=0)
    with pytest.raises(ValueError):
        xtral.Model.load(good, n_ctx=-5)


def test_calls_after_close(good: Path) -> None:
    m = xtral.Model.load(good, threads=1)
    m.forward([1, 2])
    m.close()
    for call in (lambda: m.forward([1]), m.reset, lambda: m.n_past, lambda: m.info):
        with pytest.raises(xtral.XtralError, match="closed"):
            call()
    assert "closed" in repr(m)


def test_info(good: Path) -> None:
    with xtral.Model.load(good, threads=1, n_ctx=64) as m:
        i = m.info
        assert i["architecture"] == "llama" and i["n_ctx"] == 64 and i["kv_type"] == "F16"
        assert i["n_params"] == sum(np.prod(t.shape) for t in xtral.GGUFFile(good).tensors.values())
        assert set(i["tensor_types"]) == {"F32"} and i["memory"]["kv_bytes"] > 0
        assert i["context_length"] == 2048


@pytest.mark.parametrize("value", [0, 1, 3, 2**31 - 1])
def test_bad_hyper_parameters_never_crash(tmp_path: Path, value: int) -> None:
    from model_reference import make_weights
    cfg = TinyConfig("gemma3", n_layer=2, n_head_kv=1, head_dim=32, sliding_window=4)
    weights = make_weights(cfg)
    src = tmp_path / "ok.gguf"
    write_tiny(src, cfg)
    md = xtral.GGUFFile(src).metadata
    for key in [k for k in md if k.startswith("gemma3.") and isinstance(md[k], int)]:
        bad = dict(md)
        bad[key] = xtral.GGUFValue(value, "uint32")
        path = tmp_path / "bad.gguf"
        xtral.write_gguf(path, bad, weights)
        try:
            with xtral.Model.load(path, threads=1, n_ctx=32) as m:
                m.forward([1, 2, 3])
        except (xtral.XtralError, ValueError, MemoryError):
            pass
