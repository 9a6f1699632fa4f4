#!/usr/bin/env bash
# ternserve-cli: output shapes outside tools parse (tokenize, generate --json,
# bench --json, perplexity) and bad model files refused with a clear message and
# a non-zero exit, never a crash.
#   cli_contract_test.sh BIN_DIR FIXTURES_DIR
set -uo pipefail
cli="$1/ternserve-cli"
fixtures="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
check() {  # check NAME CONDITION-EXIT-CODE
  if [[ "$2" == 0 ]]; then passes=$((passes + 1)); echo "ok   $1"; else failures=$((failures + 1)); echo "FAIL $1"; fi
}
expect_error() {  # expect_error NAME PATTERN CMD...
  local name="$1" pattern="$2"; shift 2
  local out status
  out="$("$@" 2>&1)"; status=$?
  if [[ $status -ne 0 && $status -lt 128 ]] && grep -q -- "$pattern" <<<"$out"; then check "$name" 0
  else echo "  exit $status, output: $(tail -c 400 <<<"$out")"; check "$name" 1; fi
}

model="$fixtures/models/tiny-gpt2-tq2_0.gguf"

# tokenize: one JSON array on one line; -f is byte for byte (trailing newline kept).
out="$("$cli" tokenize -m "$model" -p "Hello world" 2>/dev/null)"
[[ "$out" == "[15496,995]" ]]; check "tokenize -p gives GPT-2 ids [15496,995] (got $out)" $?
printf 'Hello world\n' > "$tmp/in.txt"
out="$("$cli" tokenize -m "$model" -f "$tmp/in.txt" 2>/dev/null)"
[[ "$out" == "[15496,995,198]" ]]; check "tokenize -f keeps the trailing newline (got $out)" $?
out="$("$cli" tokenize -m "$model" -p "Hi" --pieces 2>/dev/null)"
[[ "$out" == '[[17250,"Hi"]]' ]]; check "tokenize --pieces (got $out)" $?

# generate --json: exactly one JSON object on one line with the contract's fields.
out="$("$cli" generate -m "$model" -p "Hello" -n 5 --ignore-eos --json 2>/dev/null)"
$py - "$out" <<'PY'
import json, sys
lines = sys.argv[1].strip().split("\n")
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert set(o) == {"generated_ids", "text", "steps"}, o.keys()
assert len(o["generated_ids"]) == 5 and len(o["steps"]) == 5
for s, i in zip(o["steps"], o["generated_ids"]):
    assert s["id"] == i and s["logprob"] <= 0
    assert len(s["top"]) == 5 and all(len(p) == 2 for p in s["top"])
    assert s["top"][0][0] == i  # greedy by default: the chosen token is the most likely
PY
check "generate --json contract" $?
a="$("$cli" generate -m "$model" -p "Hello" -n 8 --temp 0.9 --seed 7 --ignore-eos --json 2>/dev/null)"
b="$("$cli" generate -m "$model" -p "Hello" -n 8 --temp 0.9 --seed 7 --ignore-eos --json 2>/dev/null)"
[[ -n "$a" && "$a" == "$b" ]]; check "generate: same seed, same output" $?

# bench --json: one line with per-test results.
out="$("$cli" bench -m "$model" -p 8 -n 4 -r 1 -t 1 --json 2>/dev/null)"
$py - "$out" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
tests = {r["test"]: r for r in o["results"]}
assert {"pp8", "tg4"} <= set(tests), tests.keys()
assert tests["pp8"]["tokens_per_s"] > 0 and tests["pp8"]["bandwidth_fraction"] is None
assert tests["tg4"]["bandwidth_fraction"] > 0 and tests["tg4"]["macs_per_cycle"] is None
assert all(r["threads"] == 1 for r in o["results"])
PY
check "bench --json contract" $?

# perplexity: last line "perplexity: <number>".
printf 'The quick brown fox jumps over the lazy dog. %.0s' {1..20} > "$tmp/text.txt"
out="$("$cli" perplexity -m "$model" -f "$tmp/text.txt" --ctx 64 2>/dev/null | tail -n 1)"
[[ "$out" =~ ^perplexity:\ [0-9]+\.[0-9]+$ ]]; check "perplexity last line (got $out)" $?

# Bad model files.
head -c 100000 "$model" > "$tmp/truncated.gguf"
expect_error "truncated model" "truncated" "$cli" generate -m "$tmp/truncated.gguf" -p hi -n 1
expect_error "missing model" "cannot open" "$cli" generate -m "$tmp/none.gguf" -p hi -n 1
printf 'not a model at all' > "$tmp/text.gguf"
expect_error "not a GGUF" "not a GGUF file" "$cli" inspect "$tmp/text.gguf"
"$cli" synth --shape tiny --vocab 300 -o "$tmp/small.gguf" >/dev/null 2>&1
expect_error "prompt id beyond the vocabulary" "vocabulary" "$cli" generate -m "$tmp/small.gguf" --prompt-ids 5,400 -n 1
expect_error "bad --prompt-ids" "not a token id" "$cli" generate -m "$tmp/small.gguf" --prompt-ids 5,x -n 1

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
