/* Aromaticity perception with RDKit's default model: every atom of a ring gets an
 * electron-donor type (how many pi electrons it can give), rings made only of possible
 * donors are candidates, and Hueckel's 4n+2 rule is applied to single rings and to fused
 * combinations of up to six rings that share bonds (ring size <= 24 for fusing). Atoms of
 * aromatic (combinations of) rings become aromatic, and so do bonds that occur once in the
 * combination. */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <string.h>

enum { VACANT, ONE, TWO, ANY, NONE };
#define MAX_FUSED_RING_SIZE 24
#define MAX_FUSED 6

static int count_atom_elec(const lf_mol *m, int a)
{
    const lf_atom *at = &m->atoms[a];
    int dv = lf_default_valence(at->z);
    if (dv <= 1) return -1;
    int degree = lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0);
    if (degree > 3) return -1;
    int nlp = lf_elements[at->z].n_outer - dv - at->charge;
    if (nlp < 0) nlp = 0;
    int res = (dv - degree) + nlp - at->radicals;
    if (res > 1 && lf_mol_explicit_valence(m, a) - lf_mol_degree(m, a) > 1) res = 1;
    return res;
}

/* a multiple bond leaving the ring system; *who = the atom at its other end */
static int noncyclic_multiple(const lf_mol *m, int a, int *who)
{
    for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
        const lf_bond *b = &m->bonds[m->adj_bond[j]];
        if (!b->in_ring && b->order >= 2 && b->order != LF_BOND_AROMATIC) {
            *who = lf_bond_other(b, a);
            return 1;
        }
    }
    return 0;
}

static int cyclic_multiple(const lf_mol *m, int a)
{
    for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
        const lf_bond *b = &m->bonds[m->adj_bond[j]];
        if (b->in_ring && b->order >= 2 && b->order != LF_BOND_AROMATIC) return 1;
    }
    return 0;
}

static int any_multiple(const lf_mol *m, int a)
{
    return lf_mol_explicit_valence(m, a) != lf_mol_degree(m, a) + m->atoms[a].h_explicit;
}

static int donor_type(const lf_mol *m, int a)
{
    const lf_atom *at = &m->atoms[a];
    if (at->z == 0) return cyclic_multiple(m, a) ? ONE : ANY;
    int nelec = count_atom_elec(m, a), who = -1;
    if (nelec < 0) return NONE;
    if (nelec == 0) {
        if (noncyclic_multiple(m, a, &who)) return VACANT;
        if (cyclic_multiple(m, a)) return ONE;
        return NONE;
    }
    if (nelec == 1) {
        if (noncyclic_multiple(m, a, &who))
            return lf_more_electronegative(m->atoms[who].z, at->z) ? VACANT : ONE;
        if (any_multiple(m, a)) return ONE;
        if (at->charge == 1) return VACANT; /* tropylium, cyclopropenyl cation */
        return NONE;
    }
    if (noncyclic_multiple(m, a, &who) && lf_more_electronegative(m->atoms[who].z, at->z)) nelec--;
    return nelec % 2 ? ONE : TWO;
}

static int is_candidate(const lf_mol *m, int a, int edon)
{
    const lf_atom *at = &m->atoms[a];
    if (at->z > 18 && at->z != 34 && at->z != 52) return 0;
    if (edon == NONE) return 0;
    int defv = lf_default_valence(at->z);
    int zc = at->z - at->charge;
    if (defv > 0 && zc >= 0 && zc < LF_N_ELEMENTS &&
        lf_mol_explicit_valence(m, a) + at->h_implicit > lf_default_valence(zc))
        return 0;
    if (at->radicals && (at->z != 6 || at->charge)) return 0;
    if (lf_mol_explicit_valence(m, a) - lf_mol_degree(m, a) > 1) {
        int n_mult = 0;
        for (int j = m->adj_start[a]; j < m->adj_start[a + 1]; j++) {
            int o = m->bonds[m->adj_bond[j]].order;
            if (o == LF_BOND_DOUBLE || o == LF_BOND_TRIPLE) n_mult++;
        }
        if (n_mult > 1) return 0;
    }
    return 1;
}

