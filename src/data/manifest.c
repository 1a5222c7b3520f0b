/* Manifest helpers shared by the image and pair readers (see manifest.h). */
#include "data/manifest.h"

#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

lf_status lf_manifest_columns(const lf_csv *csv, const char *path, const char *const *names,
                              int n, int *col)
{
    for (int k = 0; k < n; k++) col[k] = -1;
    for (int j = 0; csv->n_rec > 0 && j < csv->rec_count[0]; j++) {
        char h[64];
        snprintf(h, sizeof h, "%s", lf_csv_get(csv, 0, j));
        for (char *p = h; *p; p++) *p = (char)tolower((unsigned char)*p);
        for (int k = 0; k < n; k++) {
            if (strcmp(h, names[k])) continue;
            if (col[k] >= 0)
                return lf_error(LF_ERR_FORMAT, "%s line 1: column '%s' appears twice", path,
                                names[k]);
            col[k] = j;
        }
    }
    return LF_OK;
}

int lf_manifest_split(const char *s)
{
    if (!strcasecmp(s, "train")) return LF_SPLIT_TRAIN;
    if (!strcasecmp(s, "val") || !strcasecmp(s, "valid") || !strcasecmp(s, "validation"))
        return LF_SPLIT_VAL;
    if (!strcasecmp(s, "test")) return LF_SPLIT_TEST;
    return -2;
}

void lf_manifest_dir(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
}

void lf_manifest_resolve(const char *dir, const char *rel, char *full, size_t size)
{
    if (rel[0] == '/') snprintf(full, size, "%s", rel);
    else snprintf(full, size, "%s%s", dir, rel);
}

lf_status lf_manifest_existing_file(const char *dir, const char *rel, const char *path, int line,
                                    char *full, size_t size)
{
    lf_manifest_resolve(dir, rel, full, size);
    struct stat sb;
    const int rc = stat(full, &sb);
    if (rc != 0 || !S_ISREG(sb.st_mode))
        return lf_error(LF_ERR_IO, "%s line %d: image '%s' not found (looked for %s: %s)", path,
                        line, rel, full, rc ? strerror(errno) : "not a regular file");
    return LF_OK;
}
