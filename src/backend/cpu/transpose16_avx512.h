/* A 16 x 16 float transpose in AVX-512 registers, shared by the gemm's packing
 * (gemm_avx512.c) and the Winograd transforms of 2x2 and 4x4 images (conv_winograd_dual.c,
 * conv_winograd4.c). x86-64 only; callers compile it inside their own avx512f-targeted
 * functions. */
#ifndef LF_TRANSPOSE16_AVX512_H
#define LF_TRANSPOSE16_AVX512_H

#include <immintrin.h>

/* 16 x 16 floats transposed in registers: r[i] holds row i on entry, column i on return.
 * Pairs of rows interleaved (unpack), then pairs of pairs (shuffle): u[4g + c] holds, in
 * 128-bit lane l, column 4l + c of rows 4g..4g+3; two rounds of lane shuffles gather the
 * four lanes l of u[c], u[4 + c], u[8 + c], u[12 + c] into column 4l + c. */
__attribute__((target("avx512f"))) static inline void lf_transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) { /* 0x88: lanes 0, 2 of a then b; 0xDD: lanes 1, 3 */
        const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88),
                     v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD),
                     w0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88),
                     w1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[12 + c] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}

#endif
