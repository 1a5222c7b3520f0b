#!/usr/bin/env bash
# labelfree fingerprint: TSV matches RDKit's shared reference bits (if ../shared is there),
# .npy has the right shape, an invalid SMILES fails naming the row, --skip-invalid reports it,
# --chirality tells enantiomers apart with RDKit's bits.
set -eu
LF=${LF:-./build/default/labelfree}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
printf 'smiles,y\nCCO,1\nc1ccccc1O,0\nC1CC,1\nCN(=O)=O,0\n' > "$T/m.csv"
if "$LF" fingerprint --input "$T/m.csv" --out "$T/a.tsv" 2> "$T/err"; then echo "invalid row accepted"; exit 1; fi
grep -q "row 2" "$T/err"
grep -q "position 1" "$T/err"
"$LF" fingerprint --input "$T/m.csv" --out "$T/a.tsv" --skip-invalid 2> "$T/err"
grep -q "row 2 (line 4) skipped" "$T/err"
[ "$(wc -l < "$T/a.tsv")" -eq 4 ]
if grep -q '^2	' "$T/a.tsv"; then echo "skipped row 2 written"; exit 1; fi
grep -q '^0	80 222 294 807 1057 1410$' "$T/a.tsv"   # RDKit's bits for ethanol
"$LF" fingerprint --input "$T/m.csv" --out "$T/c.npy" --skip-invalid --counts --radius 3 --bits 1024 2> /dev/null
head -c 128 "$T/c.npy" | grep -q "'shape': ( *4, 1024)"
# --chirality (CLOOME's radius 3 / 1024): L- and D-alanine differ, as in RDKit; without it they are equal
printf 'smiles\nN[C@@H](C)C(=O)O\nN[C@H](C)C(=O)O\n' > "$T/ala.csv"
"$LF" fingerprint --input "$T/ala.csv" --out "$T/ala.tsv" --radius 3 --bits 1024 --chirality 2> /dev/null
grep -q '^0	1 33 88 147 163 283 389 650 786 807 820 893$' "$T/ala.tsv"
grep -q '^1	1 33 46 89 147 283 389 650 786 807 820 893$' "$T/ala.tsv"
"$LF" fingerprint --input "$T/ala.csv" --out "$T/ala0.tsv" --radius 3 --bits 1024 2> /dev/null
[ "$(tail -n +2 "$T/ala0.tsv" | cut -f2 | sort -u | wc -l)" -eq 1 ]
D=../shared/data/mol-moleculenet
if [ -f "$D/esol.csv" ]; then
    "$LF" fingerprint --input "$D/esol.csv" --out "$T/esol.tsv" 2> /dev/null
    cmp <(tail -n +2 "$T/esol.tsv") <(tail -n +2 "$D/esol_morgan_r2_2048.tsv")
fi
echo "fingerprint e2e ok"
