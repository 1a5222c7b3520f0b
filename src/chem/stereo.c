/* Stereo perception as RDKit 2022.09's MolFromSmiles leaves it (legacy assignStereochemistry with
 * cleanIt): "CIP" ranks by iterated neighbour refinement (not the full CIP rules), R/S labels of
 * '@'/'@@' atoms whose neighbours all differ in rank, E/Z of double bonds with '/' '\' marks,
 * re-ranking with the labels found until nothing changes, then removal of the '@' marks of
 * atoms that got no label (except paired ring stereo atoms such as cis-1,4-disubstituted
 * cyclohexanes, which keep their mark without a label). Morgan with useChirality hashes
 * the labels (morgan.c). */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <stdlib.h>
#include <string.h>

/* most common isotope where it is not the rounded average weight (RDKit's table values) */
static int most_common_isotope(int z)
{
    static const short ex[][2] = {
        {23, 50}, {28, 58}, {29, 63}, {30, 64}, {31, 69}, {32, 74}, {34, 80}, {35, 79}, {40, 90},
        {42, 98}, {43, 97}, {44, 102}, {47, 107}, {48, 114}, {50, 120}, {51, 121}, {52, 130},
        {54, 132}, {56, 138}, {60, 142}, {62, 152}, {63, 153}, {64, 158}, {66, 164}, {68, 166},
        {70, 174}, {72, 180}, {75, 187}, {76, 192}, {77, 193}, {80, 202}, {81, 205}, {82, 208},
        {86, 211}, {88, 223}, {93, 236}, {94, 238}, {95, 241}, {96, 243}, {98, 249}, {106, 271}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
        if (ex[i][0] == z) return ex[i][1];
    return (int)(lf_elements[z].weight + 0.5);
}

/* ---- dense ranking of equal-length int rows (RDKit's Rankers::rankVect) ---- */
typedef struct { const int *rows; int stride, len; } rank_ctx;
static _Thread_local rank_ctx tl_rank;
static int cmp_rows(const void *x, const void *y)
{
    const int *a = tl_rank.rows + (size_t)*(const int *)x * (size_t)tl_rank.stride;
    const int *b = tl_rank.rows + (size_t)*(const int *)y * (size_t)tl_rank.stride;
    for (int k = 0; k < tl_rank.len; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}
/* rows: n rows `stride` ints apart, compared on their first len ints; dense ranks (equal rows
 * share a rank, ranks 0..k-1); returns the number of ranks */
static int rank_rows(const int *rows, int n, int stride, int len, int *idx, int *ranks)
{
    for (int i = 0; i < n; i++) idx[i] = i;
    tl_rank.rows = rows;
    tl_rank.stride = stride;
    tl_rank.len = len;
    qsort(idx, (size_t)n, sizeof(int), cmp_rows);
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && cmp_rows(&idx[i - 1], &idx[i])) r++;
        ranks[idx[i]] = r;
    }
    return n ? r + 1 : 0;
}

typedef struct {
    lf_mol *m;
    int n;
    int *ranks;      /* current CIP ranks */
    int *rows;       /* n x stride work rows */
    int stride;
    int *idx, *tmp;
    int *nbr;        /* neighbour list scratch */
} stereo_ws;

/* neighbour multiplicity in the rank vector: twice the bond order (aromatic 3), so that
 * -c(:c):c and -C(=C)-C look alike; a P=X double bond of 3/4-coordinate P counts once */
static int bond_count(const lf_mol *m, const lf_bond *b, int nbr_atom)
{
    if (b->order == LF_BOND_DOUBLE && m->atoms[nbr_atom].z == 15) {
        int d = lf_mol_degree(m, nbr_atom);
        if (d == 3 || d == 4) return 1;
    }
    switch (b->order) {
    case LF_BOND_AROMATIC: return 3;
    case LF_BOND_DOUBLE: return 4;
    case LF_BOND_TRIPLE: return 6;
    case LF_BOND_QUADRUPLE: return 8;
    default: return 2;
    }
}

static int cmp_int_desc(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return a > b ? -1 : a < b;
}

/* RDKit's iterateCIPRanks: rows start as (Z, rank of the invariant) or (invariant) when
 * seeded; each round appends the neighbours' ranks (descending, H as 0, padded with -1),
 * re-ranks, and keeps the new rank as the next column. */
