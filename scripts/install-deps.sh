#!/usr/bin/env bash
# Installs everything ternserve needs to build, test and run on Debian 12.
# Idempotent: packages already present are skipped. Used by the README's two
# quick-start commands, by .ci/run and by docker/Dockerfile.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --runtime  only what the server binary needs at run time
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

# runtime_pkgs: the packages of every library `ldd ternserve` lists (scripts/docker-build.sh checks).
runtime_pkgs=(libc6 libgcc-s1 libstdc++6 libcpp-httplib0.11 libssl3 zlib1g libbrotli1 libpcre2-8-0 libspdlog1.10 libfmt9 ca-certificates curl)
build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libcpp-httplib-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsimde-dev  # tests run the AVX-512 kernels on SIMDe's portable intrinsics
  python3 python3-numpy python3-yaml
  nodejs npm
  curl ca-certificates
)

pkgs=("${build_pkgs[@]}")
with_node=1
if [[ "${1:-}" == "--runtime" ]]; then
  pkgs=("${runtime_pkgs[@]}")
  with_node=0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node may come from elsewhere than Debian (e.g. a preinstalled nodesource build):
# then the Debian nodejs/npm packages are neither needed nor installable alongside.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]}")
fi

if ((${#missing[@]})); then
  echo "[install-deps] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] Debian packages already installed"
fi

# Node packages for the end-to-end tests (official openai client) and the Llama 3
# tokenizer reference. A stamp of the lock file's hash makes reruns free.
if ((with_node)) && [[ -f "$root/tests/e2e/package-lock.json" ]]; then
  lock_hash="$(sha256sum "$root/tests/e2e/package-lock.json" | cut -d' ' -f1)"
  stamp="$root/tests/e2e/node_modules/.ternserve-lock-sha256"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
    echo "[install-deps] npm ci (tests/e2e)"
    (cd "$root/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" > "$stamp"
  else
    echo "[install-deps] node packages already installed"
  fi
fi
