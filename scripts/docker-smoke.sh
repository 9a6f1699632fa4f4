#!/usr/bin/env bash
# Smoke test of the container's runtime path, without a container engine: runs the
# image's entry point (docker/entrypoint.sh, or the staged copy next to the binary) the
# way the image does, on a model, and checks what Docker/Kubernetes rely on:
#   - the init-container mode `fetch-model` (download by URL, sha256 check, idempotent),
#   - the binary finds all its shared libraries,
#   - options from TERNSERVE_* + the shipped config file (config/ternserve.json),
#   - /health answers 503 (loading) or 200, then 200 within the deadline,
#   - one completion, one streamed completion (SSE ends with [DONE]), auth (401 without key),
#   - SIGTERM drains (a stream running at SIGTERM completes) and exits 0 within the
#     shutdown timeout; when this machine allows a
#     PID namespace, the server runs as PID 1 there, as in a container.
#
#   scripts/docker-smoke.sh BIN_DIR MODEL_GGUF
#
# Used by scripts/docker-build.sh (on the staged files, in the image's build stage) and
# by ctest (tests/deploy, on the build's bin dir and a fixture model). Talks only to
# 127.0.0.1, on a port the kernel picks (TERNSERVE_PORT=0; the bound port is read from
# the log), every wait is bounded, and the server is killed on any exit.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BIN_DIR MODEL_GGUF" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$(cd "$1" && pwd)"
model="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
deadline_s="${SMOKE_DEADLINE_S:-60}"

entrypoint="$bin_dir/docker-entrypoint.sh"
[[ -x "$entrypoint" ]] || entrypoint="$root/docker/entrypoint.sh"
[[ -x "$bin_dir/ternserve" ]] || { echo "smoke: no $bin_dir/ternserve" >&2; exit 1; }
[[ -f "$model" ]] || { echo "smoke: no model $model" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ternserve-smoke.XXXXXX")"
server_pid=""
launcher_pid=""
cleanup() {
  local status=$?
  for pid in $server_pid $launcher_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ -n "$launcher_pid" ]]; then wait "$launcher_pid" 2>/dev/null || true; fi
  if ((status != 0)) && [[ -f "$tmp/server.log" ]]; then
    echo "---- server log ----" >&2
    tail -n 40 "$tmp/server.log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
step() { echo "smoke: $*"; }

# A clean option environment: only what this test sets reaches the server.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^TERNSERVE_' || true)
export PATH="$bin_dir:$PATH"

# --- shared libraries --------------------------------------------------------------
if ldd "$bin_dir/ternserve" | grep -q 'not found'; then
  ldd "$bin_dir/ternserve" >&2
  fail "ternserve misses shared libraries"
fi
step "shared libraries resolve"

# --- init-container mode: fetch-model ----------------------------------------------
sha="$(sha256sum "$model" | cut -d' ' -f1)"
fetched="$tmp/models/$(basename "$model")"
TERNSERVE_MODEL="$fetched" MODEL_URL="file://$model" MODEL_SHA256="$sha" \
  timeout 60 "$entrypoint" fetch-model 2>"$tmp/fetch.log" || { cat "$tmp/fetch.log" >&2; fail "fetch-model"; }
cmp -s "$model" "$fetched" || fail "fetch-model wrote a different file"
TERNSERVE_MODEL="$fetched" MODEL_URL="file://$model" MODEL_SHA256="$sha" \
  timeout 60 "$entrypoint" fetch-model 2>"$tmp/fetch.log" || fail "fetch-model (second run)"
grep -q 'already present' "$tmp/fetch.log" || fail "fetch-model downloaded again"
if TERNSERVE_MODEL="$tmp/models/bad.gguf" MODEL_URL="file://$model" MODEL_SHA256="$(printf '0%.0s' {1..64})" \
  timeout 60 "$entrypoint" fetch-model 2>/dev/null; then
  fail "fetch-model accepted a wrong sha256"
fi
[[ ! -e "$tmp/models/bad.gguf" && ! -e "$tmp/models/bad.gguf.part" ]] || fail "fetch-model left a bad file"
step "fetch-model: download, checksum, idempotence"

# --- start the server the way the image does ---------------------------------------
api_key="smoke-$RANDOM$RANDOM"
export TERNSERVE_HOST=127.0.0.1 TERNSERVE_PORT=0 TERNSERVE_MODEL="$fetched"
export TERNSERVE_THREADS=1 TERNSERVE_PARALLEL=2 TERNSERVE_KV_MEMORY=64MiB
export TERNSERVE_SHUTDOWN_TIMEOUT=5 TERNSERVE_API_KEY="$api_key" TERNSERVE_LOG_LEVEL=info
[[ -f "$root/config/ternserve.json" ]] && export TERNSERVE_CONFIG="$root/config/ternserve.json"

# As PID 1 of a new PID namespace when allowed (root, no seccomp veto); plain otherwise.
as_pid1=0
if [[ "${SMOKE_PID1:-auto}" != 0 ]] && command -v pgrep >/dev/null &&
  unshare --pid --fork --kill-child true 2>/dev/null; then
  as_pid1=1
fi
if ((as_pid1)); then
  unshare --pid --fork --kill-child "$entrypoint" >"$tmp/server.log" 2>&1 &
  launcher_pid=$!
  for _ in $(seq 50); do
    server_pid="$(pgrep -P "$launcher_pid" || true)"
    [[ -n "$server_pid" ]] && break
    sleep 0.1
  done
  [[ -n "$server_pid" ]] || fail "no server process under unshare"