static void iterate_ranks(stereo_ws *w, const long long *inv, int seeded)
{
    lf_mol *m = w->m;
    int n = w->n;
    {
        /* the 64-bit invariants ranked as two-column rows */
        int *r = w->rows;
        for (int i = 0; i < n; i++) {
            r[(size_t)i * (size_t)w->stride] = (int)(inv[i] >> 31);
            r[(size_t)i * (size_t)w->stride + 1] = (int)(inv[i] & 0x7fffffff);
        }
        rank_rows(r, n, w->stride, 2, w->idx, w->ranks);
    }
    int n_ranks = 0;
    for (int i = 0; i < n; i++) if (w->ranks[i] + 1 > n_ranks) n_ranks = w->ranks[i] + 1;
    int prefix;
    for (int i = 0; i < n; i++) {
        int *row = w->rows + (size_t)i * (size_t)w->stride;
        if (seeded) {
            row[0] = (int)inv[i];
        } else {
            row[0] = m->atoms[i].z;
            row[1] = w->ranks[i];
        }
    }
    prefix = seeded ? 1 : 2;
    int max_its = n / 2 + 1, its = 0, last = -1;
    while (n_ranks < n && its < max_its && (last < 0 || last < n_ranks)) {
        int longest = 0;
        for (int i = 0; i < n; i++) {
            int *row = w->rows + (size_t)i * (size_t)w->stride;
            int len = prefix;
            int cnt = 0;
            for (int k = m->adj_start[i]; k < m->adj_start[i + 1]; k++) {
                const lf_bond *b = &m->bonds[m->adj_bond[k]];
                int o = lf_bond_other(b, i);
                int c = bond_count(m, b, o);
                for (int t = 0; t < c; t++) w->nbr[cnt++] = w->ranks[o] + 1;
            }
            int h = lf_mol_total_h(m, i, 0);
            for (int t = 0; t < h; t++) w->nbr[cnt++] = 0;
            qsort(w->nbr, (size_t)cnt, sizeof(int), cmp_int_desc);
            for (int t = 0; t < cnt && len < w->stride; t++) row[len++] = w->nbr[t];
            w->tmp[i] = len;
            if (len > longest) longest = len;
        }
        for (int i = 0; i < n; i++) {
            int *row = w->rows + (size_t)i * (size_t)w->stride;
            for (int k = w->tmp[i]; k < longest; k++) row[k] = -1; /* pad to the longest row */
        }
        last = n_ranks;
        n_ranks = rank_rows(w->rows, n, w->stride, longest, w->idx, w->ranks);
        /* keep the rank as column its+1 (RDKit overwrites that column and truncates) */
        int col = its + 1;
        for (int i = 0; i < n; i++) w->rows[(size_t)i * (size_t)w->stride + col] = w->ranks[i];
        prefix = col + 1;
        its++;
    }
}

static void cip_ranks(stereo_ws *w)
{
    long long *inv = lf_malloc(sizeof(long long) * (size_t)(w->n + 1));
    if (!inv) return;
    for (int i = 0; i < w->n; i++) {
        const lf_atom *at = &w->m->atoms[i];
        int mass = 0;
        if (at->isotope) {
            mass = at->isotope - most_common_isotope(at->z);
            if (mass >= 0) mass += 1;
        }
        mass += 512;
        mass = mass < 0 ? 0 : mass % 1024;
        int mapnum = at->atom_class > 0 ? at->atom_class : -1;
        mapnum = (mapnum + 1) % 1024;
        inv[i] = ((((long long)(at->z % 128)) << 10 | mass) << 10) | mapnum;
    }
    iterate_ranks(w, inv, 0);
    lf_free(inv);
}

static int in_ring_of_size(const lf_mol *m, int a, int size)
{
    for (int r = 0; r < m->n_rings; r++) {
        if (m->ring_start[r + 1] - m->ring_start[r] != size) continue;
        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++)
            if (m->ring_atoms[k] == a) return 1;
    }
    return 0;
}

static int min_bond_ring_size(const lf_mol *m, int b)
{
    int best = 0;
    for (int r = 0; r < m->n_rings; r++) {
        int size = m->ring_start[r + 1] - m->ring_start[r];
        for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++)
            if (m->ring_bonds[k] == b && (!best || size < best)) best = size;
    }
    return best;
}

