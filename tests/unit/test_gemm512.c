/* The AVX-512 gemm (src/backend/cpu/gemm_avx512.c) against a double-precision loop: every
 * transpose, alpha/beta, tile edges (M, N, K not multiples of the tile) and block edges
 * (M > MC, N > NC, K > KC); C must not be read when beta is 0. Transposed B, packed by
 * register transposes, also against the same product on a plain copy, bit for bit. */
#include "test.h"

#include "../../src/backend/cpu/gemm_avx512.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef LF_DOUBLE
static double ref_at(const float *X, int64_t ld, bool t, int64_t r, int64_t c)
{
    return t ? X[c * ld + r] : X[r * ld + c];
}

static int check_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      float beta, lf_rng *r, float *pack)
{
    const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
    float *A = lf_malloc((size_t)((ta ? K : M) * lda) * sizeof(float));
    float *B = lf_malloc((size_t)((tb ? N : K) * ldb) * sizeof(float));
    float *C = lf_malloc((size_t)(M * ldc) * sizeof(float));
    float *C0 = lf_malloc((size_t)(M * ldc) * sizeof(float));
    lf_rng_fill_uniform(r, A, (ta ? K : M) * lda, -1, 1);
    lf_rng_fill_uniform(r, B, (tb ? N : K) * ldb, -1, 1);
    lf_rng_fill_uniform(r, C, M * ldc, -1, 1);
    if (beta == 0)
        for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN; /* must not be read */
    memcpy(C0, C, (size_t)(M * ldc) * sizeof(float));
    lf_gemm512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, pack);
    int bad = 0;
    for (int64_t i = 0; i < M && !bad; i++)
        for (int64_t j = 0; j < ldc && !bad; j++) {
            if (j >= N) { /* the padding between rows is left alone */
                bad = memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float)) != 0;
                continue;
            }
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += ref_at(A, lda, ta, i, k) * ref_at(B, ldb, tb, k, j);
            double want = alpha * s + (beta == 0 ? 0 : beta * (double)C0[i * ldc + j]);
            double tol = 2e-6 * (double)(K + 2);
            if (!(fabs(C[i * ldc + j] - want) <= tol)) {
                lf_test_fail(__FILE__, __LINE__,
                             "gemm512 ta %d tb %d M %lld N %lld K %lld alpha %g beta %g: C[%lld,%lld] "
                             "= %g, want %g",
                             ta, tb, (long long)M, (long long)N, (long long)K, alpha, beta,
                             (long long)i, (long long)j, C[i * ldc + j], want);
                bad = 1;
            }
        }
    lf_free(A);
    lf_free(B);
    lf_free(C);
    lf_free(C0);
    return bad;
}
#endif

#ifndef LF_DOUBLE
/* the kernel's packing space, or NULL (test skipped) where the kernel is not in use */
static float *pack_or_skip(void)
{
    if (!lf_gemm512_available()) {
        lf_test_skip("no AVX-512 on this CPU (or LF_GEMM=blas): convolutions use BLAS");
        return NULL;
    }
    return lf_malloc((lf_gemm512_pack_floats() + 16) * sizeof(float));
}
#endif

TEST(gemm512_matches_reference)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    float *pack = pack_or_skip();
    if (!pack) return;
    lf_rng r = lf_rng_make(21, 5);
    static const int64_t shapes[][3] = {{1, 1, 1},   {7, 15, 5},   {8, 48, 192},
                                        {9, 49, 193}, {64, 100, 27}, {130, 47, 400},
                                        {3, 1600, 9}, {16, 16, 0},  {17, 50, 256},
                                        {24, 97, 257}, {9, 30, 1024}};
    int fails = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int ab = 0; ab < 3; ab++) {
                static const float alphas[3] = {1, 0.5f, 1}, betas[3] = {0, 1, -0.5f};
                fails += check_case(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                    alphas[ab], betas[ab], &r, pack);
            }
    CHECK(fails == 0);
    lf_free(pack);
#endif
}

#ifndef LF_DOUBLE
/* element (r, c) of a layout (before its transpose flag) */
static float *mat_at(const lf_gemm_mat *m, int64_t r, int64_t c)
{
    return m->p + (m->L ? (c / m->L) * m->S + c % m->L : c) + r * m->ld;
}

static float op_at(const lf_gemm_mat *m, int64_t r, int64_t c)
{
    return m->t ? *mat_at(m, c, r) : *mat_at(m, r, c);
}

/* a layout of rows x cols in blocks of L columns (S = rows * L + 5 apart), or plain */
static lf_gemm_mat split_mat(int64_t rows, int64_t cols, int64_t L, bool t, lf_rng *r)
{
    lf_gemm_mat m = {0};
    m.L = L;
    m.t = t;
    m.ld = L ? L : cols + 3;
    m.S = L ? rows * L + 5 : 0;
    int64_t n = L ? ((cols + L - 1) / L) * m.S : rows * m.ld;
    m.p = lf_malloc((size_t)n * sizeof(float));
    lf_rng_fill_uniform(r, m.p, n, -1, 1);
    return m;
}

