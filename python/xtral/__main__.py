"""Command line: ``python -m xtral inspect [FILE]``."""
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xtral", description="xtral command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p_inspect = sub.add_parser("inspect", help="show a GGUF file's metadata, tensors and "
                               "memory plan (default: the SmolLM2-135M model)")
    p_inspect.add_argument("file", nargs="?", help="GGUF file (default: the default model)")
    p_inspect.add_argument("--all", action="store_true", help="list every tensor")
    args = parser.parse_args(argv)

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
