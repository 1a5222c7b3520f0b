#!/usr/bin/env bash
# CLOOME index: train a small CLIP model on the BBBC021 profile pairs, `index build --model
# --data` embeds every well and every distinct molecule with it, then queries encode with the
# model: a SMILES (molecule tower) finds wells, a profile row (sample tower) finds molecules,
# from the CLI and through `serve`; malformed input is refused. $LF is the CLI binary.
set -euo pipefail
LF=${LF:-./build/default/labelfree}
D=data/bbbc021-pairs
T=$(mktemp -d)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$LF" pretrain --method clip --data $D/pairs.csv --out "$T/run" --embed-dim 64 --profile-hidden 128 \
    --profile-layers 1 --mol-hidden 128 --mol-layers 2 --epochs 30 --batch-size 62 --quiet --threads 2 --seed 0
"$LF" index build --model "$T/run" --data $D/pairs.csv --out "$T/idx" > "$T/build.json" 2> "$T/build.log"
grep -q '"images": 172, "molecules": 23, "dim": 64' "$T/build.json" || fail "build summary: $(cat "$T/build.json")"
grep -q '"encoder": "model"' "$T/idx/index.json" || fail "manifest: $(cat "$T/idx/index.json")"
cmp -s "$T/run/model.safetensors" "$T/idx/model.safetensors" || fail "model not copied into the index"
# the index carries its model: it still answers with the run folder gone
rm -rf "$T/run"

# (1) SMILES -> wells. Every training compound must find at least one of its own wells in the
# top 10 of 172 (a random ranking: ~0.4 expected per compound, all 16 at once ~never).
tail -n +2 $D/pairs.csv | awk -F, '!seen[$3]++ { print $1 "\t" $3 "\t" $5 }' > "$T/mols.tsv"
[ "$(wc -l < "$T/mols.tsv")" = 23 ] || fail "expected 23 compounds"
total=0; ntrain=0
while IFS=$'\t' read -r smi comp split; do
    "$LF" index query --index "$T/idx" --smiles "$smi" --k 10 > "$T/q.jsonl"
    [ "$(wc -l < "$T/q.jsonl")" = 10 ] || fail "$comp: $(wc -l < "$T/q.jsonl") hits"
    grep -q '"kind":"molecule"' "$T/q.jsonl" && fail "$comp: SMILES query returned molecules"
    n=$(grep -c "\"compound\":\"$comp\"" "$T/q.jsonl" || true)
    if [ "$split" = train ]; then
        [ "$n" -ge 1 ] || fail "training compound $comp: none of its wells in the top 10"
        total=$((total + n)); ntrain=$((ntrain + 1))
    fi
done < "$T/mols.tsv"
[ "$ntrain" = 16 ] || fail "expected 16 training compounds, got $ntrain"
echo "SMILES -> wells: $total of 160 top-10 hits are wells of the queried training compound"
[ "$total" -ge 48 ] || fail "only $total of 160 top-10 hits are own-compound wells"

# (2) the model's molecule encoding of a SMILES equals the stored molecule vector (cosine 1)
TAXOL=$(awk -F'\t' '$2 == "taxol" { print $1 }' "$T/mols.tsv")
"$LF" index query --index "$T/idx" --smiles "$TAXOL" --target molecule --k 1 > "$T/q.jsonl"
grep -q '"compound":"taxol"' "$T/q.jsonl" || fail "taxol not its own nearest molecule: $(cat "$T/q.jsonl")"
awk 'match($0, /"score":[0-9.e+-]*/) { s = substr($0, RSTART + 8, RLENGTH - 8); exit !(s > 0.9999 && s < 1.0001) }' \
    "$T/q.jsonl" || fail "taxol self-score: $(cat "$T/q.jsonl")"

# (3) profile row -> molecules: every 4th training well; its own compound must rank first for
# at least 3/4 of them (7 % by chance); and the single-query encoding must reproduce the
# batched build's vector (query by --features = query by the stored --id)
ok=0; tot=0
while IFS=, read -r r comp split; do
    [ $((r % 4)) = 0 ] && [ "$split" = train ] || continue
    "$LF" index query --index "$T/idx" --features "$D/profiles.npy#$r" --k 3 > "$T/f.jsonl"
    grep -q '"kind":"image"' "$T/f.jsonl" && fail "row $r: profile query returned wells"
    head -1 "$T/f.jsonl" | grep -q "\"compound\":\"$comp\"" && ok=$((ok + 1))
    tot=$((tot + 1))
    if [ "$tot" -le 3 ]; then
        "$LF" index query --index "$T/idx" --id "$r" --k 3 > "$T/i.jsonl"
        paste -d'\n' <(grep -o '"id":[0-9]*,"score":[0-9.e+-]*' "$T/f.jsonl") \
                     <(grep -o '"id":[0-9]*,"score":[0-9.e+-]*' "$T/i.jsonl") |
            awk -F'[:,]' 'NR % 2 { id = $2; s = $4; next } { if ($2 != id || (s - $4) > 1e-5 || ($4 - s) > 1e-5) exit 1 }' ||
            fail "row $r: --features and --id disagree: $(cat "$T/f.jsonl") vs $(cat "$T/i.jsonl")"
    fi
