"""Replays the GGUF fuzz corpus (and any findings the fuzzer left) through xtral.GGUFFile in the
normal test run: each input opens and reads completely, or raises GGUFError."""
from __future__ import annotations

from pathlib import Path

import pytest

import gguf
from gguf_helpers import open_and_walk

FUZZ_DIR = Path(__file__).parent / "fuzz"
CORPUS = FUZZ_DIR / "corpus" / "gguf"
FINDINGS = ("crash-*", "leak-*", "timeout-*", "oom-*")


def replay_files() -> list[Path]:
    """Committed seeds plus fuzzer artifacts found next to them or in tests/fuzz/out/."""
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    for folder in (CORPUS, FUZZ_DIR / "out"):
        if folder.is_dir():
            files += sorted(p for pat in FINDINGS for p in folder.glob(pat) if p not in files)
    return files


def test_corpus_is_present() -> None:
    seeds = [p for p in CORPUS.glob("*.gguf")]
    assert len(seeds) >= 10
    assert sum(p.stat().st_size for p in seeds) < 64 * 1024


@pytest.mark.parametrize("path", replay_files(), ids=lambda p: p.name)
def test_replay(path: Path) -> None:
    opened = open_and_walk(path)
    if path.suffix == ".gguf":
        # a seed opens exactly when the reference reader accepts it (big-endian files aside:
        # gguf-py byte-swaps them, xtral refuses them)
        try:
            reader = gguf.GGUFReader(path)
            reference_ok = reader.endianess == gguf.GGUFEndian.LITTLE
        except (ValueError, KeyError):
            reference_ok = False
        assert opened == reference_ok
