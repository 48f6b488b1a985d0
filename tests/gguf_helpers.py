"""Shared helpers for the GGUF tests: reference writers, a parts decoder and comparators.

Everything here derives its expectations from the `gguf` package (the reference Python
implementation) or from bytes we assemble ourselves with `struct`, never from xtral.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

# ---- type tables (from gguf) ----

#: NumPy dtype of each fixed-size metadata value type.
SCALAR_DTYPES: dict[VT, np.dtype] = {
    vt: np.dtype(np_type) for vt, np_type in gguf.GGUFReader.gguf_scalar_to_np.items()
}

#: Tensor types GGUFWriter stores from a NumPy array of the matching dtype (no raw_dtype).
NATIVE_TENSOR_DTYPES: dict[QT, np.dtype] = {
    QT.F32: np.dtype(np.float32),
    QT.F16: np.dtype(np.float16),
    QT.F64: np.dtype(np.float64),
    QT.I8: np.dtype(np.int8),
    QT.I16: np.dtype(np.int16),
    QT.I32: np.dtype(np.int32),
    QT.I64: np.dtype(np.int64),
}

#: Where gguf-py's GGML_QUANT_SIZES disagrees with ggml itself. gguf 0.19 lists Q8_1 as 40 bytes
#: per block (two f32), but ggml's block_q8_1 is two f16 + 32 int8 = 36 bytes (static_assert in
#: ggml-common.h; see docs formats sheet section 2.1). Q8_1 is a runtime-only type, so a reader
#: following ggml sees 36-byte blocks. xtral follows ggml.
GGML_SIZE_OVERRIDES: dict[QT, tuple[int, int]] = {QT.Q8_1: (32, 36)}


def value_type_name(vt: VT) -> str:
    """xtral's name of a metadata value type ("uint8", "float32", "string", "array", ...)."""
    return vt.name.lower()


def ggml_block(t: QT) -> tuple[int, int]:
    """(elements per block, bytes per block) as ggml defines them."""
    return GGML_SIZE_OVERRIDES.get(t, gguf.GGML_QUANT_SIZES[t])


def ggml_nbytes(t: QT, shape: Sequence[int]) -> int:
    """Bytes of a tensor of type `t` and NumPy-order `shape`, as ggml computes them."""
    block, size = ggml_block(t)
    n = math.prod(shape)
    assert not shape or shape[-1] % block == 0
    return n // block * size


def gguf_py_nbytes(t: QT, shape: Sequence[int]) -> int:
    """Bytes of a tensor as gguf-py computes them (differs from ggml only for Q8_1)."""
    block, size = gguf.GGML_QUANT_SIZES[t]
    return math.prod(shape) // block * size


# ---- variety specs (what we write) ----

@dataclass(frozen=True)
class KV:
    """One metadata entry as GGUFWriter takes it: `value` with type `vtype` (and array `sub_type`)."""

    key: str
    value: Any
    vtype: VT
    sub_type: VT | None = None


@dataclass
class TensorSpec:
    """A tensor to write. `shape` is in NumPy order (elements); `raw` holds enough bytes for both
    gguf-py's and ggml's idea of the size (they differ only for Q8_1)."""

    name: str
    ggml_type: QT
    shape: tuple[int, ...]
    array: np.ndarray | None = None  # native types only
    raw: bytes = b""

    def gguf_writer_array(self) -> np.ndarray:
        """Array for GGUFWriter.add_tensor: the typed array, or a uint8 byte-shape array."""
        if self.array is not None:
            return self.array
        n = gguf_py_nbytes(self.ggml_type, self.shape)
        byte_shape = (*self.shape[:-1], self.shape[-1] // ggml_block(self.ggml_type)[0]
                      * gguf.GGML_QUANT_SIZES[self.ggml_type][1])
        return np.frombuffer(self.raw[:n], dtype=np.uint8).reshape(byte_shape)

    def ggml_bytes(self) -> bytes:
        """The tensor's bytes as ggml sizes it."""
        if self.array is not None:
            return self.array.tobytes()
        return self.raw[: ggml_nbytes(self.ggml_type, self.shape)]


