/* Pooling, 2-D (N, C, H, W) and 3-D (N, C, D, H, W): max and average pooling with a cubic
 * kernel, stride and zero padding (ceil_mode = false), as torch.nn.functional.max_pool{2,3}d
 * and avg_pool{2,3}d (count_include_pad = true); global average pooling to (N, C).
 * Every (image, channel) plane is independent, so the loops run in parallel over planes and
 * each output element is written by one thread: results do not depend on the thread count.
 * (Serial with the pthreads OpenBLAS: see lf_cpu_parallel_loops in conv_cpu.c.) */
#include "../backend/cpu/conv_cpu.h"
#include "../backend/cpu/pool_cpu.h"
#include "../core/internal.h"

#include <math.h>
#include <string.h>

typedef struct pool_geom {
    int64_t planes;          /* N * C */
    int64_t in[3], out[3];   /* spatial sizes, depth 1 in 2-D */
    int64_t k[3], s[3], p[3];
} pool_geom;

static lf_status pool_setup(const char *op, const lf_tensor *x, int nd, int kernel, int stride,
                            int padding, pool_geom *q, int64_t *yshape)
{
    char sx[96];
    lf_shape_str(x, sx, sizeof sx);
    if (nd != 2 && nd != 3)
        return lf_error(LF_ERR_ARG, "%s: ndim_spatial is %d (2 or 3 allowed)", op, nd);
    if (x->ndim != nd + 2)
        return lf_error(LF_ERR_SHAPE, "%s: %d-D pooling needs a %d-D input, got %s", op, nd,
                        nd + 2, sx);
    if (stride == 0) stride = kernel; /* torch's default stride */
    if (kernel < 1 || stride < 1 || padding < 0)
        return lf_error(LF_ERR_ARG, "%s: kernel %d, stride %d, padding %d (kernel, stride >= 1, "
                        "padding >= 0)", op, kernel, stride, padding);
    if (2 * padding > kernel)
        return lf_error(LF_ERR_ARG, "%s: padding %d must be at most half the kernel %d", op,
                        padding, kernel);
    memset(q, 0, sizeof *q);
    q->planes = x->shape[0] * x->shape[1];
    yshape[0] = x->shape[0];
    yshape[1] = x->shape[1];
    for (int i = 0; i < 3; i++) {
        q->in[i] = q->out[i] = q->k[i] = q->s[i] = 1;
        q->p[i] = 0;
    }
    for (int i = 0; i < nd; i++) {
        const int j = 3 - nd + i;
        q->in[j] = x->shape[2 + i];
        q->k[j] = kernel;
        q->s[j] = stride;
        q->p[j] = padding;
        const int64_t padded = q->in[j] + 2 * (int64_t)padding;
        if (kernel > padded)
            return lf_error(LF_ERR_SHAPE, "%s: kernel %d is larger than input %s padded by %d "
                            "in spatial dim %d", op, kernel, sx, padding, i);
        q->out[j] = (padded - kernel) / stride + 1;
        yshape[2 + i] = q->out[j];
    }
    return LF_OK;
}

/* Shared start of max and avg pooling: checks, contiguous input (*x replaced), output y. */
static lf_tensor *pool_begin(lf_graph *g, const char *op, lf_tensor **x, int nd, int kernel,
                             int stride, int padding, pool_geom *q)
{
    int64_t ys[LF_MAX_DIMS];
    if (!*x || pool_setup(op, *x, nd, kernel, stride, padding, q, ys) != LF_OK) return NULL;
    *x = lf_contiguous(g, *x);
    if (!*x) return NULL;
    return lf_op_output(g, (*x)->ndim, ys, LF_IN(*x));
}

/* Clamped window [*a, *b) of output position o in one dim */
static inline void window(const pool_geom *q, int dim, int64_t o, int64_t *a, int64_t *b)
{
    int64_t lo = o * q->s[dim] - q->p[dim], hi = lo + q->k[dim];
    *a = lo < 0 ? 0 : lo;
    *b = hi > q->in[dim] ? q->in[dim] : hi;
}

/* ---- max pooling: saves the flat in-plane index of each window's max (first one on ties,
 * a NaN wins, as torch), backward routes the gradient there. Indices are int32 (half the
 * memory of int64; a plane holds fewer than 2^31 values, checked) and only kept when the
 * op is recorded: inference computes the maxima alone, without branches. */
