/* Winograd F(2x2, 3x3) for the 3x3 stride-1 pad-1 convolutions (most of a ResNet's flops).
 *
 * The output is cut into 2x2 tiles; tile (ty, tx) needs the 4x4 input patch d at rows
 * 2ty-1..2ty+2, columns 2tx-1..2tx+2 (zero outside the image). With
 *
 *         | 1  0 -1  0 |          | 1    0    0  |
 *   B^T = | 0  1  1  0 |      G = | 1/2  1/2  1/2|      A^T = | 1  1  1  0 |
 *         | 0 -1  1  0 |          | 1/2 -1/2  1/2|            | 0  1 -1 -1 |
 *         | 0  1  0 -1 |          | 0    0    1  |
 *
 * one output tile of one (output channel o, input channel i) pair is
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * (.* elementwise, g the 3x3 filter): 16 multiplications instead of 36. Summed over input
 * channels the 16 elementwise products become 16 independent matrix products, one per
 * position xi of the 4x4 transformed tile:
 *   input transform    V_xi (ci x tiles) = (B^T d B)[xi]   for every channel and tile
 *   filter transform   U_xi (co x ci)    = (G g G^T)[xi]   for every filter
 *   products           M_xi (co x tiles) = U_xi V_xi       (lf_gemm512x, U_xi pre-packed)
 *   output transform   Y = A^T m A       where m[xi] = M_xi (o, tile)
 * so the gemm does 16 ci co flops per tile of 4 outputs where im2col does 36 ci co: 2.25x
 * fewer. The transforms add O((ci + co) tiles) work, small against the products when the
 * channel counts are large.
 *
 * The input gradient of a stride-1 pad-1 3x3 convolution is the same-size convolution of
 * the output gradient with the weights transposed (ci <-> co) and rotated by 180 degrees, so
 * it is the same computation with U_xi (ci x co) = the transpose of the rotated filters'
 * transform (packed transposed: no copy). The weight gradient has its own three steps
 * (below, at run_dw): the output gradient's transform A dY A^T, 16 products summed over
 * the tiles, and G^T dU G.
 *
 * Layout and threads (forward and input gradient): each thread takes a fixed range of
 * images (as lf_conv_cpu_run) and walks it in blocks of whole tile rows ("units": one
 * image, one tile row), sized so that a block's V and M (16 (ci + co) floats per tile) stay
 * near the core's L2. Every output
 * element is written once, by the thread owning its image, and its value does not depend
 * on the block (a gemm column's sum runs over ci in a fixed order): results do not depend
 * on the thread count. The transforms are vectorised over 16 tiles of a tile row: the 4x4
 * patches' columns are the even/odd elements of the input rows (one permute per 16). Rows
 * of 8 tiles or fewer (images of 16 columns or fewer: a ResNet's late layers) would leave
 * most lanes idle, and there the transforms ran at a quarter to a sixteenth of their width
 * (NOTES 15); such rows are packed 16 / tw units to a vector instead: the units' input row
 * segments are loaded side by side into a 32-float pair of registers, the patches' columns
 * permuted out of it, and the outputs go back the same way.
 *
 * Accuracy: each transformed value is a sum of a few products with coefficients 0, +-1/2,
 * +-1, so the result differs from the direct sum by a few float ulps times the sum of the
 * |products| (tests/unit/test_winograd.c measures it). Non-finite values differ from the
 * direct sum: the transforms add inputs before multiplying, so an inf input gives NaN in
 * the outputs whose tiles share its patch (im2col gives inf), and inputs within a factor 16
 * of FLT_MAX overflow. F(4x4, 3x3) (conv_winograd4.c) errs by several times more (4.2e-6
 * of the largest output at 389 channels against 7e-7), spreads an inf or NaN over its 6x6
 * patches' 4x4 tiles, and overflowed from about FLT_MAX / 14 in a review's test where
 * F(2x2) and im2col stayed finite to about FLT_MAX / 3. Float builds on AVX-512 machines
 * only; LF_CONV=im2col turns the path off.
 *
 * Images of 3x3 and more take F(4x4, 3x3) for the forward pass and the input gradient
 * (conv_winograd4.c: 0.56x the products, larger rounding errors), 2x2 images the dual kind
 * (conv_winograd_dual.c: 9 products an image); this file then does their weight gradient
 * only. LF_CONV=winograd2 keeps F(2x2, 3x3) for everything. The forward pass of stride-2
 * 3x3 convolutions has its own kind (conv_winograd_s2.c). */
#include "conv_winograd.h"
#include "gemm_avx512.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static atomic_int forced = -1; /* lf_conv_winograd_force */

void lf_conv_winograd_force(int mode) { atomic_store(&forced, mode < 0 || mode > 2 ? -1 : mode); }

/* LF_CONV: "im2col" 0 (no Winograd), "winograd2" 2 (F(2x2, 3x3) alone), else 1 (both) */
static int env_mode(void)
{
    const char *e = getenv("LF_CONV");
    if (e && !strcmp(e, "im2col")) return 0;
    return e && !strcmp(e, "winograd2") ? 2 : 1;
}

