/* What the Winograd kinds share (conv_winograd.c: F(2x2, 3x3), conv_winograd4.c:
 * F(4x4, 3x3), conv_winograd_dual.c: 2x2 images, conv_winograd_s2.c: stride 2): a product
 * direction's description, small helpers, the block plan, the filter transform's skeleton,
 * the products, the thread split, the epilogue and the stores of 2x2 planes. Private to
 * those files; x86-64 float builds only. */
#ifndef LF_CONV_WINOGRAD_PASS_H
#define LF_CONV_WINOGRAD_PASS_H

#include "conv_winograd.h"
#include "gemm_avx512.h"
#include "transpose16_avx512.h"

#include <immintrin.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define WINO_FN __attribute__((target("avx512f"), optimize("O3")))

/* Scratch slots: those of the im2col path's columns and per-thread weight gradients
 * (conv_cpu.c). The paths never hold them at the same time (a job split between them runs
 * Winograd first), so each slot grows to the larger of the uses, not their sum: 8 MB less
 * peak RSS at 64x64 (NOTES 19). */
#define WINO_U 0   /* the packed filters, or dU */
#define WINO_BUF 2 /* V, M (or dM), the packing spaces and unit lists */

/* One product direction: out (n, co, H, W) (+)= conv3x3(in (n, ci, H, W)) with the packed
 * filter matrices u (one per transformed position xi, u_stride floats apart). */
typedef struct wino_pass {
    int64_t ci, co, H, W;
    int64_t th, tw;  /* tile rows and columns per image */
    int64_t rows;    /* tile rows (units) per block */
    const float *in;
    float *out;
    bool add;
    const lf_conv_epilogue *ep; /* forward only, or NULL */
    const float *u;
    int64_t u_stride;
} wino_pass;

static inline __mmask16 lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

static inline int64_t align16(int64_t n) { return (n + 15) & ~(int64_t)15; }

static inline int64_t gcd(int64_t a, int64_t b) { return b ? gcd(b, a % b) : a; }

/* Floats between the matrices V_xi (or M_xi) of a block: rows x P and 16 more. With
 * rows x P alone the stride is a multiple of 4 KB in most layers (64 x 144 floats = 36 KB),
 * and the transforms' store streams fall in one L1 set, more than its 12 ways (NOTES 18:
 * the 64-channel 16x16 layer 11 % faster with the 16). */
static inline int64_t xi_stride(int64_t rows, int64_t P) { return rows * P + 16; }

/* lanes l of a 16-wide load at column c0 with 0 <= c0 + l < W */
static inline __mmask16 in_row(int64_t c0, int64_t W)
{
    const int64_t lo = c0 < 0 ? -c0 : 0;
    return (__mmask16)(lanes(W - c0) & ~lanes(lo));
}

/* Units per block: V and M (n_xi (ci + co) floats a tile) of about `bytes`, but at least
 * min_cols tiles */
static inline int64_t wino_block_rows(const wino_pass *w, int n_xi, int64_t bytes,
                                      int64_t min_cols)
{
    int64_t cols = bytes / (int64_t)sizeof(float) / (n_xi * (w->ci + w->co));
    if (cols < min_cols) cols = min_cols;
    return (cols + w->tw - 1) / w->tw;
}

/* w->rows for a pass over n images on T threads: wino_block_rows, rounded up to whole
 * 48-column panels where a few more units give them (the gemm computes a partial panel at
 * full cost: P = 128 at 16x16 and 64 channels wasted 11 % of the products), at most a
 * thread's share */
static inline void wino_plan(wino_pass *w, int n_xi, int64_t bytes, int64_t min_cols, int64_t n,
                             int T)
{
    const int64_t share = (n + T - 1) / T * w->th; /* units per thread, at most */
    w->rows = wino_block_rows(w, n_xi, bytes, min_cols);
    const int64_t step = LF_GEMM512_NR / gcd(LF_GEMM512_NR, w->tw);
    const int64_t whole = (w->rows + step - 1) / step * step;
    if (whole * 4 <= w->rows * 5) w->rows = whole;
    if (w->rows > share) w->rows = share;
    if (w->rows < 1) w->rows = 1;
}

