/* Winograd F(4x4, 3x3) for the forward pass and the input gradient of 3x3 stride-1 pad-1
 * convolutions on images of at least 3x3 (2x2 images take conv_winograd_dual.c, the weight
 * gradient F(2x2, 3x3) in conv_winograd.c).
 *
 * The same three steps as F(2x2, 3x3) (see conv_winograd.c) with 4x4 output tiles and 6x6
 * input patches (rows 4ty-1..4ty+4, columns 4tx-1..4tx+4). The matrices come from the
 * interpolation points 0, -1, 1, 1/2, -2 and infinity, not the usual 0, 1, -1, 2, -2: in a
 * float32 simulation (64 channels, inputs and weights uniform in [-1, 1]) their error was
 * 1.4e-6 of the largest output against 5.8e-6 (direct sum 5.8e-7, F(2x2) 2.8e-7), as
 * Barabasz et al. (2020) found for this tile size:
 *
 *         | 1 -3/2  -2  3/2   1  0 |       |   1      0     0  |
 *         | 0    1 -5/2 1/2   1  0 |       | -1/3    1/3 -1/3  |
 *   B^T = | 0   -1  1/2 5/2   1  0 |   G = |  1/3    1/3  1/3  |
 *         | 0   -2   -1   2   1  0 |       | -16/15 -8/15 -4/15|
 *         | 0  1/2   -1 -1/2  1  0 |       |  1/15  -2/15  4/15|
 *         | 0    1 -3/2  -2 3/2  1 |       |   0      0     1  |
 *
 *         | 1  1  1   1    1  0 |
 *   A^T = | 0 -1  1  1/2  -2  0 |
 *         | 0  1  1  1/4   4  0 |
 *         | 0 -1  1  1/8  -8  1 |
 *
 * 36 matrix products per tile of 16 outputs: 2.25 multiplications an output where F(2x2)
 * does 4 and the direct sum 9, so the products shrink to 0.56x of F(2x2)'s. The price is
 * accuracy (the transforms scale values up before the products and cancel it after:
 * tests/unit/test_winograd.c measures both tile sizes against float64), and bigger
 * transforms per tile (but 4x fewer tiles).
 *
 * Layout and threads as conv_winograd.c: each thread a fixed range of images, in blocks of
 * whole tile rows ("units") whose 36 (ci + co) floats a tile stay near L2; every output is
 * written once by one thread, in a fixed order: results do not depend on the thread count.
 * The transforms are vectorised over 16 tiles: the input patches' rows are assembled from
 * input rows staged in registers (see input_block4), and the outputs of four neighbouring
 * tiles are regrouped in registers so that each of their output rows goes out in one store
 * (output_block4). */
#include "conv_winograd.h"

bool lf_conv_winograd4_fits(const lf_conv_geom *q)
{
    /* 2x2 images: one F(2x2) tile is exact, one F(4x4) tile 9x the products */
    return q->in[1] >= 3 && q->in[2] >= 3;
}

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include "conv_winograd_pass.h"

#ifndef W4_BLOCK_BYTES
#define W4_BLOCK_BYTES (1 << 20)
#endif
#ifndef W4_MIN_COLS
#define W4_MIN_COLS 96
#endif
#ifndef W4_PF
#define W4_PF 2 /* channels ahead to prefetch */
#endif
#ifndef W4_RES_PF
#define W4_RES_PF 2 /* channels ahead to prefetch the epilogue's residual */
#endif

/* B^T applied to six values: o = B^T d (d a patch column, or a row times B) */
WINO_FN static inline void bt6(const __m512 d[6], __m512 o[6])
{
    const __m512 half = _mm512_set1_ps(0.5f), one5 = _mm512_set1_ps(1.5f),
                 two = _mm512_set1_ps(2), two5 = _mm512_set1_ps(2.5f);
    const __m512 q = _mm512_sub_ps(d[4], d[2]), p = _mm512_sub_ps(d[3], d[1]);
    o[0] = _mm512_fmadd_ps(one5, p, _mm512_fnmadd_ps(two, d[2], _mm512_add_ps(d[0], d[4])));
    o[1] = _mm512_fmadd_ps(half, d[3], _mm512_fnmadd_ps(two5, d[2], _mm512_add_ps(d[1], d[4])));
    o[2] = _mm512_fmadd_ps(two5, d[3], _mm512_fmadd_ps(half, d[2], _mm512_sub_ps(d[4], d[1])));
    o[3] = _mm512_fmadd_ps(two, p, q);
    o[4] = _mm512_fnmadd_ps(half, p, q);
    o[5] = _mm512_fmadd_ps(one5, q, _mm512_fnmadd_ps(two, d[3], _mm512_add_ps(d[5], d[1])));
}