/* 0 off, 1 F(4x4) where it fits and F(2x2) elsewhere, 2 F(2x2) alone */
static int mode(void)
{
    static atomic_int cached = -1;
    const int f = atomic_load(&forced);
    return f >= 0 ? f : lf_cached(&cached, env_mode);
}

int lf_conv_winograd_enabled(void)
{
    if (!lf_gemm512_available()) return 0; /* also 0 in float64 builds */
    return mode() != 0;
}

bool lf_conv_winograd_fits(const lf_conv_geom *q)
{
    return q->groups == 1 && q->in[0] == 1 && q->out[0] == 1 && q->k[0] == 1 && q->p[0] == 0 &&
           q->k[1] == 3 && q->k[2] == 3 && q->s[1] == 1 && q->s[2] == 1 && q->d[1] == 1 &&
           q->d[2] == 1 && q->p[1] == 1 && q->p[2] == 1 && q->in[1] == q->out[1] &&
           q->in[2] == q->out[2];
}

bool lf_conv_winograd_dw_fits(const lf_conv_geom *q) { return q->ci > 64 && q->co > 64; }

bool lf_conv_winograd_s2_takes(const lf_conv_geom *q, const lf_conv_job *j)
{
    return j->colside_out && j->img && !j->dw && !j->img_out && lf_gemm512_available() &&
           mode() == 1 && lf_conv_winograd_s2_fits(q, j->n);
}

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include "conv_winograd_pass.h"

/* A block's transformed tiles: 16 (ci + co) floats each, ~1 MB (the L2 of a core here), but
 * at least WINO_MIN_COLS tiles so the gemm's 48-column panels stay full in the late layers */
#ifndef WINO_BLOCK_BYTES
#define WINO_BLOCK_BYTES (1 << 20)
#endif
#ifndef WINO_MIN_COLS
#define WINO_MIN_COLS 96
#endif
#ifndef WINO_DW_MIN_COLS
#define WINO_DW_MIN_COLS 128
#endif
#ifndef WINO_DW_BLOCK_BYTES
#define WINO_DW_BLOCK_BYTES (2 << 20)
#endif

/* the even and odd elements of a 32-float pair: columns 2t and 2t + 1 of 16 tiles */
WINO_FN static inline void even_odd(const __m512 st[2], __m512 *y0, __m512 *y1)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    *y0 = _mm512_permutex2var_ps(st[0], even, st[1]);
    *y1 = _mm512_permutex2var_ps(st[0], _mm512_add_epi32(even, _mm512_set1_epi32(1)), st[1]);
}

/* the inverse: y0, y1 interleaved (y0[0], y1[0], y0[1], ...) into v[0], v[1] */
WINO_FN static inline void interleave(__m512 y0, __m512 y1, __m512 v[2])
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    v[0] = _mm512_permutex2var_ps(y0, lo, y1);
    v[1] = _mm512_permutex2var_ps(y0, _mm512_add_epi32(lo, _mm512_set1_epi32(8)), y1);
}

/* a patch row's four columns e (16 patches) times B */
WINO_FN static inline void times_b(const __m512 e[4], __m512 out[4])
{
    out[0] = _mm512_sub_ps(e[0], e[2]);
    out[1] = _mm512_add_ps(e[1], e[2]);
    out[2] = _mm512_sub_ps(e[2], e[1]);
    out[3] = _mm512_sub_ps(e[1], e[3]);
}

/* a row u of A^T m (16 tiles) times A: the output row's two columns */
WINO_FN static inline void times_a(const __m512 u[4], __m512 *y0, __m512 *y1)
{
    *y0 = _mm512_add_ps(_mm512_add_ps(u[0], u[1]), u[2]);
    *y1 = _mm512_sub_ps(_mm512_sub_ps(u[1], u[2]), u[3]);
}

/* Row i of 16 patches (tiles t0..t0+15 of a tile row) times B: out[j] = (d B)[i][j] for
 * every tile. row: the input row (NULL: a padding row); patch column j of tile t is input
 * column 2t - 1 + j, read as four 16-wide masked loads at columns 2 t0 - 1 + off[k] (lanes
 * outside the row are masked off: they are the zero padding and are never touched, so the
 * address may point before the row). */
WINO_FN static inline void row_times_b(const float *row, int64_t t0, const __mmask16 m[4],
                                       __m512 out[4])
{
    static const int off[4] = {0, 16, 2, 18};
    if (!row) {
        out[0] = out[1] = out[2] = out[3] = _mm512_setzero_ps();
        return;
    }
    __m512 v[4];
    for (int k = 0; k < 4; k++) {
        const uintptr_t at = (uintptr_t)row + (uintptr_t)((2 * t0 - 1 + off[k]) * 4);
        v[k] = _mm512_maskz_loadu_ps(m[k], (const void *)at);
    }
    __m512 e[4];
    even_odd(v, &e[0], &e[1]);
    even_odd(v + 2, &e[2], &e[3]);
    times_b(e, out);
}

