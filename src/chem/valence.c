/* Valence model (RDKit's default): group clean-up (nitro, N-oxides, azides, halogen oxides),
 * explicit-valence checks, implicit hydrogens, radicals, and folding plain [H] atoms into
 * their neighbours' H counts. */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <string.h>

int lf_mol_degree(const lf_mol *m, int a) { return m->adj_start[a + 1] - m->adj_start[a]; }

/* twice the bond-order sum, aromatic bonds 3 (=1.5) */
static int bond_sum2(const lf_mol *m, int a)
{
    int s = 0;
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
        int o = m->bonds[m->adj_bond[k]].order;
        s += o == LF_BOND_AROMATIC ? 3 : 2 * o;
    }
    return s;
}

/* RDKit flips the sign of the charge for elements left of carbon (fewer than 4 outer
 * electrons), and treats a carbocation like a carbanion: both lose a valence. */
int lf_valence_charge_shift(int z, int charge)
{
    if (z == 6) return charge > 0 ? -charge : charge;
    if (z > 1 && lf_elements[z].n_outer < 4) return -charge;
    return charge;
}

static int max_valence_raw(int z)
{
    int v = lf_elements[z].valence[0];
    for (int i = 1; i < 6 && lf_elements[z].valence[i] != -2; i++) v = lf_elements[z].valence[i];
    return v;
}

int lf_mol_explicit_valence(const lf_mol *m, int a)
{
    const lf_atom *at = &m->atoms[a];
    int acc2 = bond_sum2(m, a) + 2 * at->h_explicit;
    int chr = lf_valence_charge_shift(at->z, at->charge);
    int dv = lf_elements[at->z].valence[0];
    if (at->aromatic && dv >= 0 && acc2 > 2 * (dv + chr)) {
        /* an aromatic atom above its default valence: snap down to the largest allowed
         * valence not above the sum, if within 1.5 of it */
        int pval = dv + chr;
        for (int i = 0; i < 6; i++) {
            int v = lf_elements[at->z].valence[i];
            if (v < 0) break;
            v += chr;
            if (2 * v > acc2) break;
            pval = v;
        }
        if (acc2 - 2 * pval <= 3) acc2 = 2 * pval;
    }
    /* x.5 rounds up (RDKit adds 0.1 before rounding) */
    return (acc2 + 1) / 2;
}

int lf_mol_total_h(const lf_mol *m, int a, int with_h_neighbours)
{
    int h = m->atoms[a].h_explicit + m->atoms[a].h_implicit;
    if (with_h_neighbours)
        for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
            int o = lf_bond_other(&m->bonds[m->adj_bond[k]], a);
            if (m->atoms[o].z == 1) h++;
        }
    return h;
}

lf_status lf_mol_build_adjacency(lf_mol *m)
{
    lf_free(m->adj_start);
    lf_free(m->adj_bond);
    m->adj_start = lf_calloc((size_t)m->n_atoms + 1, sizeof(int));
    m->adj_bond = lf_malloc(sizeof(int) * (size_t)(2 * m->n_bonds + 1));
    if (!m->adj_start || !m->adj_bond) return lf_error(LF_ERR_NOMEM, "molecule: out of memory");
    for (int b = 0; b < m->n_bonds; b++) {
        m->adj_start[m->bonds[b].a + 1]++;
        m->adj_start[m->bonds[b].b + 1]++;
    }
    for (int i = 0; i < m->n_atoms; i++) m->adj_start[i + 1] += m->adj_start[i];
    int *fill = lf_malloc(sizeof(int) * (size_t)(m->n_atoms + 1));
    if (!fill) return lf_error(LF_ERR_NOMEM, "molecule: out of memory");
    memcpy(fill, m->adj_start, sizeof(int) * (size_t)m->n_atoms);
    for (int b = 0; b < m->n_bonds; b++) {
        m->adj_bond[fill[m->bonds[b].a]++] = b;
        m->adj_bond[fill[m->bonds[b].b]++] = b;
    }
    lf_free(fill);
    return LF_OK;
}