/* A^T applied to six values: four */
WINO_FN static inline void at6(const __m512 m[6], __m512 y[4])
{
    const __m512 s12 = _mm512_add_ps(m[1], m[2]), d21 = _mm512_sub_ps(m[2], m[1]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), _mm512_add_ps(m[3], m[4]));
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(0.5f), m[3],
                           _mm512_fnmadd_ps(_mm512_set1_ps(2), m[4], d21));
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), m[3],
                           _mm512_fmadd_ps(_mm512_set1_ps(4), m[4], s12));
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.125f), m[3],
                                         _mm512_fnmadd_ps(_mm512_set1_ps(8), m[4], d21)),
                         m[5]);
}

/* G applied to three values: six */
WINO_FN static inline void g6(__m512 g0, __m512 g1, __m512 g2, __m512 r[6])
{
    const __m512 s = _mm512_add_ps(g0, g2), third = _mm512_set1_ps(1.0f / 3);
    r[0] = g0;
    r[1] = _mm512_mul_ps(third, _mm512_sub_ps(g1, s));
    r[2] = _mm512_mul_ps(third, _mm512_add_ps(g1, s));
    /* -(16 g0 + 8 g1 + 4 g2) / 15 and (g0 - 2 g1 + 4 g2) / 15 */
    const __m512 two = _mm512_set1_ps(2), four = _mm512_set1_ps(4);
    r[3] = _mm512_mul_ps(_mm512_set1_ps(-4.0f / 15),
                         _mm512_fmadd_ps(four, g0, _mm512_fmadd_ps(two, g1, g2)));
    r[4] = _mm512_mul_ps(_mm512_set1_ps(1.0f / 15),
                         _mm512_fmadd_ps(four, g2, _mm512_fnmadd_ps(two, g1, g0)));
    r[5] = g2;
}

/* Where tile p (0 <= p < P) of the block starting at unit u0 is: its image (counted from the
 * block's first) and its tile row and column */
static inline void tile_at(const wino_pass *w, int64_t u0, int64_t p, int64_t *b, int64_t *ty,
                           int64_t *tx)
{
    const int64_t u = u0 + p / w->tw;
    *b = u / w->th - u0 / w->th;
    *ty = u % w->th;
    *tx = p % w->tw;
}

/* The input patches' rows are assembled in registers: a patch row of 16 tiles is read from
 * a staging area of six registers (96 floats) with permutes, one patch column j at a time:
 * lane l takes staging position pos(l, j), from the register pair holding it. (Gathers did
 * the same job at about 2,800 cycles per 16 tiles and channel here, 57 % of a 64-channel
 * layer's time: NOTES 22.)
 *   Long rows (more than 8 tiles): 16 tiles t0.. of one tile row; staging position s holds
 *   input column 4 t0 - 1 + s (zero outside the image), pos(l, j) = 4 l + j.
 *   Short rows (8 tiles or fewer, tw): U = 16 / tw units (tile rows) side by side, unit k
 *   in positions k seg.. with seg = 4 tw + 2: column -1 (zero), columns 0..4tw-1 (zero from
 *   W on), column 4 tw (zero); lane l = k tw + t takes pos(l, j) = k seg + 4 t + j. */
typedef struct w4_cols {
    __m512i idx[6];     /* pos(l, j) mod 32 */
    __mmask16 m[6][3];  /* the lanes of column j whose position is in register pair p */
} w4_cols;