/* B^T (d B) of 16 patches (s[i] = row i of d B) into V at dst, the 16 V_xi xs floats apart:
 * rows combine as the columns did */
WINO_FN static inline void store_bt(float *dst, int64_t xs, __mmask16 m, __m512 s[4][4])
{
    for (int j = 0; j < 4; j++) {
        _mm512_mask_storeu_ps(dst + (0 + j) * xs, m, _mm512_sub_ps(s[0][j], s[2][j]));
        _mm512_mask_storeu_ps(dst + (4 + j) * xs, m, _mm512_add_ps(s[1][j], s[2][j]));
        _mm512_mask_storeu_ps(dst + (8 + j) * xs, m, _mm512_sub_ps(s[2][j], s[1][j]));
        _mm512_mask_storeu_ps(dst + (12 + j) * xs, m, _mm512_sub_ps(s[1][j], s[3][j]));
    }
}

/* Short rows (tw <= 8): U = 16 / tw units share a vector. Their row segments (seg = 2 tw
 * floats, the input columns 0..seg-1; W = seg or seg - 1) sit side by side in a 32-float
 * staging pair (unit k at k seg), and lane l = k tw + t, the tile t of unit k, finds column
 * 2t - 1 + j of its patch at staging position k seg + 2t - 1 + j. Columns -1 and seg are
 * padding (their positions belong to the neighbouring units) and are masked to zero. */
typedef struct wino_short {
    int64_t U, seg;
    __m512i idx[4]; /* patch column j of each lane: its staging position */
    __mmask16 keep[4];
    __mmask16 live; /* the U tw lanes in use */
    /* unit k's columns 0..W-1 in staging register R: lanes seg_m[k][R], read from the row
     * start + seg_off[k][R] floats (masked-off lanes touch no memory) */
    __mmask16 seg_m[16][2];
    int64_t seg_off[16][2];
} wino_short;

/* sr set up for w's rows when they are short (tw <= 8), else NULL: the long-row code */
WINO_FN static const wino_short *short_rows(wino_short *sr, const wino_pass *w)
{
    const int64_t tw = w->tw, W = w->W;
    if (tw > 8) return NULL;
    sr->U = 16 / tw;
    sr->seg = 2 * tw;
    sr->live = lanes(sr->U * tw);
    for (int64_t k = 0; k < sr->U; k++)
        for (int R = 0; R < 2; R++) {
            const int64_t off = 16 * R - k * sr->seg;
            sr->seg_off[k][R] = off;
            sr->seg_m[k][R] = (__mmask16)(lanes(W - off) & ~lanes(-off));
        }
    for (int j = 0; j < 4; j++) {
        int32_t at[16] = {0};
        __mmask16 keep = 0;
        for (int l = 0; l < sr->U * tw; l++) {
            const int64_t k = l / tw, col = 2 * (l % tw) - 1 + j;
            if (col < 0 || col >= sr->seg) continue;
            at[l] = (int32_t)(k * sr->seg + col);
            keep |= (__mmask16)(1u << l);
        }
        sr->idx[j] = _mm512_loadu_si512(at);
        sr->keep[j] = keep;
    }
    return sr;
}

/* Unit k's row segment (row: its first column) merged into the staging pair */
WINO_FN static inline void stage_load(const wino_short *sr, int64_t k, const float *row,
                                      __m512 *st0, __m512 *st1)
{
    const uintptr_t at = (uintptr_t)row;
    *st0 = _mm512_mask_loadu_ps(*st0, sr->seg_m[k][0],
                                (const void *)(at + (uintptr_t)(sr->seg_off[k][0] * 4)));
    *st1 = _mm512_mask_loadu_ps(*st1, sr->seg_m[k][1],
                                (const void *)(at + (uintptr_t)(sr->seg_off[k][1] * 4)));
}

/* Unit k's row segment from the staging pair into row (+= when add) */
WINO_FN static inline void stage_store(const wino_short *sr, int64_t k, float *row, __m512 st0,
                                       __m512 st1, bool add)
{
    const uintptr_t at = (uintptr_t)row;
    float *p0 = (float *)(at + (uintptr_t)(sr->seg_off[k][0] * 4));
    float *p1 = (float *)(at + (uintptr_t)(sr->seg_off[k][1] * 4));
    const __mmask16 m0 = sr->seg_m[k][0], m1 = sr->seg_m[k][1];
    if (add) {
        st0 = _mm512_add_ps(st0, _mm512_maskz_loadu_ps(m0, p0));
        st1 = _mm512_add_ps(st1, _mm512_maskz_loadu_ps(m1, p1));
    }
    _mm512_mask_storeu_ps(p0, m0, st0);
    _mm512_mask_storeu_ps(p1, m1, st1);
}

/* Unit (image b, tile row ty) of each of the block's r units */
static void block_units(const wino_pass *w, int64_t u0, int64_t r, int32_t *ub, int32_t *uy)
{
    for (int64_t k = 0; k < r; k++) {
        ub[k] = (int32_t)((u0 + k) / w->th);
        uy[k] = (int32_t)((u0 + k) % w->th);
    }
}

