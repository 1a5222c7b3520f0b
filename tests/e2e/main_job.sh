#!/usr/bin/env bash
# The main job end to end on the shipped sample: evaluate (pretrain, embed, probe, supervised
# baseline, cross-site) writes a complete report; embed + probe work on their own.
set -eu
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
D=data/wbc-sample/manifest.csv
# an output folder whose parent does not exist yet, as runs/wbc-sample in a fresh checkout
EV="$T/runs/wbc-sample"
"$LF" evaluate --data "$D" --out "$EV" --width 8 --image-size 24 --epochs 2 --batch-size 32 \
    --warmup-epochs 1 --repeats 2 --supervised-min-steps 4 --quiet --seed 3
for f in report.json report.md embeddings.npy label_efficiency.svg loss.svg embeddings_by_label.svg \
         embeddings_by_site.svg pretrain/model.safetensors pretrain/config.json pretrain/metrics.jsonl \
         supervised-f1/model.safetensors; do
    [ -s "$EV/$f" ] || { echo "missing $f"; exit 1; }
done
grep -q '"probe_linear"' "$EV/report.json"
grep -q '"cross_site"' "$EV/report.json"
grep -q '| bccd |' "$EV/report.md"
# three label fractions, each with a linear row, a k-NN row and a supervised row
[ "$(grep -c '| SimCLR + linear |' "$EV/report.md")" -eq 3 ]
[ "$(grep -c '| | supervised |' "$EV/report.md")" -eq 3 ]
# balanced accuracies are numbers in [0, 1]
python_free_check() { awk -F'|' '/SimCLR \+ linear/ { split($5, a, " "); if (a[1] < 0 || a[1] > 1) exit 1 }' "$1"; }
python_free_check "$EV/report.md"
# embed + probe as separate commands
"$LF" embed --model "$EV/pretrain" --data "$D" --out "$T/emb.npy" 2> /dev/null
[ -s "$T/emb.ids.csv" ]
[ "$(wc -l < "$T/emb.ids.csv")" -eq 151 ]
head -c 128 "$T/emb.npy" | grep -q "'shape': (150, 64)"
"$LF" probe --embeddings "$T/emb.npy" --data "$D" --label-fractions 0.1,1 --repeats 2 \
    --classifier knn --out "$T/probe.json" > "$T/probe.txt" 2> /dev/null
grep -q '"k": 20' "$T/probe.json"
[ "$(wc -l < "$T/probe.txt")" -eq 3 ]
# the embeddings of evaluate and of embed are the same model's
cmp "$T/emb.npy" "$EV/embeddings.npy"
echo "main job e2e ok"
