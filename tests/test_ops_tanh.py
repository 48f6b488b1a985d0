"""The vectorized tanh of the float GELU (csrc/ops/tanh.c) against its scalar form and libm.

tests/ops/tanh_check.c is compiled with ops/tanh.c and checks, on ~5M inputs (a stride over
all bit patterns, dense ranges, every branch threshold, Inf/NaN), that the 8-lane AVX2 version
gives the scalar version's bits at every block alignment, and that the scalar version gives the
C library's tanhf bits where that is fdlibm's (glibc before 2.41: this platform's).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_tanh_lanes_match_scalar_and_libm(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.fail("gcc not found: the tanh check builds its harness with gcc")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    exe = tmp_path / "tanh_check"
    build = subprocess.run(
        ["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", f"-I{ROOT / 'csrc'}",
         "-o", str(exe), str(ROOT / "tests/ops/tanh_check.c"), str(ROOT / "csrc/ops/tanh.c"),
         str(ROOT / "csrc/core/cpu_features.c"), "-lm"],
        capture_output=True, text=True, env=env, timeout=120)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and out.rstrip().endswith(" 0 failed"), out
    lib, version = platform.libc_ver()
    if lib == "glibc" and tuple(int(v) for v in version.split(".")[:2]) < (2, 41):
        assert "libm comparison: yes" in out, out
