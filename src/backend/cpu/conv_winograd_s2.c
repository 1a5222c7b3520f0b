/* The forward pass of 3x3 stride-2 pad-1 convolutions (the first convolution of a ResNet
 * stage) on 25 matrix products per 2x2 output tile instead of im2col's 36.
 *
 * In one dimension two outputs of a stride-2 3-tap filter read five inputs d0..d4:
 *   y0 = w0 d0 + w1 d1 + w2 d2,   y1 = w0 d2 + w1 d3 + w2 d4.
 * The odd inputs meet w1 alone (two products); the even ones, with the taps w0 and w2, are
 * F(2, 2) over (d0, d2, d4): three products instead of four,
 *   m0 = (d0 - d2) w0,  m1 = d2 (w0 + w2),  m2 = (d4 - d2) w2,  m3 = d1 w1,  m4 = d3 w1,
 *   y0 = m0 + m1 + m3,  y1 = m1 + m2 + m4.
 * So with the data transform T d = (d0 - d2, d2, d4 - d2, d1, d3), the filter transform
 * F w = (w0, w0 + w2, w2, w1, w1) and the output A m = (m0 + m1 + m3, m1 + m2 + m4), a 2x2
 * output tile of one (output, input) channel pair is A [(F g F^T) .* (T d T^T)] A^T over the
 * 5x5 input patch d at rows 4ty-1..4ty+3, columns 4tx-1..4tx+3 (zeros outside the image):
 * 25 products, summed over the input channels as 25 matrix products U_xi (co x ci) V_xi
 * (ci x tiles), the same three steps as conv_winograd.c. Every coefficient is 0 or +-1.
 *
 * The images of these layers are small (16x16 to 4x4 inputs: 4 to 1 tiles a row), so the
 * transforms take 16 tiles at a time by gathers: lane l reads its patch at a per-lane base
 * plus the (channel, row, column) offset, masked where the patch lies on the padding, and
 * the outputs go back by scatters (with the epilogue). An input value belongs to at most
 * four patches; im2col wrote it into nine columns.
 *
 * Blocks, threads and the kept filter transforms as the other kinds (conv_winograd_pass.h):
 * units are tile rows, each thread a fixed range of images, results independent of the
 * thread count. This convolution's input gradient (a transposed convolution) and weight
 * gradient stay on im2col; a stride-2 conv_transpose's input gradient, which is this forward
 * product, takes it when the job asks for nothing else (weights without a gradient).
 *
 * Non-finite values and overflow: the transforms subtract and add inputs (d0 - d2) and taps
 * (w0 + w2) before multiplying, so an inf input gives NaN in the outputs whose patches hold
 * it (im2col: inf), and inputs beyond about FLT_MAX / 2 overflow where im2col stays finite
 * (as the other kinds, conv_winograd.c). */
#include "conv_winograd.h"

bool lf_conv_winograd_s2_fits(const lf_conv_geom *q, int64_t n)
{
    const int64_t lim = (int64_t)1 << 31; /* the gathers' and scatters' int32 offsets */
    return q->groups == 1 && q->in[0] == 1 && q->out[0] == 1 && q->k[0] == 1 && q->p[0] == 0 &&
           q->k[1] == 3 && q->k[2] == 3 && q->s[1] == 2 && q->s[2] == 2 && q->d[1] == 1 &&
           q->d[2] == 1 && q->p[1] == 1 && q->p[2] == 1 &&
           q->out[1] == (q->in[1] + 1) / 2 && q->out[2] == (q->in[2] + 1) / 2 &&
           n * q->ci * q->in[1] * q->in[2] < lim && n * q->co * q->out[1] * q->out[2] < lim;
}

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include "conv_winograd_pass.h"

#ifndef S2_BLOCK_BYTES
#define S2_BLOCK_BYTES (1 << 20)
#endif
#ifndef S2_MIN_COLS
#define S2_MIN_COLS 96
#endif
#ifndef S2_PF
#define S2_PF 2 /* channels ahead to prefetch the input rows */
#endif

