/* Kernels shared by the contrastive losses (src/ssl/). Not public. */
#ifndef LF_SSL_INTERNAL_H
#define LF_SSL_INTERNAL_H

#include "core/internal.h"

/* U = X / |X| row-wise, norm[i] = |X_i| clamped below at 1e-12 (F.normalize's eps). */
void lf_ssl_normalize_rows(const lf_real *X, int64_t N, int64_t D, lf_real *U, lf_real *norm);
/* dX += (dU - U (U . dU)) / norm, row-wise: the backward of lf_ssl_normalize_rows. Rows whose
 * norm was clamped still get the projection, so their gradient differs from PyTorch's
 * (du / eps) for inputs with norm below 1e-12. */
void lf_ssl_normalize_rows_backward(const lf_real *U, const lf_real *norm, const lf_real *dU,
                                    int64_t N, int64_t D, lf_real *dX);

#endif
