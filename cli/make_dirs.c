/* Output folders: `--out runs/x` works on a fresh checkout, as `mkdir -p` would. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cli_make_dirs(const char *cmd, const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        fprintf(stderr, "labelfree %s: output folder '%s': empty or too long\n", cmd, path);
        return 1;
    }
    memcpy(buf, path, n + 1);
    /* each parent in turn (an existing one is fine), then the folder itself */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i - 1] == '/') continue; /* "a//b" */
        char c = buf[i];
        buf[i] = '\0';
        struct stat sb;
        if (mkdir(buf, 0755) != 0 && !(errno == EEXIST && stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            fprintf(stderr, "labelfree %s: cannot create %s: %s\n", cmd, buf,
                    errno == EEXIST ? "exists and is not a folder" : strerror(errno));
            return 1;
        }
        buf[i] = c;
    }
    return 0;
}
