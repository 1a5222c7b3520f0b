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
#include "../../core/internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(LF_DOUBLE)
#include "transpose16_avx512.h"
#include <immintrin.h>
#include <stdatomic.h>

#define MR LF_GEMM512_MR
#define NR LF_GEMM512_NR /* three 16-float vectors: 24 accumulators, 3 loads + 8 broadcasts per k */
#define KC LF_GEMM512_KC
#ifndef MC
#define MC 128
#endif
#ifndef NC
#define NC 1536
#endif

/* A block, B block, one C tile */
/* Plain products (nothing pre-packed) may take K in blocks of up to KC_MAX: balanced blocks
 * (K = 256 as one block, not 192 + 64, K = 1024 as 4 x 256): each block reloads and stores
 * every C tile once, and a short last block pays that for little work (bench/NOTES.md 33).
 * Pre-packed operands keep KC, the layout their producers wrote. */
#define KC_MAX 256
static int64_t k_block(int64_t K)
{
    const int64_t n = (K + KC_MAX - 1) / KC_MAX;
    return (K + n - 1) / n;
}

size_t lf_gemm512_pack_floats(void)
{
    return (size_t)MC * KC_MAX + (size_t)KC_MAX * (NC + NR) + MR * NR;
}

static int cpu_detect(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

int lf_cpu_avx512f(void)
{
    static atomic_int cached = -1;
    return lf_cached(&cached, cpu_detect);
}

static int detect(void)
{
    const char *e = getenv("LF_GEMM");
    if (e && !strcmp(e, "blas")) return 0;
    return lf_cpu_avx512f();
}

int lf_gemm512_available(void)
{
    static atomic_int cached = -1;
    return lf_cached(&cached, detect);
}

/* everything on this path runs only where AVX-512 does: packing and driver too */
#define AVX512_FN __attribute__((target("avx512f"), optimize("O3")))

/* Runs of consecutive columns c0..c0+n-1 of a layout that stay inside one block of L: column
 * j of the run starts at offset off (from p, row 0). One run when L is 0. */
typedef struct col_run {
    int j, len;
    int64_t off;
} col_run;

static int col_runs(const lf_gemm_mat *m, int64_t c0, int n, col_run *out)
{
    if (!m->L) {
        out[0] = (col_run){0, n, c0};
        return 1;
    }
    int cnt = 0;
    int64_t q = c0 / m->L, rem = c0 % m->L;
    for (int j = 0; j < n;) {
        int len = (int)(m->L - rem < n - j ? m->L - rem : n - j);
        out[cnt++] = (col_run){j, len, q * m->S + rem};
        j += len;
        q++;
        rem = 0;
    }
    return cnt;
}

/* d[0:n] = s[0:n] (n <= NR) with masked vector moves: libc's memcpy costs more than the
 * copy on runs this short */
AVX512_FN static inline void copy_run(float *restrict d, const float *restrict s, int n)
{
    for (int x = 0; x < n; x += 16) {
        const __mmask16 m = n - x >= 16 ? 0xFFFF : (__mmask16)((1u << (n - x)) - 1);
        _mm512_mask_storeu_ps(d + x, m, _mm512_maskz_loadu_ps(m, s + x));
    }
}

/* d[0:n] = s[0:n] + beta d[0:n] (d not read when beta is 0) */
AVX512_FN static inline void update_run(float *restrict d, const float *restrict s, int n,
                                        float beta)
{
    const __m512 vb = _mm512_set1_ps(beta);
    for (int x = 0; x < n; x += 16) {
        const __mmask16 m = n - x >= 16 ? 0xFFFF : (__mmask16)((1u << (n - x)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, s + x);
        if (beta != 0) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, d + x), v);
        _mm512_mask_storeu_ps(d + x, m, v);
    }
}

/* offset of layout column c from p (row 0) */
static inline int64_t col_off(const lf_gemm_mat *m, int64_t c)
{
    return m->L ? (c / m->L) * m->S + c % m->L : c;
}

