"""X-LoRA against PEFT (fixtures by tests/data/make_adapter_fixtures.py): classifier depth 1-3,
layerwise or not, top-k with and without softmax over the top-k, temperature, global scaling
weight, a nonzero scaling pass value; on the HF folder and the GGUF copy of each base.

PEFT has no KV cache for X-LoRA: every step recomputes the whole sequence twice. xtral keeps
two caches; its incremental logits (prompt, then 32 single-token steps) must equal PEFT's
per-step full recompute and xtral's own forward over the whole sequence. The non-granular mode
(tgt_non_granular_index) is xtral's own approximation: checked against the granular path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xtral

DATA = Path(__file__).parent / "data"
AD = DATA / "adapters"
PROMPT = 8
CASES = [("llama", n) for n in ("d1", "d2_topk", "d1_topk_softmax", "d3_top1", "d1_pass")] + \
        [("qwen2", "d1"), ("qwen2", "d2_topk"), ("gemma3", "d1_topk_softmax"),
         ("gemma3", "d1_pass")]


def expected(arch: str) -> dict[str, np.ndarray]:
    path = AD / arch / "expected.npz"
    assert path.is_file(), f"{path}: committed fixtures are missing"
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def load(arch: str, base: str) -> xtral.Model:
    return xtral.Model.load(DATA / "models" / arch / base, threads=2, kv_type="f32", n_ctx=64)


@pytest.mark.parametrize("base", ["hf", "model.gguf"])
@pytest.mark.parametrize("arch,name", CASES)
def test_xlora_matches_peft(arch: str, name: str, base: str) -> None:
    z = expected(arch)
    key = f"xlora_{name}"
    seq = z[f"{key}_seq"]
    ad = xtral.Adapter.load_xlora(AD / arch / key)
    assert ad.is_xlora and ad.info["n_experts"] == 3
    with load(arch, base) as m:
        m.add_adapter(ad)
        # full sequence at once: logits and scalings
        m.reset()
        full = m.forward(seq, all_logits=True)
        np.testing.assert_allclose(full, z[f"{key}_logits"], rtol=0, atol=1e-4)
        scal = m.xlora_scalings()
        want_scal = z[f"{key}_scalings"]
        assert scal.shape == want_scal.shape
        # 1e-5 for softmax outputs; raw classifier logits (enable_softmax=False, values up to
        # ~20 here) carry float32 rounding relative to their size: 1e-5 of the largest
        scal_tol = 1e-5 * max(1.0, float(np.abs(want_scal).max()))
        np.testing.assert_allclose(scal, want_scal, rtol=0, atol=scal_tol)
        # incremental: the prompt, then one token at a time through both KV caches
        m.reset()
        steps = [m.forward(seq[:PROMPT])]
        passes0 = m.xlora_counters()["scaling_passes"]
        for t in seq[PROMPT:]:
            steps.append(m.forward([int(t)]))
            assert m.xlora_scalings().shape[0] == 1
        assert m.xlora_counters()["scaling_passes"] - passes0 == len(seq) - PROMPT
        steps_np = np.stack(steps)
        np.testing.assert_allclose(steps_np, z[f"{key}_step_logits"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(steps_np, full[PROMPT - 1:], rtol=0, atol=1e-4)
        np.testing.assert_allclose(m.xlora_scalings(whole_sequence=True), want_scal, rtol=0,
                                   atol=scal_tol)
        # greedy decoding reproduces PEFT's generated tokens
        assert [int(s.argmax()) for s in steps_np[:-1]] == [int(t) for t in seq[PROMPT:]]


def test_xlora_then_plain_lora_and_back() -> None:
    """Selecting a LoRA turns X-LoRA routing off; selecting the X-LoRA adapter again restores
    it (its experts are its own copies, independent of attached LoRAs of the same files)."""
    z = expected("llama")
    seq = z["xlora_d1_seq"]
    with load("llama", "hf") as m:
        m.add_adapter(xtral.Adapter.load_xlora(AD / "llama" / "xlora_d1"), name="x")
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"))
        assert m.active_adapters() == {"lora_a": 1.0}
        m.reset()
        np.testing.assert_allclose(m.forward(z["tokens"], all_logits=True), z["lora_a"],
                                   rtol=0, atol=1e-4)
        with pytest.raises(ValueError, match="no X-LoRA adapter is active"):
            m.xlora_scalings()
        m.set_adapters("x")
        m.reset()
        np.testing.assert_allclose(m.forward(seq, all_logits=True), z["xlora_d1_logits"],
                                   rtol=0, atol=1e-4)


@pytest.mark.parametrize("k", [1, 4])
def test_non_granular_mode(k: int) -> None:
    z = expected("llama")
    seq = z["xlora_d1_seq"]
    path = AD / "llama" / "xlora_d1"
    n_steps = len(seq) - PROMPT
    with load("llama", "hf") as m:
        m.add_adapter(xtral.Adapter.load_xlora(path), name="granular")
        m.reset()
        ref = [m.forward(seq[:PROMPT])] + [m.forward([int(t)]) for t in seq[PROMPT:]]
        ref_scal = m.xlora_scalings_range(0, len(seq))

        m.add_adapter(xtral.Adapter.load_xlora(path, tgt_non_granular_index=k), name="ng")
        assert m.active_adapters() == {"ng": 1.0}
        m.reset()
        got = [m.forward(seq[:PROMPT])]
        assert m.xlora_counters() == {"scaling_passes": 1, "non_granular_steps": 0}
        for i, t in enumerate(seq[PROMPT:], start=1):
            got.append(m.forward([int(t)]))
            c = m.xlora_counters()
            # the scaling pass runs for the prompt and decode steps 1..k, never after
            assert c["scaling_passes"] == 1 + min(i, k), (i, c)
            assert c["non_granular_steps"] == min(i, k)
        scal = m.xlora_scalings_range(0, len(seq))
        # steps up to k are the granular path, bit for bit
        np.testing.assert_array_equal(np.stack(got[:k + 1]), np.stack(ref[:k + 1]))
        np.testing.assert_array_equal(scal[:PROMPT + k], ref_scal[:PROMPT + k])
        # after step k the scalings are step k's
        step_k = scal[PROMPT + k - 1]
        for p in range(PROMPT + k, len(seq)):
            np.testing.assert_array_equal(scal[p], step_k)
        assert np.abs(ref_scal[PROMPT + k:] - step_k).max() > 1e-3  # granular ones do vary
        assert len(got) == n_steps + 1
        # a new sequence starts counting again
        m.reset()
        m.forward(seq[:PROMPT])
        m.forward([int(seq[PROMPT])])
        assert m.xlora_counters()["non_granular_steps"] == 1


def test_generate_with_xlora_matches_peft_and_records_scalings() -> None:
    """Greedy generation through two KV caches reproduces PEFT's 32 greedy tokens; with
    record_scalings the whole generation's scalings are kept; adapters= is per call."""
    z = expected("llama")
    seq = z["xlora_d1_pass_seq"]
    with load("llama", "model.gguf") as m:
        m.add_adapter(xtral.Adapter.load_xlora(AD / "llama" / "xlora_d1_pass"), name="x")
        m.set_adapters([])
        toks = m.generate_tokens([int(t) for t in seq[:PROMPT]], max_tokens=len(seq) - PROMPT,
                                 stop_tokens=(), temperature=0.0, adapters="x",
                                 record_scalings=True)
        assert toks == [int(t) for t in seq[PROMPT:]]
        assert m.active_adapters() == {}  # restored
        m.set_adapters("x")
        scal = m.xlora_scalings()       # kept for the whole generation (the last token is
        assert scal.shape[0] == len(seq) - 1  # sampled, never fed)
        np.testing.assert_allclose(scal, z["xlora_d1_pass_scalings"][:-1], rtol=0, atol=1e-5)
        with pytest.raises(ValueError, match="record_scalings=True needs an active X-LoRA"):
            m.generate_tokens([1, 2, 3], max_tokens=2, adapters=[], record_scalings=True)


