#!/usr/bin/env bash
# Bad input gets a clear error naming the file/row/flag and a non-zero exit, never a crash.
set -u
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect "what" "pattern in stderr" cmd...
    local what=$1 pat=$2; shift 2
    "$@" > /dev/null 2> "$T/err"; local rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! grep -q -- "$pat" "$T/err"; then
        echo "FAIL $what (exit $rc):"; cat "$T/err"; fail=1
    fi
}
S=data/wbc-sample
cp "$S"/images/*.png "$T/" 2>/dev/null || cp "$S"/*.png "$T/" 2>/dev/null
first=$(ls "$T"/*.png | head -1); b=$(basename "$first")
printf 'path,label\n%s,a\nmissing.png,b\n' "$b" > "$T/m1.csv"
expect "manifest row pointing nowhere" "m1.csv line 3" "$LF" pretrain --data "$T/m1.csv" --out "$T/r"
head -c 300 "$first" > "$T/trunc.png"
printf 'path,label\n%s,a\ntrunc.png,b\n' "$b" > "$T/m2.csv"
expect "truncated image" "trunc.png" "$LF" pretrain --data "$T/m2.csv" --out "$T/r"
printf 'path,label\n%s,a\n%s,a\n' "$b" "$b" > "$T/m3.csv"
expect "one class only" "m3.csv" "$LF" train --supervised --data "$T/m3.csv" --out "$T/r"
expect "unknown flag" "unknown flag --epoch" "$LF" pretrain --data "$T/m3.csv" --out "$T/r" --epoch 3
expect "bad number" "--epochs expects an integer" "$LF" pretrain --data "$T/m3.csv" --out "$T/r" --epochs x
expect "missing model" "model.safetensors" "$LF" embed --model "$T/none" --data "$T/m3.csv" --out "$T/e.npy"
printf 'not a model' > "$T/bad.safetensors"
expect "garbage model" "bad.safetensors" "$LF" embed --model "$T/bad.safetensors" --data "$T/m3.csv" --out "$T/e.npy"
expect "unknown command" "unknown command" "$LF" pretrian
[ $fail -eq 0 ] && echo "bad input e2e ok"
exit $fail
