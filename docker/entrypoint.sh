#!/bin/sh
# Entry point of the ternserve image (and of scripts/docker-smoke.sh, which runs the
# staged copy of this file outside any container, so what the smoke test proves is
# what the container does).
#
#   entrypoint.sh [ternserve flags...]   start the server (options also from TERNSERVE_*)
#   entrypoint.sh fetch-model            init-container mode: put a model at $TERNSERVE_MODEL
#                                        (download MODEL_URL, check MODEL_SHA256, or link the
#                                        built-in model when MODEL_URL is empty), then exit
#   entrypoint.sh COMMAND [ARGS...]      run another program (sh, ternserve-cli, ...)
#
# The server itself reads every option from flags > TERNSERVE_* > the --config /
# TERNSERVE_CONFIG file > defaults, and sizes its defaults (threads, KV budget) to the
# container's CPU and memory limits (cgroups) on its own.
set -eu

log() { echo "[entrypoint] $*" >&2; }

# Where ternserve looks for its built-in model: PREFIX/share/ternserve/models beside
# PREFIX/bin/ternserve (TS_DEFAULT_MODEL_INSTALLED in server/CMakeLists.txt).
builtin_model() {
  bin="$(command -v ternserve)" || { log "ternserve is not on PATH"; exit 127; }
  echo "$(cd "$(dirname "$bin")/.." && pwd)/share/ternserve/models/ternserve-kjv-i2_s.gguf"
}

# fetch-model: idempotent (a file already at the target is kept when its checksum fits),
# atomic (download to a temporary name, then rename), bounded (curl timeouts + retries).
fetch_model() {
  target="${TERNSERVE_MODEL:-}"
  if [ -z "$target" ]; then
    log "fetch-model: TERNSERVE_MODEL (the path to fill) is not set"
    exit 2
  fi
  mkdir -p "$(dirname "$target")"
  url="${MODEL_URL:-}"
  sha="${MODEL_SHA256:-}"
  if [ -z "$url" ]; then
    if [ ! -e "$target" ]; then
      builtin="$(builtin_model)"
      ln -s "$builtin" "$target"
      log "fetch-model: no MODEL_URL; $target -> built-in $builtin"
    fi
    exit 0
  fi
  if [ -s "$target" ] && { [ -z "$sha" ] || echo "$sha  $target" | sha256sum -c --status; }; then
    log "fetch-model: $target already present"
    exit 0
  fi
  tmp="$target.part"
  log "fetch-model: downloading $url -> $target"
  curl -fL --retry 5 --retry-delay 2 --connect-timeout 20 --speed-time 60 --speed-limit 1024 \
    -o "$tmp" "$url"
  if [ -n "$sha" ] && ! echo "$sha  $tmp" | sha256sum -c --status; then
    log "fetch-model: sha256 of the download does not match MODEL_SHA256"
    rm -f "$tmp"
    exit 1
  fi
  mv -f "$tmp" "$target"
  log "fetch-model: done ($(wc -c < "$target") bytes)"
  exit 0
}

case "${1:-}" in
  fetch-model) fetch_model ;;
  "" | -*) ;;                        # server flags (or none): fall through to ternserve
  ternserve) shift ;;                # `docker run IMAGE ternserve --port 9000` works too
  *) exec "$@" ;;
esac

# compose.yaml passes TERNSERVE_MODEL through even when the user left it empty; an empty
# variable would still override the config file's "model", so empty means unset here.
if [ -z "${TERNSERVE_MODEL:-}" ]; then unset TERNSERVE_MODEL; fi

if [ -n "${TERNSERVE_MODEL:-}" ] && [ ! -e "$TERNSERVE_MODEL" ]; then
  dir="$(dirname "$TERNSERVE_MODEL")"
  log "TERNSERVE_MODEL=$TERNSERVE_MODEL does not exist. GGUF files in $dir:"
  find "$dir" -maxdepth 1 -name '*.gguf' 2>/dev/null | sed 's/^/  /' >&2 || true
  exit 2
fi

# exec: ternserve becomes PID 1 of the container. It blocks SIGTERM/SIGINT and takes them
# with sigwait, so they reach it as PID 1 too (the kernel drops only unblocked signals
# with default handlers for PID 1); it then drains for --shutdown-timeout seconds.
exec ternserve "$@"
