"""Untrusted GGUF input: every malformed file is an xtral.GGUFError naming the problem (or an
OSError for bad paths), never a crash, a hang or another exception type.

Files are crafted byte by byte with `struct` (tests/gguf_helpers.build_gguf); the valid base file
is checked against gguf.GGUFReader first, so every corruption starts from a file the reference
implementation accepts.
"""
from __future__ import annotations

import itertools
import os
import random
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import gguf
import xtral
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf_helpers import (
    KV,
    Built,
    RawKV,
    RawTensor,
    TensorSpec,
    assert_file_matches_reader,
    build_gguf,
    layout_tensors,
    make_tensor_spec,
    open_and_walk,
    raw_kv,
    write_reference_gguf,
)

U64_MAX = 2**64 - 1
HUGE_U64 = [U64_MAX, U64_MAX - 1, 2**63, 2**63 - 1, 2**62, 2**32, 2**32 + 1]

# ---- the valid base file ----

BASE_KVS = [
    raw_kv("general.architecture", "llama", VT.STRING),
    raw_kv("general.name", "tiny", VT.STRING),
    raw_kv("llama.block_count", 1, VT.UINT32),
    raw_kv("llama.rope.freq_base", 10000.0, VT.FLOAT32),
    raw_kv("tokenizer.ggml.add_bos_token", True, VT.BOOL),
    raw_kv("test.int64", -5, VT.INT64),
    raw_kv("tokenizer.ggml.tokens", ["<s>", "a", "bc", "déf"], VT.ARRAY, VT.STRING),
    raw_kv("tokenizer.ggml.scores", [0.0, -1.0, -2.0, -3.5], VT.ARRAY, VT.FLOAT32),
]
BASE_TENSORS = [
    make_tensor_spec("token_embd.weight", QT.F32, 4, 8, seed=1),
    make_tensor_spec("blk.0.attn_q.weight", QT.Q8_0, 2, 1, seed=2),
    # 8 x f32 = 32 bytes: the last tensor ends on an alignment boundary, so the file has no
    # trailing padding and every truncation cuts into data something needs.
    TensorSpec("output_norm.weight", QT.F32, (8,), array=np.linspace(-1, 1, 8, dtype=np.float32)),
]


def build_base(kvs: list[RawKV] | None = None, tensors: list[RawTensor] | None = None,
               **kwargs: object) -> Built:
    """The base file, optionally with other kvs or tensor infos (same data section)."""
    infos, data = layout_tensors(BASE_TENSORS)
    return build_gguf(BASE_KVS if kvs is None else kvs, infos if tensors is None else tensors,
                      data, **kwargs)


BASE = build_base()
EMBD = "tensor:token_embd.weight"
LAST = "tensor:output_norm.weight"
TOKENS = "kv:tokenizer.ggml.tokens"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes], Path]:
    """Writes bytes to a fresh file under tmp_path and returns its path."""
    counter = itertools.count()

    def _write(data: bytes) -> Path:
        path = tmp_path / f"case{next(counter)}.gguf"
        path.write_bytes(data)
        return path

    return _write


def assert_bad(path: Path, match: str | None = None) -> xtral.GGUFError:
    """Opening `path` raises GGUFError (whose message matches `match`, case-insensitive)."""
    with pytest.raises(xtral.GGUFError, match=f"(?i){match}" if match else None) as exc:
        xtral.GGUFFile(str(path))
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, xtral.XtralError)
    return exc.value


def test_base_file_is_valid(write: Callable[[bytes], Path]) -> None:
    path = write(BASE.data)
    reader = gguf.GGUFReader(path)
    assert len(reader.tensors) == len(BASE_TENSORS)
    with xtral.GGUFFile(str(path)) as f:
        assert_file_matches_reader(f, reader)
        assert f.data_offset + f.tensors["output_norm.weight"].offset + 32 == len(BASE.data)
    assert open_and_walk(path)


# ---- truncation and random mutation ----


def test_every_truncation_is_an_error(write: Callable[[bytes], Path]) -> None:
    for n in range(len(BASE.data)):
        path = write(BASE.data[:n])
        try:
            xtral.GGUFFile(str(path)).close()
        except xtral.GGUFError:
            continue
        pytest.fail(f"a file truncated to {n} of {len(BASE.data)} bytes opened")


