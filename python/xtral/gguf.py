"""GGUF files: open and inspect (:class:`GGUFFile`), write (:func:`write_gguf`).

The parsing, validation and memory mapping happen in C (``xtral._core``); this module turns
the results into friendly Python objects and infers GGUF value types when writing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Mapping, NamedTuple, Sequence, Union

import numpy as np

from . import _core

__all__ = [
    "GGUFFile",
    "GGUFValue",
    "MemoryPlan",
    "TensorInfo",
    "write_gguf",
    "dtype_info",
    "VALUE_TYPES",
]

# GGUF metadata value type ids (the file format's numbering).
VALUE_TYPES: dict[str, int] = {
    "uint8": 0, "int8": 1, "uint16": 2, "int16": 3, "uint32": 4, "int32": 5,
    "float32": 6, "bool": 7, "string": 8, "array": 9, "uint64": 10, "int64": 11,
    "float64": 12,
}
_NUMPY_OF_VALUE_TYPE: dict[str, np.dtype] = {
    "uint8": np.dtype("<u1"), "int8": np.dtype("<i1"), "uint16": np.dtype("<u2"),
    "int16": np.dtype("<i2"), "uint32": np.dtype("<u4"), "int32": np.dtype("<i4"),
    "float32": np.dtype("<f4"), "bool": np.dtype("u1"), "uint64": np.dtype("<u8"),
    "int64": np.dtype("<i8"), "float64": np.dtype("<f8"),
}
_VALUE_TYPE_OF_NUMPY: dict[str, str] = {
    "uint8": "uint8", "int8": "int8", "uint16": "uint16", "int16": "int16",
    "uint32": "uint32", "int32": "int32", "float32": "float32", "bool": "bool",
    "uint64": "uint64", "int64": "int64", "float64": "float64",
}
# NumPy dtypes that map onto ggml tensor types without conversion.
_TENSOR_TYPE_OF_NUMPY: dict[str, str] = {
    "float32": "F32", "float16": "F16", "float64": "F64",
    "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
}


class TensorInfo(NamedTuple):
    """One entry of a GGUF tensor table."""

    name: str
    shape: tuple[int, ...]  # NumPy order: outermost first (the reverse of ggml's ne)
    type: str  # ggml type name: "F32", "Q4_K", ...
    type_id: int
    offset: int  # relative to the data section
    nbytes: int


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per repeating block and outside them, from the tensor map."""

    architecture: str
    n_layers: int
    fallback: bool  # True when the layout was probed from tensor names
    non_mapped_size_in_bytes: int
    layer_sizes_in_bytes: list[int] = field(default_factory=list)

    @property
    def total_size_in_bytes(self) -> int:
        return self.non_mapped_size_in_bytes + sum(self.layer_sizes_in_bytes)


@dataclass(frozen=True)
class GGUFValue:
    """A metadata value with an explicit GGUF type, for :func:`write_gguf`.

    ``GGUFValue(5, "uint8")``, ``GGUFValue([1, 2], "array", "int16")``,
    ``GGUFValue([[1, 2], [3]], "array", "array")``.
    """

    value: Any
    type: str
    elem_type: str | None = None

    def __post_init__(self) -> None:
        if self.type not in VALUE_TYPES:
            raise ValueError(f"unknown GGUF value type {self.type!r}; one of {sorted(VALUE_TYPES)}")
        if self.elem_type is not None and self.elem_type not in VALUE_TYPES:
            raise ValueError(f"unknown GGUF element type {self.elem_type!r}")
        if self.elem_type is not None and self.type != "array":
            raise ValueError("elem_type is only meaningful for type 'array'")


def dtype_info(type_: Union[str, int]) -> dict[str, Any]:
    """Row of the tensor type table: name, id, block_size, type_size, is_quantized."""
    if isinstance(type_, str):
        for tid in range(_core.DTYPE_COUNT):
            row = _core.dtype_info(tid)
            if row is not None and row[0].upper() == type_.upper():
                break
        else:
            raise ValueError(f"unknown tensor type {type_!r}")
    else:
        row = _core.dtype_info(int(type_))
        if row is None:
            raise ValueError(f"unknown tensor type id {type_!r}")
    name, tid, block, size, quantized = row
    return {"name": name, "id": tid, "block_size": block, "type_size": size,
            "is_quantized": quantized}