typedef struct w4_stage {
    bool short_rows;
    w4_cols cs;
    /* short rows: unit k's columns 0..W-1 in staging register R */
    int64_t U, seg;
    __mmask16 seg_m[16][6];
    int64_t seg_off[16][6]; /* read from the row's start + seg_off (masked-off lanes: none) */
} w4_stage;

static void cols_setup(w4_cols *cs, const int32_t pos[16][6], __mmask16 live)
{
    for (int j = 0; j < 6; j++) {
        int32_t at[16];
        for (int p = 0; p < 3; p++) cs->m[j][p] = 0;
        for (int l = 0; l < 16; l++) {
            at[l] = pos[l][j] & 31;
            if (live >> l & 1) cs->m[j][pos[l][j] >> 5] |= (__mmask16)(1u << l);
        }
        memcpy(&cs->idx[j], at, sizeof at);
    }
}

/* The set-up of w's rows (once per thread's range): the columns' and, for short rows, the
 * staging's */
static void stage_setup(const wino_pass *w, w4_stage *st)
{
    int32_t pos[16][6] = {{0}};
    st->short_rows = w->tw <= 8;
    if (!st->short_rows) {
        for (int l = 0; l < 16; l++)
            for (int j = 0; j < 6; j++) pos[l][j] = 4 * l + j;
        cols_setup(&st->cs, pos, 0xFFFF);
        return;
    }
    st->U = 16 / w->tw;
    st->seg = 4 * w->tw + 2;
    for (int64_t l = 0; l < st->U * w->tw; l++)
        for (int j = 0; j < 6; j++)
            pos[l][j] = (int32_t)(l / w->tw * st->seg + 4 * (l % w->tw) + j);
    cols_setup(&st->cs, pos, lanes(st->U * w->tw));
    for (int64_t k = 0; k < st->U; k++)
        for (int R = 0; R < 6; R++) { /* lanes L of R: column 16 R + L - (k seg + 1) */
            const int64_t off = 16 * R - (k * st->seg + 1);
            st->seg_off[k][R] = off;
            st->seg_m[k][R] = (__mmask16)(lanes(w->W - off) & ~lanes(-off));
        }
}

/* patch column j of 16 tiles from the staging registers */
WINO_FN static inline __m512 column(const __m512 S[6], const w4_cols *cs, int j)
{
    __m512 e = _mm512_maskz_permutex2var_ps(cs->m[j][0], S[0], cs->idx[j], S[1]);
    if (cs->m[j][1])
        e = _mm512_mask_mov_ps(e, cs->m[j][1], _mm512_permutex2var_ps(S[2], cs->idx[j], S[3]));
    if (cs->m[j][2])
        e = _mm512_mask_mov_ps(e, cs->m[j][2], _mm512_permutex2var_ps(S[4], cs->idx[j], S[5]));
    return e;
}

/* The 36 transformed values of 16 tiles (t: their patch rows times B, per row) into the 36
 * matrices of V (xs apart), each in the gemm's packed B layout at dst (wino_packed_at): the
 * gemm then reads V as it is instead of copying it into panels first (NOTES 27) */