/* Charge-separate hypervalent groups the way RDKit's cleanUp does, since formal charges
 * enter the fingerprint: N(=O)=O -> [N+](=O)[O-], n(=O) -> [n+][O-], N=N#N -> N=[N+]=[N-],
 * Cl(=O)(=O)(=O)O -> [Cl+3]([O-])([O-])([O-])O. */
lf_status lf_mol_cleanup(lf_mol *m)
{
    for (int a = 0; a < m->n_atoms; a++) {
        lf_atom *at = &m->atoms[a];
        if (at->charge != 0) continue;
        if (at->z == 7 && lf_mol_explicit_valence(m, a) == 5) {
            int done = 0;
            for (int k = m->adj_start[a]; k < m->adj_start[a + 1] && !done; k++) {
                lf_bond *b = &m->bonds[m->adj_bond[k]];
                lf_atom *o = &m->atoms[lf_bond_other(b, a)];
                if (o->z == 8 && o->charge == 0 && b->order == LF_BOND_DOUBLE) {
                    b->order = LF_BOND_SINGLE;
                    o->charge = -1;
                    at->charge = 1;
                    done = 1;
                }
            }
            for (int k = m->adj_start[a]; k < m->adj_start[a + 1] && !done; k++) {
                lf_bond *b = &m->bonds[m->adj_bond[k]];
                int oi = lf_bond_other(b, a);
                lf_atom *o = &m->atoms[oi];
                if (o->z == 7 && o->charge == 0 && b->order == LF_BOND_TRIPLE && lf_mol_degree(m, oi) == 1) {
                    b->order = LF_BOND_DOUBLE;
                    o->charge = -1;
                    at->charge = 1;
                    done = 1;
                }
            }
        } else if ((at->z == 17 || at->z == 35 || at->z == 53) && lf_mol_degree(m, a) > 0) {
            int all_o = 1, n_double = 0;
            for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
                lf_bond *b = &m->bonds[m->adj_bond[k]];
                if (m->atoms[lf_bond_other(b, a)].z != 8) all_o = 0;
                if (b->order == LF_BOND_DOUBLE) n_double++;
            }
            if (!all_o || !n_double) continue;
            for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
                lf_bond *b = &m->bonds[m->adj_bond[k]];
                if (b->order == LF_BOND_DOUBLE) {
                    b->order = LF_BOND_SINGLE;
                    m->atoms[lf_bond_other(b, a)].charge = -1;
                    at->charge++;
                }
            }
        }
    }
    return LF_OK;
}

lf_status lf_mol_assign_valence(lf_mol *m, int *err_pos)
{
    for (int a = 0; a < m->n_atoms; a++) {
        lf_atom *at = &m->atoms[a];
        at->h_implicit = 0;
        int ev = lf_mol_explicit_valence(m, a);
        int maxv = max_valence_raw(at->z);
        int chr = lf_valence_charge_shift(at->z, at->charge);
        if (maxv >= 0 && ev > maxv + chr) {
            *err_pos = at->pos;
            return lf_error(LF_ERR_FORMAT, "explicit valence %d of atom %d (%s, charge %d) is greater than permitted, at position %d",
                            ev, a, lf_elements[at->z].symbol, at->charge, at->pos);
        }
        if (at->bracket || at->z == 0) continue;
        int dv = lf_elements[at->z].valence[0];
        if (dv < 0) continue;
        int evr = ev + at->radicals;
        if (at->aromatic) {
            if (evr <= dv + chr) at->h_implicit = dv + chr - evr;
        } else {
            int res = -1;
            for (int i = 0; i < 6; i++) {
                int v = lf_elements[at->z].valence[i];
                if (v < 0) break;
                if (evr <= v + chr) {
                    res = v + chr - evr;
                    break;
                }
            }
            at->h_implicit = res < 0 ? 0 : res;
        }
    }
    return LF_OK;
}

