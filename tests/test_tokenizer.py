"""Tokenizers against llama.cpp (llama-cpp-python, vocab_only) on both real models: token ids
for a corpus of 2,000+ varied strings with and without special parsing and add_special,
detokenization, pieces, special ids, bad input, random bytes, and a hypothesis property."""
from __future__ import annotations

import ctypes
import random
from pathlib import Path
from typing import Any

import gguf
import llama_cpp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xtral
from tokenizer_corpus import byte_strings, corpus

MODELS = ["smollm2", "gemma"]


@pytest.fixture(scope="module", params=MODELS)
def pair(request: pytest.FixtureRequest) -> tuple[str, Any, xtral.Model]:
    """(name, llama.cpp vocab-only model, xtral model) per real model; one of each per module."""
    path = request.getfixturevalue(f"{request.param}_path")
    ref = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    model = xtral.Model.load(path, threads=1, n_ctx=64)
    yield request.param, ref, model
    model.close()


def ref_detokenize(ref: Any, ids: list[int], remove_special: bool, unparse_special: bool) -> bytes:
    """llama.cpp's llama_detokenize (the C function, not llama-cpp-python's per-piece loop)."""
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    cap = 64
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(ref._model.vocab, arr, len(ids), buf, cap, remove_special,
                                       unparse_special)
        if n >= 0:
            return buf.raw[:n]
        cap = -n + 1


def ref_piece(ref: Any, token: int, special: bool) -> bytes:
    buf = ctypes.create_string_buffer(256)
    n = llama_cpp.llama_token_to_piece(ref._model.vocab, token, buf, 256, 0, special)
    assert 0 <= n <= 256
    return buf.raw[:n]


CORPUS = corpus()
BYTES = byte_strings()


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 2000
    assert len(set(CORPUS)) > 1900
    joined = "".join(CORPUS)
    for probe in ("日本", "한국", "ع", "ह", "Ж", "Ω", "ไ", "ש", "\u200d", "\U0001F3FD", "\u0301",
                  "def ", "\r\n", "\u00a0", "'LL", "<|im_start|>", "<start_of_turn>", "\\xff"):
        assert probe in joined, probe


def test_tokenize_matches_llamacpp(pair: tuple[str, Any, xtral.Model]) -> None:
    name, ref, model = pair
    texts: list[Any] = CORPUS + BYTES
    mismatches = []
    for text in texts:
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        for add_special in (False, True):
            for parse_special in (False, True):
                want = ref.tokenize(raw, add_bos=add_special, special=parse_special)
                got = model.tokenize(text, add_special=add_special, parse_special=parse_special)
                if got != want:
                    mismatches.append((text, add_special, parse_special, want[:12], got[:12]))
    print(f"{name}: {4 * len(texts) - len(mismatches)}/{4 * len(texts)} tokenizations equal")
    assert not mismatches, mismatches[:5]


def test_detokenize_matches_llamacpp(pair: tuple[str, Any, xtral.Model]) -> None:
    name, ref, model = pair
    tok = model.tokenizer
    round_trips = 0
    for text in CORPUS + BYTES:
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        for add_special, parse_special in ((False, False), (True, True)):
            ids = ref.tokenize(raw, add_bos=add_special, special=parse_special)
            for skip_special in (False, True):
                want = ref_detokenize(ref, ids, False, not skip_special)
                assert tok.detokenize_bytes(ids, skip_special) == want, (text, ids)
                assert model.detokenize(ids, skip_special) == want.decode("utf-8", "replace")
            if not add_special and ref_detokenize(ref, ids, False, True) == raw:
                round_trips += 1
                assert model.detokenize(model.tokenize(text, add_special=False)) == \
                    raw.decode("utf-8", "replace")
    print(f"{name}: {round_trips} of {len(CORPUS) + len(BYTES)} strings round-trip")
    assert round_trips > len(CORPUS) // 2


def test_token_bytes_match_llamacpp_pieces(pair: tuple[str, Any, xtral.Model]) -> None:
    _, ref, model = pair
    n = model.vocab_size
    assert n == llama_cpp.llama_vocab_n_tokens(ref._model.vocab)
    step = 1 if n < 100_000 else 7  # every id of SmolLM2, every 7th of Gemma's 262144
    ids = sorted(set(range(0, n, step)) | set(range(0, 600)) | set(range(n - 300, n)))
    for i in ids:
        assert model.token_bytes(i) == ref_piece(ref, i, True), i
        assert model.tokenizer.detokenize_bytes([i], skip_special=True) == ref_piece(ref, i, False)


