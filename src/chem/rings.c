/* Ring perception. Ring bonds are the non-bridges (Tarjan). The ring set is the set of
 * relevant cycles (cycles that are not a GF(2) sum of strictly shorter cycles), built from
 * Horton's candidates (shortest path v->x, edge x-y, shortest path y->v). That is the
 * union of all smallest sets of smallest rings, which is what RDKit's "symmetrized SSSR"
 * aims at (e.g. 3 rings for bicyclo[2.2.2]octane, 6 for cubane). */
#include "chem/molecule.h"

#include <stdlib.h>
#include <string.h>

static lf_status mark_ring_bonds(lf_mol *m)
{
    int n = m->n_atoms;
    int *disc = lf_malloc(sizeof(int) * (size_t)(4 * n + 1));
    if (!disc) return lf_error(LF_ERR_NOMEM, "rings: out of memory");
    int *low = disc + n, *stk = disc + 2 * n, *it = disc + 3 * n;
    int *pbond = lf_malloc(sizeof(int) * (size_t)(n + 1));
    if (!pbond) { lf_free(disc); return lf_error(LF_ERR_NOMEM, "rings: out of memory"); }
    for (int i = 0; i < n; i++) disc[i] = -1;
    for (int b = 0; b < m->n_bonds; b++) m->bonds[b].in_ring = 0;
    int t = 0;
    for (int r = 0; r < n; r++) {
        if (disc[r] >= 0) continue;
        int sp = 0;
        stk[sp++] = r;
        disc[r] = low[r] = t++;
        it[r] = m->adj_start[r];
        pbond[r] = -1;
        while (sp) {
            int v = stk[sp - 1];
            if (it[v] < m->adj_start[v + 1]) {
                int b = m->adj_bond[it[v]++];
                if (b == pbond[v]) continue;
                int w = lf_bond_other(&m->bonds[b], v);
                if (disc[w] < 0) {
                    disc[w] = low[w] = t++;
                    it[w] = m->adj_start[w];
                    pbond[w] = b;
                    stk[sp++] = w;
                } else if (disc[w] < low[v]) {
                    low[v] = disc[w];
                }
            } else {
                sp--;
                if (sp) {
                    int u = stk[sp - 1];
                    if (low[v] < low[u]) low[u] = low[v];
                    /* the tree edge u-v is a ring bond unless it is a bridge */
                    if (low[v] <= disc[u]) m->bonds[pbond[v]].in_ring = 1;
                }
            }
        }
    }
    /* back edges are always ring bonds */
    for (int b = 0; b < m->n_bonds; b++) {
        int a = m->bonds[b].a, c = m->bonds[b].b;
        if (pbond[a] != b && pbond[c] != b) m->bonds[b].in_ring = 1;
    }
    for (int a = 0; a < n; a++) m->atoms[a].in_ring = 0;
    for (int b = 0; b < m->n_bonds; b++)
        if (m->bonds[b].in_ring) m->atoms[m->bonds[b].a].in_ring = m->atoms[m->bonds[b].b].in_ring = 1;
    lf_free(disc);
    lf_free(pbond);
    return LF_OK;
}

typedef struct {
    int len;
    uint64_t *bits; /* bond set */
    int *atoms;     /* len atoms in cycle order */
    int *bonds;     /* len bonds in cycle order */
    uint64_t hash;
} cycle;

static int by_len(const void *x, const void *y)
{
    const cycle *a = x, *b = y;
    if (a->len != b->len) return a->len - b->len;
    return a->hash < b->hash ? -1 : a->hash > b->hash;
}

