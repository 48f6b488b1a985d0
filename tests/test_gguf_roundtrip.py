"""GGUF round trips against the reference implementation (the `gguf` package):
gguf.GGUFWriter -> xtral.GGUFFile, xtral.write_gguf -> gguf.GGUFReader, and a Hypothesis
property for write_gguf -> GGUFFile."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gguf
import xtral
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf_helpers import (
    KV,
    GGUFFactory,
    NATIVE_TENSOR_DTYPES,
    SCALAR_DTYPES,
    TensorSpec,
    all_type_tensor_specs,
    all_value_kvs,
    assert_file_matches_reader,
    assert_metadata_equal,
    assert_value_equal,
    expected_value,
    ggml_block,
    reader_metadata,
    reader_tensor_bytes,
    reader_tensor_rows,
    set_version,
    value_type_name,
)

# ---- helpers ----


def writable_specs() -> tuple[list[TensorSpec], list[QT]]:
    """Every tensor type GGUFWriter accepts (as a spec), and the ones it refuses."""
    ok, refused = [], []
    for spec in all_type_tensor_specs():
        probe = gguf.GGUFWriter(None, "probe")
        try:
            raw = None if spec.array is not None else spec.ggml_type
            probe.add_tensor(spec.name, spec.gguf_writer_array(), raw_dtype=raw)
        except (ValueError, KeyError, TypeError):
            refused.append(spec.ggml_type)
            continue
        ok.append(spec)
    return ok, refused


def to_xtral_value(kv: KV) -> Any:
    """The KV as an explicitly typed xtral.GGUFValue."""
    if kv.vtype != VT.ARRAY:
        return xtral.GGUFValue(kv.value, value_type_name(kv.vtype))
    elem = kv.sub_type if kv.sub_type is not None else VT.get_type(kv.value[0])
    return xtral.GGUFValue(kv.value, "array", value_type_name(elem))


def to_xtral_tensor(spec: TensorSpec) -> Any:
    """A NumPy array for native types, else the raw (bytes, type name, shape) tuple."""
    if spec.array is not None:
        return spec.array
    return (spec.ggml_bytes(), spec.ggml_type.name, spec.shape)


def xtral_variety_kvs() -> list[KV]:
    """The value variety minus raw byte strings (write_gguf writes str as UTF-8)."""
    return [kv for kv in all_value_kvs() if not isinstance(kv.value, bytes)]


# ---- (a) gguf.GGUFWriter -> xtral.GGUFFile ----


def test_gguf_writer_accepts_nearly_every_type() -> None:
    specs, refused = writable_specs()
    assert len(refused) <= 2, f"GGUFWriter refuses {refused}"
    assert {s.ggml_type for s in specs} | set(refused) == set(QT)


@pytest.mark.parametrize("alignment", [None, 32, 64])
def test_reference_file_read_by_xtral(make_gguf: GGUFFactory, alignment: int | None) -> None:
    specs, _ = writable_specs()
    path = make_gguf(all_value_kvs(), specs, alignment=alignment)
    reader = gguf.GGUFReader(path)
    with xtral.GGUFFile(str(path)) as f:
        assert f.path == str(path)
        assert f.alignment == (alignment or 32)
        assert f.data_offset % f.alignment == 0
        assert_file_matches_reader(f, reader)
        assert all(info.offset % f.alignment == 0 for info in f.tensors.values())


def test_version_2_file_read_by_xtral(make_gguf: GGUFFactory) -> None:
    path = make_gguf(all_value_kvs(), all_type_tensor_specs()[:4])
    set_version(path, 2)
    reader = gguf.GGUFReader(path)
    with xtral.GGUFFile(str(path)) as f:
        assert f.version == 2
        assert_file_matches_reader(f, reader)


def test_file_without_architecture(make_gguf: GGUFFactory) -> None:
    path = make_gguf([KV("x.y", 1, VT.UINT8)], arch=None)
    with xtral.GGUFFile(str(path)) as f:
        assert f.architecture is None
        assert_file_matches_reader(f, gguf.GGUFReader(path))
        assert f.tensors == {} and f.tensor_data_size == 0


def test_tensor_arrays_match_reader(make_gguf: GGUFFactory) -> None:
    specs = all_type_tensor_specs()
    path = make_gguf(tensors=specs)
    reader = gguf.GGUFReader(path)
    with xtral.GGUFFile(str(path)) as f:
        for t in reader.tensors:
            if t.tensor_type in NATIVE_TENSOR_DTYPES:
                arr = f.tensor(t.name)
                expected = t.data
                assert arr.dtype == expected.dtype and arr.shape == expected.shape, t.name
                assert np.array_equal(arr, expected), t.name
                assert not arr.flags.writeable, f"{t.name}: tensor() must be read-only"
                assert not arr.flags.owndata, f"{t.name}: tensor() must be a view, not a copy"
            elif t.tensor_type == QT.BF16:
                raw = np.frombuffer(reader_tensor_bytes(t), dtype=np.uint16)
                expected = (raw.astype(np.uint32) << 16).view(np.float32)
                arr = f.tensor(t.name)
                assert arr.dtype == np.float32
                assert arr.shape == tuple(int(d) for d in reversed(t.shape.tolist()))
                assert arr.tobytes() == expected.tobytes()
            else:
                with pytest.raises(ValueError, match=t.tensor_type.name):
                    f.tensor(t.name)


def test_dtype_info_matches_gguf() -> None:
    for t in QT:
        block, size = ggml_block(t)
        info_by_id = xtral.dtype_info(int(t))
        info_by_name = xtral.dtype_info(t.name)
        assert info_by_id == info_by_name
        assert info_by_id["name"] == t.name and info_by_id["id"] == int(t)
        assert (info_by_id["block_size"], info_by_id["type_size"]) == (block, size), t.name
        assert info_by_id["is_quantized"] == (t not in NATIVE_TENSOR_DTYPES and t != QT.BF16), t.name


# ---- GGUFFile API behaviour ----


def test_context_manager_and_close(make_gguf: GGUFFactory) -> None:
    specs = all_type_tensor_specs()[:3]
    path = make_gguf(tensors=specs)
    f = xtral.GGUFFile(str(path))
    with pytest.raises(KeyError):
        f.tensor_bytes("no.such.tensor")
    with pytest.raises(KeyError):
        f.tensor("no.such.tensor")
    f.close()
    for call in (lambda: f.tensor_bytes(specs[0].name), lambda: f.tensor(specs[0].name),
                 f.memory_plan):
        with pytest.raises(ValueError):
            call()
    f.close()  # idempotent
    with xtral.GGUFFile(str(path)) as g:
        assert g.tensor_bytes(specs[0].name).tobytes() == specs[0].ggml_bytes()
    with pytest.raises(ValueError):
        g.tensor_bytes(specs[0].name)


def test_accepts_pathlike(make_gguf: GGUFFactory) -> None:
    path = make_gguf([KV("x.y", 1, VT.UINT8)])
    with xtral.GGUFFile(path) as f:
        assert f.path == str(path)


def test_views_outlive_close_without_crash(make_gguf: GGUFFactory) -> None:
    """A view taken before close() must stay readable or close() must refuse (BufferError);
    it must never touch unmapped memory. Run in a child so a crash is a failure, not an abort."""
    spec = all_type_tensor_specs()[0]
    path = make_gguf(tensors=[spec])
    code = (
        "import sys, xtral\n"
        f"f = xtral.GGUFFile({str(path)!r})\n"
        f"mv = f.tensor_bytes({spec.name!r}); arr = f.tensor({spec.name!r})\n"
        "try:\n    f.close()\nexcept BufferError:\n    pass\n"
        f"assert mv.tobytes() == {spec.ggml_bytes()!r}\n"
        "assert arr.tobytes() == mv.tobytes()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# ---- (b) xtral.write_gguf -> gguf.GGUFReader ----


@pytest.mark.parametrize("alignment", [None, 32, 64])
def test_xtral_file_read_by_reference(tmp_path: Path, alignment: int | None) -> None:
    kvs = xtral_variety_kvs()
    specs, _ = writable_specs()
    path = tmp_path / "x.gguf"
    xtral.write_gguf(str(path), {kv.key: to_xtral_value(kv) for kv in kvs},
                     {s.name: to_xtral_tensor(s) for s in specs}, alignment=alignment)
    reader = gguf.GGUFReader(path)
    got = reader_metadata(reader)
    if alignment is not None:
        assert got.pop("general.alignment") == (alignment, "uint32")
    assert "general.alignment" not in got
    expected = {kv.key: expected_value(kv.value, kv.vtype, kv.sub_type) for kv in kvs}
    assert_metadata_equal({k: v for k, (v, _) in got.items()}, {k: t for k, (_, t) in got.items()},
                          expected)
    assert int(reader.alignment) == (alignment or 32)
    rows = reader_tensor_rows(reader)
    assert [(r.name, r.shape, r.type, r.nbytes) for r in rows] == [
        (s.name, s.shape, s.ggml_type.name, len(s.ggml_bytes())) for s in specs]
    assert all(r.offset % (alignment or 32) == 0 for r in rows)
    for t, spec in zip(reader.tensors, specs):
        assert reader_tensor_bytes(t) == spec.ggml_bytes(), spec.name
    with xtral.GGUFFile(str(path)) as f:  # and xtral reads its own file like the reference does
        assert_file_matches_reader(f, reader)


INFERRED_CASES: list[tuple[str, Any, Any, str]] = [
    # (case id, value, expected value (None: same as written), expected type) -- from the API spec
    ("bool", True, None, "bool"),
    ("int", 7, None, "int32"),
    ("int_neg", -(2**31), None, "int32"),
    ("int_big", 2**31, None, "int64"),
    ("int_bigneg", -(2**31) - 1, None, "int64"),
    ("int_huge", 2**63, None, "uint64"),
    ("float", 0.1, float(np.float32(0.1)), "float32"),
    ("str", "ünï", None, "string"),
    ("np_uint16", np.uint16(65535), 65535, "uint16"),
    ("np_int8", np.int8(-5), -5, "int8"),
    ("np_float64", np.float64(0.1), 0.1, "float64"),
    ("np_bool", np.bool_(True), True, "bool"),
    ("np_array_int8", np.array([1, -2], dtype=np.int8), None, "array[int8]"),
    ("np_array_uint64", np.array([2**64 - 1], dtype=np.uint64), None, "array[uint64]"),
    ("np_array_float64", np.array([0.5, 1e300]), None, "array[float64]"),
    ("np_array_bool", np.array([True, False]), None, "array[bool]"),
    ("list_int", [1, 2, 3], np.array([1, 2, 3], dtype=np.int32), "array[int32]"),
    ("list_float", [0.5, 1.5], np.array([0.5, 1.5], dtype=np.float32), "array[float32]"),
    ("list_bool", [True, False], np.array([True, False]), "array[bool]"),
    ("list_str", ["a", "b"], None, "array[string]"),
    ("nested", [[1, 2], [3]], [np.array([1, 2], dtype=np.int32), np.array([3], dtype=np.int32)],
     "array[array[int32]]"),
    ("bytes", b"\x00\xff", np.array([0, 255], dtype=np.uint8), "array[uint8]"),
]


@pytest.mark.parametrize("case", INFERRED_CASES, ids=[c[0] for c in INFERRED_CASES])
def test_write_gguf_type_inference(tmp_path: Path, case: tuple[str, Any, Any, str]) -> None:
    _, value, expected, type_str = case
    if expected is None:
        expected = value
    path = tmp_path / "inferred.gguf"
    xtral.write_gguf(str(path), {"k": value})
    got_value, got_type = reader_metadata(gguf.GGUFReader(path))["k"]
    assert got_type == type_str
    assert_value_equal(got_value, expected, "reader")
    with xtral.GGUFFile(str(path)) as f:
        assert f.metadata_types["k"] == type_str
        assert_value_equal(f.metadata["k"], expected, "xtral")


def test_write_gguf_nested_with_typed_items(tmp_path: Path) -> None:
    path = tmp_path / "nested.gguf"
    value = xtral.GGUFValue([xtral.GGUFValue([1, 2], "array", "uint16"),
                             xtral.GGUFValue([], "array", "uint16"),
                             xtral.GGUFValue(["s"], "array", "string")], "array", "array")
    xtral.write_gguf(str(path), {"n": value, "e": xtral.GGUFValue([], "array", "array")})
    got = reader_metadata(gguf.GGUFReader(path))
    assert got["n"][1] == "array[array[uint16]]"
    assert_value_equal(got["n"][0], [np.array([1, 2], np.uint16), np.array([], np.uint16), ["s"]])
    assert got["e"] == ([], "array[array]")


def test_write_gguf_alignment_from_metadata(tmp_path: Path) -> None:
    """general.alignment given as metadata governs the layout, as the reference reader sees it."""
    path = tmp_path / "al.gguf"
    specs = all_type_tensor_specs()[:3]
    xtral.write_gguf(str(path), {"general.alignment": xtral.GGUFValue(128, "uint32")},
                     {s.name: to_xtral_tensor(s) for s in specs})
    reader = gguf.GGUFReader(path)
    assert int(reader.alignment) == 128 and int(reader.data_offset) % 128 == 0
    assert all(r.offset % 128 == 0 for r in reader_tensor_rows(reader))
    for t, spec in zip(reader.tensors, specs):
        assert reader_tensor_bytes(t) == spec.ggml_bytes(), spec.name


@pytest.mark.parametrize("alignment", [0, 3, 48, 2**32 + 1, -32])
def test_write_gguf_rejects_bad_alignment(tmp_path: Path, alignment: int) -> None:
    path = tmp_path / "bad.gguf"
    with pytest.raises((ValueError, OverflowError)):
        xtral.write_gguf(str(path), {"k": 1}, alignment=alignment)
    assert not path.exists()


@pytest.mark.parametrize("tensor", [
    (b"\0" * 17, "Q4_0", (32,)),                # wrong byte count for the shape
    (b"\0" * 18, "Q4_0", (31,)),                # row not a multiple of the block size
    (b"\0" * 4, "NO_SUCH_TYPE", (1,)),          # unknown type name
    (np.zeros(3, dtype=np.uint32), None, None),  # dtype without a ggml type
], ids=["size", "block", "type", "dtype"])
def test_write_gguf_failure_leaves_no_file(tmp_path: Path, tensor: Any) -> None:
    if tensor[1] is None:
        tensor = tensor[0]
    path = tmp_path / "out.gguf"
    with pytest.raises((ValueError, TypeError, KeyError)):
        xtral.write_gguf(str(path), {"k": 1}, {"t": tensor})
    assert os.listdir(tmp_path) == [], "a failed write left files behind"


def test_write_gguf_replaces_existing_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out.gguf"
    xtral.write_gguf(str(path), {"k": 1})
    with pytest.raises((ValueError, TypeError, KeyError)):
        xtral.write_gguf(str(path), {"k": 2}, {"t": (b"\0", "Q4_0", (32,))})
    assert reader_metadata(gguf.GGUFReader(path))["k"] == (1, "int32")
    assert os.listdir(tmp_path) == ["out.gguf"]


def test_write_gguf_non_contiguous_array(tmp_path: Path) -> None:
    """A transposed (non-C-contiguous) array is stored with its logical NumPy layout."""
    arr = np.arange(12, dtype=np.float32).reshape(3, 4).T
    path = tmp_path / "t.gguf"
    xtral.write_gguf(str(path), {}, {"t": arr})
    (t,) = gguf.GGUFReader(path).tensors
    assert tuple(t.data.shape) == arr.shape
    assert np.array_equal(t.data, arr)


# ---- (c) property: write_gguf -> GGUFFile keeps values and types ----

_KEY = st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=24).filter(
    lambda k: k not in ("general.alignment", "general.architecture"))


def _scalar(vt: VT) -> st.SearchStrategy[Any]:
    dt = SCALAR_DTYPES[vt]
    if dt.kind == "b":
        return st.booleans()
    if dt.kind == "f":
        return st.floats(width=dt.itemsize * 8)
    info = np.iinfo(dt)
    return st.integers(int(info.min), int(info.max))


_FIXED_TYPES = list(SCALAR_DTYPES)
_TEXT = st.text(max_size=12)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[Any, Any, str]:
    """(xtral.GGUFValue, expected value, expected type string) of any type."""
    kind = draw(st.sampled_from(["scalar", "string", "array"]))
    if kind == "scalar":
        vt = draw(st.sampled_from(_FIXED_TYPES))
        v = draw(_scalar(vt))
        return (xtral.GGUFValue(v, value_type_name(vt)), *expected_value(v, vt))
    if kind == "string":
        v = draw(_TEXT)
        return xtral.GGUFValue(v, "string"), v, "string"
    return draw(array_values())


@st.composite
def array_values(draw: st.DrawFn, depth: int = 0) -> tuple[Any, Any, str]:
    """An array value: of a fixed-size type, of strings, or (up to 3 levels) of arrays."""
    kind = draw(st.sampled_from(["fixed", "string", "nested"] if depth < 2 else ["fixed", "string"]))
    if kind == "fixed":
        vt = draw(st.sampled_from(_FIXED_TYPES))
        v = draw(st.lists(_scalar(vt), max_size=6))
        return (xtral.GGUFValue(v, "array", value_type_name(vt)), *expected_value(v, VT.ARRAY, vt))
    if kind == "string":
        v = draw(st.lists(_TEXT, max_size=6))
        return xtral.GGUFValue(v, "array", "string"), v, "array[string]"
    items = draw(st.lists(array_values(depth + 1), max_size=4))
    inner_type = items[0][2] if items else "array"
    return (xtral.GGUFValue([i[0] for i in items], "array", "array"), [i[1] for i in items],
            f"array[{inner_type}]")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.dictionaries(_KEY, typed_values(), max_size=8))
def test_property_metadata_round_trip(tmp_path: Path, entries: dict[str, tuple[Any, Any, str]]) -> None:
    path = tmp_path / "prop.gguf"
    xtral.write_gguf(str(path), {k: v[0] for k, v in entries.items()})
    expected = {k: (v[1], v[2]) for k, v in entries.items()}
    with xtral.GGUFFile(str(path)) as f:
        assert_metadata_equal(f.metadata, f.metadata_types, expected)
        assert f.tensors == {}