class GGUFFile:
    """An open GGUF file: metadata, tensor table, zero-copy tensor views, memory plan.

    The file is memory-mapped and validated on open; bad content raises
    :class:`xtral.GGUFError` naming the field. Use as a context manager or call
    :meth:`close`. Arrays returned by :meth:`tensor` and :meth:`tensor_bytes` stay valid after
    close (they keep the mapping alive).
    """

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        self._handle = _core.GGUFHandle(os.fspath(path))
        self._metadata: dict[str, Any] | None = None
        self._metadata_types: dict[str, str] | None = None
        self._tensors: dict[str, TensorInfo] | None = None
        self._plan: MemoryPlan | None = None

    # ---- lifecycle ----
    def close(self) -> None:
        """Release the file (idempotent)."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def __enter__(self) -> "GGUFFile":
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<GGUFFile {self.path!r} (closed)>"
        return (f"<GGUFFile {self.path!r} v{self.version} arch={self.architecture!r} "
                f"{self._handle.n_kv} keys, {self._handle.n_tensors} tensors>")

    # ---- header ----
    @property
    def path(self) -> str:
        return str(self._handle.path)

    @property
    def version(self) -> int:
        return int(self._handle.version)

    @property
    def alignment(self) -> int:
        return int(self._handle.alignment)

    @property
    def architecture(self) -> str | None:
        return self._handle.architecture

    @property
    def data_offset(self) -> int:
        """Absolute file offset of the data section."""
        return int(self._handle.data_offset)

    @property
    def file_size(self) -> int:
        return int(self._handle.file_size)

    # ---- metadata ----
    @property
    def metadata(self) -> dict[str, Any]:
        """Key -> value in file order (numeric arrays as NumPy arrays, strings as str)."""
        if self._metadata is None or self.closed:
            self._metadata = self._handle.metadata()
        return self._metadata

    @property
    def metadata_types(self) -> dict[str, str]:
        """Key -> GGUF type name: "uint32", "string", "array[float32]", ..."""
        if self._metadata_types is None or self.closed:
            self._metadata_types = self._handle.metadata_types()
        return self._metadata_types

    # ---- tensors ----
    @property
    def tensors(self) -> dict[str, TensorInfo]:
        """Tensor name -> :class:`TensorInfo`, in file order."""
        if self._tensors is None or self.closed:
            self._tensors = {row[0]: TensorInfo(*row) for row in self._handle.tensor_infos()}
        return self._tensors

    @property
    def tensor_data_size(self) -> int:
        """Sum of every tensor's nbytes."""
        return sum(t.nbytes for t in self.tensors.values())

    def tensor_bytes(self, name: str) -> memoryview:
        """The raw bytes of a tensor: a read-only, zero-copy view over the mapping."""
        return memoryview(self._handle.tensor_bytes(name))

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as a NumPy array: zero-copy read-only for F32/F16/F64/I8-I64, a float32
        copy for BF16. Block-quantized types raise ValueError (use :meth:`tensor_bytes`)."""
        return self._handle.tensor(name)

    # ---- memory plan ----
    def memory_plan(self) -> MemoryPlan:
        """Bytes per repeating block and outside them (computed once, then cached).

        Architectures that are not known are probed from ``blk.N.*`` names; that logs one
        warning on the ``xtral`` logger naming the architecture.
        """
        if self._plan is None or self.closed:
            arch, n_layers, fallback, non_mapped, sizes = self._handle.memory_plan()
            self._plan = MemoryPlan(arch, n_layers, fallback, non_mapped, sizes)
        return self._plan


# ---- writing ----

def _infer_scalar_type(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, np.generic):
        name = value.dtype.name
        if name not in _VALUE_TYPE_OF_NUMPY:
            raise TypeError(f"NumPy scalar of dtype {name} has no GGUF value type")
        return _VALUE_TYPE_OF_NUMPY[name]
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return "int32"
        if -2**63 <= value < 2**63:
            return "int64"
        return "uint64"
    if isinstance(value, float):
        return "float32"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple, np.ndarray, bytes, bytearray)):
        return "array"
    raise TypeError(f"cannot store a {type(value).__name__} in GGUF metadata; "
                    "use xtral.GGUFValue to give the type")


def _infer_elem_type(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"metadata arrays must be 1-D, got shape {value.shape}")
        name = value.dtype.name
        if name not in _VALUE_TYPE_OF_NUMPY:
            raise TypeError(f"NumPy array of dtype {name} has no GGUF element type")
        return _VALUE_TYPE_OF_NUMPY[name]
    if isinstance(value, (bytes, bytearray)):
        return "uint8"
    items = list(value)
    if not items:
        raise ValueError("cannot infer the element type of an empty list; "
                         "use GGUFValue([], 'array', '<type>')")
    first = items[0]
    if isinstance(first, GGUFValue):
        return first.type
    t = _infer_scalar_type(first)
    if t == "int32" and any(isinstance(x, int) and not isinstance(x, bool)
                            and not -2**31 <= x < 2**31 for x in items):
        t = "int64"
    if t in ("int32", "int64") and any(isinstance(x, float) for x in items):
        t = "float32"
    return t


def _encode(value: Any, type_: str, elem_type: str | None, key: str) -> Any:
    """Payload for _core.write_gguf (see csrc/python/py_gguf_write.c)."""
    if isinstance(value, GGUFValue):
        return _encode(value.value, value.type, value.elem_type, key)
    if type_ == "string":
        if not isinstance(value, str):
            raise TypeError(f"key {key!r}: string value must be str, not {type(value).__name__}")
        return value.encode("utf-8", "surrogateescape")
    if type_ == "array":
        et = elem_type or _infer_elem_type(value)
        if et == "string":
            return (VALUE_TYPES[et], [_encode(v, "string", None, key) for v in value])
        if et == "array":
            return (VALUE_TYPES[et], [_encode_nested(v, key) for v in value])
        dt = _NUMPY_OF_VALUE_TYPE[et]
        if isinstance(value, (bytes, bytearray)):
            arr = np.frombuffer(bytes(value), dtype=np.uint8)
        elif isinstance(value, np.ndarray):
            arr = value
        else:
            arr = _list_to_array(list(value), et, dt, key)
        if arr.ndim != 1:
            raise ValueError(f"key {key!r}: array must be 1-D, got shape {arr.shape}")
        if et in ("float32", "float64"):
            out = arr.astype(dt)
        elif et == "bool":
            out = arr.astype(bool).astype(dt)
        else:
            if arr.size and not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
                raise TypeError(f"key {key!r}: {et} array needs integers, got {arr.dtype}")
            info = np.iinfo(dt)
            if arr.size and (arr.min() < info.min or arr.max() > info.max):
                raise OverflowError(f"key {key!r}: array values do not fit {et}")
            out = arr.astype(dt)
        return (VALUE_TYPES[et], out.tobytes())
    if type_ in ("float32", "float64"):
        return float(value)
    if type_ == "bool":
        if not isinstance(value, (bool, np.bool_, int)) or int(value) not in (0, 1):
            raise TypeError(f"key {key!r}: bool value must be True or False")
        return int(bool(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"key {key!r}: {type_} value must be an int, not {type(value).__name__}")
    return value


def _list_to_array(items: list[Any], et: str, dt: np.dtype, key: str) -> np.ndarray:
    """A Python list as a 1-D array of `dt`, range-checked item by item (NumPy would turn
    integers beyond int64 into float64)."""
    if et in ("float32", "float64", "bool"):
        return np.asarray(items, dtype=np.float64 if et != "bool" else bool)
    info = np.iinfo(dt)
    for x in items:
        if isinstance(x, np.integer):
            x = int(x)
        if not isinstance(x, int) or isinstance(x, bool):
            raise TypeError(f"key {key!r}: {et} array needs integers, got {type(x).__name__}")
        if not info.min <= x <= info.max:
            raise OverflowError(f"key {key!r}: array value {x} does not fit {et}")
    return np.array(items, dtype=dt)


def _encode_nested(value: Any, key: str) -> tuple[int, Any]:
    """An element of an array of arrays: always (elem_type, payload)."""
    if isinstance(value, GGUFValue):
        if value.type != "array":
            raise TypeError(f"key {key!r}: items of an array of arrays must be arrays")
        return _encode(value.value, "array", value.elem_type, key)
    return _encode(value, "array", None, key)


def _tensor_entry(name: str, value: Any) -> tuple[str, int, tuple[int, ...], Any]:
    if isinstance(value, tuple):
        if len(value) != 3:
            raise ValueError(f"tensor {name!r}: raw tensors are (data, type_name, shape)")
        data, type_name, shape = value
        info = dtype_info(type_name)
        buf = memoryview(data)
        if not buf.c_contiguous:
            raise ValueError(f"tensor {name!r}: raw data must be contiguous")
        shape = tuple(int(s) for s in shape)
        return name, info["id"], tuple(reversed(shape)), buf.cast("B")
    if not isinstance(value, np.ndarray):
        raise TypeError(f"tensor {name!r}: expected a NumPy array or (data, type, shape), "
                        f"got {type(value).__name__}")
    if value.dtype.name not in _TENSOR_TYPE_OF_NUMPY:
        raise TypeError(f"tensor {name!r}: dtype {value.dtype} has no GGUF tensor type; "
                        f"use one of {sorted(_TENSOR_TYPE_OF_NUMPY)}")
    if value.ndim > 4:
        raise ValueError(f"tensor {name!r}: {value.ndim} dimensions (at most 4)")
    arr = np.ascontiguousarray(value.astype(value.dtype.newbyteorder("<"), copy=False))
    if arr.ndim == 0:
        arr = arr.reshape(1)
    tid = dtype_info(_TENSOR_TYPE_OF_NUMPY[value.dtype.name])["id"]
    return name, tid, tuple(reversed(arr.shape)), arr


def write_gguf(path: Union[str, os.PathLike[str]], metadata: Mapping[str, Any],
               tensors: Mapping[str, Any] | None = None, alignment: int | None = None) -> None:
    """Write a GGUF (version 3) file atomically.

    Args:
        path: output file; replaced only when the whole file has been written.
        metadata: key -> value. Types are inferred (bool, int -> int32/int64/uint64,
            float -> float32, str, NumPy scalars and 1-D arrays by dtype, lists -> arrays,
            nested lists -> arrays of arrays); wrap a value in :class:`GGUFValue` to choose.
        tensors: name -> NumPy array (float32/16/64, int8/16/32/64) or a raw
            ``(data, type_name, shape)`` triple for any ggml type, shape in NumPy order.
        alignment: data alignment (power of two); written as ``general.alignment``.
    """
    if alignment is not None:
        if alignment <= 0 or alignment & (alignment - 1) or alignment >= 2**32:
            raise ValueError(f"alignment must be a power of two, got {alignment}")
        given = metadata.get("general.alignment")
        if given is not None:
            given_value = given.value if isinstance(given, GGUFValue) else given
            if int(given_value) != alignment:
                raise ValueError(f"alignment={alignment} disagrees with metadata "
                                 f"general.alignment={given_value}")
        if given is None:  # an explicit alignment is always recorded in the file
            metadata = {**metadata, "general.alignment": GGUFValue(alignment, "uint32")}
    kvs: list[tuple[str, int, Any]] = []
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be str, got {type(key).__name__}")
        if key == "general.alignment" and not isinstance(value, GGUFValue):
            value = GGUFValue(value, "uint32")  # the format requires uint32
        if isinstance(value, GGUFValue):
            type_, payload = value.type, _encode(value, value.type, value.elem_type, key)
        else:
            type_ = _infer_scalar_type(value)
            payload = _encode(value, type_, None, key)
        kvs.append((key, VALUE_TYPES[type_], payload))
    entries: Sequence[tuple[str, int, tuple[int, ...], Any]] = [
        _tensor_entry(name, value) for name, value in (tensors or {}).items()
    ]
    _core.write_gguf(os.fspath(path), kvs, list(entries), alignment or 0)
