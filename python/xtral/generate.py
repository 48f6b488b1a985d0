"""Generation: the decode loop behind :meth:`Model.generate`, :meth:`Model.chat` and the CLI.

Each step is one C call (``ModelHandle.generate_step``: forward the fed token, sample the next
one into the sampler's own buffers, add it to the penalty history); the loop, the stop
conditions and the text live here. A step costs milliseconds and the Python around it a few
microseconds, and Ctrl-C (``KeyboardInterrupt``) lands between two steps, leaving the model
usable.

Cache policy: a generation starts from the prompt, not from whatever the model holds. The
tokens already cached are reused as far as they agree with the new prompt (the common prefix;
at least the last two prompt tokens are always run again, as one batch, so the result never
depends on what was cached), and the rest of the cache is dropped. A chat that re-sends its
whole history therefore only runs each new turn.
"""
from __future__ import annotations

import codecs
import time
from typing import TYPE_CHECKING, Any, ContextManager, Iterable, Iterator, Sequence, Union

import numpy as np

from .sampling import Sampler, SamplingParams

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["TextStream", "Prompt"]

Prompt = Union[str, Sequence[int], np.ndarray]


# ---- arguments ----

def check_stop(stop: Any) -> tuple[str, ...]:
    """``stop``: None, a string, or a sequence of non-empty strings."""
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, (bytes, bytearray)) or not isinstance(stop, Iterable):
        raise TypeError(f"stop must be a string or a list of strings, got {type(stop).__name__}")
    out = tuple(stop)
    for s in out:
        if not isinstance(s, str):
            raise TypeError(f"stop must be a string or a list of strings; got an item of type "
                            f"{type(s).__name__}")
        if not s:
            raise ValueError("stop strings must not be empty")
    return out


def check_max_tokens(max_tokens: Any) -> int | None:
    if max_tokens is None:
        return None
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)):
        raise TypeError(f"max_tokens must be an int or None, got {type(max_tokens).__name__}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1 (or None: until the context is full), "
                         f"got {max_tokens}")
    return int(max_tokens)


def drop_double_bos(model: "Model", ids: list[int]) -> list[int]:
    """A template or prompt text that starts with the BOS text, tokenized with the model's own
    BOS added, starts with two BOS tokens: keep one (as llama.cpp and transformers do)."""
    bos = model.bos_id
    if bos is not None and bos >= 0 and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
        return ids[1:]
    return ids


def prompt_ids(model: "Model", prompt: Prompt) -> list[int]:
    """Token ids of a prompt: text is tokenized with the model's special tokens added and
    special-token text parsed (as llama.cpp's completion does); ids are checked."""
    if isinstance(prompt, str):
        ids = drop_double_bos(model, list(model.tokenize(prompt, add_special=True,
                                                         parse_special=True)))
    elif isinstance(prompt, (bytes, bytearray)):
        raise TypeError("prompt must be a str or a sequence of token ids, not bytes")
    else:
        arr = np.asarray(prompt)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise TypeError("prompt must be a str or a 1-D sequence of int token ids")
        ids = [int(t) for t in arr.tolist()]
        n_vocab = model.n_vocab
        for t in ids:
            if not 0 <= t < n_vocab:
                raise ValueError(f"prompt: token id {t} is out of range [0, {n_vocab})")
    if not ids:
        raise ValueError("prompt is empty (no tokens)")
    if len(ids) >= model.n_ctx:
        raise ValueError(f"prompt: {len(ids)} tokens do not fit the context of {model.n_ctx} "
                         "with room to generate (load the model with a larger n_ctx)")
    return ids


# ---- text out ----

class _Text:
    """Token pieces (bytes) in, text out: bytes of a character split across tokens are held
    until it is complete (invalid bytes become U+FFFD; an incomplete character at the very end
    is dropped), and text that could be the start of a stop string is held until it is not."""

    def __init__(self, stop: tuple[str, ...]) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._stop = stop
        self._pending = ""
        self.stopped = False

    def feed(self, piece: bytes) -> str:
        self._pending += self._utf8.decode(piece)
        return self._release(final=False)

    def finish(self) -> str:
        # Bytes of a character still incomplete here were cut by max_tokens (or the context
        # end): dropped, rather than shown as U+FFFD.
        self._utf8.reset()
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        text = self._pending
        if self.stopped:
            return ""
        if self._stop:
            hits = [i for i in (text.find(s) for s in self._stop) if i >= 0]
            if hits:
                self.stopped = True
                self._pending = ""
                return text[: min(hits)]
            if not final:
                # hold back the longest tail that is a prefix of a stop string
                hold = 0
                for s in self._stop:
                    for k in range(min(len(s) - 1, len(text)), hold, -1):
                        if text.endswith(s[:k]):
                            hold = k
                            break
                self._pending = text[len(text) - hold:] if hold else ""
                return text[: len(text) - hold]
        self._pending = ""
        return text


def _is_control(model: "Model", tok: int) -> bool:
    """A token with text that detokenizing with skip_special drops (<|im_end|>, <bos>...)."""
    return model.detokenize([tok], skip_special=True) == "" and model.token_bytes(tok) != b""


