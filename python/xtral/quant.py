"""Quantization: :class:`Quantizer` turns float arrays into :class:`QTensor` blocks of any
supported format; :func:`matmul` multiplies them with float activations; :func:`dequantize`
decodes raw blocks. Every number is computed in C (``xtral._core``)."""
from __future__ import annotations

import os
from typing import Any, Mapping, Union

import numpy as np

from . import _core
from .gguf import dtype_info

__all__ = ["QTensor", "Quantizer", "dequantize", "matmul", "quant_types"]

_FP8 = ("FP8_E4M3", "FP8_E5M2")


def _type_row(qtype: Union[str, int]) -> dict[str, Any]:
    info = dtype_info(qtype)
    info.update(_core.quant_traits(info["id"]))
    return info


def quant_types() -> list[dict[str, Any]]:
    """Every tensor type with kernels: name, id, block size, bytes per block, bits per weight,
    and what xtral can do with it (quantize, dequantize, matmul, importance weights)."""
    rows = []
    for tid in range(_core.DTYPE_COUNT):
        if _core.dtype_info(tid) is None:
            continue
        row = _type_row(tid)
        if not (row["can_quantize"] or row["can_dequantize"]):
            continue
        row["bits_per_weight"] = 8.0 * row["type_size"] / row["block_size"]
        act = row.pop("vec_dot_type")
        row["activation_type"] = dtype_info(act)["name"] if row["has_matmul"] else None
        rows.append(row)
    return rows


def _resolve_threads(threads: int | None) -> int:
    if threads is None:
        return max(1, os.cpu_count() or 1)
    if not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 1024:
        raise ValueError(f"threads must be an int in [1, 1024], got {threads!r}")
    return threads


