"""The samplers against their definitions (llama.cpp's), computed independently in NumPy:
kept sets and probabilities for fixed logits, a seeded chi-square test of the draws, seeds,
and bad parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest

from xtral import _core
from xtral.sampling import Sampler, SamplingParams

OFF = dict(top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)


# ---- the reference ----

def ref_probs(logits: np.ndarray, *, temperature: float = 1.0, top_k: int = 0,
              top_p: float = 1.0, min_p: float = 0.0, repeat_penalty: float = 1.0,
              presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
              history: list[int] = (), penalty_last_n: int = 64,
              logit_bias: dict[int, float] | None = None) -> np.ndarray:
    """The distribution of the chain bias -> penalties -> top-k -> top-p -> min-p -> temp.
    Bias and penalties in float32 (as the engine stores logits), the rest in float64."""
    x = np.array(logits, dtype=np.float32)
    for t, b in (logit_bias or {}).items():
        x[t] += np.float32(b)
    window = list(history)[-penalty_last_n:] if penalty_last_n > 0 else []
    for t in dict.fromkeys(window):  # distinct tokens, each once
        c = window.count(t)
        x[t] = x[t] * np.float32(repeat_penalty) if x[t] <= 0 else x[t] / np.float32(repeat_penalty)
        x[t] -= np.float32(c * frequency_penalty + presence_penalty)
    ids = np.arange(len(x))
    if temperature == 0:
        out = np.zeros(len(x))
        out[int(np.argmax(x))] = 1.0
        return out
    order = np.lexsort((ids, -x))            # logit desc, id asc
    order = order[np.isfinite(x[order])]
    if top_k > 0:
        order = order[:top_k]
    if top_p < 1.0:
        z = x[order].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        cum = np.cumsum(p)
        hit = np.nonzero(cum >= top_p)[0]
        order = order[: (hit[0] + 1) if hit.size else len(order)]
    if min_p > 0:
        thr = np.float32(x[order[0]]) + np.float32(math.log(min_p))
        order = order[x[order] >= thr]
    z = x[order].astype(np.float64) / temperature
    w = np.exp(z - z.max())
    out = np.zeros(len(x))
    out[order] = w / w.sum()
    return out


def engine_probs(logits: np.ndarray, history: list[int] = (), **params) -> np.ndarray:
    s = Sampler(len(logits), seed=0, **params)
    if len(history):
        s.accept(history)
    return s.probs(logits)


def check(logits: np.ndarray, history: list[int] = (), **params) -> np.ndarray:
    full = {**dict(temperature=1.0), **params}
    got = engine_probs(logits, history, **full)
    ref = ref_probs(logits, history=history, **full)
    # kept sets agree (probabilities below float32's range may round to 0)
    assert set(np.nonzero(got)[0]) <= set(np.nonzero(ref)[0]), params
    assert set(np.nonzero(ref > 1e-30)[0]) <= set(np.nonzero(got)[0]), params
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-8)
    return got


@pytest.fixture(scope="module")
def logits() -> np.ndarray:
    return (np.random.default_rng(7).standard_normal(2000) * 2.5).astype(np.float32)


# ---- each step against its definition ----

def test_small_example_by_hand() -> None:
    x = np.array([1.0, 3.0, 2.0, 0.0, 3.0], dtype=np.float32)
    p = engine_probs(x, temperature=1.0, top_k=2, top_p=1.0, min_p=0.0)
    e = np.exp([3.0, 3.0])
    np.testing.assert_allclose(p, [0, e[0] / e.sum(), 0, 0, e[1] / e.sum()], rtol=1e-6)
    # min-p 0.3: p_i / p_max = e^(x_i - 3) >= 0.3 keeps logits 3, 3 and 2 (e^-1 = 0.37)
    p = engine_probs(x, temperature=1.0, top_k=0, top_p=1.0, min_p=0.3)
    assert np.nonzero(p)[0].tolist() == [1, 2, 4]
    # top-p 0.5: p(3) = 0.4 each, so the two 3s reach 0.8 >= 0.5; the first alone does not
    p = engine_probs(x, temperature=1.0, top_k=0, top_p=0.5, min_p=0.0)
    assert np.nonzero(p)[0].tolist() == [1, 4]


@pytest.mark.parametrize("top_k", [1, 5, 40, 1999, 2000, 5000])
def test_top_k(logits: np.ndarray, top_k: int) -> None:
    got = check(logits, **{**OFF, "top_k": top_k})
    assert (got > 0).sum() == min(top_k, len(logits))


@pytest.mark.parametrize("top_p", [0.01, 0.3, 0.9, 0.95, 0.999])
def test_top_p(logits: np.ndarray, top_p: float) -> None:
    got = check(logits, **{**OFF, "top_p": top_p})
    kept = got > 0
    ref_sorted = np.sort(ref_probs(logits))[::-1]
    n = kept.sum()  # shortest prefix with mass >= top_p: one token less falls short
    assert ref_sorted[:n].sum() >= top_p - 1e-6 and (n == 1 or ref_sorted[: n - 1].sum() < top_p)


@pytest.mark.parametrize("min_p", [0.0001, 0.05, 0.5, 1.0])
def test_min_p(logits: np.ndarray, min_p: float) -> None:
    got = check(logits, **{**OFF, "min_p": min_p})
    full = ref_probs(logits)
    assert set(np.nonzero(got)[0]) == set(np.nonzero(full >= min_p * full.max() * (1 - 1e-6))[0])


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 1.7, 10.0])
def test_temperature(logits: np.ndarray, temperature: float) -> None:
    got = check(logits, **{**OFF, "temperature": temperature})
    z = logits.astype(np.float64) / temperature
    np.testing.assert_allclose(got, np.exp(z - z.max()) / np.exp(z - z.max()).sum(), rtol=2e-5,
                               atol=1e-8)


@pytest.mark.parametrize("params", [
    dict(top_k=40, top_p=0.95, min_p=0.05, temperature=0.8),   # llama.cpp's defaults
    dict(top_k=100, top_p=0.5, min_p=0.0, temperature=1.3),
    dict(top_k=0, top_p=0.9, min_p=0.02, temperature=0.6),
    dict(top_k=10, top_p=1.0, min_p=0.2, temperature=2.0),
])
def test_chain(logits: np.ndarray, params: dict) -> None:
    check(logits, **params)


def test_top_p_over_a_flat_large_vocabulary() -> None:
    """Gemma's 262,144 tokens, nearly flat: the kept window must widen many times."""
    x = (np.random.default_rng(3).standard_normal(262144) * 0.3).astype(np.float32)
    got = check(x, **{**OFF, "top_p": 0.9})
    assert (got > 0).sum() > 200000