else
  "$entrypoint" >"$tmp/server.log" 2>&1 &
  server_pid=$!
fi
start=$SECONDS

port=""
while [[ -z "$port" ]]; do
  kill -0 "$server_pid" 2>/dev/null || fail "server exited before listening"
  ((SECONDS - start < deadline_s)) || fail "no 'listening on' line within ${deadline_s}s"
  port="$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$tmp/server.log" | head -n1)"
  [[ -n "$port" ]] || sleep 0.1
done
base="http://127.0.0.1:$port"
step "listening on $base (pid $server_pid$( ((as_pid1)) && echo ', PID 1 in its namespace'))"

code=""
while [[ "$code" != 200 ]]; do
  kill -0 "$server_pid" 2>/dev/null || fail "server exited while loading"
  ((SECONDS - start < deadline_s)) || fail "/health not 200 within ${deadline_s}s (last: $code)"
  code="$(curl -s -o "$tmp/health.json" -w '%{http_code}' --max-time 5 "$base/health" || true)"
  case "$code" in
    200) ;;
    503) sleep 0.2 ;;
    000) sleep 0.2 ;;
    *) fail "/health answered $code: $(cat "$tmp/health.json")" ;;
  esac
done
grep -q '"ok"' "$tmp/health.json" || fail "/health body: $(cat "$tmp/health.json")"
step "/health 200 after $((SECONDS - start))s"

post() {  # post PATH BODY OUT [auth] -> prints the status code
  local auth=(-H "Authorization: Bearer $api_key")
  [[ "${4:-auth}" == auth ]] || auth=()
  curl -s -o "$3" -w '%{http_code}' --max-time 60 "${auth[@]}" \
    -H 'Content-Type: application/json' -d "$2" "$base$1" || true
}

body='{"prompt":"In the beginning","max_tokens":8,"temperature":0,"seed":1}'
code="$(post /v1/completions "$body" "$tmp/completion.json" none)"
[[ "$code" == 401 ]] || fail "completion without the API key answered $code, not 401"
code="$(post /v1/completions "$body" "$tmp/completion.json")"
[[ "$code" == 200 ]] || fail "completion answered $code: $(cat "$tmp/completion.json")"
grep -q '"text_completion"' "$tmp/completion.json" || fail "completion body: $(cat "$tmp/completion.json")"
grep -q '"choices"' "$tmp/completion.json" || fail "completion has no choices"
grep -q '"completion_tokens"' "$tmp/completion.json" || fail "completion has no usage"
step "completion: $(head -c 300 "$tmp/completion.json")"

body='{"prompt":"And God said","max_tokens":8,"stream":true}'
code="$(post /v1/completions "$body" "$tmp/stream.txt")"
[[ "$code" == 200 ]] || fail "streamed completion answered $code"
grep -q '^data: {' "$tmp/stream.txt" || fail "stream has no data chunks"
[[ "$(grep -v '^$' "$tmp/stream.txt" | tail -n1)" == "data: [DONE]" ]] || fail "stream does not end with [DONE]"
step "streamed completion: $(grep -c '^data: {' "$tmp/stream.txt") chunks + [DONE]"

# --- graceful stop: SIGTERM while a stream runs; the stream must still complete --------
# Long enough to be running at SIGTERM, short enough to finish inside the 5 s drain.
body='{"prompt":"In the beginning","max_tokens":64,"ignore_eos":true,"stream":true}'
curl -s -N --max-time 60 -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
  -d "$body" -o "$tmp/drain.txt" "$base/v1/completions" &
drain_curl=$!
for _ in $(seq 100); do
  grep -q '^data: {' "$tmp/drain.txt" 2>/dev/null && break
  sleep 0.05
done
kill -TERM "$server_pid"
stop_start=$SECONDS
while kill -0 "$server_pid" 2>/dev/null; do
  ((SECONDS - stop_start < TERNSERVE_SHUTDOWN_TIMEOUT + 15)) || fail "still running $((SECONDS - stop_start))s after SIGTERM"
  if ((as_pid1)) && ! kill -0 "$launcher_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if ((as_pid1)); then
  wait "$launcher_pid" && status=0 || status=$?
else
  wait "$server_pid" && status=0 || status=$?
fi
server_pid="" launcher_pid=""
((status == 0)) || fail "exit status $status after SIGTERM"
grep -q 'stopped' "$tmp/server.log" || fail "no 'stopped' in the log"
wait "$drain_curl" || fail "the stream running at SIGTERM failed (curl status $?)"
[[ "$(grep -v '^$' "$tmp/drain.txt" | tail -n1)" == "data: [DONE]" ]] || fail "the stream running at SIGTERM was cut off"
grep -q '"finish_reason":"length"' "$tmp/drain.txt" ||
  fail "the stream running at SIGTERM did not finish normally: $(grep finish_reason "$tmp/drain.txt" | grep -v null | tail -n1)"
step "stream in flight at SIGTERM completed ($(grep -c '^data: {' "$tmp/drain.txt") chunks + [DONE])"
step "SIGTERM: drained and exited 0 in $((SECONDS - stop_start))s"
echo "smoke: PASS"
