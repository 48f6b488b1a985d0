"""The two real models that ship on PyPI, read by xtral and by gguf.GGUFReader, must agree; plus
the memory plan and the inspect CLI."""
from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gguf
import xtral
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf_helpers import (
    KV,
    GGUFFactory,
    assert_file_matches_reader,
    make_tensor_spec,
    reader_tensor_rows,
)

MODELS = ["smollm2", "gemma"]


@pytest.fixture(params=MODELS)
def model(request: pytest.FixtureRequest) -> tuple[Path, gguf.GGUFReader]:
    """(path, GGUFReader) of each real model."""
    name = request.param
    return request.getfixturevalue(f"{name}_path"), request.getfixturevalue(f"{name}_reader")


def byte_sample(reader: gguf.GGUFReader) -> list[str]:
    """Every tensor of a small model; for a big one, every F32 tensor plus every 5th tensor and
    the first and last."""
    names = [t.name for t in reader.tensors]
    if sum(int(t.n_bytes) for t in reader.tensors) < 150 * 2**20:
        return names
    f32 = [t.name for t in reader.tensors if t.tensor_type == QT.F32]
    return sorted(set(names[::5]) | {names[0], names[-1]} | set(f32), key=names.index)


def test_model_matches_reader(model: tuple[Path, gguf.GGUFReader]) -> None:
    path, reader = model
    with xtral.GGUFFile(str(path)) as f:
        assert_file_matches_reader(f, reader, byte_sample(reader))


def test_model_f32_tensors(model: tuple[Path, gguf.GGUFReader]) -> None:
    path, reader = model
    with xtral.GGUFFile(str(path)) as f:
        f32 = [t for t in reader.tensors if t.tensor_type == QT.F32]
        assert f32, "the model has no F32 tensors to compare"
        for t in f32:
            arr = f.tensor(t.name)
            assert arr.dtype == np.float32 and arr.shape == t.data.shape, t.name
            assert np.array_equal(arr, t.data), t.name
        quantized = next(t for t in reader.tensors if t.tensor_type not in (QT.F32, QT.F16))
        with pytest.raises(ValueError, match=quantized.tensor_type.name):
            f.tensor(quantized.name)


def layer_sizes_from_names(reader: gguf.GGUFReader, n_layers: int) -> tuple[int, list[int]]:
    """(bytes outside blk.N.*, bytes of each blk.N.*) from the reader's tensor table."""
    layers = [0] * n_layers
    outside = 0
    for row in reader_tensor_rows(reader):
        m = re.match(r"blk\.(\d+)\.", row.name)
        if m and int(m.group(1)) < n_layers:
            layers[int(m.group(1))] += row.nbytes
        else:
            outside += row.nbytes
    return outside, layers


def test_model_memory_plan(model: tuple[Path, gguf.GGUFReader],
                           caplog: pytest.LogCaptureFixture) -> None:
    path, reader = model
    arch = reader.fields["general.architecture"].contents()
    block_count = reader.fields[f"{arch}.block_count"].contents()
    with caplog.at_level(logging.WARNING, logger="xtral"), xtral.GGUFFile(str(path)) as f:
        plan = f.memory_plan()
        assert isinstance(plan, xtral.MemoryPlan)
        assert plan.architecture == arch
        assert plan.fallback is False
        assert plan.n_layers == block_count
        assert len(plan.layer_sizes_in_bytes) == block_count
        total = sum(int(t.n_bytes) for t in reader.tensors)
        assert plan.non_mapped_size_in_bytes + sum(plan.layer_sizes_in_bytes) == total
        outside, layers = layer_sizes_from_names(reader, block_count)
        assert plan.layer_sizes_in_bytes == layers
        assert plan.non_mapped_size_in_bytes == outside
    assert [r for r in caplog.records if r.name == "xtral"] == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs `python -m xtral ...` and returns the finished process."""
    return subprocess.run([sys.executable, "-m", "xtral", *args], capture_output=True, text=True,
                          timeout=120)


def test_inspect_cli(model: tuple[Path, gguf.GGUFReader]) -> None:
    path, reader = model
    proc = run_cli("inspect", str(path))
    assert proc.returncode == 0, proc.stderr
    assert reader.fields["general.architecture"].contents() in proc.stdout
    assert reader.tensors[-1].name in proc.stdout or reader.tensors[0].name in proc.stdout


def test_inspect_cli_default_model(smollm2_path: Path, smollm2_reader: gguf.GGUFReader) -> None:
    assert Path(xtral.default_model_path()).resolve() == smollm2_path.resolve()
    proc = run_cli("inspect")
    assert proc.returncode == 0, proc.stderr
    assert smollm2_reader.fields["general.architecture"].contents() in proc.stdout
    assert smollm2_reader.tensors[0].name in proc.stdout


def test_inspect_cli_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + bytes(40))
    proc = run_cli("inspect", str(bad))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, "a bad file should be a one-line error, not a traceback"


UNKNOWN_ARCH = "zzfakearch"


def test_memory_plan_fallback_for_unknown_arch(make_gguf: GGUFFactory,
                                               caplog: pytest.LogCaptureFixture) -> None:
    n_layers = 3
    specs = [make_tensor_spec("token_embd.weight", QT.Q8_0, 4, 2, seed=0)]
    for i in range(n_layers):
        specs.append(make_tensor_spec(f"blk.{i}.attn_q.weight", QT.Q4_K, 2, 1, seed=10 + i))
        specs.append(make_tensor_spec(f"blk.{i}.attn_norm.weight", QT.F32, 1, 8 + i, seed=20 + i))
    specs.append(make_tensor_spec("output_norm.weight", QT.F32, 1, 16, seed=99))
    path = make_gguf([KV(f"{UNKNOWN_ARCH}.block_count", n_layers, VT.UINT32)], specs,
                     arch=UNKNOWN_ARCH)
    reader = gguf.GGUFReader(path)
    with caplog.at_level(logging.WARNING, logger="xtral"), xtral.GGUFFile(str(path)) as f:
        plan = f.memory_plan()
        again = f.memory_plan()  # cached: no second warning
    records = [r for r in caplog.records if r.name == "xtral"]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING
    assert UNKNOWN_ARCH in records[0].getMessage()
    assert plan == again
    assert plan.architecture == UNKNOWN_ARCH and plan.fallback is True
    assert plan.n_layers == n_layers
    outside, layers = layer_sizes_from_names(reader, n_layers)
    assert plan.layer_sizes_in_bytes == layers
    assert plan.non_mapped_size_in_bytes == outside
    assert outside + sum(layers) == sum(int(t.n_bytes) for t in reader.tensors)
