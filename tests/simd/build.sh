#!/usr/bin/env bash
# build.sh — builds tests/simd/simd_emulated.c: the x86 SIMD kernels compiled against SIMDe
# (so the AVX-512 code runs on any CPU) plus the scalar reference kernels; optionally runs it.
#
#   tests/simd/build.sh [OUT_DIR]        build OUT_DIR/simd_emulated (default: a folder under
#                                        ${TMPDIR:-/tmp})
#   tests/simd/build.sh run [OUT_DIR]    build, then run it (exit status: the harness's)
#
# Needs SIMDe's headers (Debian/Ubuntu: apt-get install -y libsimde-dev); exits 3 with a
# message saying so when they are missing. Environment: CC (default gcc), SIMDE_CFLAGS (extra
# flags, e.g. -I/path/to/simde/include for a checkout).
# On a CPU with AVX2/FMA/F16C the 256-bit intrinsics map to the real instructions (SIMDe
# passes them through under -mavx2 -mfma -mf16c) and only the 512-bit ones are emulated;
# elsewhere everything is emulated.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cc="${CC:-gcc}"

run=0
if [ "${1:-}" = "run" ]; then
    run=1
    shift
fi
out="${1:-${TMPDIR:-/tmp}/xtral-simd-emulated}"
mkdir -p "$out"

read -r -a extra <<<"${SIMDE_CFLAGS:-}"
if ! echo '#include <simde/x86/avx512.h>' | "$cc" "${extra[@]}" -E -x c - >/dev/null 2>&1; then
    echo "build.sh: SIMDe headers not found (<simde/x86/avx512.h>); install libsimde-dev" \
         "(apt-get install -y libsimde-dev) or point SIMDE_CFLAGS at a SIMDe include dir" >&2
    exit 3
fi

base=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$root/csrc" "${extra[@]}")
simd=(-DXT_X86_TEST_SIMDE -Wno-psabi)
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo &&
   grep -qw f16c /proc/cpuinfo; then
    simd+=(-mavx2 -mfma -mf16c)
fi

cd "$root"
pids=()
objs=()
compile() {  # object, flags and source...
    local obj="$out/$1"
    shift
    objs+=("$obj")
    "$cc" "$@" -c -o "$obj" &
    pids+=($!)
}
compile avx2.o "${base[@]}" "${simd[@]}" -Dxt_quant_kernels_fill_avx2=xt_test_fill_avx2 \
    csrc/quant/arch/x86_avx2.c
compile avx2_gemm.o "${base[@]}" "${simd[@]}" \
    -Dxt_quant_kernels_fill_avx2_gemm=xt_test_fill_avx2_gemm csrc/quant/arch/x86_avx2_gemm.c
compile avx2_gemm_k.o "${base[@]}" "${simd[@]}" \
    -Dxt_quant_kernels_fill_avx2_gemm_k=xt_test_fill_avx2_gemm_k \
    csrc/quant/arch/x86_avx2_gemm_k.c
compile avx2_gemv.o "${base[@]}" "${simd[@]}" \
    -Dxt_quant_kernels_fill_avx2_gemv=xt_test_fill_avx2_gemv csrc/quant/arch/x86_avx2_gemv.c
compile avx512.o "${base[@]}" "${simd[@]}" -DXT_X86_TEST_SIMDE_VNNI=0 \
    -Dxt_quant_kernels_fill_avx512=xt_test_fill_avx512 csrc/quant/arch/x86_avx512.c
compile avx512_vnni.o "${base[@]}" "${simd[@]}" -DXT_X86_TEST_SIMDE_VNNI=1 \
    -Dxt_quant_kernels_fill_avx512=xt_test_fill_avx512_vnni csrc/quant/arch/x86_avx512.c
compile harness.o "${base[@]}" tests/simd/simd_emulated.c
# the reference kernels, compiled as in the library (portable flags, no SIMDe)
refs=(core/status core/dtype quant/float_types quant/q4_q5 quant/q8 quant/iq4_mxfp4
      quant/k_fit quant/k_quants_low quant/k_quants_high)
for r in "${refs[@]}"; do
    compile "ref_${r//\//_}.o" "${base[@]}" "csrc/$r.c"
done
status=0
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
if [ $status -ne 0 ]; then
    echo "build.sh: compilation failed" >&2
    exit 2
fi
"$cc" "${objs[@]}" -pthread -lm -o "$out/simd_emulated"
echo "build.sh: built $out/simd_emulated"
if [ $run -eq 1 ]; then
    exec "$out/simd_emulated"
fi
