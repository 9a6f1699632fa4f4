#!/usr/bin/env bash
# What the image's build stage runs (docker/Dockerfile), kept here so it is the same
# code path as CI and can run without a container engine:
#   1. scripts/install-deps.sh and scripts/build.sh (exactly what CI runs),
#   2. stages the runtime files under STAGE as they lie in the image:
#        PREFIX/bin/ternserve                      (stripped copy)
#        PREFIX/bin/docker-entrypoint.sh           (docker/entrypoint.sh)
#        PREFIX/share/ternserve/models/ternserve-kjv-i2_s.gguf  (the built-in model, where
#                                                  the binary looks for it: TS_DEFAULT_MODEL_INSTALLED)
#        PREFIX/share/ternserve/ternserve.json     (config/ternserve.json, every option + default)
#        PREFIX/share/ternserve/runtime-libs.txt   (ldd of the binary: library, path, Debian package)
#      and fails when a library's Debian package is missing from install-deps.sh's
#      runtime_pkgs (what the runtime stage installs with `install-deps.sh --runtime`),
#   3. runs scripts/docker-smoke.sh on the staged binary and model.
#
#   scripts/docker-build.sh [--stage DIR] [--build-dir DIR] [--skip-build] [--no-smoke]
#                           [--model FILE]
#   --stage DIR      staging root (default BUILD_DIR/docker-stage; the Dockerfile uses /stage)
#   --build-dir DIR  build directory (default: build, as CI)
#   --skip-build     stage from an existing build (no install-deps.sh / build.sh)
#   --no-smoke       skip step 3
#   --model FILE     stage FILE as the built-in model (default config/models/ternserve-kjv-i2_s.gguf)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build"
stage=""
skip_build=0
smoke=1
model="$root/config/models/ternserve-kjv-i2_s.gguf"
while (($#)); do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --no-smoke) smoke=0; shift ;;
    --model) model="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker-build: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
stage="${stage:-$build_dir/docker-stage}"
say() { echo "[docker-build] $*"; }

if ((!skip_build)); then
  bash "$root/scripts/install-deps.sh"
  if [[ -f "$build_dir/CMakeCache.txt" ]]; then
    bash "$root/scripts/build.sh" "$build_dir"
  else
    # A fresh build dir (the image's build stage): the server and tools only, no tests.
    bash "$root/scripts/build.sh" "$build_dir" -DTERNSERVE_BUILD_TESTS=OFF
  fi
fi

binary="$build_dir/bin/ternserve"
[[ -x "$binary" ]] || { echo "docker-build: no $binary (build first)" >&2; exit 1; }
if [[ ! -f "$model" ]]; then
  echo "docker-build: the built-in model $model does not exist." >&2
  echo "  Train it (scripts/train/make_model.sh) or pass --model FILE." >&2
  exit 1
fi

prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")"
prefix="${prefix:-/usr/local}"
builtin_path="$prefix/share/ternserve/models/ternserve-kjv-i2_s.gguf"
# The binary must look for the built-in model exactly where the image puts it.
if ! grep -qaF "$builtin_path" "$binary"; then
  echo "docker-build: $binary does not look for the built-in model at $builtin_path" >&2
  exit 1
fi
say "staging into $stage (prefix $prefix)"
rm -rf "$stage"
install -d "$stage$prefix/bin" "$stage$prefix/share/ternserve/models"
install -m 0755 "$binary" "$stage$prefix/bin/ternserve"
if command -v strip >/dev/null; then strip --strip-unneeded "$stage$prefix/bin/ternserve"; fi
install -m 0755 "$root/docker/entrypoint.sh" "$stage$prefix/bin/docker-entrypoint.sh"
install -m 0644 "$model" "$stage$builtin_path"
install -m 0644 "$root/config/ternserve.json" "$stage$prefix/share/ternserve/ternserve.json"

# Shared libraries -> Debian packages; each must be in install-deps.sh's runtime_pkgs.
runtime_pkgs=" $(sed -n 's/^runtime_pkgs=(\(.*\))$/\1/p' "$root/scripts/install-deps.sh") "
[[ -n "${runtime_pkgs// /}" ]] || { echo "docker-build: cannot read runtime_pkgs from install-deps.sh" >&2; exit 1; }
libs_file="$stage$prefix/share/ternserve/runtime-libs.txt"
missing=()
while read -r lib path; do
  [[ "$path" == "not" ]] && { echo "docker-build: $lib not found by ldd" >&2; exit 1; }
  pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true)"
  pkg="${pkg%%:*}"
  [[ -n "$pkg" ]] || { echo "docker-build: $path belongs to no Debian package" >&2; exit 1; }
  printf '%s %s %s\n' "$lib" "$path" "$pkg" >> "$libs_file"
  [[ "$runtime_pkgs" == *" $pkg "* ]] || missing+=("$pkg")
done < <(ldd "$binary" | awk '$2 == "=>" { print $1, $3 }')
if ((${#missing[@]})); then
  echo "docker-build: add to runtime_pkgs in scripts/install-deps.sh: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')" >&2
  exit 1
fi
say "runtime libraries ($(wc -l < "$libs_file")) all come from runtime_pkgs"

if ((smoke)); then
  bash "$root/scripts/docker-smoke.sh" "$stage$prefix/bin" "$stage$builtin_path"
fi
say "done: $(du -sh "$stage" | cut -f1) staged"