static int ring_has_atom(const lf_mol *m, int r, int a)
{
    for (int k = m->ring_start[r]; k < m->ring_start[r + 1]; k++)
        if (m->ring_atoms[k] == a) return 1;
    return 0;
}

/* RDKit's queryIsAtomBridgehead: at least three ring bonds, and two rings through the atom
 * that share at least two bonds (bridged, not just fused) */
static int is_bridgehead(const lf_mol *m, int a)
{
    int ring_bonds = 0;
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) ring_bonds += m->bonds[m->adj_bond[k]].in_ring;
    if (ring_bonds < 3) return 0;
    for (int i = 0; i < m->n_rings; i++) {
        if (!ring_has_atom(m, i, a)) continue;
        for (int j = i + 1; j < m->n_rings; j++) {
            if (!ring_has_atom(m, j, a)) continue;
            int shared = 0;
            for (int x = m->ring_start[i]; x < m->ring_start[i + 1]; x++)
                for (int y = m->ring_start[j]; y < m->ring_start[j + 1]; y++)
                    shared += m->ring_bonds[x] == m->ring_bonds[y];
            if (shared >= 2) return 1;
        }
    }
    return 0;
}

/* RDKit's isAtomPotentialChiralCenter: *dupes when two neighbours share a rank */
static int legal_center(const lf_mol *m, int a, const int *ranks, int *dupes)
{
    const lf_atom *at = &m->atoms[a];
    int deg = lf_mol_degree(m, a), h = lf_mol_total_h(m, a, 0);
    *dupes = 0;
    if (deg + h > 4) return 0;
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++)
        for (int l = m->adj_start[a]; l < k; l++)
            if (ranks[lf_bond_other(&m->bonds[m->adj_bond[k]], a)] == ranks[lf_bond_other(&m->bonds[m->adj_bond[l]], a)])
                *dupes = 1;
    if (*dupes) return 1;
    if (at->z == 15 || at->z == 33) return 1; /* phosphines/arsines: always (InChI) */
    if (deg < 3) return 0;
    if (deg == 3 && h != 1) {
        int ev = lf_mol_explicit_valence(m, a);
        if ((at->z == 16 || at->z == 34) && (ev == 4 || (ev == 3 && at->charge == 1))) return 1;
        if (at->z == 7 && (in_ring_of_size(m, a, 3) || is_bridgehead(m, a))) return 1;
        return 0;
    }
    return 1;
}

/* R/S of a '@'/'@@' atom from the SMILES neighbour order: the order is permuted into
 * ascending rank (an H, or for three neighbours without H the lone pair, lowest); an odd
 * permutation flips the mark; then '@' is S and '@@' is R. The H keeps its SMILES place.
 * RDKit puts the lone pair of a 3-coordinate atom first, except (its chiralAtomNeedsTagInversion)
 * on a saturated atom with exactly one ring-closure bond, where it counts one more swap. */
static char cip_label(const lf_mol *m, int a, const int *ranks)
{
    int key[5], pr[5], cnt = 0, closures = 0, unsaturated = 0;
    int deg = lf_mol_degree(m, a), h = lf_mol_total_h(m, a, 0);
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
        const lf_bond *b = &m->bonds[m->adj_bond[k]];
        closures += b->ring_closure != 0;
        unsaturated |= b->order != LF_BOND_SINGLE;
        if (cnt >= 4) break;
        key[cnt] = b->a == a ? b->key_a : b->key_b;
        pr[cnt++] = ranks[lf_bond_other(b, a)];
    }
    int extra = 0;
    if (h == 1 && cnt < 4) {
        key[cnt] = m->atoms[a].h_key;
        pr[cnt++] = -1;
    } else if (deg == 3 && h == 0) {
        key[cnt] = -1000000;
        pr[cnt++] = -1;
        extra = closures == 1 && !unsaturated;
    }
    /* sort by key (SMILES order), then count inversions w.r.t. ascending priority */
    for (int i = 1; i < cnt; i++)
        for (int j = i; j > 0 && key[j - 1] > key[j]; j--) {
            int t = key[j]; key[j] = key[j - 1]; key[j - 1] = t;
            t = pr[j]; pr[j] = pr[j - 1]; pr[j - 1] = t;
        }
    int inv = extra;
    for (int i = 0; i < cnt; i++)
        for (int j = i + 1; j < cnt; j++)
            if (pr[i] > pr[j]) inv++;
    int ccw = m->atoms[a].chiral == LF_CHI_CCW;
    if (inv & 1) ccw = !ccw;
    return ccw ? 'S' : 'R';
}