WINO_FN static inline void store_v(wino_vdst dst, int64_t xs, __m512 t[6][6])
{
    for (int j = 0; j < 6; j++) { /* B^T times column j */
        const __m512 col[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
        __m512 o[6];
        bt6(col, o);
        for (int i = 0; i < 6; i++) {
            _mm512_mask_storeu_ps(dst.d[0] + (6 * i + j) * xs, dst.m[0], o[i]);
            if (dst.m[1]) _mm512_mask_storeu_ps(dst.d[1] + (6 * i + j) * xs, dst.m[1], o[i]);
        }
    }
}

/* V (36 matrices ci x P, each in the gemm's packed B layout, xi_stride_packed apart) <-
 * B^T d B of the tiles of units u0..u0+r-1 (unit k's tiles in columns k tw..), channel by
 * channel; st: stage_setup's */
WINO_FN __attribute__((noinline)) static void
input_block4(const wino_pass *w, const w4_stage *st, int64_t u0, int64_t r,
                                 float *V, int64_t P)
{
    const int64_t H = w->H, W = w->W, HW = H * W, xs = xi_stride_packed(w->ci, P), tw = w->tw;
    const bool short_rows = st->short_rows;
    const int64_t step = short_rows ? st->U : 1; /* units per group */
    for (int64_t k0 = 0; k0 < r; k0 += step) {
        const int64_t nu = r - k0 < step ? r - k0 : step;
        for (int64_t t0 = 0; t0 < tw; t0 += 16) { /* one pass for short rows */
            const __mmask16 keep = lanes(short_rows ? nu * tw : tw - t0);
            __mmask16 ml[5];
            for (int R = 0; R < 5; R++) ml[R] = in_row(4 * t0 - 1 + 16 * R, W);
            int64_t at[16], y0[16]; /* unit k's first patch row: its offset and row number */
            /* Software prefetch, W4_PF channels ahead, of the floats a channel's patches read
             * (ranges from the first channel's plane: short rows a unit's six rows, long rows
             * each row's 66 columns). The hardware prefetchers missed the pattern (rows 4
             * apart, then the next channel's plane): F(4x4) took 0.9-1.0x F(2x2)'s time at 256
             * images where it took 0.63x with the data in the cache; with this 0.61-0.87x
             * (NOTES 22). */
            int64_t pf_at[16], pf_len[16], n_pf = 0;
            for (int64_t k = 0; k < nu; k++) {
                const int64_t u = u0 + k0 + k;
                y0[k] = 4 * (u % w->th) - 1;
                at[k] = u / w->th * w->ci * HW + y0[k] * W;
                const int64_t ya = y0[k] < 0 ? 0 : y0[k], yb = y0[k] + 6 > H ? H : y0[k] + 6;
                if (short_rows) {
                    pf_at[n_pf] = at[k] + (ya - y0[k]) * W;
                    pf_len[n_pf++] = (yb - ya) * W;
                    continue;
                }
                const int64_t x0 = 4 * t0 - 1 < 0 ? 0 : 4 * t0 - 1;
                const int64_t x1 = 4 * t0 + 65 > W ? W : 4 * t0 + 65;
                for (int64_t y = ya; y < yb; y++) {
                    pf_at[n_pf] = at[k] + (y - y0[k]) * W + x0;
                    pf_len[n_pf++] = x1 - x0;
                }
            }
            for (int64_t c = 0; c < w->ci; c++) {
                if (c + W4_PF < w->ci)
                    for (int64_t e = 0; e < n_pf; e++) {
                        const char *p = (const char *)(w->in + pf_at[e] + (c + W4_PF) * HW);
                        for (int64_t o = 0; o < pf_len[e] * 4; o += 64)
                            _mm_prefetch(p + o, _MM_HINT_T0);
                    }
                __m512 t[6][6];
                for (int i = 0; i < 6; i++) {
                    __m512 S[6];
                    for (int R = 0; R < 6; R++) S[R] = _mm512_setzero_ps();
                    for (int64_t k = 0; k < nu; k++) {
                        if (y0[k] + i < 0 || y0[k] + i >= H) continue; /* padding: zeros */
                        const uintptr_t row =
                            (uintptr_t)w->in + (uintptr_t)((at[k] + c * HW + i * W) * 4);
                        if (!short_rows) {
                            for (int R = 0; R < 5; R++)
                                S[R] = _mm512_maskz_loadu_ps(
                                    ml[R],
                                    (const void *)(row + (uintptr_t)((4 * t0 - 1 + 16 * R) * 4)));
                            continue;
                        }
                        for (int R = 0; R < 6; R++)
                            if (st->seg_m[k][R])
                                S[R] = _mm512_mask_loadu_ps(
                                    S[R], st->seg_m[k][R],
                                    (const void *)(row + (uintptr_t)(st->seg_off[k][R] * 4)));
                    }
                    __m512 d[6];
                    for (int j = 0; j < 6; j++) d[j] = column(S, &st->cs, j);
                    bt6(d, t[i]);
                }
                store_v(wino_packed_at(V, w->ci, P, c, k0 * tw + t0, keep), xs, t);
            }
        }
    }
}

/* Row a of four tiles (lanes 4q..4q+3) side by side, for each quad q: v[q][a], tile 4q + i
 * in elements 4i..4i+3, from y[a][b] (output (a, b) of 16 tiles, a vector over the tiles):
 * a 4x4 transpose inside each 128-bit lane, then one of the 128-bit lanes */
WINO_FN static inline void quad_rows(__m512 y[4][4], __m512 v[4][4])
{
    for (int a = 0; a < 4; a++) {
        const __m512 t0 = _mm512_unpacklo_ps(y[a][0], y[a][1]),
                     t1 = _mm512_unpackhi_ps(y[a][0], y[a][1]),
                     t2 = _mm512_unpacklo_ps(y[a][2], y[a][3]),
                     t3 = _mm512_unpackhi_ps(y[a][2], y[a][3]);
        /* T_i, 128-bit lane q: row a of tile 4q + i */
        const __m512 T0 = _mm512_shuffle_ps(t0, t2, 0x44), T1 = _mm512_shuffle_ps(t0, t2, 0xEE),
                     T2 = _mm512_shuffle_ps(t1, t3, 0x44), T3 = _mm512_shuffle_ps(t1, t3, 0xEE);
        const __m512 u0 = _mm512_shuffle_f32x4(T0, T1, 0x44),
                     u1 = _mm512_shuffle_f32x4(T0, T1, 0xEE),
                     u2 = _mm512_shuffle_f32x4(T2, T3, 0x44),
                     u3 = _mm512_shuffle_f32x4(T2, T3, 0xEE);
        v[0][a] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        v[1][a] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        v[2][a] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        v[3][a] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
}

/* A run of a quad's tiles that are neighbours in one tile row: their rows are contiguous in
 * memory, so each of their output rows is one masked store */
typedef struct w4_run {
    int64_t at;        /* where element 0 of the quad's vector would go, row 0 */
    __mmask16 m[4];    /* per output row: the run's elements inside the image, or 0 */
    int q;
} w4_run;

/* The outputs of the block's P tiles <- A^T m A, m from M (36, co, P), 16 tiles at a time:
 * their 16 outputs (a, b) are regrouped so that a row of four neighbouring tiles is one
 * vector (quad_rows) and goes out in one masked store (added to what is there when w->add).
 * A store per tile row instead took 64 stores of 16 bytes per 16 tiles and channel. The
 * epilogue (w->ep) is applied to each vector before its store. */
WINO_FN __attribute__((noinline)) static void
output_block4(const wino_pass *w, int64_t u0, int64_t P, const float *M)
{
    const int64_t H = w->H, W = w->W, HW = H * W, xs = xi_stride(w->co, P);
    float *base = w->out + u0 / w->th * w->co * HW;
    for (int64_t p0 = 0; p0 < P; p0 += 16) {
        const int64_t cnt = P - p0 < 16 ? P - p0 : 16;
        w4_run runs[16];
        int n_runs = 0;
        int64_t prev_b = -1, prev_ty = -1, prev_tx = -1;
        for (int64_t l = 0; l < cnt; l++) {
            int64_t b, ty, tx;
            tile_at(w, u0, p0 + l, &b, &ty, &tx);
            const int q = (int)(l / 4), i = (int)(l % 4);
            /* a new run at a quad's start or where the tiles stop being neighbours */
            if (i == 0 || b != prev_b || ty != prev_ty || tx != prev_tx + 1) {
                w4_run *rn = &runs[n_runs++];
                rn->q = q;
                rn->at = b * w->co * HW + 4 * ty * W + 4 * tx - 4 * i;
                for (int a = 0; a < 4; a++) rn->m[a] = 0;
            }
            w4_run *rn = &runs[n_runs - 1];
            const int64_t nc = W - 4 * tx < 4 ? W - 4 * tx : 4;
            for (int a = 0; a < 4; a++)
                if (4 * ty + a < H) rn->m[a] |= (__mmask16)(((1u << nc) - 1) << (4 * i));
            prev_b = b, prev_ty = ty, prev_tx = tx;
        }
        const __mmask16 keep = lanes(cnt);
        const float *src = M + p0;
        const float *res = w->ep && w->ep->res ? w->ep->res + (base - w->out) : NULL;
        for (int64_t c = 0; c < w->co; c++) {
            if (res && c + W4_RES_PF < w->co) /* the residual rows, W4_RES_PF channels ahead */
                for (int e = 0; e < n_runs; e++)
                    for (int a = 0; a < 4 && runs[e].m[a]; a++) {
                        const uintptr_t at = (uintptr_t)(res + (c + W4_RES_PF) * HW) +
                                             (uintptr_t)((runs[e].at + a * W) * 4);
                        const unsigned lo = (unsigned)__builtin_ctz(runs[e].m[a]),
                                       hi = 31u - (unsigned)__builtin_clz(runs[e].m[a]);
                        _mm_prefetch((const char *)(at + lo * 4), _MM_HINT_T0);
                        _mm_prefetch((const char *)(at + hi * 4), _MM_HINT_T0);
                    }
            __m512 z[4][6];
            for (int j = 0; j < 6; j++) { /* A^T times column j of m */
                __m512 m[6], y[4];
                for (int i = 0; i < 6; i++)
                    m[i] = _mm512_maskz_loadu_ps(keep, src + (6 * i + j) * xs + c * P);
                at6(m, y);
                for (int a = 0; a < 4; a++) z[a][j] = y[a];
            }
            __m512 y[4][4], v[4][4];
            for (int a = 0; a < 4; a++) at6(z[a], y[a]); /* row a of (A^T m) A */
            quad_rows(y, v);
            const uintptr_t pl = (uintptr_t)(base + c * HW);
            for (int e = 0; e < n_runs; e++)
                for (int a = 0; a < 4; a++) {
                    const __mmask16 m = runs[e].m[a];
                    if (!m) break;
                    /* formed as an integer: it may lie before the tensor (masked-off lanes
                     * touch nothing) */
                    float *at = (float *)(pl + (uintptr_t)((runs[e].at + a * W) * 4));
                    __m512 x = v[runs[e].q][a];
                    if (w->add) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, at));
                    if (w->ep) x = wino_epilogue16(w, c, at, m, x);
                    _mm512_mask_storeu_ps(at, m, x);
                }
        }
    }
}