class TextStream(Iterator[str]):
    """An iterator of text pieces from one generation (``generate(..., stream=True)``).

    Every piece is valid text: nothing of a stop string and no partial character is ever
    yielded. After (or during) iteration:

    Attributes:
        prompt_tokens: the prompt's token ids.
        tokens: the generated token ids so far (the stop token excluded).
        finish_reason: None while running, then ``"stop"`` (an end-of-generation token or a
            stop string), ``"length"`` (max_tokens or the context is full) or
            ``"cancelled"`` (closed early, or interrupted by an exception such as Ctrl-C).
        n_prompt_run: prompt tokens actually run (the rest came from the cache).
        prefill_seconds, decode_seconds: time spent in the prompt and in the later steps.
    """

    def __init__(self, model: "Model", prompt: list[int], params: SamplingParams,
                 max_tokens: int | None, stop: tuple[str, ...],
                 stop_tokens: Iterable[int] | None = None,
                 scope: ContextManager[None] | None = None) -> None:
        self.prompt_tokens = prompt
        self.tokens: list[int] = []
        self.finish_reason: str | None = None
        self.n_prompt_run = 0
        self.prefill_seconds = 0.0
        self.decode_seconds = 0.0
        self.params = params
        self._model = model
        self._max_tokens = max_tokens
        self._stop = stop
        self._stop_tokens = frozenset(model.eog_ids if stop_tokens is None else stop_tokens)
        self._sampler = Sampler(model.n_vocab, params)  # checks every value now, not lazily
        self._scope = scope  # entered when iteration starts, left when the stream ends
        self._gen = self._run()

    def __next__(self) -> str:
        return next(self._gen)

    def __iter__(self) -> "TextStream":
        return self

    def close(self) -> None:
        """Stop early (also done by garbage collection)."""
        self._gen.close()

    def text(self) -> str:
        """Run to the end and return everything not yet yielded, joined."""
        return "".join(self)

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: generated tokens after the first, per second of decoding."""
        n = max(len(self.tokens) - 1, 0)
        return n / self.decode_seconds if self.decode_seconds > 0 else 0.0

    def _run(self) -> Iterator[str]:
        if self._scope is None:
            yield from self._pieces()
            return
        with self._scope:  # a close() or garbage collection exits it at the pending yield
            yield from self._pieces()

    def _pieces(self) -> Iterator[str]:
        model = self._model
        text = _Text(self._stop)
        special: dict[int, bool] = {}
        for tok in token_loop(model, self.prompt_tokens, self._sampler, self._max_tokens,
                              self._stop_tokens, self):
            self.tokens.append(tok)
            if tok not in special:  # control tokens print as nothing (llama.cpp's default)
                special[tok] = _is_control(model, tok)
            piece = text.feed(b"" if special[tok] else model.token_bytes(tok))
            if piece:
                yield piece
            if text.stopped:
                self.finish_reason = "stop"
                return
        rest = text.finish()
        if rest:
            yield rest


def token_loop(model: "Model", prompt: list[int], sampler: Sampler,
               max_tokens: int | None, stop_tokens: frozenset[int],
               stats: Any = None) -> Iterator[int]:
    """Generated token ids (the stop token not included). Prefills the prompt reusing the
    cached prefix, then one C step per token. ``stats`` (a TextStream or None) receives the
    timings, ``n_prompt_run`` and ``finish_reason``."""
    params = sampler.params
    if params.penalty_last_n > 0:
        sampler.accept(prompt[-params.penalty_last_n:])
    handle = model._handle
    t0 = time.perf_counter()
    feed = model._prepare_cache(prompt)
    if stats is not None:
        stats.n_prompt_run = len(feed)
    n_batch = model.info["n_batch"]
    while len(feed) > n_batch:  # chunks first, so Ctrl-C can land between them
        # the last chunk keeps >= 2 tokens: its numbers then never depend on where the
        # cached prefix ended (a one-token call takes the one-token kernels)
        take = n_batch if len(feed) - n_batch >= 2 else n_batch - 1
        model.forward(feed[:take])
        feed = feed[take:]
    tok = handle.generate_step(sampler._h, np.asarray(feed, dtype=np.int32))
    model._cache_append(feed)
    t1 = time.perf_counter()
    n_ctx = model.n_ctx
    n = 0
    reason = "cancelled"  # unless the loop ends on its own: closed early or interrupted
    try:
        while True:
            if tok in stop_tokens:
                reason = "stop"
                break
            yield tok
            n += 1
            if (max_tokens is not None and n >= max_tokens) or model.n_past >= n_ctx:
                reason = "length"
                break
            next_tok = handle.generate_step(sampler._h, tok)
            model._cache_append((tok,))
            tok = next_tok
    finally:
        if stats is not None:
            stats.prefill_seconds = t1 - t0
            stats.decode_seconds = time.perf_counter() - t1
            if stats.finish_reason is None:
                stats.finish_reason = reason