def make_tensor_spec(name: str, t: QT, rows: int, blocks_per_row: int, seed: int) -> TensorSpec:
    """A small deterministic random tensor of type `t` shaped (rows, blocks_per_row * block)."""
    rng = np.random.default_rng(seed)
    block, _ = ggml_block(t)
    shape = (rows, blocks_per_row * block)
    if t in NATIVE_TENSOR_DTYPES:
        dt = NATIVE_TENSOR_DTYPES[t]
        if dt.kind == "f":
            arr = rng.standard_normal(shape).astype(dt)
        else:
            info = np.iinfo(dt)
            arr = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
        return TensorSpec(name, t, shape, array=arr)
    n = max(gguf_py_nbytes(t, shape), ggml_nbytes(t, shape))
    return TensorSpec(name, t, shape, raw=rng.integers(0, 256, size=n, dtype=np.uint8).tobytes())


def all_type_tensor_specs() -> list[TensorSpec]:
    """One tensor of every tensor type gguf knows, plus F32 tensors of 1, 3 and 4 dimensions.

    Q8_1 (whose block size gguf-py and ggml disagree on) gets a single block so that the padded
    offsets of the following tensors agree under both sizes, and it is never the last tensor.
    """
    specs: list[TensorSpec] = []
    for i, t in enumerate(QT):
        if t == QT.Q8_1:
            specs.append(make_tensor_spec(f"t.{t.name.lower()}", t, 1, 1, seed=i))
        else:
            specs.append(make_tensor_spec(f"t.{t.name.lower()}", t, 3, 2, seed=i))
    rng = np.random.default_rng(1234)
    for shape in [(7,), (2, 3, 5), (2, 1, 3, 4)]:
        arr = rng.standard_normal(shape).astype(np.float32)
        specs.append(TensorSpec(f"f32.{len(shape)}d", QT.F32, shape, array=arr))
    return specs


