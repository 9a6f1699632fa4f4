#!/usr/bin/env bash
# End-to-end tests: starts `ternserve` on the fixture model on a free loopback port, waits
# for /health, runs the node tests (official `openai` npm client), stops the server with
# SIGTERM (it must exit 0) and exits with the tests' status.
# Usage: bash tests/e2e/run.sh BIN_DIR   (BIN_DIR holds the ternserve binary)
set -uo pipefail
bin_dir="$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
model="${TERNSERVE_E2E_MODEL:-$root/../shared/fixtures/models/tiny-gpt2-tq2_0.gguf}"
api_key="e2e-key"

if [[ ! -d "$here/node_modules/openai" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
log="$(mktemp)"
"$bin_dir/ternserve" --model "$model" --host 127.0.0.1 --port "$port" --ctx-size 512 \
  --threads 2 --parallel 8 --kv-memory 64MiB --api-key "$api_key" --log-level warn >"$log" 2>&1 &
pid=$!
cleanup() {
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  rm -f "$log"
}
trap cleanup EXIT

# Wait for /health 200 (503 while the model loads).
ready=0
for _ in $(seq 1 600); do
  if ! kill -0 "$pid" 2>/dev/null; then echo "ternserve exited early:"; cat "$log"; exit 1; fi
  if node -e "fetch('http://127.0.0.1:$port/health').then(r=>process.exit(r.status===200?0:1)).catch(()=>process.exit(1))"; then
    ready=1
    break
  fi
  sleep 0.2
done
if ((ready == 0)); then echo "ternserve did not become healthy:"; cat "$log"; exit 1; fi

(cd "$here" && TERNSERVE_URL="http://127.0.0.1:$port" TERNSERVE_API_KEY="$api_key" \
  node --test --test-concurrency=1 ./*.test.mjs)
tests_rc=$?

kill -TERM "$pid"
wait "$pid"
server_rc=$?
if ((server_rc != 0)); then
  echo "ternserve exited with $server_rc after SIGTERM (expected 0):"
  cat "$log"
  ((tests_rc == 0)) && tests_rc=1
fi
exit "$tests_rc"
