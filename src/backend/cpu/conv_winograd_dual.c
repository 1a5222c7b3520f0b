/* The forward pass and the input gradient of 3x3 stride-1 pad-1 convolutions on 2x2 images
 * (a ResNet's last stage at 64x64 input): 9 matrix products an image instead of F(2x2, 3x3)'s
 * 16.
 *
 * On a 2x2 image the filter's taps meet only the image's four pixels. In one dimension
 *   y0 = w1 x0 + w2 x1,   y1 = w0 x0 + w1 x1,
 * which is F(2, 2) (two outputs of a two-tap filter over three values) with the roles of
 * data and filter exchanged: the three taps w are the data, the two pixels x the filter, and
 * the outputs come out reversed:
 *   m0 = (w0 - w1) x0,  m1 = w1 (x0 + x1),  m2 = (w2 - w1) x1,   y1 = m0 + m1,  y0 = m1 + m2.
 * So, with
 *
 *         | 1 -1  0 |          | 1  0 |
 *   B^T = | 0  1  0 |      G = | 1  1 |      A^T = | 1  1  0 |
 *         | 0 -1  1 |          | 0  1 |            | 0  1  1 |
 *
 * the output of one (output channel, input channel) pair is Y = rev(A^T [(B^T g B) .* (G d
 * G^T)] A) (g the 3x3 filter, d the 2x2 image, rev reverses rows and columns): 9
 * multiplications where F(2x2, 3x3) does 16 (its 4x4 patch is three quarters padding) and
 * the direct sum's non-padding taps are 16. Summed over the input channels these are 9
 * matrix products U_xi (co x ci) V_xi (ci x images), as in conv_winograd.c. Every
 * coefficient is 0 or +-1: the transforms add at most four values and scale nothing, so the
 * rounding is F(2x2)'s or less (tests/unit/test_winograd.c).
 *
 * Layout: one image is one tile (a unit), its four pixels of one channel are 4 contiguous
 * floats and four channels 16: the input transform loads 16 images' four channels as 16
 * vectors and transposes them in registers (lf_transpose16), so that each (channel, pixel)
 * is a vector over the 16 images; V is written in the gemm's packed B layout (no copy into
 * panels). The output transform does the reverse: four channels' 2x2 outputs of 16 images
 * transposed back, one 16-float store (with the epilogue) per image and four channels.
 * Threads and blocks as the other kinds (conv_winograd_pass.h): results do not depend on
 * the thread count. */
#include "conv_winograd.h"

bool lf_conv_winograd_dual_fits(const lf_conv_geom *q) { return q->in[1] == 2 && q->in[2] == 2; }

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include "conv_winograd_pass.h"

#ifndef WD_BLOCK_BYTES
#define WD_BLOCK_BYTES (1 << 20)
#endif
#ifndef WD_MIN_COLS
#define WD_MIN_COLS 96
#endif

/* V_xi (xi = 3a + b) = (G d G^T)[a][b] of one channel's 2x2 pixels x (vectors over images):
 * rows of G d are x0., x0. + x1., x1.; the columns combine the same way */
WINO_FN static inline void gdg(__m512 x00, __m512 x01, __m512 x10, __m512 x11, __m512 v[9])
{
    const __m512 r0 = _mm512_add_ps(x00, x01), r2 = _mm512_add_ps(x10, x11);
    v[0] = x00;
    v[1] = r0;
    v[2] = x01;
    v[3] = _mm512_add_ps(x00, x10);
    v[4] = _mm512_add_ps(r0, r2);
    v[5] = _mm512_add_ps(x01, x11);
    v[6] = x10;
    v[7] = r2;
    v[8] = x11;
}

/* V (9 matrices ci x P in the packed B layout, xi_stride_packed apart) <- G d G^T of the
 * block's P images (units u0..), 16 images and 4 channels at a time */
WINO_FN static void input_dual(const wino_pass *w, int64_t u0, int64_t P, float *V)
{
    const int64_t ci = w->ci, xs = xi_stride_packed(ci, P);
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        const __mmask16 keep = lanes(cnt);
        const float *img = w->in + (u0 + j0) * ci * 4;
        for (int64_t c0 = 0; c0 < ci; c0 += 4) {
            const int64_t nc = ci - c0 < 4 ? ci - c0 : 4;
            const __mmask16 m = lanes(4 * nc);
            __m512 r[16]; /* row l: image j0 + l, channels c0.. (4 floats each) */
            for (int64_t l = 0; l < 16; l++)
                r[l] = l < cnt ? _mm512_maskz_loadu_ps(m, img + (l * ci + c0) * 4)
                               : _mm512_setzero_ps();
            lf_transpose16(r); /* r[4 cc + p]: channel c0 + cc, pixel p, over the images */
            for (int64_t cc = 0; cc < nc; cc++) {
                __m512 v[9];
                gdg(r[4 * cc], r[4 * cc + 1], r[4 * cc + 2], r[4 * cc + 3], v);
                const wino_vdst d = wino_packed_at(V, ci, P, c0 + cc, j0, keep);
                for (int xi = 0; xi < 9; xi++) {
                    _mm512_mask_storeu_ps(d.d[0] + xi * xs, d.m[0], v[xi]);
                    if (d.m[1]) _mm512_mask_storeu_ps(d.d[1] + xi * xs, d.m[1], v[xi]);
                }
            }
        }
    }
}

