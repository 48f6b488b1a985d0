"""A deterministic corpus of varied strings for tokenizer tests and benchmarks.

Scripts (CJK, Korean, Arabic, Devanagari, Cyrillic, Greek, Thai, Hebrew, ...), emoji with ZWJ
sequences and skin tones, combining marks, code in several languages, whitespace runs (spaces,
tabs, newlines, CRLF, NBSP and other Unicode spaces), digits and long numbers, contractions,
special-token text of both test models, escape sequences written as text, and random mixes of
all of these. ``corpus()`` returns the same list on every call.
"""
from __future__ import annotations

import random

SCRIPTS = [
    "日本語のテキストを書きます。東京は大きな都市です。",
    "中文分词测试：我们今天去北京大学。",
    "漢字と仮名とカタカナ、ひらがな。",
    "한국어 문장입니다. 서울은 아름답습니다.",
    "العربية لغة جميلة، وهي تكتب من اليمين إلى اليسار.",
    "हिन्दी भाषा में लिखा गया वाक्य। नमस्ते दुनिया",
    "Русский текст: съешь же ещё этих мягких французских булок.",
    "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "ภาษาไทยเขียนโดยไม่มีช่องว่างระหว่างคำ",
    "עברית נכתבת מימין לשמאל.",
    "Ünïcödé àccénts: façade, naïve, coöperate, Øresund, Straße, İstanbul, ǅ",
    "Հայերեն գրություն",
    "ქართული ენა",
    "தமிழ் மொழி",
    "বাংলা ভাষা",
    "Tiếng Việt có dấu: Người ta thường nói",
    "ᚠᚢᚦᚨᚱᚲ ᛖᛗᛚᛜ",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝒮𝒸𝓇𝒾𝓅𝓉",
    "ﾊﾝｶｸｶﾀｶﾅ ＦＵＬＬＷＩＤＴＨ",
    "𠜎𠜱𠝹𠱓 (CJK extension B) 𰻞𰻞麺",
]

EMOJI = [
    "😀", "👍🏽", "👩🏿‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇺🇸", "1️⃣", "❤️", "🧑🏻‍🤝‍🧑🏿",
    "🤷‍♀️", "👋🏼", "🐍", "🚀✨", "🫠", "☕", "😶‍🌫️", "#️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
]

COMBINING = [
    "e\u0301", "a\u0300\u0301\u0302", "n\u0303", "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o",
    "\u0915\u094d\u0937", "o\u0308\u0304", "\u05d1\u05bc", "\u0627\u064b", "i\u0307",
    "\u1100\u1161\u11a8", "q\u0323\u0307", "\u0301leading mark",
]

CODE = [
    "def f(x: int) -> int:\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "const add = (a, b) => a + b;\nconsole.log(`sum=${add(1, 2)}`);",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "<div class=\"x\"><a href='https://example.com/?q=1&r=2'>link</a></div>",
    '{"key": [1, 2.5e-3, null, true], "nested": {"a": "b"}}',
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
    "if [ -f ~/.bashrc ]; then source ~/.bashrc; fi && echo $HOME | grep -E '^/r'",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@\\w+\\.com$",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n}\n",
    "x<<=2; y>>>=1; z ||= w?.v ?? u; a != b !== c",
    "    indented\n\tTabbed\n        deeper\r\n",
    "public static void main(String[] args) throws Exception {}",
    "\\begin{equation} E = mc^2 \\end{equation}",
    "git commit -m \"fix: don't crash\" --amend",
]

WHITESPACE = [
    " ", "  ", "   ", " " * 17, " " * 40, "\t", "\t\t\t", "\n", "\n\n", "\n" * 12, "\r\n",
    "\r\n\r\n", "\r", " \n ", "\t \n \t", "\u00a0", "\u00a0\u00a0", "\u2000\u2001\u2002",
    "\u3000", "\u205f", "\u202f", "\u2028", "\u2029", "\u0085", "\u200b", "\u180e",
    "\u1680", "\u000b", "\u000c", "x  ", "  x", " \u00a0x", "\u3000x\u3000",
]

DIGITS = [
    "0", "7", "42", "123", "1234", "12345", "3.14159", "1,000,000", "2024-06-01",
    "12345678901234567890123", "0x1F", "1e-9", "٠١٢٣٤٥", "１２３", "²³", "½ ¾", "Ⅻ",
    "123abc456", "v1.2.3", "+1 (555) 010-9999", "৫৬৭", "۱۲۳",
]

