/* Deterministic summation kernels (see reduce_kernel.h). */
#include "reduce_kernel.h"

#include <string.h>

double lf_sum_run(const lf_real *x, int64_t n)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += (double)x[i + k];
    double s = 0;
    for (; i < n; i++) s += (double)x[i];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])) + s;
}

/* 64 chunks whatever the thread count, so the rounding is the same with 1 or 16 threads */
#define FLAT_CHUNKS 64

double lf_sum_flat(const lf_real *x, int64_t n)
{
    if (n <= LF_PAR_MIN) return lf_sum_run(x, n);
    double part[FLAT_CHUNKS];
    int64_t step = (n + FLAT_CHUNKS - 1) / FLAT_CHUNKS;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < FLAT_CHUNKS; c++) {
        int64_t lo = c * step, hi = lo + step < n ? lo + step : n;
        part[c] = lo < hi ? lf_sum_run(x + lo, hi - lo) : 0;
    }
    double s = 0;
    for (int c = 0; c < FLAT_CHUNKS; c++) s += part[c];
    return s;
}

/* Axes merged into groups: size-1 axes dropped, neighbours of the same kind (reduced or kept)
 * merged, since a contiguous tensor's merged axes are still one strided axis. */
typedef struct groups {
    int n;
    int64_t size[LF_MAX_DIMS], stride[LF_MAX_DIMS];
    int red[LF_MAX_DIMS];
} groups;

static void make_groups(int ndim, const int64_t *shape, uint32_t mask, groups *G)
{
    G->n = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        int r = (mask >> i) & 1;
        if (G->n > 0 && G->red[G->n - 1] == r) G->size[G->n - 1] *= shape[i];
        else {
            G->size[G->n] = shape[i];
            G->red[G->n] = r;
            G->n++;
        }
    }
    int64_t s = 1;
    for (int i = G->n - 1; i >= 0; i--) {
        G->stride[i] = s;
        s *= G->size[i];
    }
}

/* offset in x of index `idx` spread over the groups of kind `red` among the first `upto` */
static int64_t group_offset(const groups *G, int red, int upto, int64_t idx)
{
    int64_t off = 0;
    for (int i = upto - 1; i >= 0; i--) {
        if (G->red[i] != red) continue;
        off += (idx % G->size[i]) * G->stride[i];
        idx /= G->size[i];
    }
    return off;
}

#define COLS 256 /* column block of the kept-last case (a stack array of doubles) */

void lf_reduce_sum(const lf_real *x, int ndim, const int64_t *shape, uint32_t mask, double scale,
                   lf_real *out, int accumulate)
{
    groups G;
    make_groups(ndim, shape, mask, &G);
    int64_t numel = 1, nout = 1, nred = 1;
    for (int i = 0; i < G.n; i++) {
        numel *= G.size[i];
        if (G.red[i]) nred *= G.size[i];
        else nout *= G.size[i];
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) numel = 0;
    if (numel == 0) { /* empty input: sums are 0 */
        if (!accumulate) {
            int64_t m = 1;
            for (int i = 0; i < ndim; i++)
                if (!((mask >> i) & 1)) m *= shape[i];
            memset(out, 0, (size_t)m * sizeof(lf_real));
        }
        return;
    }
    if (nred == 1) { /* nothing really reduced: a scaled copy */
#pragma omp parallel for if (numel > LF_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < numel; i++)
            out[i] = (lf_real)((accumulate ? (double)out[i] : 0.0) + scale * (double)x[i]);
        return;
    }
    if (nout == 1) {
        double s = scale * lf_sum_flat(x, numel);
        out[0] = (lf_real)((accumulate ? (double)out[0] : 0.0) + s);
        return;
    }
    int last = G.n - 1;
    int64_t L = G.size[last];
    int big = numel > LF_PAR_MIN;
    if (G.red[last]) {
        /* innermost axis reduced: each output is a sum of runs of L contiguous values */
        int64_t nrun = nred / L;
#pragma omp parallel for if (big) schedule(static)
        for (int64_t o = 0; o < nout; o++) {
            int64_t base = group_offset(&G, 0, G.n, o);
            double s = 0;
            for (int64_t c = 0; c < nrun; c++)
                s += lf_sum_run(x + base + group_offset(&G, 1, last, c), L);
            out[o] = (lf_real)((accumulate ? (double)out[o] : 0.0) + scale * s);
        }
    } else {
        /* innermost axis kept: rows of L outputs, each row summed over the reduced combos */
        int64_t nrow = nout / L, nblk = (L + COLS - 1) / COLS;
#pragma omp parallel for if (big) schedule(static)
        for (int64_t rb = 0; rb < nrow * nblk; rb++) {
            int64_t r = rb / nblk, j0 = (rb % nblk) * COLS;
            int64_t w = L - j0 < COLS ? L - j0 : COLS;
            int64_t base = group_offset(&G, 0, last, r) + j0;
            double acc[COLS];
            for (int64_t j = 0; j < w; j++) acc[j] = 0;
            for (int64_t c = 0; c < nred; c++) {
                const lf_real *p = x + base + group_offset(&G, 1, last, c);
                for (int64_t j = 0; j < w; j++) acc[j] += (double)p[j];
            }
            lf_real *o = out + r * L + j0;
            for (int64_t j = 0; j < w; j++)
                o[j] = (lf_real)((accumulate ? (double)o[j] : 0.0) + scale * acc[j]);
        }
    }
}

