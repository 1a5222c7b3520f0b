/* Morgan (ECFP-like) fingerprints as RDKit's GetMorganFingerprint(AsBitVect) computes them:
 * default connectivity invariants, boost-style 32-bit hash_combine (0x9e3779b9), neighbour
 * lists sorted by (bond type, invariant), and duplicate environments (same bond set) dropped
 * keeping the smallest invariant. Every environment sets bit (invariant % n_bits).
 * useChirality: double bonds with E/Z enter as bond type 100 + 10*2 + stereo, and atoms that
 * kept a '@' mark (stereo.c) add their label (R 3, S 2, none 1) to the layer hashes. */
#include "chem/elements.h"
#include "chem/molecule.h"

#include <stdlib.h>
#include <string.h>

static inline void hash_combine(uint32_t *seed, uint32_t v)
{
    *seed ^= v + 0x9e3779b9u + (*seed << 6) + (*seed >> 2);
}

static uint32_t atom_invariant(const lf_mol *m, int a)
{
    const lf_atom *at = &m->atoms[a];
    uint32_t comp[6];
    int n = 0;
    int total_h = lf_mol_total_h(m, a, 1);
    comp[n++] = (uint32_t)at->z;
    comp[n++] = (uint32_t)(lf_mol_degree(m, a) + lf_mol_total_h(m, a, 0));
    comp[n++] = (uint32_t)total_h;
    comp[n++] = (uint32_t)at->charge;
    comp[n++] = (uint32_t)(at->isotope ? lf_isotope_delta(at->z, at->isotope) : 0);
    if (at->in_ring) comp[n++] = 1;
    uint32_t seed = 0;
    for (int i = 0; i < n; i++) hash_combine(&seed, comp[i]);
    return seed;
}

typedef struct { int32_t bt; uint32_t inv; } nbr_t;
static int cmp_nbr(const void *x, const void *y)
{
    const nbr_t *a = x, *b = y;
    if (a->bt != b->bt) return a->bt < b->bt ? -1 : 1;
    return a->inv < b->inv ? -1 : a->inv > b->inv;
}

typedef struct { const uint64_t *env; uint32_t inv; int atom; } accum_t;
static _Thread_local int tl_words;
static int cmp_accum(const void *x, const void *y)
{
    const accum_t *a = x, *b = y;
    int c = memcmp(a->env, b->env, sizeof(uint64_t) * (size_t)tl_words);
    if (c) return c;
    if (a->inv != b->inv) return a->inv < b->inv ? -1 : 1;
    return a->atom - b->atom;
}

