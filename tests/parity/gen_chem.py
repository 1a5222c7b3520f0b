#!/usr/bin/python3
"""Writes tests/parity/fixtures/chem/morgan_ref.tsv with RDKit (Debian python3-rdkit 2022.09)
references for settings beyond the shared radius-2/2048 bits:
  bits   radius 3, 1024 bits, with and without chirality (CLOOME's setting)
  counts GetHashedMorganFingerprint radius 2, 2048
  kekule the same molecule written in Kekule form (MolToSmiles(kekuleSmiles=True)) must give the
         bits of its aromatic form (radius 2, 2048)
Line format: kind<TAB>radius<TAB>nbits<TAB>chirality<TAB>smiles<TAB>values
(values: on-bit indices, or bit:count pairs)."""
import csv, os, random
from rdkit import Chem
from rdkit.Chem import AllChem

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "..", "..", "shared", "data", "mol-moleculenet")
random.seed(5)
smiles = []
for name in ["esol", "bbbp", "tox21", "clintox"]:
    rows = [r["smiles"] for r in csv.DictReader(open(os.path.join(src, name + ".csv")))]
    smiles += random.sample(rows, 40)
# hand-picked cases: charges, isotopes, aromatic heterocycles, nitro, N-oxide, [H], disconnected
smiles += ["CC[N+](=O)[O-]", "CN(=O)=O", "O=n1ccccc1", "[2H]C([2H])([2H])O", "[13CH4]", "c1cc[nH]c1",
           "c1ccoc1", "c1ccsc1", "C1=CC=CC=C1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "[Na+].[Cl-]",
           "c1ccc2ccccc2c1", "O=C1C=CC(=O)C=C1", "C[n+]1ccccc1", "[O-][n+]1ccccc1", "c1ccc2[nH]ccc2c1",
           "[H]OC([H])([H])[H]", "N=[N+]=[N-]", "CC(=O)OC1=CC=CC=C1C(=O)O", "C1CC2CCC1CC2", "C12C3C4C1C5C2C3C45",
           "OCl(=O)(=O)=O", "B1=CC=CC=C1", "c1cc[cH-]c1", "[cH+]1cccccc1", "*c1ccccc1", "F[P-](F)(F)(F)(F)F",
           "[cH+]1cc1", "c1ccc[c+](C)cc1", "[cH-]1cccccccc1", "c1ccc2[cH+]ccccc2c1", "[o+]1c(C)cccc1", "[b-]1ccccc1"]
out = []
for s in smiles:
    m = Chem.MolFromSmiles(s)
    if m is None:
        continue
    fp = AllChem.GetMorganFingerprintAsBitVect(m, 3, 1024)
    out.append("bits\t3\t1024\t0\t%s\t%s" % (s, " ".join(map(str, fp.GetOnBits()))))
    fp = AllChem.GetMorganFingerprintAsBitVect(m, 3, 1024, useChirality=True)
    out.append("bits\t3\t1024\t1\t%s\t%s" % (s, " ".join(map(str, fp.GetOnBits()))))
    c = AllChem.GetHashedMorganFingerprint(m, 2, 2048).GetNonzeroElements()
    out.append("counts\t2\t2048\t0\t%s\t%s" % (s, " ".join("%d:%d" % (k, c[k]) for k in sorted(c))))
    try:
        k = Chem.Mol(m)
        Chem.Kekulize(k, clearAromaticFlags=True)
        ks = Chem.MolToSmiles(k, kekuleSmiles=True)
        fp = AllChem.GetMorganFingerprintAsBitVect(m, 2, 2048)
        if ks != s:
            out.append("kekule\t2\t2048\t0\t%s\t%s" % (ks, " ".join(map(str, fp.GetOnBits()))))
    except Exception:
        pass
os.makedirs(os.path.join(here, "fixtures", "chem"), exist_ok=True)
with open(os.path.join(here, "fixtures", "chem", "morgan_ref.tsv"), "w") as f:
    f.write("\n".join(out) + "\n")
print(len(out), "reference lines")
