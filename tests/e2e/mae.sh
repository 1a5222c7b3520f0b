#!/usr/bin/env bash
# MAE end to end on the shipped blood-cell sample: pretrain --method mae (a small ViT) learns
# (the masked-patch loss falls), allocates nothing in steady steps, writes a model whose encoder
# `embed` reads, resumes after a kill with the same weights (the masks come from the step's
# random stream), and refuses bad flags with a message naming them.
set -eu
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. tests/e2e/lib/kill_after_metrics.sh
D=data/wbc-sample/manifest.csv
args=(--method mae --data "$D" --out "$T/run" --width 32 --depth 2 --heads 2 --patch 4
      --image-size 16 --decoder-width 16 --decoder-depth 1 --decoder-heads 2 --epochs 8
      --batch-size 16 --lr 2e-3 --warmup-epochs 1 --checkpoint-every 1 --threads 2 --seed 3 --quiet)
"$LF" pretrain "${args[@]}" 2> "$T/err"
grep -q "allocations in steady-state training steps: 0$" "$T/err" || { cat "$T/err"; exit 1; }
grep -q '"method": "mae"' "$T/run/config.json" || { echo "config.json lacks the method"; exit 1; }
# the loss falls: mean of the last 5 steps below 0.7 of the first step's
awk -F'"loss": ' '{ split($2, a, ","); l[NR] = a[1] } END {
    s = 0; for (i = NR - 4; i <= NR; i++) s += l[i]; s /= 5
    printf "mae loss: first step %.3f, last 5 steps %.3f\n", l[1], s
    exit !(s < 0.7 * l[1]) }' "$T/run/metrics.jsonl" || { echo "the MAE loss did not fall"; exit 1; }
# the file holds MAE's decoder and a sin-cos encoder that embed loads (rows = items, dim 32)
grep -q 'decoder_pred.weight' "$T/run/model.safetensors" || { echo "no decoder in the model"; exit 1; }
grep -q 'sincos' "$T/run/model.safetensors" || { echo "encoder metadata lacks sincos"; exit 1; }
"$LF" embed --model "$T/run" --data "$D" --out "$T/emb.npy" 2> /dev/null
n=$(($(wc -l < "$D") - 1))
head -c 128 "$T/emb.npy" | grep -q "'shape': ($n, 32)" || { head -c 128 "$T/emb.npy"; echo; echo "embedding shape"; exit 1; }
# killed and resumed: the same weights as the run above
mv "$T/run/model.safetensors" "$T/uninterrupted.safetensors"
rm -rf "$T/run"
kill_after_metrics "$T/run/metrics.jsonl" 8 "$LF" pretrain "${args[@]}"
"$LF" pretrain "${args[@]}" --resume 2> "$T/err"
grep -q "resuming .* at step [1-9]" "$T/err" || { cat "$T/err"; echo "did not resume"; exit 1; }
cmp "$T/run/model.safetensors" "$T/uninterrupted.safetensors" || { echo "resumed weights differ"; exit 1; }
# bad flags
expect() { # expect WHAT MESSAGE cmd...
    local what=$1 msg=$2; shift 2
    if "$@" 2> "$T/e"; then echo "$what accepted"; exit 1; fi
    grep -q -- "$msg" "$T/e" || { echo "$what: message lacks '$msg':"; cat "$T/e"; exit 1; }
}
expect "mae on a resnet" "--arch must be vit for --method mae" "$LF" pretrain --method mae --arch resnet18 --data "$D" --out "$T/x"
expect "mask ratio 1" "--mask-ratio" "$LF" pretrain --method mae --mask-ratio 1 --data "$D" --out "$T/x"
expect "patch not dividing" "--patch" "$LF" pretrain --method mae --patch 5 --data "$D" --out "$T/x"
expect "unknown method" "--method byol is not available" "$LF" pretrain --method byol --data "$D" --out "$T/x"
echo "mae e2e ok"