done < <(tail -n +2 $D/pairs.csv | awk -F, '{ print NR - 1 "," $3 "," $5 }')
echo "profile -> molecule: own compound first for $ok of $tot training wells"
[ "$tot" -ge 25 ] && [ $((ok * 4)) -ge $((tot * 3)) ] || fail "profile -> molecule top-1 $ok / $tot"
# errors: a row out of range, an image given to a profile model, a malformed SMILES
! "$LF" index query --index "$T/idx" --features "$D/profiles.npy#9999" 2> "$T/err" || fail "row 9999 accepted"
grep -q "out of range" "$T/err" || fail "message: $(cat "$T/err")"
! "$LF" index query --index "$T/idx" --smiles 'CC(C' 2> "$T/err" || fail "invalid SMILES accepted"
grep -q "position" "$T/err" || fail "no position in message: $(cat "$T/err")"

# (4) the server encodes with the model too
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18937)
"$LF" serve --index "$T/idx" --port "$PORT" --max-seconds 60 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/info" && break; sleep 0.1; done
B="http://127.0.0.1:$PORT"
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
expect() { local want=$1; shift; local got; got=$(code "$@"); [ "$got" = "$want" ] || fail "$* -> $got (want $want): $(head -c 300 "$T/body")"; }
expect 200 "$B/api/info"; grep -q '"encoder":"model' "$T/body" || fail "info: $(cat "$T/body")"
expect 200 --get --data-urlencode "smiles=$TAXOL" "$B/api/query?k=10"
# the same ranking as the CLI
"$LF" index query --index "$T/idx" --smiles "$TAXOL" --k 10 > "$T/q.jsonl"
[ "$(grep -o '"id":[0-9]*' "$T/body" | tr '\n' ' ')" = "$(grep -o '"id":[0-9]*' "$T/q.jsonl" | tr '\n' ' ')" ] ||
    fail "server and CLI rankings differ"
[ "$(grep -o '"compound":"taxol"' "$T/body" | wc -l)" -ge 1 ] || fail "server: no taxol well in the top 10"
expect 200 --get --data-urlencode "smiles=$TAXOL" "$B/api/query?k=1&target=molecule"
grep -q '"compound":"taxol"' "$T/body" || fail "server molecule query: $(cat "$T/body")"
expect 400 --get --data-urlencode "smiles=C1CC(" "$B/api/query"
grep -q 'position' "$T/body" || fail "400 without position: $(cat "$T/body")"
expect 400 --get --data-urlencode "smiles=Xx" "$B/api/query"
expect 404 "$B/files/model.safetensors"   # the model lies outside INDEX/files/: not served
expect 200 "$B/api/neighbors/0?k=3"; grep -q '"kind":"molecule"' "$T/body" || fail "neighbors of a well: $(cat "$T/body")"
# an image uploaded to a profile model: refused, saying what the model takes
cp tests/parity/fixtures/index/synthetic16_0.png "$T/x.png"
expect 400 --data-binary @"$T/x.png" "$B/api/query/image"
grep -q 'feature vectors' "$T/body" || fail "image upload to a profile model: $(cat "$T/body")"
kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=

# (5) an image model (5-channel 16-bit TIFF fixture): --image and an upload to the server are
# encoded by the ResNet exactly as the build embedded the stored image
F=tests/e2e/fixtures/cloome
"$LF" pretrain --method clip --data $F/pairs.csv --out "$T/img" --arch resnet18 --stem cifar --width 8 \
    --image-size 16 --embed-dim 16 --mol-hidden 32 --mol-layers 2 --epochs 2 --batch-size 6 --quiet --threads 2
"$LF" index build --model "$T/img" --data $F/pairs.csv --out "$T/imgidx" > "$T/build.json" 2> "$T/build.log"
grep -q '"images": 18, "molecules": 6, "dim": 16, "approx": "none", "thumbnails": 18' "$T/build.json" ||
    fail "image build: $(cat "$T/build.json")"
same_hits() { # two query outputs: same ids, scores within 1e-5
    paste -d'\n' <(grep -o '"id":[0-9]*,"score":[0-9.e+-]*' "$1") <(grep -o '"id":[0-9]*,"score":[0-9.e+-]*' "$2") |
        awk -F'[:,]' 'NR % 2 { id = $2; s = $4; n++; next } { if ($2 != id || (s - $4) > 1e-5 || ($4 - s) > 1e-5) exit 1 } END { exit n < 3 }'
}
"$LF" index query --index "$T/imgidx" --image $F/c0_s1.tif --k 3 > "$T/a.jsonl"   # row 1 of the manifest
"$LF" index query --index "$T/imgidx" --id 1 --k 3 > "$T/b.jsonl"
same_hits "$T/a.jsonl" "$T/b.jsonl" || fail "--image and --id differ: $(cat "$T/a.jsonl") vs $(cat "$T/b.jsonl")"
! "$LF" index query --index "$T/imgidx" --image $F/c0_s0_ch0.tif 2> "$T/err" || fail "1-channel image accepted"
grep -q "the model takes 5" "$T/err" || fail "message: $(cat "$T/err")"
"$LF" serve --index "$T/imgidx" --port "$PORT" --max-seconds 60 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do curl -s -o /dev/null "$B/api/info" && break; sleep 0.1; done
expect 200 --data-binary @$F/c0_s1.tif "$B/api/query/image?k=3"
tr '{' '\n' < "$T/body" | grep -o '"id":[0-9]*,"score":[0-9.e+-]*' > "$T/c.jsonl"
same_hits "$T/c.jsonl" "$T/b.jsonl" || fail "upload ranking: $(cat "$T/body")"
expect 200 --get --data-urlencode "smiles=CCO" "$B/api/query?k=2"
grep -q '"kind":"image"' "$T/body" || fail "SMILES on the image index: $(cat "$T/body")"
kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=
echo "cloome index e2e ok"
