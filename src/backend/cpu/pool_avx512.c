/* Max pooling of one output row on AVX-512, for inference (the maxima alone, no indices),
 * with stride 2 in the row and a kernel of at most 4 columns (a ResNet's 3x3/2 stem pool,
 * 2x2/2 pooling). src/ops/pool.c's loop compiled to scalar code here: 5.8 % of a 64x64
 * embedding step (NOTES 23).
 *
 * 16 outputs at a time: their input columns 2 ow - p .. 2 ow - p + k - 1 lie in 48 floats
 * loaded as three vectors (columns outside the row read as -inf: they never win, as the
 * clamped window of the scalar code leaves them out); kernel column j of the 16 windows is
 * one permute. The window's values are visited in the scalar code's order (its rows in the
 * order given, then its columns), each taken when larger or NaN, so the result is the
 * same bit for bit (the first of equal values, -0 and +0 included; the last NaN).
 *
 * After a ReLU the values are +0 or more and never NaN: then any order gives the same bits,
 * and lf_max_pool_plane_nonneg takes a whole plane with plain maxima, each input row's
 * window maxima once (kept for the next output row, which shares kh - 2 of its rows) and the
 * padding read as 0. The fused stem's pooling took 22 % of the stem's samples with the
 * ordered compares (NOTES 38). */
#include "pool_cpu.h"
#include "gemm_avx512.h"

#define NONNEG_MAX_OW 1024 /* lf_max_pool_plane_nonneg's ring: 4 rows of up to this many */

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include <immintrin.h>

bool lf_max_pool_row_avx512_fits(int64_t k, int64_t s)
{
    return s == 2 && k >= 1 && k <= 4 && lf_cpu_avx512f();
}

__attribute__((target("avx512f"), optimize("O3"))) void
lf_max_pool_row_avx512(const float *const *rows, int n_rows, int64_t W, int64_t OW, int64_t k,
                       int64_t p, float *dst, const int32_t *bases, int32_t *irow)
{
    const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
    __m512i idx[4];
    for (int j = 0; j < 4; j++) /* lane l, column j: position 2 l + j of the 48 */
        idx[j] = _mm512_add_epi32(
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
            _mm512_set1_epi32(j));
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
        const int64_t c0 = 2 * ow0 - p; /* the column of position 0 */
        __mmask16 m[3];
        for (int v = 0; v < 3; v++) { /* lanes of vector v inside the row */
            const int64_t lo = c0 + 16 * v, a = lo < 0 ? -lo : 0, b = W - lo;
            const uint32_t hi = b >= 16 ? 0xFFFFu : b <= 0 ? 0u : (1u << b) - 1;
            m[v] = (__mmask16)(hi & ~(a >= 16 ? 0xFFFFu : (1u << a) - 1));
        }
        __m512 cur = ninf;
        /* the indices (irow): where each lane's maximum is, from the window's first value
         * (kept when every value is -inf, as the scalar loop keeps it) */
        const __m512i lane2 = _mm512_add_epi32(idx[0], _mm512_set1_epi32((int)c0));
        __m512i where = _mm512_setzero_si512();
        if (irow)
            where = _mm512_add_epi32(_mm512_set1_epi32(bases[0]),
                                  _mm512_max_epi32(lane2, _mm512_setzero_si512()));
        for (int r = 0; r < n_rows; r++) {
            const uintptr_t at = (uintptr_t)rows[r] + (uintptr_t)(c0 * 4);
            __m512 x[3];
            for (int v = 0; v < 3; v++) /* formed as an integer: may lie outside the row */
                x[v] = _mm512_mask_loadu_ps(ninf, m[v], (const void *)(at + (uintptr_t)(64 * v)));
            for (int64_t j = 0; j < k; j++) {
                /* positions 2 l + j: below 32 from x0:x1, lane 15 with j >= 2 from x2 */
                __m512 e = _mm512_permutex2var_ps(x[0], idx[j], x[1]);
                if (j >= 2)
                    e = _mm512_mask_permutexvar_ps(e, (__mmask16)0x8000,
                                                   _mm512_set1_epi32((int)j - 2), x[2]);
                const __mmask16 take = _mm512_cmp_ps_mask(e, cur, _CMP_GT_OQ) |
                                       _mm512_cmp_ps_mask(e, e, _CMP_UNORD_Q);
                cur = _mm512_mask_mov_ps(cur, take, e);
                if (irow) /* column 2 l + j - p + 2 ow0 of row r */
                    where = _mm512_mask_mov_epi32(
                        where, take,
                        _mm512_add_epi32(lane2, _mm512_set1_epi32(bases[r] + (int32_t)j)));
            }
        }
        const int64_t n = OW - ow0;
        const __mmask16 st = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(dst + ow0, st, cur);
        if (irow) _mm512_mask_storeu_epi32(irow + ow0, st, where);
    }
}

