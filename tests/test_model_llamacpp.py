"""Logits of the real models against llama.cpp (llama-cpp-python, logits_all=True), teacher-
forced over >= 512 tokens of varied text tokenized by llama.cpp. Figures are printed (-s).

Acceptance: top-1 agreement >= 99% and mean |d log-softmax| over llama.cpp's top-10 <= 0.02.
With 8-bit activations these small models amplify last-bit differences layer after layer
(two float summation orders of the same kernel differ by ~0.1), so xtral evaluates the
llama-family path exactly as llama.cpp's x86 CPU backend does (activation quantization
formula, per-block FMA chains, RoPE contraction, the softmax exp polynomial, F16 rounding of
the attention operands, the grouping of the repacked Q4_K and tiled Q6_K GEMMs, the GELU
table): both files come out bit-identical on an x86 CPU with AVX2. The same model dequantized to
F32 checks the structure without activation quantization on either side."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xtral

import llama_cpp  # noqa: E402  (the reference peer; a test dependency)

TEXT = """\
# GGUF, briefly
GGUF stores tensors and key/value metadata in one little-endian file. Tensor data is aligned
(32 bytes by default) and each tensor records its type, shape and offset.

def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

print([fib(i) for i in range(12)])  # 0 1 1 2 3 5 8 13 21 34 55 89

The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
Paris is the capital of France; Canberra is the capital of Australia; Ottawa, of Canada.
In 1969, Apollo 11 landed on the Moon. Water boils at 100 °C at sea level (212 °F).
Ein Beispiel auf Deutsch: Die Katze schläft auf dem Sofa, während es draußen regnet.
Un ejemplo en español: mañana vamos a la playa si hace buen tiempo.
日本語のテキストも少し含めます。東京は日本の首都です。
| name  | value | unit |
|-------|-------|------|
| mass  | 5.97e24 | kg |
| radius | 6371 | km |
SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY name ORDER BY 2 DESC LIMIT 10;
<html><body><p class="note">Hello, <b>world</b>!</p></body></html>
Once upon a time, in a small village by the sea, there lived an old fisherman who told
stories to the children every evening. One night he spoke of a lighthouse whose keeper had
vanished, leaving only a logbook filled with strange numbers: 17, 42, 1337, 65536.
The derivative of x^2 is 2x, and the integral of 1/x is ln|x| + C. Euler: e^(i*pi) + 1 = 0.
{"model": "smollm2", "layers": 30, "heads": [9, 3], "tied": true, "rope_theta": 100000}
Sincerely yours, the committee on very long sentences that keep going to make the prompt
long enough for five hundred and twelve tokens of teacher-forced comparison, with numbers
like 3.14159, 2.71828 and 1.41421 sprinkled in, plus some punctuation: (a), [b], {c}; d!
"""

N_TOKENS = 560


@pytest.fixture(autouse=True, scope="module")
def _avx2_arithmetic():
    """xtral reproduces llama.cpp's x86 AVX2 CPU arithmetic; pin xtral's kernels to that level
    (on AVX-512 hosts it would otherwise pick its AVX-512 kernels) and require a llama.cpp
    build of the same level (.ci/run installs llama-cpp-python with AVX2 flags)."""
    from xtral import _core

    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in info and "AVX512 = 1" not in info, (
        "the reference must be llama.cpp's AVX2 x86 build (install llama-cpp-python with "
        'CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"); got: '
        + info)
    assert "avx2" in _core.simd_levels(), "this CPU has no AVX2: no bit-exact path here"
    before = _core.simd_level()
    _core.set_simd("avx2")
    yield
    _core.set_simd(before)


def _figures(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    def lsm(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    top1 = float((ref.argmax(-1) == got.argmax(-1)).mean())
    idx = np.argsort(-ref, -1)[:, :10]
    d = np.abs(np.take_along_axis(lsm(ref), idx, -1) - np.take_along_axis(lsm(got), idx, -1))
    return top1, float(d.mean())


def _compare(path: Path, label: str) -> tuple[float, float]:
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_batch=1024, n_ubatch=1024,
                          logits_all=True, n_threads=2, verbose=False)
    tokens = llm.tokenize(TEXT.encode())
    assert len(tokens) >= 512, len(tokens)
    tokens = tokens[:N_TOKENS]
    llm.eval(tokens)
    ref = np.array(llm.scores[: len(tokens)], dtype=np.float32)
    llm.close()
    # gelu="ggml": Gemma's GELU through ggml's fp16 table, as llama.cpp computes it.
    with xtral.Model.load(path, threads=2, n_ctx=1024, gelu="ggml") as m:
        got = m.forward(tokens, all_logits=True)
    top1, mad = _figures(ref, got)
    print(f"\n{label}: {len(tokens)} tokens, top-1 agreement {100 * top1:.2f}%, "
          f"mean |d log-softmax| over llama.cpp's top-10 {mad:.4f}")
    return top1, mad


def test_smollm2_q4_1(smollm2_path: Path) -> None:
    top1, mad = _compare(smollm2_path, "SmolLM2-135M Q4_1")
    assert top1 >= 0.99 and mad <= 0.02


def test_gemma3_q4_k_m(gemma_path: Path) -> None:
    top1, mad = _compare(gemma_path, "Gemma-3-270M Q4_K_M")
    assert top1 >= 0.99 and mad <= 0.02


@pytest.fixture(scope="module")
def smollm2_f32(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("f32") / "smollm2-f32.gguf"
    xtral.quantize_gguf(smollm2_path, out, "F32", progress=False)
    return out


def test_smollm2_dequantized_f32_meets_acceptance(smollm2_f32: Path) -> None:
    top1, mad = _compare(smollm2_f32, "SmolLM2-135M dequantized to F32")
    assert top1 >= 0.99 and mad <= 0.02


@pytest.mark.slow
def test_gemma3_dequantized_f32_meets_acceptance(gemma_path: Path,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """600 tokens: crosses Gemma 3's 512-token sliding window (1.1 GB file; ~1 min)."""
    out = tmp_path_factory.mktemp("gf32") / "gemma3-f32.gguf"
    xtral.quantize_gguf(gemma_path, out, "F32", progress=False)
    global N_TOKENS
    saved, N_TOKENS = N_TOKENS, 600
    try:
        top1, mad = _compare(out, "Gemma-3-270M dequantized to F32")
    finally:
        N_TOKENS = saved
    assert top1 >= 0.99 and mad <= 0.02