static lf_status max_pool_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    const pool_geom *q = n->saved;
    const int32_t *idx = (const int32_t *)(q + 1);
    const int64_t L = q->out[0] * q->out[1] * q->out[2], Lin = q->in[0] * q->in[1] * q->in[2];
    const lf_real *gy = n->out->grad;
    lf_real *gx = n->in[0]->grad;
#pragma omp parallel for schedule(static) if (q->planes * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < q->planes; pl++)
        for (int64_t o = 0; o < L; o++) gx[pl * Lin + idx[pl * L + o]] += gy[pl * L + o];
    return LF_OK;
}

/* Maxima of one output row, and their flat in-plane indices when irow is not NULL: a sweep
 * over the window's input rows, then kernel columns, each over the whole output row (loops a
 * compiler vectorises; the window-by-window scan with a branch took 5 % of a 64x64 training
 * step). It visits every window's values in the window-by-window order (depth, row, column),
 * so torch's rule holds: a later value wins when larger or NaN, the first maximum on ties. */
static void max_row(const pool_geom *q, const lf_real *src, int64_t d0, int64_t d1, int64_t h0,
                    int64_t h1, lf_real *restrict drow, int32_t *restrict irow)
{
    const int64_t OW = q->out[2], sw = q->s[2], W = q->in[2];
    for (int64_t ow = 0; ow < OW; ow++) {
        drow[ow] = -INFINITY;
        if (irow) {
            int64_t w0, w1;
            window(q, 2, ow, &w0, &w1);
            irow[ow] = (int32_t)((d0 * q->in[1] + h0) * W + w0);
        }
    }
    for (int64_t d = d0; d < d1; d++)
        for (int64_t h = h0; h < h1; h++) {
            const int64_t base = (d * q->in[1] + h) * W;
            const lf_real *restrict row = src + base;
            for (int64_t j = 0; j < q->k[2]; j++) {
                const int64_t off = j - q->p[2];
                int64_t lo, hi;
                lf_conv_valid_range(off, sw, W, OW, &lo, &hi);
                if (!irow) { /* inference: the maxima alone */
                    for (int64_t ow = lo; ow < hi; ow++) {
                        const lf_real v = row[ow * sw + off];
                        drow[ow] = (v > drow[ow] || v != v) ? v : drow[ow];
                    }
                    continue;
                }
                for (int64_t ow = lo; ow < hi; ow++) {
                    const lf_real v = row[ow * sw + off];
                    const bool take = v > drow[ow] || v != v;
                    drow[ow] = take ? v : drow[ow];
                    irow[ow] = take ? (int32_t)(base + ow * sw + off) : irow[ow];
                }
            }
        }
}

/* One plane; id == NULL: maxima only, else their indices too (on AVX-512 with stride 2 and
 * up to 4 columns, the same values and indices from lf_max_pool_row_avx512). */
static void max_pool_plane(const pool_geom *q, const lf_real *src, lf_real *dst, int32_t *id)
{
    const bool fast = q->k[0] * q->k[1] <= 16 && /* false in float64 builds */
                      lf_max_pool_row_avx512_fits(q->k[2], q->s[2]);
    for (int64_t od = 0; od < q->out[0]; od++) {
        int64_t d0, d1;
        window(q, 0, od, &d0, &d1);
        for (int64_t oh = 0; oh < q->out[1]; oh++) {
            int64_t h0, h1;
            window(q, 1, oh, &h0, &h1);
            const int64_t o = (od * q->out[1] + oh) * q->out[2];
            if (!fast) {
                max_row(q, src, d0, d1, h0, h1, dst + o, id ? id + o : NULL);
                continue;
            }
#ifndef LF_DOUBLE
            const float *rows[16];
            int32_t bases[16];
            int n = 0;
            for (int64_t d = d0; d < d1; d++)
                for (int64_t h = h0; h < h1; h++, n++) {
                    bases[n] = (int32_t)((d * q->in[1] + h) * q->in[2]);
                    rows[n] = src + bases[n];
                }
            lf_max_pool_row_avx512(rows, n, q->in[2], q->out[2], q->k[2], q->p[2], dst + o,
                                   bases, id ? id + o : NULL);
#endif
        }
    }
}

/* All planes of src into dst (id: NULL, or the indices of the maxima), in parallel. nonneg:
 * every value of src is +0 or more and none NaN, so a 2-D pooling may take plain maxima
 * (lf_max_pool_plane_nonneg: the same bits) */