CONTRACTIONS = [
    "it's", "we're", "they'LL", "I'M", "you've", "she'd", "don't", "WON'T", "'s", "'re",
    "'ll", "'Ve", "y'all", "rock 'n' roll", "it’s", "'S'T'M'D", "l'amour", "O'Neil",
]

SPECIAL_TEXT = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<reponame>", "<file_sep>",
    "<filename>", "<gh_stars>", "<jupyter_code>", "<empty_output>", "<start_of_turn>",
    "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<s>", "</s>",
    "[multimodal]", "<table>", "</td>", "<unused0>", "<unused42>", "<start_of_image>",
    "<end_of_image>", "<|im_start", "<|im_start|", "im_start|>", "<<|im_end|>>",
    "<|im_start|><|im_end|>", "<end_of_turn><eos>", "<b><i>",
]

ESCAPES = [
    "\\xff\\xfe", "\\x00", "\\u00e9", "\\U0001F600", "%C3%A9", "&#233;", "&amp;", "\\n\\t",
    "\\\\", "\\xc3\\x28", "0xDEADBEEF", "\\0",
]

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you doing today?",
    "In 1969, Apollo 11 landed on the Moon; 600 million people watched.",
    "Mr. O'Brien's cat (aged 3) isn't amused... really?!",
    "E-mail: someone@example.org, phone: 555-0199.",
    "Tokenization edge cases: trailing spaces   ",
    "   leading spaces and a\ttab",
    "UPPER lower MiXeD CamelCase snake_case kebab-case",
]

RANDOM_RANGES = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
    (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F),
    (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2500, 0x257F),
    (0x3000, 0x303F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF),
    (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x10000, 0x1007F), (0x1D400, 0x1D4FF),
    (0xE000, 0xE0FF), (0x0, 0x1F), (0x2EBF0, 0x2EC0F), (0x31350, 0x3136F),
]

POOLS = [SCRIPTS, EMOJI, COMBINING, CODE, WHITESPACE, DIGITS, CONTRACTIONS, SPECIAL_TEXT,
         ESCAPES, SENTENCES]


def _random_chars(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        lo, hi = rng.choice(RANDOM_RANGES)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def corpus(n_random: int = 1700, seed: int = 1234) -> list[str]:
    """Every fixed string, simple combinations of them, and n_random random mixes."""
    rng = random.Random(seed)
    out: list[str] = []
    for pool in POOLS:
        out.extend(pool)
    # Each fixed string between words and after a space, as text really contains them.
    for pool in POOLS:
        for s in pool:
            out.append(f"word {s} word")
            out.append(f"{s}{s}")
    for _ in range(n_random):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(rng.choice(POOLS)))
            elif r < 0.85:
                parts.append(_random_chars(rng, rng.randint(1, 12)))
            else:
                parts.append(rng.choice(WHITESPACE))
        sep = rng.choice(["", " ", "", "\n", " "])
        out.append(sep.join(parts))
    return out


def byte_strings(n: int = 300, seed: int = 99) -> list[bytes]:
    """Random byte strings, mostly invalid UTF-8. Bytes 0xF4..0xF7 are left out: llama.cpp
    decodes a 4-byte form led by them past U+10FFFF and aborts, so it cannot serve as the
    reference there (xtral is checked on those by the robustness test)."""
    rng = random.Random(seed)
    allowed = [b for b in range(256) if not 0xF4 <= b <= 0xF7]
    out = [b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"ab\xe2cd", b"\xed\xa0\x80", b"\xc0\xaf",
           b"\xf0\x9f\x98", b"\x80\x80\x80", b"<|im_start|>\xff", b"\xf8\x88\x80\x80\x80"]
    for _ in range(n):
        k = rng.randint(1, 40)
        raw = bytes(rng.choice(allowed) for _ in range(k))
        if rng.random() < 0.5:
            raw = rng.choice(SENTENCES).encode() + raw + rng.choice(SCRIPTS).encode()
        out.append(raw)
    return out


def bench_text(size: int = 1 << 20, seed: int = 7) -> str:
    """About `size` bytes of varied text (prose-heavy, with all the pools mixed in)."""
    rng = random.Random(seed)
    base = corpus(400, seed)
    prose = SENTENCES + SCRIPTS[:10] + CODE
    parts: list[str] = []
    n = 0
    while n < size:
        s = rng.choice(prose) if rng.random() < 0.7 else rng.choice(base)
        parts.append(s)
        n += len(s.encode("utf-8")) + 1
        parts.append("\n" if rng.random() < 0.2 else " ")
    return "".join(parts)
