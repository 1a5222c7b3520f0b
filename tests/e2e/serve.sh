#!/usr/bin/env bash
# labelfree index build/query + serve as a user would: build the demo index, query it from the
# CLI, start the server on a free loopback port, exercise the JSON API including malformed
# requests and path-traversal attempts (4xx expected), stop it. $LF is the CLI binary.
set -euo pipefail
LF=${LF:-./build/default/labelfree}
F=tests/parity/fixtures/index
T=$(mktemp -d)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$LF" index build --embeddings $F/images.npy --metadata $F/images.csv --molecule-metadata $F/molecules.csv \
    --fp-bits 512 --out "$T/idx" > "$T/build.json"
grep -q '"images": 46, "molecules": 23' "$T/build.json" || fail "build summary: $(cat "$T/build.json")"
[ -f "$T/idx/files/0.png" ] || fail "no thumbnail"
file "$T/idx/files/0.png" | grep -q '8-bit grayscale' || fail "16-bit source not converted to 8-bit PNG: $(file "$T/idx/files/0.png")"
# CLI query: taxol's images come first
TAXOL=$(grep '^taxol,' $F/molecules.csv | cut -d, -f2)
"$LF" index query --index "$T/idx" --smiles "$TAXOL" --k 2 > "$T/q.jsonl"
[ "$(grep -c '"compound":"taxol"' "$T/q.jsonl")" = 2 ] || fail "taxol query: $(cat "$T/q.jsonl")"
! "$LF" index query --index "$T/idx" --smiles 'C1CC(' 2> "$T/err" || fail "invalid SMILES accepted"
grep -q "position" "$T/err" || fail "no position in message: $(cat "$T/err")"

# free port
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18931)
"$LF" serve --index "$T/idx" --port "$PORT" --max-body 65536 --max-seconds 120 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/info" && break; sleep 0.1; done
B="http://127.0.0.1:$PORT"
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
expect() { local want=$1; shift; local got; got=$(code "$@"); [ "$got" = "$want" ] || fail "$* -> $got (want $want): $(head -c 300 "$T/body")"; }

expect 200 "$B/"; grep -q 'Find images' "$T/body" || fail "page"
expect 200 "$B/api/info"; grep -q '"images":46' "$T/body" || fail "info: $(cat "$T/body")"
expect 200 --get --data-urlencode "smiles=$TAXOL" "$B/api/query?k=3"
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 - "$T/body" <<'PY' || fail "query results: $(head -c 300 "$T/body")"
import json, sys
j = json.load(open(sys.argv[1])); r = j["results"]
assert j["target"] == "image" and len(r) == 3 and r[0]["compound"] == r[1]["compound"] == "taxol", j
assert r[0]["score"] >= r[1]["score"] >= r[2]["score"]
PY
else
    grep -q '"compound":"taxol"' "$T/body" || fail "query results"
fi
expect 200 "$B/api/item/0"; grep -q '"compound":"MG-132"' "$T/body" || fail "item 0"
expect 200 "$B/api/neighbors/0?k=2"; grep -q '"target":"molecule"' "$T/body" || fail "neighbors"
grep -q '"compound":"MG-132"' "$T/body" || fail "image 0's nearest molecule should be MG-132: $(cat "$T/body")"
expect 200 "$B/files/0.png"; file "$T/body" | grep -q PNG || fail "thumbnail over HTTP"
# malformed requests -> 4xx with a JSON message
expect 400 "$B/api/query?smiles=C1CC("; grep -q 'invalid SMILES' "$T/body" || fail "message"
expect 400 "$B/api/query"
expect 400 "$B/api/query?smiles=CCO&k=0"
expect 400 "$B/api/query?smiles=CCO&target=nothing"
expect 400 "$B/api/item/abc"
expect 400 "$B/api/item/-1"
expect 404 "$B/api/item/99999"
expect 404 "$B/api/nothing"
expect 405 -X DELETE "$B/api/item/0"
expect 400 -X POST --data-binary 'not an image' -H 'Content-Type: application/octet-stream' "$B/api/query/image"
grep -q 'invalid image' "$T/body" || fail "image message: $(cat "$T/body")"
expect 400 -X POST "$B/api/query/image"
head -c 200000 /dev/zero > "$T/big"
expect 413 -X POST --data-binary @"$T/big" -H 'Content-Type: application/octet-stream' "$B/api/query/image"
# a valid image: the fingerprint encoder has no image path -> 501 with a message
expect 501 -X POST --data-binary @"$F/synthetic16_0.png" -H 'Content-Type: application/octet-stream' "$B/api/query/image"
# path traversal: raw, %-encoded, absolute, symlink out of the folder
ln -s /etc "$T/idx/files/etc"
expect 403 --path-as-is "$B/files/../index.json"
expect 403 --path-as-is "$B/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd"
expect 403 --path-as-is "$B/files/..%2F..%2Fetc%2Fpasswd"
expect 403 "$B/files/etc/passwd"
expect 404 "$B/files/nope.png"
expect 403 "$B/files//etc/passwd"
expect 403 --path-as-is "$B/files/%2Fetc%2Fpasswd"
# a bounded load test with malformed requests mixed in: no failures
cc -O2 -o "$T/load_test" bench/load_test.c -lpthread
"$T/load_test" --port "$PORT" --requests 600 --threads 4 --bad 0.3 --seconds 30 || fail "load test"
# still alive and answering after all that
expect 200 "$B/api/info"
kill "$SRV"; wait "$SRV" || true; SRV=
grep -q stopped "$T/serve.log" || fail "server did not stop cleanly: $(cat "$T/serve.log")"
echo "serve e2e: ok"
