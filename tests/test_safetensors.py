"""xtral.SafetensorsFile against the reference `safetensors` package (its Rust core): files it
writes read back equal; every malformed file (truncations, every mutated header byte, seeded
mutations, crafted bad fields) is a GGUFError/ValueError or OSError, never a crash, and xtral
accepts a mutated file exactly when the reference does, except the documented extra
strictness (duplicate keys, lone surrogate escapes, U+0000 in names, > 32 dimensions).
Also replays tests/fuzz/corpus/safetensors.
"""
from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xtral
from xtral import SafetensorsFile

import safetensors.numpy as st_numpy  # noqa: E402  (a test dependency: must be installed)

FUZZ_DIR = Path(__file__).parent / "fuzz"
CORPUS = FUZZ_DIR / "corpus" / "safetensors"
STRICTER = ("duplicate key", "surrogate", "U+0000", "dimensions (at most")

NUMPY_DTYPES = {  # NumPy dtype -> safetensors name
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
    "float16": "F16", "int32": "I32", "uint32": "U32", "float32": "F32", "float64": "F64",
    "int64": "I64", "uint64": "U64",
}
SHAPES = [(), (0,), (3,), (2, 3), (0, 4), (1, 1, 1), (2, 0, 3), (2, 1, 3, 2)]


def sample(dtype: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return np.asarray(rng.integers(0, 2, size=shape)).astype(bool)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))
    return np.asarray(rng.standard_normal(size=shape) * 100).astype(dtype)