/* 4x4 images (a ResNet's 8x8 -> 4x4 stage at 64x64 input, 4x4 at 32x32) are one tile each,
 * and one channel's 16 pixels are one vector. The general transforms take them as short
 * rows, 16 units to a vector, assembled and regrouped one unit at a time: the layer took
 * 9.2 ms where the 16x16 one, with the same products, took 6.4 (NOTES 37). Here 16 images'
 * planes of a channel are transposed in registers (lf_transpose16) so that each pixel is a
 * vector over the images: the patch's rows are the four pixel rows between zero rows, and
 * its columns likewise. */
WINO_FN __attribute__((noinline)) static void
input_img4(const wino_pass *w, int64_t u0, int64_t P, float *V)
{
    const int64_t ci = w->ci, xs = xi_stride_packed(ci, P);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        const float *img = w->in + (u0 + j0) * ci * 16;
        for (int64_t c = 0; c < ci; c++) {
            __m512 p[16]; /* row l: image j0 + l's plane */
            for (int64_t l = 0; l < 16; l++)
                p[l] = l < cnt ? _mm512_loadu_ps(img + (l * ci + c) * 16) : zero;
            lf_transpose16(p); /* p[4 y + x]: pixel (y, x) of the 16 images */
            __m512 t[6][6];    /* patch row i times B */
            for (int j = 0; j < 6; j++) t[0][j] = t[5][j] = zero;
            for (int y = 0; y < 4; y++) {
                const __m512 d[6] = {zero, p[4 * y], p[4 * y + 1], p[4 * y + 2], p[4 * y + 3],
                                     zero};
                bt6(d, t[y + 1]);
            }
            store_v(wino_packed_at(V, ci, P, c, j0, lanes(cnt)), xs, t);
        }
    }
}

