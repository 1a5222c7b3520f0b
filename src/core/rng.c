/* Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. Draw i of a stream is a
 * pure function of (seed, stream, i), so any partition of the work over threads gives the
 * same numbers. */
#include "labelfree.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void lf_philox4x32(uint64_t key, uint64_t c_hi, uint64_t c_lo, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)c_lo, c1 = (uint32_t)(c_lo >> 32);
    uint32_t c2 = (uint32_t)c_hi, c3 = (uint32_t)(c_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

lf_rng lf_rng_make(uint64_t seed, uint64_t stream)
{
    lf_rng r = {seed, stream, 0};
    return r;
}

uint32_t lf_rng_u32(lf_rng *r)
{
    uint32_t out[4];
    lf_philox4x32(r->seed, r->stream, r->offset >> 2, out);
    uint32_t v = out[r->offset & 3];
    r->offset++;
    return v;
}

double lf_rng_uniform(lf_rng *r)
{
    uint64_t hi = lf_rng_u32(r) >> 5, lo = lf_rng_u32(r) >> 6; /* 53 random bits */
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double lf_rng_normal(lf_rng *r)
{
    double u1 = lf_rng_uniform(r), u2 = lf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t lf_rng_below(lf_rng *r, uint32_t n)
{
    if (n <= 1) return 0;
    uint32_t limit = UINT32_MAX - UINT32_MAX % n; /* reject the biased tail */
    for (;;) {
        uint32_t v = lf_rng_u32(r);
        if (v < limit) return v % n;
    }
}

void lf_rng_fill_uniform(lf_rng *r, lf_real *out, int64_t n, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) out[i] = (lf_real)(lo + (hi - lo) * lf_rng_uniform(r));
}

void lf_rng_fill_normal(lf_rng *r, lf_real *out, int64_t n, double mean, double std)
{
    for (int64_t i = 0; i < n; i++) out[i] = (lf_real)(mean + std * lf_rng_normal(r));
}

void lf_rng_shuffle(lf_rng *r, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)lf_rng_below(r, (uint32_t)(i + 1));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