/* T applied to five values */
WINO_FN static inline void t5(const __m512 d[5], __m512 o[5])
{
    o[0] = _mm512_sub_ps(d[0], d[2]);
    o[1] = d[2];
    o[2] = _mm512_sub_ps(d[4], d[2]);
    o[3] = d[1];
    o[4] = d[3];
}

/* A applied to five values: two */
WINO_FN static inline void a5(const __m512 m[5], __m512 *y0, __m512 *y1)
{
    *y0 = _mm512_add_ps(_mm512_add_ps(m[0], m[1]), m[3]);
    *y1 = _mm512_add_ps(_mm512_add_ps(m[1], m[2]), m[4]);
}

/* Tile p of the block starting at unit u0: its image (counted from the block's first), tile
 * row and tile column */
static inline void tile_of(const wino_pass *w, int64_t u0, int64_t p, int64_t *b, int64_t *ty,
                           int64_t *tx)
{
    const int64_t u = u0 + p / w->tw;
    *b = u / w->th - u0 / w->th;
    *ty = u % w->th;
    *tx = p % w->tw;
}

/* V (25 matrices ci x P in the packed B layout) <- T d T^T of the block's P tiles (units
 * u0..), 16 tiles at a time */
WINO_FN __attribute__((noinline)) static void
input_s2(const wino_pass *w, int64_t u0, int64_t P, float *V)
{
    const int64_t H = w->H, W = w->W, HW = H * W, ci = w->ci, xs = xi_stride_packed(ci, P);
    const float *img = w->in + u0 / w->th * ci * HW; /* the block's first image */
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        int32_t base[16];
        __mmask16 m[25] = {0}; /* patch (r, s): the lanes whose value lies on the image */
        for (int64_t l = 0; l < 16; l++) {
            int64_t b, ty, tx;
            tile_of(w, u0, j0 + (l < cnt ? l : cnt - 1), &b, &ty, &tx);
            const int64_t y0 = 4 * ty - 1, x0 = 4 * tx - 1;
            base[l] = (int32_t)(b * ci * HW + y0 * W + x0);
            for (int r = 0; r < 5; r++)
                for (int s = 0; s < 5; s++)
                    if (l < cnt && y0 + r >= 0 && y0 + r < H && x0 + s >= 0 && x0 + s < W)
                        m[5 * r + s] |= (__mmask16)(1u << l);
        }
        /* the rows the group reads, per (image, tile row) it holds: prefetched S2_PF channels
         * ahead (the gathers' pattern, 4-16 lines of each channel plane, is one the
         * hardware prefetchers miss; without it the gathers took 42 % of a 16x16 layer) */
        int64_t pf_at[16], pf_len[16], n_pf = 0;
        for (int64_t l = 0, prev = -1; l < cnt; l++) {
            const int64_t u = u0 + (j0 + l) / w->tw;
            if (u == prev) continue;
            prev = u;
            const int64_t ty = u % w->th, ya = 4 * ty - 1 < 0 ? 0 : 4 * ty - 1;
            const int64_t yb = 4 * ty + 4 > H ? H : 4 * ty + 4;
            pf_at[n_pf] = (u / w->th - u0 / w->th) * ci * HW + ya * W;
            pf_len[n_pf++] = (yb - ya) * W;
        }
        const __m512i vbase = _mm512_loadu_si512(base);
        for (int64_t c = 0; c < ci; c++) {
            if (c + S2_PF < ci)
                for (int64_t e = 0; e < n_pf; e++) {
                    const char *p = (const char *)(img + pf_at[e] + (c + S2_PF) * HW);
                    for (int64_t o = 0; o < pf_len[e] * 4; o += 64)
                        _mm_prefetch(p + o, _MM_HINT_T0);
                }
            __m512 t[5][5]; /* row r of the patches times T^T */
            for (int r = 0; r < 5; r++) {
                __m512 d[5];
                for (int s = 0; s < 5; s++) {
                    const __m512i at =
                        _mm512_add_epi32(vbase, _mm512_set1_epi32((int)(c * HW + r * W + s)));
                    d[s] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m[5 * r + s], at, img, 4);
                }
                t5(d, t[r]);
            }
            const wino_vdst dst = wino_packed_at(V, ci, P, c, j0, lanes(cnt));
            for (int s = 0; s < 5; s++) { /* T times column s */
                const __m512 col[5] = {t[0][s], t[1][s], t[2][s], t[3][s], t[4][s]};
                __m512 o[5];
                t5(col, o);
                for (int r = 0; r < 5; r++) {
                    _mm512_mask_storeu_ps(dst.d[0] + (5 * r + s) * xs, dst.m[0], o[r]);
                    if (dst.m[1])
                        _mm512_mask_storeu_ps(dst.d[1] + (5 * r + s) * xs, dst.m[1], o[r]);
                }
            }
        }
    }
}