/* The outputs of the block's P images (4x4) <- A^T m A, m from M (36, co, P): per channel,
 * the 16 outputs of 16 images transposed so that each image's plane is one vector and one
 * store (with the epilogue; the residual prefetched W4_RES_PF channels ahead) */
WINO_FN __attribute__((noinline)) static void
output_img4(const wino_pass *w, int64_t u0, int64_t P, const float *M)
{
    const int64_t co = w->co, xs = xi_stride(co, P);
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        const __mmask16 keep = lanes(cnt);
        float *img = w->out + (u0 + j0) * co * 16;
        const float *res = w->ep && w->ep->res ? w->ep->res + (img - w->out) : NULL;
        for (int64_t c = 0; c < co; c++) {
            if (res && c + W4_RES_PF < co)
                for (int64_t l = 0; l < cnt; l++)
                    _mm_prefetch((const char *)(res + (l * co + c + W4_RES_PF) * 16),
                                 _MM_HINT_T0);
            __m512 z[4][6], v[16];
            for (int j = 0; j < 6; j++) { /* A^T times column j of m */
                __m512 m[6], y[4];
                for (int i = 0; i < 6; i++)
                    m[i] = _mm512_maskz_loadu_ps(keep, M + (6 * i + j) * xs + c * P + j0);
                at6(m, y);
                for (int a = 0; a < 4; a++) z[a][j] = y[a];
            }
            for (int a = 0; a < 4; a++) at6(z[a], v + 4 * a); /* row a of (A^T m) A */
            lf_transpose16(v); /* v[l]: image j0 + l's 4x4 outputs */
            for (int64_t l = 0; l < cnt; l++) {
                float *at = img + (l * co + c) * 16;
                __m512 x = v[l];
                if (w->add) x = _mm512_add_ps(x, _mm512_loadu_ps(at));
                if (w->ep) x = wino_epilogue16(w, c, at, (__mmask16)0xFFFF, x);
                _mm512_storeu_ps(at, x);
            }
        }
    }
}

