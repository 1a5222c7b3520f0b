#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(progress *p, const char *label, int64_t total)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = p->t_last_print = now_seconds();
    p->tty = isatty(2);
    p->plain_interval_s = 10;
}

static void fmt_time(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) s = 0;
    int h = (int)(s / 3600), m = (int)(fmod(s, 3600) / 60), sec = (int)fmod(s, 60);
    if (h) snprintf(buf, n, "%dh%02dm", h, m);
    else snprintf(buf, n, "%dm%02ds", m, sec);
}

static void print_line(progress *p, double loss, const char *extra, bool final)
{
    double t = now_seconds(), el = t - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    char e[32], l[32] = "";
    fmt_time(final ? el : eta, e, sizeof e);
    if (!isnan(loss)) snprintf(l, sizeof l, " loss %.4f", loss);
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    if (p->tty) {
        char bar[26];
        int fill = (int)(frac * 24);
        for (int i = 0; i < 24; i++) bar[i] = i < fill ? '#' : '.';
        bar[24] = 0;
        fprintf(stderr, "\r%s [%s] %3.0f%% %.1f/s%s %s %s%s\033[K", p->label, bar, frac * 100, rate,
                l, final ? "took" : "ETA", e, extra ? extra : "");
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s %lld/%lld (%.0f%%) %.1f/s%s %s %s%s\n", p->label, (long long)p->done,
                (long long)p->total, frac * 100, rate, l, final ? "took" : "ETA", e,
                extra ? extra : "");
    }
    fflush(stderr);
    p->t_last_print = t;
}

void progress_update(progress *p, int64_t done, double loss, const char *extra)
{
    p->done = done;
    double t = now_seconds();
    if (t - p->t_last_print >= (p->tty ? 0.2 : p->plain_interval_s)) print_line(p, loss, extra, false);
}

void progress_finish(progress *p, double loss, const char *extra)
{
    p->done = p->total;
    print_line(p, loss, extra, true);
}