/* The 2x2 outputs of 16 tiles' channel c (lanes keep) from M: y[2 i + j] = (A m A^T)[i][j] */
WINO_FN static inline void tile_outputs(const float *M, int64_t xs, int64_t P, int64_t c,
                                        int64_t j0, __mmask16 keep, __m512 y[4])
{
    __m512 z[2][5]; /* A m, per column */
    for (int s = 0; s < 5; s++) {
        __m512 col[5];
        for (int r = 0; r < 5; r++)
            col[r] = _mm512_maskz_loadu_ps(keep, M + (5 * r + s) * xs + c * P + j0);
        a5(col, &z[0][s], &z[1][s]);
    }
    for (int i = 0; i < 2; i++) a5(z[i], &y[2 * i], &y[2 * i + 1]); /* (A m) A^T, row i */
}

/* Outputs of 2x2 (inputs of 3x3 or 4x4: a tile is an image): four channels of 16 images at
 * a time through wino_store_planes2x2, one store per image instead of four scatters */
WINO_FN static void output_s2_planes(const wino_pass *w, int64_t u0, int64_t P, const float *M)
{
    const int64_t co = w->co, xs = xi_stride(co, P);
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        float *img = w->out + (u0 + j0) * co * 4;
        for (int64_t c0 = 0; c0 < co; c0 += 4) {
            const int64_t nc = co - c0 < 4 ? co - c0 : 4;
            __m512 y[16]; /* y[4 cc + p]: channel c0 + cc, output pixel p, over the images */
            for (int64_t cc = 0; cc < 4; cc++) {
                if (cc < nc)
                    tile_outputs(M, xs, P, c0 + cc, j0, lanes(cnt), y + 4 * cc);
                else
                    y[4 * cc] = y[4 * cc + 1] = y[4 * cc + 2] = y[4 * cc + 3] = _mm512_setzero_ps();
            }
            wino_store_planes2x2(w, img, c0, nc, cnt, y);
        }
    }
}

/* The block's outputs <- A m A^T, m from M (25, co, P), 16 tiles at a time, scattered to
 * their 2x2 places (added to what is there when w->add), with the epilogue: the operations
 * of lf_conv_epilogue_apply in its order, so the same bits; 2x2 outputs by planes */
WINO_FN static void output_s2(const wino_pass *w, int64_t u0, int64_t P, const float *M)
{
    if ((w->H + 1) / 2 == 2 && (w->W + 1) / 2 == 2) {
        output_s2_planes(w, u0, P, M);
        return;
    }
    const int64_t OH = (w->H + 1) / 2, OW = (w->W + 1) / 2, OHW = OH * OW, co = w->co;
    const int64_t xs = xi_stride(co, P), first = u0 / w->th * co * OHW;
    float *out = w->out + first;
    const lf_conv_epilogue *ep = w->ep;
    const float *res = ep && ep->res ? ep->res + first : NULL;
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        const __mmask16 keep = lanes(cnt);
        int32_t base[16];
        __mmask16 m[4] = {0}; /* output (i, j) of the tile: the lanes inside the image */
        for (int64_t l = 0; l < 16; l++) {
            int64_t b, ty, tx;
            tile_of(w, u0, j0 + (l < cnt ? l : cnt - 1), &b, &ty, &tx);
            base[l] = (int32_t)(b * co * OHW + 2 * ty * OW + 2 * tx);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    if (l < cnt && 2 * ty + i < OH && 2 * tx + j < OW)
                        m[2 * i + j] |= (__mmask16)(1u << l);
        }
        const __m512i vbase = _mm512_loadu_si512(base);
        for (int64_t c = 0; c < co; c++) {
            __m512 y[4];
            tile_outputs(M, xs, P, c, j0, keep, y);
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 2; j++) {
                    const __mmask16 mk = m[2 * i + j];
                    const __m512i at =
                        _mm512_add_epi32(vbase, _mm512_set1_epi32((int)(c * OHW + i * OW + j)));
                    __m512 x = y[2 * i + j];
                    if (w->add)
                        x = _mm512_add_ps(x, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, at,
                                                                      out, 4));
                    if (ep) {
                        const __m512 xm = _mm512_sub_ps(x, _mm512_set1_ps(ep->mean[c]));
                        x = _mm512_add_ps(_mm512_mul_ps(xm, _mm512_set1_ps(ep->a[c])),
                                          _mm512_set1_ps(ep->k[c]));
                        if (res)
                            x = _mm512_add_ps(x, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk,
                                                                          at, res, 4));
                        if (ep->relu) x = _mm512_max_ps(x, _mm512_setzero_ps());
                    }
                    _mm512_mask_i32scatter_ps(out, mk, at, x, 4);
                }
            }
        }
    }
}