/* The 9 taps of 16 filters as a filter transform reads them: rows r0..r0+15 (lanes m) of
 * column c of U's matrix, forward row o = output channel, column i = input channel; bwd
 * (input gradient) the transpose, filters rotated by 180 degrees. idx: lane offsets (step
 * apart, see wino_filter_transform) */
WINO_FN static inline void wino_filter_taps(const float *w, int64_t ci, bool bwd, int64_t r0,
                                            int64_t c, __mmask16 m, __m512i idx, __m512 k[9])
{
    const float *g = w + (bwd ? c * ci + r0 : r0 * ci + c) * 9;
    for (int a = 0; a < 9; a++)
        k[bwd ? 8 - a : a] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, g + a, 4);
}

/* The n_xi transformed values v of 16 rows (lanes m) of column c written straight into
 * lf_gemm512_pack_a's layout of each matrix (u_stride floats apart): in the packed layout
 * the 16 rows are two panels' columns, 8 contiguous floats each (a 16-column row instead
 * would be 16 floats MR apart: a scatter, which took twice as long, NOTES 18) */
WINO_FN static inline void wino_filter_store(float *u, int64_t u_stride, int n_xi, int64_t M,
                                             int64_t K, int64_t r0, int64_t c, __mmask16 m,
                                             const __m512 *v)
{
    const int64_t at0 = lf_gemm512_packed_a_offset(M, K, r0, c);
    const int64_t at1 = lf_gemm512_packed_a_offset(M, K, r0 + 8, c);
    for (int xi = 0; xi < n_xi; xi++) {
        float *d = u + xi * u_stride;
        _mm512_mask_storeu_ps(d + at0, m & 0x00FF, v[xi]);
        /* lanes 8-15 land at at1..at1+7 (the masked-off lanes touch nothing) */
        if (r0 + 8 < M) _mm512_mask_storeu_ps(d + at1 - 8, m & 0xFF00, v[xi]);
    }
}

/* The n_xi matrices U_xi = (transformed filters)[xi] of the filters w (co, ci, 3, 3),
 * rotated by 180 degrees when bwd, written straight into lf_gemm512_pack_a's layout (no raw
 * copy to pack from): forward, U_xi is co x ci (row o, column i); bwd, its transpose,
 * ci x co. 16 rows of one column at a time, gathered from the filters (stride ci x 9
 * forward, 9 bwd); math turns their 9 taps into the n_xi values. This is one block of 16
 * rows (r0..); each tile size defines its loop over the blocks with WINO_DEFINE_FILTERS, so
 * that math, a constant there, is inlined (through a pointer the filter transforms took
 * 4.5 % of a 64x64 embedding profile instead of 3.4 %, NOTES 22). */
typedef void (*wino_filter_math)(const __m512 k[9], __m512 *v);
WINO_FN static inline __attribute__((always_inline)) void
wino_filter_rows(const float *w, int64_t co, int64_t ci, bool bwd, float *u, int64_t u_stride,
                 int n_xi, wino_filter_math math, int64_t r0)
{
    const int64_t M = bwd ? ci : co, K = bwd ? co : ci;
    const int64_t step = bwd ? 9 : ci * 9; /* floats between the filters of rows r, r + 1 */
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)step));
    const __mmask16 m = lanes(M - r0);
    for (int64_t c = 0; c < K; c++) {
        __m512 k[9], v[36];
        wino_filter_taps(w, ci, bwd, r0, c, m, idx, k);
        math(k, v);
        wino_filter_store(u, u_stride, n_xi, M, K, r0, c, m, v);
    }
}

/* Defines name(w, co, ci, bwd, u, u_stride, T), a wino_kind's filter transform: every block
 * of 16 rows on T threads (the last panel's padding rows zeroed first: they must read as
 * zeros), with math inlined */
#define WINO_DEFINE_FILTERS(name, n_xi, math)                                                \
    WINO_FN static void name(const float *w, int64_t co, int64_t ci, bool bwd, float *u,     \
                             int64_t u_stride, int T)                                        \
    {                                                                                        \
        const int64_t M = bwd ? ci : co;                                                     \
        if (M % LF_GEMM512_MR) memset(u, 0, (size_t)((n_xi) * u_stride) * sizeof(float));    \
        (void)T;                                                                             \
        _Pragma("omp parallel for schedule(static) num_threads(T) if (T > 1)")              \
        for (int64_t r0 = 0; r0 < M; r0 += 16)                                               \
            wino_filter_rows(w, co, ci, bwd, u, u_stride, n_xi, math, r0);                   \
    }