#endif

TEST(gemm512_split_layouts)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    float *pack = pack_or_skip();
    if (!pack) return;
    lf_rng r = lf_rng_make(8, 1);
    const int64_t M = 13, N = 70, K = 250;
    int fails = 0;
    for (int v = 0; v < 5; v++) {
        /* v: 0 split A, 1 split B, 2 split C (blocks of 9, tiles straddle them), 3 split C
         * with blocks of 1, 4 split transposed B */
        lf_gemm_mat A = split_mat(M, K, v == 0 ? 7 : 0, false, &r);
        lf_gemm_mat B = v == 4 ? split_mat(N, K, 11, true, &r) : split_mat(K, N, v == 1 ? 9 : 0, false, &r);
        lf_gemm_mat C = split_mat(M, N, v == 2 ? 9 : v == 3 ? 1 : 0, false, &r);
        lf_gemm_mat C0 = C;
        int64_t cn = C.L ? ((N + C.L - 1) / C.L) * C.S : M * C.ld;
        C0.p = lf_malloc((size_t)cn * sizeof(float));
        memcpy(C0.p, C.p, (size_t)cn * sizeof(float));
        const float beta = v % 2 ? 0.5f : 0;
        /* odd variants with A packed beforehand */
        float *ap = NULL;
        if (v % 2) {
            ap = lf_malloc((lf_gemm512_packed_a_floats(M, K) + 16) * sizeof(float));
            lf_gemm512_pack_a(M, K, &A, ap);
        }
        lf_gemm512x(M, N, K, 0.75f, &A, ap, &B, beta, &C, pack);
        lf_free(ap);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)op_at(&A, i, k) * (double)op_at(&B, k, j);
                double want = 0.75 * s + beta * (double)*mat_at(&C0, i, j);
                if (!(fabs(*mat_at(&C, i, j) - want) <= 1e-3)) {
                    if (!fails)
                        lf_test_fail(__FILE__, __LINE__, "variant %d: C[%lld,%lld] = %g, want %g", v,
                                     (long long)i, (long long)j, *mat_at(&C, i, j), want);
                    fails++;
                }
            }
        /* the gaps between blocks are left alone */
        if (C.L)
            for (int64_t b = 0; b < (N + C.L - 1) / C.L; b++)
                for (int64_t g = M * C.L; g < C.S; g++)
                    fails += C.p[b * C.S + g] != C0.p[b * C.S + g];
        lf_free(A.p);
        lf_free(B.p);
        lf_free(C.p);
        lf_free(C0.p);
    }
    CHECK(fails == 0);
    lf_free(pack);
#endif
}

#ifndef LF_DOUBLE
/* C = alpha A op(B) + beta C with B transposed (plain, or in blocks of L along k), against
 * the same product with op(B) copied out plain: both packers copy the same values into the
 * same panels, so the two results must agree bit for bit; and against a double loop */
static int check_bt(int64_t M, int64_t N, int64_t K, int64_t L, float beta, lf_rng *r,
                    float *pack)
{
    lf_gemm_mat A = split_mat(M, K, 0, false, r), B = split_mat(N, K, L, true, r);
    lf_gemm_mat C = split_mat(M, N, 0, false, r), Cp = C, Bp = {0};
    const size_t cn = (size_t)(M * C.ld) * sizeof(float);
    Bp.p = lf_malloc((size_t)(K * N) * sizeof(float));
    Bp.ld = N;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) Bp.p[k * N + j] = op_at(&B, k, j);
    Cp.p = lf_malloc(cn);
    memcpy(Cp.p, C.p, cn);
    if (L) {
        lf_gemm512x(M, N, K, 0.5f, &A, NULL, &B, beta, &C, pack);
    } else { /* the plain entry point */
        lf_gemm512(false, true, M, N, K, 0.5f, A.p, A.ld, B.p, B.ld, beta, C.p, C.ld, pack);
    }
    int bad = 0;
    for (int64_t i = 0; i < M && !bad; i++)
        for (int64_t j = 0; j < N && !bad; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += (double)op_at(&A, i, k) * Bp.p[k * N + j];
            const double want = 0.5 * s + beta * (double)Cp.p[i * C.ld + j];
            bad = !(fabs(C.p[i * C.ld + j] - want) <= 2e-6 * (double)(K + 2));
        }
    lf_gemm512x(M, N, K, 0.5f, &A, NULL, &Bp, beta, &Cp, pack);
    if (!bad) bad = memcmp(C.p, Cp.p, cn) != 0;
    if (bad)
        lf_test_fail(__FILE__, __LINE__, "transposed B M %lld N %lld K %lld L %lld beta %g",
                     (long long)M, (long long)N, (long long)K, (long long)L, beta);
    lf_free(A.p);
    lf_free(B.p);
    lf_free(Bp.p);
    lf_free(C.p);
    lf_free(Cp.p);
    return bad;
}
#endif

