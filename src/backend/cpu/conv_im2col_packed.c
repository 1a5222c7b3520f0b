/* The column matrix of a 2-D convolution written straight in the AVX-512 gemm's packed B
 * layout (lf_gemm512_packed_b_offset), for the forward product Y = W @ cols.
 *
 * Why: lf_conv_im2col writes the columns row by row and the gemm then copies them into its
 * panels; with stride 2 (an ImageNet stem, the first convolution of each ResNet stage) the
 * gather reads every other float one at a time. In a profile of the ImageNet stem its
 * im2col and the packing took 16 % and 8 % of the samples against the gemm's 49 % (NOTES 26).
 *
 * How: each input row is first split by column phase: for stride s, phase f of row ih holds
 * the input columns s x + f, with zeros where x falls on the padding. A kernel column kw
 * then reads, for output columns ow, phase (kw d - p) mod s at x = ow + floor((kw d - p) / s):
 * a contiguous run. So every (k, output row) piece of a panel is one short vector copy from a
 * phase row (or zeros when the input row is padding), written where the gemm will read it.
 *
 * Rows of fewer than 8 outputs would cut a panel into many short pieces (or, for a kernel
 * narrower than the stride, read one phase of every other row); there each 16 columns of a
 * k row are one gather instead (gather_columns): lane l
 * reads its column's input value at a per-lane base plus k's offset, masked where the tap
 * falls on the padding. lf_conv_im2col wrote such columns element by element, with a loop
 * set-up per (k, image): 30 % of the time of the last stage's 4x4 -> 2x2 convolution
 * (NOTES 36). */
#include "conv_cpu.h"
#include "gemm_avx512.h"

#include <stdatomic.h>

static atomic_int enabled = 1; /* lf_conv_im2col_packed_force */

void lf_conv_im2col_packed_force(int on) { atomic_store(&enabled, on != 0); }

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include <immintrin.h>

#define NR LF_GEMM512_NR
#define KC LF_GEMM512_KC
#define AVX512_FN __attribute__((target("avx512f"), optimize("O3")))

/* floor(a / b) for b > 0 */
static inline int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The phase rows' extent: x in [xmin, xmin + wq) covers every kernel column's run */
static void phase_extent(const lf_conv_geom *q, int64_t *xmin, int64_t *wq)
{
    const int64_t sw = q->s[2];
    int64_t lo = 0, hi = 0;
    for (int64_t kw = 0; kw < q->k[2]; kw++) {
        const int64_t sig = floor_div(kw * q->d[2] - q->p[2], sw);
        if (kw == 0 || sig < lo) lo = sig;
        if (kw == 0 || sig > hi) hi = sig;
    }
    *xmin = lo;
    *wq = hi - lo + q->out[2];
}

/* 2-D (a 3-D problem of depth 1 without depth padding), one group, a kernel at least as wide
 * and tall as the stride, and output rows of 8 or more: a 1x1 stride-2 downsampling reads
 * one phase of every other row, and splitting whole rows into phases made it 2.1-2.3x
 * slower than lf_conv_im2col; rows of 2 or 4 outputs cut a panel into 12-24 pieces, and
 * were 0.98-1.13x its time (NOTES 26) */
static bool two_d(const lf_conv_geom *q)
{
    return q->groups == 1 && q->in[0] == 1 && q->out[0] == 1 && q->k[0] == 1 && q->p[0] == 0;
}

static bool fits_phases(const lf_conv_geom *q)
{
    return two_d(q) && q->k[1] >= q->s[1] && q->k[2] >= q->s[2] && q->out[2] >= 8;
}

/* Rows of fewer than 8 outputs (at 8, a 1x1 stride-2 downsampling of 16x16 images, the
 * gathers took 1.45x lf_conv_im2col's time; at 4 and 2 outputs 0.75-0.88x, NOTES 36). The
 * gathers' offsets are int32: the block of m images must stay under 2^31 floats; the
 * per-group tap masks are kept for at most 64 taps (kh, kw). */
static bool fits_gathers(const lf_conv_geom *q, int64_t m)
{
    return two_d(q) && q->out[2] < 8 && m * q->ci * q->in[1] * q->in[2] < ((int64_t)1 << 31) &&
           q->k[1] * q->k[2] <= 64;
}

size_t lf_conv_im2col_packed_floats(const lf_conv_geom *q, const lf_conv_job *j, bool direct,
                                    int64_t m)
{
    const bool forward_alone = j->img && j->colside_out && !j->dw && !j->img_out && !direct;
    if (!forward_alone || !lf_gemm512_available() || !atomic_load(&enabled)) return 0;
    const int64_t N = m * q->out[1] * q->out[2], K = q->ci * q->k[1] * q->k[2];
    if (!fits_phases(q))
        return fits_gathers(q, m) ? (size_t)lf_gemm512_packed_b_offset(K, N, K, 0) : 0;
    int64_t xmin, wq;
    phase_extent(q, &xmin, &wq);
    const int64_t phases = m * q->ci * q->s[2] * q->in[1] * wq;
    /* then two int64 per k (lf_conv_im2col_packed's offsets) */
    return (size_t)(lf_gemm512_packed_b_offset(K, N, K, 0) + phases + 4 * K + 2);
}

