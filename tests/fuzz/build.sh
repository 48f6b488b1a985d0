#!/usr/bin/env bash
# build.sh — builds the libFuzzer targets (GGUF, safetensors, JSON, tokenizer) against the C core (no
# Python), and optionally runs them.
#
#   tests/fuzz/build.sh              build tests/fuzz/{gguf,safetensors,json,vocab}_fuzz
#   tests/fuzz/build.sh run [SECS]   build, then fuzz for SECS seconds in all (default 60; a quarter
#                                    per target) starting from a copy of tests/fuzz/corpus/<target>;
#                                    exits non-zero on a finding.
#                                    New inputs go to a temporary directory (the committed corpus
#                                    is left as is); crash-*/leak-*/timeout-* files land in
#                                    tests/fuzz/out/ (GGUF: crash-*, replayed by
#                                    tests/test_fuzz_corpus.py; the others: safetensors-crash-*,
#                                    json-crash-*, vocab-crash-*, replayed by
#                                    tests/test_safetensors.py, tests/test_json.py and
#                                    tests/test_tokenizer_fuzz_corpus.py).
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
# The safetensors and JSON readers need only these core files.
st_sources=(csrc/core/status.c csrc/core/mmap.c csrc/core/strmap.c csrc/gguf/json.c
            csrc/gguf/safetensors.c)
for t in safetensors json; do
    if ! "$cc" "${flags[@]}" "tests/fuzz/${t}_fuzz.c" "${st_sources[@]}" -pthread -lm -o "$here/${t}_fuzz"; then
        echo "build.sh: build of ${t}_fuzz failed" >&2
        exit 2
    fi
done
# The tokenizer reads its vocabulary through the GGUF reader.
text_sources=(csrc/core/*.c csrc/gguf/*.c csrc/tokenizer/*.c)
if ! "$cc" "${flags[@]}" tests/fuzz/vocab_fuzz.c "${text_sources[@]}" -pthread -lm -o "$here/vocab_fuzz"; then
    echo "build.sh: build of vocab_fuzz failed" >&2
    exit 2
fi

[ "${1:-}" = "run" ] || exit 0

total="${2:-60}"
seconds=$(( total / 4 > 0 ? total / 4 : 1 ))  # the four targets share the time
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$here/out"

status=0
for t in gguf safetensors json vocab; do
    prefix="$here/out/"
    [ "$t" = gguf ] || prefix="$here/out/$t-"
    mkdir -p "$work/$t"
    cp "$here/corpus/$t"/* "$work/$t/" 2>/dev/null || true
    echo "build.sh: fuzzing ${t}_fuzz for ${seconds}s (corpus copy in $work/$t, findings in tests/fuzz/out/)"
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$here/${t}_fuzz" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$prefix" "$work/$t" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "build.sh: FINDING in ${t}_fuzz (exit $status); reproduce with: $here/${t}_fuzz $prefix<file>" >&2
        ls -l "$here/out" >&2 || true
        exit 1
    fi
done
echo "build.sh: no findings in ${total}s"
