/* Kekulization: aromatic input (lowercase atoms, ':' bonds) becomes alternating single and
 * double bonds. An aromatic atom needs a double bond when its valence state leaves room for
 * exactly one more bond (RDKit's rule, including the case of bracket atoms such as [n+]);
 * we then look for a matching of those atoms over aromatic bonds by depth-first search.
 * Dummy atoms may take a double bond but need not. */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <string.h>

#define MAX_STEPS 200000

typedef struct {
    lf_mol *m;
    uint8_t *cand, *matched, *optional;
    int *order, n_order;
    long steps;
} kek;

static int solve(kek *k, int from)
{
    if (++k->steps > MAX_STEPS) return 0;
    int i = from;
    while (i < k->n_order && (k->matched[k->order[i]] || k->optional[k->order[i]])) i++;
    if (i == k->n_order) return 1;
    int a = k->order[i];
    lf_mol *m = k->m;
    for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
        lf_bond *b = &m->bonds[m->adj_bond[j]];
        int o = lf_bond_other(b, a);
        if (!b->aromatic || !k->cand[o] || k->matched[o]) continue;
        k->matched[a] = k->matched[o] = 1;
        b->order = LF_BOND_DOUBLE;
        if (solve(k, i + 1)) return 1;
        b->order = LF_BOND_SINGLE;
        k->matched[a] = k->matched[o] = 0;
    }
    return 0;
}

lf_status lf_mol_kekulize(lf_mol *m, int *err_pos)
{
    int n = m->n_atoms, any = 0;
    for (int a = 0; a < n; a++) any |= m->atoms[a].aromatic;
    for (int b = 0; b < m->n_bonds; b++) any |= m->bonds[b].aromatic;
    if (!any) return LF_OK;
    for (int a = 0; a < n; a++) {
        const lf_atom *at = &m->atoms[a];
        if (at->aromatic && !at->in_ring) {
            *err_pos = at->pos;
            return lf_error(LF_ERR_FORMAT, "non-ring atom %d (%s) marked aromatic, at position %d", a,
                            lf_elements[at->z].symbol, at->pos);
        }
        if (!at->aromatic && at->z)
            for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++)
                if (m->bonds[m->adj_bond[j]].aromatic) {
                    *err_pos = at->pos;
                    return lf_error(LF_ERR_FORMAT, "aromatic bond on non-aromatic atom %d (%s), at position %d", a,
                                    lf_elements[at->z].symbol, at->pos);
                }
    }
    kek k = {0};
    k.m = m;
    k.cand = lf_calloc((size_t)n + 1, 1);
    k.matched = lf_calloc((size_t)n + 1, 1);
    k.optional = lf_calloc((size_t)n + 1, 1);
    k.order = lf_malloc(sizeof(int) * (size_t)(n + 1));
    if (!k.cand || !k.matched || !k.optional || !k.order) {
        lf_free(k.cand); lf_free(k.matched); lf_free(k.optional); lf_free(k.order);
        return lf_error(LF_ERR_NOMEM, "kekulize: out of memory");
    }
    for (int a = 0; a < n; a++) {
        const lf_atom *at = &m->atoms[a];
        if (!at->aromatic && at->z) continue;
        int has_arom_bond = 0, sbo = 0;
        for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
            const lf_bond *b = &m->bonds[m->adj_bond[j]];
            if (b->aromatic) { sbo += 1; has_arom_bond = 1; }
            else sbo += b->order == LF_BOND_AROMATIC ? 1 : b->order;
        }
        if (!has_arom_bond) continue;
        if (at->z == 0) {
            k.cand[a] = 1;
            k.optional[a] = 1;
            continue;
        }
        sbo += at->h_explicit + at->h_implicit;
        int dv = lf_elements[at->z].valence[0];
        if (dv < 0) continue;
        /* the charge shifts the valence as in valence.c: a [cH+] (tropylium) has no room left */
        int chr = lf_valence_charge_shift(at->z, at->charge);
        dv += chr;
        int tbo = lf_mol_explicit_valence(m, a) + at->h_implicit;
        for (int vi = 1; vi < 6 && tbo > dv && lf_elements[at->z].valence[vi] > 0; vi++)
            dv = lf_elements[at->z].valence[vi] + chr;
        int total_degree = lf_mol_degree(m, a) + at->h_implicit;
        if (total_degree + at->radicals >= dv) continue;
        if (dv == sbo + 1 + at->radicals) k.cand[a] = 1;
        else if (!at->radicals && at->bracket && dv == sbo + 2) k.cand[a] = 1;
    }
    /* search order: candidates with fewest candidate neighbours first, then input order */
    for (int deg = 0; deg <= 8; deg++)
        for (int a = 0; a < n; a++) {
            if (!k.cand[a]) continue;
            int c = 0;
            for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
                const lf_bond *b = &m->bonds[m->adj_bond[j]];
                c += b->aromatic && k.cand[lf_bond_other(b, a)];
            }
            if (c > 8) c = 8;
            if (c == deg) k.order[k.n_order++] = a;
        }
    for (int b = 0; b < m->n_bonds; b++)
        if (m->bonds[b].aromatic) m->bonds[b].order = LF_BOND_SINGLE;
    int ok = solve(&k, 0);
    lf_status st = LF_OK;
    if (!ok) {
        int bad = -1;
        for (int i = 0; i < k.n_order && bad < 0; i++)
            if (!k.optional[k.order[i]]) bad = k.order[i];
        if (bad < 0) bad = 0;
        *err_pos = m->atoms[bad].pos;
        st = lf_error(LF_ERR_FORMAT, "can't kekulize the aromatic system around atom %d (%s), at position %d",
                      bad, lf_elements[m->atoms[bad].z].symbol, m->atoms[bad].pos);
    } else {
        for (int a = 0; a < n; a++) m->atoms[a].aromatic = 0;
        for (int b = 0; b < m->n_bonds; b++) m->bonds[b].aromatic = 0;
    }
    lf_free(k.cand); lf_free(k.matched); lf_free(k.optional); lf_free(k.order);
    return st;
}
