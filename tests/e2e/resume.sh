#!/usr/bin/env bash
# A killed pretraining run resumes from its last checkpoint and ends with the same weights as
# an uninterrupted run (same seed and thread count: the run is deterministic).
set -eu
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. tests/e2e/lib/kill_after_metrics.sh
D=data/wbc-sample/manifest.csv
args=(--data "$D" --out "$T/run" --width 8 --image-size 24 --epochs 4 --batch-size 16
      --warmup-epochs 1 --checkpoint-every 1 --threads 2 --seed 11 --quiet)
"$LF" pretrain "${args[@]}"
mv "$T/run/model.safetensors" "$T/uninterrupted.safetensors"
rm -rf "$T/run"
# the same run, killed (SIGKILL) once a few checkpoints exist, then resumed
kill_after_metrics "$T/run/metrics.jsonl" 5 "$LF" pretrain "${args[@]}"
[ ! -e "$T/run/model.safetensors" ] || { echo "killed run left a model file"; exit 1; }
# a kill during a checkpoint write leaves its temporary file; the resumed run's next write
# removes it (a stand-in for that case is planted here, with a pid that no longer runs)
sh -c 'exit 0' & dead=$!; wait $dead
touch "$T/run/checkpoint.safetensors.tmp.$(uname -n).$dead"
"$LF" pretrain "${args[@]}" --resume 2> "$T/err"
ls "$T/run"/*.tmp.* 2>/dev/null && { echo "temporary file left behind after resuming"; exit 1; }
grep -q "resuming .* at step [1-9]" "$T/err" || { cat "$T/err"; ls -la "$T/run"; echo "did not resume"; exit 1; }
cmp "$T/run/model.safetensors" "$T/uninterrupted.safetensors" || { echo "resumed weights differ"; exit 1; }
# every step once in the metrics, in order (steps after the last checkpoint are not repeated)
[ "$(sed -E 's/^\{"step": ([0-9]+),.*/\1/' "$T/run/metrics.jsonl" | tr '\n' ' ')" = "$(seq 0 19 | tr '\n' ' ')" ] ||
    { echo "metrics.jsonl steps are not 0..19 once each"; cat "$T/run/metrics.jsonl"; exit 1; }
# --recompute (blocks recomputed in backward) trains the same weights bit for bit; the files
# differ only in the header, whose metadata records the flag
"$LF" pretrain "${args[@]}" --out "$T/rc" --recompute
grep -q '"recompute": true' "$T/rc/config.json" || { echo "config.json lacks recompute"; exit 1; }
tensors() { n=$(od -An -t u8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1"; }
cmp <(tensors "$T/rc/model.safetensors") <(tensors "$T/uninterrupted.safetensors") ||
    { echo "weights with --recompute differ"; exit 1; }
echo "resume e2e ok"
