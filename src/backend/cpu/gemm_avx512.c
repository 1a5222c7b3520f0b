/* Single-threaded float GEMM with an AVX-512 micro-kernel, chosen at run time (CPUID) for the
 * convolution's per-thread products. Why not only BLAS: OpenBLAS picks its kernels once per
 * process from OPENBLAS_CORETYPE when that is set, and environments that pin it to an AVX2
 * core type leave half of an AVX-512 machine's FMA width unused; PyTorch's oneDNN ignores the
 * variable. This kernel uses what the CPU has, and BLAS remains the fallback everywhere else.
 *
 * Layout as BLIS: C (M x N, row-major) is computed in MR x NR tiles from packed panels;
 * B is packed per (KC x NC) block into NR-column panels (the panel in use stays in L1),
 * A per (MC x KC) block into MR-row panels (the block stays in L2). Edges are zero-padded in
 * the packed panels and masked on the store, so any M, N, K, stride and transpose works. */
#include "gemm_avx512.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include <immintrin.h>

#define MR 8
#define NR 48 /* three 16-float vectors: 24 accumulators, 3 loads + 8 broadcasts per k */
#ifndef KC
#define KC 192
#endif
#ifndef MC
#define MC 128
#endif
#ifndef NC
#define NC 1536
#endif

size_t lf_gemm512_pack_floats(void) { return (size_t)MC * KC + (size_t)KC * (NC + NR); }

static int detect(void)
{
    const char *e = getenv("LF_GEMM");
    if (e && !strcmp(e, "blas")) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

int lf_gemm512_available(void)
{
    static int cached = -1; /* a benign race: every thread computes the same value */
    if (cached < 0) cached = detect();
    return cached;
}

/* A(i, k) of op(A), B(k, j) of op(B) */
/* everything on this path runs only where AVX-512 does: packing and driver too */
#define AVX512_FN __attribute__((target("avx512f"), optimize("O3")))

AVX512_FN static void pack_a(bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t k0,
                   int64_t kc, float *restrict ap)
{
    for (int64_t ir = 0; ir < mc; ir += MR) {
        const int64_t mr = mc - ir < MR ? mc - ir : MR;
        for (int64_t k = 0; k < kc; k++) {
            float *d = ap + k * MR;
            if (ta) {
                const float *s = A + (k0 + k) * lda + i0 + ir;
                for (int64_t r = 0; r < mr; r++) d[r] = s[r];
            } else {
                for (int64_t r = 0; r < mr; r++) d[r] = A[(i0 + ir + r) * lda + k0 + k];
            }
            for (int64_t r = mr; r < MR; r++) d[r] = 0;
        }
        ap += kc * MR;
    }
}

AVX512_FN static void pack_b(bool tb, const float *B, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
                   int64_t nc, float *restrict bp)
{
    for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t nr = nc - jr < NR ? nc - jr : NR;
        if (tb) {
            for (int64_t j = 0; j < nr; j++) {
                const float *s = B + (j0 + jr + j) * ldb + k0;
                for (int64_t k = 0; k < kc; k++) bp[k * NR + j] = s[k];
            }
            if (nr < NR)
                for (int64_t k = 0; k < kc; k++)
                    memset(bp + k * NR + nr, 0, (size_t)(NR - nr) * sizeof(float));
        } else {
            for (int64_t k = 0; k < kc; k++) {
                memcpy(bp + k * NR, B + (k0 + k) * ldb + j0 + jr, (size_t)nr * sizeof(float));
                if (nr < NR) memset(bp + k * NR + nr, 0, (size_t)(NR - nr) * sizeof(float));
            }
        }
        bp += kc * NR;
    }
}

/* C[0:mr, 0:nr] = alpha * (A panel x B panel) + beta * C (C not read when beta is 0) */
AVX512_FN static void kernel(int64_t kc, const float *restrict a, const float *restrict b, float *c, int64_t ldc,
       int mr, int nr, float alpha, float beta)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    __m512 c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16),
                     b2 = _mm512_load_ps(b + 32);
#define ROW(r)                                                                             \
    {                                                                                      \
        const __m512 ar = _mm512_set1_ps(a[r]);                                            \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                        \
        c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                        \
        c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);                                        \
    }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        a += MR;
        b += NR;
    }
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    const __mmask16 m2 = nr >= 48 ? 0xFFFF : nr <= 32 ? 0 : (__mmask16)((1u << (nr - 32)) - 1);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 rows[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32},
                          {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
    const __mmask16 m[3] = {m0, m1, m2};
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (int v = 0; v < 3; v++) {
            if (!m[v]) continue;
            __m512 x = _mm512_mul_ps(va, rows[r][v]);
            if (beta != 0)
                x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[v], cr + 16 * v), x);
            _mm512_mask_storeu_ps(cr + 16 * v, m[v], x);
        }
    }
}

AVX512_FN void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc, float *pack)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta C, as BLAS */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    /* 64-byte aligned panels inside the caller's buffer (lf_gemm512_pack_floats + 16) */
    float *ap = (float *)(((uintptr_t)pack + 63) & ~(uintptr_t)63);
    float *bp = ap + (size_t)MC * KC;
    for (int64_t jc = 0; jc < N; jc += NC) {
        const int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            const int64_t kc = K - pc < KC ? K - pc : KC;
            const float be = pc == 0 ? beta : 1;
            pack_b(tb, B, ldb, pc, kc, jc, nc, bp);
            for (int64_t ic = 0; ic < M; ic += MC) {
                const int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(ta, A, lda, ic, mc, pc, kc, ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int nr = (int)(nc - jr < NR ? nc - jr : NR);
                    const float *bpan = bp + (jr / NR) * kc * NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int mr = (int)(mc - ir < MR ? mc - ir : MR);
                        kernel(kc, ap + (ir / MR) * kc * MR, bpan,
                               C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha, be);
                    }
                }
            }
        }
    }
}

#else /* no AVX-512 path in this build: callers use BLAS */

size_t lf_gemm512_pack_floats(void) { return 0; }
int lf_gemm512_available(void) { return 0; }
void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *pack)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)pack;
}

#endif
