#!/usr/bin/python3
# RDKit speed baseline for docs/chemistry.md: MolFromSmiles + Morgan bit vector on a CSV smiles
# column.   /usr/bin/python3 bench/chem_rdkit.py FILE.csv [RADIUS [BITS [--chirality]]]
import sys,time,csv
from rdkit import Chem
from rdkit.Chem import AllChem
args=[a for a in sys.argv[1:] if a!='--chirality']
chiral='--chirality' in sys.argv[1:]
radius=int(args[1]) if len(args)>1 else 2
bits=int(args[2]) if len(args)>2 else 2048
rows=[r['smiles'] for r in csv.DictReader(open(args[0]))]
t=time.time()
for s in rows:
    m=Chem.MolFromSmiles(s); AllChem.GetMorganFingerprintAsBitVect(m,radius,bits,useChirality=chiral)
dt=time.time()-t
print("rdkit: %d molecules in %.3f s: %.0f molecules/s (radius %d, %d bits%s)"%(len(rows),dt,len(rows)/dt,radius,bits,", chirality" if chiral else ""))