static void max_pool_planes(const pool_geom *q, const lf_real *src, lf_real *dst, int32_t *id,
                            bool nonneg)
{
    const int64_t L = q->out[0] * q->out[1] * q->out[2], Lin = q->in[0] * q->in[1] * q->in[2];
#ifdef LF_DOUBLE
    (void)nonneg; /* the plain-maximum kernel is float */
#else
    const bool plain = nonneg && !id && q->in[0] == 1 && q->k[0] == 1 &&
                       lf_max_pool_plane_nonneg_fits(q->k[1], q->k[2], q->s[1], q->s[2],
                                                     q->out[2]);
#endif
#pragma omp parallel for schedule(static) if (q->planes * L * q->k[0] * q->k[1] * q->k[2] >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < q->planes; pl++) {
#ifndef LF_DOUBLE
        if (plain) {
            lf_max_pool_plane_nonneg(src + pl * Lin, q->in[1], q->in[2], q->out[1], q->out[2],
                                     q->k[1], q->k[2], q->p[1], q->p[2], dst + pl * L);
            continue;
        }
#endif
        max_pool_plane(q, src + pl * Lin, dst + pl * L, id ? id + pl * L : NULL);
    }
}

static lf_status max_pool_check(const pool_geom *q)
{
    const int64_t Lin = q->in[0] * q->in[1] * q->in[2];
    if (Lin > INT32_MAX)
        return lf_error(LF_ERR_SHAPE, "max_pool: a plane of %lld values is over the 2^31 limit",
                        (long long)Lin);
    return LF_OK;
}

lf_status lf_max_pool_into(const lf_tensor *x, int ndim_spatial, int kernel, int stride,
                           int padding, int64_t *yshape, const lf_real *xd, lf_real *y,
                           bool nonneg)
{
    pool_geom q;
    int64_t ys[LF_MAX_DIMS];
    lf_status s = pool_setup("max_pool", x, ndim_spatial, kernel, stride, padding, &q, ys);
    if (s == LF_OK) s = max_pool_check(&q);
    if (s != LF_OK) return s;
    if (yshape) memcpy(yshape, ys, sizeof(int64_t) * (size_t)x->ndim);
    if (xd && y) max_pool_planes(&q, xd, y, NULL, nonneg);
    return LF_OK;
}

lf_tensor *lf_max_pool(lf_graph *g, lf_tensor *x, int ndim_spatial, int kernel, int stride,
                       int padding)
{
    pool_geom q;
    lf_tensor *y = pool_begin(g, "max_pool", &x, ndim_spatial, kernel, stride, padding, &q);
    if (!y || max_pool_check(&q) != LF_OK) return NULL;
    const int64_t L = q.out[0] * q.out[1] * q.out[2];
    const bool rec = lf_needs_grad(y); /* set by lf_op_output only when recording */
    /* geometry and indices in one arena block: saved for backward */
    pool_geom *s = NULL;
    int32_t *idx = NULL;
    if (rec) {
        s = lf_graph_alloc(g, sizeof q + (size_t)(q.planes * L) * sizeof(int32_t));
        if (!s) return NULL;
        *s = q;
        idx = (int32_t *)(s + 1);
    }
    max_pool_planes(&q, x->data, y->data, idx, false);
    lf_node *n = lf_record(g, "max_pool", max_pool_backward, y, LF_IN(x));
    if (n) n->saved = s;
    return y;
}

/* ---- average pooling: divisor is the full kernel volume (padding counts) */
static lf_status avg_pool_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    const pool_geom *q = n->saved;
    const int64_t L = q->out[0] * q->out[1] * q->out[2], Lin = q->in[0] * q->in[1] * q->in[2];
    const lf_real inv = (lf_real)(1.0 / (double)(q->k[0] * q->k[1] * q->k[2]));
    const lf_real *gy = n->out->grad;
    lf_real *gx = n->in[0]->grad;
#pragma omp parallel for schedule(static) if (q->planes * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < q->planes; pl++) {
        lf_real *dst = gx + pl * Lin;
        for (int64_t od = 0; od < q->out[0]; od++) {
            int64_t d0, d1;
            window(q, 0, od, &d0, &d1);
            for (int64_t oh = 0; oh < q->out[1]; oh++) {
                int64_t h0, h1;
                window(q, 1, oh, &h0, &h1);
                for (int64_t ow = 0; ow < q->out[2]; ow++) {
                    int64_t w0, w1;
                    window(q, 2, ow, &w0, &w1);
                    const lf_real v = gy[pl * L + (od * q->out[1] + oh) * q->out[2] + ow] * inv;
                    for (int64_t d = d0; d < d1; d++)
                        for (int64_t h = h0; h < h1; h++)
                            for (int64_t w = w0; w < w1; w++) dst[(d * q->in[1] + h) * q->in[2] + w] += v;
                }
            }
        }
    }
    return LF_OK;
}

