"""The x86 SIMD kernels, AVX-512 included, against the scalar reference kernels on any CPU.

tests/simd/build.sh compiles quant/arch/x86_avx2.c and x86_avx512.c (plain and VNNI) against
SIMDe's portable intrinsics (XT_X86_TEST_SIMDE), links them with the reference kernels of
quant/*.c and tests/simd/simd_emulated.c, which checks every entry of the three tables: vec_dot
within 1e-6 * sum|w_i a_i| of xt_vec_dot_<t> on random and edge-case rows, quantize_act byte for
byte against xt_quant_act_*. tests/test_quant_simd.py covers the natively built kernels of the
levels this CPU has; this test is what covers AVX-512 on a machine without it.
SIMDe (Debian/Ubuntu: libsimde-dev) is a test requirement: without it the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "tests" / "simd" / "build.sh"


def test_simd_kernels_match_reference_under_simde(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.fail("gcc not found: the emulated SIMD test builds its harness with gcc")
    # The compiler must not inherit a sanitizer runtime preloaded for this interpreter.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    build = subprocess.run(["bash", str(BUILD), str(tmp_path)], capture_output=True, text=True,
                           env={**env, "CC": "gcc"}, timeout=300)
    if build.returncode == 3:
        pytest.fail("SIMDe headers are missing: install libsimde-dev "
                    "(apt-get install -y libsimde-dev)\n" + build.stderr)
    assert build.returncode == 0, f"build failed:\n{build.stdout}\n{build.stderr}"
    run = subprocess.run([str(tmp_path / "simd_emulated")], capture_output=True, text=True, env=env,
                         timeout=120)
    out = run.stdout + run.stderr
    summary = [line for line in out.splitlines() if line.endswith(" failed")]
    assert summary, f"no summary line in the harness output:\n{out}"
    assert run.returncode == 0 and summary[-1].endswith(" 0 failed"), out
