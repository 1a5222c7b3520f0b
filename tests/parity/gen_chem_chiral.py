#!/usr/bin/python3
"""RDKit (Debian python3-rdkit 2022.09) references for chirality-aware Morgan fingerprints,
radius 3 / 1024 bits / useChirality=True (CLOOME's setting):
  fixtures/chem/chiral_ref.tsv      smiles<TAB>on-bits, for 250 MoleculeNet molecules with
                                    stereo marks ('@', '/', '\\'), hand-picked cases, and random
                                    rewrites of both (atom order, explicit [H])
  fixtures/chem/moleculenet_chiral_r3_1024.txt
                                    a line '#<set> <rows>' for tox21, bbbp, esol, clintox, then one
                                    line per row of ../shared/data/mol-moleculenet/<set>.csv: the
                                    FNV-1a 32-bit hash (hex) of the 1024 0/1 bytes, or '-' where
                                    RDKit cannot read the SMILES."""
import csv, os, random
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem

RDLogger.DisableLog("rdApp.*")
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "..", "..", "..", "shared", "data", "mol-moleculenet")
out_dir = os.path.join(here, "fixtures", "chem")
os.makedirs(out_dir, exist_ok=True)


def bits(m):
    return AllChem.GetMorganFingerprintAsBitVect(m, 3, 1024, useChirality=True)


def fnv1a(fp):
    h = 0x811C9DC5
    for c in fp.ToBitString():
        h ^= 1 if c == "1" else 0
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


sets = ["tox21", "bbbp", "esol", "clintox"]
rows = {name: [r["smiles"] for r in csv.DictReader(open(os.path.join(src, name + ".csv")))] for name in sets}

with open(os.path.join(out_dir, "moleculenet_chiral_r3_1024.txt"), "w") as f:
    for name in sets:
        f.write("#%s %d\n" % (name, len(rows[name])))
        for s in rows[name]:
            m = Chem.MolFromSmiles(s)
            f.write("%s\n" % ("-" if m is None else "%08x" % fnv1a(bits(m))))

stereo = [s for name in sets for s in rows[name] if any(c in s for c in "@/\\")]
random.seed(11)
sample = random.sample(stereo, 250)  # all of them are also checked by hash
hand = [
    # amino acids (L and D), sugars, sulfoxides, phosphorus, N in a 3-ring
    "N[C@@H](C)C(=O)O", "N[C@H](C)C(=O)O", "N[C@@H](CS)C(=O)O", "N[C@@H](Cc1ccccc1)C(=O)O",
    "CC[C@H](C)[C@H](N)C(=O)O", "C[C@@H](O)[C@H](N)C(=O)O", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
    "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O", "C[S@](=O)CC", "C[S@@](=O)c1ccccc1", "C[S@+]([O-])CC",
    "C[P@](=O)(O)CC", "C[P@@](c1ccccc1)CC", "C[N@]1CC1C",
    # implicit H first / ring closures / explicit [H] / H written after other neighbours
    "[C@@H](N)(C)C(=O)O", "[C@H](N)(C)C(=O)O", "C[C@H]1CCCCO1", "C[C@@H]1CCCCO1", "O1CCCC[C@@H]1C",
    "[H][C@](N)(C)C(=O)O", "N[C@]([H])(C)C(=O)O", "N[C@@](C)([H])C(=O)O", "F[C@](Cl)(Br)I", "F[C@@](Cl)(Br)I",
    "[C@](F)(Cl)(Br)I", "C1CC[C@H]2CCCC[C@@H]2C1", "C1CC[C@H]2CCCC[C@H]2C1", "C[C@H]1C[C@@H](C)C1",
    # marks on atoms that are not stereocentres (removed by RDKit's cleanIt)
    "C[C@H](C)O", "C[C@@](C)(O)CC", "[C@H](C)(C)C", "CC[C@H](CC)O", "c1cc[n@H]c1", "C[C@H]1CCCCC1",
    # ring stereo without labels (cis/trans 1,4-disubstituted rings), spiro, bridged
    "C[C@H]1CC[C@@H](C)CC1", "C[C@H]1CC[C@H](C)CC1", "O[C@H]1CC[C@@H](N)CC1", "C[C@H]1C[C@@H](C)C1",
    "C[C@@H]1CCCC[C@@H]1C", "C[C@H]1CC2(CC1)CC[C@@H](C)CC2", "C1C[C@H]2CC[C@@H]1C2", "C[C@]12CCC[C@H]1CCC2",
    # pseudo-asymmetric / meso-like (ranks that change once R/S is known)
    "C[C@@H](O)[C@H](O)[C@@H](C)O", "C[C@@H](O)[C@@H](O)[C@@H](C)O", "O[C@@H]1C[C@H](O)C[C@@H](O)C1",
    "OC(=O)[C@@H](O)[C@H](O)C(=O)O", "OC(=O)[C@@H](O)[C@@H](O)C(=O)O", "C[C@H](Cl)[C@@H](C)Cl",
    # double bonds: E/Z, partial marks, conflicting marks, rings, conjugated, stereo + E/Z
    "F/C=C/F", "F/C=C\\F", "C/C=C/C", "C\\C=C/C", "CC/C=C/C", "F/C=C/C=C/F", "F/C=C/C=C\\F",
    "C/C(Cl)=C/C", "C/C(=C/C)Cl", "CC(C)=C/C", "F/C=C(/F)\\F", "C1CCC/C=C/CCC1", "C1CCC/C=C\\CC1",
    "OC(=O)/C=C/C(=O)O", "OC(=O)/C=C\\C(=O)O", "C/C=N/O", "C/C=N\\O", "C/N=N/C", "[H]/C(F)=C/F",
    "C/C=C/[C@@H](O)CC", "C/C=C\\[C@@H](O)CC", "CC/C=C\\C[C@H](N)C(=O)O", "F/C=C/F.F/C=C\\F",
    # isotopes, atom classes, charges at stereocentres
    "[2H][C@@](C)(O)CC", "[13CH3][C@@H](O)C", "C[C@@H](O)[13CH3]", "[CH3:1][C@H](O)CC", "C[N@+](CC)(CCC)CCCC",
    "C[C@H]([NH3+])C(=O)[O-]", "[O-][S@+](C)c1ccccc1",
    "[cH+]1cccccc1",
]
# the same molecules written differently: random atom orders (ring closures on stereocentres,
# H first, '/' '\\' on ring-closure digits) and with explicit [H] atoms
variants = []
for s in random.sample(stereo, 400):
    m = Chem.MolFromSmiles(s)
    if m is None or len(s) > 90:
        continue
    v = Chem.MolToSmiles(Chem.AddHs(m) if random.random() < 0.35 else m, doRandom=True, canonical=False)
    if len(v) < 160:
        variants.append(v)
    if len(variants) == 150:
        break