/* The block's outputs (P images from unit u0) <- rev(A^T m A), m from M (9, co, P), 16
 * images and 4 channels at a time, stored by wino_store_planes2x2 (with w->add and the
 * epilogue) */
WINO_FN static void output_dual(const wino_pass *w, int64_t u0, int64_t P, const float *M)
{
    const int64_t co = w->co, xs = xi_stride(co, P);
    for (int64_t j0 = 0; j0 < P; j0 += 16) {
        const int64_t cnt = P - j0 < 16 ? P - j0 : 16;
        const __mmask16 keep = lanes(cnt);
        float *img = w->out + (u0 + j0) * co * 4;
        for (int64_t c0 = 0; c0 < co; c0 += 4) {
            const int64_t nc = co - c0 < 4 ? co - c0 : 4;
            __m512 y[16]; /* y[4 cc + p]: channel c0 + cc, output pixel p, over the images */
            for (int64_t cc = 0; cc < 4; cc++) {
                if (cc >= nc) {
                    y[4 * cc] = y[4 * cc + 1] = y[4 * cc + 2] = y[4 * cc + 3] = _mm512_setzero_ps();
                    continue;
                }
                const float *src = M + (c0 + cc) * P + j0;
                __m512 m[9], t[2][3];
                for (int xi = 0; xi < 9; xi++) m[xi] = _mm512_maskz_loadu_ps(keep, src + xi * xs);
                for (int b = 0; b < 3; b++) { /* A^T m */
                    t[0][b] = _mm512_add_ps(m[b], m[3 + b]);
                    t[1][b] = _mm512_add_ps(m[3 + b], m[6 + b]);
                }
                for (int a = 0; a < 2; a++) { /* (A^T m) A, rows and columns reversed */
                    y[4 * cc + 2 * (1 - a) + 1] = _mm512_add_ps(t[a][0], t[a][1]);
                    y[4 * cc + 2 * (1 - a)] = _mm512_add_ps(t[a][1], t[a][2]);
                }
            }
            wino_store_planes2x2(w, img, c0, nc, cnt, y);
        }
    }
}

static int64_t thread_floats_dual(const wino_pass *w) { return wino_packed_thread_floats(w, 9); }

/* Units (images) [u_begin, u_end) on the calling thread, buf: thread_floats_dual floats */
static void range_dual(const wino_pass *w, int64_t u_begin, int64_t u_end, float *buf)
{
    float *V, *M, *pack;
    wino_packed_buffers(w, 9, buf, &V, &M, &pack);
    for (int64_t u0 = u_begin; u0 < u_end; u0 += w->rows) {
        const int64_t P = u_end - u0 < w->rows ? u_end - u0 : w->rows;
        input_dual(w, u0, P, V);
        wino_products(w, 9, V, true, M, P, pack);
        output_dual(w, u0, P, M); /* with the epilogue */
    }
}

/* The 9 values (B^T g B)[xi] of 16 filters' taps k (wino_filter_rows) */
WINO_FN static inline void filter_math_dual(const __m512 k[9], __m512 *v)
{
    __m512 t[3][3];
    for (int j = 0; j < 3; j++) { /* B^T g: rows 0 - 1, 1, 2 - 1 */
        t[0][j] = _mm512_sub_ps(k[j], k[3 + j]);
        t[1][j] = k[3 + j];
        t[2][j] = _mm512_sub_ps(k[6 + j], k[3 + j]);
    }
    for (int a = 0; a < 3; a++) { /* (B^T g) B: the columns the same way */
        v[3 * a] = _mm512_sub_ps(t[a][0], t[a][1]);
        v[3 * a + 1] = t[a][1];
        v[3 * a + 2] = _mm512_sub_ps(t[a][2], t[a][1]);
    }
}

WINO_DEFINE_FILTERS(filter_transform_dual, 9, filter_math_dual)

static const wino_kind dual = {.tile = 2, .n_xi = 9, .form = LF_FORM_WINOGRAD_DUAL,
                               .block_bytes = WD_BLOCK_BYTES, .min_cols = WD_MIN_COLS,
                               .thread_floats = thread_floats_dual,
                               .filters = filter_transform_dual, .range = range_dual};

const wino_kind *lf_conv_winograd_dual_kind(void) { return &dual; }

#endif