lf_tensor *lf_avg_pool(lf_graph *g, lf_tensor *x, int ndim_spatial, int kernel, int stride,
                       int padding)
{
    pool_geom q;
    lf_tensor *y = pool_begin(g, "avg_pool", &x, ndim_spatial, kernel, stride, padding, &q);
    if (!y) return NULL;
    const int64_t L = q.out[0] * q.out[1] * q.out[2], Lin = q.in[0] * q.in[1] * q.in[2];
    const double inv = 1.0 / (double)(q.k[0] * q.k[1] * q.k[2]);
#pragma omp parallel for schedule(static) if (q.planes * L * q.k[0] * q.k[1] * q.k[2] >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < q.planes; pl++) {
        const lf_real *src = x->data + pl * Lin;
        for (int64_t od = 0; od < q.out[0]; od++) {
            int64_t d0, d1;
            window(&q, 0, od, &d0, &d1);
            for (int64_t oh = 0; oh < q.out[1]; oh++) {
                int64_t h0, h1;
                window(&q, 1, oh, &h0, &h1);
                for (int64_t ow = 0; ow < q.out[2]; ow++) {
                    int64_t w0, w1;
                    window(&q, 2, ow, &w0, &w1);
                    double sum = 0;
                    for (int64_t d = d0; d < d1; d++)
                        for (int64_t h = h0; h < h1; h++)
                            for (int64_t w = w0; w < w1; w++) sum += src[(d * q.in[1] + h) * q.in[2] + w];
                    y->data[pl * L + (od * q.out[1] + oh) * q.out[2] + ow] = (lf_real)(sum * inv);
                }
            }
        }
    }
    lf_node *n = lf_record(g, "avg_pool", avg_pool_backward, y, LF_IN(x));
    if (n) {
        pool_geom *s = lf_graph_alloc(g, sizeof *s);
        if (!s) return NULL;
        *s = q;
        n->saved = s;
    }
    return y;
}

/* ---- global average pooling (N, C, ...) -> (N, C) */
static lf_status global_avg_pool_backward(lf_graph *g, lf_node *n)
{
    (void)g;
    const int64_t planes = n->iarg[0], L = n->iarg[1];
    const lf_real *gy = n->out->grad;
    lf_real *gx = n->in[0]->grad;
    const lf_real inv = (lf_real)(1.0 / (double)L);
#pragma omp parallel for schedule(static) if (planes * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < planes; pl++) {
        const lf_real v = gy[pl] * inv;
        for (int64_t l = 0; l < L; l++) gx[pl * L + l] += v;
    }
    return LF_OK;
}

lf_tensor *lf_global_avg_pool(lf_graph *g, lf_tensor *x)
{
    if (!x) return NULL;
    if (x->ndim < 3) {
        char sx[96];
        lf_error(LF_ERR_SHAPE, "global_avg_pool: input %s needs (N, C, spatial...)",
                 lf_shape_str(x, sx, sizeof sx));
        return NULL;
    }
    x = lf_contiguous(g, x);
    if (!x) return NULL;
    const int64_t planes = x->shape[0] * x->shape[1], L = lf_numel(x) / (planes ? planes : 1);
    if (L == 0) {
        lf_error(LF_ERR_SHAPE, "global_avg_pool: empty spatial dims");
        return NULL;
    }
    lf_tensor *y = lf_op_output(g, 2, x->shape, LF_IN(x));
    if (!y) return NULL;
    const double inv = 1.0 / (double)L;
#pragma omp parallel for schedule(static) if (planes * L >= LF_PAR_MIN && lf_cpu_parallel_loops())
    for (int64_t pl = 0; pl < planes; pl++) {
        double s = 0;
        const lf_real *src = x->data + pl * L;
        for (int64_t l = 0; l < L; l++) s += src[l];
        y->data[pl] = (lf_real)(s * inv);
    }
    lf_node *n = lf_record(g, "global_avg_pool", global_avg_pool_backward, y, LF_IN(x));
    if (n) {
        n->iarg[0] = planes;
        n->iarg[1] = L;
    }
    return y;
}
