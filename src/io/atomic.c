/* Atomic file replacement: write a temporary next to the target, make it durable (fsync),
 * rename it over the target (atomic on POSIX file systems), then fsync the directory so the
 * rename itself survives a crash. A reader sees either the old file or the new one. */
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

lf_status lf_atomic_begin(lf_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path) return lf_error(LF_ERR_ARG, "write: empty path");
    size_t n = strlen(path);
    a->path = lf_malloc(n + 1);
    a->tmp = lf_malloc(n + 32);
    if (!a->path || !a->tmp) {
        lf_free(a->path);
        lf_free(a->tmp);
        return LF_ERR_NOMEM;
    }
    memcpy(a->path, path, n + 1);
    snprintf(a->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    a->fp = fopen(a->tmp, "wb");
    if (!a->fp) {
        lf_status s = lf_error(LF_ERR_IO, "%s: cannot create temporary file %s: %s", path, a->tmp,
                               strerror(errno));
        lf_free(a->path);
        lf_free(a->tmp);
        a->path = a->tmp = NULL;
        return s;
    }
    return LF_OK;
}

lf_status lf_atomic_write(lf_atomic_file *a, const void *buf, size_t n)
{
    if (n && fwrite(buf, 1, n, a->fp) != n)
        return lf_error(LF_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    return LF_OK;
}

static void release(lf_atomic_file *a)
{
    lf_free(a->path);
    lf_free(a->tmp);
    a->path = a->tmp = NULL;
    a->fp = NULL;
}

void lf_atomic_abort(lf_atomic_file *a)
{
    if (a->fp) fclose(a->fp);
    if (a->tmp) unlink(a->tmp);
    release(a);
}

static void fsync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
}

lf_status lf_atomic_commit(lf_atomic_file *a)
{
    const char *why = NULL;
    if (fflush(a->fp) != 0) why = "flush";
    else if (fsync(fileno(a->fp)) != 0) why = "fsync";
    int err = errno;
    if (fclose(a->fp) != 0 && !why) {
        why = "close";
        err = errno;
    }
    a->fp = NULL;
    if (!why && rename(a->tmp, a->path) != 0) {
        why = "rename";
        err = errno;
    }
    if (why) {
        lf_status s = lf_error(LF_ERR_IO, "%s: %s of %s failed: %s", a->path, why, a->tmp,
                               strerror(err));
        unlink(a->tmp);
        release(a);
        return s;
    }
    fsync_dir(a->path);
    release(a);
    return LF_OK;
}
