/* Shared by the file formats in src/io/: atomic writes and dtype helpers. */
#ifndef LF_IO_INTERNAL_H
#define LF_IO_INTERNAL_H

#include "core/internal.h"

#include <stdio.h>

#define LF_ST_MAX_DIMS (LF_MAX_DIMS + 3)
#ifdef LF_DOUBLE
#define LF_REAL_DTYPE LF_DTYPE_F64
#else
#define LF_REAL_DTYPE LF_DTYPE_F32
#endif

/* A file written to "<path>.tmp.<host>.<pid>" and renamed over path by lf_atomic_commit. */
typedef struct lf_atomic_file {
    FILE *fp;
    char *path;
    char *tmp;
} lf_atomic_file;

lf_status lf_atomic_begin(lf_atomic_file *a, const char *path);
/* fwrite; LF_ERR_IO naming the path on a short write */
lf_status lf_atomic_write(lf_atomic_file *a, const void *buf, size_t n);
/* fflush, fsync, close, rename, fsync the directory; removes the temporary on failure. */
lf_status lf_atomic_commit(lf_atomic_file *a);
void lf_atomic_abort(lf_atomic_file *a); /* close and remove the temporary */

/* The header of a .npy file (format 1.0-3.0), as numpy writes it. */
typedef struct npy_info {
    char descr[16]; /* e.g. "<f4", "|u1" */
    int fortran;
    int ndim;
    int64_t shape[8];
} npy_info;

/* Reads and checks the magic and header dict from fp (at the start of the file); leaves fp
 * at the data. Fortran-order arrays are rejected (LF_ERR_UNSUPPORTED). Errors name path. */
lf_status lf_npy_read_header(FILE *fp, const char *path, npy_info *info);

size_t lf_dtype_size(lf_dtype d);
int lf_dtype_parse(const char *s, lf_dtype *d); /* 1 when known */
float lf_half_to_float(uint16_t h);
float lf_bf16_to_float(uint16_t h);

#endif
