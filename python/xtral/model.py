"""Models: :class:`Model` loads a GGUF file or a Hugging Face folder and runs tokens to logits
on the CPU.

Every number is computed in C (``xtral._core.ModelHandle``): the generic transformer runner,
the KV cache and a persistent thread pool. The GIL is released during compute, and a
per-object lock serializes concurrent calls on one model.
"""
from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from . import _core
from .chat import render_chat_template
from .chat_templates import builtin_template
from .generate import (Prompt, TextStream, check_max_tokens, check_stop, drop_double_bos,
                       prompt_ids, token_loop)
from .sampling import Sampler, SamplingParams, sampling_params
from .adapters import Adapter
from .tokenizer import GGUFTokenizer, HFTokenizer, Text, open_tokenizer

__all__ = ["Model"]

_KV_TYPES = {"f16": 1, "f32": 0}

AdapterSpec = Union[str, Sequence[str], Mapping[str, float], None]


def _adapter_spec(names: AdapterSpec,
                  weights: Sequence[float] | None = None) -> tuple[list[str], list[float] | None]:
    if names is None:
        return [], None
    if isinstance(names, str):
        names = [names]
    if isinstance(names, Mapping):
        if weights is not None:
            raise ValueError("give weights either in the dict or as weights=, not both")
        return [str(k) for k in names], [float(v) for v in names.values()]
    ns = list(names)
    for n in ns:
        if not isinstance(n, str):
            raise TypeError(f"adapter names must be str, got {type(n).__name__}")
    if weights is not None:
        ws = [float(w) for w in weights]
        if len(ws) != len(ns):
            raise ValueError(f"set_adapters: {len(ns)} names but {len(ws)} weights")
        return ns, ws
    return ns, None


class _ActiveSet:
    """Context manager: a temporary active set, restored on exit."""

    def __init__(self, model: "Model", adapters: AdapterSpec) -> None:
        self.model, self.adapters = model, adapters

    def __enter__(self) -> None:
        self.saved = self.model.active_adapters()
        self.model.set_adapters(self.adapters)

    def __exit__(self, *exc: object) -> None:
        self.model._handle.set_adapters(list(self.saved), list(self.saved.values()))


class _GenerationScope:
    """Context manager around one generation: its adapter set (``adapters``, None: keep the
    active one), restored on exit; with ``record_scalings`` the generation's positions are
    kept for ``xlora_scalings`` (X-LoRA reuses no cached prefix, so they start at 0), also
    when it ends early."""

    def __init__(self, model: "Model", adapters: AdapterSpec, record_scalings: bool) -> None:
        self.model, self.record = model, record_scalings
        self.active = None if adapters is None else _ActiveSet(model, adapters)

    def __enter__(self) -> None:
        if self.active is not None:
            self.active.__enter__()
        self.model._scal_range = None

    def __exit__(self, *exc: object) -> None:
        if self.record:
            self.model._scal_range = (0, self.model.n_past)
        if self.active is not None:
            self.active.__exit__(*exc)


