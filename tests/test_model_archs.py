"""The generic runner on tiny random F32 models of each architecture against a float64 NumPy
reference (tests/model_reference.py): llama (NORM rope), qwen2 (QKV biases), qwen3 (QK-norm),
gemma3 (sandwich norms, GeGLU, embedding scale, sliding window + local rope base), phi3
(fused QKV and gate_up, partial rotary). Plus prefill/decode equivalence, determinism, and
KV-cache transactions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xtral
from model_reference import TinyConfig, reference_logits, write_tiny

CONFIGS = {
    "llama": TinyConfig("llama", tied=False),
    "qwen2": TinyConfig("qwen2"),
    "qwen3": TinyConfig("qwen3", n_head_kv=1),
    "gemma3": TinyConfig("gemma3", n_layer=7, n_head_kv=1, head_dim=32, sliding_window=5,
                         rope_base=1e6, extra_kv={"gemma3.rope.freq_base_swa": xtral.GGUFValue(
                             10000.0, "float32")}),
    "phi3": TinyConfig("phi3", n_head_kv=4, n_rot=8),
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    cfg = CONFIGS[request.param]
    path = tmp_path_factory.mktemp(cfg.arch) / f"{cfg.arch}.gguf"
    weights = write_tiny(path, cfg)
    return cfg, path, weights


def test_logits_match_reference(tiny) -> None:
    cfg, path, weights = tiny
    tokens = list(np.random.default_rng(1).integers(0, cfg.n_vocab, 13))
    ref = reference_logits(cfg, weights, tokens)
    with xtral.Model.load(path, threads=2, kv_type="f32") as m:
        assert m.info["architecture"] == cfg.arch
        got = m.forward(tokens, all_logits=True)
    assert got.shape == (13, cfg.n_vocab) and got.dtype == np.float32
    err = np.abs(got - ref).max() / np.abs(ref).max()
    assert err < 1e-4, f"{cfg.arch}: relative error {err:.2e}"


def test_prefill_then_decode_equals_one_forward(tiny) -> None:
    cfg, path, _ = tiny
    tokens = np.random.default_rng(2).integers(0, cfg.n_vocab, 20)
    with xtral.Model.load(path, threads=2, kv_type="f32", n_batch=8) as m:
        full = m.forward(tokens, all_logits=True)
        m.reset()
        part = [m.forward(tokens[:11], all_logits=True)]
        part += [m.forward(tokens[i:i + 1])[None] for i in range(11, 20)]
        assert m.n_past == 20
    np.testing.assert_allclose(np.concatenate(part), full, rtol=0, atol=1e-4 * np.abs(full).max())


def test_same_input_twice_is_identical(tiny) -> None:
    cfg, path, _ = tiny
    tokens = np.arange(17) % cfg.n_vocab
    with xtral.Model.load(path, threads=2) as m:
        a = m.forward(tokens, all_logits=True)
        m.reset()
        b = m.forward(tokens, all_logits=True)
    assert np.array_equal(a, b)


def test_failed_forward_keeps_cache(tmp_path: Path) -> None:
    cfg = CONFIGS["llama"]
    path = tmp_path / "m.gguf"
    write_tiny(path, cfg)
    with xtral.Model.load(path, threads=1, n_ctx=16, kv_type="f32") as m:
        m.forward([1, 2, 3])
        want = m.forward([4])
        m.reset()
        m.forward([1, 2, 3])
        for bad in ([], [cfg.n_vocab], [-1], [5] * 14, [[1, 2]]):
            with pytest.raises((ValueError, TypeError)):
                m.forward(bad)
            assert m.n_past == 3
        assert np.array_equal(m.forward([4]), want)
        m.forward(list(range(12)))
        assert m.n_past == 16
        with pytest.raises(ValueError, match="context"):
            m.forward([1])


def test_unknown_architecture_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    xtral.write_gguf(path, {"general.architecture": "mamba9"}, {"x": np.zeros(4, np.float32)})
    with pytest.raises(xtral.UnsupportedError, match="mamba9"):
        xtral.Model.load(path)


def test_missing_tensor_and_bad_shape(tmp_path: Path) -> None:
    cfg = CONFIGS["qwen2"]
    weights = write_tiny(tmp_path / "ok.gguf", cfg)
    md = {k: v for k, v in xtral.GGUFFile(tmp_path / "ok.gguf").metadata.items()}
    w = dict(weights)
    del w["blk.1.ffn_down.weight"]
    xtral.write_gguf(tmp_path / "missing.gguf", md, w)
    with pytest.raises(xtral.GGUFError, match="blk.1.ffn_down.weight"):
        xtral.Model.load(tmp_path / "missing.gguf")
    w = dict(weights)
    w["blk.0.attn_k.weight"] = w["blk.0.attn_k.weight"][:, :32].copy()
    xtral.write_gguf(tmp_path / "shape.gguf", md, w)
    with pytest.raises(xtral.GGUFError, match="blk.0.attn_k.weight"):
        xtral.Model.load(tmp_path / "shape.gguf")


def test_last_logits_equal_last_row_of_all(tiny) -> None:
    cfg, path, _ = tiny
    tokens = np.random.default_rng(3).integers(0, cfg.n_vocab, 21)
    with xtral.Model.load(path, threads=2, kv_type="f32", n_batch=8) as m:
        full = m.forward(tokens, all_logits=True)
        m.reset()
        last = m.forward(tokens)
        assert last.shape == (cfg.n_vocab,)
        nxt = m.forward(tokens[:2], all_logits=True)  # the skipped rows' K/V were cached
        m.reset()
        want = m.forward(np.concatenate([tokens, tokens[:2]]), all_logits=True)[-2:]
    np.testing.assert_allclose(last, full[-1], rtol=0, atol=1e-5 * np.abs(full).max())
    np.testing.assert_allclose(nxt, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_f16_weights_and_vectors(tmp_path: Path) -> None:
    """F16 matrices (dot against F32 activations) and F16 norm vectors (converted at load)."""
    cfg = CONFIGS["qwen2"]
    path = tmp_path / "src.gguf"
    weights = write_tiny(path, cfg)
    md = xtral.GGUFFile(path).metadata
    w16 = {k: v.astype(np.float16) for k, v in weights.items()}
    xtral.write_gguf(tmp_path / "f16.gguf", md, w16)
    tokens = [3, 1, 4, 1, 5, 9, 2, 6]
    ref = reference_logits(cfg, {k: v.astype(np.float32) for k, v in w16.items()}, tokens)
    with xtral.Model.load(tmp_path / "f16.gguf", threads=2, kv_type="f32") as m:
        assert set(m.info["tensor_types"]) == {"F16"}
        got = m.forward(tokens, all_logits=True)
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-4