bool lf_max_pool_plane_nonneg_fits(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t OW)
{
    return sh == 2 && sw == 2 && kh >= 1 && kh <= 4 && kw >= 1 && kw <= 4 &&
           OW <= NONNEG_MAX_OW && lf_cpu_avx512f();
}

/* ring[0:OW] = the maxima of row's windows of kw columns at 2 ow - pw, the columns off the
 * row read as 0 (exact for non-negative rows: every window holds a value of the row) */
__attribute__((target("avx512f"), optimize("O3"))) static void
nonneg_row(const float *row, int64_t W, int64_t OW, int64_t kw, int64_t pw, float *out)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
        const int64_t c0 = 2 * ow0 - pw;
        __m512 x[3];
        for (int v = 0; v < 3; v++) { /* formed as an integer: may lie outside the row */
            const int64_t lo = c0 + 16 * v, a = lo < 0 ? -lo : 0, b = W - lo;
            const uint32_t hi = b >= 16 ? 0xFFFFu : b <= 0 ? 0u : (1u << b) - 1;
            const __mmask16 m = (__mmask16)(hi & ~(a >= 16 ? 0xFFFFu : (1u << a) - 1));
            x[v] = _mm512_maskz_loadu_ps(m, (const void *)((uintptr_t)row + (uintptr_t)(lo * 4)));
        }
        __m512 cur = _mm512_permutex2var_ps(x[0], even, x[1]);
        for (int64_t j = 1; j < kw; j++) {
            const __m512i at = _mm512_add_epi32(even, _mm512_set1_epi32((int)j));
            __m512 e = _mm512_permutex2var_ps(x[0], at, x[1]);
            if (j >= 2)
                e = _mm512_mask_permutexvar_ps(e, (__mmask16)0x8000,
                                               _mm512_set1_epi32((int)j - 2), x[2]);
            cur = _mm512_max_ps(cur, e);
        }
        _mm512_storeu_ps(out + ow0, cur);
    }
}

__attribute__((target("avx512f"), optimize("O3"))) void
lf_max_pool_plane_nonneg(const float *src, int64_t H, int64_t W, int64_t OH, int64_t OW,
                         int64_t kh, int64_t kw, int64_t ph, int64_t pw, float *dst)
{
    /* the row maxima of the last four input rows, row r in slot r % 4 (an output row needs
     * kh <= 4 consecutive rows; with stride 2, kh - 2 of them are the previous one's) */
    float ring[4][NONNEG_MAX_OW] __attribute__((aligned(64)));
    int64_t held[4] = {-1, -1, -1, -1};
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t r0 = 2 * oh - ph;
        const float *rows[4];
        int n = 0;
        for (int64_t r = r0 < 0 ? 0 : r0; r < r0 + kh && r < H; r++) {
            if (held[r % 4] != r) {
                nonneg_row(src + r * W, W, OW, kw, pw, ring[r % 4]);
                held[r % 4] = r;
            }
            rows[n++] = ring[r % 4];
        }
        for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
            __m512 cur = _mm512_loadu_ps(rows[0] + ow0);
            for (int i = 1; i < n; i++) cur = _mm512_max_ps(cur, _mm512_loadu_ps(rows[i] + ow0));
            const int64_t left = OW - ow0;
            _mm512_mask_storeu_ps(dst + oh * OW + ow0,
                                  left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1),
                                  cur);
        }
    }
}

#else

bool lf_max_pool_row_avx512_fits(int64_t k, int64_t s)
{
    (void)k, (void)s;
    return false;
}

bool lf_max_pool_plane_nonneg_fits(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t OW)
{
    (void)kh, (void)kw, (void)sh, (void)sw, (void)OW;
    return false;
}

void lf_max_pool_plane_nonneg(const float *src, int64_t H, int64_t W, int64_t OH, int64_t OW,
                              int64_t kh, int64_t kw, int64_t ph, int64_t pw, float *dst)
{
    (void)src, (void)H, (void)W, (void)OH, (void)OW, (void)kh, (void)kw, (void)ph, (void)pw;
    (void)dst;
}

void lf_max_pool_row_avx512(const float *const *rows, int n_rows, int64_t W, int64_t OW,
                            int64_t k, int64_t p, float *dst, const int32_t *bases,
                            int32_t *irow)
{
    (void)rows, (void)n_rows, (void)W, (void)OW, (void)k, (void)p, (void)dst, (void)bases;
    (void)irow;
}

#endif
