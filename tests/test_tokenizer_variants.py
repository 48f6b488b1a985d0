"""Tokenizer settings the two real models do not use, checked against llama.cpp: vocab-only
GGUF files carry the real vocabularies with other settings (SmolLM2's BPE vocabulary under
each supported pre-tokenizer; Gemma's SentencePiece vocabulary with a space prefix and EOS, or
under a Phi-3 name, which makes llama.cpp drop whitespace after special tokens). llama.cpp
loads each file with vocab_only and is the reference for ids and text."""
from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

import xtral
from tokenizer_corpus import POOLS, byte_strings, corpus
from xtral.tokenizer import GGUFTokenizer


def vocab_file(src: Path, dst: Path, set_keys: dict[str, Any], drop: tuple[str, ...] = (),
               rename: dict[str, str] | None = None) -> Path:
    """A tensor-less copy of src's metadata with keys replaced or dropped, and token texts
    renamed."""
    with xtral.GGUFFile(src) as f:
        md, types = dict(f.metadata), f.metadata_types
    if rename:
        md["tokenizer.ggml.tokens"] = [rename.get(t, t) for t in md["tokenizer.ggml.tokens"]]
    out: dict[str, Any] = {}
    for k, v in md.items():
        if k in drop:
            continue
        m = re.fullmatch(r"array\[(\w+)\]", types[k])
        out[k] = xtral.GGUFValue(list(v), "array", m.group(1)) if m else xtral.GGUFValue(v, types[k])
    out.update(set_keys)
    xtral.write_gguf(dst, out)
    return dst


def ref_detokenize(ref: Any, ids: list[int], remove_special: bool, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    cap = 64
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(ref._model.vocab, arr, len(ids), buf, cap, remove_special,
                                       unparse_special)
        if n >= 0:
            return buf.raw[:n]
        cap = -n + 1


# Every other string of the corpus keeps each kind of text and halves the time.
TEXTS = [s.encode("utf-8") for s in corpus(150, seed=21)[::2]] + byte_strings(60, seed=4)
S, B = "string", "bool"


def compare(path: Path, texts: list[bytes] = TEXTS) -> None:
    ref = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    tok = GGUFTokenizer(path)
    assert tok.bos_id == llama_cpp.llama_vocab_bos(ref._model.vocab)
    bad = []
    for raw in texts:
        for add_special, parse_special in ((False, False), (True, True), (True, False)):
            want = ref.tokenize(raw, add_bos=add_special, special=parse_special)
            got = tok.tokenize(raw, add_special, parse_special)
            if got != want:
                bad.append((raw, add_special, parse_special, want[:10], got[:10]))
                continue
            for remove, unparse in ((False, True), (True, False)):
                if tok._h.detokenize(got, remove, unparse) != ref_detokenize(ref, got, remove, unparse):
                    bad.append((raw, "detokenize", remove, unparse))
    tok.close()
    assert not bad, bad[:4]


@pytest.mark.parametrize("pre", ["default", "gpt-2", "llama-bpe", "qwen2", "starcoder", "dbrx",
                                 "stablelm2"])
def test_bpe_pre_tokenizers(pre: str, smollm2_path: Path, tmp_path: Path) -> None:
    # llama-bpe adds BOS unless the file says otherwise: drop add_bos_token to take that path,
    # and have the others add EOS.
    if pre == "llama-bpe":
        path = vocab_file(smollm2_path, tmp_path / "v.gguf",
                          {"tokenizer.ggml.pre": xtral.GGUFValue(pre, S)},
                          drop=("tokenizer.ggml.add_bos_token",))
    else:
        path = vocab_file(smollm2_path, tmp_path / "v.gguf",
                          {"tokenizer.ggml.pre": xtral.GGUFValue(pre, S),
                           "tokenizer.ggml.add_eos_token": xtral.GGUFValue(True, B)})
    compare(path)


def test_spm_space_prefix_and_eos(gemma_path: Path, tmp_path: Path) -> None:
    path = vocab_file(gemma_path, tmp_path / "v.gguf",
                      {"tokenizer.ggml.add_space_prefix": xtral.GGUFValue(True, B),
                       "tokenizer.ggml.add_eos_token": xtral.GGUFValue(True, B)})
    compare(path)


def test_spm_phi3_strips_after_special_tokens(gemma_path: Path, tmp_path: Path) -> None:
    # llama.cpp needs the tokens it exempts by name: <|endoftext|> takes an unused slot.
    path = vocab_file(gemma_path, tmp_path / "v.gguf",
                      {"general.name": xtral.GGUFValue("Phi-3 mini (test)", S)},
                      rename={"<unused1>": "<|endoftext|>"})
    specials = [t for t in POOLS[7] if t.startswith("<")] + ["<|endoftext|>"]
    texts = [f"{a} \n\t {b}  x {a}\n".encode() for a in specials for b in specials[:6]]
    texts += [f"  {a}   <b>  </s> \n".encode() for a in specials]
    compare(path, texts + TEXTS[:300])
    # The name matters: without it the whitespace after "<bos>" stays.
    plain = GGUFTokenizer(gemma_path)
    phi3 = GGUFTokenizer(path)
    text = "<bos>  \n hello"
    assert phi3.tokenize(text, False, True) == phi3.tokenize("<bos>hello", False, True)
    assert plain.tokenize(text, False, True) != plain.tokenize("<bos>hello", False, True)