/* d[0:n] = s[0], s[2], ..., s[2 (n - 1)]: 32 floats read, 16 picked per step (reads nothing
 * past s[2 (n - 1)]) */
AVX512_FN static void every_other(float *restrict d, const float *restrict s, int64_t n)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    for (int64_t x = 0; x < n; x += 16) {
        const int64_t r = n - x < 16 ? n - x : 16, need = 2 * r - 1;
        const __mmask16 m0 = need >= 16 ? 0xFFFF : (__mmask16)((1u << need) - 1);
        const __mmask16 m1 = need <= 16 ? 0 : (__mmask16)((1u << (need - 16)) - 1);
        const __m512 a = _mm512_maskz_loadu_ps(m0, s + 2 * x);
        const __m512 b = _mm512_maskz_loadu_ps(m1, s + 2 * x + 16);
        _mm512_mask_storeu_ps(d + x, r == 16 ? 0xFFFF : (__mmask16)((1u << r) - 1),
                              _mm512_permutex2var_ps(a, even, b));
    }
}

/* Phase rows of m images: row ((i ci + c) s + f) H + ih holds image i, channel c, input row
 * ih at columns s (x + xmin) + f for x in [0, wq), zeros off the image */
AVX512_FN static void split_phases(const lf_conv_geom *q, const float *img, int64_t m,
                                   int64_t xmin, int64_t wq, float *ph)
{
    const int64_t H = q->in[1], W = q->in[2], sw = q->s[2];
    for (int64_t pl = 0; pl < m * q->ci; pl++)
        for (int64_t f = 0; f < sw; f++) {
            int64_t lo, hi; /* x with 0 <= s (x + xmin) + f < W */
            lf_conv_valid_range(sw * xmin + f, sw, W, wq, &lo, &hi);
            for (int64_t ih = 0; ih < H; ih++) {
                const float *row = img + (pl * H + ih) * W;
                float *d = ph + ((pl * sw + f) * H + ih) * wq;
                for (int64_t x = 0; x < lo; x++) d[x] = 0;
                if (sw == 2 && hi > lo)
                    every_other(d + lo, row + 2 * (lo + xmin) + f, hi - lo);
                else
                    for (int64_t x = lo; x < hi; x++) d[x] = row[sw * (x + xmin) + f];
                for (int64_t x = hi; x < wq; x++) d[x] = 0;
            }
        }
}

/* d[0:n] = s[0:n], or zeros when s is NULL (n <= NR), in masked vector moves */
AVX512_FN static inline void copy_or_zero(float *restrict d, const float *restrict s, int n)
{
    for (int x = 0; x < n; x += 16) {
        const __mmask16 mk = n - x >= 16 ? 0xFFFF : (__mmask16)((1u << (n - x)) - 1);
        _mm512_mask_storeu_ps(d + x, mk, s ? _mm512_maskz_loadu_ps(mk, s + x)
                                           : _mm512_setzero_ps());
    }
}

/* The packed columns by gathers (see the top): 16 columns j0.. of every k row at a time */
AVX512_FN static float *gather_columns(const lf_conv_geom *q, const float *img, int64_t m,
                                       float *buf)
{
    const int64_t KH = q->k[1], KW = q->k[2], taps = KH * KW, K = q->ci * taps;
    const int64_t H = q->in[1], W = q->in[2], plane = H * W, OW = q->out[2];
    const int64_t L = q->out[1] * OW, N = m * L, Npad = (N + NR - 1) / NR * NR;
    for (int64_t j0 = 0; j0 < Npad; j0 += 16) {
        int32_t base[16], iy[16], ix[16];
        for (int l = 0; l < 16; l++) { /* lane l: column j0 + l's image, input row, column */
            const int64_t j = j0 + l < N ? j0 + l : N - 1, i = j / L;
            iy[l] = (int32_t)((j % L) / OW * q->s[1] - q->p[1]);
            ix[l] = (int32_t)((j % L) % OW * q->s[2] - q->p[2]);
            base[l] = (int32_t)(i * q->ci * plane + iy[l] * W + ix[l]);
        }
        const __mmask16 live = N - j0 >= 16 ? (__mmask16)0xFFFF
                               : N <= j0    ? (__mmask16)0
                                            : (__mmask16)((1u << (N - j0)) - 1);
        __mmask16 tap_m[64]; /* the lanes whose tap (kh, kw) lies on the image */
        for (int64_t t = 0; t < taps; t++) {
            const int64_t dy = t / KW * q->d[1], dx = t % KW * q->d[2];
            __mmask16 mk = 0;
            for (int l = 0; l < 16; l++)
                if (iy[l] + dy >= 0 && iy[l] + dy < H && ix[l] + dx >= 0 && ix[l] + dx < W)
                    mk |= (__mmask16)(1u << l);
            tap_m[t] = mk & live;
        }
        const __m512i vbase = _mm512_loadu_si512(base);
        for (int64_t b = 0; b < K; b += KC) { /* the gemm's blocks of k */
            const int64_t kc = K - b < KC ? K - b : KC;
            float *d = buf + lf_gemm512_packed_b_offset(K, N, b, j0 - j0 % NR) + j0 % NR;
            for (int64_t k = b; k < b + kc; k++, d += NR) {
                const int64_t c = k / taps, t = k % taps;
                const int32_t off = (int32_t)(c * plane + t / KW * q->d[1] * W + t % KW * q->d[2]);
                const __m512i idx = _mm512_add_epi32(vbase, _mm512_set1_epi32(off));
                _mm512_storeu_ps(d, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), tap_m[t], idx,
                                                             img, 4));
            }
        }
    }
    return buf;
}

