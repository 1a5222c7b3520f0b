/* Atomic file replacement: write a temporary next to the target, make it durable (fsync),
 * rename it over the target (atomic on POSIX file systems), then fsync the directory so the
 * rename itself survives a crash. A reader sees either the old file or the new one. A writer
 * killed mid-write leaves its temporary "<path>.tmp.<host>.<pid>"; the next write to the same
 * path on the same host removes those whose process is gone (a writer on another host, or in
 * another container's pid space with another host name, is left alone). */
#include "io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void host_name(char *buf, size_t n)
{
    if (gethostname(buf, n - 1) != 0) snprintf(buf, n, "host");
    buf[n - 1] = 0;
    for (char *c = buf; *c; c++)
        if (*c == '/') *c = '_';
}

/* Unlinks "<path>.tmp.<host>.<pid>" files next to path written on this host by a process
 * that no longer runs. */
static void remove_stale_temps(const char *path, const char *host)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dl = slash ? (size_t)(slash - path) : 0, bl = strlen(base), hl = strlen(host);
    if (!bl) return; /* a directory path: nothing of ours to match */
    char *dir = lf_malloc(dl + 2);
    if (!dir) return;
    if (slash) {
        memcpy(dir, path, dl ? dl : 1); /* "/x": the root */
        dir[dl ? dl : 1] = 0;
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            if (strncmp(n, base, bl) || strncmp(n + bl, ".tmp.", 5)) continue;
            const char *h = n + bl + 5;
            if (strncmp(h, host, hl) || h[hl] != '.') continue;
            const char *digits = h + hl + 1;
            char *end;
            long pid = strtol(digits, &end, 10);
            if (end == digits || *end || pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or unknown */
            size_t fl = strlen(dir) + strlen(n) + 2;
            char *full = lf_malloc(fl);
            if (!full) break;
            snprintf(full, fl, "%s/%s", dir, n);
            unlink(full);
            lf_free(full);
        }
        closedir(d);
    }
    lf_free(dir);
}

lf_status lf_atomic_begin(lf_atomic_file *a, const char *path)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path) return lf_error(LF_ERR_ARG, "write: empty path");
    size_t n = strlen(path);
    a->path = lf_malloc(n + 1);
    char host[72];
    host_name(host, sizeof host);
    a->tmp = lf_malloc(n + sizeof host + 32);
    if (!a->path || !a->tmp) {
        lf_free(a->path);
        lf_free(a->tmp);
        return LF_ERR_NOMEM;
    }
    memcpy(a->path, path, n + 1);
    remove_stale_temps(path, host);
    snprintf(a->tmp, n + sizeof host + 32, "%s.tmp.%s.%ld", path, host, (long)getpid());
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
