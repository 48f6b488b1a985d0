"""Replays the tokenizer fuzz target's seed corpus (tests/fuzz/corpus/vocab) and any findings it
left (tests/fuzz/out/vocab-crash-*) through the Python API: each file either loads, tokenizes
and detokenizes, or raises an xtral exception naming the problem."""
from __future__ import annotations

from pathlib import Path

import pytest

import xtral
from xtral.tokenizer import GGUFTokenizer

FUZZ = Path(__file__).parent / "fuzz"
FILES = sorted((FUZZ / "corpus" / "vocab").glob("*.gguf")) + sorted((FUZZ / "out").glob("vocab-crash-*"))
TEXTS = ["Hello world 12345 it's", " <s> </s> <|x|> \n\n\t  a  ", "日本 👍🏽 e\u0301",
         b"\xff\xfe\xe2\x82 \xf4\x90\x80\x80 \xed\xa0\x80 \xc0\xaf", ""]


def test_corpus_present() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_replay(path: Path) -> None:
    try:
        tok = GGUFTokenizer(path)
    except (xtral.XtralError, OSError) as e:
        assert str(e)
        return
    for text in TEXTS:
        for add_special, parse_special in ((False, False), (True, True)):
            try:
                ids = tok.tokenize(text, add_special, parse_special)
            except xtral.GGUFError as e:  # a byte-fallback token the vocabulary lacks
                assert "byte-fallback" in str(e)
                continue
            assert all(0 <= i < tok.vocab_size for i in ids)
            assert isinstance(tok.detokenize(ids), str)
    tok.close()