/* input_block for short rows: groups of U units, each row of their patches assembled from
 * the units' segments with masked loads (masked-off lanes touch no memory) */
WINO_FN static void input_block_short(const wino_pass *w, const wino_short *sr, int64_t r,
                                      const int32_t *ub, const int32_t *uy, float *V, int64_t P)
{
    const int64_t H = w->H, W = w->W, HW = H * W, xs = xi_stride(w->ci, P), tw = w->tw;
    for (int64_t c = 0; c < w->ci; c++) {
        for (int64_t k0 = 0; k0 < r; k0 += sr->U) {
            const int64_t nu = r - k0 < sr->U ? r - k0 : sr->U;
            __m512 s[4][4], st0[4], st1[4];
            for (int i = 0; i < 4; i++) st0[i] = st1[i] = _mm512_setzero_ps();
            /* unit by unit, its four patch rows (one address and mask lookup per unit) */
            for (int64_t k = 0; k < nu; k++) {
                const int64_t y0 = 2 * (int64_t)uy[k0 + k] - 1;
                const float *plane = w->in + ((int64_t)ub[k0 + k] * w->ci + c) * HW;
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
                    if (y0 + i >= 0 && y0 + i < H) /* else a padding row: zeros */
                        stage_load(sr, k, plane + (y0 + i) * W, &st0[i], &st1[i]);
            }
            for (int i = 0; i < 4; i++) {
                __m512 e[4];
                for (int j = 0; j < 4; j++)
                    e[j] = _mm512_maskz_permutex2var_ps(sr->keep[j], st0[i], sr->idx[j], st1[i]);
                times_b(e, s[i]);
            }
            store_bt(V + c * P + k0 * tw, xs, (__mmask16)(sr->live & lanes(nu * tw)), s);
        }
    }
}

/* input_block for long rows. V (16, ci, P) <- B^T d B of the tiles of units u0..u0+r-1
 * (unit k's tiles in columns k tw..), read straight from the image (a row buffer was slower: its loads stalled on the
 * stores just made to it). Channel by channel, so that each plane is read top to bottom. */
WINO_FN __attribute__((noinline)) static void input_rows(const wino_pass *w, int64_t u0,
                                                         int64_t r, float *V, int64_t P)
{
    const int64_t H = w->H, W = w->W, xs = xi_stride(w->ci, P);
    for (int64_t c = 0; c < w->ci; c++) {
        for (int64_t k = 0; k < r; k++) {
            const int64_t b = (u0 + k) / w->th, ty = (u0 + k) % w->th;
            const float *plane = w->in + (b * w->ci + c) * H * W;
            for (int64_t t0 = 0; t0 < w->tw; t0 += 16) {
                const __mmask16 m = lanes(w->tw - t0);
                const __mmask16 ml[4] = {in_row(2 * t0 - 1, W), in_row(2 * t0 + 15, W),
                                         in_row(2 * t0 + 1, W), in_row(2 * t0 + 17, W)};
                __m512 s[4][4];
                for (int i = 0; i < 4; i++) {
                    const int64_t y = 2 * ty - 1 + i;
                    row_times_b(y >= 0 && y < H ? plane + y * W : NULL, t0, ml, s[i]);
                }
                store_bt(V + c * P + k * w->tw + t0, xs, m, s);
            }
        }
    }
}

/* Output row segment from 16 tiles, u a row of their A^T m: columns 2t, 2t+1 of tile t come
 * from (u A)[t]; n values (<= 32) are written, added to what is there when add */
WINO_FN static inline void store_pair(float *o, const __m512 u[4], int64_t n, bool add)
{
    const __mmask16 m0 = lanes(n), m1 = lanes(n - 16);
    __m512 y0, y1, v[2];
    times_a(u, &y0, &y1);
    interleave(y0, y1, v);
    if (add) v[0] = _mm512_add_ps(v[0], _mm512_maskz_loadu_ps(m0, o));
    _mm512_mask_storeu_ps(o, m0, v[0]);
    if (!m1) return;
    if (add) v[1] = _mm512_add_ps(v[1], _mm512_maskz_loadu_ps(m1, o + 16));
    _mm512_mask_storeu_ps(o + 16, m1, v[1]);
}