static lf_status morgan(const lf_mol *m, int radius, int n_bits, int use_chirality, uint8_t *bits, uint32_t *counts)
{
    if (!m || n_bits <= 0 || radius < 0 || (!bits && !counts))
        return lf_error(LF_ERR_ARG, "morgan: bad arguments (radius %d, n_bits %d)", radius, n_bits);
    if (bits) memset(bits, 0, (size_t)n_bits);
    if (counts) memset(counts, 0, sizeof(uint32_t) * (size_t)n_bits);
    int n = m->n_atoms, words = (m->n_bonds + 63) / 64;
    if (words == 0) words = 1;
    uint32_t *inv = lf_malloc(sizeof(uint32_t) * (size_t)(2 * n + 1));
    uint64_t *env = lf_calloc(2 * (size_t)n * (size_t)words + 1, sizeof(uint64_t));
    /* environments already in the fingerprint: at most n per layer */
    uint64_t *seen = lf_malloc(sizeof(uint64_t) * ((size_t)n * (size_t)(radius + 1) * (size_t)words + 1));
    uint8_t *dead = lf_calloc((size_t)n + 1, 1);
    uint8_t *chiral_done = lf_calloc((size_t)n + 1, 1);
    nbr_t *nb = lf_malloc(sizeof(nbr_t) * (size_t)(m->n_bonds * 2 + 1));
    accum_t *acc = lf_malloc(sizeof(accum_t) * (size_t)(n + 1));
    lf_status st = LF_OK;
    if (!inv || !env || !seen || !dead || !nb || !acc || !chiral_done) {
        st = lf_error(LF_ERR_NOMEM, "morgan: out of memory");
        goto out;
    }
    uint32_t *next = inv + n;
    int n_seen = 0;
    for (int a = 0; a < n; a++) {
        inv[a] = atom_invariant(m, a);
        uint32_t bit = inv[a] % (uint32_t)n_bits;
        if (bits) bits[bit] = 1;
        if (counts) counts[bit]++;
    }
    memcpy(next, inv, sizeof(uint32_t) * (size_t)n);
    for (int layer = 0; layer < radius; layer++) {
        int n_acc = 0;
        uint64_t *round_env = env + (size_t)n * (size_t)words;
        memcpy(round_env, env, sizeof(uint64_t) * (size_t)n * (size_t)words);
        for (int a = 0; a < n; a++) {
            if (dead[a]) continue;
            int deg = lf_mol_degree(m, a);
            if (!deg) {
                dead[a] = 1;
                continue;
            }
            uint64_t *ea = round_env + (size_t)a * (size_t)words;
            for (int j = 0; j < deg; j++) {
                int b = m->adj_bond[m->adj_start[a] + j];
                const lf_bond *bd = &m->bonds[b];
                int o = lf_bond_other(bd, a);
                ea[b >> 6] |= 1ull << (b & 63);
                /* the neighbour's environment as of the previous layer */
                const uint64_t *eo = env + (size_t)o * (size_t)words;
                for (int w = 0; w < words; w++) ea[w] |= eo[w];
                int32_t bt = bd->order;
                if (use_chirality && bd->order == LF_BOND_DOUBLE && bd->stereo)
                    bt = 100 + 10 * bd->order + bd->stereo;
                nb[j].bt = bt;
                nb[j].inv = inv[o];
            }
            qsort(nb, (size_t)deg, sizeof(nbr_t), cmp_nbr);
            uint32_t h = (uint32_t)layer;
            hash_combine(&h, inv[a]);
            int looks_chiral = m->atoms[a].chiral != LF_CHI_NONE;
            for (int j = 0; j < deg; j++) {
                uint32_t p = 0;
                hash_combine(&p, (uint32_t)nb[j].bt);
                hash_combine(&p, nb[j].inv);
                hash_combine(&h, p);
                /* RDKit: a stereo atom adds its label in the first layer, and again in later
                 * layers only while all its bonds are single and its neighbours' invariants differ */
                if (use_chirality && looks_chiral && chiral_done[a] &&
                    (nb[j].bt != LF_BOND_SINGLE || (j > 0 && nb[j].inv == nb[j - 1].inv)))
                    looks_chiral = 0;
            }
            if (use_chirality && looks_chiral) {
                chiral_done[a] = 1;
                char cip = m->atoms[a].cip;
                hash_combine(&h, cip == 'R' ? 3u : cip == 'S' ? 2u : 1u);
            }
            next[a] = h;
            acc[n_acc].env = ea;
            acc[n_acc].inv = h;
            acc[n_acc].atom = a;
            n_acc++;
        }
        tl_words = words;
        qsort(acc, (size_t)n_acc, sizeof(accum_t), cmp_accum);
        for (int i = 0; i < n_acc; i++) {
            int found = 0;
            for (int s = 0; s < n_seen && !found; s++)
                if (!memcmp(seen + (size_t)s * (size_t)words, acc[i].env, sizeof(uint64_t) * (size_t)words)) found = 1;
            if (found) {
                dead[acc[i].atom] = 1;
                continue;
            }
            uint32_t bit = acc[i].inv % (uint32_t)n_bits;
            if (bits) bits[bit] = 1;
            if (counts) counts[bit]++;
            memcpy(seen + (size_t)n_seen * (size_t)words, acc[i].env, sizeof(uint64_t) * (size_t)words);
            n_seen++;
        }
        memcpy(inv, next, sizeof(uint32_t) * (size_t)n);
        memcpy(env, round_env, sizeof(uint64_t) * (size_t)n * (size_t)words);
    }
out:
    lf_free(inv);
    lf_free(env);
    lf_free(seen);
    lf_free(dead);
    lf_free(chiral_done);
    lf_free(nb);
    lf_free(acc);
    return st;
}

lf_status lf_morgan_bits(const lf_mol *m, int radius, int n_bits, int use_chirality, uint8_t *bits)
{
    return morgan(m, radius, n_bits, use_chirality, bits, NULL);
}

lf_status lf_morgan_counts(const lf_mol *m, int radius, int n_bits, int use_chirality, uint32_t *counts)
{
    return morgan(m, radius, n_bits, use_chirality, NULL, counts);
}