/* The transposed B packer (16 x 16 blocks transposed in registers): partial panels (N not a
 * multiple of 48 or 16), blocks cut by the end of a run (K, L not multiples of 16; runs of
 * L = 1), K past the KC block (runs then start inside an image) and N past the NC block */
TEST(gemm512_transposed_b)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    float *pack = pack_or_skip();
    if (!pack) return;
    lf_rng r = lf_rng_make(3, 7);
    static const int64_t Ns[] = {1, 16, 17, 47, 49, 100}, Ks[] = {5, 16, 17, 193, 400},
                         Ls[] = {0, 7, 13, 49};
    int fails = 0, n = 0;
    for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof Ks[0]; b++)
            for (size_t c = 0; c < sizeof Ls / sizeof Ls[0]; c++)
                fails += check_bt(9, Ns[a], Ks[b], Ls[c], n++ % 2 ? -0.5f : 0, &r, pack);
    fails += check_bt(3, 1600, 20, 0, 1, &r, pack);
    fails += check_bt(3, 1600, 37, 13, 0, &r, pack);
    fails += check_bt(2, 33, 70, 1, 1, &r, pack);
    CHECK(fails == 0);
    lf_free(pack);
#endif
}

/* lf_gemm (the engine's product): split over 2 threads by rows (tall C) or columns (wide C),
 * the same bits as on one thread, and against the double-precision loop */
TEST(gemm_thread_split_same_bits)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    if (!lf_gemm512_available()) {
        lf_test_skip("no AVX-512 on this CPU (or LF_GEMM=blas)");
        return;
    }
    static const int64_t shapes[][3] = {{300, 70, 130}, {40, 2000, 33}, {129, 129, 300}};
    lf_rng r = lf_rng_make(3, 3);
    int saved = lf_get_threads();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            const bool ta = t & 1, tb = t >> 1;
            const int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 3, ldc = N;
            float *A = lf_malloc((size_t)((ta ? K : M) * lda) * sizeof(float));
            float *B = lf_malloc((size_t)((tb ? N : K) * ldb) * sizeof(float));
            float *C1 = lf_malloc((size_t)(M * N) * sizeof(float));
            float *C2 = lf_malloc((size_t)(M * N) * sizeof(float));
            lf_rng_fill_uniform(&r, A, (ta ? K : M) * lda, -1, 1);
            lf_rng_fill_uniform(&r, B, (tb ? N : K) * ldb, -1, 1);
            lf_set_threads(1);
            lf_gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C1, ldc);
            lf_set_threads(2);
            lf_gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C2, ldc);
            CHECK_MSG(!memcmp(C1, C2, (size_t)(M * N) * sizeof(float)),
                      "shape %zu ta %d tb %d: 1 and 2 threads differ", s, ta, tb);
            double worst = 0;
            for (int64_t i = 0; i < M; i += 7)
                for (int64_t j = 0; j < N; j += 5) {
                    double want = 0;
                    for (int64_t k = 0; k < K; k++)
                        want += ref_at(A, lda, ta, i, k) * ref_at(B, ldb, tb, k, j);
                    worst = fmax(worst, fabs(C2[i * N + j] - want));
                }
            CHECK_MSG(worst <= 2e-6 * (double)(K + 2), "shape %zu: error %.3g", s, worst);
            lf_free(A);
            lf_free(B);
            lf_free(C1);
            lf_free(C2);
        }
    lf_set_threads(saved);
#endif
}

/* OpenMP may give a region fewer threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, nesting
 * levels): the split product must still compute every element (found by review: with a team
 * of one, half of C was left as it was) */
#include <omp.h>
TEST(gemm_small_team_computes_everything)
{
#ifdef LF_DOUBLE
    lf_test_skip("float kernel; this build is float64");
#else
    if (!lf_gemm512_available()) { /* OpenMP OpenBLAS waits forever for a team it cannot get */
        lf_test_skip("no AVX-512 on this CPU (or LF_GEMM=blas)");
        return;
    }
    const int64_t M = 256, N = 64, K = 64;
    float *A = lf_malloc((size_t)(M * K) * sizeof(float)), *B = lf_malloc((size_t)(K * N) * sizeof(float));
    float *C = lf_malloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M * K; i++) A[i] = 1;
    for (int64_t i = 0; i < K * N; i++) B[i] = 1;
    for (int64_t i = 0; i < M * N; i++) C[i] = NAN;
    int saved = lf_get_threads(), levels = omp_get_max_active_levels();
    lf_set_threads(2);
    omp_set_max_active_levels(0); /* every region gets one thread */
    lf_gemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N);
    omp_set_max_active_levels(levels);
    lf_set_threads(saved);
    int64_t wrong = 0;
    for (int64_t i = 0; i < M * N; i++) wrong += C[i] != (float)K;
    CHECK_MSG(wrong == 0, "%lld of %lld elements not computed", (long long)wrong, (long long)(M * N));
    lf_free(A);
    lf_free(B);
    lf_free(C);
#endif
}