AVX512_FN float *lf_conv_im2col_packed(const lf_conv_geom *q, const float *img, int64_t m,
                                       float *buf)
{
    if (!fits_phases(q)) return gather_columns(q, img, m, buf);
    const int64_t KH = q->k[1], KW = q->k[2], K = q->ci * KH * KW;
    const int64_t H = q->in[1], OW = q->out[2], L = q->out[1] * OW, N = m * L;
    const int64_t sh = q->s[1], sw = q->s[2];
    int64_t xmin, wq;
    phase_extent(q, &xmin, &wq);
    float *ph = buf + lf_gemm512_packed_b_offset(K, N, K, 0);
    split_phases(q, img, m, xmin, wq, ph);
    const int64_t chan = sw * H * wq; /* floats of one channel's phase rows */
    /* per k = (c, kh, kw): where its runs start in an image's phase rows (input row 0), and
     * the input row of output row 0 (divisions once, not per panel) */
    int64_t *kofs = (int64_t *)(ph + (m * q->ci * chan + 1) / 2 * 2), *krow = kofs + K;
    for (int64_t k = 0; k < K; k++) {
        const int64_t c = k / (KH * KW), kh = (k / KW) % KH, kw = k % KW;
        const int64_t offw = kw * q->d[2] - q->p[2], sig = floor_div(offw, sw);
        kofs[k] = c * chan + (offw - sig * sw) * H * wq + sig - xmin;
        krow[k] = kh * q->d[1] - q->p[1];
    }
    for (int64_t j0 = 0; j0 < N; j0 += NR) {
        const int nr = (int)(N - j0 < NR ? N - j0 : NR);
        /* the panel's columns in pieces of one output row each: columns j .. j + len - 1
         * start at base (image and output column) on input row oh * sh + krow[k] */
        int pj[NR], plen[NR], np = 0;
        int64_t poh[NR];
        const float *pbase[NR];
        for (int j = 0; j < nr;) {
            const int64_t i = (j0 + j) / L, l = (j0 + j) % L, oh = l / OW, ow = l % OW;
            const int len = (int)(OW - ow < nr - j ? OW - ow : nr - j);
            pj[np] = j, plen[np] = len, poh[np] = oh * sh;
            pbase[np++] = ph + i * q->ci * chan + ow;
            j += len;
        }
        for (int64_t b = 0; b < K; b += KC) { /* the gemm's blocks of k */
            const int64_t kc = K - b < KC ? K - b : KC;
            float *d = buf + lf_gemm512_packed_b_offset(K, N, b, j0);
            for (int64_t k = b; k < b + kc; k++, d += NR) {
                for (int u = 0; u < np; u++) {
                    const int64_t ih = poh[u] + krow[k];
                    copy_or_zero(d + pj[u], ih >= 0 && ih < H ? pbase[u] + kofs[k] + ih * wq
                                                              : NULL, plen[u]);
                }
                if (nr < NR) copy_or_zero(d + nr, NULL, NR - nr);
            }
        }
    }
    return buf;
}

#else

size_t lf_conv_im2col_packed_floats(const lf_conv_geom *q, const lf_conv_job *j, bool direct,
                                    int64_t m)
{
    (void)q, (void)j, (void)direct, (void)m;
    return 0;
}

float *lf_conv_im2col_packed(const lf_conv_geom *q, const float *img, int64_t m, float *buf)
{
    (void)q, (void)img, (void)m;
    return buf;
}

#endif