/* A^T m of 16 tiles from M at src (the 16 M_xi xs floats apart): its two rows, per column j */
WINO_FN static inline void at_m(const float *src, int64_t xs, __mmask16 m, __m512 u0v[4],
                                __m512 u1v[4])
{
    for (int j = 0; j < 4; j++) {
        const __m512 m0 = _mm512_maskz_loadu_ps(m, src + (0 + j) * xs);
        const __m512 m1 = _mm512_maskz_loadu_ps(m, src + (4 + j) * xs);
        const __m512 m2 = _mm512_maskz_loadu_ps(m, src + (8 + j) * xs);
        const __m512 m3 = _mm512_maskz_loadu_ps(m, src + (12 + j) * xs);
        u0v[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        u1v[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
}

/* output_block for long rows: units u0..u0+r-1 of out <- A^T m A of their tiles, m from M
 * (16, co, P) (unit k's tiles in columns k tw..); channel by channel, each plane written top
 * to bottom. */
WINO_FN __attribute__((noinline)) static void output_rows(const wino_pass *w, int64_t u0,
                                                          int64_t r, const float *M, int64_t P)
{
    const int64_t H = w->H, W = w->W, xs = xi_stride(w->co, P);
    for (int64_t c = 0; c < w->co; c++) {
        for (int64_t k = 0; k < r; k++) {
            const int64_t b = (u0 + k) / w->th, ty = (u0 + k) % w->th;
            const bool second = 2 * ty + 1 < H; /* odd H: the last tile row has one row */
            float *row0 = w->out + ((b * w->co + c) * H + 2 * ty) * W;
            for (int64_t t0 = 0; t0 < w->tw; t0 += 16) {
                const __mmask16 m = lanes(w->tw - t0);
                __m512 u0v[4], u1v[4];
                at_m(M + c * P + k * w->tw + t0, xs, m, u0v, u1v);
                const int64_t n = W - 2 * t0 < 32 ? W - 2 * t0 : 32;
                store_pair(row0 + 2 * t0, u0v, n, w->add); /* (A^T m) A */
                if (second) store_pair(row0 + W + 2 * t0, u1v, n, w->add);
            }
        }
    }
}

/* output_block for short rows: a group's two output rows, each interleaved into a staging
 * pair in the input's segment layout (lane l's columns 2t, 2t+1 at positions 2l, 2l + 1)
 * and written back unit by unit with masked stores */
WINO_FN static void output_block_short(const wino_pass *w, const wino_short *sr, int64_t r,
                                       const int32_t *ub, const int32_t *uy, const float *M,
                                       int64_t P)
{
    const int64_t H = w->H, W = w->W, HW = H * W, xs = xi_stride(w->co, P), tw = w->tw;
    for (int64_t c = 0; c < w->co; c++) {
        for (int64_t k0 = 0; k0 < r; k0 += sr->U) {
            const int64_t nu = r - k0 < sr->U ? r - k0 : sr->U;
            const __mmask16 m = (__mmask16)(sr->live & lanes(nu * tw));
            __m512 u0v[4], u1v[4];
            at_m(M + c * P + k0 * tw, xs, m, u0v, u1v);
            __m512 st[2][2]; /* output rows 0 and 1 in the staging layout */
            for (int h = 0; h < 2; h++) {
                __m512 y0, y1;
                times_a(h ? u1v : u0v, &y0, &y1);
                interleave(y0, y1, st[h]);
            }
            for (int64_t k = 0; k < nu; k++) {
                const int64_t y = 2 * (int64_t)uy[k0 + k];
                float *row = w->out + ((int64_t)ub[k0 + k] * w->co + c) * HW + y * W;
                stage_store(sr, k, row, st[0][0], st[0][1], w->add);
                if (y + 1 < H) /* odd H: the last tile row has one row */
                    stage_store(sr, k, row + W, st[1][0], st[1][1], w->add);
            }
        }
    }
}

/* V <- the input transform of units u0..u0+r-1; sr: short rows (their units in ub, uy) or
 * NULL */
static void input_block(const wino_pass *w, const wino_short *sr, int64_t u0, int64_t r,
                        const int32_t *ub, const int32_t *uy, float *V, int64_t P)
{
    if (sr)
        input_block_short(w, sr, r, ub, uy, V, P);
    else
        input_rows(w, u0, r, V, P);
}

/* The output transform of units u0..u0+r-1 from M; sr as input_block's */
static void output_block(const wino_pass *w, const wino_short *sr, int64_t u0, int64_t r,
                         const int32_t *ub, const int32_t *uy, const float *M, int64_t P)
{
    if (sr)
        output_block_short(w, sr, r, ub, uy, M, P);
    else
        output_rows(w, u0, r, M, P);
}

/* Units [u_begin, u_end) on the calling thread; buf: thread_floats(w) floats (V, M, the
 * gemm's packing space, and the block's units for short rows: ub, uy) */
static void wino_range(const wino_pass *w, int64_t u_begin, int64_t u_end, float *buf)
{
    const int64_t pmax = w->rows * w->tw;
    float *V = buf, *M = V + align16(16 * xi_stride(w->ci, pmax));
    float *pack = M + align16(16 * xi_stride(w->co, pmax));
    int32_t *ub = (int32_t *)(pack + align16((int64_t)lf_gemm512_pack_floats() + 16));
    int32_t *uy = ub + w->rows;
    wino_short sr_;
    const wino_short *sr = short_rows(&sr_, w);
    for (int64_t u0 = u_begin; u0 < u_end; u0 += w->rows) {
        const int64_t r = u_end - u0 < w->rows ? u_end - u0 : w->rows, P = r * w->tw;
        if (sr) block_units(w, u0, r, ub, uy);
        input_block(w, sr, u0, r, ub, uy, V, P);
        wino_products(w, 16, V, false, M, P, pack);
        output_block(w, sr, u0, r, ub, uy, M, P);
        if (w->ep) wino_epilogue_units(w, 2, u0, r);
    }
}

static int64_t thread_floats(const wino_pass *w)
{
    const int64_t pmax = w->rows * w->tw;
    return align16(16 * xi_stride(w->ci, pmax)) + align16(16 * xi_stride(w->co, pmax)) +
           align16((int64_t)lf_gemm512_pack_floats() + 16) + align16(2 * w->rows); /* ub, uy */
}

/* The 16 values (G g G^T)[xi] of 16 filters' taps k (wino_filter_transform) */
WINO_FN static inline void filter_math(const __m512 k[9], __m512 *v)
{
    const __m512 half = _mm512_set1_ps(0.5f);
    __m512 t[4][3];
    for (int j = 0; j < 3; j++) { /* G g */
        const __m512 sum = _mm512_add_ps(k[j], k[6 + j]);
        t[0][j] = k[j];
        t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(sum, k[3 + j]));
        t[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(sum, k[3 + j]));
        t[3][j] = k[6 + j];
    }
    for (int a = 0; a < 4; a++) { /* (G g) G^T */
        const __m512 sum = _mm512_add_ps(t[a][0], t[a][2]);
        v[4 * a + 0] = t[a][0];
        v[4 * a + 1] = _mm512_mul_ps(half, _mm512_add_ps(sum, t[a][1]));
        v[4 * a + 2] = _mm512_mul_ps(half, _mm512_sub_ps(sum, t[a][1]));
        v[4 * a + 3] = t[a][2];
    }
}

WINO_DEFINE_FILTERS(filter_transform, 16, filter_math)

/* ---- The weight gradient ----
 * Y = A^T (U .* V) A per tile, so dU[xi] = sum over tiles of dM[xi] V[xi] with
 * dM = A dY A^T (the tile's 2x2 output gradient spread over 4x4), and dW = G^T dU G:
 *   gradient transform  dM_xi (co x tiles) = (A dY A^T)[xi]
 *   products            dU_xi (co x ci)   += dM_xi V_xi^T   (a sum over the tiles)
 *   filter gradient     dW += G^T dU G
 * The products' sums run over the tiles, so blocks of units are transformed by all threads
 * together (each its share of the units), and the 16 products of a block are then shared
 * out by xi: one dU for all threads, and every sum runs over the same blocks in the same
 * order whatever the thread count. */

/* A dY A^T of 16 tiles whose output rows 0 and 1 are in the staging pairs s0, s1, into dM at
 * dst (the 16 dM_xi xs floats apart) */
WINO_FN static inline void store_a_dy_at(float *dst, int64_t xs, __mmask16 m, const __m512 s0[2],
                                         const __m512 s1[2])
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 z[2][4]; /* (dY A^T): per row, the four columns */
    for (int h = 0; h < 2; h++) {
        __m512 y0, y1;
        even_odd(h ? s1 : s0, &y0, &y1);
        z[h][0] = y0;
        z[h][1] = _mm512_add_ps(y0, y1);
        z[h][2] = _mm512_sub_ps(y0, y1);
        z[h][3] = _mm512_sub_ps(zero, y1);
    }
    for (int j = 0; j < 4; j++) { /* A (dY A^T) */
        _mm512_mask_storeu_ps(dst + (0 + j) * xs, m, z[0][j]);
        _mm512_mask_storeu_ps(dst + (4 + j) * xs, m, _mm512_add_ps(z[0][j], z[1][j]));
        _mm512_mask_storeu_ps(dst + (8 + j) * xs, m, _mm512_sub_ps(z[0][j], z[1][j]));
        _mm512_mask_storeu_ps(dst + (12 + j) * xs, m, _mm512_sub_ps(zero, z[1][j]));
    }
}

/* dM (16, co, P) <- A dY A^T of units u0..u0+r-1 (unit k's tiles in columns k tw..; dY is
 * w->in, co = w->ci channels here). Output rows past the image (odd H, W) read as zeros. */
WINO_FN static void grad_block(const wino_pass *w, const wino_short *sr, int64_t u0, int64_t r,
                               const int32_t *ub, const int32_t *uy, float *dM, int64_t P)
{
    const int64_t H = w->H, W = w->W, HW = H * W, xs = xi_stride(w->ci, P), tw = w->tw;
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t c = 0; c < w->ci; c++) {
        if (sr) { /* short rows: U units to a vector, segments side by side */
            for (int64_t k0 = 0; k0 < r; k0 += sr->U) {
                const int64_t nu = r - k0 < sr->U ? r - k0 : sr->U;
                __m512 a0 = zero, a1 = zero, b0 = zero, b1 = zero; /* output rows 0 and 1 */
                for (int64_t k = 0; k < nu; k++) {
                    const int64_t y = 2 * (int64_t)uy[k0 + k];
                    const float *row = w->in + ((int64_t)ub[k0 + k] * w->ci + c) * HW + y * W;
                    stage_load(sr, k, row, &a0, &a1);
                    if (y + 1 < H) stage_load(sr, k, row + W, &b0, &b1);
                }
                const __m512 s0[2] = {a0, a1}, s1[2] = {b0, b1};
                store_a_dy_at(dM + c * P + k0 * tw, xs, (__mmask16)(sr->live & lanes(nu * tw)),
                              s0, s1);
            }
            continue;
        }
        for (int64_t k = 0; k < r; k++) { /* one unit's row, 16 tiles at a time */
            const int64_t b = (u0 + k) / w->th, ty = (u0 + k) % w->th;
            const float *row0 = w->in + ((b * w->ci + c) * H + 2 * ty) * W;
            const bool second = 2 * ty + 1 < H;
            for (int64_t t0 = 0; t0 < tw; t0 += 16) {
                /* columns 2 t0 .. 2 t0 + 31, the lanes past the row masked off (their
                 * addresses may lie past the buffer: uintptr_t, as in row_times_b) */
                const __mmask16 m0 = in_row(2 * t0, W), m1 = in_row(2 * t0 + 16, W);
                const uintptr_t at = (uintptr_t)row0 + (uintptr_t)(2 * t0 * 4);
                const __m512 s0[2] = {_mm512_maskz_loadu_ps(m0, (const void *)at),
                                      _mm512_maskz_loadu_ps(m1, (const void *)(at + 64))};
                __m512 s1[2] = {zero, zero};
                if (second) {
                    const uintptr_t at1 = at + (uintptr_t)(W * 4);
                    s1[0] = _mm512_maskz_loadu_ps(m0, (const void *)at1);
                    s1[1] = _mm512_maskz_loadu_ps(m1, (const void *)(at1 + 64));
                }
                store_a_dy_at(dM + c * P + k * tw + t0, xs, lanes(tw - t0), s0, s1);
            }
        }
    }
}