# random '@'/'@@' on atoms with three or more neighbours and random cis/trans on double bonds
# of unmarked molecules: stresses RDKit's mark clean-up (non-sp3 atoms, ring stereo, N rules)
# and the legacy ranking far beyond what the data sets contain
plain = [s for name in sets for s in rows[name] if not any(c in s for c in "@/\\") and len(s) < 70]
for s in random.sample(plain, 200):
    m = Chem.MolFromSmiles(s)
    if m is None:
        continue
    rw = Chem.RWMol(m)
    for a in rw.GetAtoms():
        if a.GetDegree() >= 3 and not a.GetIsAromatic() and random.random() < 0.7:
            a.SetChiralTag(random.choice([Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW]))
    for b in rw.GetBonds():
        if b.GetBondType() == Chem.BondType.DOUBLE and random.random() < 0.7:
            a1, a2 = b.GetBeginAtom(), b.GetEndAtom()
            n1 = [x.GetIdx() for x in a1.GetNeighbors() if x.GetIdx() != a2.GetIdx()]
            n2 = [x.GetIdx() for x in a2.GetNeighbors() if x.GetIdx() != a1.GetIdx()]
            if n1 and n2:
                b.SetStereoAtoms(random.choice(n1), random.choice(n2))
                b.SetStereo(random.choice([Chem.BondStereo.STEREOCIS, Chem.BondStereo.STEREOTRANS]))
    try:
        v = Chem.MolToSmiles(rw, doRandom=random.random() < 0.5, canonical=False)
    except Exception:
        continue
    if any(c in v for c in "@/\\"):
        variants.append(v)
for s in hand[:40]:
    m = Chem.MolFromSmiles(s)
    variants.append(Chem.MolToSmiles(Chem.AddHs(m) if random.random() < 0.35 else m, doRandom=True, canonical=False))
with open(os.path.join(out_dir, "chiral_ref.tsv"), "w") as f:
    n = 0
    for s in hand + sample + variants:
        m = Chem.MolFromSmiles(s)
        if m is None:
            continue
        f.write("%s\t%s\n" % (s, " ".join(map(str, bits(m).GetOnBits()))))
        n += 1
print(n, "chiral reference lines;", sum(len(v) for v in rows.values()), "MoleculeNet hashes")
