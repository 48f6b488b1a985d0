"""Kernel playground for the quantized dot products: every SIMD level against the scalar one.

For each weight type and each level in _core.simd_levels(): check the level against 'scalar'
on a few rows, then time _core.matmul of W (ROWS x COLS, default 16384 x 8192, far beyond the
last-level cache) with one activation row (n = 1, decode) at 1 and 2 threads. Prints the weight
bytes read per second and the ratio to the read-bandwidth probe at the same thread count
(target at 2 threads: >= 0.8 for Q4_0, Q8_0, Q4_K, Q6_K, MXFP4).

    python bench/kernels/bench_vec_dot.py [--types Q4_0,Q6_K] [--levels avx2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from xtral import _core

TYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8,
            "Q2_K": 10, "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20,
            "IQ4_XS": 23, "BF16": 30, "MXFP4": 39}
TARGET_TYPES = ("Q4_0", "Q8_0", "Q4_K", "Q6_K", "MXFP4")


def make_weight(t: int, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A 64-row quantized slab of Gaussian weights tiled to `rows` (same traffic as distinct
    rows: the matrix does not fit in any cache)."""
    slab = rng.standard_normal((64, cols)).astype(np.float32) * 0.02
    raw = _core.quantize_rows(slab, t, None, 2)
    return np.ascontiguousarray(np.tile(raw, (rows // 64, 1)))


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up (thread pool, page faults)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--types", default=",".join(TARGET_TYPES))
    ap.add_argument("--levels", default=",".join(_core.simd_levels()))
    ap.add_argument("--rows", type=int, default=16384)
    ap.add_argument("--cols", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    levels = [lv for lv in args.levels.split(",") if lv]
    before = _core.simd_level()
    x = rng.standard_normal((1, args.cols)).astype(np.float32)
    probe = {th: _core.read_bandwidth(256 << 20, th, 3)[0] for th in (1, 2)}
    print(f"read-bandwidth probe: 1 thread {probe[1] / 1e9:.2f} GB/s, "
          f"2 threads {probe[2] / 1e9:.2f} GB/s")
    print(f"{'type':7} {'level':7} {'max|d|/max|ref|':>15} {'1 thr GB/s':>11} {'ratio':>6} "
          f"{'2 thr GB/s':>11} {'ratio':>6}")
    try:
        for name in args.types.split(","):
            t = TYPE_IDS[name]
            w = make_weight(t, args.rows, args.cols, rng)
            _core.set_simd("scalar")
            ref = _core.matmul(w[:64], t, args.cols, x, 1)
            for lv in levels:
                _core.set_simd(lv)
                got = _core.matmul(w[:64], t, args.cols, x, 1)
                err = float(np.abs(got - ref).max() / (np.abs(ref).max() + 1e-30))
                if lv == "scalar":
                    # the scalar kernels are slow: time a slice and scale
                    sub = w[: max(64, args.rows // 16)]
                else:
                    sub = w
                cells = []
                for th in (1, 2):
                    sec = best_time(lambda: _core.matmul(sub, t, args.cols, x, th), args.repeats)
                    gbs = sub.nbytes / sec
                    cells.append(f"{gbs / 1e9:11.2f} {gbs / probe[th]:6.2f}")
                print(f"{name:7} {lv:7} {err:15.2e} {cells[0]} {cells[1]}", flush=True)
    finally:
        _core.set_simd(before)


if __name__ == "__main__":
    main()