/* neighbours of one end of a double bond with their effective '/' '\' direction seen
 * from that end (1 = up, 2 = down); returns their number, 0 when nothing is marked */
static int dir_neighbours(const lf_mol *m, int a, int dbl, const int *ranks, int *nb, int *dir)
{
    int cnt = 0, seen = 0;
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1] && cnt < 3; k++) {
        int bi = m->adj_bond[k];
        if (bi == dbl) continue;
        const lf_bond *b = &m->bonds[bi];
        int d = b->dir == '/' ? 1 : b->dir == '\\' ? 2 : 0;
        if (d) {
            seen = 1;
            if (b->a != a) d = 3 - d; /* read backwards */
        }
        nb[cnt] = lf_bond_other(b, a);
        dir[cnt++] = d;
    }
    if (!seen) return 0;
    if (cnt == 2 && ranks[nb[0]] == ranks[nb[1]]) return 0;
    if (!dir[0]) dir[0] = 3 - dir[1];
    else if (cnt > 1 && !dir[1]) dir[1] = 3 - dir[0];
    return cnt;
}

/* one pass of RDKit's assignBondStereoCodes; returns whether a bond got assigned */
static int assign_bonds(lf_mol *m, const int *ranks)
{
    int changed = 0;
    for (int bi = 0; bi < m->n_bonds; bi++) {
        lf_bond *b = &m->bonds[bi];
        if (b->order != LF_BOND_DOUBLE || b->stereo) continue;
        if (b->in_ring && min_bond_ring_size(m, bi) <= 7) continue;
        int da = lf_mol_degree(m, b->a), db = lf_mol_degree(m, b->b);
        if (da < 2 || da > 3 || db < 2 || db > 3) continue;
        int nb1[3], d1[3], nb2[3], d2[3];
        int n1 = dir_neighbours(m, b->a, bi, ranks, nb1, d1);
        int n2 = dir_neighbours(m, b->b, bi, ranks, nb2, d2);
        if (!n1 || !n2) continue;
        int dir1 = (n1 == 1 || ranks[nb1[0]] > ranks[nb1[1]]) ? d1[0] : d1[1];
        int dir2 = (n2 == 1 || ranks[nb2[0]] > ranks[nb2[1]]) ? d2[0] : d2[1];
        int conflict1 = n1 == 2 && d1[0] == d1[1], conflict2 = n2 == 2 && d2[0] == d2[1];
        changed = 1;
        if (conflict1 || conflict2) {
            /* contradictory marks: no stereo, and the marks are dropped */
            for (int s = 0; s < 2; s++) {
                int at = s ? b->b : b->a;
                if (!(s ? conflict2 : conflict1)) continue;
                for (int k = m->adj_start[at]; k < m->adj_start[at + 1]; k++)
                    if (m->adj_bond[k] != bi) m->bonds[m->adj_bond[k]].dir = 0;
            }
            continue;
        }
        b->stereo = dir1 == dir2 ? 2 : 3; /* same direction from both ends: Z */
    }
    return changed;
}

/* RDKit's rerankAtoms: ranks refined with the labels found so far */
static void rerank(stereo_ws *w)
{
    lf_mol *m = w->m;
    long long *inv = lf_malloc(sizeof(long long) * (size_t)(w->n + 1));
    if (!inv) return;
    long long factor = 100;
    while (factor < w->n) factor *= 10;
    for (int i = 0; i < w->n; i++) {
        inv[i] = w->ranks[i] * factor;
        if (m->atoms[i].cip == 'S') inv[i] += 10;
        else if (m->atoms[i].cip == 'R') inv[i] += 20;
        for (int k = m->adj_start[i]; k < m->adj_start[i + 1]; k++) {
            const lf_bond *b = &m->bonds[m->adj_bond[k]];
            if (b->order == LF_BOND_DOUBLE) inv[i] += b->stereo == 3 ? 1 : b->stereo == 2 ? 2 : 0;
        }
    }
    iterate_ranks(w, inv, 1);
    lf_free(inv);
}