def test_penalties(logits: np.ndarray) -> None:
    history = [5, 7, 5, 11, 5, 7, 1999, 3] * 3 + [42]
    x = logits.copy()
    x[5], x[7] = 4.0, -3.0  # one positive, one negative repeated logit
    for params in (dict(repeat_penalty=1.3), dict(presence_penalty=0.7),
                   dict(frequency_penalty=0.4),
                   dict(repeat_penalty=0.8, presence_penalty=-0.5, frequency_penalty=0.25)):
        got = check(x, history, **{**OFF, **params})
        for window in (4, 64):  # penalty_last_n limits what the penalties see
            check(x, history, **{**OFF, **params, "penalty_last_n": window})
    # repetition divides positive and multiplies negative logits (llama.cpp): by hand
    got = engine_probs(x, [5, 7], **{**OFF, "temperature": 1.0, "repeat_penalty": 2.0})
    ratio = got[5] / got[7]
    assert math.isclose(ratio, math.exp(4.0 / 2 - (-3.0 * 2)), rel_tol=1e-5)
    # penalty_last_n=0 turns them off
    check(x, history, **{**OFF, "repeat_penalty": 1.5, "penalty_last_n": 0})


def test_logit_bias(logits: np.ndarray) -> None:
    bias = {3: 8.0, 10: -2.5, int(np.argmax(logits)): float("-inf")}
    got = check(logits, **{**OFF, "logit_bias": bias})
    assert got[int(np.argmax(logits))] == 0
    # greedy follows the bias too
    s = Sampler(len(logits), temperature=0, logit_bias={17: 100.0})
    assert s.sample(logits) == 17


def test_greedy_is_argmax_lowest_id_on_ties() -> None:
    x = np.array([0.5, 2.0, -1.0, 2.0], dtype=np.float32)
    s = Sampler(4, temperature=0)
    assert s.sample(x) == 1
    np.testing.assert_array_equal(s.probs(x), [0, 1, 0, 0])


# ---- the draws ----