void lf_mol_assign_radicals(lf_mol *m)
{
    for (int a = 0; a < m->n_atoms; a++) {
        lf_atom *at = &m->atoms[a];
        if (!at->bracket || at->radicals || at->z == 0) continue;
        const int *val = lf_elements[at->z].valence;
        if (val[0] == -1 && val[1] == -2) continue;
        int n_val = 0;
        while (n_val < 6 && val[n_val] != -2) n_val++;
        int total = (bond_sum2(m, a) + 2 * at->h_explicit) / 2;
        int n_outer = lf_elements[at->z].n_outer;
        int base = (at->z == 1 || at->z == 2) ? 2 : 8;
        int nr = base - n_outer - total + at->charge;
        if (nr < 0) {
            nr = 0;
            if (n_val > 1)
                for (int i = 0; i < n_val; i++)
                    if (val[i] - total + at->charge >= 0) {
                        nr = val[i] - total + at->charge;
                        break;
                    }
        }
        int nr2 = n_outer - total - at->charge;
        if (nr2 >= 0 && nr2 < nr) nr = nr2;
        at->radicals = nr;
    }
}

/* Folds hydrogens RDKit's removeHs would remove (plain, uncharged, singly bonded to one
 * non-hydrogen atom) into the neighbour's explicit H count, then compacts the graph. */
void lf_mol_fold_hydrogens(lf_mol *m)
{
    int any = 0;
    for (int a = 0; a < m->n_atoms; a++) {
        lf_atom *at = &m->atoms[a];
        if (at->z != 1 || at->isotope || at->charge || lf_mol_degree(m, a) != 1) continue;
        const lf_bond *b = &m->bonds[m->adj_bond[m->adj_start[a]]];
        int o = lf_bond_other(b, a);
        if (b->order != LF_BOND_SINGLE || m->atoms[o].z == 1) continue;
        /* RDKit keeps an H whose directional bond ('/', '\\') is the only one defining a
         * double bond's stereo (its atom has no other neighbour); otherwise it moves the mark
         * onto the other single bond, reversed, so that E/Z survives the removal. For a ring
         * bond that RDKit starts at the closing atom the mark is written as if the bond
         * started at the opening one (observed with RDKit 2022.09; it flips E/Z there). */
        if (b->dir) {
            int dbl = -1;
            for (int k = m->adj_start[o]; k < m->adj_start[o + 1]; k++)
                if (m->bonds[m->adj_bond[k]].order == LF_BOND_DOUBLE) dbl = m->adj_bond[k];
            if (dbl >= 0 && lf_mol_degree(m, o) == 2) continue;
            if (dbl >= 0) {
                int up_from_o = (b->dir == '/') == (b->a == o); /* the H's mark as seen from o */
                for (int k = m->adj_start[o]; k < m->adj_start[o + 1]; k++) {
                    lf_bond *x = &m->bonds[m->adj_bond[k]];
                    if (x == b || m->adj_bond[k] == dbl || x->dir) continue;
                    int starts_at_o = (x->a == o) != (x->ring_closure == 2);
                    x->dir = (up_from_o != starts_at_o) ? '/' : '\\';
                }
            }
        }
        at->removed = 1;
        m->atoms[o].h_explicit++;
        m->atoms[o].h_key = b->a == o ? b->key_a : b->key_b; /* the H keeps its place for '@' */
        any = 1;
    }
    if (!any) return;
    int *map = lf_malloc(sizeof(int) * (size_t)m->n_atoms);
    if (!map) return;
    int n = 0;
    for (int a = 0; a < m->n_atoms; a++) {
        map[a] = m->atoms[a].removed ? -1 : n;
        if (!m->atoms[a].removed) m->atoms[n++] = m->atoms[a];
    }
    int nb = 0;
    for (int b = 0; b < m->n_bonds; b++) {
        lf_bond bd = m->bonds[b];
        if (map[bd.a] < 0 || map[bd.b] < 0) continue;
        bd.a = map[bd.a];
        bd.b = map[bd.b];
        m->bonds[nb++] = bd;
    }
    m->n_atoms = n;
    m->n_bonds = nb;
    lf_free(map);
    lf_mol_build_adjacency(m);
}
