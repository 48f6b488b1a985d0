"""Build the extension xtral._core from csrc/.

Environment switches:
  XTRAL_CUDA=auto|0|1   compile csrc/cuda/*.cu with nvcc and link cudart/cuBLAS
                        (auto: when nvcc is found and csrc/cuda has sources).
  XTRAL_SANITIZE=address build with AddressSanitizer + UBSan (run with the ASan
                        runtime preloaded; see docs/development.md).
  XTRAL_WERROR=1        turn warnings into errors (CI).
  XTRAL_DEBUG=1         -O0 -g instead of -O3.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent.resolve()
CSRC = "csrc"

# Sources are listed explicitly so a stray file never slips into the build.
C_SOURCES = [
    "csrc/core/status.c",
    "csrc/core/log.c",
    "csrc/core/dtype.c",
    "csrc/core/tensor.c",
    "csrc/core/threadpool.c",
    "csrc/core/mmap.c",
    "csrc/core/strmap.c",
    "csrc/gguf/gguf_read.c",
    "csrc/gguf/gguf_value.c",
    "csrc/gguf/gguf_write.c",
    "csrc/gguf/tensor_map.c",
    "csrc/gguf/json.c",
    "csrc/gguf/safetensors.c",
    "csrc/core/cpu_features.c",
    "csrc/core/bandwidth.c",
    "csrc/quant/quant_table.c",
    "csrc/quant/float_types.c",
    "csrc/quant/fp8.c",
    "csrc/quant/q4_q5.c",
    "csrc/quant/q8.c",
    "csrc/quant/iq4_mxfp4.c",
    "csrc/quant/k_fit.c",
    "csrc/quant/k_quants_low.c",
    "csrc/quant/k_quants_high.c",
    "csrc/quant/iq_lattice.c",
    "csrc/quant/tq_nvfp4.c",
    "csrc/quant/arch/x86_avx2.c",
    "csrc/quant/arch/x86_avx2_gemm.c",
    "csrc/quant/arch/x86_avx2_gemm_k.c",
    "csrc/quant/arch/x86_avx2_gemv.c",
    "csrc/quant/arch/x86_avx512.c",
    "csrc/ops/matmul_q.c",
    "csrc/ops/norm.c",
    "csrc/ops/rope.c",
    "csrc/ops/act.c",
    "csrc/ops/vexp.c",
    "csrc/ops/tanh.c",
    "csrc/ops/attention.c",
    "csrc/ops/attention_decode.c",
    "csrc/ops/lowrank.c",
    "csrc/ops/lowrank_bt.c",
    "csrc/backend/backend_cpu.c",
    "csrc/model/arch_registry.c",
    "csrc/model/arch_llama.c",
    "csrc/model/arch_qwen.c",
    "csrc/model/arch_gemma3.c",
    "csrc/model/arch_phi3.c",
    "csrc/model/source_gguf.c",
    "csrc/model/source_safetensors.c",
    "csrc/model/load.c",
    "csrc/model/runner.c",
    "csrc/model/model.c",
    "csrc/sample/sample_rng.c",
    "csrc/sample/sample_filter.c",
    "csrc/sample/sample.c",
    "csrc/sample/generate.c",
    "csrc/adapter/adapter.c",
    "csrc/adapter/lora_load.c",
    "csrc/adapter/xlora_load.c",
    "csrc/adapter/attach.c",
    "csrc/adapter/apply.c",
    "csrc/adapter/xlora_classifier.c",
    "csrc/adapter/xlora.c",
    "csrc/tokenizer/unicode.c",
    "csrc/tokenizer/vocab_index.c",
    "csrc/tokenizer/vocab_load.c",
    "csrc/tokenizer/special.c",
    "csrc/tokenizer/pretokenize.c",
    "csrc/tokenizer/spm.c",
    "csrc/tokenizer/bpe.c",
    "csrc/tokenizer/tokenize.c",
    "csrc/python/module.c",
    "csrc/python/errors.c",
    "csrc/python/py_gguf.c",
    "csrc/python/py_gguf_meta.c",
    "csrc/python/py_gguf_write.c",
    "csrc/python/py_log.c",
    "csrc/python/py_quant.c",
    "csrc/python/py_model.c",
    "csrc/python/py_adapter.c",
    "csrc/python/py_safetensors.c",
    "csrc/python/py_sampler.c",
    "csrc/python/py_vocab.c",
]
HEADERS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / CSRC).rglob("*.h"))


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip().lower()


def _cuda_sources() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / CSRC / "cuda").glob("*.cu"))


def _cuda_enabled() -> bool:
    mode = _env("XTRAL_CUDA", "auto")
    if mode in ("0", "off", "no", "false"):
        return False
    have_nvcc = shutil.which("nvcc") is not None
    if mode in ("1", "on", "yes", "true"):
        if not have_nvcc:
            sys.exit("XTRAL_CUDA=1 but nvcc was not found on PATH")
        return True
    if mode != "auto":
        sys.exit(f"XTRAL_CUDA must be auto, 0 or 1 (got {mode!r})")
    return have_nvcc and bool(_cuda_sources())


class BuildExt(build_ext):
    """Compile CUDA objects with nvcc (when enabled) before the C extension."""

    def build_extension(self, ext: Extension) -> None:
        if _cuda_enabled() and _cuda_sources():
            objects = self._compile_cuda(_cuda_sources())
            ext.extra_objects.extend(objects)
            ext.define_macros.append(("XT_USE_CUDA", "1"))
            cuda_home = Path(shutil.which("nvcc")).resolve().parent.parent
            ext.library_dirs.append(str(cuda_home / "lib64"))
            ext.libraries.extend(["cudart", "cublas"])
        super().build_extension(ext)

    def _compile_cuda(self, sources: list[str]) -> list[str]:
        out_dir = Path(self.build_temp) / "cuda"
        out_dir.mkdir(parents=True, exist_ok=True)
        objects = []
        for src in sources:
            obj = out_dir / (Path(src).stem + ".o")
            cmd = ["nvcc", "-O3", "-std=c++17", "-Xcompiler", "-fPIC", "-Icsrc",
                   "-gencode", "arch=compute_90,code=sm_90", "-c", src, "-o", str(obj)]
            print(" ".join(cmd))
            subprocess.check_call(cmd)
            objects.append(str(obj))
        return objects


def _compile_args() -> tuple[list[str], list[str]]:
    cflags = ["-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden", "-D_GNU_SOURCE"]
    ldflags: list[str] = []
    if _env("XTRAL_DEBUG") in ("1", "yes", "true"):
        cflags += ["-O0", "-g"]
    else:
        cflags += ["-O3"]
    if _env("XTRAL_WERROR") in ("1", "yes", "true"):
        cflags.append("-Werror")
    sanitize = _env("XTRAL_SANITIZE")
    if sanitize:
        if sanitize != "address":
            sys.exit(f"XTRAL_SANITIZE supports 'address' (ASan + UBSan), got {sanitize!r}")
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
               "-fno-sanitize-recover=undefined", "-g"]
        cflags += san
        ldflags += san
    return cflags, ldflags


CFLAGS, LDFLAGS = _compile_args()

ext = Extension(
    "xtral._core",
    sources=C_SOURCES,
    depends=HEADERS,
    include_dirs=[CSRC, numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS + ["-pthread"],
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt})
