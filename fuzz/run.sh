#!/usr/bin/env bash
# Builds and runs the SMILES fuzzer for N seconds (default 180). Needs clang (apt-get install clang).
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-180}
mkdir -p build/fuzz/corpus
for s in CCO c1ccccc1 'C[C@@H](N)C(=O)O' 'O=[N+]([O-])c1ccc2[nH]ccc2c1' '[2H]C.[Na+]' 'C%10CC%10' 'F/C=C\F' 'C[C@H]1CC[C@@H](C)CC1' '[H]/C1=C/CCCCCCC1' 'C[S@](=O)CC'; do
    printf '%s' "$s" > "build/fuzz/corpus/$(echo "$s" | md5sum | cut -c1-8)"
done
clang -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Iinclude -Isrc \
    -fsanitize=fuzzer,address,undefined fuzz/fuzz_smiles.c src/chem/*.c src/core/error.c src/core/memory.c \
    -o build/fuzz/fuzz_smiles -lm
./build/fuzz/fuzz_smiles -max_total_time="$SECS" -max_len=256 build/fuzz/corpus
