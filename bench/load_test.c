/* Load test for `labelfree serve` on loopback: N requests over K threads (one connection per
 * request, HTTP/1.0-style close), bounded in count and in time. A fraction of the requests is
 * malformed (invalid SMILES, bad ids, path traversal, garbage request lines); every response
 * must have the status expected for its request, else it counts as a failure.
 * Reports throughput and p50/p99 latency (valid and malformed separately).
 *   cc -O2 -o build/load_test bench/load_test.c -lpthread
 *   build/load_test --port 8080 [--requests 5000] [--threads 8] [--bad 0.3] [--seconds 60]
 *                   [--smiles-file list.txt] */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

typedef struct { const char *req; int want; } kind;
static const char *GOOD_SMILES[] = {"CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CN1CCC%5BC@H%5D1c1cccnc1",
                                    "O%3DC(O)c1ccccc1", "CCN(CC)CC", "C1CCCCC1", "Nc1ccc(cc1)S(N)(%3DO)%3DO"};
static const kind BAD[] = {
    {"GET /api/query?smiles=C1CC( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
    {"GET /api/query?smiles=%5BXx%5D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
    {"GET /api/item/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400},
    {"GET /api/item/999999999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
    {"GET /files/../index.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 403},
    {"GET /files/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 403},
    {"POST /api/query/image HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\nnot an image", 400},
    {"GET / HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n", 400},   /* header without ':' */
    {"GET /api/info HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n", 505},
    {"BLAH\r\n\r\n", 0}, /* not HTTP at all: a 4xx or the connection closed unanswered */
};
enum { NBAD = sizeof BAD / sizeof BAD[0], NGOOD = sizeof GOOD_SMILES / sizeof GOOD_SMILES[0] };

static int port = 8080, threads = 8;
static long total = 5000;
static double bad_frac = 0.3, max_seconds = 60;
static atomic_long next_req, failures, done_good, done_bad;
static double *lat_good, *lat_bad;
static double t_start;

/* one request on a fresh connection; returns the HTTP status or -1 */
static int one(const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int status = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        size_t n = strlen(req), off = 0;
        while (off < n) {
            ssize_t w = write(fd, req + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        char buf[8192];
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
            got += (size_t)r;
            if (got >= sizeof buf - 1) got = 64; /* keep the status line, drain the rest */
        }
        buf[got] = 0;
        if (got > 12 && !strncmp(buf, "HTTP/1.", 7)) status = atoi(buf + 9);
    }
    close(fd);
    return status;
}

static void *worker(void *arg)
{
    (void)arg;
    char req[512];
    for (;;) {
        long i = atomic_fetch_add(&next_req, 1);
        if (i >= total || now() - t_start > max_seconds) break;
        /* deterministic mix: request i is malformed when its hash falls under bad_frac */
        unsigned h = (unsigned)(i * 2654435761u);
        int is_bad = (h % 1000) < (unsigned)(bad_frac * 1000);
        const char *r;
        int want;
        if (is_bad) {
            r = BAD[(h >> 10) % NBAD].req;
            want = BAD[(h >> 10) % NBAD].want;
        } else {
            snprintf(req, sizeof req, "GET /api/query?smiles=%s&k=10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     GOOD_SMILES[(h >> 10) % NGOOD]);
            r = req;
            want = 200;
        }
        double t0 = now();
        int st = one(r);
        double dt = now() - t0;
        int ok = want ? st == want : (st == -1 || (st >= 400 && st < 500));
        if (!ok) {
            long f = atomic_fetch_add(&failures, 1);
            if (f < 5) fprintf(stderr, "request %ld: status %d, expected %d: %.60s\n", i, st, want, r);
        }
        if (is_bad) lat_bad[atomic_fetch_add(&done_bad, 1)] = dt;
        else lat_good[atomic_fetch_add(&done_good, 1)] = dt;
    }
    return NULL;
}

static void report(const char *what, double *l, long n)
{
    if (!n) { printf("  %-9s 0 requests\n", what); return; }
    qsort(l, (size_t)n, sizeof *l, cmp_double);
    printf("  %-9s %6ld requests  p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, n, 1e3 * l[n / 2],
           1e3 * l[(long)(0.99 * (double)(n - 1))], 1e3 * l[n - 1]);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) total = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--bad")) bad_frac = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) max_seconds = atof(argv[i + 1]);
        else { fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
    }
    if (total < 1 || total > 10000000 || threads < 1 || threads > 256) { fprintf(stderr, "bad limits\n"); return 2; }
    lat_good = calloc((size_t)total, sizeof(double));
    lat_bad = calloc((size_t)total, sizeof(double));
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    t_start = now();
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    double el = now() - t_start;
    long n = done_good + done_bad;
    printf("load test: %ld requests (%ld malformed) over %d connections in parallel, %.2f s: %.0f req/s, %ld failed\n",
           n, (long)done_bad, threads, el, (double)n / el, (long)failures);
    report("valid", lat_good, done_good);
    report("malformed", lat_bad, done_bad);
    free(lat_good); free(lat_bad); free(th);
    return failures ? 1 : 0;
}
