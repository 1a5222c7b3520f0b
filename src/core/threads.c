/* One thread budget shared by OpenBLAS and the engine's OpenMP loops. BLAS runs either
 * outside parallel regions or single-threaded inside one (the batch-parallel convolution,
 * src/backend/cpu/conv_cpu.c), so n threads is n busy cores. */
#include "labelfree.h"

#include <omp.h>

void openblas_set_num_threads(int n); /* from libopenblas; not in cblas.h on every distro */

static int n_threads = 0;

void lf_set_threads(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    /* never above OMP_THREAD_LIMIT: OpenBLAS's OpenMP build would wait forever for the
     * threads its regions cannot get */
    if (n > omp_get_thread_limit()) n = omp_get_thread_limit();
    n_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int lf_get_threads(void)
{
    /* what a region can get: never above OMP_THREAD_LIMIT (omp_get_max_threads ignores it) */
    int n = n_threads > 0 ? n_threads : omp_get_max_threads(), lim = omp_get_thread_limit();
    return n < lim ? n : lim;
}
