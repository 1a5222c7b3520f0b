#!/usr/bin/env bash
# A model written by labelfree loads into torchvision's ResNet-18 with load_state_dict(strict=True)
# and gives the same embeddings as `labelfree embed`. Needs Debian's python3-torch and
# python3-torchvision; skipped (with a message) without them.
set -eu
LF=${LF:-./build/default/labelfree}
PY=/usr/bin/python3
if ! $PY -c 'import torch, torchvision, PIL' 2>/dev/null; then
    echo "skipped: python3-torch / python3-torchvision not installed"; exit 0
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/imgs"
$PY - "$T/imgs" <<'PYEOF'
import os, sys
from PIL import Image
src = "data/wbc-sample"
for f in sorted(x for x in os.listdir(src) if x.endswith(".png"))[:12]:
    Image.open(os.path.join(src, f)).convert("RGB").resize((32, 32), Image.BILINEAR).save(os.path.join(sys.argv[1], f))
PYEOF
"$LF" pretrain --data "$T/imgs" --out "$T/run" --width 64 --image-size 32 --epochs 2 \
    --batch-size 6 --warmup-epochs 0 --quiet
"$LF" embed --model "$T/run" --data "$T/imgs" --out "$T/emb.npy" 2> /dev/null
$PY tests/parity/check_torch_interop.py "$T/run/model.safetensors" "$T/imgs" "$T/emb.npy"