/* Floats between the matrices V_xi of a block written in the gemm's packed B layout
 * (lf_gemm512_packed_b_offset): ci x P padded to whole panels, and 16 more as xi_stride's */
static inline int64_t xi_stride_packed(int64_t ci, int64_t P)
{
    return lf_gemm512_packed_b_offset(ci, P, ci, 0) + 16;
}

/* Where 16 values of row c, columns j0..j0+15 of a ci x P matrix go in the packed B layout:
 * d[0] with lanes m[0], and, when the 16 columns cross into the next panel, the rest at
 * d[1] with lanes m[1] (d[1] is placed so that lane l lands on that panel's column
 * l - (lanes in the first)); keep: the lanes to write at all */
typedef struct wino_vdst {
    float *d[2];
    __mmask16 m[2];
} wino_vdst;

static inline wino_vdst wino_packed_at(float *V, int64_t ci, int64_t P, int64_t c, int64_t j0,
                                       __mmask16 keep)
{
    const int64_t nr = LF_GEMM512_NR, b = c - c % LF_GEMM512_KC;
    const int64_t kc = ci - b < LF_GEMM512_KC ? ci - b : LF_GEMM512_KC;
    const int64_t panel = lf_gemm512_packed_b_offset(ci, P, b, j0 - j0 % nr) + (c - b) * nr;
    const int first = (int)(nr - j0 % nr); /* lanes left in this panel */
    wino_vdst v = {{V + panel + j0 % nr, NULL}, {keep, 0}};
    if (first < 16) {
        v.m[0] = keep & lanes(first);
        v.m[1] = keep & (__mmask16)~lanes(first);
        v.d[1] = V + panel + kc * nr - first;
    }
    return v;
}

/* A thread's buffer for the kinds that write V in the packed B layout (F(4x4), the dual and
 * stride-2 kinds), after the plan: V (n_xi matrices ci x P, packed), M (n_xi matrices
 * co x P, row-major), the gemm's packing space; wino_packed_buffers carves it up */
static inline int64_t wino_packed_thread_floats(const wino_pass *w, int n_xi)
{
    const int64_t pmax = w->rows * w->tw;
    return align16(n_xi * xi_stride_packed(w->ci, pmax)) + align16(n_xi * xi_stride(w->co, pmax)) +
           align16((int64_t)lf_gemm512_pack_floats() + 16);
}

static inline void wino_packed_buffers(const wino_pass *w, int n_xi, float *buf, float **V,
                                       float **M, float **pack)
{
    const int64_t pmax = w->rows * w->tw;
    *V = buf;
    *M = buf + align16(n_xi * xi_stride_packed(w->ci, pmax));
    *pack = *M + align16(n_xi * xi_stride(w->co, pmax));
}

/* The products of a block: M_xi (co x P) = U_xi V_xi for the n_xi positions; V in the
 * packed B layout (v_packed, xi_stride_packed apart) or row-major (xi_stride apart) */
static inline void wino_products(const wino_pass *w, int n_xi, const float *V, bool v_packed,
                                 float *M, int64_t P, float *pack)
{
    const lf_gemm_mat none = {0};
    for (int xi = 0; xi < n_xi; xi++) {
        lf_gemm_mat c = {M + xi * xi_stride(w->co, P), P, 0, 0, false};
        const float *u = w->u + xi * w->u_stride;
        if (v_packed) {
            lf_gemm512x_bp(w->co, P, w->ci, 1, &none, u, V + xi * xi_stride_packed(w->ci, P), 0,
                           &c, pack);
            continue;
        }
        lf_gemm_mat b = {(float *)V + xi * xi_stride(w->ci, P), P, 0, 0, false};
        lf_gemm512x(w->co, P, w->ci, 1, &none, u, &b, 0, &c, pack);
    }
}

/* The epilogue on 16 outputs x of channel c about to be stored at `at` (lanes m): the
 * operations of lf_conv_epilogue_apply, in its order, so the same bits (max(x, 0) is its
 * x > 0 ? x : 0, NaN and -0 included). Applied in the registers instead of in a pass over
 * the block's outputs after they are stored (2.7 % of a 64x64 embedding profile, NOTES 27). */
