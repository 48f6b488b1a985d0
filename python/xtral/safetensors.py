"""Hugging Face safetensors files: :class:`SafetensorsFile` (read-only, memory-mapped).

Parsing and validation happen in C (``csrc/gguf/safetensors.c`` over the strict JSON reader
``csrc/gguf/json.c``). A malformed file raises :class:`xtral.GGUFError` (alias
:class:`xtral.FormatError`, a ``ValueError``) naming the field; a bad path raises ``OSError``;
a sub-byte dtype (F4, F6_*) raises :class:`xtral.UnsupportedError`.

The layout rules are the reference crate's: tensors sorted by ``data_offsets`` tile the data
section exactly (no gap, no overlap, the file ends with the last tensor). Stricter than the
crate: duplicate keys anywhere in the header, names holding U+0000, and lone surrogate escapes
are errors.
"""
from __future__ import annotations

import os
from types import TracebackType
from typing import Any, NamedTuple, Union

import numpy as np

from . import _core

__all__ = ["SafetensorsFile", "SafetensorsTensorInfo", "json_loads"]


class SafetensorsTensorInfo(NamedTuple):
    """One tensor entry of a safetensors header."""

    name: str
    shape: tuple[int, ...]  # outermost first, as NumPy and PyTorch
    dtype: str  # safetensors dtype name: "F32", "BF16", "F8_E4M3", ...
    offset: int  # data_offsets[0], relative to the data section
    nbytes: int


class SafetensorsFile:
    """An open safetensors file: ``metadata``, ``tensors``, zero-copy tensor views.

    ``SafetensorsFile(path)`` maps the file; ``SafetensorsFile.from_bytes(data)`` parses a copy
    of an in-memory image. Use as a context manager or call :meth:`close`. Arrays returned by
    :meth:`tensor` and :meth:`tensor_bytes` stay valid after close (they keep the mapping alive).
    """

    def __init__(self, path: Union[str, os.PathLike[str]], *, _handle: Any = None) -> None:
        self._handle = _handle if _handle is not None else _core.SafetensorsHandle(os.fspath(path))
        self._metadata: dict[str, str] | None = None
        self._tensors: dict[str, SafetensorsTensorInfo] | None = None

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview]) -> "SafetensorsFile":
        """Parses an in-memory safetensors image (copied once)."""
        return cls("<memory>", _handle=_core.SafetensorsHandle(data=data))

    # ---- lifecycle ----
    def close(self) -> None:
        """Release the file (idempotent)."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def __enter__(self) -> "SafetensorsFile":
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<SafetensorsFile {self.path!r} (closed)>"
        return f"<SafetensorsFile {self.path!r} {len(self.tensors)} tensors>"

    # ---- header ----
    @property
    def path(self) -> str | None:
        """The path the file was opened from (None for :meth:`from_bytes`)."""
        return self._handle.path

    @property
    def file_size(self) -> int:
        return int(self._handle.file_size)

    @property
    def data_offset(self) -> int:
        """File offset of the data section (8 + header length)."""
        return int(self._handle.data_offset)

    @property
    def metadata(self) -> dict[str, str]:
        """The ``__metadata__`` map (str -> str), in header order; empty when absent."""
        if self._metadata is None:
            self._metadata = self._handle.metadata()
        return dict(self._metadata)

    @property
    def tensors(self) -> dict[str, SafetensorsTensorInfo]:
        """Tensor name -> :class:`SafetensorsTensorInfo`, in data order (by offset)."""
        if self._tensors is None:
            self._tensors = {row[0]: SafetensorsTensorInfo(*row)
                             for row in self._handle.tensor_infos()}
        return dict(self._tensors)

    # ---- data ----
    def tensor_bytes(self, name: str) -> memoryview:
        """The raw little-endian bytes of a tensor: a read-only, zero-copy view."""
        return memoryview(self._handle.tensor_bytes(name))

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as a NumPy array: a zero-copy read-only view for BOOL, U8-U64, I8-I64, F16,
        F32, F64 and C64; a float32 copy for BF16; the raw bytes as uint8 (same shape) for the
        FP8 types. KeyError when there is no such tensor."""
        return self._handle.tensor(name)


def json_loads(data: Union[str, bytes, bytearray, memoryview]) -> Any:
    """Parses JSON with xtral's strict C reader (RFC 8259; duplicate keys, lone surrogates,
    NaN/Infinity and non-finite numbers are errors). Raises :class:`xtral.GGUFError`."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return _core.json_parse(data)
