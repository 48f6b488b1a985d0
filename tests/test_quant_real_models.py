"""Every quantized tensor of both real models dequantizes with xtral exactly as with the
reference implementation (gguf.quants.dequantize). Large tensors are checked on 768 rows (the
first, the last and a random sample) to keep the run short: NumPy's reference decoder is slow."""
from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

import xtral


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _sample_rows(n: int, rng: np.random.Generator, k: int = 768) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    middle = rng.choice(np.arange(256, n - 256), size=k - 512, replace=False)
    return np.unique(np.concatenate([np.arange(256), middle, np.arange(n - 256, n)]))


@pytest.mark.parametrize("model", ["smollm2", "gemma"])
def test_every_quantized_tensor_dequantizes_like_gguf(model: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(f"{model}_path")
    reader: gguf.GGUFReader = request.getfixturevalue(f"{model}_reader")  # shared, session-wide
    checked: dict[str, int] = {}
    rng = np.random.default_rng(7)
    with xtral.GGUFFile(path) as f:
        for t in reader.tensors:
            info = f.tensors[t.name]
            if not xtral.dtype_info(info.type)["is_quantized"]:
                continue
            raw = np.asarray(t.data).reshape(-1, np.asarray(t.data).shape[-1])
            rows = _sample_rows(raw.shape[0], rng)
            want = gguf.quants.dequantize(raw[rows], t.tensor_type)
            row_shape = (len(rows), info.shape[-1])
            got = xtral.dequantize(np.ascontiguousarray(raw[rows]), info.type, row_shape)
            assert _bitwise_equal(got, want.reshape(row_shape)), t.name
            checked[info.type] = checked.get(info.type, 0) + 1
    assert checked, "the model has no quantized tensors"
    print(f"{path.name}: dequantized bit-exactly: {checked}")