/* 8 x 8 floats transposed in registers: r[i] holds row i on entry, column i on return */
AVX512_FN static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 8; g += 4) {
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* op(A) rows i0..i0+mc-1, columns k0..k0+kc-1 -> MR-row panels, ap[k * MR + r] */
AVX512_FN static void pack_a(const lf_gemm_mat *A, int64_t i0, int64_t mc, int64_t k0,
                             int64_t kc, float *restrict ap)
{
    const float *p = A->p;
    for (int64_t ir = 0; ir < mc; ir += MR) {
        const int mr = (int)(mc - ir < MR ? mc - ir : MR);
        if (mr == MR && A->L == 0) {
            /* full panels of a plain layout (linear layers, attention): whole vectors.
             * Transposed: the panel's 8 values of one k are contiguous; else 8 x 8 blocks are
             * transposed in registers */
            int64_t k = 0;
            if (A->t) {
                for (; k < kc; k++)
                    _mm256_storeu_ps(ap + k * MR, _mm256_loadu_ps(p + (k0 + k) * A->ld + i0 + ir));
            } else {
                const float *rows = p + (i0 + ir) * A->ld + k0;
                for (; k + 8 <= kc; k += 8) {
                    __m256 r[8];
                    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows + i * A->ld + k);
                    transpose8(r);
                    for (int i = 0; i < 8; i++) _mm256_storeu_ps(ap + (k + i) * MR, r[i]);
                }
                for (; k < kc; k++)
                    for (int r = 0; r < MR; r++) ap[k * MR + r] = rows[r * A->ld + k];
            }
        } else if (A->t) { /* element (i, k) is layout (k, i): the panel's rows are columns there */
            int64_t off[MR];
            for (int r = 0; r < mr; r++) off[r] = col_off(A, i0 + ir + r);
            for (int64_t k = 0; k < kc; k++) {
                const float *row = p + (k0 + k) * A->ld;
                float *d = ap + k * MR;
                for (int r = 0; r < mr; r++) d[r] = row[off[r]];
                for (int r = mr; r < MR; r++) d[r] = 0;
            }
        } else {
            const float *rows = p + (i0 + ir) * A->ld;
            int64_t q = A->L ? k0 / A->L : 0, rem = A->L ? k0 % A->L : k0;
            for (int64_t k = 0; k < kc; k++) {
                const float *s = rows + (A->L ? q * A->S + rem : rem);
                float *d = ap + k * MR;
                for (int r = 0; r < mr; r++) d[r] = s[r * A->ld];
                for (int r = mr; r < MR; r++) d[r] = 0;
                if (++rem == A->L) rem = 0, q++;
            }
        }
        ap += kc * MR;
    }
}

/* Columns 0..15 of the panel at d (d[k * NR + i]) from a transposed B, where they are rows:
 * row[i] is column i's row, nj of them (the rest are written as zeros: the panel's padding).
 * Each run along k goes 16 k at a time: one vector read per row and one written per k, where
 * an element-wise copy writes one float per k and row, NR floats apart. A run's last block
 * is masked, so a run of any length (from any offset) reads nothing past its end. Stores
 * are aligned: the panels are, and NR is a multiple of 16. */
AVX512_FN static void pack_bt16(const float *const row[16], int nj, const col_run *runs,
                                int n_runs, float *restrict d)
{
    for (int u = 0; u < n_runs; u++)
        for (int t = 0; t < runs[u].len; t += 16) {
            const int n = runs[u].len - t < 16 ? runs[u].len - t : 16;
            const __mmask16 m = n == 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_maskz_loadu_ps(i < nj ? m : 0, row[i] + runs[u].off + t);
            lf_transpose16(r);
            float *dk = d + (int64_t)(runs[u].j + t) * NR;
            if (n == 16) /* a loop of its own: constant indices keep r in registers */
                for (int x = 0; x < 16; x++) _mm512_store_ps(dk + x * NR, r[x]);
            else
                for (int x = 0; x < n; x++) _mm512_store_ps(dk + x * NR, r[x]);
        }
}

/* One panel (nr columns from j, kc k in runs) of a transposed B: element (k, j) is layout
 * (j, k), so the panel is built from 16 x 16 blocks transposed in registers */
AVX512_FN static void pack_bt_panel(const lf_gemm_mat *B, int64_t j, int nr, int64_t kc,
                                    const col_run *runs, int n_runs, float *restrict bp)
{
    for (int jb = 0; jb < NR; jb += 16) {
        if (jb >= nr) { /* 16 columns of padding */
            const __m512 z = _mm512_setzero_ps();
            for (int64_t k = 0; k < kc; k++) _mm512_store_ps(bp + k * NR + jb, z);
            continue;
        }
        const int nj = nr - jb < 16 ? nr - jb : 16;
        const float *row[16];
        for (int i = 0; i < 16; i++) /* rows past nr: not read (masked), but a valid address */
            row[i] = B->p + (j + jb + (i < nj ? i : 0)) * B->ld;
        pack_bt16(row, nj, runs, n_runs, bp + jb);
    }
}