static int64_t thread_floats4(const wino_pass *w) { return wino_packed_thread_floats(w, 36); }

/* Units [u_begin, u_end) on the calling thread, buf: thread_floats4 floats */
static void range4(const wino_pass *w, int64_t u_begin, int64_t u_end, float *buf)
{
    float *V, *M, *pack;
    wino_packed_buffers(w, 36, buf, &V, &M, &pack);
    const bool img4 = w->H == 4 && w->W == 4;
    w4_stage st;
    stage_setup(w, &st);
    for (int64_t u0 = u_begin; u0 < u_end; u0 += w->rows) {
        const int64_t r = u_end - u0 < w->rows ? u_end - u0 : w->rows, P = r * w->tw;
        if (img4) input_img4(w, u0, P, V);
        else input_block4(w, &st, u0, r, V, P);
        wino_products(w, 36, V, true, M, P, pack);
        if (img4) output_img4(w, u0, P, M); /* with the epilogue */
        else output_block4(w, u0, P, M);
    }
}

/* The 36 values (G g G^T)[xi] of 16 filters' taps k (wino_filter_transform) */
WINO_FN static inline void filter_math4(const __m512 k[9], __m512 *v)
{
    __m512 t[6][3];
    for (int j = 0; j < 3; j++) { /* G g, column j */
        __m512 col[6];
        g6(k[j], k[3 + j], k[6 + j], col);
        for (int a = 0; a < 6; a++) t[a][j] = col[a];
    }
    for (int a = 0; a < 6; a++) g6(t[a][0], t[a][1], t[a][2], v + 6 * a); /* (G g) G^T */
}

WINO_DEFINE_FILTERS(filter_transform4, 36, filter_math4)

static const wino_kind f4 = {.tile = 4, .n_xi = 36, .form = LF_FORM_WINOGRAD4,
                             .block_bytes = W4_BLOCK_BYTES, .min_cols = W4_MIN_COLS,
                             .thread_floats = thread_floats4, .filters = filter_transform4,
                             .range = range4};

const wino_kind *lf_conv_winograd4_kind(void) { return &f4; }

#endif
