#!/usr/bin/env bash
# build.sh — builds the GGUF libFuzzer target against the C core (no Python), and optionally
# runs it.
#
#   tests/fuzz/build.sh              build tests/fuzz/gguf_fuzz
#   tests/fuzz/build.sh run [SECS]   build, then fuzz for SECS seconds (default 60) starting from
#                                    a copy of tests/fuzz/corpus/gguf; exits non-zero on a finding.
#                                    New inputs go to a temporary directory (the committed corpus
#                                    is left as is); crash-*/leak-*/timeout-* files land in
#                                    tests/fuzz/out/, where tests/test_fuzz_corpus.py replays them.
#
# Needs clang with the libFuzzer runtime (Debian/Ubuntu: apt-get install -y clang libclang-rt-14-dev).
# Environment: CC (default clang).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cc="${CC:-clang}"
bin="$here/gguf_fuzz"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "build.sh: $cc not found; install it with: apt-get install -y clang libclang-rt-14-dev" >&2
    exit 2
fi

cd "$root"
shopt -s nullglob
sources=(csrc/core/*.c csrc/gguf/*.c)
if [ ${#sources[@]} -eq 0 ]; then
    echo "build.sh: no C sources under csrc/core or csrc/gguf" >&2
    exit 2
fi

flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Icsrc)
echo "build.sh: $cc ${flags[*]} tests/fuzz/gguf_fuzz.c ${sources[*]} -o $bin"
if ! "$cc" "${flags[@]}" tests/fuzz/gguf_fuzz.c "${sources[@]}" -pthread -lm -o "$bin"; then
    echo "build.sh: build failed (missing libFuzzer runtime? apt-get install -y libclang-rt-14-dev)" >&2
    exit 2
fi

[ "${1:-}" = "run" ] || exit 0

seconds="${2:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$here/out"
cp "$here"/corpus/gguf/* "$work/corpus/" 2>/dev/null || true

echo "build.sh: fuzzing for ${seconds}s (corpus copy in $work/corpus, findings in tests/fuzz/out/)"
status=0
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -artifact_prefix="$here/out/" "$work/corpus" || status=$?

if [ "$status" -ne 0 ]; then
    echo "build.sh: FINDING (exit $status); reproduce with: $bin $here/out/<file>" >&2
    ls -l "$here/out" >&2 || true
    exit 1
fi
echo "build.sh: no findings in ${seconds}s"
