#!/usr/bin/env bash
# Rebuilds xtral._core in place with ASan + UBSan, runs the test suite with the sanitizer
# runtime preloaded (leak checking on), then restores the normal build.
# Usage: bash tests/run_sanitized.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
XTRAL_SANITIZE=address python3 setup.py -q build_ext --inplace --force
rc=0
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp" \
    python3 -m pytest -q -p no:cacheprovider "${@:-tests}" || rc=$?
python3 setup.py -q build_ext --inplace --force
exit $rc