def _as_float_rows(array: Any, what: str = "array") -> np.ndarray:
    """A float32 C-contiguous 2-D view of `array` (rows = all leading dims)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what} must be a NumPy array, not {type(array).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{what} must be a float array, got dtype {array.dtype}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous (use np.ascontiguousarray)")
    if array.ndim == 0:
        raise ValueError(f"{what} must have at least one dimension")
    a = array.astype(np.float32, copy=False)
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


class QTensor:
    """A quantized tensor: raw blocks in ``qtype``, the last dimension is the row.

    ``qt @ x`` and :func:`matmul` follow NumPy's matmul rules with ``qt`` as a 2-D matrix of
    shape ``(rows, cols)``: ``x`` of shape ``(cols,)`` gives ``(rows,)``, ``(cols, n)`` gives
    ``(rows, n)``.
    """

    __slots__ = ("_raw", "_type", "_shape", "_scales", "_threads")

    def __init__(self, raw: np.ndarray, qtype: Union[str, int], shape: tuple[int, ...],
                 scales: np.ndarray | None = None, threads: int | None = None) -> None:
        self._type = _type_row(qtype)
        self._shape = tuple(int(s) for s in shape)
        if len(self._shape) == 0 or any(s < 0 for s in self._shape):
            raise ValueError(f"invalid shape {shape}")
        cols = self._shape[-1]
        if cols % self._type["block_size"]:
            raise ValueError(f"row length {cols} is not a multiple of the {self.qtype} block "
                             f"size {self._type['block_size']}")
        rows = int(np.prod(self._shape[:-1])) if len(self._shape) > 1 else 1
        row_bytes = cols // self._type["block_size"] * self._type["type_size"]
        raw = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
        if raw.dtype != np.uint8 or raw.size != rows * row_bytes:
            raise ValueError(f"{self.qtype} data of shape {self._shape} takes {rows * row_bytes} "
                             f"bytes, got {raw.size}")
        self._raw = raw.reshape(rows, row_bytes)
        if self.qtype in _FP8 and scales is None:
            raise ValueError(f"{self.qtype} tensors need their 128x128 block scales")
        self._scales = scales
        self._threads = threads

    # ---- facts ----
    @property
    def qtype(self) -> str:
        return str(self._type["name"])

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def nbytes(self) -> int:
        """Bytes of the blocks (plus FP8 block scales)."""
        extra = self._scales.nbytes if self._scales is not None else 0
        return int(self._raw.nbytes) + extra

    @property
    def bits_per_weight(self) -> float:
        n = int(np.prod(self._shape))
        return 8.0 * self.nbytes / n if n else 0.0

    @property
    def data(self) -> memoryview:
        """The raw blocks, zero-copy (read-only)."""
        view = self._raw.view()
        view.flags.writeable = False
        return memoryview(view).cast("B")

    @property
    def scales(self) -> np.ndarray | None:
        """FP8 only: float32 block scales of shape (ceil(rows/128), ceil(cols/128))."""
        return self._scales

    def __repr__(self) -> str:
        return (f"QTensor(qtype={self.qtype!r}, shape={self._shape}, nbytes={self.nbytes}, "
                f"bits_per_weight={self.bits_per_weight:.3f})")

    # ---- decoding and products ----
    def dequantize(self) -> np.ndarray:
        """Float32 array of :attr:`shape`."""
        if self.qtype in _FP8:
            out = _core.fp8_dequantize(self._raw, self._scales, self.qtype == "FP8_E5M2")
        else:
            out = _core.dequantize_rows(self._raw, self._type["id"], self._shape[-1])
        return out.reshape(self._shape)

    def __matmul__(self, x: Any) -> np.ndarray:
        return matmul(self, x)

    def _matmul_rows(self, x_rows: np.ndarray, threads: int) -> np.ndarray:
        """y[n_tok, rows] = x_rows[n_tok, cols] @ W^T."""
        if not self._type["has_matmul"]:
            raise ValueError(f"{self.qtype} has no matrix product on the CPU backend")
        return _core.matmul(self._raw, self._type["id"], self._shape[-1], x_rows, threads,
                            self._scales)


def matmul(qt: QTensor, x: Any, threads: int | None = None) -> np.ndarray:
    """``qt @ x`` with NumPy semantics, ``qt`` a 2-D ``(rows, cols)`` quantized matrix.

    ``x`` is quantized once to the weight format's 8-bit activation format and multiplied
    with integer dot products on ``threads`` threads (default: the QTensor's, else all CPUs).
    """
    if not isinstance(qt, QTensor):
        raise TypeError(f"matmul expects a QTensor first, got {type(qt).__name__}")
    if len(qt.shape) != 2:
        raise ValueError(f"matmul needs a 2-D QTensor, got shape {qt.shape}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a NumPy array, not {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a float array, got dtype {x.dtype}")
    cols = qt.shape[1]
    if x.ndim not in (1, 2) or x.shape[0] != cols:
        raise ValueError(f"shapes {qt.shape} and {x.shape} are not aligned: "
                         f"x must be ({cols},) or ({cols}, n)")
    n_threads = _resolve_threads(threads if threads is not None else qt._threads)
    if x.ndim == 1:
        rows = np.ascontiguousarray(x, dtype=np.float32).reshape(1, cols)
        return qt._matmul_rows(rows, n_threads)[0]
    rows = np.ascontiguousarray(x.T, dtype=np.float32)
    return np.ascontiguousarray(qt._matmul_rows(rows, n_threads).T)


def dequantize(raw: Any, qtype: Union[str, int], shape: tuple[int, ...]) -> np.ndarray:
    """Decode raw blocks (bytes-like) of ``qtype`` into a float32 array of ``shape``."""
    return QTensor(np.frombuffer(memoryview(raw).cast("B"), dtype=np.uint8), qtype,
                   tuple(shape)).dequantize()


class Quantizer:
    """Quantizes float arrays into ``qtype`` blocks.

    Args:
        qtype: a type name from :func:`quant_types` ("Q4_K", "Q8_0", "MXFP4", "FP8_E4M3", ...).
        imatrix: optional importance weights, one per column (llama.cpp's quant_weights), used
            by the formats that take them (see ``uses_imatrix``); ignored by the others.
        threads: worker threads (default: all CPUs).

    Non-finite input (NaN or Inf) raises ValueError: a block scale built from it would poison
    the whole block.
    """

    def __init__(self, qtype: Union[str, int], imatrix: Any = None,
                 threads: int | None = None) -> None:
        self._type = _type_row(qtype)
        if not self._type["can_quantize"]:
            raise ValueError(f"{self._type['name']} cannot be a quantization target")
        self.threads = _resolve_threads(threads)
        self.imatrix = None if imatrix is None else self._check_imatrix(imatrix)

    @property
    def qtype(self) -> str:
        return str(self._type["name"])

    @staticmethod
    def _check_imatrix(imatrix: Any) -> np.ndarray:
        if not isinstance(imatrix, np.ndarray) or imatrix.dtype.kind != "f":
            raise TypeError("imatrix must be a float NumPy array")
        im = np.ascontiguousarray(imatrix, dtype=np.float32)
        if im.ndim != 1:
            raise ValueError(f"imatrix must be 1-D, got shape {im.shape}")
        if not np.all(np.isfinite(im)) or np.any(im < 0):
            raise ValueError("imatrix entries must be finite and >= 0")
        return im

    def quantize(self, array: Any) -> QTensor:
        """Quantize ``array`` (float, C-contiguous; rows along the last axis)."""
        rows = _as_float_rows(array)
        shape = tuple(int(s) for s in np.shape(array))
        if not np.all(np.isfinite(rows)):
            raise ValueError("array contains NaN or Inf; quantization needs finite values")
        cols = shape[-1]
        if self.imatrix is not None and self.imatrix.shape[0] != cols:
            raise ValueError(f"imatrix has {self.imatrix.shape[0]} entries; the rows have "
                             f"{cols} columns")
        if self.qtype in _FP8:
            if self.qtype != "FP8_E4M3":
                raise ValueError("FP8_E5M2 is decode-only")
            q, scales = _core.fp8_quantize(rows)
            return QTensor(q, self.qtype, shape, scales=scales, threads=self.threads)
        if cols % self._type["block_size"]:
            raise ValueError(f"row length {cols} is not a multiple of the {self.qtype} block "
                             f"size {self._type['block_size']}")
        imatrix = self.imatrix if self._type["uses_imatrix"] else None
        raw = _core.quantize_rows(rows, self._type["id"], imatrix, self.threads)
        return QTensor(raw, self.qtype, shape, threads=self.threads)

    def quantize_gguf(self, src: Union[str, os.PathLike[str]], dst: Union[str, os.PathLike[str]],
                      qtype: str | None = None, imatrix: Mapping[str, np.ndarray] | None = None,
                      progress: bool = True) -> Any:
        """Re-quantize a whole GGUF model file like llama-quantize (see
        :func:`xtral.quantize_gguf`); ``qtype`` defaults to this quantizer's type and may be a
        mix such as "Q4_K_M"."""
        from .quantize_gguf import quantize_gguf

        return quantize_gguf(src, dst, qtype or self.qtype, imatrix=imatrix,
                             threads=self.threads, progress=progress)