/* op(B) rows k0..k0+kc-1, columns j0..j0+nc-1 -> NR-column panels, bp[k * NR + j] */
AVX512_FN static void pack_b(const lf_gemm_mat *B, int64_t k0, int64_t kc, int64_t j0,
                             int64_t nc, float *restrict bp)
{
    col_run runs[KC_MAX > NR ? KC_MAX : NR];
    int n_k_runs = 0;
    if (B->t) n_k_runs = col_runs(B, k0, (int)kc, runs); /* along k */
    for (int64_t jr = 0; jr < nc; jr += NR) {
        const int nr = (int)(nc - jr < NR ? nc - jr : NR);
        if (B->t) {
            pack_bt_panel(B, j0 + jr, nr, kc, runs, n_k_runs, bp);
        } else {
            col_run jr_runs[NR];
            const int n = col_runs(B, j0 + jr, nr, jr_runs);
            for (int64_t k = 0; k < kc; k++) {
                const float *row = B->p + (k0 + k) * B->ld;
                float *d = bp + k * NR;
                for (int u = 0; u < n; u++)
                    copy_run(d + jr_runs[u].j, row + jr_runs[u].off, jr_runs[u].len);
                for (int x = nr; x < NR; x++) d[x] = 0;
            }
        }
        bp += kc * NR;
    }
}

/* The MR x NR tile of A panel x B panel. c != NULL: C[0:mr, 0:nr] = alpha acc + beta C
 * (C not read when beta is 0); c == NULL: tile[r * NR + j] = alpha acc, for the caller to
 * scatter. */
AVX512_FN static void kernel(int64_t kc, const float *restrict a, const float *restrict b,
                             float *c, int64_t ldc, int mr, int nr, float alpha, float beta,
                             float *restrict tile)
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
    const __m512 va = _mm512_set1_ps(alpha);
    __m512 rows[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32},
                          {c40, c41, c42}, {c50, c51, c52}, {c60, c61, c62}, {c70, c71, c72}};
    if (!c) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < 3; v++)
                _mm512_store_ps(tile + r * NR + 16 * v, _mm512_mul_ps(va, rows[r][v]));
        return;
    }
    const __mmask16 m[3] = {
        nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1),
        nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1),
        nr >= 48 ? 0xFFFF : nr <= 32 ? 0 : (__mmask16)((1u << (nr - 32)) - 1)};
    const __m512 vb = _mm512_set1_ps(beta);
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

/* C tile at (i0, j0): straight from the registers when its columns are contiguous (plain
 * C, or inside one block of L), else through a tile buffer scattered by runs */
AVX512_FN static void tile_store(const lf_gemm_mat *C, int64_t i0, int64_t j0, int mr, int nr,
                                 int64_t kc, const float *a, const float *b, float alpha,
                                 float beta, float *tile)
{
    if (!C->L || j0 % C->L + nr <= C->L) {
        kernel(kc, a, b, C->p + i0 * C->ld + col_off(C, j0), C->ld, mr, nr, alpha, beta, NULL);
        return;
    }
    kernel(kc, a, b, NULL, 0, mr, nr, alpha, beta, tile);
    col_run runs[NR];
    const int n = col_runs(C, j0, nr, runs);
    for (int r = 0; r < mr; r++) {
        float *cr = C->p + (i0 + r) * C->ld;
        const float *t = tile + r * NR;
        for (int u = 0; u < n; u++) update_run(cr + runs[u].off, t + runs[u].j, runs[u].len, beta);
    }
}

size_t lf_gemm512_packed_a_floats(int64_t M, int64_t K)
{
    return (size_t)((M + MR - 1) / MR * MR) * (size_t)K;
}

/* Block (ic, pc) of a pre-packed A starts at pc * Mpad + ic * kc: the KC-blocks of K one
 * after the other, each holding its MC-blocks of rows (MC is a multiple of MR). */
AVX512_FN void lf_gemm512_pack_a(int64_t M, int64_t K, const lf_gemm_mat *A, float *dst)
{
    const int64_t Mpad = (M + MR - 1) / MR * MR;
    for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = K - pc < KC ? K - pc : KC;
        for (int64_t ic = 0; ic < M; ic += MC)
            pack_a(A, ic, M - ic < MC ? M - ic : MC, pc, kc, dst + pc * Mpad + ic * kc);
    }
}

/* The driver of lf_gemm512x and lf_gemm512x_bp: B from the layout B, or already packed
 * whole at b_packed (lf_gemm512_packed_b_offset) */
