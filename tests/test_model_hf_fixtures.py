"""The committed tiny models of tests/data/models/<arch> (made by make_model_fixtures.py with
torch + transformers): xtral's logits from the GGUF copy against transformers' logits, F32,
within 1e-4. Pins the conversion facts (llama Q/K permutation + llama3 rope_freqs, qwen2
biases, qwen3 key_length, gemma3 norms + window + local rope base, phi3 fused tensors +
partial rotary + longrope factors and attention factor). Loading the HF-folder form itself is
not supported yet: it must fail with a clear error naming the folder."""
from __future__ import annotations

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


@pytest.mark.parametrize("arch", ARCHS)
def test_hf_folder_is_a_clear_error_for_now(arch: str) -> None:
    assert (DATA / arch / "hf").is_dir(), "committed fixtures are missing"
    with pytest.raises(xtral.UnsupportedError, match="folder"):
        xtral.Model.load(DATA / arch / "hf")