def test_special_ids_match_llamacpp(pair: tuple[str, Any, xtral.Model]) -> None:
    _, ref, model = pair
    vocab = ref._model.vocab
    assert model.bos_id == llama_cpp.llama_vocab_bos(vocab)
    assert model.eos_id == llama_cpp.llama_vocab_eos(vocab)
    eog = {i for i in range(model.vocab_size) if llama_cpp.llama_vocab_is_eog(vocab, i)}
    assert model.eog_ids == frozenset(eog)
    assert isinstance(model.eog_ids, frozenset)
    add_bos = llama_cpp.llama_vocab_get_add_bos(vocab)
    assert (model.tokenize("x")[:1] == [model.bos_id]) == add_bos


def test_chat_template_matches_llamacpp_metadata(pair: tuple[str, Any, xtral.Model]) -> None:
    name, ref, model = pair
    assert model.chat_template == ref.metadata.get("tokenizer.chat_template")
    if name == "smollm2":
        assert model.chat_template is not None and "<|im_start|>" in model.chat_template


def test_parse_special(pair: tuple[str, Any, xtral.Model]) -> None:
    name, _, model = pair
    marker = "<|im_start|>" if name == "smollm2" else "<start_of_turn>"
    ids = model.tokenize(f"a{marker}b", add_special=False, parse_special=True)
    special = [i for i in ids if model.token_bytes(i) == marker.encode()]
    assert len(special) == 1
    plain = model.tokenize(f"a{marker}b", add_special=False)
    assert special[0] not in plain and len(plain) > len(ids)


# ---- bad input ----