def _wilson_hilferty(df: int, z: float) -> float:
    """Upper chi-square quantile for the normal quantile z (Wilson & Hilferty, 1931)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


@pytest.mark.parametrize("params", [
    dict(temperature=0.7, top_k=12, top_p=1.0, min_p=0.0),
    dict(temperature=1.2, top_k=0, top_p=0.6, min_p=0.05),
])
def test_chi_square_of_draws(params: dict) -> None:
    x = (np.random.default_rng(11).standard_normal(300) * 1.5).astype(np.float32)
    ref = ref_probs(x, **params)
    kept = np.nonzero(ref)[0]
    assert 5 <= len(kept) <= 80
    n = 40000
    s = Sampler(len(x), seed=1234, **params)
    draws = np.array([s.sample(x) for _ in range(n)])
    assert np.isin(draws, kept).all(), "a filtered token was drawn"
    observed = np.bincount(draws, minlength=len(x))[kept]
    expected = n * ref[kept]
    assert expected.min() >= 5  # the chi-square approximation holds
    stat = float(((observed - expected) ** 2 / expected).sum())
    crit = _wilson_hilferty(len(kept) - 1, 3.090)  # alpha = 0.001
    print(f"\nchi-square {stat:.1f} with {len(kept) - 1} df, critical (0.001) {crit:.1f}")
    assert stat < crit


def test_same_seed_same_draws_different_seed_different(logits: np.ndarray) -> None:
    def draws(seed: int) -> list[int]:
        s = Sampler(len(logits), temperature=1.5, top_k=0, top_p=1.0, min_p=0.0, seed=seed)
        return [s.sample(logits) for _ in range(200)]

    assert draws(42) == draws(42)
    assert draws(42) != draws(43)
    s = Sampler(len(logits), temperature=1.5, top_k=0, top_p=1.0, min_p=0.0, seed=42)
    first = [s.sample(logits) for _ in range(50)]
    s.reset()
    assert [s.sample(logits) for _ in range(50)] == first


# ---- bad input ----

@pytest.mark.parametrize("field, value", [
    ("temperature", -0.1), ("temperature", float("nan")), ("temperature", float("inf")),
    ("top_p", 0.0), ("top_p", 1.01), ("top_p", -1.0), ("top_k", -1), ("min_p", -0.01),
    ("min_p", 1.5), ("repeat_penalty", 0.0), ("penalty_last_n", -1), ("seed", -1),
    ("presence_penalty", float("inf")),
])
def test_bad_values_name_the_argument(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        SamplingParams(**{field: value})
    with pytest.raises(ValueError, match=field):
        Sampler(10, **{field: value})


@pytest.mark.parametrize("field, value", [("temperature", "hot"), ("top_k", 2.5),
                                          ("top_p", None or "0.9"), ("seed", 1.0)])
def test_bad_types_name_the_argument(field: str, value: object) -> None:
    with pytest.raises(TypeError, match=field):
        SamplingParams(**{field: value})


def test_c_layer_checks_too() -> None:
    """The C API validates on its own (the binding passes values through)."""
    with pytest.raises(ValueError, match="temperature"):
        _core.SamplerHandle(10, -1.0)
    with pytest.raises(ValueError, match="top_p"):
        _core.SamplerHandle(10, 1.0, 0, 0.0)
    with pytest.raises(ValueError, match="top_k"):
        _core.SamplerHandle(10, 1.0, -3)
    with pytest.raises(ValueError, match="min_p"):
        _core.SamplerHandle(10, 1.0, 0, 1.0, 2.0)
    with pytest.raises(ValueError, match="n_vocab"):
        _core.SamplerHandle(0)


def test_bad_logits_and_bias() -> None:
    s = Sampler(4, temperature=1.0)
    with pytest.raises(ValueError, match="NaN"):
        s.sample(np.array([0, np.nan, 1, 2], dtype=np.float32))
    with pytest.raises(ValueError, match="banned"):
        s.sample(np.full(4, -np.inf, dtype=np.float32))
    with pytest.raises(ValueError, match="n_vocab"):
        s.sample(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match="logit_bias"):
        Sampler(4, logit_bias={4: 1.0})
    with pytest.raises(TypeError, match="logit_bias"):
        Sampler(4, logit_bias=[(1, 1.0)])
    with pytest.raises(ValueError, match="range"):
        s.accept([4])
    with pytest.raises(TypeError, match="unknown sampling"):
        Sampler(4, temprature=1.0)