AVX512_FN static void gemm_driver(int64_t M, int64_t N, int64_t K, float alpha,
                                  const lf_gemm_mat *A, const float *a_packed,
                                  const lf_gemm_mat *B, const float *b_packed, float beta,
                                  const lf_gemm_mat *C, float *pack, const lf_gemm512_epilogue *epi)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta C, as BLAS */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                float *c = C->p + i * C->ld + col_off(C, j);
                *c = beta == 0 ? 0 : beta * *c;
            }
        return;
    }
    /* 64-byte aligned panels inside the caller's buffer (lf_gemm512_pack_floats + 16) */
    float *ap = (float *)(((uintptr_t)pack + 63) & ~(uintptr_t)63);
    float *bp = ap + (size_t)MC * KC_MAX;
    float *tile = bp + (size_t)KC_MAX * (NC + NR);
    const int64_t KB = a_packed || b_packed ? KC : k_block(K);
    for (int64_t jc = 0; jc < N; jc += NC) {
        const int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KB) {
            const int64_t kc = K - pc < KB ? K - pc : KB;
            const float be = pc == 0 ? beta : 1;
            if (b_packed)
                bp = (float *)b_packed + lf_gemm512_packed_b_offset(K, N, pc, jc);
            else
                pack_b(B, pc, kc, jc, nc, bp);
            for (int64_t ic = 0; ic < M; ic += MC) {
                const int64_t mc = M - ic < MC ? M - ic : MC;
                const float *apan = ap;
                if (a_packed)
                    apan = a_packed + pc * ((M + MR - 1) / MR * MR) + ic * kc;
                else
                    pack_a(A, ic, mc, pc, kc, ap);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int nr = (int)(nc - jr < NR ? nc - jr : NR);
                    const float *bpan = bp + (jr / NR) * kc * NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int mr = (int)(mc - ir < MR ? mc - ir : MR);
                        tile_store(C, ic + ir, jc + jr, mr, nr, kc, apan + (ir / MR) * kc * MR,
                                   bpan, alpha, be, tile);
                    }
                }
                if (epi && pc + kc >= K) /* this block of C is final */
                    epi->fn(C->p + ic * C->ld + jc, C->ld, mc, nc, epi->col_base + jc, epi->ctx);
            }
        }
    }
}

AVX512_FN void lf_gemm512x(int64_t M, int64_t N, int64_t K, float alpha, const lf_gemm_mat *A,
                           const float *a_packed, const lf_gemm_mat *B, float beta,
                           const lf_gemm_mat *C, float *pack)
{
    gemm_driver(M, N, K, alpha, A, a_packed, B, NULL, beta, C, pack, NULL);
}

AVX512_FN void lf_gemm512x_bp(int64_t M, int64_t N, int64_t K, float alpha,
                              const lf_gemm_mat *A, const float *a_packed,
                              const float *b_packed, float beta, const lf_gemm_mat *C,
                              float *pack)
{
    gemm_driver(M, N, K, alpha, A, a_packed, NULL, b_packed, beta, C, pack, NULL);
}

void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *pack)
{
    lf_gemm_mat a = {(float *)A, lda, 0, 0, ta};
    lf_gemm_mat b = {(float *)B, ldb, 0, 0, tb};
    lf_gemm_mat c = {C, ldc, 0, 0, false};
    lf_gemm512x(M, N, K, alpha, &a, NULL, &b, beta, &c, pack);
}

AVX512_FN void lf_gemm512_epi(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                              const float *A, int64_t lda, const float *B, int64_t ldb,
                              float beta, float *C, int64_t ldc, float *pack,
                              const lf_gemm512_epilogue *epi)
{
    lf_gemm_mat a = {(float *)A, lda, 0, 0, ta};
    lf_gemm_mat b = {(float *)B, ldb, 0, 0, tb};
    lf_gemm_mat c = {C, ldc, 0, 0, false};
    gemm_driver(M, N, K, alpha, &a, NULL, &b, NULL, beta, &c, pack, epi);
}

#else /* no AVX-512 path in this build: callers use BLAS */

size_t lf_gemm512_pack_floats(void) { return 0; }
int lf_cpu_avx512f(void) { return 0; }
int lf_gemm512_available(void) { return 0; }
void lf_gemm512x(int64_t M, int64_t N, int64_t K, float alpha, const lf_gemm_mat *A,
                 const float *a_packed, const lf_gemm_mat *B, float beta, const lf_gemm_mat *C,
                 float *pack)
{
    (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)a_packed, (void)B, (void)beta;
    (void)C, (void)pack;
}
size_t lf_gemm512_packed_a_floats(int64_t M, int64_t K)
{
    (void)M, (void)K;
    return 0;
}
void lf_gemm512_pack_a(int64_t M, int64_t K, const lf_gemm_mat *A, float *dst)
{
    (void)M, (void)K, (void)A, (void)dst;
}
void lf_gemm512x_bp(int64_t M, int64_t N, int64_t K, float alpha, const lf_gemm_mat *A,
                    const float *a_packed, const float *b_packed, float beta,
                    const lf_gemm_mat *C, float *pack)
{
    (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)a_packed, (void)b_packed;
    (void)beta, (void)C, (void)pack;
}

void lf_gemm512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                float *pack)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)pack;
}
void lf_gemm512_epi(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                    float *C, int64_t ldc, float *pack, const lf_gemm512_epilogue *epi)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)pack, (void)epi;
}

#endif
