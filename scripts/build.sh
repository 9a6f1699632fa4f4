#!/usr/bin/env bash
# Configures and builds ternserve. The same commands serve the README, CI and
# docker/Dockerfile.
#   scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# Binaries land in BUILD_DIR/bin (default BUILD_DIR: build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$root/build}"
shift || true
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
jobs="${TERNSERVE_BUILD_JOBS:-$(nproc)}"
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
elif (($#)); then
  cmake "$build_dir" "$@"
fi
cmake --build "$build_dir" -j "$jobs"