/* conditions for a ring atom to carry ring stereo (RDKit's atomIsCandidateForRingStereochem) */
static int ring_stereo_candidate(const lf_mol *m, int a, const int *ranks)
{
    if (!m->atoms[a].in_ring) return 0;
    /* a three-coordinate N only in a 3-ring or at a bridgehead */
    if (m->atoms[a].z == 7 && lf_mol_degree(m, a) == 3 && !in_ring_of_size(m, a, 3) &&
        !is_bridgehead(m, a))
        return 0;
    int non_ring[4], n_non = 0, ring_ranks[8], n_ring = 0;
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
        const lf_bond *b = &m->bonds[m->adj_bond[k]];
        int o = lf_bond_other(b, a);
        if (!b->in_ring) {
            if (n_non < 4) non_ring[n_non] = o;
            n_non++;
        } else if (n_ring < 8) {
            ring_ranks[n_ring++] = ranks[o];
        }
    }
    int distinct = 0;
    for (int i = 0; i < n_ring; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= ring_ranks[j] == ring_ranks[i];
        distinct += !dup;
    }
    switch (n_non) {
    case 2: return ranks[non_ring[0]] != ranks[non_ring[1]];
    case 1: return n_ring >= 2;
    case 0: return (n_ring == 4 && distinct == 3) || (n_ring == 3 && distinct == 2);
    default: return 0;
    }
}

/* cleanIt: '@' marks stay only on labelled atoms, or on ring stereo candidates that have a
 * partner candidate in the same ring system (connected through ring bonds) */
static lf_status clean_marks(lf_mol *m, const int *ranks)
{
    int n = m->n_atoms;
    int *comp = lf_malloc(sizeof(int) * (size_t)(n + 1));
    int *queue = lf_malloc(sizeof(int) * (size_t)(n + 1));
    int *count = lf_calloc((size_t)n + 1, sizeof(int));
    uint8_t *cand = lf_calloc((size_t)n + 1, 1);
    if (!comp || !queue || !count || !cand) {
        lf_free(comp); lf_free(queue); lf_free(count); lf_free(cand);
        return lf_error(LF_ERR_NOMEM, "stereo: out of memory");
    }
    for (int a = 0; a < n; a++) comp[a] = -1;
    int n_comp = 0;
    for (int a = 0; a < n; a++) {
        if (comp[a] >= 0 || !m->atoms[a].in_ring) continue;
        int head = 0, tail = 0;
        queue[tail++] = a;
        comp[a] = n_comp;
        while (head < tail) {
            int v = queue[head++];
            for (int k = m->adj_start[v]; k < m->adj_start[v + 1]; k++) {
                const lf_bond *b = &m->bonds[m->adj_bond[k]];
                int o = lf_bond_other(b, v);
                if (b->in_ring && comp[o] < 0) {
                    comp[o] = n_comp;
                    queue[tail++] = o;
                }
            }
        }
        n_comp++;
    }
    for (int a = 0; a < n; a++) {
        const lf_atom *at = &m->atoms[a];
        if (at->chiral && !at->cip && comp[a] >= 0 && ring_stereo_candidate(m, a, ranks)) {
            cand[a] = 1;
            count[comp[a]]++;
        }
    }
    for (int a = 0; a < n; a++) {
        lf_atom *at = &m->atoms[a];
        if (at->chiral && !at->cip && !(cand[a] && count[comp[a]] >= 2)) at->chiral = LF_CHI_NONE;
    }
    lf_free(comp); lf_free(queue); lf_free(count); lf_free(cand);
    return LF_OK;
}

/* RDKit's hybridization: bonds + lone pairs, 4 = sp3 unless an atom with fewer than four
 * neighbours has a conjugated bond (then sp2, like an amide N) */
static int n_orbitals(const lf_mol *m, int a)
{
    const lf_atom *at = &m->atoms[a];
    int deg = lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0);
    if (at->z <= 1) return deg;
    int nouter = lf_elements[at->z].n_outer;
    int valence = lf_mol_explicit_valence(m, a) + at->h_implicit;
    int free_e = nouter - (valence + at->charge);
    if (valence + nouter - at->charge < 8) return deg + (free_e - at->radicals) / 2 + at->radicals;
    return deg + free_e / 2;
}

