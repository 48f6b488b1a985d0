"""The strict C JSON reader (csrc/gguf/json.c) against Python's json module: valid documents
parse to the same values, invalid ones are rejected by both, and every extra rejection is one
of the documented strictness rules (duplicate keys, lone surrogates, non-finite numbers, NaN /
Infinity literals, nesting deeper than 128). Also replays tests/fuzz/corpus/json.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xtral
from xtral.safetensors import json_loads

FUZZ_DIR = Path(__file__).parent / "fuzz"
CORPUS = FUZZ_DIR / "corpus" / "json"
INT64 = (-2**63, 2**63 - 1)
MAX_DEPTH = 128

# Messages of the rejections that go beyond json.loads (see the json.c opening comment).
STRICTER = ("duplicate key", "surrogate", "range of a double", "NaN and Infinity",
            "-Infinity", "nesting deeper")


def same(ours: Any, ref: Any) -> bool:
    """Equal values with equal types; integers outside int64 come back as the nearest double."""
    if isinstance(ref, bool) or ref is None:
        return ours is ref
    if isinstance(ref, int):
        if INT64[0] <= ref <= INT64[1]:
            return type(ours) is int and ours == ref
        return type(ours) is float and ours == float(ref)
    if isinstance(ref, float):
        return type(ours) is float and (ours == ref) and math.copysign(1, ours) == math.copysign(1, ref)
    if isinstance(ref, str):
        return type(ours) is str and ours == ref
    if isinstance(ref, list):
        return type(ours) is list and len(ours) == len(ref) and all(map(same, ours, ref))
    if isinstance(ref, dict):
        return (type(ours) is dict and list(ours) == list(ref)
                and all(same(ours[k], ref[k]) for k in ref))
    raise TypeError(type(ref))


def reference(data: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return False, None


def check(data: bytes) -> bool:
    """Parses with both readers and checks they agree; returns whether xtral accepted."""
    ref_ok, ref = reference(data)
    try:
        ours = json_loads(data)
    except xtral.GGUFError as e:
        msg = str(e)
        assert msg.startswith("JSON: ") and " at byte " in msg, msg
        if ref_ok:
            assert any(s in msg for s in STRICTER), (data[:200], msg)
        return False
    assert ref_ok, f"xtral accepted what json.loads rejects: {data[:200]!r}"
    assert same(ours, ref), (data[:200], ours, ref)
    return True


# ---- valid documents ----

VALID = [
    "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "0.5", "-0.0", "1e3", "1E3", "1e-3", "1.5e+10", "2.2250738585072014e-308", "5e-324",
    "1.7976931348623157e308", "0.1", "3.141592653589793", "1e-400",
    '""', '"a"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\u0000"', '"\\u00e9\\u4e2d"',
    '"\\ud83d\\ude00"', '"\\uD83D\\uDE00"', '"é中😀"', '"\x7f"', '"a\\u0000b"',
    "true", "false", "null", "[]", "{}", " [ ] ", "\t\n\r {} \n",
    "[1,2,3]", '[1, "a", null, true, false, 1.5, [], {}]', '{"a":1}',
    '{"a": {"b": {"c": [1, {"d": null}]}}}', '{"": 0, "\\u0000": 1, "a\\u0000": 2}',
    '{"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}',
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    json.dumps({f"k{i}": i for i in range(100)}),
    json.dumps([{"x": [i, str(i), i / 7]} for i in range(50)]),
]


@pytest.mark.parametrize("text", VALID, ids=range(len(VALID)))
def test_valid_matches_json_loads(text: str) -> None:
    assert check(text.encode("utf-8"))


def test_deep_object_nesting_limit() -> None:
    ok = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert check(ok.encode())
    with pytest.raises(xtral.GGUFError, match="nesting deeper than 128"):
        json_loads(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode())


def test_large_object_duplicate_named() -> None:
    doc = {f"key{i}": i for i in range(1000)}
    text = json.dumps(doc)[:-1] + ', "key500": 1}'
    with pytest.raises(xtral.GGUFError, match=r"duplicate key 'key500' in an object at byte \d+"):
        json_loads(text)
    assert same(json_loads(json.dumps(doc)), doc)


def test_error_offsets() -> None:
    with pytest.raises(xtral.GGUFError, match="at byte 6$"):
        json_loads(b'[1, 2,]')
    with pytest.raises(xtral.GGUFError, match=r"duplicate key 'a' in an object at byte 9"):
        json_loads(b'{"a": 1, "a": 2}')


# ---- invalid documents ----

# json.loads rejects each of these too.
INVALID = [
    b"", b" ", b"[", b"]", b"{", b"[1,]", b"[,1]", b"[1 2]", b'{"a"}', b'{"a":}', b'{"a":1,}',
    b"{a:1}", b"{'a':1}", b"'a'", b'"a', b'"\\x"', b'"\\u12"', b'"\\u12g4"', b'"\t"', b'"\n"',
    b'"\x00"', b"01", b"-01", b"00", b"1.", b".5", b"-", b"+1", b"1e", b"1e+", b"0x10",
    b"1 2", b"[] []", b"truee", b"nul", b"True", b"None", b"[1]x", b"\xef\xbb\xbf[]",
    b'"\xff"', b'"\xc0\xaf"', b'"\xe0\x80\xaf"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"',
    b'"\xc3"', b'"\xe4\xb8"', b"\x00", b"[1]\x00", b"{}}", b'{"a":1 "b":2}', b"[\x0c]",
]


@pytest.mark.parametrize("data", INVALID, ids=range(len(INVALID)))
def test_invalid_rejected_by_both(data: bytes) -> None:
    assert not reference(data)[0]
    with pytest.raises(xtral.GGUFError, match=r"^JSON: .* at byte \d+$"):
        json_loads(data)


# json.loads accepts these; xtral rejects them on purpose.
STRICT_ONLY = [
    b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\u0041"',
    b'"\\ud800x"', b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b"1e400", b"-1e400",
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
]


@pytest.mark.parametrize("data", STRICT_ONLY, ids=range(len(STRICT_ONLY)))
def test_documented_strictness(data: bytes) -> None:
    assert reference(data)[0]
    assert not check(data)


# ---- generated documents ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans(), st.sampled_from([None, 0, 2, "\t"]))
def test_generated_documents(value: Any, ensure_ascii: bool, indent: Any) -> None:
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    assert check(text.encode("utf-8"))


def test_seeded_mutations_agree_with_json_loads() -> None:
    """Byte-level mutations of valid documents: both readers agree, or xtral's extra rejection
    is a documented one."""
    rng = random.Random(1234)
    seeds = [t.encode() for t in VALID[20:]]
    alphabet = b'{}[]",:.-+eE0123456789 \\u\x00\x1f\x7f\xc3\xa9\xed\xa0\xff'
    accepted = 0
    for _ in range(3000):
        b = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(3)
            i = rng.randrange(len(b) + 1)
            if op == 0 and i < len(b):
                b[i] = rng.choice(alphabet)
            elif op == 1:
                b.insert(i, rng.choice(alphabet))
            elif i < len(b):
                del b[i]
        accepted += check(bytes(b))
    assert accepted > 100  # the mutations exercise both outcomes


# ---- fuzz corpus replay ----

def replay_files() -> list[Path]:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []
    out = FUZZ_DIR / "out"
    if out.is_dir():
        files += sorted(out.glob("json-*"))
    return files


def test_json_corpus_is_present() -> None:
    seeds = replay_files()
    assert len(seeds) >= 10
    assert sum(p.stat().st_size for p in seeds) < 64 * 1024


@pytest.mark.parametrize("path", replay_files(), ids=lambda p: p.name)
def test_json_corpus_replay(path: Path) -> None:
    check(path.read_bytes())