static int64_t thread_floats_s2(const wino_pass *w) { return wino_packed_thread_floats(w, 25); }

/* Units [u_begin, u_end) on the calling thread, buf: thread_floats_s2 floats */
static void range_s2(const wino_pass *w, int64_t u_begin, int64_t u_end, float *buf)
{
    float *V, *M, *pack;
    wino_packed_buffers(w, 25, buf, &V, &M, &pack);
    for (int64_t u0 = u_begin; u0 < u_end; u0 += w->rows) {
        const int64_t r = u_end - u0 < w->rows ? u_end - u0 : w->rows, P = r * w->tw;
        input_s2(w, u0, P, V);
        wino_products(w, 25, V, true, M, P, pack);
        output_s2(w, u0, P, M);
    }
}

/* The 25 values (F g F^T)[xi] of 16 filters' taps k (wino_filter_rows) */
WINO_FN static inline void filter_math_s2(const __m512 k[9], __m512 *v)
{
    __m512 t[5][3];
    for (int j = 0; j < 3; j++) { /* F g: rows w0, w0 + w2, w2, w1, w1 */
        t[0][j] = k[j];
        t[1][j] = _mm512_add_ps(k[j], k[6 + j]);
        t[2][j] = k[6 + j];
        t[3][j] = k[3 + j];
        t[4][j] = k[3 + j];
    }
    for (int a = 0; a < 5; a++) { /* (F g) F^T: the columns the same way */
        v[5 * a] = t[a][0];
        v[5 * a + 1] = _mm512_add_ps(t[a][0], t[a][2]);
        v[5 * a + 2] = t[a][2];
        v[5 * a + 3] = t[a][1];
        v[5 * a + 4] = t[a][1];
    }
}

WINO_DEFINE_FILTERS(filter_transform_s2, 25, filter_math_s2)

/* tile 4: a tile's 2x2 outputs cover 4x4 of the input (th, tw from the input's size) */
static const wino_kind s2 = {.tile = 4, .n_xi = 25, .form = LF_FORM_WINOGRAD_S2,
                             .block_bytes = S2_BLOCK_BYTES, .min_cols = S2_MIN_COLS,
                             .thread_floats = thread_floats_s2, .filters = filter_transform_s2,
                             .range = range_s2};

lf_status lf_conv_winograd_s2_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j,
                                  int T)
{
    if (!lf_conv_winograd_s2_fits(q, j->n)) return LF_ERR_UNSUPPORTED;
    wino_pass w = {.ci = q->ci, .co = q->co, .H = q->in[1], .W = q->in[2], .in = j->img,
                   .out = j->colside_out, .add = j->accumulate != 0, .ep = j->ep};
    return wino_run_pass(g, &w, &s2, j->w, q->co, q->ci, false, j->n, T);
}

#else

lf_status lf_conv_winograd_s2_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j,
                                  int T)
{
    (void)g, (void)q, (void)j, (void)T;
    return LF_ERR_UNSUPPORTED;
}

#endif
