"""Command line: ``python -m xtral inspect [FILE]``, ``python -m xtral run "prompt"`` and
``python -m xtral chat`` (interactive)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence, TextIO

import numpy as np

from .gguf import GGUFFile
from .models import default_model_path

# Metadata shown in the "key facts" section when present (architecture keys are added).
_KEY_FACTS = ("general.name", "general.architecture", "general.type", "general.file_type",
              "general.quantization_version", "general.alignment", "tokenizer.ggml.model",
              "tokenizer.ggml.pre")
_ARCH_FACTS = ("context_length", "embedding_length", "block_count", "feed_forward_length",
               "attention.head_count", "attention.head_count_kv", "attention.key_length",
               "rope.freq_base", "vocab_size")


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{n} B"


def _short(value: Any, width: int = 60) -> str:
    if isinstance(value, np.ndarray):
        text = f"array[{value.dtype}] x {value.size}"
        if value.size:
            text += f" [{', '.join(str(v) for v in value[:4].tolist())}{', ...' if value.size > 4 else ''}]"
    elif isinstance(value, list):
        head = ", ".join(repr(v) for v in value[:3])
        text = f"list x {len(value)} [{head}{', ...' if len(value) > 3 else ''}]"
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def inspect_file(path: str, out: TextIO, max_tensors: int | None = None) -> None:
    """Print architecture, key metadata, the tensor table and the memory plan of a GGUF."""
    with GGUFFile(path) as f:
        meta, types = f.metadata, f.metadata_types
        arch = f.architecture or "(none)"
        print(f"file:          {f.path}", file=out)
        print(f"GGUF version:  {f.version}   alignment: {f.alignment}   "
              f"size: {_human_bytes(f.file_size)}", file=out)
        print(f"architecture:  {arch}", file=out)
        print(f"metadata:      {len(meta)} keys   tensors: {len(f.tensors)}", file=out)

        print("\nkey metadata:", file=out)
        keys = list(_KEY_FACTS) + [f"{f.architecture}.{k}" for k in _ARCH_FACTS]
        for key in keys:
            if key in meta:
                print(f"  {key:<40} {types[key]:<14} {_short(meta[key])}", file=out)
        others = [k for k in meta if k not in keys]
        if others:
            print(f"  ... and {len(others)} more keys:", file=out)
            for key in others:
                print(f"  {key:<40} {types[key]:<14} {_short(meta[key])}", file=out)

        print("\ntensors:", file=out)
        print(f"  {'name':<36} {'type':<8} {'shape':<22} {'bytes':>12}", file=out)
        infos = list(f.tensors.values())
        shown = infos if max_tensors is None else infos[:max_tensors]
        for t in shown:
            shape = "x".join(str(s) for s in t.shape)
            print(f"  {t.name:<36} {t.type:<8} {shape:<22} {t.nbytes:>12}", file=out)
        if len(shown) < len(infos):
            print(f"  ... {len(infos) - len(shown)} more (use --all)", file=out)
        counts: dict[str, int] = {}
        for t in infos:
            counts[t.type] = counts.get(t.type, 0) + 1
        print("  types: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())), file=out)

        plan = f.memory_plan()
        print("\nmemory plan:" + (" (probed from tensor names: estimates may be inaccurate)"
                                  if plan.fallback else ""), file=out)
        print(f"  outside blocks: {plan.non_mapped_size_in_bytes:>12}  "
              f"({_human_bytes(plan.non_mapped_size_in_bytes)})", file=out)
        for i, size in enumerate(plan.layer_sizes_in_bytes):
            print(f"  blk.{i:<11} {size:>12}  ({_human_bytes(size)})", file=out)
        print(f"  total:          {plan.total_size_in_bytes:>12}  "
              f"({_human_bytes(plan.total_size_in_bytes)}) in {plan.n_layers} blocks", file=out)


# ---- run / chat ----

def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", "-m", metavar="PATH",
                   help="GGUF file or Hugging Face folder (default: the SmolLM2-135M model)")
    g.add_argument("--threads", "-t", type=int, default=None, help="worker threads")
    g.add_argument("--n-ctx", type=int, default=None, help="context length in tokens")
    s = p.add_argument_group("sampling (defaults: llama.cpp's)")
    s.add_argument("--max-tokens", "-n", type=int, default=256,
                   help="tokens to generate at most (default 256; 0: until the context is full)")
    s.add_argument("--temperature", "--temp", type=float, help="0: greedy (default 0.8)")
    s.add_argument("--top-k", type=int, help="0: off (default 40)")
    s.add_argument("--top-p", type=float, help="1: off (default 0.95)")
    s.add_argument("--min-p", type=float, help="0: off (default 0.05)")
    s.add_argument("--repeat-penalty", type=float, help="1: off (default 1.0)")
    s.add_argument("--presence-penalty", type=float, help="default 0")
    s.add_argument("--frequency-penalty", type=float, help="default 0")
    s.add_argument("--penalty-last-n", type=int, help="tokens the penalties look at (default 64)")
    s.add_argument("--seed", type=int, help="random seed (default: a fresh one)")
    s.add_argument("--stop", action="append", default=None, metavar="TEXT",
                   help="stop before this text (repeatable)")
    p.add_argument("--no-stats", action="store_true", help="do not print tokens/s to stderr")


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    return dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                min_p=args.min_p, repeat_penalty=args.repeat_penalty,
                presence_penalty=args.presence_penalty,
                frequency_penalty=args.frequency_penalty, penalty_last_n=args.penalty_last_n,
                seed=args.seed, stop=args.stop, max_tokens=args.max_tokens or None)


def _load(args: argparse.Namespace) -> Any:
    from .model import Model
    return Model.load(args.model or default_model_path(), threads=args.threads,
                      n_ctx=args.n_ctx)


def _stream(stream: Any, out: TextIO, stats: bool) -> str:
    """Prints the pieces as they come; returns the whole text."""
    parts = []
    for piece in stream:
        parts.append(piece)
        out.write(piece)
        out.flush()
    out.write("\n")
    out.flush()
    if stats:
        print(f"[{len(stream.tokens)} tokens, {stream.tokens_per_second:.1f} tokens/s; prompt "
              f"{len(stream.prompt_tokens)} tokens ({stream.n_prompt_run} run) in "
              f"{stream.prefill_seconds:.2f} s; {stream.finish_reason}]", file=sys.stderr)
    return "".join(parts)


def run_command(args: argparse.Namespace) -> int:
    with _load(args) as model:
        kw = _sampling(args)
        if args.raw or model.effective_chat_template is None:
            stream = model.generate(args.prompt, stream=True, **kw)
        else:
            messages = ([{"role": "system", "content": args.system}] if args.system else [])
            messages.append({"role": "user", "content": args.prompt})
            stream = model.chat(messages, stream=True, **kw)
        _stream(stream, sys.stdout, not args.no_stats)
    return 0


def chat_command(args: argparse.Namespace) -> int:
    with _load(args) as model:
        if model.effective_chat_template is None:
            print("xtral: this model has no chat template; use `run --raw`", file=sys.stderr)
            return 1
        kw = _sampling(args)
        history = [{"role": "system", "content": args.system}] if args.system else []
        print("Chatting with " + os.path.basename(model.info["path"]) +
              " (/exit or Ctrl-D to quit, Ctrl-C stops a reply)", file=sys.stderr)
        while True:
            try:
                line = input("> ")
            except EOFError:
                print(file=sys.stderr)
                return 0
            text = line.strip()
            if text in ("/exit", "/quit"):
                return 0
            if not text:
                continue
            history.append({"role": "user", "content": text})
            try:
                reply = _stream(model.chat(history, stream=True, **kw), sys.stdout,
                                not args.no_stats)
            except KeyboardInterrupt:
                print("\n[interrupted]", file=sys.stderr)
                history.pop()
                continue
            history.append({"role": "assistant", "content": reply})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xtral", description="xtral command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p_inspect = sub.add_parser("inspect", help="show a GGUF file's metadata, tensors and "
                               "memory plan (default: the SmolLM2-135M model)")
    p_inspect.add_argument("file", nargs="?", help="GGUF file (default: the default model)")
    p_inspect.add_argument("--all", action="store_true", help="list every tensor")
    p_run = sub.add_parser("run", help="generate from a prompt and stream it (an instruct "
                           "model answers through its chat template; --raw: plain completion)")
    p_run.add_argument("prompt", help="the prompt text")
    p_run.add_argument("--raw", action="store_true",
                       help="continue the text as is (no chat template)")
    p_run.add_argument("--system", help="system message (chat template only)")
    _add_model_args(p_run)
    p_chat = sub.add_parser("chat", help="interactive chat that keeps the history")
    p_chat.add_argument("--system", help="system message")
    _add_model_args(p_chat)
    args = parser.parse_args(argv)

    if args.command in ("run", "chat"):
        try:
            return run_command(args) if args.command == "run" else chat_command(args)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (OSError, ValueError, TypeError) as exc:
            print(f"xtral: {exc}", file=sys.stderr)
            return 1

    if args.command == "inspect":
        try:
            path = args.file or default_model_path()
            inspect_file(path, sys.stdout, max_tensors=None if args.all else 40)
        except BrokenPipeError:  # output piped into `head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (OSError, ValueError) as exc:
            print(f"xtral: {exc}", file=sys.stderr)
            return 1
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
