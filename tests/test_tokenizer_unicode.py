"""The tokenizer's Unicode tables against Python's unicodedata, and the pre-tokenizer split
rules on strings built to hit each branch (checked against llama.cpp's token ids)."""
from __future__ import annotations

import unicodedata

import xtral._core as core

CATEGORY_BIT = {"C": 128, "L": 4, "M": 16, "N": 2, "P": 32, "S": 64, "Z": 8}
WHITE_SPACE = {*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
               0x2029, 0x202F, 0x205F, 0x3000}


def test_tables_match_unicodedata() -> None:
    """Every code point assigned in this Python's Unicode version has the flags its general
    category and White_Space give; the tables are Unicode 15.1 (newer than Python 3.11's 14.0,
    so code points assigned since are only checked when this Python knows them)."""
    assert core.unicode_version() == "15.1.0"
    raw = core._unicode_flags(0, 0x110000)
    flags = [raw[2 * i] | raw[2 * i + 1] << 8 for i in range(0x110000)]
    newer = 0
    for cpt in range(0x110000):
        cat = unicodedata.category(chr(cpt))
        if cat == "Cn":
            newer += flags[cpt] != 1  # assigned after this Python's Unicode version
            continue
        want = CATEGORY_BIT[cat[0]] | (256 if cpt in WHITE_SPACE else 0)
        assert flags[cpt] == want, (hex(cpt), cat, flags[cpt])
    assert newer <= (0 if unicodedata.unidata_version == "15.1.0" else 6000)
    assert flags[0x2EBF0] == 4 and flags[0x31350] == 4  # CJK Ext. I (15.1) and H (15.0)
    assert core._unicode_flags(0x10FFFF, 0x110000) == b"\x01\x00"
