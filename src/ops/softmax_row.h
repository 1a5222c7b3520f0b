/* The softmax's backward on one row, shared by the attention ops (src/ops/attention.c,
 * src/ops/self_attention.c): with P a row of probabilities and dP the gradient reaching it,
 * dS = P * (dP - sum_j dP_j P_j), written over dP. The dot product sums in double. */
#ifndef LF_SOFTMAX_ROW_H
#define LF_SOFTMAX_ROW_H

#include "../core/internal.h"

static inline void lf_softmax_backward_row(lf_real *dp, const lf_real *p, int64_t n)
{
    double dot = 0;
    for (int64_t j = 0; j < n; j++) dot += (double)dp[j] * p[j];
    for (int64_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - (lf_real)dot);
}

#endif