WINO_FN static inline __m512 wino_epilogue16(const wino_pass *w, int64_t c, const float *at,
                                             __mmask16 m, __m512 x)
{
    const lf_conv_epilogue *ep = w->ep;
    x = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, _mm512_set1_ps(ep->mean[c])),
                                    _mm512_set1_ps(ep->a[c])),
                      _mm512_set1_ps(ep->k[c]));
    if (ep->res) { /* at the output's place, formed as an integer as `at` is */
        const uintptr_t r = (uintptr_t)ep->res + ((uintptr_t)at - (uintptr_t)w->out);
        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, (const void *)r));
    }
    return ep->relu ? _mm512_max_ps(x, _mm512_setzero_ps()) : x;
}

/* An epilogue parameter of channels c0..c0+3 spread to their 2x2 planes: lane l gets
 * p[c0 + l/4] (channels past nc read as 0: their lanes are not stored) */
WINO_FN static inline __m512 wino_per_channel4(const float *p, int64_t c0, int64_t nc)
{
    const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return _mm512_permutexvar_ps(quad, _mm512_maskz_loadu_ps(lanes(nc), p + c0));
}

/* The 2x2 output planes of channels c0..c0+nc-1 (nc <= 4) of cnt <= 16 images (img: the
 * first one's output, w->co planes of 4 floats an image): y[4 cc + p] holds pixel p of
 * channel c0 + cc over the images. Transposed in registers (lf_transpose16), each image's
 * four planes are 16 contiguous floats and go out in one store, added to what is there
 * when w->add, then the epilogue (the operations of lf_conv_epilogue_apply in its order:
 * wino_epilogue16's bits). For kinds whose tile is a whole 2x2 output image (the dual
 * kind; the stride-2 kind on 3x3 and 4x4 inputs), where a store per pixel would be a
 * scatter. */
WINO_FN static inline void wino_store_planes2x2(const wino_pass *w, float *img, int64_t c0,
                                                int64_t nc, int64_t cnt, __m512 y[16])
{
    const lf_conv_epilogue *ep = w->ep;
    const int64_t co = w->co;
    lf_transpose16(y); /* y[l]: image l, channels c0.. (4 floats each) */
    const __mmask16 m = lanes(4 * nc);
    __m512 mean = _mm512_setzero_ps(), a = mean, k = mean;
    if (ep) {
        mean = wino_per_channel4(ep->mean, c0, nc);
        a = wino_per_channel4(ep->a, c0, nc);
        k = wino_per_channel4(ep->k, c0, nc);
    }
    for (int64_t l = 0; l < cnt; l++) {
        const int64_t off = (l * co + c0) * 4;
        __m512 x = y[l];
        if (w->add) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, img + off));
        if (ep) {
            x = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, mean), a), k);
            if (ep->res)
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, ep->res + (img - w->out) + off));
            if (ep->relu) x = _mm512_max_ps(x, _mm512_setzero_ps());
        }
        _mm512_mask_storeu_ps(img + off, m, x);
    }
}

/* The epilogue on the output rows of units u0..u0+r-1 (tile: output rows per unit), just
 * written: a unit's rows are consecutive in each channel plane, and so are those of
 * consecutive units of one image */
static inline void wino_epilogue_units(const wino_pass *w, int64_t tile, int64_t u0, int64_t r)
{
    for (int64_t u = u0; u < u0 + r;) {
        const int64_t b = u / w->th, ty0 = u % w->th;
        const int64_t ty1 = w->th - ty0 < u0 + r - u ? w->th : ty0 + (u0 + r - u);
        const int64_t y1 = tile * ty1 < w->H ? tile * ty1 : w->H;
        lf_conv_epilogue_apply(w->ep, w->out, w->co, w->H * w->W, b, b + 1, tile * ty0 * w->W,
                               (y1 - tile * ty0) * w->W);
        u += ty1 - ty0;
    }
}

/* range(w, first unit, end unit, the thread's tf floats of buf) on T threads, each the
 * whole units of its images in lf_conv_cpu_run's split (the team may be smaller than T) */
