/* Exact search: scores of a block of queries against a block of stored vectors come from one
 * sgemm (queries x block^T), then each query's heap takes its row. Blocks bound the scratch
 * memory (QB x XB floats) and keep the block of stored vectors in cache for all queries. */
#include "index_internal.h"

#include <cblas.h>
#include <math.h>

enum { QB = 256, XB = 4096 };

lf_status lf_flat_search(const float *x, int64_t n, int64_t d, const float *q, int64_t nq,
                         int k, int64_t *ids, float *scores)
{
    if (k < 1) return lf_error(LF_ERR_ARG, "index search: k = %d must be >= 1", k);
    int64_t qb = nq < QB ? nq : QB;
    int64_t xb = n < XB ? n : XB;
    float *S = lf_malloc(sizeof(float) * (size_t)(qb * (xb ? xb : 1)));
    float *hs = lf_malloc(sizeof(float) * (size_t)(qb * k));
    int64_t *hi = lf_malloc(sizeof(int64_t) * (size_t)(qb * k));
    lf_topk *heaps = lf_malloc(sizeof(lf_topk) * (size_t)qb);
    if (!S || !hs || !hi || !heaps) {
        lf_free(S); lf_free(hs); lf_free(hi); lf_free(heaps);
        return lf_error(LF_ERR_NOMEM, "index search: scratch for %lld queries", (long long)qb);
    }
    for (int64_t q0 = 0; q0 < nq; q0 += qb) {
        int64_t m = nq - q0 < qb ? nq - q0 : qb;
        for (int64_t i = 0; i < m; i++)
            heaps[i] = (lf_topk){k, 0, hs + i * k, hi + i * k};
        for (int64_t x0 = 0; x0 < n; x0 += xb) {
            int64_t b = n - x0 < xb ? n - x0 : xb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)b, (int)d, 1.0f,
                        q + q0 * d, (int)d, x + x0 * d, (int)d, 0.0f, S, (int)b);
#pragma omp parallel for schedule(static) if (m > 1)
            for (int64_t i = 0; i < m; i++) {
                lf_topk *h = &heaps[i];
                const float *row = S + i * b;
                for (int64_t j = 0; j < b; j++) {
                    /* cheap reject before the heap once it is full */
                    if (h->n == h->k && row[j] < h->score[0]) continue;
                    lf_topk_push(h, row[j], x0 + j);
                }
            }
        }
        for (int64_t i = 0; i < m; i++)
            lf_topk_finish(&heaps[i], ids + (q0 + i) * k, scores + (q0 + i) * k);
    }
    lf_free(S); lf_free(hs); lf_free(hi); lf_free(heaps);
    return LF_OK;
}