/* dw (co, ci, 3, 3) += G^T dU G for output channels [o_begin, o_end); dU (16, co, ci) */
WINO_FN static void filter_grad(const float *dU, int64_t co, int64_t ci, int64_t o_begin,
                                int64_t o_end, float *dw)
{
    const __m512 half = _mm512_set1_ps(0.5f);
    const int64_t xs = co * ci;
    for (int64_t o = o_begin; o < o_end; o++)
        for (int64_t i0 = 0; i0 < ci; i0 += 16) {
            const __mmask16 m = lanes(ci - i0);
            __m512 d[16], t[3][4], g[9];
            for (int xi = 0; xi < 16; xi++)
                d[xi] = _mm512_maskz_loadu_ps(m, dU + xi * xs + o * ci + i0);
            for (int j = 0; j < 4; j++) { /* G^T dU: rows 0, 1, 2 from the four */
                const __m512 h1 = _mm512_mul_ps(half, d[4 + j]), h2 = _mm512_mul_ps(half, d[8 + j]);
                t[0][j] = _mm512_add_ps(d[j], _mm512_add_ps(h1, h2));
                t[1][j] = _mm512_sub_ps(h1, h2);
                t[2][j] = _mm512_add_ps(_mm512_add_ps(h1, h2), d[12 + j]);
            }
            for (int a = 0; a < 3; a++) { /* (G^T dU) G: columns the same way */
                const __m512 h1 = _mm512_mul_ps(half, t[a][1]), h2 = _mm512_mul_ps(half, t[a][2]);
                g[3 * a + 0] = _mm512_add_ps(t[a][0], _mm512_add_ps(h1, h2));
                g[3 * a + 1] = _mm512_sub_ps(h1, h2);
                g[3 * a + 2] = _mm512_add_ps(_mm512_add_ps(h1, h2), t[a][3]);
            }
            float tmp[9][16]; /* lane l's 9 values are contiguous in dw: 144 floats in a row */
            for (int a = 0; a < 9; a++) _mm512_storeu_ps(tmp[a], g[a]);
            float *out = dw + (o * ci + i0) * 9;
            const int n = (int)(ci - i0 < 16 ? ci - i0 : 16);
            for (int l = 0; l < n; l++)
                for (int a = 0; a < 9; a++) out[l * 9 + a] += tmp[a][l];
        }
}