INTERESTING_U64 = [0, 1, 2**31, 2**32 - 1, 2**32, 2**63, U64_MAX, len(BASE.data)]


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random corruption of `data` and a description of it."""
    buf = bytearray(data)
    kind = rng.choice(["flip", "bytes", "insert", "delete", "u64", "u32"])
    pos = rng.randrange(len(buf))
    if kind == "flip":
        for _ in range(rng.randint(1, 4)):
            p = rng.randrange(len(buf))
            buf[p] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        n = rng.randint(1, 8)
        buf[pos:pos + n] = bytes(rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)]) for _ in range(n))
    elif kind == "insert":
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        del buf[pos:pos + rng.randint(1, 16)]
    elif kind == "u64":
        buf[pos:pos + 8] = struct.pack("<Q", rng.choice(INTERESTING_U64))
    else:
        buf[pos:pos + 4] = struct.pack("<I", rng.choice(INTERESTING_U64) & 0xFFFFFFFF)
    return bytes(buf[: len(data) + 64]), f"{kind}@{pos}"


def test_random_mutations(write: Callable[[bytes], Path]) -> None:
    rng = random.Random(20240611)
    opened = 0
    start = time.perf_counter()
    for case in range(2000):
        data, what = mutate(BASE.data, rng)
        path = write(data)
        try:
            opened += open_and_walk(path)
        except Exception as e:  # noqa: BLE001 - report the case, then fail
            raise AssertionError(f"mutation {case} ({what}) raised {type(e).__name__}: {e}") from e
    assert time.perf_counter() - start < 60
    assert 0 < opened < 2000  # both outcomes happen: the mutations are neither all fatal nor all benign


# ---- huge counts and lengths ----


@pytest.mark.parametrize("value", HUGE_U64)
def test_huge_n_kv(write: Callable[[bytes], Path], value: int) -> None:
    assert_bad(write(BASE.patch("n_kv", "<Q", value)), r"kv|key|metadata")


@pytest.mark.parametrize("value", HUGE_U64)
def test_huge_n_tensors(write: Callable[[bytes], Path], value: int) -> None:
    assert_bad(write(BASE.patch("n_tensors", "<Q", value)), r"tensor")


@pytest.mark.parametrize("where", ["kv:general.name", "kv:general.name:value", EMBD])
@pytest.mark.parametrize("value", HUGE_U64 + [len(BASE.data)])
def test_huge_string_length(write: Callable[[bytes], Path], where: str, value: int) -> None:
    assert_bad(write(BASE.patch(where, "<Q", value)), r"string|length|name|key|end of file")


@pytest.mark.parametrize("key", [TOKENS, "kv:tokenizer.ggml.scores"])
@pytest.mark.parametrize("value", HUGE_U64 + [2**64 // 4, 2**64 // 4 + 1, 2**64 // 16])
def test_huge_array_count(write: Callable[[bytes], Path], key: str, value: int) -> None:
    # count * 4 wraps to a small number for 2**62 and 2**64 // 4 + 1: the classic overflow
    name = key.removeprefix("kv:")
    assert_bad(write(BASE.patch(f"{key}:value", "<Q", value, delta=4)), rf"array|count|{name}")


def test_huge_array_count_fails_fast(write: Callable[[bytes], Path]) -> None:
    start = time.perf_counter()
    assert_bad(write(BASE.patch(f"{TOKENS}:value", "<Q", 2**40, delta=4)))
    assert time.perf_counter() - start < 2, "a huge count must be checked before allocating"


@pytest.mark.parametrize("dims", [
    [U64_MAX, 4], [8, U64_MAX], [2**63, 1], [2**32, 2**32], [2**62, 1], [2**61, 2],
    [8, 2**40], [2**63 + 8, 4],
], ids=str)
def test_huge_dims(write: Callable[[bytes], Path], dims: list[int]) -> None:
    assert_bad(write(BASE.patch(f"{EMBD}:dims", "<2Q", *dims)), r"token_embd\.weight")


@pytest.mark.parametrize("n_dims", [0, 5, 0xFFFFFFFF])
def test_bad_n_dims(write: Callable[[bytes], Path], n_dims: int) -> None:
    assert_bad(write(BASE.patch(f"{EMBD}:n_dims", "<I", n_dims)), r"token_embd\.weight|dim")


def test_row_not_multiple_of_block(write: Callable[[bytes], Path]) -> None:
    # blk.0.attn_q.weight is Q8_0 (block 32) with ne0 = 32: make it 33
    name = "blk.0.attn_q.weight"
    assert_bad(write(BASE.patch(f"tensor:{name}:dims", "<Q", 33)), rf"{name}")


# ---- tensor offsets and types ----


def last_tensor_end_offset() -> int:
    return len(BASE.data) - BASE.offsets["data"]


@pytest.mark.parametrize("offset", [
    last_tensor_end_offset(), last_tensor_end_offset() + 32, 2**40, 2**63, U64_MAX - 31,
    U64_MAX + 1 - 32 * 2, 2**64 - BASE.offsets["data"] // 32 * 32,
], ids=str)
def test_tensor_offset_past_end(write: Callable[[bytes], Path], offset: int) -> None:
    assert_bad(write(BASE.patch(f"{LAST}:offset", "<Q", offset)), r"output_norm\.weight")


@pytest.mark.parametrize("delta", [1, 4, 16, 31])
def test_misaligned_offset(write: Callable[[bytes], Path], delta: int) -> None:
    off = struct.unpack_from("<Q", BASE.data, BASE.offsets[f"{LAST}:offset"])[0]
    assert_bad(write(BASE.patch(f"{LAST}:offset", "<Q", off - 32 + delta)),
               r"output_norm\.weight")


def test_overlapping_tensors(write: Callable[[bytes], Path]) -> None:
    """The last tensor pointed at the first one's data: either rejected or read consistently."""
    path = write(BASE.patch(f"{LAST}:offset", "<Q", 0))
    opened = open_and_walk(path)
    if opened:
        with xtral.GGUFFile(str(path)) as f:
            assert f.tensor_bytes("output_norm.weight").tobytes() == BASE_TENSORS[0].ggml_bytes()[:32]