static void electron_range(int t, int *lo, int *hi)
{
    switch (t) {
    case ANY: *lo = 1; *hi = 2; break;
    case ONE: *lo = *hi = 1; break;
    case TWO: *lo = *hi = 2; break;
    default: *lo = *hi = 0; break;
    }
}

typedef struct {
    lf_mol *m;
    int nc;           /* candidate rings */
    int *ring;        /* ring ids (into m's ring list) of candidates */
    uint8_t *nbr;     /* nc x nc: rings share a bond */
    int *edon;
} arom_ctx;

static int rsize(const lf_mol *m, int r) { return m->ring_start[r + 1] - m->ring_start[r]; }

static int share_bond(const lf_mol *m, int r1, int r2)
{
    for (int i = m->ring_start[r1]; i < m->ring_start[r1 + 1]; i++)
        for (int j = m->ring_start[r2]; j < m->ring_start[r2 + 1]; j++)
            if (m->ring_bonds[i] == m->ring_bonds[j]) return 1;
    return 0;
}

/* depth-first collection of the fused system containing candidate c */
static void pick_fused(arom_ctx *x, int c, uint8_t *done, int *out, int *n_out, const uint8_t *allowed)
{
    done[c] = 1;
    out[(*n_out)++] = c;
    for (int d = 0; d < x->nc; d++)
        if (x->nbr[c * x->nc + d] && !done[d] && (!allowed || allowed[d])) pick_fused(x, d, done, out, n_out, allowed);
}

static int huckel(arom_ctx *x, const uint8_t *in_union)
{
    int lo = 0, hi = 0, n_any = 0;
    for (int a = 0; a < x->m->n_atoms; a++) {
        if (!in_union[a]) continue;
        if (x->edon[a] == ANY && ++n_any > 1) return 0;
        int l, h;
        electron_range(x->edon[a], &l, &h);
        lo += l;
        hi += h;
    }
    if (hi >= 6) {
        for (int e = lo; e <= hi; e++)
            if ((e - 2) % 4 == 0) return 1;
        return 0;
    }
    return hi == 2;
}

static void fused_system(arom_ctx *x, const int *fused, int nf, uint8_t *in_union, uint8_t *done_atom,
                         int *bond_count, uint8_t *tmp_done, int *tmp_out)
{
    lf_mol *m = x->m;
    int n_done_bonds = 0, n_ring_bonds = 0;
    /* early stop once every bond of the fused system is aromatic */
    memset(done_atom, 0, (size_t)m->n_bonds);
    for (int i = 0; i < nf; i++) {
        int r = x->ring[fused[i]];
        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++)
            if (!done_atom[m->ring_bonds[k]]) { done_atom[m->ring_bonds[k]] = 1; n_ring_bonds++; }
    }
    memset(done_atom, 0, (size_t)m->n_bonds);
    int limit = nf < MAX_FUSED ? nf : MAX_FUSED;
    int comb[MAX_FUSED];
    uint8_t *allowed = tmp_done + x->nc;
    for (int size = 1; size <= limit; size++) {
        if (n_done_bonds >= n_ring_bonds) break;
        for (int i = 0; i < size; i++) comb[i] = i;
        for (;;) {
            /* the chosen rings must form one connected (bond-sharing) system */
            int ok = 1;
            if (size > 1) {
                memset(allowed, 0, (size_t)x->nc);
                memset(tmp_done, 0, (size_t)x->nc);
                for (int i = 0; i < size; i++) allowed[fused[comb[i]]] = 1;
                int n_out = 0;
                pick_fused(x, fused[comb[0]], tmp_done, tmp_out, &n_out, allowed);
                ok = n_out == size;
            }
            if (ok) {
                /* atoms shared by three or more of the rings (the centre of acepentalene
                 * or of a peri-fused system) do not count towards the electrons */
                memset(in_union, 0, (size_t)m->n_atoms);
                for (int i = 0; i < size; i++) {
                    int r = x->ring[fused[comb[i]]];
                    for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++)
                        if (in_union[m->ring_atoms[k]] < 3) in_union[m->ring_atoms[k]]++;
                }
                for (int a = 0; a < m->n_atoms; a++) in_union[a] = in_union[a] == 1 || in_union[a] == 2;
                if (huckel(x, in_union)) {
                    for (int i = 0; i < size; i++) {
                        int r = x->ring[fused[comb[i]]];
                        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++) {
                            int a = m->ring_atoms[k];
                            m->atoms[a].aromatic = 1;
                            bond_count[m->ring_bonds[k]]++;
                        }
                    }
                    for (int i = 0; i < size; i++) {
                        int r = x->ring[fused[comb[i]]];
                        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++) {
                            int b = m->ring_bonds[k];
                            if (bond_count[b] == 1) {
                                m->bonds[b].aromatic = 1;
                                if (!done_atom[b]) { done_atom[b] = 1; n_done_bonds++; }
                                if (m->bonds[b].order == LF_BOND_SINGLE || m->bonds[b].order == LF_BOND_DOUBLE)
                                    m->bonds[b].order = LF_BOND_AROMATIC;
                            }
                        }
                        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++) bond_count[m->ring_bonds[k]] = 0;
                    }
                }
            }
            /* next combination in lexicographic order */
            int i = size - 1;
            while (i >= 0 && comb[i] == nf - size + i) i--;
            if (i < 0) break;
            comb[i]++;
            for (int j = i + 1; j < size; j++) comb[j] = comb[j - 1] + 1;
        }
    }
}

