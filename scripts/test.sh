#!/usr/bin/env bash
# The README's test command: installs every dependency, builds, and runs the
# whole test suite (unit + integration through ctest, then the end-to-end tests
# with the official openai client). Then the unit tests again under
# ASan/UBSan (skip with TERNSERVE_SKIP_SANITIZE=1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh
bash scripts/build.sh "$root/build"

echo "== ctest (Release) =="
ctest --test-dir "$root/build" --output-on-failure -j 2 --timeout 900

if [[ -f "$root/tests/e2e/run.sh" ]]; then
  echo "== end-to-end (openai npm client) =="
  bash "$root/tests/e2e/run.sh" "$root/build/bin"
fi

if [[ "${TERNSERVE_SKIP_SANITIZE:-0}" != 1 ]]; then
  echo "== ctest (ASan + UBSan) =="
  bash scripts/build.sh "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERNSERVE_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure -j 2 --timeout 1800 -LE slow
fi
echo "== all tests passed =="
