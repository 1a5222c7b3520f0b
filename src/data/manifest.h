/* Pieces shared by the manifest readers (src/data/dataset.c: images; src/ssl/pairs.c:
 * molecule-image pairs): header columns, the split column, paths relative to the manifest.
 * Not public. */
#ifndef LF_DATA_MANIFEST_H
#define LF_DATA_MANIFEST_H

#include "data/csv.h"

#include <stddef.h>

/* col[k] = the header column named names[k] (case-insensitive), or -1. Error naming path
 * when a name appears twice. */
lf_status lf_manifest_columns(const lf_csv *csv, const char *path, const char *const *names,
                              int n, int *col);
/* "train", "val"/"valid"/"validation", "test" (any case) -> LF_SPLIT_*; else -2 */
int lf_manifest_split(const char *s);
/* The manifest's folder with a trailing '/', or "" when path has none. */
void lf_manifest_dir(const char *path, char *dir, size_t size);
/* full = rel, or dir + rel for a relative rel */
void lf_manifest_resolve(const char *dir, const char *rel, char *full, size_t size);
/* lf_manifest_resolve, then checks that full is a regular file; the error names the manifest
 * path, its line and both paths. */
lf_status lf_manifest_existing_file(const char *dir, const char *rel, const char *path, int line,
                                    char *full, size_t size);

#endif