lf_status lf_mol_find_rings(lf_mol *m)
{
    lf_status st = mark_ring_bonds(m);
    if (st) return st;
    lf_free(m->ring_start);
    lf_free(m->ring_atoms);
    lf_free(m->ring_bonds);
    m->ring_start = m->ring_atoms = m->ring_bonds = NULL;
    m->n_rings = 0;
    int n = m->n_atoms, nb = m->n_bonds, words = (nb + 63) / 64;
    int n_ring_bonds = 0;
    for (int b = 0; b < nb; b++) n_ring_bonds += m->bonds[b].in_ring;
    m->ring_start = lf_calloc(1, sizeof(int));
    if (!m->ring_start) return lf_error(LF_ERR_NOMEM, "rings: out of memory");
    if (!n_ring_bonds) return LF_OK;

    int *dist = lf_malloc(sizeof(int) * (size_t)(3 * n + 1));
    int *par = dist + n, *queue = dist + 2 * n; /* par: parent bond in BFS tree */
    uint8_t *mark = lf_calloc((size_t)n + 1, 1);
    int cap = 64, nc = 0;
    cycle *cs = lf_malloc(sizeof(cycle) * (size_t)cap);
    int *path = lf_malloc(sizeof(int) * (size_t)(2 * n + 2));
    if (!dist || !mark || !cs || !path) { st = lf_error(LF_ERR_NOMEM, "rings: out of memory"); goto out; }

    for (int v = 0; v < n; v++) {
        if (!m->atoms[v].in_ring) continue;
        for (int i = 0; i < n; i++) dist[i] = -1;
        int qh = 0, qt = 0;
        dist[v] = 0;
        par[v] = -1;
        queue[qt++] = v;
        while (qh < qt) {
            int x = queue[qh++];
            for (int k = m->adj_start[x]; k < m->adj_start[x + 1]; k++) {
                int b = m->adj_bond[k];
                if (!m->bonds[b].in_ring) continue;
                int y = lf_bond_other(&m->bonds[b], x);
                if (dist[y] < 0) {
                    dist[y] = dist[x] + 1;
                    par[y] = b;
                    queue[qt++] = y;
                }
            }
        }
        for (int b = 0; b < nb; b++) {
            if (!m->bonds[b].in_ring) continue;
            int x = m->bonds[b].a, y = m->bonds[b].b;
            if (dist[x] < 0 || dist[y] < 0 || par[x] == b || par[y] == b) continue;
            /* keep each candidate once per root: only when the root is the smallest index
             * is not required; duplicates are removed below */
            int np = 0, ok = 1;
            for (int u = x; u != v; u = lf_bond_other(&m->bonds[par[u]], u)) mark[u] = 1;
            for (int u = y; u != v; u = lf_bond_other(&m->bonds[par[u]], u))
                if (mark[u]) ok = 0;
            for (int u = x; u != v; u = lf_bond_other(&m->bonds[par[u]], u)) mark[u] = 0;
            if (!ok) continue;
            int len = dist[x] + dist[y] + 1;
            if (nc == cap) {
                cap *= 2;
                cycle *ncs = lf_realloc(cs, sizeof(cycle) * (size_t)cap);
                if (!ncs) { st = lf_error(LF_ERR_NOMEM, "rings: out of memory"); goto out; }
                cs = ncs;
            }
            cycle *c = &cs[nc];
            c->len = len;
            c->bits = lf_calloc((size_t)words, sizeof(uint64_t));
            c->atoms = lf_malloc(sizeof(int) * (size_t)len);
            c->bonds = lf_malloc(sizeof(int) * (size_t)len);
            if (!c->bits || !c->atoms || !c->bonds) {
                lf_free(c->bits); lf_free(c->atoms); lf_free(c->bonds);
                st = lf_error(LF_ERR_NOMEM, "rings: out of memory");
                goto out;
            }
            nc++;
            /* cycle order: v .. x (reversed path), then y .. v */
            np = 0;
            for (int u = x; u != v; u = lf_bond_other(&m->bonds[par[u]], u)) path[np++] = u;
            int k = 0, kb = 0;
            c->atoms[k++] = v;
            for (int j = np - 1; j >= 0; j--) {
                c->atoms[k++] = path[j];
                c->bonds[kb++] = par[path[j]];
            }
            c->bonds[kb++] = b;
            for (int u = y; u != v; u = lf_bond_other(&m->bonds[par[u]], u)) {
                c->atoms[k++] = u;
                c->bonds[kb++] = par[u];
            }
            uint64_t h = 1469598103934665603ull;
            for (int j = 0; j < len; j++) c->bits[c->bonds[j] >> 6] |= 1ull << (c->bonds[j] & 63);
            for (int w = 0; w < words; w++) h = (h ^ c->bits[w]) * 1099511628211ull;
            c->hash = h;
        }
    }
    qsort(cs, (size_t)nc, sizeof(cycle), by_len);

    /* Gaussian elimination over GF(2), in order of length */
    uint64_t **basis = lf_malloc(sizeof(uint64_t *) * (size_t)(nb + 1));
    int *pivot = lf_malloc(sizeof(int) * (size_t)(nb + 1));
    uint64_t *tmp = lf_malloc(sizeof(uint64_t) * (size_t)words);
    uint8_t *keep = lf_calloc((size_t)nc + 1, 1);
    int nbasis = 0, total = 0;
    if (!basis || !pivot || !tmp || !keep) { st = lf_error(LF_ERR_NOMEM, "rings: out of memory"); goto out2; }
    for (int g = 0; g < nc;) {
        int ge = g;
        while (ge < nc && cs[ge].len == cs[g].len) ge++;
        int snapshot = nbasis;
        for (int i = g; i < ge; i++) {
            /* drop duplicates of the previous candidate (same bond set) */
            int dup = 0;
            for (int j = g; j < i && !dup; j++)
                if (keep[j] && cs[j].hash == cs[i].hash && !memcmp(cs[j].bits, cs[i].bits, sizeof(uint64_t) * (size_t)words)) dup = 1;
            if (dup) continue;
            memcpy(tmp, cs[i].bits, sizeof(uint64_t) * (size_t)words);
            for (int j = 0; j < snapshot; j++)
                if (tmp[pivot[j] >> 6] >> (pivot[j] & 63) & 1)
                    for (int w = 0; w < words; w++) tmp[w] ^= basis[j][w];
            int nz = 0;
            for (int w = 0; w < words; w++) nz |= tmp[w] != 0;
            if (!nz) continue;
            keep[i] = 1; /* relevant: not a sum of shorter cycles */
            total += cs[i].len;
            /* reduce further against this length's rows to grow the basis */
            for (int j = snapshot; j < nbasis; j++)
                if (tmp[pivot[j] >> 6] >> (pivot[j] & 63) & 1)
                    for (int w = 0; w < words; w++) tmp[w] ^= basis[j][w];
            nz = 0;
            for (int w = 0; w < words && !nz; w++)
                if (tmp[w]) {
                    nz = 1;
                    pivot[nbasis] = w * 64 + __builtin_ctzll(tmp[w]);
                }
            if (nz && nbasis < nb) {
                basis[nbasis] = lf_malloc(sizeof(uint64_t) * (size_t)words);
                if (!basis[nbasis]) { st = lf_error(LF_ERR_NOMEM, "rings: out of memory"); goto out2; }
                memcpy(basis[nbasis], tmp, sizeof(uint64_t) * (size_t)words);
                nbasis++;
            }
        }
        g = ge;
    }
    {
        int nr = 0;
        for (int i = 0; i < nc; i++) nr += keep[i];
        lf_free(m->ring_start);
        m->ring_start = lf_malloc(sizeof(int) * (size_t)(nr + 1));
        m->ring_atoms = lf_malloc(sizeof(int) * (size_t)(total + 1));
        m->ring_bonds = lf_malloc(sizeof(int) * (size_t)(total + 1));
        if (!m->ring_start || !m->ring_atoms || !m->ring_bonds) { st = lf_error(LF_ERR_NOMEM, "rings: out of memory"); goto out2; }
        int r = 0, off = 0;
        m->ring_start[0] = 0;
        for (int i = 0; i < nc; i++) {
            if (!keep[i]) continue;
            memcpy(m->ring_atoms + off, cs[i].atoms, sizeof(int) * (size_t)cs[i].len);
            memcpy(m->ring_bonds + off, cs[i].bonds, sizeof(int) * (size_t)cs[i].len);
            off += cs[i].len;
            m->ring_start[++r] = off;
        }
        m->n_rings = nr;
    }
out2:
    if (basis)
        for (int j = 0; j < nbasis; j++) lf_free(basis[j]);
    lf_free(basis);
    lf_free(pivot);
    lf_free(tmp);
    lf_free(keep);
out:
    for (int i = 0; i < nc; i++) {
        lf_free(cs[i].bits);
        lf_free(cs[i].atoms);
        lf_free(cs[i].bonds);
    }
    lf_free(cs);
    lf_free(dist);
    lf_free(mark);
    lf_free(path);
    return st;
}
