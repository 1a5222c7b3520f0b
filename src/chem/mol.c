/* lf_mol_parse: SMILES -> sanitized molecule, following RDKit's MolFromSmiles order:
 * parse, clean up groups, valence + implicit Hs, remove plain Hs, rings, kekulize,
 * radicals, aromaticity. */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <string.h>

void lf_mol_free(lf_mol *m)
{
    if (!m) return;
    lf_free(m->atoms);
    lf_free(m->bonds);
    lf_free(m->adj_start);
    lf_free(m->adj_bond);
    lf_free(m->ring_start);
    lf_free(m->ring_atoms);
    lf_free(m->ring_bonds);
    lf_free(m);
}

lf_status lf_mol_parse(const char *smiles, lf_mol **out, int *err_pos)
{
    int pos_dummy;
    if (!err_pos) err_pos = &pos_dummy;
    *err_pos = -1;
    if (!out || !smiles) return lf_error(LF_ERR_ARG, "lf_mol_parse: NULL argument");
    *out = NULL;
    lf_mol *m = lf_calloc(1, sizeof *m);
    if (!m) return lf_error(LF_ERR_NOMEM, "lf_mol_parse: out of memory");
    lf_status st = lf_smiles_read(smiles, m, err_pos);
    if (!st) st = lf_mol_build_adjacency(m);
    if (!st) st = lf_mol_cleanup(m);
    if (!st) st = lf_mol_assign_valence(m, err_pos);
    if (!st) lf_mol_fold_hydrogens(m);
    if (!st) st = lf_mol_find_rings(m);
    if (!st) st = lf_mol_kekulize(m, err_pos);
    if (!st) lf_mol_assign_radicals(m);
    if (!st) lf_mol_aromatize(m);
    if (!st) st = lf_mol_assign_stereo(m);
    if (st) {
        lf_mol_free(m);
        return st;
    }
    *out = m;
    return LF_OK;
}

int lf_mol_num_atoms(const lf_mol *m) { return m ? m->n_atoms : 0; }
int lf_mol_num_bonds(const lf_mol *m) { return m ? m->n_bonds : 0; }
int lf_mol_num_rings(const lf_mol *m) { return m ? m->n_rings : 0; }
int lf_mol_atom_is_aromatic(const lf_mol *m, int i) { return m && i >= 0 && i < m->n_atoms && m->atoms[i].aromatic; }
int lf_mol_atom_total_h(const lf_mol *m, int i)
{
    return m && i >= 0 && i < m->n_atoms ? lf_mol_total_h(m, i, 1) : -1;
}
int lf_mol_atom_charge(const lf_mol *m, int i) { return m && i >= 0 && i < m->n_atoms ? m->atoms[i].charge : 0; }