typedef void (*wino_range_fn)(const wino_pass *w, int64_t u_begin, int64_t u_end, float *buf);
static inline void wino_threads(const wino_pass *w, int64_t n, int T, float *buf, int64_t tf,
                                wino_range_fn range)
{
    if (T == 1) {
        range(w, 0, n * w->th, buf);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        const int t = lf_conv_thread_num(), team = lf_conv_team_size(); /* team <= T */
        range(w, n * t / team * w->th, n * (t + 1) / team * w->th, buf + t * tf);
    }
}

/* A tile size's way of running a product direction */
typedef struct wino_kind {
    int tile, n_xi;                /* output rows and columns of a tile; transformed positions */
    int form;                      /* LF_FORM_*: its filters' kind kept with frozen weights */
    int64_t block_bytes, min_cols; /* wino_plan's */
    int64_t (*thread_floats)(const wino_pass *w); /* a thread's buffer, after the plan */
    /* the filter transform: wino_filter_rows on every block of 16 rows (M = ci when bwd,
     * else co), on T threads */
    void (*filters)(const float *w, int64_t co, int64_t ci, bool bwd, float *u, int64_t u_stride,
                    int T);
    wino_range_fn range;
} wino_kind;

/* One direction over n images: the plan, the filters (weights wt (wco, wci, 3, 3)) transformed
 * and packed into scratch slot WINO_U (shared read-only by the threads), the threads' V, M
 * and packing buffers in WINO_BUF, then the threads. bwd: the input gradient (filters rotated,
 * matrices transposed). */
static inline lf_status wino_run_pass(lf_graph *g, wino_pass *w, const wino_kind *k,
                                      const float *wt, int64_t wco, int64_t wci, bool bwd,
                                      int64_t n, int T)
{
    w->th = (w->H + k->tile - 1) / k->tile;
    w->tw = (w->W + k->tile - 1) / k->tile;
    wino_plan(w, k->n_xi, k->block_bytes, k->min_cols, n, T);
    const int64_t tf = k->thread_floats(w);
    w->u_stride = (int64_t)lf_gemm512_packed_a_floats(w->co, w->ci) + 16; /* (xi_stride) */
    const size_t u_bytes = (size_t)(k->n_xi * w->u_stride) * sizeof(float);
    bool fresh = true; /* the forward's filters kept between steps with frozen weights */
    float *u = bwd ? NULL : lf_graph_weight_form(g, wt, wco * wci * 9, k->form, u_bytes, &fresh);
    if (!u) u = lf_graph_scratch(g, WINO_U, u_bytes);
    /* 64-byte aligned: V in the packed layout is read with aligned loads */
    float *buf = lf_graph_scratch(g, WINO_BUF, (size_t)(T * tf + 16) * sizeof(float));
    if (!u || !buf) return LF_ERR_NOMEM;
    buf = (float *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    if (fresh) k->filters(wt, wco, wci, bwd, u, w->u_stride, T);
    w->u = u;
    wino_threads(w, n, T, buf, tf, k->range);
    return LF_OK;
}

/* The forward product (colside_out) and the input gradient (img_out) of j on kind k; the
 * weight gradient is conv_winograd.c's run_dw */
static inline lf_status wino_passes(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j,
                                    const wino_kind *k, int T)
{
    const int64_t H = q->in[1], W = q->in[2];
    if (j->colside_out) { /* Y = conv(X, W) */
        wino_pass w = {.ci = q->ci, .co = q->co, .H = H, .W = W, .in = j->img,
                       .out = j->colside_out, .add = j->accumulate != 0, .ep = j->ep};
        lf_status s = wino_run_pass(g, &w, k, j->w, q->co, q->ci, false, j->n, T);
        if (s != LF_OK) return s;
    }
    if (j->img_out) { /* dX += conv(dY, rot180(W)^T) */
        wino_pass w = {.ci = q->co, .co = q->ci, .H = H, .W = W, .in = j->colside,
                       .out = j->img_out, .add = true};
        lf_status s = wino_run_pass(g, &w, k, j->w, q->co, q->ci, true, j->n, T);
        if (s != LF_OK) return s;
    }
    return LF_OK;
}

/* F(4x4, 3x3)'s kind (conv_winograd4.c) and that of 2x2 images (conv_winograd_dual.c) */
const wino_kind *lf_conv_winograd4_kind(void);
const wino_kind *lf_conv_winograd_dual_kind(void);

#endif