static int conj_candidate(const lf_mol *m, int a)
{
    int z = m->atoms[a].z, sbo = lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0);
    return z <= 10 && sbo >= 2 && sbo <= 3;
}

/* approximation of RDKit's conjugation flags for the bonds of atom a: aromatic bonds, and
 * a single bond to a first-row neighbour that carries a multiple bond */
static int has_conjugated_bond(const lf_mol *m, int a)
{
    for (int k = m->adj_start[a]; k < m->adj_start[a + 1]; k++) {
        const lf_bond *b = &m->bonds[m->adj_bond[k]];
        if (b->order == LF_BOND_AROMATIC) return 1;
        int o = lf_bond_other(b, a);
        if (b->order != LF_BOND_SINGLE || !conj_candidate(m, a) || !conj_candidate(m, o)) continue;
        for (int l = m->adj_start[o]; l < m->adj_start[o + 1]; l++) {
            int ord = m->bonds[m->adj_bond[l]].order;
            if (ord == LF_BOND_DOUBLE || ord == LF_BOND_TRIPLE || ord == LF_BOND_AROMATIC) return 1;
        }
    }
    return 0;
}

/* RDKit's sanitization drops '@' marks on atoms that are not sp3 (cleanupChirality) */
static void drop_non_sp3_marks(lf_mol *m)
{
    for (int a = 0; a < m->n_atoms; a++) {
        lf_atom *at = &m->atoms[a];
        if (!at->chiral) continue;
        int norbs = at->z == 0 ? 0 : n_orbitals(m, a);
        int deg = lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0);
        if (norbs < 4 || (norbs == 4 && deg < 4 && has_conjugated_bond(m, a))) at->chiral = LF_CHI_NONE;
    }
}

lf_status lf_mol_assign_stereo(lf_mol *m)
{
    drop_non_sp3_marks(m);
    int any = 0;
    for (int a = 0; a < m->n_atoms; a++) {
        m->atoms[a].cip = 0;
        any |= m->atoms[a].chiral != LF_CHI_NONE;
    }
    for (int b = 0; b < m->n_bonds; b++) {
        m->bonds[b].stereo = 0;
        any |= m->bonds[b].dir != 0;
    }
    if (!any || !m->n_atoms) return LF_OK;
    stereo_ws w = {0};
    w.m = m;
    w.n = m->n_atoms;
    /* the longest neighbour list of a rank row: up to 8 entries per bond plus one per H */
    int max_nbr = 0;
    for (int a = 0; a < w.n; a++) {
        int c = 8 * lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0);
        if (c > max_nbr) max_nbr = c;
    }
    w.stride = w.n / 2 + 4 + max_nbr;
    w.ranks = lf_malloc(sizeof(int) * (size_t)w.n);
    w.rows = lf_malloc(sizeof(int) * (size_t)w.n * (size_t)w.stride);
    w.idx = lf_malloc(sizeof(int) * (size_t)w.n);
    w.tmp = lf_malloc(sizeof(int) * (size_t)w.n);
    w.nbr = lf_malloc(sizeof(int) * (size_t)(max_nbr + 1));
    lf_status st = LF_OK;
    if (!w.ranks || !w.rows || !w.idx || !w.tmp || !w.nbr) {
        st = lf_error(LF_ERR_NOMEM, "stereo: out of memory");
        goto out;
    }
    cip_ranks(&w);
    for (int round = 0; round < 1000; round++) {
        int changed = 0;
        for (int a = 0; a < w.n; a++) {
            lf_atom *at = &m->atoms[a];
            if (!at->chiral || at->cip) continue;
            int dupes;
            if (legal_center(m, a, w.ranks, &dupes) && !dupes) {
                at->cip = cip_label(m, a, w.ranks);
                changed = 1;
            }
        }
        changed |= assign_bonds(m, w.ranks);
        if (!changed) break;
        rerank(&w);
    }
    st = clean_marks(m, w.ranks);
out:
    lf_free(w.ranks);
    lf_free(w.rows);
    lf_free(w.idx);
    lf_free(w.tmp);
    lf_free(w.nbr);
    return st;
}