_INT_LIMITS: dict[VT, tuple[int, int]] = {
    vt: (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
    for vt, dt in SCALAR_DTYPES.items() if dt.kind in "iu"
}


def all_value_kvs() -> list[KV]:
    """Metadata covering every value type: integer limits, floats, bools, UTF-8 and invalid
    UTF-8 strings, arrays of every element type, arrays of arrays, empty arrays."""
    kvs: list[KV] = []
    for vt, (lo, hi) in _INT_LIMITS.items():
        name = value_type_name(vt)
        kvs += [KV(f"v.{name}.min", lo, vt), KV(f"v.{name}.max", hi, vt), KV(f"v.{name}.one", 1, vt)]
        kvs.append(KV(f"a.{name}", [lo, 0, 1, hi], VT.ARRAY, vt))
    kvs += [
        KV("v.float32.pi", math.pi, VT.FLOAT32),
        KV("v.float32.neg_zero", -0.0, VT.FLOAT32),
        KV("v.float32.inf", math.inf, VT.FLOAT32),
        KV("v.float32.nan", math.nan, VT.FLOAT32),
        KV("v.float32.denormal", 1e-40, VT.FLOAT32),
        KV("v.float64.pi", math.pi, VT.FLOAT64),
        KV("v.float64.big", 1.5e308, VT.FLOAT64),
        KV("v.float64.ninf", -math.inf, VT.FLOAT64),
        KV("v.bool.true", True, VT.BOOL),
        KV("v.bool.false", False, VT.BOOL),
        KV("v.string.ascii", "hello world", VT.STRING),
        KV("v.string.empty", "", VT.STRING),
        KV("v.string.utf8", "héllo wörld ✓ 日本語 🦙", VT.STRING),
        KV("v.string.nul", "a\x00b", VT.STRING),
        KV("v.string.invalid_utf8", b"bad \xff\xfe bytes \xc3", VT.STRING),
        KV("a.float32", [1.5, -2.25, math.inf, 3.0e38], VT.ARRAY, VT.FLOAT32),
        KV("a.float64", [math.pi, -1e-300, 0.0], VT.ARRAY, VT.FLOAT64),
        KV("a.bool", [True, False, True], VT.ARRAY, VT.BOOL),
        KV("a.string", ["a", "", "ünïcödé", "日本", "x" * 300], VT.ARRAY, VT.STRING),
        KV("aa.int32", [[1, 2, 3], [4], [5, 6]], VT.ARRAY),
        KV("aa.string", [["x", "y"], ["z"]], VT.ARRAY),
        KV("aa.float32", [[1.5], [2.5, 3.5]], VT.ARRAY),
        KV("aa.bool", [[True], [False, True]], VT.ARRAY),
        KV("aaa.int32", [[[1], [2, 3]], [[4]]], VT.ARRAY),
        KV("aa.mixed_inner", [[1, 2], ["s"]], VT.ARRAY),
    ]
    for vt in [VT.UINT8, VT.INT32, VT.FLOAT64, VT.BOOL, VT.STRING, VT.ARRAY]:
        kvs.append(KV(f"empty.{value_type_name(vt)}", [], VT.ARRAY, vt))
    return kvs


# ---- writing with the reference implementation ----

#: The `make_gguf` fixture: make_gguf(kvs, tensors, *, name=None, arch=..., alignment=...) -> Path
GGUFFactory = Callable[..., Path]


class ReferenceWriter(gguf.GGUFWriter):
    """gguf.GGUFWriter that can also write empty arrays (gguf 0.19 refuses them: "Empty array").

    Only the empty-array case is changed; everything else is the reference code path.
    """

    def _pack_val(self, val: Any, vtype: VT, add_vtype: bool, sub_type: VT | None = None) -> bytes:
        if vtype == VT.ARRAY and sub_type is not None and len(val) == 0:
            head = self._pack("I", vtype) if add_vtype else b""
            return head + self._pack("I", sub_type) + self._pack("Q", 0)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


def write_reference_gguf(
    path: Path,
    kvs: Iterable[KV] = (),
    tensors: Iterable[TensorSpec] = (),
    *,
    arch: str | None = "llama",
    alignment: int | None = None,
    endianess: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE,
) -> Path:
    """Writes a GGUF file with the reference writer. `arch=None` drops general.architecture."""
    w = ReferenceWriter(str(path), arch or "none", endianess=endianess)
    if arch is None:
        w.kv_data[0].pop(gguf.Keys.General.ARCHITECTURE)
    for kv in kvs:
        w.add_key_value(kv.key, kv.value, kv.vtype, sub_type=kv.sub_type)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for spec in tensors:
        arr = spec.gguf_writer_array()
        raw_dtype = None if spec.array is not None else spec.ggml_type
        w.add_tensor(spec.name, arr, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def set_version(path: Path, version: int) -> None:
    """Rewrites the (little-endian) version field of a GGUF file in place."""
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", version))


# ---- the expected (normalized) form of values, as xtral's GGUFFile.metadata gives them ----

def expected_value(value: Any, vtype: VT, sub_type: VT | None = None) -> tuple[Any, str]:
    """(value, type string) that a reader must report for a value written as (`vtype`, `sub_type`).

    Nested arrays without an explicit sub_type are inferred the way gguf.GGUFWriter does it.
    """
    if vtype == VT.STRING:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("utf-8", "surrogateescape"), "string"
        return value, "string"
    if vtype in SCALAR_DTYPES:
        dt = SCALAR_DTYPES[vtype]
        scalar = dt.type(value)
        py: Any = bool(scalar) if dt.kind == "b" else float(scalar) if dt.kind == "f" else int(scalar)
        return py, value_type_name(vtype)
    assert vtype == VT.ARRAY
    elem = sub_type if sub_type is not None else VT.get_type(value[0])
    if elem in SCALAR_DTYPES:
        return np.array(value, dtype=SCALAR_DTYPES[elem]), f"array[{value_type_name(elem)}]"
    items = [expected_value(v, elem) for v in value]
    if not items:
        return [], f"array[{value_type_name(elem)}]"
    return [v for v, _ in items], f"array[{items[0][1]}]"


# ---- decoding GGUFReader fields without flattening ----

def decode_reader_field(f: gguf.ReaderField) -> tuple[Any, str]:
    """(value, type string) of a GGUFReader field, rebuilt from its raw `parts`.

    GGUFReader.contents() flattens arrays of arrays; the parts keep the full structure
    (element type and count before each array), so we walk them.
    """
    vtype = VT(int(f.parts[2][0]))
    value, type_str, end = _decode_parts(f.parts, 3, vtype)
    assert end == len(f.parts), f"{f.name}: parts not fully consumed"
    return value, type_str


def _decode_parts(parts: list[np.ndarray], i: int, vtype: VT) -> tuple[Any, str, int]:
    if vtype == VT.STRING:
        return bytes(parts[i + 1]).decode("utf-8", "surrogateescape"), "string", i + 2
    if vtype in SCALAR_DTYPES:
        value, type_str = expected_value(parts[i][0], vtype)
        return value, type_str, i + 1
    assert vtype == VT.ARRAY
    elem = VT(int(parts[i][0]))
    count = int(parts[i + 1][0])
    i += 2
    if elem in SCALAR_DTYPES:
        dt = SCALAR_DTYPES[elem]
        arr = (np.concatenate(parts[i:i + count]).astype(dt) if count else np.empty(0, dtype=dt))
        return arr, f"array[{value_type_name(elem)}]", i + count
    items: list[Any] = []
    first_type = value_type_name(elem)
    for k in range(count):
        v, t, i = _decode_parts(parts, i, elem)
        items.append(v)
        if k == 0:
            first_type = t
    return items, f"array[{first_type}]", i


def reader_metadata(reader: gguf.GGUFReader) -> dict[str, tuple[Any, str]]:
    """key -> (value, type string) for every real key of a GGUFReader, in file order."""
    return {k: decode_reader_field(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")}


# ---- comparing ----

def assert_value_equal(actual: Any, expected: Any, where: str = "value") -> None:
    """Strict equality of a metadata value: Python types, NumPy dtypes, bit-exact floats."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{where}: expected ndarray, got {type(actual).__name__}"
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != {expected.shape}"
        assert actual.tobytes() == expected.tobytes(), f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected list, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
        if all(isinstance(e, str) for e in expected):
            if actual != expected:
                k = next(k for k, (a, e) in enumerate(zip(actual, expected)) if a != e)
                raise AssertionError(f"{where}[{k}]: {actual[k]!r} != {expected[k]!r}")
            return
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_value_equal(a, e, f"{where}[{k}]")
    elif isinstance(expected, bool):
        assert type(actual) is bool and actual == expected, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, int):
        assert type(actual) is int and actual == expected, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, float):
        assert type(actual) is float, f"{where}: expected float, got {type(actual).__name__}"
        same = struct.pack("<d", actual) == struct.pack("<d", expected) or (
            math.isnan(actual) and math.isnan(expected))
        assert same, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, str):
        assert type(actual) is str and actual == expected, f"{where}: {actual!r} != {expected!r}"
    else:  # pragma: no cover - a bug in the test
        raise TypeError(f"{where}: cannot compare {type(expected).__name__}")


def assert_metadata_equal(actual: dict[str, Any], actual_types: dict[str, str],
                          expected: dict[str, tuple[Any, str]]) -> None:
    """Keys (in order), values and type strings equal."""
    assert list(actual) == list(expected), "metadata keys or their order differ"
    assert list(actual_types) == list(expected), "metadata_types keys or their order differ"
    for key, (value, type_str) in expected.items():
        assert actual_types[key] == type_str, f"{key}: type {actual_types[key]!r} != {type_str!r}"
        assert_value_equal(actual[key], value, key)


@dataclass(frozen=True)
class TensorRow:
    """One tensor-table row as xtral's TensorInfo reports it."""

    name: str
    shape: tuple[int, ...]
    type: str
    type_id: int
    offset: int
    nbytes: int


def reader_tensor_rows(reader: gguf.GGUFReader) -> list[TensorRow]:
    """The tensor table from GGUFReader, in file order, with ggml's byte sizes."""
    rows = []
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        rows.append(TensorRow(t.name, shape, t.tensor_type.name, int(t.tensor_type),
                              int(t.data_offset) - int(reader.data_offset), ggml_nbytes(t.tensor_type, shape)))
    return rows


def xtral_tensor_rows(f: Any) -> list[TensorRow]:
    """The tensor table of an xtral.GGUFFile, in its order."""
    rows = []
    for name, info in f.tensors.items():
        assert info.name == name
        rows.append(TensorRow(info.name, tuple(info.shape), info.type, info.type_id, info.offset,
                              info.nbytes))
    return rows


def reader_tensor_bytes(t: gguf.ReaderTensor) -> bytes:
    """A tensor's bytes from GGUFReader, cut to ggml's size."""
    shape = tuple(int(d) for d in reversed(t.shape.tolist()))
    return t.data.tobytes()[: ggml_nbytes(t.tensor_type, shape)]


def assert_file_matches_reader(f: Any, reader: gguf.GGUFReader,
                               tensor_names: Iterable[str] | None = None) -> None:
    """Header, metadata, tensor table and tensor bytes of an xtral.GGUFFile equal GGUFReader's.

    `tensor_names` limits the byte comparison to a sample (all tensors when None).
    """
    assert f.version == int(reader.fields["GGUF.version"].parts[0][0])
    assert f.alignment == int(reader.alignment)
    assert f.data_offset == int(reader.data_offset)
    assert_metadata_equal(f.metadata, f.metadata_types, reader_metadata(reader))
    arch = reader.fields.get("general.architecture")
    assert f.architecture == (arch.contents() if arch is not None else None)
    rows = reader_tensor_rows(reader)
    assert xtral_tensor_rows(f) == rows
    assert f.tensor_data_size == sum(r.nbytes for r in rows)
    wanted = set(tensor_names) if tensor_names is not None else None
    for t in reader.tensors:
        if wanted is not None and t.name not in wanted:
            continue
        view = f.tensor_bytes(t.name)
        assert isinstance(view, memoryview) and view.readonly
        assert view.ndim == 1 and view.format == "B"
        assert view.tobytes() == reader_tensor_bytes(t), f"tensor {t.name}: bytes differ"


# ---- crafting files byte by byte ----

@dataclass
class RawKV:
    """A key/value as raw bytes: key, value type id and the encoded value (after the type)."""

    key: bytes
    vtype: int
    payload: bytes


@dataclass
class RawTensor:
    """A tensor-info record: `dims` in ggml order (innermost first)."""

    name: bytes
    dims: list[int]
    type_id: int
    offset: int


@dataclass
class Built:
    """Bytes of a crafted file and the absolute offsets of its fields, for patching."""

    data: bytes
    offsets: dict[str, int] = field(default_factory=dict)

    def patch(self, where: str, fmt: str, *values: Any, delta: int = 0) -> bytes:
        """A copy of the file with `struct.pack(fmt, *values)` written at field `where` (+delta)."""
        off = self.offsets[where] + delta
        packed = struct.pack(fmt, *values)
        return self.data[:off] + packed + self.data[off + len(packed):]


def pack_string(s: bytes | str) -> bytes:
    """GGUF string: u64 length + bytes."""
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def pack_value(value: Any, vtype: VT, sub_type: VT | None = None) -> bytes:
    """Encoded value (without its type id), little-endian."""
    if vtype == VT.STRING:
        return pack_string(value)
    if vtype in SCALAR_DTYPES:
        return SCALAR_DTYPES[vtype].newbyteorder("<").type(value).tobytes()
    assert vtype == VT.ARRAY and sub_type is not None
    body = b"".join(pack_value(v, sub_type) for v in value)
    return struct.pack("<IQ", sub_type, len(value)) + body


def raw_kv(key: str, value: Any, vtype: VT, sub_type: VT | None = None) -> RawKV:
    """A RawKV from a Python value."""
    return RawKV(key.encode(), int(vtype), pack_value(value, vtype, sub_type))


def align_up(x: int, a: int) -> int:
    """Round x up to a multiple of a."""
    return x + (a - x % a) % a


def build_gguf(kvs: Sequence[RawKV], tensors: Sequence[RawTensor], data: bytes, *,
               version: int = 3, alignment: int = 32, magic: bytes = b"GGUF") -> Built:
    """Assembles a little-endian GGUF image: header, kvs, tensor infos, zero padding, `data`.

    Offsets recorded: "magic", "version", "n_tensors", "n_kv", "kv:<key>" (key length),
    "kv:<key>:type", "kv:<key>:value", "tensor:<name>" (name length), "tensor:<name>:n_dims",
    "tensor:<name>:dims", "tensor:<name>:type", "tensor:<name>:offset", "data".
    """
    out = bytearray(magic + struct.pack("<IQQ", version, len(tensors), len(kvs)))
    offs = {"magic": 0, "version": 4, "n_tensors": 8, "n_kv": 16}
    for kv in kvs:
        k = kv.key.decode("utf-8", "replace")
        offs[f"kv:{k}"] = len(out)
        out += pack_string(kv.key)
        offs[f"kv:{k}:type"] = len(out)
        out += struct.pack("<I", kv.vtype)
        offs[f"kv:{k}:value"] = len(out)
        out += kv.payload
    for t in tensors:
        n = t.name.decode("utf-8", "replace")
        offs[f"tensor:{n}"] = len(out)
        out += pack_string(t.name)
        offs[f"tensor:{n}:n_dims"] = len(out)
        out += struct.pack("<I", len(t.dims))
        offs[f"tensor:{n}:dims"] = len(out)
        out += b"".join(struct.pack("<Q", d) for d in t.dims)
        offs[f"tensor:{n}:type"] = len(out)
        out += struct.pack("<I", t.type_id)
        offs[f"tensor:{n}:offset"] = len(out)
        out += struct.pack("<Q", t.offset)
    if tensors:
        out += b"\0" * (align_up(len(out), alignment) - len(out))
    offs["data"] = len(out)
    out += data
    return Built(bytes(out), offs)


def layout_tensors(specs: Sequence[TensorSpec], alignment: int = 32) -> tuple[list[RawTensor], bytes]:
    """Tensor infos and data section for `specs`, each tensor padded to `alignment` except the
    last (so a file built from them ends exactly where the last tensor's data ends)."""
    infos: list[RawTensor] = []
    data = bytearray()
    for spec in specs:
        data += b"\0" * (align_up(len(data), alignment) - len(data))
        infos.append(RawTensor(spec.name.encode(), list(reversed(spec.shape)), int(spec.ggml_type),
                               len(data)))
        data += spec.ggml_bytes()
    return infos, bytes(data)


# ---- opening untrusted files ----

def open_and_walk(path: Path | str) -> bool:
    """Opens `path` with xtral and touches everything it exposes.

    Returns True when the file opened, False when xtral raised GGUFError. Any other exception
    propagates (a test failure). When the file opens, every metadata value, every tensor's bytes
    and array view (quantized types may raise ValueError) and the memory plan are read; the plan
    must add up to the tensor data size, or raise GGUFError for a hyper-parameter it rejects.
    """
    import xtral  # imported here so the helpers load even before the extension is built

    try:
        f = xtral.GGUFFile(str(path))
    except xtral.GGUFError:
        return False
    with f:
        assert f.version in (2, 3)
        assert f.alignment > 0 and f.alignment & (f.alignment - 1) == 0
        assert set(f.metadata) == set(f.metadata_types)
        for value in f.metadata.values():
            repr(value)
        total = 0
        for name, info in f.tensors.items():
            view = f.tensor_bytes(name)
            assert view.nbytes == info.nbytes
            if info.nbytes:
                _ = (view[0], view[info.nbytes - 1])
            total += info.nbytes
            try:
                arr = f.tensor(name)
            except ValueError:
                assert info.type not in {t.name for t in NATIVE_TENSOR_DTYPES} | {"BF16"}, name
            else:
                assert arr.shape == tuple(info.shape)
        assert f.tensor_data_size == total
        try:
            plan = f.memory_plan()
        except xtral.GGUFError:
            # the plan validates what only it uses (e.g. an absurd {arch}.block_count)
            return True
        assert plan.non_mapped_size_in_bytes + sum(plan.layer_sizes_in_bytes) == total
        assert len(plan.layer_sizes_in_bytes) == plan.n_layers
    return True
