#!/usr/bin/env bash
# The built-in trained model: the engine's held-out perplexity must be within 1%
# of the training code's figure recorded in config/models/ternserve-kjv.json
# (both use the protocol written there), and the model must generate.
#   builtin_perplexity_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
cli="$1/ternserve-cli"
models="$2/config/models"
expected="$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ternary']['heldout_perplexity'])" "$models/ternserve-kjv.json")"
measured="$("$cli" perplexity -f "$models/kjv-heldout.txt" 2>/dev/null | tail -n 1 | sed 's/^perplexity: //')"
echo "training code: $expected  engine (default model): $measured"
/usr/bin/python3 - "$expected" "$measured" <<'PY'
import sys
expected, measured = map(float, sys.argv[1:])
rel = abs(measured - expected) / expected
print(f"relative difference {rel:.2e} (limit 1e-2)")
sys.exit(0 if rel < 1e-2 else 1)
PY
text="$("$cli" generate -p "And God said" -n 12 --ignore-eos 2>/dev/null)"
echo "greedy: $text"
[[ ${#text} -gt 20 ]]
echo "2 passed, 0 failed"
