"""Sampling: :class:`SamplingParams` (what to draw) and :class:`Sampler` (draws token ids from
rows of logits).

Every number is computed in C (``xtral._core.SamplerHandle``). The steps follow llama.cpp's
default chain and definitions:

1. logit bias: ``logit[id] += bias`` (``-inf`` bans a token);
2. penalties over the last ``penalty_last_n`` accepted tokens, once per distinct token with
   count ``c``: the repetition penalty divides a positive logit and multiplies a negative one,
   then ``logit -= c * frequency_penalty + presence_penalty``;
3. top-k: the ``top_k`` largest logits;
4. top-p: the shortest prefix (by probability) whose probabilities, renormalized over what
   top-k left, sum to at least ``top_p``;
5. min-p: tokens whose probability is at least ``min_p`` times the largest;
6. temperature: logits divided by ``temperature``, then one draw from their softmax.

``temperature=0`` is greedy: the argmax after steps 1-2 (ties go to the lowest id). Draws use
a xoshiro256** stream seeded from ``seed``: the same seed gives the same tokens on every run,
machine and thread count.
"""
from __future__ import annotations

import dataclasses
import numbers
import secrets
from typing import Any, Mapping, Sequence, Union

import numpy as np

from . import _core

__all__ = ["SamplingParams", "Sampler"]


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if v != v:
        raise ValueError(f"{name} must not be NaN")
    return v


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token (defaults are llama.cpp's).

    Attributes:
        temperature: >= 0; 0 is greedy.
        top_k: >= 0; 0 turns it off.
        top_p: in (0, 1]; 1 turns it off.
        min_p: in [0, 1]; 0 turns it off.
        repeat_penalty: > 0; 1 turns it off.
        presence_penalty: subtracted once from each token in the penalty window.
        frequency_penalty: subtracted once per occurrence in the penalty window.
        penalty_last_n: how many of the latest tokens (prompt included) the penalties see;
            0 turns them off.
        logit_bias: ``{token_id: bias}`` added to the logits (``float("-inf")`` bans).
        seed: 64-bit seed of the random stream; ``None`` picks a fresh one.
    """

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    penalty_last_n: int = 64
    logit_bias: Mapping[int, float] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        t = _number("temperature", self.temperature)
        if t < 0 or t == float("inf"):
            raise ValueError(f"temperature must be a finite number >= 0 (0: greedy), got {t}")
        if _integer("top_k", self.top_k) < 0:
            raise ValueError(f"top_k must be >= 0 (0: off), got {self.top_k}")
        p = _number("top_p", self.top_p)
        if not 0 < p <= 1:
            raise ValueError(f"top_p must be in (0, 1] (1: off), got {p}")
        mp = _number("min_p", self.min_p)
        if not 0 <= mp <= 1:
            raise ValueError(f"min_p must be in [0, 1] (0: off), got {mp}")
        rp = _number("repeat_penalty", self.repeat_penalty)
        if not 0 < rp < float("inf"):
            raise ValueError(f"repeat_penalty must be a finite number > 0 (1: off), got {rp}")
        for name in ("presence_penalty", "frequency_penalty"):
            if abs(_number(name, getattr(self, name))) == float("inf"):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        n = _integer("penalty_last_n", self.penalty_last_n)
        if not 0 <= n <= 1 << 22:
            raise ValueError(f"penalty_last_n must be in [0, 4194304], got {n}")
        if self.seed is not None:
            s = _integer("seed", self.seed)
            if not 0 <= s < 1 << 64:
                raise ValueError(f"seed must be in [0, 2**64), got {s}")
        if self.logit_bias is not None:
            if not isinstance(self.logit_bias, Mapping):
                raise TypeError("logit_bias must be a mapping {token_id: bias}, got "
                                f"{type(self.logit_bias).__name__}")
            for k, v in self.logit_bias.items():
                _integer("logit_bias key", k)
                b = _number(f"logit_bias[{k}]", v)
                if b == float("inf"):
                    raise ValueError(f"logit_bias[{k}] must be a number or -inf, got inf")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def replace(self, **changes: Any) -> "SamplingParams":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name for f in dataclasses.fields(SamplingParams)}


def sampling_params(params: SamplingParams | None, **kwargs: Any) -> SamplingParams:
    """``params`` (default: ``SamplingParams()``) with the keyword arguments that are not
    ``None`` applied. Unknown names raise TypeError."""
    unknown = sorted(set(kwargs) - _FIELDS)
    if unknown:
        raise TypeError(f"unknown sampling argument(s): {', '.join(unknown)}")
    if params is not None and not isinstance(params, SamplingParams):
        raise TypeError(f"params must be a SamplingParams, got {type(params).__name__}")
    changes = {k: v for k, v in kwargs.items() if v is not None}
    base = params or SamplingParams()
    return dataclasses.replace(base, **changes) if changes else base


class Sampler:
    """Draws token ids from rows of logits (see the module docstring for the steps).

    ``Sampler(n_vocab, params=None, **fields)``: the fields are those of
    :class:`SamplingParams`. A sampler keeps its penalty history (:meth:`accept`) and its
    random stream between calls; :meth:`reset` restarts both.
    """

    __slots__ = ("_h", "params")

    def __init__(self, n_vocab: int, params: SamplingParams | None = None, **fields: Any) -> None:
        self.params = sampling_params(params, **fields)
        p = self.params
        if p.seed is None:
            self.params = p = p.replace(seed=secrets.randbits(64))
        n = _integer("n_vocab", n_vocab)
        if n < 1:
            raise ValueError(f"n_vocab must be >= 1, got {n}")
        self._h = _core.SamplerHandle(n, p.temperature, p.top_k, p.top_p, p.min_p,
                                      p.repeat_penalty, p.presence_penalty, p.frequency_penalty,
                                      p.penalty_last_n, p.seed)
        if p.logit_bias:
            ids = np.fromiter((int(k) for k in p.logit_bias), dtype=np.int64,
                              count=len(p.logit_bias))
            if ids.min() < 0 or ids.max() >= n:
                bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
                raise ValueError(f"logit_bias: token id {bad} is out of range [0, {n})")
            vals = np.array([float(v) for v in p.logit_bias.values()], dtype=np.float32)
            self._h.set_bias(ids.astype(np.int32), vals)

    @property
    def n_vocab(self) -> int:
        return self._h.n_vocab

    def _row(self, logits: Any) -> np.ndarray:
        row = np.ascontiguousarray(logits, dtype=np.float32)
        if row.ndim != 1:
            raise ValueError(f"logits must be 1-D (n_vocab,), got shape {row.shape}")
        return row

    def sample(self, logits: Any) -> int:
        """One token id drawn from ``logits`` (n_vocab floats). Does not :meth:`accept` it."""
        return self._h.sample(self._row(logits))

    def probs(self, logits: Any) -> np.ndarray:
        """The distribution :meth:`sample` draws from: float32 (n_vocab), 0 where filtered."""
        return self._h.probs(self._row(logits))

    def accept(self, token_ids: Union[int, Sequence[int], np.ndarray]) -> None:
        """Append tokens to the penalty history."""
        ids = np.atleast_1d(np.asarray(token_ids))
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise TypeError("token_ids must be an int or a 1-D sequence of ints")
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_vocab):
            raise ValueError(f"token ids are out of range [0, {self.n_vocab})")
        self._h.accept(np.ascontiguousarray(ids, dtype=np.int32))

    def reset(self, seed: int | None = None) -> None:
        """Forget the penalty history and restart the random stream (from ``seed``, default:
        the sampler's seed)."""
        s = self.params.seed if seed is None else _integer("seed", seed)
        if not 0 <= s < 1 << 64:
            raise ValueError(f"seed must be in [0, 2**64), got {s}")
        self._h.reset(s)

    def __repr__(self) -> str:
        return f"<xtral.Sampler n_vocab={self.n_vocab} {self.params}>"