typedef struct wino_dw {
    wino_pass x;  /* the input transform: in = the images (ci), rows = units per block */
    wino_pass gy; /* the gradient transform: in = dY (its ci = the layer's co) */
    int64_t units;
    float *V, *dM, *dU; /* shared: a block's V and dM; the 16 dU_xi */
    float *thr;         /* per thread: the gemm's packing space, then ub and uy */
    int64_t thr_floats;
} wino_dw;

/* Thread t of T: its share of each block's units, then its share of the 16 products, then
 * its share of the output channels' filter gradients. Every thread runs the same loop (the
 * barriers). */
static void dw_thread(const wino_dw *d, float *dw, int t, int T)
{
    const wino_pass *x = &d->x;
    const int64_t tw = x->tw, ci = x->ci, co = x->co;
    float *pack = d->thr + t * d->thr_floats;
    int32_t *ub = (int32_t *)(pack + align16((int64_t)lf_gemm512_pack_floats() + 16));
    int32_t *uy = ub + x->rows;
    wino_short sr_;
    const wino_short *sr = short_rows(&sr_, x);
    for (int64_t u0 = 0; u0 < d->units; u0 += x->rows) {
        const int64_t r = d->units - u0 < x->rows ? d->units - u0 : x->rows, P = r * tw;
        const int64_t a = r * t / T, n = r * (t + 1) / T - a; /* this thread's units */
        if (n > 0) {
            if (sr) block_units(x, u0 + a, n, ub, uy);
            input_block(x, sr, u0 + a, n, ub, uy, d->V + a * tw, P);
            grad_block(&d->gy, sr, u0 + a, n, ub, uy, d->dM + a * tw, P);
        }
        if (T > 1) { /* (never with T = 1: the caller may be inside another team's region) */
#pragma omp barrier
        }
        for (int xi = t; xi < 16; xi += T) {
            const lf_gemm_mat am = {d->dM + xi * xi_stride(co, P), P, 0, 0, false};
            const lf_gemm_mat bv = {d->V + xi * xi_stride(ci, P), P, 0, 0, true};
            const lf_gemm_mat cu = {d->dU + xi * co * ci, ci, 0, 0, false};
            lf_gemm512x(co, ci, P, 1, &am, NULL, &bv, 1, &cu, pack);
        }
        if (T > 1) {
#pragma omp barrier
        }
    }
    filter_grad(d->dU, co, ci, co * t / T, co * (t + 1) / T, dw);
}

