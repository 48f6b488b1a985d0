"""Adapters: :class:`Adapter` loads a LoRA (a PEFT folder or a llama.cpp GGUF adapter) or an
X-LoRA adapter (a PEFT X-LoRA folder: classifier + experts). Attach one to a model with
:meth:`xtral.Model.add_adapter`.

Loading reads the low-rank matrices into float32 and checks the file; checking against a model
(targets, shapes, architecture) happens when it is attached. Every number is computed in C.
"""
from __future__ import annotations

import os
from typing import Any, Union

from . import _core

__all__ = ["Adapter"]


class Adapter:
    """A loaded LoRA or X-LoRA adapter, independent of any model.

    Use :meth:`load` (LoRA) or :meth:`load_xlora` (X-LoRA). The model keeps its own copy when
    the adapter is attached, so the adapter may be closed or reused on other models.
    """

    __slots__ = ("_h", "path", "name")

    def __init__(self, handle: Any, path: str) -> None:
        self._h = handle
        self.path = path
        #: default name when attached: the folder or file name without extension
        self.name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> "Adapter":
        """Load a LoRA adapter.

        Args:
            path: a PEFT adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``;
                ``r``, ``lora_alpha``, ``use_rslora``, ``rank_pattern``/``alpha_pattern`` are
                honoured) or a llama.cpp GGUF LoRA file (``general.type = adapter``).

        Raises:
            FileNotFoundError: missing folder or files.
            FormatError: malformed config or tensors (the field or tensor is named).
            UnsupportedError: LoRA variants xtral does not run (DoRA, biases, embeddings...).
        """
        p = os.fspath(path)
        return cls(_core.AdapterHandle(p, False), p)

    @classmethod
    def load_xlora(cls, path: Union[str, os.PathLike[str]],
                   tgt_non_granular_index: int | None = None) -> "Adapter":
        """Load an X-LoRA adapter folder (``adapter_config.json`` with ``peft_type: XLORA``,
        the classifier in ``adapter_model.safetensors``, experts listed in ``adapters``; relative
        expert paths are resolved against the folder).

        Args:
            tgt_non_granular_index: k >= 1 turns on the non-granular mode: after k decode steps
                the scalings of step k are reused and the scaling pass is skipped (overrides
                the config's value; ``None`` keeps it, default off).
        """
        p = os.fspath(path)
        if tgt_non_granular_index is not None and (
                not isinstance(tgt_non_granular_index, int) or tgt_non_granular_index < 1):
            raise ValueError(f"tgt_non_granular_index must be an int >= 1 or None, "
                             f"got {tgt_non_granular_index!r}")
        ng = -1 if tgt_non_granular_index is None else tgt_non_granular_index
        return cls(_core.AdapterHandle(p, True, ng), p)

    @property
    def info(self) -> dict[str, Any]:
        """Kind (``lora``/``xlora``), modules and rank, or the X-LoRA classifier settings."""
        return self._h.info()

    @property
    def is_xlora(self) -> bool:
        return bool(self._h.info()["xlora"])

    def close(self) -> None:
        """Free the adapter's memory (attached copies stay with their models)."""
        self._h.close()

    def __enter__(self) -> "Adapter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h.closed:
            return f"<xtral.Adapter {self.path!r} (closed)>"
        return f"<xtral.Adapter {self.info['kind']} {self.path!r}>"
