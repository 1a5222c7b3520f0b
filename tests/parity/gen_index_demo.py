"""Writes the small demo index inputs used by tests/e2e/index.sh, serve.sh and the browser test.

Images: microscopy crops from data/wbc-sample (8-bit RGB PNG) plus two generated 16-bit grayscale
PNGs (to exercise the thumbnail conversion). Each image is assigned a BBBC021 compound with a
structure; its "embedding" is the compound's Morgan fingerprint (r=2, 512 bits, L2-normalised) plus
Gaussian noise, so a SMILES query must find the images of that compound first. Molecules: the
compounds themselves (the index computes their fingerprints). Run from the repo root with
/usr/bin/python3 (rdkit, numpy, PIL)."""
import csv, os
import numpy as np
from PIL import Image
from rdkit import Chem
from rdkit.Chem import AllChem

OUT = 'tests/parity/fixtures/index'
SHARED = '../shared/data/cellpaint-bbbc021-profiles'
BITS = 512
rng = np.random.default_rng(6)

moa = {}
with open(f'{SHARED}/well_profiles.csv') as f:
    for r in csv.DictReader(f):
        moa[r['compound']] = r['moa']
comps = []
with open(f'{SHARED}/compounds.csv') as f:
    for r in csv.DictReader(f):
        if r['smiles']:
            comps.append((r['compound'], r['smiles'], moa.get(r['compound'], '')))

def fp(smi):
    v = np.zeros(BITS, np.float32)
    for b in AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(smi), 2, nBits=BITS).GetOnBits():
        v[b] = 1
    return v / np.linalg.norm(v)

wbc = sorted(p for p in os.listdir('data/wbc-sample') if p.endswith('.png'))
rows, vecs = [], []
for i, (name, smi, m) in enumerate(comps):
    for rep in range(2):
        j = 2 * i + rep
        if j < 2:  # 16-bit grayscale images
            path = f'synthetic16_{j}.png'
            yy, xx = np.mgrid[0:64, 0:80]
            img = (2000 + 30000 * np.exp(-((yy - 32) ** 2 + (xx - 40 - 10 * j) ** 2) / 300.0)).astype(np.uint16)
            Image.fromarray(img).save(f'{OUT}/{path}')
        else:
            path = f'../../../../data/wbc-sample/{wbc[j]}'
        rows.append({'path': path, 'compound': name, 'smiles': smi, 'moa': m, 'replicate': str(rep + 1)})
        vecs.append(fp(smi) + rng.normal(0, 0.35 / np.sqrt(BITS), BITS).astype(np.float32))
np.save(f'{OUT}/images.npy', np.stack(vecs).astype('<f4'))
with open(f'{OUT}/images.csv', 'w', newline='') as f:
    w = csv.DictWriter(f, ['path', 'compound', 'smiles', 'moa', 'replicate'])
    w.writeheader()
    w.writerows(rows)
with open(f'{OUT}/molecules.csv', 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['compound', 'smiles', 'moa'])
    for c in comps:
        w.writerow(c)
print(len(rows), 'images,', len(comps), 'molecules')
