#!/usr/bin/python3
# RDKit speed baseline for docs/chemistry.md: MolFromSmiles + Morgan r2/2048 on a CSV smiles column.
import sys,time,csv
from rdkit import Chem
from rdkit.Chem import AllChem
rows=[r['smiles'] for r in csv.DictReader(open(sys.argv[1]))]
t=time.time()
for s in rows:
    m=Chem.MolFromSmiles(s); AllChem.GetMorganFingerprintAsBitVect(m,2,2048)
dt=time.time()-t
print("rdkit: %d molecules in %.3f s: %.0f molecules/s"%(len(rows),dt,len(rows)/dt))
