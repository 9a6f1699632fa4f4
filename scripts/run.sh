#!/usr/bin/env bash
# The README's run command: installs dependencies, builds, and starts the server
# on the built-in model (or pass --model FILE and any other ternserve option).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$root/build"
exec "$root/build/bin/ternserve" "$@"
