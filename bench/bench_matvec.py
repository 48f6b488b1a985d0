"""Quantized matrix-vector speed against the machine's read bandwidth, in one run.

For each weight type: W of ROWS x COLS (default 16384 x 8192, far beyond the last-level cache),
x of n = 1 (decode) and n = 64 (prefill), 1 and 2 threads. Prints the weight bytes read per
second and the ratio to a read-bandwidth probe measured in the same run with the same thread
count. Target (2 threads, n = 1): >= 0.8 of the probe for Q4_0, Q8_0, Q4_K, Q6_K and MXFP4.

    python bench/bench_matvec.py [--types Q4_0,Q8_0] [--rows 16384 --cols 8192] [--repeats 5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import xtral
from xtral import _core

TARGET_TYPES = ("Q4_0", "Q8_0", "Q4_K", "Q6_K", "MXFP4")
ALL_TYPES = ("F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
             "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS", "MXFP4", "FP8_E4M3")


def make_weight(qtype: str, rows: int, cols: int, rng: np.random.Generator) -> xtral.QTensor:
    """Quantize a 64-row slab of Gaussian weights and tile it to `rows` (same bytes traffic as
    distinct rows: the matrix is far larger than the cache)."""
    slab = rng.standard_normal((64, cols)).astype(np.float32) * 0.02
    qt = xtral.Quantizer(qtype).quantize(slab)
    raw = np.tile(np.frombuffer(qt.data, np.uint8).reshape(64, -1), (rows // 64, 1))
    scales = None
    if qt.scales is not None:
        scales = np.ascontiguousarray(np.tile(qt.scales, (rows // 64 // 2 + 1, 1))[: (rows + 127) // 128])
    return xtral.QTensor(raw, qtype, (rows, cols), scales=scales)


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", default=",".join(ALL_TYPES))
    ap.add_argument("--rows", type=int, default=16384)
    ap.add_argument("--cols", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prefill", type=int, default=64, help="tokens for the n>1 case (0: skip)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"SIMD level: {_core.simd_level()}   matrix: {args.rows} x {args.cols}")
    print("ratios are against a read-bandwidth probe run right before each type with the same "
          "thread count (the machine's bandwidth drifts; see the probe columns)\n")
    print(f"{'type':<9} {'MiB':>7} {'probe t=1,2':>12} | {'n=1 t=1':>16} {'n=1 t=2':>16} | {'n=64 t=1':>16} {'n=64 t=2':>16}")
    print(f"{'':<9} {'':>7} {'GB/s':>12} | {'GB/s (ratio)':>16} {'GB/s (ratio)':>16} | {'GB/s (ratio)':>16} {'GB/s (ratio)':>16}")
    failures = []
    for qtype in args.types.split(","):
        w = make_weight(qtype, args.rows, args.cols, rng)
        probe = {t: _core.read_bandwidth(256 << 20, t, args.repeats)[0] for t in (1, 2)}
        cells = []
        for n in (1, args.prefill):
            if n == 0:
                continue
            x = rng.standard_normal((args.cols, n) if n > 1 else args.cols).astype(np.float32)
            for threads in (1, 2):
                t = best_time(lambda: xtral.matmul(w, x, threads=threads), args.repeats if n == 1 else 2)
                bw = w.nbytes / t
                cells.append(f"{bw / 1e9:7.2f} ({bw / probe[threads]:4.2f})")
                if n == 1 and threads == 2 and qtype in TARGET_TYPES and bw < 0.8 * probe[2]:
                    failures.append(f"{qtype}: {bw / probe[2]:.2f} of the probe")
        probes = f"{probe[1] / 1e9:.1f},{probe[2] / 1e9:.1f}"
        print(f"{qtype:<9} {w.nbytes / 2**20:7.1f} {probes:>12} | {cells[0]:>16} {cells[1]:>16} | "
              + " ".join(f"{c:>16}" for c in cells[2:]))
    print("\ntarget (2 threads, n = 1, >= 0.8 of the probe) for " + ", ".join(TARGET_TYPES) + ": "
          + ("met" if not failures else "NOT met: " + "; ".join(failures)))


if __name__ == "__main__":
    main()