void lf_sum_to_grad(const lf_real *g, int ondim, const int64_t *oshape, const lf_tensor *t,
                    lf_real *tgrad)
{
    uint32_t mask = 0;
    for (int i = 0; i < ondim; i++) {
        int ti = t->ndim - ondim + i;
        if (ti < 0 || (t->shape[ti] == 1 && oshape[i] != 1)) mask |= 1u << i;
    }
    lf_reduce_sum(g, ondim, oshape, mask, 1.0, tgrad, 1);
}

void lf_expand_add(const lf_real *gy, int ndim, const int64_t *shape, uint32_t mask,
                   double scale, lf_real *gx)
{
    groups G;
    make_groups(ndim, shape, mask, &G);
    int64_t numel = 1, nout = 1, nred = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (numel == 0) return;
    for (int i = 0; i < G.n; i++) {
        if (G.red[i]) nred *= G.size[i];
        else nout *= G.size[i];
    }
    lf_real sc = (lf_real)scale;
    int big = numel > LF_PAR_MIN;
    if (G.n == 0 || nred == 1) {
#pragma omp parallel for if (big) schedule(static)
        for (int64_t i = 0; i < numel; i++) gx[i] += sc * gy[i];
        return;
    }
    if (nout == 1) {
        lf_real v = sc * gy[0];
#pragma omp parallel for if (big) schedule(static)
        for (int64_t i = 0; i < numel; i++) gx[i] += v;
        return;
    }
    int last = G.n - 1;
    int64_t L = G.size[last];
    if (G.red[last]) {
        int64_t nrun = nred / L;
#pragma omp parallel for if (big) schedule(static)
        for (int64_t o = 0; o < nout; o++) {
            int64_t base = group_offset(&G, 0, G.n, o);
            lf_real v = sc * gy[o];
            for (int64_t c = 0; c < nrun; c++) {
                lf_real *p = gx + base + group_offset(&G, 1, last, c);
                for (int64_t j = 0; j < L; j++) p[j] += v;
            }
        }
    } else {
        int64_t nrow = nout / L;
#pragma omp parallel for if (big) schedule(static)
        for (int64_t r = 0; r < nrow; r++) {
            int64_t base = group_offset(&G, 0, last, r);
            const lf_real *src = gy + r * L;
            for (int64_t c = 0; c < nred; c++) {
                lf_real *p = gx + base + group_offset(&G, 1, last, c);
                for (int64_t j = 0; j < L; j++) p[j] += sc * src[j];
            }
        }
    }
}
