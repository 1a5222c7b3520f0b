/* The convolution's three products on the AVX-512 gemm (gemm_avx512.c), reading and writing
 * the tensors in their own (n, c, positions) layout: no staging copies between a block of
 * images and the gemm. Columns (im2col) are built per block of images small enough to stay
 * in the core's L2 cache (lf_conv_cpu_run picks the block), so the gemm packs them from there.
 * Called by lf_conv_cpu_run on one thread's range of images (see conv_cpu.c). */
#include "conv_cpu.h"
#include "gemm_avx512.h"

#ifndef LF_DOUBLE

/* rows of (n, rows, L) tensors starting at image b0, channel r0: element (r, column) */
static lf_gemm_mat per_image(const float *t, int64_t b0, int64_t rows, int64_t r0, int64_t L)
{
    lf_gemm_mat m = {(float *)t + (b0 * rows + r0) * L, L, L, rows * L, false};
    return m;
}

static lf_gemm_mat plain(const float *p, int64_t ld, bool t)
{
    lf_gemm_mat m = {(float *)p, ld, 0, 0, t};
    return m;
}

size_t lf_conv_avx512_wpack_floats(const lf_conv_geom *q, const lf_conv_job *j)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2], Kg = q->ci / q->groups * kp;
    if (q->groups != 1) return 0;
    return (j->colside_out ? lf_gemm512_packed_a_floats(q->co, Kg) : 0) +
           (j->img_out ? lf_gemm512_packed_a_floats(Kg, q->co) : 0);
}

lf_conv_wpack lf_conv_avx512_pack_weights(const lf_conv_geom *q, const lf_conv_job *j,
                                          lf_real *buf)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2], Kg = q->ci / q->groups * kp;
    lf_conv_wpack wp = {NULL, NULL};
    if (q->groups != 1) return wp;
    if (j->colside_out) { /* W (co x K), for Y = W @ cols */
        lf_gemm_mat a = plain(j->w, Kg, false);
        lf_gemm512_pack_a(q->co, Kg, &a, buf);
        wp.fwd = buf;
        buf += lf_gemm512_packed_a_floats(q->co, Kg);
    }
    if (j->img_out) { /* W^T (K x co), for dcols = W^T @ C */
        lf_gemm_mat a = plain(j->w, Kg, true);
        lf_gemm512_pack_a(Kg, q->co, &a, buf);
        wp.bwd = buf;
    }
    return wp;
}

void lf_conv_range_avx512(const lf_conv_geom *q, const lf_conv_job *j, bool direct, int64_t nb,
                          int64_t b_begin, int64_t b_end, lf_real *col, lf_real *dw,
                          lf_real *pack, lf_conv_wpack wp)
{
    const int64_t kp = q->k[0] * q->k[1] * q->k[2];
    const int64_t L = q->out[0] * q->out[1] * q->out[2];
    const int64_t Lin = q->in[0] * q->in[1] * q->in[2];
    const int64_t G = q->groups, Kg = q->ci / G * kp, Mg = q->co / G, cg = q->ci / G;
    /* with one group the weights (forward) and their transpose (input gradient) were packed
     * once for all threads and blocks of images (lf_conv_avx512_pack_weights) */
    const float *w_fwd = wp.fwd, *w_bwd = wp.bwd;
    /* a forward pass alone (one group): its columns go straight into the gemm's packed
     * layout (bp) instead of through lf_conv_im2col and the gemm's packing */
    const bool packed = lf_conv_im2col_packed_floats(q, j, direct, nb) > 0;
    for (int64_t b0 = b_begin; b0 < b_end; b0 += nb) {
        const int64_t m = b_end - b0 < nb ? b_end - b0 : nb, nc = m * L;
        const float *bp = NULL;
        if (packed) bp = lf_conv_im2col_packed(q, j->img + b0 * q->ci * Lin, m, col);
        else if (j->img && !direct) lf_conv_im2col(q, j->img + b0 * q->ci * Lin, m, col);
        for (int64_t gi = 0; gi < G; gi++) {
            const float *wg = j->w + gi * Mg * Kg;
            /* the column matrix of this group, (Kg, nc), and its transpose */
            lf_gemm_mat cols = {0}, cols_t = {0};
            if (j->img) {
                if (direct) {
                    cols = per_image(j->img, b0, q->ci, gi * cg, L);
                    cols_t = cols;
                    cols_t.t = true;
                } else {
                    cols = plain(col + gi * Kg * nc, nc, false);
                    cols_t = plain(col + gi * Kg * nc, nc, true);
                }
            }
            if (j->colside_out) { /* Y = W @ cols */
                lf_gemm_mat a = plain(wg, Kg, false);
                lf_gemm_mat y = per_image(j->colside_out, b0, q->co, gi * Mg, L);
                if (bp)
                    lf_gemm512x_bp(Mg, nc, Kg, 1, &a, w_fwd, bp, j->accumulate ? 1 : 0, &y, pack);
                else
                    lf_gemm512x(Mg, nc, Kg, 1, &a, w_fwd, &cols, j->accumulate ? 1 : 0, &y, pack);
            }
            if (dw) { /* dW += C @ cols^T */
                lf_gemm_mat a = per_image(j->colside, b0, q->co, gi * Mg, L);
                lf_gemm_mat c = plain(dw + gi * Mg * Kg, Kg, false);
                lf_gemm512x(Mg, Kg, nc, 1, &a, NULL, &cols_t, 1, &c, pack);
            }
            if (j->img_out) { /* dcols = W^T @ C, then back into the image */
                lf_gemm_mat a = plain(wg, Kg, true);
                lf_gemm_mat b = per_image(j->colside, b0, q->co, gi * Mg, L);
                lf_gemm_mat c = direct ? per_image(j->img_out, b0, q->ci, gi * cg, L)
                                       : plain(col + gi * Kg * nc, nc, false);
                lf_gemm512x(Kg, nc, Mg, 1, &a, w_bwd, &b, direct ? 1 : 0, &c, pack);
            }
        }
        if (j->img_out && !direct) lf_conv_col2im(q, col, m, j->img_out + b0 * q->ci * Lin);
        if (j->colside_out && j->ep) /* while the block's outputs are in the cache */
            lf_conv_epilogue_apply(j->ep, j->colside_out, q->co, L, b0, b0 + m, 0, L);
    }
}

#else

size_t lf_conv_avx512_wpack_floats(const lf_conv_geom *q, const lf_conv_job *j)
{
    (void)q, (void)j;
    return 0;
}

lf_conv_wpack lf_conv_avx512_pack_weights(const lf_conv_geom *q, const lf_conv_job *j,
                                          lf_real *buf)
{
    (void)q, (void)j, (void)buf;
    return (lf_conv_wpack){NULL, NULL};
}

void lf_conv_range_avx512(const lf_conv_geom *q, const lf_conv_job *j, bool direct, int64_t nb,
                          int64_t b_begin, int64_t b_end, lf_real *col, lf_real *dw,
                          lf_real *pack, lf_conv_wpack wp)
{
    (void)q, (void)j, (void)direct, (void)nb, (void)b_begin, (void)b_end, (void)col, (void)dw;
    (void)pack, (void)wp;
}

#endif
