#!/usr/bin/python3
"""BBBC021 CellProfiler well profiles -> a CLOOME pairs manifest (profile <-> molecule).

    /usr/bin/python3 tools/make_bbbc021_pairs.py \
        --src ../shared/data/cellpaint-bbbc021-profiles --out data/bbbc021-pairs [--seed 0]

Reads well_profiles.csv (632 wells x 516 CellProfiler features; 8 metadata columns) and writes
  OUT/profiles.npy  float32 (n_wells, n_features): per-plate robust z-scores against that
                    plate's DMSO wells (see below), for the wells that have a SMILES only
  OUT/pairs.csv     smiles, features (profiles.npy#ROW), compound, moa, split, plate,
                    concentration_uM, well
Normalisation, per plate and feature: z = (x - median_DMSO) / s with s = 1.4826 * MAD of the
plate's DMSO wells (about 6 per plate), floored at half the median of s over all plates (a
plate whose DMSO wells happen to agree exactly would otherwise blow a feature up) and at 1e-8;
z is clipped to [-50, 50]. Features constant over all kept wells are dropped.
Split by compound (whole compounds are held out, never single wells): among the mechanisms
with at least two compounds, one compound per mechanism is drawn (numpy default_rng(seed)) and
all its wells are `test`; the rest is `train`. So every test mechanism also has training
compounds (needed for the profile-only nearest-neighbour baseline), and the test compounds'
mechanisms are all different.
"""
import argparse
import csv
import os

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--src", default="../shared/data/cellpaint-bbbc021-profiles")
ap.add_argument("--out", default="data/bbbc021-pairs")
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

rows = list(csv.reader(open(os.path.join(args.src, "well_profiles.csv"))))
head, rows = rows[0], rows[1:]
meta_n = 8
assert head[:meta_n] == ["Image_Metadata_Plate", "Image_Metadata_Well", "compound", "concentration_uM",
                         "replicate", "moa", "smiles", "n_images"], head[:meta_n]
X = np.array([[float(v) for v in r[meta_n:]] for r in rows], dtype=np.float64)
plate = np.array([r[0] for r in rows])
well = [r[1] for r in rows]
compound = np.array([r[2] for r in rows])
conc = [r[3] for r in rows]
moa = np.array([r[5] for r in rows])
smiles = np.array([r[6] for r in rows])
is_dmso = compound == "DMSO"

# per-plate robust z-score against DMSO
scales = {}
for p in np.unique(plate):
    d = X[(plate == p) & is_dmso]
    assert len(d) >= 2, f"plate {p}: {len(d)} DMSO wells"
    med = np.median(d, axis=0)
    s = 1.4826 * np.median(np.abs(d - med), axis=0)
    scales[p] = (med, s)
floor = 0.5 * np.median(np.stack([s for _, s in scales.values()]), axis=0)
Z = np.empty_like(X)
for p, (med, s) in scales.items():
    m = plate == p
    Z[m] = (X[m] - med) / np.maximum(np.maximum(s, floor), 1e-8)
Z = np.clip(Z, -50, 50)

keep = smiles != ""
Zk = Z[keep]
const = Zk.std(axis=0) < 1e-12
Zk = np.ascontiguousarray(Zk[:, ~const], dtype=np.float32)
idx = np.flatnonzero(keep)

# split by compound: one test compound per mechanism that has >= 2 compounds
rng = np.random.default_rng(args.seed)
by_moa = {}
for c in sorted(set(compound[keep])):
    by_moa.setdefault(moa[compound == c][0], []).append(c)
test = set()
for m in sorted(by_moa):
    if len(by_moa[m]) >= 2:
        test.add(by_moa[m][rng.integers(len(by_moa[m]))])

os.makedirs(args.out, exist_ok=True)
np.save(os.path.join(args.out, "profiles.npy"), Zk)
with open(os.path.join(args.out, "pairs.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["smiles", "features", "compound", "moa", "split", "plate", "concentration_uM", "well"])
    for r, i in enumerate(idx):
        w.writerow([smiles[i], f"profiles.npy#{r}", compound[i], moa[i],
                    "test" if compound[i] in test else "train", plate[i], conc[i], well[i]])
n_test = sum(compound[i] in test for i in idx)
print(f"{len(idx)} wells, {Zk.shape[1]} features ({int(const.sum())} constant dropped), "
      f"{len(set(compound[keep]))} compounds; test: {sorted(test)} ({n_test} wells)")