/* dw += the weight gradient of x (n, ci, H, W) -> dy (n, co, H, W). Scratch: slot WINO_U for
 * dU (the filter transform's slot: the passes run one after the other), WINO_BUF for a
 * block's V and dM and the threads' packing space and unit lists (ub, uy). */
static lf_status run_dw(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j, int T)
{
    wino_dw d = {.x = {.ci = q->ci, .co = q->co, .H = q->in[1], .W = q->in[2], .in = j->img}};
    wino_pass *x = &d.x;
    x->th = (x->H + 1) / 2;
    x->tw = (x->W + 1) / 2;
    d.units = j->n * x->th;
    /* blocks of about WINO_DW_BLOCK_BYTES (whatever T: the sums must not depend on it), but
     * at least WINO_DW_MIN_COLS tiles (the products' sums run over a block's tiles, and dU
     * is read and written once per block) */
    x->rows = wino_block_rows(x, 16, WINO_DW_BLOCK_BYTES, WINO_DW_MIN_COLS);
    if (x->rows > d.units) x->rows = d.units;
    d.gy = *x;
    d.gy.ci = q->co;
    d.gy.in = j->colside;
    const int64_t pmax = x->rows * x->tw;
    d.thr_floats = align16((int64_t)lf_gemm512_pack_floats() + 16) + align16(2 * x->rows);
    const int64_t vm = align16(16 * xi_stride(x->ci, pmax)) + align16(16 * xi_stride(x->co, pmax));
    d.dU = lf_graph_scratch(g, WINO_U, (size_t)(16 * q->co * q->ci) * sizeof(float));
    d.V = lf_graph_scratch(g, WINO_BUF, (size_t)(vm + T * d.thr_floats) * sizeof(float));
    if (!d.dU || !d.V) return LF_ERR_NOMEM;
    d.dM = d.V + align16(16 * xi_stride(x->ci, pmax));
    d.thr = d.V + vm;
    memset(d.dU, 0, (size_t)(16 * q->co * q->ci) * sizeof(float));
    if (T == 1) {
        dw_thread(&d, j->dw, 0, 1);
        return LF_OK;
    }
#pragma omp parallel num_threads(T)
    dw_thread(&d, j->dw, lf_conv_thread_num(), lf_conv_team_size());
    return LF_OK;
}

static const wino_kind f2 = {.tile = 2, .n_xi = 16, .form = LF_FORM_WINOGRAD2,
                             .block_bytes = WINO_BLOCK_BYTES, .min_cols = WINO_MIN_COLS,
                             .thread_floats = thread_floats, .filters = filter_transform,
                             .range = wino_range};

lf_status lf_conv_winograd_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j, int T)
{
    /* the forward product and the input gradient on F(4x4) where it fits, 2x2 images on the
     * dual kind */
    const wino_kind *k = &f2;
    if ((j->colside_out || j->img_out) && mode() == 1) {
        if (lf_conv_winograd4_fits(q)) k = lf_conv_winograd4_kind();
        else if (lf_conv_winograd_dual_fits(q)) k = lf_conv_winograd_dual_kind();
    }
    lf_status s = wino_passes(g, q, j, k, T);
    if (s != LF_OK) return s;
    if (j->dw) return run_dw(g, q, j, T); /* dW += G^T (sum dM V^T) G */
    return LF_OK;
}

#else /* no Winograd path in this build (lf_conv_winograd_enabled is 0) */

lf_status lf_conv_winograd_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j, int T)
{
    (void)g, (void)q, (void)j, (void)T;
    return LF_ERR_UNSUPPORTED;
}

#endif