def test_bad_input(pair: tuple[str, Any, xtral.Model]) -> None:
    _, _, model = pair
    n = model.vocab_size
    with pytest.raises(TypeError, match="text must be str or bytes"):
        model.tokenize(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be str or bytes"):
        model.tokenize(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"token id -1 at index 0 is out of range"):
        model.detokenize([-1])
    with pytest.raises(ValueError, match=rf"token id {n} at index 1 is out of range \[0, {n}\)"):
        model.detokenize([0, n])
    with pytest.raises(ValueError, match="out of range"):
        model.detokenize([2**40])
    with pytest.raises(TypeError, match="token ids must be ints, got str"):
        model.detokenize(["a"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="token ids must be ints, got float"):
        model.detokenize([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="token ids must be ints, got bool"):
        model.detokenize([True])
    with pytest.raises(TypeError, match="sequence of ints"):
        model.detokenize(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        model.token_bytes(-1)
    with pytest.raises(ValueError, match="out of range"):
        model.token_bytes(n)
    with pytest.raises(ValueError, match="out of range"):
        model.token_bytes(10**30)
    with pytest.raises(TypeError, match="token id must be an int"):
        model.token_bytes("1")  # type: ignore[arg-type]
    assert model.detokenize([]) == ""
    assert model.tokenize("", add_special=False) == []


def test_numpy_ids(pair: tuple[str, Any, xtral.Model]) -> None:
    import numpy as np
    _, _, model = pair
    ids = model.tokenize("Hello world", add_special=False)
    assert model.detokenize(np.array(ids, dtype=np.int64)) == "Hello world"
    assert model.token_bytes(np.int32(ids[0])) == model.token_bytes(ids[0])


def test_closed_model_raises(smollm2_path: Path) -> None:
    m = xtral.Model.load(smollm2_path, threads=1, n_ctx=16)
    assert m.tokenize("hi")
    m.close()
    with pytest.raises(xtral.XtralError, match="closed"):
        m.tokenize("hi")


def test_gguf_without_tokenizer(make_gguf: Any) -> None:
    from gguf_helpers import KV
    from xtral.tokenizer import GGUFTokenizer
    path = make_gguf(kvs=[KV("general.name", "x", gguf.GGUFValueType.STRING)])
    with pytest.raises(xtral.GGUFError, match="no tokenizer.*'tokenizer.ggml.model' is missing"):
        GGUFTokenizer(path)


def test_unsupported_tokenizer_type(make_gguf: Any) -> None:
    from gguf_helpers import KV
    from xtral.tokenizer import GGUFTokenizer
    path = make_gguf(kvs=[KV("tokenizer.ggml.model", "bert", gguf.GGUFValueType.STRING)])
    with pytest.raises(xtral.UnsupportedError, match="tokenizer.ggml.model 'bert'"):
        GGUFTokenizer(path)
    path = make_gguf(kvs=[KV("tokenizer.ggml.model", "gpt2", gguf.GGUFValueType.STRING),
                          KV("tokenizer.ggml.pre", "nonesuch", gguf.GGUFValueType.STRING)])
    with pytest.raises(xtral.UnsupportedError, match="tokenizer.ggml.pre 'nonesuch'"):
        GGUFTokenizer(path)


def test_malformed_vocab(make_gguf: Any) -> None:
    from gguf_helpers import KV
    from xtral.tokenizer import GGUFTokenizer
    S, A = gguf.GGUFValueType.STRING, gguf.GGUFValueType.ARRAY
    base = [KV("tokenizer.ggml.model", "llama", S)]
    path = make_gguf(kvs=base)
    with pytest.raises(xtral.GGUFError, match="'tokenizer.ggml.tokens' is missing"):
        GGUFTokenizer(path)
    path = make_gguf(kvs=base + [KV("tokenizer.ggml.tokens", ["a", "b", "a"], A, S)])
    with pytest.raises(xtral.GGUFError, match="duplicate token 'a' has ids 0 and 2"):
        GGUFTokenizer(path)
    path = make_gguf(kvs=base + [KV("tokenizer.ggml.tokens", ["a", "b"], A, S),
                                 KV("tokenizer.ggml.scores", [0.5], A, gguf.GGUFValueType.FLOAT32)])
    with pytest.raises(xtral.GGUFError, match="tokenizer.ggml.scores: 1 entries for 2 tokens"):
        GGUFTokenizer(path)
    path = make_gguf(kvs=[KV("tokenizer.ggml.model", "gpt2", S),
                          KV("tokenizer.ggml.tokens", ["a", "b"], A, S)])
    with pytest.raises(xtral.GGUFError, match="'tokenizer.ggml.merges' is missing"):
        GGUFTokenizer(path)


def test_hf_folder_without_tokenizer_json(tmp_path: Path) -> None:
    src = Path(__file__).parent / "data" / "models" / "llama" / "hf"
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    with xtral.Model.load(tmp_path, threads=1, n_ctx=16) as m:
        with pytest.raises(xtral.GGUFError, match="has no tokenizer: tokenizer.json is missing"):
            m.tokenize("hi")


# ---- robustness ----

def test_random_bytes_never_crash(pair: tuple[str, Any, xtral.Model]) -> None:
    """Any bytes (0xF4..0xF7 forms included, which llama.cpp aborts on) give valid ids."""
    _, _, model = pair
    rng = random.Random(5)
    n = model.vocab_size
    for _ in range(1500):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        for flags in ((False, False), (True, True)):
            ids = model.tokenize(raw, *flags)
            assert all(0 <= i < n for i in ids)
            model.detokenize(ids)
    for _ in range(300):
        ids = [rng.randrange(n) for _ in range(rng.randrange(0, 40))]
        assert isinstance(model.detokenize(ids), str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80))
def test_hypothesis_random_text(text: str, smollm2_path: Path, gemma_path: Path) -> None:
    for ref, model in _hypothesis_models(smollm2_path, gemma_path):
        raw = text.encode("utf-8")
        for flags in ((False, False), (True, True)):
            assert model.tokenize(text, *flags) == ref.tokenize(raw, add_bos=flags[0],
                                                                special=flags[1])


_HYP: list[tuple[Any, xtral.Model]] = []


def _hypothesis_models(*paths: Path) -> list[tuple[Any, xtral.Model]]:
    if not _HYP:
        for p in paths:
            _HYP.append((llama_cpp.Llama(model_path=str(p), vocab_only=True, verbose=False),
                         xtral.Model.load(p, threads=1, n_ctx=16)))
    return _HYP


def test_lone_surrogates_and_bytes_like(pair: tuple[str, Any, xtral.Model]) -> None:
    """A str with lone surrogates goes in as their 3-byte forms, as llama.cpp decodes them;
    bytearray and memoryview are bytes."""
    _, ref, model = pair
    text = "a\ud800b \udfff"
    raw = text.encode("utf-8", "surrogatepass")
    assert model.tokenize(text) == ref.tokenize(raw, add_bos=True, special=False)
    assert model.tokenize(bytearray(raw)) == model.tokenize(memoryview(raw)) == model.tokenize(raw)


def test_threads_share_a_model(pair: tuple[str, Any, xtral.Model]) -> None:
    from concurrent.futures import ThreadPoolExecutor
    _, _, model = pair
    texts = CORPUS[:400]
    want = [model.tokenize(t) for t in texts]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(model.tokenize, texts))
        back = list(ex.map(model.detokenize, got))
    assert got == want
    assert back == [model.detokenize(w) for w in want]


def test_long_runs_of_special_text(pair: tuple[str, Any, xtral.Model]) -> None:
    """Long runs of newlines, spaces and tabs match many of Gemma's run-length tokens at every
    position (the per-token scan path); ids still equal llama.cpp's."""
    _, ref, model = pair
    texts = ["\n" * 5000 + "x" + " " * 3000 + "\t" * 1000 + "<b>  </s>\n\n<start_of_turn>",
             ("<table>\n\n\n" + " " * 40) * 300 + "<eos>", "\t\n " * 2000]
    for text in texts:
        for flags in ((False, False), (True, True)):
            assert model.tokenize(text, *flags) == ref.tokenize(text.encode(), add_bos=flags[0],
                                                                special=flags[1])
