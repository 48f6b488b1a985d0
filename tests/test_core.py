"""The C core below GGUF: tensor type table, thread pool, log routing, writer failure paths."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf.constants import GGML_QUANT_SIZES

import xtral
from xtral import _core

# ggml's block_q8_1 holds two f16 (d, s) + 32 int8 = 36 bytes; gguf-py's table says 40
# (it models two f32). Q8_1 is an activation format that never appears in model files.
GGUF_PY_KNOWN_DIFFERENCES = {"Q8_1": 36}


def test_dtype_table_matches_gguf_package() -> None:
    for qtype, (block, size) in GGML_QUANT_SIZES.items():
        info = xtral.dtype_info(qtype.value)
        assert info["name"] == qtype.name
        assert info["block_size"] == block
        assert info["type_size"] == GGUF_PY_KNOWN_DIFFERENCES.get(qtype.name, size), qtype.name
        assert xtral.dtype_info(qtype.name.lower())["id"] == qtype.value


def test_dtype_table_rejects_removed_and_unknown_ids() -> None:
    known = {t.value for t in GGML_QUANT_SIZES}
    for tid in range(_core.DTYPE_COUNT + 5):
        if tid not in known and _core.dtype_info(tid) is not None:
            # Only ids newer than the installed gguf package may be known to xtral alone.
            assert tid > max(known), tid
    for removed in (4, 5, 31, 32, 33, 36, 37, 38):
        with pytest.raises(ValueError, match="unknown tensor type id"):
            xtral.dtype_info(removed)
    with pytest.raises(ValueError, match="unknown tensor type 'Q9_9'"):
        xtral.dtype_info("Q9_9")


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_threadpool_runs_each_task_once_per_round(n_threads: int) -> None:
    rounds = 200
    size, hits = _core._threadpool_check(n_threads, 37, rounds)
    assert size == n_threads
    assert hits == [rounds] * 37


def test_threadpool_edge_cases() -> None:
    assert _core._threadpool_check(4, 0, 5)[1] == []
    assert _core._threadpool_check(4, 1, 5)[1] == [5]
    size, _ = _core._threadpool_check(0, 3, 1)  # 0 -> one thread per CPU
    assert size == os.cpu_count()
    with pytest.raises(ValueError, match="thread count"):
        _core._threadpool_check(5000, 1, 1)


def test_unknown_architecture_warns_once_on_xtral_logger(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "m.gguf"
    xtral.write_gguf(path, {"general.architecture": "zebra"},
                     {"blk.0.w": np.zeros(4, np.float32), "blk.1.w": np.zeros(8, np.float32),
                      "head": np.zeros(2, np.float32)})
    with caplog.at_level(logging.WARNING, logger="xtral"), xtral.GGUFFile(path) as f:
        plan = f.memory_plan()
        f.memory_plan()
    records = [r for r in caplog.records if r.name == "xtral"]
    assert len(records) == 1 and "zebra" in records[0].getMessage()
    assert plan.fallback and plan.n_layers == 2
    assert plan.layer_sizes_in_bytes == [16, 32] and plan.non_mapped_size_in_bytes == 8


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.gguf"
    with pytest.raises(ValueError, match="not a multiple of the Q4_0 block size"):
        xtral.write_gguf(path, {}, {"w": (b"\0" * 18, "Q4_0", (1, 31))})
    with pytest.raises(ValueError, match="takes 18 bytes, got 17"):
        xtral.write_gguf(path, {}, {"w": (b"\0" * 17, "Q4_0", (1, 32))})
    with pytest.raises(OverflowError, match="does not fit uint8"):
        xtral.write_gguf(path, {"k": xtral.GGUFValue(256, "uint8")})
    with pytest.raises(ValueError, match="power of two"):
        xtral.write_gguf(path, {}, alignment=48)
    with pytest.raises(FileNotFoundError):
        xtral.write_gguf(tmp_path / "missing" / "out.gguf", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out.gguf"
    xtral.write_gguf(path, {"version": "one"})
    with pytest.raises(ValueError):
        xtral.write_gguf(path, {"version": "two"}, {"w": (b"", "Q4_0", (1, 3))})
    assert gguf.GGUFReader(path).fields["version"].contents() == "one"
    xtral.write_gguf(path, {"version": "two"})
    assert gguf.GGUFReader(path).fields["version"].contents() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.gguf"]


def test_views_outlive_close(tmp_path: Path) -> None:
    path = tmp_path / "v.gguf"
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    xtral.write_gguf(path, {}, {"t": data})
    f = xtral.GGUFFile(path)
    view, raw = f.tensor("t"), f.tensor_bytes("t")
    f.close()
    np.testing.assert_array_equal(view, data)
    assert bytes(raw) == data.tobytes()
    assert not view.flags.writeable and raw.readonly
    with pytest.raises(ValueError, match="closed"):
        f.tensor("t")
    with pytest.raises(ValueError, match="closed"):
        _ = f.metadata