class Model:
    """A loaded model: text to tokens, tokens to logits, tokens back to text.

    Use :meth:`load`; close with :meth:`close` or a ``with`` block.
    """

    __slots__ = ("_h", "_path", "_info", "_tok", "_cache", "_cache_key", "_scal_range")

    def __init__(self, handle: Any, path: str) -> None:
        self._h = handle
        self._path = path
        self._info: dict[str, Any] | None = None
        self._cache: list[int] = []  # token ids in the KV cache, while len == n_past
        self._cache_key: tuple[Any, ...] = ()  # the adapter set those rows were run with
        self._tok: GGUFTokenizer | HFTokenizer | None = None
        self._scal_range: tuple[int, int] | None = None  # record_scalings: a generation's rows

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]], device: str = "cpu",
             threads: int | None = None, n_ctx: int | None = None,
             kv_type: str = "f16", n_batch: int | None = None,
             gelu: str = "exact") -> "Model":
        """Load a GGUF model file.

        Args:
            path: a ``.gguf`` file, or a Hugging Face model folder (``config.json`` and
                ``model.safetensors``, or shards listed by ``model.safetensors.index.json``;
                F32/F16/BF16 weights, mapped, not copied). Architectures: llama, qwen2, qwen3,
                gemma3, phi3.
            device: ``"cpu"`` (the only backend in this build).
            threads: worker threads (default: one per CPU).
            n_ctx: KV-cache capacity in tokens (default: the training context, at most 4096).
            kv_type: ``"f16"`` (default) or ``"f32"``.
            n_batch: tokens per prefill chunk (default 512).
            gelu: ``"exact"`` (float32 tanh GELU, as transformers) or ``"ggml"`` (through
                ggml's fp16 lookup table, as llama.cpp's CPU backend); GeGLU models only.
        """
        if device != "cpu":
            raise ValueError(f"device must be 'cpu' (got {device!r}); other backends are not built")
        if gelu not in ("exact", "ggml"):
            raise ValueError(f"gelu must be 'exact' or 'ggml', got {gelu!r}")
        if kv_type not in _KV_TYPES:
            raise ValueError(f"kv_type must be 'f16' or 'f32', got {kv_type!r}")
        for name, v in (("threads", threads), ("n_ctx", n_ctx), ("n_batch", n_batch)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive int or None, got {v!r}")
        fspath = os.fspath(path)
        handle = _core.ModelHandle(fspath, threads or 0, n_ctx or 0, _KV_TYPES[kv_type],
                                   n_batch or 0, gelu == "ggml")
        return cls(handle, fspath)

    # ---- compute ----

    def forward(self, token_ids: Union[Sequence[int], np.ndarray],
                all_logits: bool = False, adapters: AdapterSpec = None) -> np.ndarray:
        """Run ``token_ids`` after the tokens already in the cache.

        Returns float32 logits: ``[n_vocab]`` for the last token, or ``[n, n_vocab]`` with
        ``all_logits=True``. On error the cache is unchanged (``n_past`` stays).

        ``adapters`` selects the active adapters for this call only (as
        :meth:`set_adapters`: a name, a list of names, or a ``{name: weight}`` dict; ``[]``
        for the base model); the previous set is restored afterwards.
        """
        if adapters is not None:
            with self._adapters_for_call(adapters):
                return self.forward(token_ids, all_logits)
        ids = np.asarray(token_ids)
        if ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {ids.shape}")
        if ids.size == 0:
            raise ValueError("forward: empty input (no tokens)")
        if ids.dtype.kind not in "iu":
            if ids.dtype.kind == "b" or not np.all(np.equal(np.mod(ids, 1), 0)):
                raise TypeError(f"token_ids must be integers, got dtype {ids.dtype}")
        n_vocab = self.info["n_vocab"]
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= n_vocab:
            bad = int(lo) if lo < 0 else int(hi)
            raise ValueError(f"token id {bad} is out of range [0, {n_vocab})")
        ids32 = np.ascontiguousarray(ids, dtype=np.int32)
        self._scal_range = None
        out = self._handle.forward(ids32, bool(all_logits))
        self._cache_append(ids32.tolist())
        return out

    # ---- adapters ----

    def add_adapter(self, adapter: Adapter, name: str | None = None,
                    scale: float = 1.0) -> str:
        """Attach ``adapter`` (a copy: base weights are never copied) under ``name`` (default:
        the adapter's folder/file name) and make it active.

        A LoRA joins the active LoRAs with weight 1; an X-LoRA adapter becomes the only active
        adapter. ``scale`` multiplies the adapter's own ``alpha/r`` (llama.cpp's
        ``--lora-scaled``). Targets, shapes and architecture are checked against the model:
        a mismatch raises ``ValueError`` naming the tensor and both shapes. Returns the name.
        """
        if not isinstance(adapter, Adapter):
            raise TypeError(f"adapter must be an xtral.Adapter, got {type(adapter).__name__}")
        name = adapter.name if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        self._handle.add_adapter(adapter._h, name, float(scale))
        return name

    def set_adapters(self, names: AdapterSpec, weights: Sequence[float] | None = None) -> None:
        """Choose the active adapters: ``y = W x + sum_i w_i * scale_i * s_i * B_i A_i x`` on
        every targeted matmul, where ``s_i`` is adapter i's ``alpha/r`` (or ``alpha/sqrt(r)``
        with rsLoRA, per module with ``alpha_pattern``). ``weights`` default to 1. This equals
        PEFT with those adapters active and each one's scaling multiplied by its weight, and
        PEFT's ``add_weighted_adapter(..., combination_type="cat")``.

        ``names`` may be a str, a list of str, or a ``{name: weight}`` dict; ``[]`` or ``None``
        runs the base model. Unknown names raise ``KeyError`` and leave the set unchanged.
        """
        ns, ws = _adapter_spec(names, weights)
        self._handle.set_adapters(ns, ws)

    def remove_adapter(self, name: str) -> None:
        """Detach an adapter (unmerging it first when merged)."""
        self._handle.remove_adapter(name)

    def merge_adapter(self, name: str) -> None:
        """Add the adapter's delta into the base weights so it costs nothing per token.

        Needs F32/F16 weights (quantized weights raise ``UnsupportedError``; adapters apply
        unmerged on them). The targeted tensors get private merged copies; the file mapping is
        never written, and :meth:`unmerge_adapter` points back at the original weights (bit for
        bit). A merged adapter is always on and leaves the active set.
        """
        self._handle.merge_adapter(name, True)

    def unmerge_adapter(self, name: str) -> None:
        """Undo :meth:`merge_adapter` (the adapter stays attached, inactive)."""
        self._handle.merge_adapter(name, False)

    @property
    def adapters(self) -> dict[str, dict[str, Any]]:
        """Attached adapters in attach order: ``{name: {"weight", "active", "merged",
        "xlora"}}``."""
        return {n: {"weight": w, "active": w != 0.0, "merged": mg, "xlora": xl}
                for n, w, mg, xl in self._handle.adapters()}

    def active_adapters(self) -> dict[str, float]:
        """The active set as ``{name: weight}``."""
        return {n: w for n, w, mg, xl in self._handle.adapters() if w != 0.0}

    def xlora_scalings(self, whole_sequence: bool = False) -> np.ndarray:
        """The active X-LoRA adapter's scalings, float32 ``[tokens, layers, adapters]``: the
        classifier's output after its softmax (with temperature), before the per-layer top-k,
        as PEFT's ``get_latest_scalings()``. The layer axis counts the LoRA-targeted modules in
        model order.

        By default the tokens of the last call (a whole generation after
        ``generate(..., record_scalings=True)``); ``whole_sequence=True``: every position in the
        cache (prompt and generated tokens), ready to plot. Scalings of every position are kept
        anyway (no recording switch is needed)."""
        if whole_sequence:
            return self._handle.xlora_scalings(0, self.n_past)
        if self._scal_range is not None:
            return self._handle.xlora_scalings(*self._scal_range)
        return self._handle.xlora_scalings()

    def xlora_scalings_range(self, start: int, stop: int) -> np.ndarray:
        """Scalings of positions ``[start, stop)`` of the current sequence."""
        return self._handle.xlora_scalings(int(start), int(stop))

    def xlora_counters(self) -> dict[str, int]:
        """``scaling_passes`` run since the X-LoRA adapter was attached, and
        ``non_granular_steps`` (decode steps counted in this sequence)."""
        return self._handle.xlora_counters()

    def _adapters_for_call(self, adapters: AdapterSpec) -> "_ActiveSet":
        return _ActiveSet(self, adapters)

    def __call__(self, token_ids: Union[Sequence[int], np.ndarray],
                 all_logits: bool = False) -> np.ndarray:
        return self.forward(token_ids, all_logits)

    def reset(self) -> None:
        """Forget the KV cache (``n_past`` becomes 0)."""
        self._handle.reset()
        self._cache = []
        self._scal_range = None

    @property
    def n_past(self) -> int:
        """Tokens in the KV cache."""
        return self._handle.n_past

    @property
    def n_ctx(self) -> int:
        return self.info["n_ctx"]

    @property
    def n_vocab(self) -> int:
        return self.info["n_vocab"]

    @property
    def info(self) -> dict[str, Any]:
        """Architecture, shapes, parameter count, tensor types, context length and memory."""
        handle = self._handle  # raises once closed
        if self._info is None:
            self._info = handle.info()
            self._info["path"] = self._path
            self._info["device"] = "cpu"
            self._info["memory"] = {k: self._info[k] for k in
                                    ("weight_bytes", "kv_bytes", "scratch_bytes")}
        return dict(self._info)

    # ---- text ----

    @property
    def tokenizer(self) -> GGUFTokenizer | HFTokenizer:
        """The model's tokenizer (GGUF metadata, or the folder's tokenizer.json), loaded on
        first use. Raises :class:`GGUFError` naming what is missing when the model has none."""
        self._handle  # raises once closed
        if self._tok is None:
            self._tok = open_tokenizer(self._path)
        return self._tok

    def tokenize(self, text: Text, add_special: bool = True,
                 parse_special: bool = False) -> list[int]:
        """Token ids of ``text`` (``str``, or ``bytes`` taken as UTF-8; invalid bytes are
        handled as llama.cpp handles them).

        Args:
            add_special: add BOS/EOS as the model's metadata says (``add_bos_token``,
                ``add_eos_token``), like llama.cpp's ``add_special``.
            parse_special: turn the text of control tokens (``"<|im_start|>"``) into those
                tokens, like llama-cpp-python's ``special=True``. User-defined tokens are always
                recognized.
        """
        return self.tokenizer.tokenize(text, add_special, parse_special)

    def detokenize(self, ids: Union[Sequence[int], np.ndarray], skip_special: bool = False) -> str:
        """Text of token ids (invalid UTF-8 becomes U+FFFD). Control tokens are written as
        their text unless ``skip_special``."""
        return self.tokenizer.detokenize(ids, skip_special)

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token's piece (may be part of a UTF-8 character: join pieces
        before decoding when streaming)."""
        return self.tokenizer.token_bytes(token_id)

    @property
    def bos_id(self) -> int | None:
        """Beginning-of-sequence token id, or None."""
        return self.tokenizer.bos_id

    @property
    def eos_id(self) -> int | None:
        """End-of-sequence token id, or None."""
        return self.tokenizer.eos_id

    @property
    def eog_ids(self) -> frozenset[int]:
        """Ids that end generation (eos, eot, ``<|im_end|>``, ``<end_of_turn>``... as llama.cpp
        marks them)."""
        return self.tokenizer.eog_ids

    @property
    def vocab_size(self) -> int:
        """Tokens in the tokenizer's vocabulary."""
        return self.tokenizer.vocab_size

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template (GGUF ``tokenizer.chat_template`` or tokenizer_config.json),
        or None."""
        return self.tokenizer.chat_template

    # ---- generation ----

    def _adapter_key(self) -> tuple[Any, ...]:
        return tuple(self._handle.adapters())

    def _cache_append(self, ids: Iterable[int]) -> None:
        key = self._adapter_key()
        if key != self._cache_key:
            # rows run under another adapter set can never be reused: -1 matches no token
            self._cache = [-1] * len(self._cache)
            self._cache_key = key
        self._cache.extend(ids)

    def _prepare_cache(self, prompt: list[int]) -> list[int]:
        """Keeps the cached prefix the prompt shares (at most len(prompt) - 2 tokens) and returns
        the tokens still to run. Nothing
        is reused across a change of adapters, nor with an X-LoRA adapter attached (its
        per-sequence state does not rewind)."""
        handle = self._handle
        n_past = handle.n_past
        keep = 0
        key = self._adapter_key()
        reusable = key == self._cache_key and not any(xl for _, _, _, xl in key)
        if reusable and len(self._cache) == n_past:  # else stale (an interrupted step)
            # Two tokens at least run again: a one-token call takes other kernels (llama.cpp's
            # one-token arithmetic) than a batch, so the logits would depend on the cache.
            limit = min(n_past, len(prompt) - 2)
            while keep < limit and self._cache[keep] == prompt[keep]:
                keep += 1
        handle.truncate(keep)
        del self._cache[keep:]
        self._cache_key = key
        return prompt[keep:]

    def generate(self, prompt: Prompt, max_tokens: int | None = 256, *,
                 temperature: float | None = None, top_k: int | None = None,
                 top_p: float | None = None, min_p: float | None = None,
                 repeat_penalty: float | None = None, presence_penalty: float | None = None,
                 frequency_penalty: float | None = None, penalty_last_n: int | None = None,
                 logit_bias: Mapping[int, float] | None = None, seed: int | None = None,
                 stop: str | Sequence[str] | None = None, stream: bool = False,
                 params: SamplingParams | None = None, adapters: AdapterSpec = None,
                 record_scalings: bool = False) -> Union[str, TextStream]:
        """Continue ``prompt`` and return the generated text (or, with ``stream=True``, a
        :class:`~xtral.generate.TextStream` of text pieces).

        Args:
            prompt: text (tokenized with the model's BOS and with special-token text such as
                ``<|im_start|>`` parsed), or a sequence of token ids used as is.
            max_tokens: at most this many tokens (None: until the context is full).
            temperature, top_k, top_p, min_p, repeat_penalty, presence_penalty,
            frequency_penalty, penalty_last_n, logit_bias, seed: sampling (see
                :class:`~xtral.SamplingParams`; unset ones take ``params``' values or the
                defaults). ``temperature=0`` is greedy.
            stop: a string or strings that end the generation; the text returned stops right
                before the first one, which is never returned or streamed.
            stream: yield text pieces as they come (always whole characters).
            params: a :class:`~xtral.SamplingParams` to start from.
            adapters: the active adapters for this call only (as :meth:`set_adapters`; the
                previous set is restored afterwards). With ``stream=True`` they are switched
                in when iteration starts and restored when the stream ends, is closed or is
                garbage-collected.
            record_scalings: with an X-LoRA adapter active, :meth:`xlora_scalings` then
                returns the scalings of the whole generation (prompt and generated tokens),
                ``[tokens, layers, adapters]``, instead of the last step's.

        Generation ends at an end-of-generation token of the model (``eog_ids``; not part of
        the text), a stop string, ``max_tokens`` or the end of the context. It starts from the
        prompt (the cached prefix the prompt shares is reused). Ctrl-C raises
        KeyboardInterrupt between two tokens and leaves the model usable.
        """
        p = sampling_params(params, temperature=temperature, top_k=top_k, top_p=top_p,
                            min_p=min_p, repeat_penalty=repeat_penalty,
                            presence_penalty=presence_penalty,
                            frequency_penalty=frequency_penalty, penalty_last_n=penalty_last_n,
                            logit_bias=logit_bias, seed=seed)
        stops = check_stop(stop)
        n_max = check_max_tokens(max_tokens)
        ids = prompt_ids(self, prompt)
        if stream:
            self._check_generation(adapters, record_scalings)
            scope = None
            if adapters is not None or record_scalings:
                scope = _GenerationScope(self, adapters, record_scalings)
            return TextStream(self, ids, p, n_max, stops, scope=scope)
        return self._run_generation(lambda: TextStream(self, ids, p, n_max, stops).text(),
                                    adapters, record_scalings)

    def _check_generation(self, adapters: AdapterSpec, record_scalings: bool) -> None:
        """Raises now what the generation's adapter set would raise when it starts: unknown
        names (KeyError), and record_scalings without an active X-LoRA adapter."""
        attached = {name: xl for name, _, _, xl in self._handle.adapters()}
        if adapters is None:
            active = [name for name, w, _, _ in self._handle.adapters() if w]
        else:
            active, weights = _adapter_spec(adapters)
            for name in active:
                if name not in attached:
                    raise KeyError(f"no adapter named {name!r} is attached")
            if weights is not None:
                active = [n for n, w in zip(active, weights) if w]
        if record_scalings and not any(attached[n] for n in active):
            raise ValueError("record_scalings=True needs an active X-LoRA adapter")

    def _run_generation(self, run: Any, adapters: AdapterSpec, record_scalings: bool) -> Any:
        """Runs a generation under a temporary adapter set; keeps the positions it ran when
        record_scalings (X-LoRA: no cached prefix is reused, so they start at 0)."""
        self._check_generation(adapters, record_scalings)
        with _GenerationScope(self, adapters, record_scalings):
            return run()

    def generate_tokens(self, prompt: Prompt, max_tokens: int | None = 256, *,
                        stop_tokens: Iterable[int] | None = None,
                        params: SamplingParams | None = None, adapters: AdapterSpec = None,
                        record_scalings: bool = False, **sampling: Any) -> list[int]:
        """The generated token ids (no text): as :meth:`generate`, ending at a token of
        ``stop_tokens`` (default: the model's ``eog_ids``; ``()`` never stops early).
        ``adapters`` and ``record_scalings`` as in :meth:`generate`."""
        p = sampling_params(params, **sampling)
        n_max = check_max_tokens(max_tokens)
        ids = prompt_ids(self, prompt)
        sampler = Sampler(self.n_vocab, p)
        stops = frozenset(self.eog_ids if stop_tokens is None else
                          (int(t) for t in stop_tokens))
        return self._run_generation(lambda: list(token_loop(self, ids, sampler, n_max, stops)),
                                    adapters, record_scalings)

    def apply_chat_template(self, messages: Sequence[Mapping[str, Any]],
                            add_generation_prompt: bool = True,
                            template: str | None = None, **template_vars: Any) -> str:
        """The prompt text the model's chat template renders for ``messages`` (a list of
        ``{"role": ..., "content": ...}``). ``template`` overrides the model's own
        (:attr:`effective_chat_template`); ``template_vars`` are extra template variables
        (``tools=...``...). See :mod:`xtral.chat`."""
        tpl = template if template is not None else self.effective_chat_template
        if tpl is None:
            raise ValueError("this model has no chat template (tokenizer.chat_template) and "
                             "none is built in for its architecture; pass template=...")
        return render_chat_template(tpl, messages, add_generation_prompt=add_generation_prompt,
                                    bos_token=self._token_text(self.bos_id),
                                    eos_token=self._token_text(self.eos_id), **template_vars)

    @property
    def effective_chat_template(self) -> str | None:
        """The template :meth:`chat` uses: the file's ``tokenizer.chat_template``, else the
        publisher's template for the architecture when xtral knows it (Gemma 3), else None."""
        return self.chat_template or builtin_template(self.info["architecture"])

    def chat_tokens(self, messages: Sequence[Mapping[str, Any]],
                    add_generation_prompt: bool = True, template: str | None = None,
                    **template_vars: Any) -> list[int]:
        """Token ids of the rendered chat prompt: special-token text parsed, the model's BOS
        added unless the template already starts with it."""
        text = self.apply_chat_template(messages, add_generation_prompt, template,
                                        **template_vars)
        return drop_double_bos(self, list(self.tokenize(text, add_special=True,
                                                        parse_special=True)))

    def chat(self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True,
             *, template: str | None = None, template_vars: Mapping[str, Any] | None = None,
             max_tokens: int | None = 256, stream: bool = False,
             stop: str | Sequence[str] | None = None, params: SamplingParams | None = None,
             **sampling: Any) -> Union[str, TextStream]:
        """Reply to a conversation: renders ``messages`` with the model's chat template
        (:meth:`apply_chat_template`), then generates as :meth:`generate` does (same
        sampling keywords) until the model ends its turn. Returns the reply text, or a
        :class:`~xtral.generate.TextStream` with ``stream=True``."""
        p = sampling_params(params, **sampling)
        stops = check_stop(stop)
        n_max = check_max_tokens(max_tokens)
        ids = prompt_ids(self, self.chat_tokens(messages, add_generation_prompt, template,
                                                **dict(template_vars or {})))
        ts = TextStream(self, ids, p, n_max, stops)
        return ts if stream else ts.text()

    def _token_text(self, tok: int | None) -> str:
        if tok is None or tok < 0:
            return ""
        return self.token_bytes(tok).decode("utf-8", "replace")

    # ---- lifecycle ----

    @property
    def _handle(self) -> Any:
        if self._h.closed:
            raise _core.XtralError("the model is closed")
        return self._h

    @property
    def closed(self) -> bool:
        return self._h.closed

    def close(self) -> None:
        """Free the weights mapping, the KV cache, the threads and the tokenizer (idempotent)."""
        self._h.close()
        if self._tok is not None:
            self._tok.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h.closed:
            return f"<xtral.Model {self._path!r} (closed)>"
        i = self.info
        return (f"<xtral.Model {i['architecture']} {i['n_params'] / 1e6:.0f}M params, "
                f"n_ctx={i['n_ctx']}, n_past={self.n_past}>")

