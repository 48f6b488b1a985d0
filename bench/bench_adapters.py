"""Decode speed with adapters on a real model (SmolLM2-135M-Instruct Q4_1), in one run.

Random rank-16 LoRA adapters on every linear layer of every block (q, k, v, o, gate, up, down),
written to a temporary folder as llama.cpp GGUF adapters; an X-LoRA adapter over three of them
(depth-1 layerwise classifier, PEFT folder layout). Configurations, measured round by round in
one process (interleaved, best round kept), each as decode tokens/s after a 32-token prompt:

    base            the model alone
    lora            one LoRA, unmerged (two low-rank matmuls after each targeted matmul)
    xlora           X-LoRA over 3 experts: scaling pass + real pass per token (two KV caches)
    xlora-ng        X-LoRA with tgt_non_granular_index = 4, timed after step 4 (no scaling pass)
    llama.cpp       the same GGUF with and without the same LoRA (llama-cpp-python), for scale

Targets (ratios to base): lora >= 0.85, xlora >= 0.45, xlora-ng >= 0.8.

    python bench/bench_adapters.py [--threads 2] [--rounds 5] [--decode 64]
"""
from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

import gguf
import xtral

RANK, PROMPT, NG_INDEX = 16, 32, 4
ROLES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def write_lora(path: Path, info: dict, seed: int) -> None:
    """A random rank-16 LoRA on every linear layer, llama.cpp's GGUF adapter layout."""
    rng = np.random.default_rng(seed)
    e, f, n_layer = info["n_embd"], info["n_ff"], info["n_layer"]
    kv = info["n_head_kv"] * info["head_dim"]
    shapes = {"attn_q": (e, e), "attn_k": (e, kv), "attn_v": (e, kv), "attn_output": (e, e),
              "ffn_gate": (e, f), "ffn_up": (e, f), "ffn_down": (f, e)}
    w = gguf.GGUFWriter(path, "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 32.0)
    for il in range(n_layer):
        for role in ROLES:
            n_in, n_out = shapes[role]
            a = (rng.standard_normal((RANK, n_in)) / np.sqrt(n_in)).astype(np.float32)
            b = (0.01 * rng.standard_normal((n_out, RANK))).astype(np.float32)
            w.add_tensor(f"blk.{il}.{role}.weight.lora_a", a)
            w.add_tensor(f"blk.{il}.{role}.weight.lora_b", b)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_xlora(d: Path, experts: list[Path], info: dict) -> None:
    d.mkdir()
    n_layers = info["n_layer"] * len(ROLES)
    cfg = {"peft_type": "XLORA", "hidden_size": info["n_embd"], "xlora_depth": 1,
           "layerwise_scalings": True, "softmax_temperature": 1.0,
           "adapters": {str(i): str(p) for i, p in enumerate(experts)}}
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(7)
    out = n_layers * len(experts)
    write_safetensors(d / "adapter_model.safetensors", {
        "base_model.internal_xlora_classifier.layers.0.weight":
            0.05 * rng.standard_normal((out, info["n_embd"])),
        "base_model.internal_xlora_classifier.layers.0.bias": np.zeros(out)})


def decode_tps(m: xtral.Model, prompt: np.ndarray, steps: np.ndarray, skip: int = 0) -> float:
    """Tokens/s of single-token steps after the prompt (and `skip` untimed steps). The step
    tokens are fixed (not sampled), so every configuration does the same work."""
    m.reset()
    m.forward(prompt)
    for t in steps[:skip]:
        m.forward([int(t)])
    t0 = time.perf_counter()
    for t in steps[skip:]:
        m.forward([int(t)])
    return (len(steps) - skip) / (time.perf_counter() - t0)


def llama_cpp_tps(path: str, lora: str | None, prompt: np.ndarray, steps: np.ndarray,
                  threads: int) -> float:
    import llama_cpp
    kw = {"lora_path": lora} if lora else {}
    llm = llama_cpp.Llama(model_path=path, n_ctx=PROMPT + len(steps) + 8, n_threads=threads,
                          n_threads_batch=threads, verbose=False, **kw)
    llm.eval([int(t) for t in prompt])
    t0 = time.perf_counter()
    for t in steps:
        llm.eval([int(t)])
    tps = len(steps) / (time.perf_counter() - t0)
    llm.close()
    return tps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--no-llama-cpp", action="store_true")
    args = ap.parse_args()
    path = xtral.default_model_path()
    m = xtral.Model.load(path, threads=args.threads,
                         n_ctx=PROMPT + args.decode + NG_INDEX + 8)
    info = m.info
    rng = np.random.default_rng(0)
    prompt = rng.integers(10, 30000, PROMPT)
    steps = rng.integers(10, 30000, args.decode)
    with tempfile.TemporaryDirectory() as tmp:
        loras = [Path(tmp) / f"lora{i}.gguf" for i in range(3)]
        for i, p in enumerate(loras):
            write_lora(p, info, seed=i)
        write_xlora(Path(tmp) / "xlora", loras, info)
        m.add_adapter(xtral.Adapter.load(loras[0]), name="lora")
        m.add_adapter(xtral.Adapter.load_xlora(Path(tmp) / "xlora"), name="xlora")
        m.add_adapter(xtral.Adapter.load_xlora(Path(tmp) / "xlora",
                                               tgt_non_granular_index=NG_INDEX), name="xlora-ng")
        configs = {"base": ([], 0), "lora": (["lora"], 0), "xlora": (["xlora"], 0),
                   "xlora-ng": (["xlora-ng"], NG_INDEX)}
        best: dict[str, float] = {k: 0.0 for k in configs}
        peer: dict[str, float] = {"llama.cpp base": 0.0, "llama.cpp lora": 0.0}
        for r in range(args.rounds):
            for name, (active, skip) in configs.items():
                m.set_adapters(active)
                n = np.concatenate([steps[:skip], steps]) if skip else steps
                best[name] = max(best[name], decode_tps(m, prompt, n, skip))
            if not args.no_llama_cpp:
                peer["llama.cpp base"] = max(peer["llama.cpp base"], llama_cpp_tps(
                    str(path), None, prompt, steps, args.threads))
                peer["llama.cpp lora"] = max(peer["llama.cpp lora"], llama_cpp_tps(
                    str(path), str(loras[0]), prompt, steps, args.threads))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()))
    targets = {"lora": 0.85, "xlora": 0.45, "xlora-ng": 0.8}
    print(f"\nSmolLM2-135M Q4_1, {args.threads} threads, rank {RANK} on all 7 linear layers x "
          f"{info['n_layer']} blocks, decode after a {PROMPT}-token prompt (best of "
          f"{args.rounds}):")
    for k, v in best.items():
        ratio = v / best["base"]
        t = f"  target >= {targets[k]:.2f}: {'ok' if ratio >= targets[k] else 'MISSED'}" \
            if k in targets else ""
        print(f"  {k:10s} {v:7.1f} tok/s  {ratio:5.2f}x base{t}")
    if not args.no_llama_cpp:
        for k, v in peer.items():
            print(f"  {k:16s} {v:7.1f} tok/s")
        print(f"  llama.cpp lora/base {peer['llama.cpp lora'] / peer['llama.cpp base']:.2f}x")


if __name__ == "__main__":
    main()
