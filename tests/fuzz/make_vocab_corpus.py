"""Writes the seed corpus for the tokenizer fuzz target into tests/fuzz/corpus/vocab/.

Small GGUF files written by the reference writer (gguf.GGUFWriter) with tokenizer metadata only:
SentencePiece vocabularies (byte fallback, control and user-defined tokens, space prefix) and
byte-level BPE ones under each supported pre-tokenizer, plus files with missing or mistyped
keys. Deterministic; rerun after changing it and commit the result:

    python tests/fuzz/make_vocab_corpus.py
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for gguf_helpers

from gguf import GGUFValueType as VT  # noqa: E402
from gguf_helpers import KV, write_reference_gguf  # noqa: E402

OUT = HERE / "corpus" / "vocab"
S, A = VT.STRING, VT.ARRAY

SPM_TOKENS = ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "<|x|>",
              "\n\n", "<0x0A>", "<0x41>", "<0xE2>", "<0xFF>", "\u65e5", "<unused0>", "<end_of_turn>"]
SPM_TYPES = [2, 3, 3, 1, 1, 1, 1, 1, 1, 3, 4, 6, 6, 6, 6, 1, 3, 3]

BPE_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab", "\u0120", "\u0120a",
              "1", "2", "12", "\u010a", "'", "s", "'s", "\u00e2", "\u0122", "\u00e2\u0122"]
BPE_TYPES = [3, 3, 3] + [1] * 15
MERGES = ["a b", "\u0120 a", "1 2", "' s", "\u00e2 \u0122", "nospace"]


def spm(extra: list[KV]) -> list[KV]:
    return [KV("tokenizer.ggml.model", "llama", S),
            KV("tokenizer.ggml.tokens", SPM_TOKENS, A, S),
            KV("tokenizer.ggml.scores", [0.0] * 3 + [-float(i) for i in range(15)], A, VT.FLOAT32),
            KV("tokenizer.ggml.token_type", SPM_TYPES, A, VT.INT32)] + extra


def bpe(pre: str, extra: list[KV] = []) -> list[KV]:
    return [KV("tokenizer.ggml.model", "gpt2", S), KV("tokenizer.ggml.pre", pre, S),
            KV("tokenizer.ggml.tokens", BPE_TOKENS, A, S),
            KV("tokenizer.ggml.token_type", BPE_TYPES, A, VT.INT32),
            KV("tokenizer.ggml.merges", MERGES, A, S),
            KV("tokenizer.ggml.eos_token_id", 2, VT.UINT32)] + extra


SEEDS = {
    "spm": spm([]),
    "spm_prefix_eos": spm([KV("tokenizer.ggml.add_space_prefix", True, VT.BOOL),
                           KV("tokenizer.ggml.add_eos_token", True, VT.BOOL),
                           KV("tokenizer.ggml.bos_token_id", 1, VT.UINT32)]),
    "spm_phi3": spm([KV("general.name", "phi-3 fuzz", S)]),
    **{f"bpe_{p}": bpe(p) for p in ("default", "gpt-2", "llama-bpe", "qwen2", "smollm")},
    "bpe_add_bos": bpe("smollm", [KV("tokenizer.ggml.add_bos_token", True, VT.BOOL),
                                  KV("tokenizer.ggml.bos_token_id", 1, VT.UINT32)]),
    "no_tokens": [KV("tokenizer.ggml.model", "llama", S)],
    "int_scores": [KV("tokenizer.ggml.model", "llama", S),
                   KV("tokenizer.ggml.tokens", ["a", "b"], A, S),
                   KV("tokenizer.ggml.scores", [1, 2], A, VT.INT32)],
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, kvs in SEEDS.items():
        path = OUT / f"{name}.gguf"
        write_reference_gguf(path, kvs, [])
        print(f"{path.stat().st_size:6d}  {path.name}")


if __name__ == "__main__":
    main()
