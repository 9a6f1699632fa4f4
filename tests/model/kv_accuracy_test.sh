#!/usr/bin/env bash
# KV cache storage types against an f32 cache on the built-in trained model over
# 4,096 held-out positions (16 windows of its 256-token context): the issue's
# targets are q8 indistinguishable (mean KL < 1e-3) and q4 mean KL < 2e-2.
# (Random fixture models amplify every perturbation through int8 rounding flips;
# `ternserve-cli kv-eval --float-activations` isolates the cache's own error there.)
#   kv_accuracy_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
out="$("$1/ternserve-cli" kv-eval -f "$2/config/models/kjv-heldout.txt" --tokens 4096 --json 2>/dev/null)"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
limits = {"f16": 1e-3, "q8": 1e-3, "q4": 2e-2}
results = json.loads(sys.argv[1])["results"]
failed = 0
for r in results:
    ok = r["mean_kl"] < limits[r["kv_type"]] and r["positions"] == 4096
    failed += not ok
    print(f'{"ok  " if ok else "FAIL"} {r["kv_type"]}: {r["positions"]} positions, greedy agreement {r["greedy_agreement"]:.4f}, '
          f'mean KL {r["mean_kl"]:.2e} (limit {limits[r["kv_type"]]:.0e}), {r["bytes_per_token"]} bytes/token')
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed or len(results) != 3 else 0)
PY