@pytest.mark.parametrize("type_id", [4, 5, 31, 36, 43, 1000, 0xFFFFFFFF])
def test_unknown_tensor_type(write: Callable[[bytes], Path], type_id: int) -> None:
    err = assert_bad(write(BASE.patch(f"{EMBD}:type", "<I", type_id)), r"token_embd\.weight")
    assert str(type_id) in str(err), f"message should name the type id: {err}"


@pytest.mark.parametrize("vtype", [13, 100, 0xFFFFFFFF])
def test_unknown_value_type(write: Callable[[bytes], Path], vtype: int) -> None:
    assert_bad(write(BASE.patch("kv:llama.block_count:type", "<I", vtype)), r"llama\.block_count")


@pytest.mark.parametrize("vtype", [13, 0xFFFFFFFF])
def test_unknown_array_element_type(write: Callable[[bytes], Path], vtype: int) -> None:
    assert_bad(write(BASE.patch(f"{TOKENS}:value", "<I", vtype)), r"tokenizer\.ggml\.tokens")


# ---- header fields ----


@pytest.mark.parametrize("magic", [b"GGUG", b"gguf", b"\0\0\0\0", b"FUGG"])
def test_wrong_magic(write: Callable[[bytes], Path], magic: bytes) -> None:
    assert_bad(write(magic + BASE.data[4:]), r"magic|not a gguf")


@pytest.mark.parametrize("version", [1, 4, 0x7FFFFFFF])
def test_unsupported_version(write: Callable[[bytes], Path], version: int) -> None:
    err = assert_bad(write(BASE.patch("version", "<I", version)), r"version")
    assert str(version) in str(err)
    assert any(w in str(err).lower() for w in ("unsupported", "not supported", "no longer supported")), str(err)


def test_version_zero(write: Callable[[bytes], Path]) -> None:
    assert_bad(write(BASE.patch("version", "<I", 0)), r"version|big.endian")


def test_big_endian_file(tmp_path: Path) -> None:
    path = write_reference_gguf(tmp_path / "be.gguf", [KV("x.y", 1, VT.UINT32)],
                                [BASE_TENSORS[2]], endianess=gguf.GGUFEndian.BIG)
    assert gguf.GGUFReader(path).endianess == gguf.GGUFEndian.BIG  # the reference sees big-endian
    assert_bad(path, r"big.endian")


def test_empty_file(write: Callable[[bytes], Path]) -> None:
    assert_bad(write(b""))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        xtral.GGUFFile(str(tmp_path))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        xtral.GGUFFile(str(tmp_path / "nope.gguf"))


