#!/usr/bin/env bash
# CLOOME end to end: (1) 5-channel 16-bit TIFF pairs (multi-page files and ';'-stacked channel
# files) -> pretrain --method clip, resume, evaluate-retrieval; (2) the committed BBBC021
# profile pairs -> pretrain --method cloob (small MLPs) -> evaluate-retrieval; bad manifests
# fail naming the line.
set -eu
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
F=tests/e2e/fixtures/cloome

# (1) images
"$LF" pretrain --method clip --data $F/pairs.csv --out "$T/img" --arch resnet18 --stem cifar --width 8 \
    --image-size 16 --embed-dim 16 --mol-hidden 32 --mol-layers 2 --epochs 2 --batch-size 6 --quiet \
    --learnable-temperature --threads 2
for f in config.json metrics.jsonl checkpoint.safetensors model.safetensors; do [ -s "$T/img/$f" ]; done
[ "$(wc -l < "$T/img/metrics.jsonl")" -eq 4 ]   # 12 train pairs / 6 = 2 steps x 2 epochs
grep -q '"channels": 5' "$T/img/config.json"
grep -q '"radius": 3' <(head -c 8192 "$T/img/model.safetensors" | tr -d '\\')
# resume: 2 more epochs continue at step 4
"$LF" pretrain --method clip --data $F/pairs.csv --out "$T/img" --arch resnet18 --stem cifar --width 8 \
    --image-size 16 --embed-dim 16 --mol-hidden 32 --mol-layers 2 --epochs 4 --batch-size 6 --resume \
    --learnable-temperature --threads 2 2> "$T/resume.log"
grep -q "resuming .* at step 4" "$T/resume.log"
[ "$(wc -l < "$T/img/metrics.jsonl")" -eq 8 ]
"$LF" evaluate-retrieval --model "$T/img" --data $F/pairs.csv --out "$T/img/eval" > /dev/null
[ -s "$T/img/eval/report.json" ]
[ -s "$T/img/eval/report.md" ]
# numbers in range: R@k in [0, 1], mean rank in [1, candidates], random R@1 = 1/2 (2 test molecules)
python_free_get() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | awk '{print $2}'; }
r1=$(python_free_get "R@1" "$T/img/eval/report.json")
mr=$(python_free_get "mean_rank" "$T/img/eval/report.json")
awk -v a="$r1" -v m="$mr" 'BEGIN { exit !(a >= 0 && a <= 1 && m >= 1 && m <= 2) }'
grep -q '"test_compounds": 2' "$T/img/eval/report.json"
grep -q "| whole test set | sample→molecule | 2.0 |.*| 0.500 | 1.000 | 1.000 | 1.50 |" "$T/img/eval/report.md"

# (2) BBBC021 profiles, CLOOB
D=data/bbbc021-pairs
"$LF" pretrain --method cloob --data $D/pairs.csv --out "$T/bb" --embed-dim 64 --profile-hidden 128 \
    --profile-layers 1 --mol-hidden 128 --mol-layers 2 --epochs 3 --batch-size 64 --quiet --threads 2
"$LF" evaluate-retrieval --model "$T/bb" --data $D/pairs.csv --out "$T/bb/eval" > /dev/null
grep -q '"test_compounds": 7' "$T/bb/eval/report.json"
grep -q '"baseline_moa_nn_train_profiles"' "$T/bb/eval/report.json"
grep -q "MoA, nearest training profile (baseline" "$T/bb/eval/report.md"

# errors name the manifest line
printf 'smiles,features\nCCO,%s/profiles.npy#0\nCCN,%s/profiles.npy#99999\n' "$PWD/$D" "$PWD/$D" > "$T/bad.csv"
if "$LF" pretrain --method clip --data "$T/bad.csv" --out "$T/bad" --quiet 2> "$T/err"; then echo "bad row accepted"; exit 1; fi
grep -q "bad.csv line 3" "$T/err"
printf 'image,smiles\nnope.tif;x.tif,CCO\n' > "$T/bad2.csv"
if "$LF" pretrain --method clip --data "$T/bad2.csv" --out "$T/bad" --quiet 2> "$T/err"; then echo "missing image accepted"; exit 1; fi
grep -q "bad2.csv line 2: image 'nope.tif' not found" "$T/err"
echo "cloome e2e ok"
