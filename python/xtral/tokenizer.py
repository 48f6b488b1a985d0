"""Tokenizers behind :meth:`xtral.Model.tokenize` and friends.

A GGUF file carries its vocabulary in ``tokenizer.ggml.*`` metadata; :class:`GGUFTokenizer`
runs it in C (``xtral._core.VocabHandle``): SentencePiece-style (LLaMA, Gemma) and byte-level
BPE with the pre-tokenizer the file names, with token ids equal to llama.cpp's. A Hugging Face
folder carries ``tokenizer.json``; :class:`HFTokenizer` runs it with the ``tokenizers`` package
(``pip install xtral[hf]``) behind the same methods.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Union

from . import _core

__all__ = ["GGUFTokenizer", "HFTokenizer", "Text", "open_tokenizer"]

Text = Union[str, bytes, bytearray, memoryview]


def _text_bytes(text: Text) -> bytes:
    if isinstance(text, str):
        # Lone surrogates pass through as their 3-byte forms (decoded as llama.cpp decodes them).
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"text must be str or bytes, got {type(text).__name__}")


def _id_list(ids: Any) -> Any:
    if isinstance(ids, (list, tuple)):
        return ids
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
    return list(ids)


def _check_id(token_id: Any, vocab_size: int) -> int:
    if isinstance(token_id, bool) or not hasattr(token_id, "__index__"):
        raise TypeError(f"token id must be an int, got {type(token_id).__name__}")
    i = token_id.__index__()
    if not 0 <= i < vocab_size:
        raise ValueError(f"token id {i} is out of range [0, {vocab_size})")
    return i


class GGUFTokenizer:
    """The vocabulary of a GGUF file, run in C."""

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        self._h = _core.VocabHandle(os.fspath(path))
        info = self._h.info()
        self.info: dict[str, Any] = info
        self.vocab_size: int = info["n_tokens"]
        self.bos_id: int | None = info["bos"]
        self.eos_id: int | None = info["eos"]
        self.eog_ids: frozenset[int] = frozenset(info["eog"])
        self.chat_template: str | None = info["chat_template"]

    def tokenize(self, text: Text, add_special: bool = True, parse_special: bool = False) -> list[int]:
        return self._h.tokenize(_text_bytes(text), bool(add_special), bool(parse_special))

    def detokenize(self, ids: Iterable[int], skip_special: bool = False) -> str:
        return self.detokenize_bytes(ids, skip_special).decode("utf-8", "replace")

    def detokenize_bytes(self, ids: Iterable[int], skip_special: bool = False) -> bytes:
        return self._h.detokenize(_id_list(ids), False, not skip_special)

    def token_bytes(self, token_id: int) -> bytes:
        return self._h.token_piece(token_id, True)

    def close(self) -> None:
        self._h.close()


# GPT-2 byte-level alphabet (inverse): printable bytes stand for themselves, the rest map
# to U+0100 upwards in byte order.
def _byte_decoder() -> dict[str, int]:
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in printable}
    n = 0
    for b in range(256):
        if b not in printable:
            table[chr(0x100 + n)] = b
            n += 1
    return table


# Texts llama.cpp treats as end of generation when a vocabulary has them.
_EOG_TEXTS = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
              "<|end_of_text|>", "<eos>", "<|eom_id|>", "<EOT>")


class HFTokenizer:
    """``tokenizer.json`` of a Hugging Face folder, run by the ``tokenizers`` package."""

    def __init__(self, folder: Union[str, os.PathLike[str]]) -> None:
        try:
            import tokenizers
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("tokenizer.json needs the 'tokenizers' package "
                              "(pip install xtral[hf])") from e
        d = Path(folder)
        self._tok = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
        self._lock = threading.Lock()
        spec = json.loads((d / "tokenizer.json").read_text(encoding="utf-8"))
        decoder = spec.get("decoder") or {}
        kinds = {decoder.get("type")} | {x.get("type") for x in decoder.get("decoders", [])}
        self._byte_level = "ByteLevel" in kinds
        self._bytes = _byte_decoder()
        cfg: dict[str, Any] = {}
        if (d / "tokenizer_config.json").is_file():
            cfg = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
        self.vocab_size: int = self._tok.get_vocab_size(with_added_tokens=True)
        self.bos_id = self._token_id(cfg.get("bos_token"))
        self.eos_id = self._token_id(cfg.get("eos_token"))
        eog = {i for i in (self._tok.token_to_id(t) for t in _EOG_TEXTS) if i is not None}
        if self.eos_id is not None:
            eog.add(self.eos_id)
        self.eog_ids: frozenset[int] = frozenset(eog)
        template = cfg.get("chat_template")
        if isinstance(template, list):  # [{"name": ..., "template": ...}]
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        self.chat_template: str | None = template if isinstance(template, str) else None
        self.info: dict[str, Any] = {"type": "tokenizers", "n_tokens": self.vocab_size}

    def _token_id(self, tok: Any) -> int | None:
        if isinstance(tok, dict):
            tok = tok.get("content")
        return self._tok.token_to_id(tok) if isinstance(tok, str) else None

    def tokenize(self, text: Text, add_special: bool = True, parse_special: bool = False) -> list[int]:
        s = text if isinstance(text, str) else _text_bytes(text).decode("utf-8", "replace")
        with self._lock:  # encode_special_tokens is state of the shared tokenizer
            self._tok.encode_special_tokens = not parse_special
            return list(self._tok.encode(s, add_special_tokens=bool(add_special)).ids)

    def detokenize(self, ids: Iterable[int], skip_special: bool = False) -> str:
        seq = [_check_id(i, self.vocab_size) for i in _id_list(ids)]
        return self._tok.decode(seq, skip_special_tokens=bool(skip_special))

    def token_bytes(self, token_id: int) -> bytes:
        tok = self._tok.id_to_token(_check_id(token_id, self.vocab_size))
        if tok is None:
            return b""
        if self._byte_level and all(c in self._bytes for c in tok):
            return bytes(self._bytes[c] for c in tok)
        if len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">"):
            try:
                return bytes([int(tok[3:5], 16)])
            except ValueError:
                pass
        return tok.replace("\u2581", " ").encode("utf-8")

    def close(self) -> None:
        pass


def open_tokenizer(path: Union[str, os.PathLike[str]]) -> GGUFTokenizer | HFTokenizer:
    """The tokenizer of a model: a GGUF file's metadata or a folder's ``tokenizer.json``."""
    p = Path(path)
    if p.is_dir():
        if not (p / "tokenizer.json").is_file():
            raise _core.GGUFError(f"the model folder {str(p)!r} has no tokenizer: "
                                  "tokenizer.json is missing")
        return HFTokenizer(p)
    return GGUFTokenizer(p)