def test_not_a_regular_file() -> None:
    """A character device is no GGUF file: the error is one of xtral's or an OSError."""
    with pytest.raises((xtral.XtralError, OSError)):
        xtral.GGUFFile("/dev/null")


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    """Opening a named pipe with no writer must fail at once, not block in open(2)."""
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    code = (
        "import sys, xtral\n"
        "try:\n    xtral.GGUFFile(sys.argv[1])\n"
        "except (xtral.XtralError, OSError):\n    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                              text=True, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("GGUFFile blocked opening a FIFO")
    assert proc.returncode == 0, proc.stderr


# ---- duplicates and general.alignment ----


def test_duplicate_key(write: Callable[[bytes], Path]) -> None:
    kvs = BASE_KVS + [raw_kv("general.name", "again", VT.STRING)]
    assert_bad(write(build_base(kvs).data), r"general\.name.*(duplicate|more than once)|duplicate.*general\.name")


def test_duplicate_tensor_name(write: Callable[[bytes], Path]) -> None:
    infos, _ = layout_tensors(BASE_TENSORS)
    infos[2].name = infos[0].name
    assert_bad(write(build_base(tensors=infos).data),
               r"token_embd\.weight.*(duplicate|more than once)|duplicate.*token_embd\.weight")


@pytest.mark.parametrize("kv", [
    raw_kv("general.alignment", 32, VT.UINT8),
    raw_kv("general.alignment", 32, VT.UINT16),
    raw_kv("general.alignment", 32, VT.INT32),
    raw_kv("general.alignment", 32, VT.UINT64),
    raw_kv("general.alignment", 32.0, VT.FLOAT32),
    raw_kv("general.alignment", "32", VT.STRING),
    raw_kv("general.alignment", [32], VT.ARRAY, VT.UINT32),
], ids=lambda kv: VT(kv.vtype).name)
def test_alignment_wrong_type(write: Callable[[bytes], Path], kv: RawKV) -> None:
    assert_bad(write(build_base(BASE_KVS + [kv]).data), r"general\.alignment")


@pytest.mark.parametrize("alignment", [0, 3, 24, 48, 2**31 + 1, 0xFFFFFFFF])
def test_alignment_not_power_of_two(write: Callable[[bytes], Path], alignment: int) -> None:
    kvs = BASE_KVS + [raw_kv("general.alignment", alignment, VT.UINT32)]
    assert_bad(write(build_base(kvs).data), r"alignment")


def test_valid_custom_alignment_accepted(write: Callable[[bytes], Path]) -> None:
    infos, data = layout_tensors(BASE_TENSORS, alignment=64)
    kvs = BASE_KVS + [raw_kv("general.alignment", 64, VT.UINT32)]
    path = write(build_gguf(kvs, infos, data, alignment=64).data)
    with xtral.GGUFFile(str(path)) as f:
        assert f.alignment == 64
        assert_file_matches_reader(f, gguf.GGUFReader(path))


# ---- pathological structure ----


def test_deeply_nested_arrays(write: Callable[[bytes], Path]) -> None:
    """100,000 nested one-element arrays: a depth limit error, or a file that reads fine."""
    depth = 100_000
    payload = struct.pack("<IQ", VT.ARRAY, 1) * (depth - 1) + struct.pack("<IQ", VT.UINT8, 1) + b"\x07"
    kvs = BASE_KVS + [RawKV(b"deep", int(VT.ARRAY), payload)]
    open_and_walk(write(build_base(kvs).data))


def test_invalid_utf8_key_and_name(write: Callable[[bytes], Path]) -> None:
    kvs = BASE_KVS + [RawKV(b"bad.\xff.key", int(VT.UINT8), b"\x01")]
    open_and_walk(write(build_base(kvs).data))
    infos, _ = layout_tensors(BASE_TENSORS)
    infos[1].name = b"blk.0.\xc3(.weight"
    open_and_walk(write(build_base(tensors=infos).data))


def test_zero_dim_tensor(write: Callable[[bytes], Path]) -> None:
    """n_dims = 0 is a one-element scalar in ggml and gguf-py; it reads like the reference."""
    kvs = [raw_kv("general.architecture", "llama", VT.STRING)]
    path = write(build_gguf(kvs, [RawTensor(b"t.0d", [], int(QT.F32), 0)], struct.pack("<f", 1.5)).data)
    with xtral.GGUFFile(str(path)) as f:
        assert_file_matches_reader(f, gguf.GGUFReader(path))
        assert f.tensor("t.0d").shape == () and float(f.tensor("t.0d")) == 1.5


def test_long_tensor_names(write: Callable[[bytes], Path]) -> None:
    """ggml's limit is 63 bytes (64 with the NUL): 63 must open, longer opens or is refused."""
    for length, must_open in [(63, True), (64, False), (5000, False)]:
        infos, _ = layout_tensors(BASE_TENSORS)
        infos[0].name = b"x" * length
        opened = open_and_walk(write(build_base(tensors=infos).data))
        assert opened or not must_open, f"a {length}-byte tensor name was refused"
