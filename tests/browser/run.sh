#!/usr/bin/env bash
# The web page in a real browser (Debian's chromium, headless): build the demo index, serve it on
# a free loopback port, load the page with a SMILES in the URL (the page runs the query on
# load), dump the DOM after the JavaScript ran and check it holds result cards of the right
# compound with thumbnails; save a screenshot (OUT, default build/browser/serve.png) and check it
# is a PNG that is not blank. Usage: LF=./build/default/labelfree bash tests/browser/run.sh
set -euo pipefail
LF=${LF:-./build/default/labelfree}
OUT=${OUT:-build/browser/serve.png}
CHROME=${CHROME:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROME" ] || { echo "SKIP: no chromium (apt-get install chromium)"; exit 0; }
F=tests/parity/fixtures/index
T=$(mktemp -d)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$LF" index build --embeddings $F/images.npy --metadata $F/images.csv --molecule-metadata $F/molecules.csv \
    --fp-bits 512 --out "$T/idx" > /dev/null
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$LF" serve --index "$T/idx" --port "$PORT" --max-seconds 60 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/info" && break; sleep 0.1; done
TAXOL=$(grep '^taxol,' $F/molecules.csv | cut -d, -f2)
URL="http://127.0.0.1:$PORT/?smiles=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$TAXOL")"
FLAGS=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir="$T/profile"
       --virtual-time-budget=5000 --window-size=1200,900)
timeout 60 "$CHROME" "${FLAGS[@]}" --dump-dom "$URL" > "$T/dom.html" 2> "$T/chrome.log" || fail "chromium --dump-dom: $(tail -5 "$T/chrome.log")"
cards=$(grep -o 'class="card"' "$T/dom.html" | wc -l)
[ "$cards" -ge 2 ] || fail "no result cards in the DOM after the query ($cards): $(grep -o '<div id="status"[^<]*' "$T/dom.html")"
grep -q 'data-state="done"' "$T/dom.html" || fail "query did not finish"
first=$(grep -o '<div class="cmp">[^<]*' "$T/dom.html" | head -2 | sed 's/.*>//' | sort -u)
[ "$first" = "taxol" ] || fail "first two cards should be taxol, got: $first"
grep -q '<img src="/files/' "$T/dom.html" || fail "cards without thumbnails"
mkdir -p "$(dirname "$OUT")"
timeout 60 "$CHROME" "${FLAGS[@]}" --screenshot="$OUT" "$URL" 2>> "$T/chrome.log" || fail "chromium --screenshot"
/usr/bin/python3 - "$OUT" <<'PY' || fail "screenshot check"
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
assert im.size == (1200, 900), im.size
colors = im.getcolors(1 << 20)
assert colors is not None and len(colors) > 50, "screenshot looks blank"
# the header bar (#234) is at the top; thumbnails add dark pixels in the grid area
assert im.getpixel((5, 5)) == (0x22, 0x33, 0x44), im.getpixel((5, 5))
print("screenshot", sys.argv[1], im.size, len(colors), "colours")
PY
echo "browser test: ok ($cards result cards)"
