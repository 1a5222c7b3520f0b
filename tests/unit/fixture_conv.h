/* A small reader for the conv/pool parity fixtures written by tests/parity/gen_conv.py
 * (format described there). Kept apart from the general fixture loader on purpose. */
#ifndef LF_FIXTURE_CONV_H
#define LF_FIXTURE_CONV_H

#include "labelfree.h"

#define FXCONV_MAX_ARRAYS 12

typedef struct fxconv_array {
    char name[16];
    int ndim;
    int64_t shape[LF_MAX_DIMS];
    int64_t n;
    float *data; /* points into the file's blob */
} fxconv_array;

typedef struct fxconv_file {
    char kind[16];   /* first meta word: "conv" or "pool" */
    int nmeta;
    long meta[32];   /* the integers after it */
    int narr;
    fxconv_array arr[FXCONV_MAX_ARRAYS];
    void *blob;
} fxconv_file;

/* 0 on success; -1 with a message in err on failure. */
int fxconv_load(const char *path, fxconv_file *f, char *err, size_t errsize);
/* Loads dir/name when its kind is `kind` with at least min_meta integers: 1. Another kind:
 * 0, nothing held. Unreadable: -1 with a message in err. */
int fxconv_load_kind(const char *dir, const char *name, const char *kind, int min_meta,
                     fxconv_file *f, char *err, size_t errsize);
const fxconv_array *fxconv_get(const fxconv_file *f, const char *name);
void fxconv_free(fxconv_file *f);
/* Fixture file names in dir ending in .bin, sorted; returns the count (at most max). */
int fxconv_list(const char *dir, char names[][64], int max);
/* Max |a - b| and whether every |a - b| <= rtol * max(1, |b|). */
double fxconv_compare(const lf_real *a, const float *b, int64_t n, double rtol, int *ok);

#endif