@pytest.mark.parametrize("which", ["smollm2", "gemma3"])
def test_prefill_then_decode_is_bit_identical(which: str, request: pytest.FixtureRequest) -> None:
    """llama.cpp evaluates a one-token batch through other kernels than a many-token batch
    (ggml_vec_dot_f16 instead of tinyBLAS in attention, gemv instead of the repacked Q4_K
    GEMM, vec_dot instead of the tiled Q6_K GEMM); xtral follows each, so a prefill followed
    by single-token decode steps reproduces llama.cpp's logits exactly."""
    path = request.getfixturevalue("smollm2_path" if which == "smollm2" else "gemma_path")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_batch=512,
                          logits_all=True, n_threads=2, verbose=False)
    tokens = llm.tokenize(TEXT.encode())[:96]
    n_prompt = 40
    llm.eval(tokens[:n_prompt])
    for t in tokens[n_prompt:]:
        llm.eval([t])
    ref = np.array(llm.scores[: len(tokens)], dtype=np.float32)
    llm.close()
    with xtral.Model.load(path, threads=2, n_ctx=512, gelu="ggml") as m:
        first = m.forward(tokens[:n_prompt], all_logits=True)
        steps = np.stack([m.forward([t]) for t in tokens[n_prompt:]])
    got = np.concatenate([first, steps])
    diff = np.abs(ref - got).max()
    print(f"\n{which}: {n_prompt} prompt + {len(steps)} decode steps: max |d logit| {diff}")
    assert np.array_equal(ref, got), diff