def test_streaming_generation_takes_per_call_adapters() -> None:
    """generate(stream=True, adapters=...) switches the set in when iteration starts and
    restores it when the stream ends or is closed; its tokens and recorded scalings equal the
    non-streaming call's. Bad arguments raise at the call, before any iteration."""
    prompt = [1, 2, 3, 4, 5, 6, 7, 8]
    with load("llama", "model.gguf") as m:
        m.add_adapter(xtral.Adapter.load_xlora(AD / "llama" / "xlora_d1_pass"), name="x")
        m.add_adapter(xtral.Adapter.load(AD / "llama" / "lora_a"), name="l")
        m.set_adapters("l")
        want = m.generate_tokens(prompt, max_tokens=8, temperature=0.0, adapters="x",
                                 record_scalings=True)
        m.set_adapters("x")
        want_scal = m.xlora_scalings()
        m.set_adapters("l")
        s = m.generate(prompt, max_tokens=8, temperature=0.0, adapters="x", stream=True,
                       record_scalings=True)
        assert m.active_adapters() == {"l": 1.0}   # nothing switched before iterating
        next(s)
        assert m.active_adapters() == {"x": 1.0}
        s.text()
        assert s.tokens == want and m.active_adapters() == {"l": 1.0}
        m.set_adapters("x")
        np.testing.assert_array_equal(m.xlora_scalings(), want_scal)
        m.set_adapters("l")
        early = m.generate(prompt, max_tokens=8, adapters={"x": 1.0}, stream=True)
        next(early)
        early.close()
        assert early.finish_reason == "cancelled" and m.active_adapters() == {"l": 1.0}
        with pytest.raises(KeyError, match="no adapter named 'nope'"):
            m.generate(prompt, adapters=["x", "nope"], stream=True)
        with pytest.raises(ValueError, match="needs an active X-LoRA"):
            m.generate(prompt, adapters="l", stream=True, record_scalings=True)
        assert m.active_adapters() == {"l": 1.0}
