#!/bin/sh
# Reproduces config/models/ternserve-kjv-i2_s.gguf and ternserve-kjv.json from scratch.
# Needs scripts/install-train-deps.sh and a built build/bin/ternserve-cli.  About an hour
# on 2 cores (both runs in parallel, one thread each).
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
W=${WORK:-/tmp/ternserve-train}
CLI=${CLI:-build/bin/ternserve-cli}
mkdir -p "$W"
export OMP_WAIT_POLICY=PASSIVE   # spinning OpenMP threads collapse throughput on a shared machine
$PY scripts/train/corpus.py --train-out "$W/kjv-train.txt" --heldout-out config/models/kjv-heldout.txt
$PY scripts/train/bpe.py --corpus "$W/kjv-train.txt" --vocab-size 3072 --out "$W/tokenizer.json"
COMMON="--threads 1 --batch 12 --steps 480 --warmup 30 --eval-every 80 --seed 1234"
nice -n 10 $PY scripts/train/train.py --out "$W/ternary" $COMMON > "$W/ternary.out" 2>&1 &
T=$!
nice -n 10 $PY scripts/train/train.py --out "$W/fp" --full-precision $COMMON > "$W/fp.out" 2>&1 &
F=$!
wait $T
wait $F
$PY scripts/convert_hf.py "$W/ternary" -o config/models/ternserve-kjv-i2_s.gguf --name ternserve-kjv
$PY scripts/convert_hf.py "$W/ternary" -o "$W/ternserve-kjv-tq2_0.gguf" --type tq2_0 --name ternserve-kjv
$PY scripts/train/check_tokenizer.py --cli "$CLI" --model config/models/ternserve-kjv-i2_s.gguf \
  --tokenizer "$W/tokenizer.json" config/models/kjv-heldout.txt | tee "$W/tokcheck.txt"
P1=$($CLI perplexity -m config/models/ternserve-kjv-i2_s.gguf -f config/models/kjv-heldout.txt | awk '/^perplexity:/ {print $2}')
P2=$($CLI perplexity -m "$W/ternserve-kjv-tq2_0.gguf" -f config/models/kjv-heldout.txt | awk '/^perplexity:/ {print $2}')
$PY scripts/train/write_model_card.py --ternary "$W/ternary/results.json" --fp "$W/fp/results.json" \
  --gguf config/models/ternserve-kjv-i2_s.gguf --gguf-tq2 "$W/ternserve-kjv-tq2_0.gguf" \
  --cpp-ppl-i2s "$P1" --cpp-ppl-tq2 "$P2" --tokenizer-check "$(tail -n 1 "$W/tokcheck.txt")" \
  --out config/models/ternserve-kjv.json