void lf_mol_aromatize(lf_mol *m)
{
    int n = m->n_atoms;
    if (!m->n_rings) return;
    arom_ctx x = {0};
    x.m = m;
    x.edon = lf_malloc(sizeof(int) * (size_t)(n + 1));
    uint8_t *seen = lf_calloc((size_t)n + 1, 1), *cand = lf_calloc((size_t)n + 1, 1);
    x.ring = lf_malloc(sizeof(int) * (size_t)(m->n_rings + 1));
    uint8_t *in_union = lf_calloc((size_t)n + 1, 1), *done_atom = lf_calloc((size_t)m->n_bonds + 1, 1);
    int *bond_count = lf_calloc((size_t)m->n_bonds + 1, sizeof(int));
    if (!x.edon || !seen || !cand || !x.ring || !in_union || !done_atom || !bond_count) goto out;
    for (int r = 0; r < m->n_rings; r++) {
        int all = 1, all_dummy = 1;
        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++) {
            int a = m->ring_atoms[k];
            if (m->atoms[a].z) all_dummy = 0;
            if (seen[a]) {
                if (!cand[a]) all = 0;
                continue;
            }
            seen[a] = 1;
            x.edon[a] = donor_type(m, a);
            cand[a] = (uint8_t)is_candidate(m, a, x.edon[a]);
            if (!cand[a]) all = 0;
        }
        if (all && !all_dummy) x.ring[x.nc++] = r;
    }
    if (!x.nc) goto out;
    x.nbr = lf_calloc((size_t)x.nc * (size_t)x.nc, 1);
    uint8_t *fdone = lf_calloc((size_t)x.nc * 2 + 2, 1), *tmp_done = lf_calloc((size_t)x.nc * 2 + 2, 1);
    int *fused = lf_malloc(sizeof(int) * (size_t)(x.nc + 1)), *tmp_out = lf_malloc(sizeof(int) * (size_t)(x.nc + 1));
    if (x.nbr && fdone && tmp_done && fused && tmp_out) {
        for (int c = 0; c < x.nc; c++) {
            if (rsize(m, x.ring[c]) > MAX_FUSED_RING_SIZE) continue;
            for (int d = c + 1; d < x.nc; d++) {
                if (rsize(m, x.ring[d]) > MAX_FUSED_RING_SIZE) continue;
                if (share_bond(m, x.ring[c], x.ring[d])) x.nbr[c * x.nc + d] = x.nbr[d * x.nc + c] = 1;
            }
        }
        for (int c = 0; c < x.nc; c++) {
            if (fdone[c]) continue;
            int nf = 0;
            pick_fused(&x, c, fdone, fused, &nf, NULL);
            fused_system(&x, fused, nf, in_union, done_atom, bond_count, tmp_done, tmp_out);
        }
    }
    lf_free(x.nbr);
    lf_free(fdone);
    lf_free(tmp_done);
    lf_free(fused);
    lf_free(tmp_out);
out:
    lf_free(x.edon);
    lf_free(seen);
    lf_free(cand);
    lf_free(x.ring);
    lf_free(in_union);
    lf_free(done_atom);
    lf_free(bond_count);
}