def build(header: dict[str, Any] | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    """A safetensors image from a header (dict -> JSON) and a data section."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def reference_ok(data: bytes) -> bool:
    try:
        st_numpy.load(data)
        return True
    except KeyError:  # a dtype the numpy binding cannot map (F8, BF16) on a valid header
        return True
    except Exception:  # SafetensorError
        return False


def walk(f: SafetensorsFile) -> None:
    """Touches everything a file exposes."""
    for k, v in f.metadata.items():
        assert isinstance(k, str) and isinstance(v, str)
    end = 0
    for name, info in f.tensors.items():
        assert info.offset == end
        end += info.nbytes
        raw = f.tensor_bytes(name)
        assert raw.nbytes == info.nbytes and raw.readonly
        bytes(raw)
        try:
            arr = f.tensor(name)
        except xtral.GGUFError:
            raise
        except ValueError:
            continue
        assert arr.shape == info.shape
    assert f.data_offset + end == f.file_size


def xtral_ok(data: bytes) -> tuple[bool, str]:
    try:
        f = SafetensorsFile.from_bytes(data)
    except (xtral.GGUFError, xtral.UnsupportedError) as e:
        return False, str(e)
    with f:
        walk(f)
    return True, ""


def agree(data: bytes) -> bool:
    """xtral accepts exactly what the reference accepts, bar the documented strictness."""
    ours, msg = xtral_ok(data)
    ref = reference_ok(data)
    if ours:
        assert ref, f"xtral accepted what safetensors rejects: {data[:300]!r}"
    elif ref:
        assert any(s in msg for s in STRICTER), (data[:300], msg)
    return ours


# ---- round trips with files written by safetensors ----

@pytest.fixture(scope="module")
def all_dtypes_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    tensors = {}
    for i, dt in enumerate(NUMPY_DTYPES):
        for j, shape in enumerate(SHAPES):
            tensors[f"t.{dt}.{j}"] = sample(dt, shape, 100 * i + j)
    path = tmp_path_factory.mktemp("st") / "all.safetensors"
    st_numpy.save_file(tensors, str(path), metadata={"format": "np", "note": "héllo\u0000x"})
    return path, tensors


def test_roundtrip_all_dtypes_and_shapes(all_dtypes_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, tensors = all_dtypes_file
    ref = st_numpy.load_file(str(path))
    with SafetensorsFile(path) as f:
        assert f.metadata == {"format": "np", "note": "héllo\u0000x"}
        assert set(f.tensors) == set(tensors) == set(ref)
        header = json.loads(path.read_bytes()[8:f.data_offset])
        for name, want in tensors.items():
            info = f.tensors[name]
            assert info.shape == want.shape
            assert info.dtype == NUMPY_DTYPES[want.dtype.name] == header[name]["dtype"]
            assert [info.offset, info.offset + info.nbytes] == header[name]["data_offsets"]
            got = f.tensor(name)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, ref[name])
            np.testing.assert_array_equal(got, want)
            assert not got.flags.writeable
            assert bytes(f.tensor_bytes(name)) == want.tobytes()
        assert list(f.tensors) == sorted(f.tensors, key=lambda n: f.tensors[n].offset)


def test_views_are_zero_copy_and_outlive_close(all_dtypes_file: tuple[Path, Any]) -> None:
    path, tensors = all_dtypes_file
    f = SafetensorsFile(path)
    arr = f.tensor("t.float32.3")
    raw = f.tensor_bytes("t.float32.3")
    assert np.shares_memory(arr, np.frombuffer(raw, dtype=np.uint8))
    f.close()
    assert f.closed
    np.testing.assert_array_equal(arr, tensors["t.float32.3"])  # the mapping is still alive
    with pytest.raises(ValueError, match="closed"):
        f.tensor("t.float32.3")
    with pytest.raises(KeyError):
        SafetensorsFile(path).tensor("missing")


def test_bf16_f8_c64_and_empty_file() -> None:
    vals = np.array([1.0, -2.5, 3.140625, 0.0, -0.0, np.inf], dtype=np.float32)
    bf16 = (vals.view(np.uint32) >> 16).astype("<u2")
    f8 = bytes(range(6))
    c64 = np.array([1 + 2j, -3j], dtype="<c8")
    header = {"__metadata__": {"a": "b"},
              "bf": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
              "f8": {"dtype": "F8_E4M3", "shape": [3, 2], "data_offsets": [12, 18]},
              "e5": {"dtype": "F8_E5M2", "shape": [0], "data_offsets": [18, 18]},
              "c": {"dtype": "C64", "shape": [2], "data_offsets": [18, 34]}}
    data = bf16.tobytes() + f8 + c64.tobytes()
    image = build(header, data)
    assert reference_ok(image)
    with SafetensorsFile.from_bytes(image) as f:
        assert f.path is None or f.path == "<memory>"
        np.testing.assert_array_equal(f.tensor("bf"), vals.reshape(2, 3))
        assert f.tensor("bf").dtype == np.float32
        assert f.tensor("f8").dtype == np.uint8 and bytes(f.tensor("f8")) == f8
        assert f.tensor("f8").shape == (3, 2)
        np.testing.assert_array_equal(f.tensor("c"), c64)
        assert f.tensor("e5").shape == (0,)
        assert list(f.tensors) == ["bf", "f8", "e5", "c"]
    with SafetensorsFile.from_bytes(build({})) as f:  # the reference's empty file: "{}"
        assert f.tensors == {} and f.metadata == {}


def test_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SafetensorsFile(tmp_path / "missing.safetensors")
    with pytest.raises(IsADirectoryError):
        SafetensorsFile(tmp_path)
    p = tmp_path / "empty.safetensors"
    p.write_bytes(b"")
    with pytest.raises(xtral.FormatError, match="less than the 8-byte header length"):
        SafetensorsFile(p)


# ---- malformed input ----

SMALL_HEADER = {"__metadata__": {"k": "v"},
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "I16", "shape": [1, 2], "data_offsets": [8, 12]}}
SMALL = build(SMALL_HEADER, bytes(range(12)))


def test_small_file_is_valid() -> None:
    assert agree(SMALL)


def test_truncated_at_every_byte() -> None:
    for n in range(len(SMALL)):
        with pytest.raises(xtral.GGUFError):
            SafetensorsFile.from_bytes(SMALL[:n])


def test_every_header_byte_mutated() -> None:
    accepted = 0
    hlen = len(SMALL) - 12
    for i in range(hlen):
        for v in {0x00, 0xFF, 0x20, 0x22, 0x30, 0x7B, 0x5D, SMALL[i] ^ 0x01, SMALL[i] ^ 0x80}:
            b = bytearray(SMALL)
            b[i] = v
            accepted += agree(bytes(b))
    assert accepted > 0


def test_seeded_mutations() -> None:
    rng = random.Random(20240607)
    alphabet = b'{}[]",:0123456789-. \\u\x00\xff\xc3'
    accepted = 0
    for _ in range(2000):
        b = bytearray(SMALL)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            op = rng.randrange(4)
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                b[i] = rng.choice(alphabet)
            elif op == 2:
                b.insert(i, rng.choice(alphabet))
            else:
                del b[i]
        accepted += agree(bytes(b))
    assert accepted > 0


def tensor(dtype: str = "F32", shape: list[int] | None = None, offsets: list[int] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [2] if shape is None else shape,
            "data_offsets": [0, 8] if offsets is None else offsets, **extra}


BAD: list[tuple[str, bytes, str]] = [
    ("length 2^64-1", build(SMALL_HEADER, bytes(12), length=2**64 - 1), "over the 100000000-byte limit"),
    ("length 2^63", build(SMALL_HEADER, bytes(12), length=2**63), "over the 100000000-byte limit"),
    ("length 100MB+1", build(SMALL_HEADER, bytes(12), length=100_000_001), "over the"),
    ("length past end", build(SMALL_HEADER, bytes(12), length=len(SMALL)), "runs past the end of the file"),
    ("offsets past end", build({"a": tensor(offsets=[0, 8])}, bytes(4)), "run past the end of the data section"),
    ("huge offsets", build({"a": tensor(offsets=[2**62, 2**62 + 8])}, bytes(8)), "past the end"),
    ("offsets > int64", build({"a": tensor(offsets=[0, 2**64 + 8])}, bytes(8)), "not a non-negative integer"),
    ("overlap", build({"a": tensor(offsets=[0, 8]), "b": tensor(offsets=[4, 12])}, bytes(12)), "overlap tensor 'a'"),
    ("same range", build({"a": tensor(offsets=[0, 8]), "b": tensor(offsets=[0, 8])}, bytes(8)), "overlap"),
    ("gap", build({"a": tensor(offsets=[4, 12])}, bytes(12)), "contiguous"),
    ("trailing data", build({"a": tensor()}, bytes(9)), "the tensors cover 8 bytes but the data section has 9"),
    ("no tensors, data", build({}, bytes(1)), "cover 0 bytes"),
    ("begin > end", build({"a": tensor(offsets=[8, 0])}, bytes(8)), "end before they begin"),
    ("wrong size", build({"a": tensor(shape=[3])}, bytes(8)), "hold 8 bytes but F32 with its shape needs 12"),
    ("size overflow", build({"a": tensor(shape=[2**62, 2**62])}, bytes(8)), "overflows"),
    ("negative dim", build({"a": tensor(shape=[-2])}, bytes(8)), "must be >= 0"),
    ("float dim", build({"a": tensor(shape=[2.0])}, bytes(8)), "not a non-negative integer"),
    ("string dim", build({"a": tensor(shape=["2"])}, bytes(8)), "not a non-negative integer"),
    ("33 dims", build({"a": tensor(shape=[1] * 32 + [2])}, bytes(8)), "33 dimensions (at most 32)"),
    ("unknown dtype", build({"a": tensor(dtype="Q4_K")}, bytes(8)), "unknown dtype 'Q4_K'"),
    ("lowercase dtype", build({"a": tensor(dtype="f32")}, bytes(8)), "unknown dtype 'f32'"),
    ("dtype not str", build({"a": tensor(dtype=4)}, bytes(8)), "'dtype' is a int"),
    ("missing shape", build({"a": {"dtype": "F32", "data_offsets": [0, 8]}}, bytes(8)), "missing field 'shape'"),
    ("missing offsets", build({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)), "missing field 'data_offsets'"),
    ("3 offsets", build({"a": tensor(offsets=[0, 8, 8])}, bytes(8)), "[begin, end]"),
    ("entry not object", build({"a": [1]}, bytes(0)), "not an object"),
    ("header array", build(b"[]"), "is a JSON array, not an object"),
    ("metadata int", build({"__metadata__": {"k": 1}}), "not a string"),
    ("metadata list", build({"__metadata__": ["k"]}), "not an object of strings"),
    ("duplicate names", build(b'{"a":' + json.dumps(tensor()).encode() + b',"a":'
                              + json.dumps(tensor(offsets=[8, 16])).encode() + b"}", bytes(16)),
     "duplicate key 'a'"),
    ("bad utf8", build(b'{"\xff":' + json.dumps(tensor()).encode() + b"}", bytes(8)), "invalid UTF-8"),
    ("bad json", build(b'{"a":' + json.dumps(tensor()).encode(), bytes(8)), "JSON: unexpected end"),
    ("trailing nul", build(json.dumps({"a": tensor()}).encode() + b"\0", bytes(8)), "JSON: unexpected byte 0x00"),
    ("empty header", build(b""), "JSON: unexpected end"),
    ("nul in name", build({"a\u0000b": tensor()}, bytes(8)), "U+0000"),
]


@pytest.mark.parametrize("data,match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(data: bytes, match: str) -> None:
    with pytest.raises(xtral.GGUFError) as e:
        SafetensorsFile.from_bytes(data)
    assert isinstance(e.value, ValueError) and match in str(e.value), str(e.value)
    ref = reference_ok(data)
    assert not ref or any(s in str(e.value) for s in STRICTER)


def test_sub_byte_dtype_is_unsupported() -> None:
    with pytest.raises(xtral.UnsupportedError, match="dtype 'F4'"):
        SafetensorsFile.from_bytes(build({"a": tensor(dtype="F4", shape=[16])}, bytes(8)))


def test_accepted_like_reference() -> None:
    cases = [
        build({"b": tensor(offsets=[8, 16]), "a": tensor()}, bytes(16)),  # header out of order
        build(b' {"a":' + json.dumps(tensor()).encode() + b"}  \n\t", bytes(8)),  # whitespace
        build({"__metadata__": None, "a": tensor(x=1)}, bytes(8)),  # null metadata, extra field
        build({"a": tensor(), "z": tensor(shape=[0], offsets=[8, 8])}, bytes(8)),  # empty at end
        build({"": tensor(dtype="U8", shape=[8])}, bytes(8)),  # empty name
    ]
    for c in cases:
        assert reference_ok(c)
        assert agree(c)


# ---- fuzz corpus replay ----

def replay_files() -> list[Path]:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
    out = FUZZ_DIR / "out"
    if out.is_dir():
        files += sorted(out.glob("safetensors-*"))
    return files


def test_safetensors_corpus_is_present() -> None:
    seeds = replay_files()
    assert len(seeds) >= 8
    assert sum(p.stat().st_size for p in seeds) < 64 * 1024


@pytest.mark.parametrize("path", replay_files(), ids=lambda p: p.name)
def test_safetensors_corpus_replay(path: Path) -> None:
    agree(path.read_bytes())


def make_corpus() -> None:
    """Writes the seed files (run: python tests/test_safetensors.py)."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    (CORPUS / "small.safetensors").write_bytes(SMALL)
    (CORPUS / "empty.safetensors").write_bytes(build({}))
    for name, data, _ in BAD[:12:3]:
        slug = "".join(c if c.isalnum() else "_" for c in name)
        (CORPUS / f"bad_{slug}.safetensors").write_bytes(data)
    tensors = {f"t.{dt}": sample(dt, (2, 3) if i % 2 else (), i) for i, dt in enumerate(NUMPY_DTYPES)}
    st_numpy.save_file(tensors, str(CORPUS / "all_dtypes.safetensors"), metadata={"format": "np"})
    st_numpy.save_file({"x": np.zeros((0, 3), np.float32)}, str(CORPUS / "zero_size.safetensors"))
    image = build({"bf": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
                   "f8": {"dtype": "F8_E5M2", "shape": [1, 2], "data_offsets": [4, 6]}}, bytes(6))
    (CORPUS / "bf16_f8.safetensors").write_bytes(image)
    for p in CORPUS.iterdir():
        p.chmod(0o644)


if __name__ == "__main__":
    make_corpus()
