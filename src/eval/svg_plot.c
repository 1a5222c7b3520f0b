/* Small SVG writers for reports: a scatter coloured by label (2-D embedding maps) and line
 * plots with optional error bars (loss curves, label-efficiency curves). Text is escaped, so
 * the files are well-formed XML. */
#include "eval_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 760.0
#define H 480.0
#define ML 70.0  /* margins: left, right, top, bottom */
#define MR 210.0
#define MT 40.0
#define MB 55.0

static const char *palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f); /* no control chars */
        }
    }
}

typedef struct axes {
    double x0, x1, y0, y1; /* data range (log10 already applied where asked) */
    int log_x, log_y;
} axes;

static double px(const axes *a, double x) { return ML + (x - a->x0) / (a->x1 - a->x0) * (W - ML - MR); }
static double py(const axes *a, double y) { return H - MB - (y - a->y0) / (a->y1 - a->y0) * (H - MT - MB); }

static void pad_range(double *lo, double *hi)
{
    if (!(*hi > *lo)) { /* one value or none */
        double c = isfinite(*lo) ? *lo : 0;
        *lo = c - 0.5;
        *hi = c + 0.5;
        return;
    }
    double m = 0.05 * (*hi - *lo);
    *lo -= m;
    *hi += m;
}

static FILE *open_svg(const char *path, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        lf_error(LF_ERR_IO, "svg: cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", (W - MR + ML) / 2);
    esc(f, title);
    fputs("</text>\n", f);
    return f;
}

static lf_status close_svg(FILE *f, const char *path)
{
    fputs("</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return lf_error(LF_ERR_IO, "svg: error writing %s", path);
    return LF_OK;
}

/* frame, 5 ticks per axis with labels (10^v on log axes), axis titles */
static void draw_axes(FILE *f, const axes *a, const char *xlabel, const char *ylabel)
{
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"black\"/>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    for (int i = 0; i <= 4; i++) {
        double vx = a->x0 + (a->x1 - a->x0) * i / 4, vy = a->y0 + (a->y1 - a->y0) * i / 4;
        double X = px(a, vx), Y = py(a, vy);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\" stroke=\"black\"/>\n", X, H - MB, X, H - MB + 5);
        fprintf(f, "<text x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%.3g</text>\n", X, H - MB + 18, a->log_x ? pow(10, vx) : vx);
        fprintf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\" stroke=\"black\"/>\n", ML - 5, Y, ML, Y);
        fprintf(f, "<text x=\"%g\" y=\"%.2f\" text-anchor=\"end\">%.3g</text>\n", ML - 8, Y + 4, a->log_y ? pow(10, vy) : vy);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", (W - MR + ML) / 2, H - 12);
    esc(f, xlabel);
    fprintf(f, "</text>\n<text x=\"16\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 16 %g)\">",
            (H - MB + MT) / 2, (H - MB + MT) / 2);
    esc(f, ylabel);
    fputs("</text>\n", f);
}

static void legend_entry(FILE *f, int i, const char *color, const char *name, int64_t id)
{
    double y = MT + 10 + 18 * i;
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", W - MR + 12, y - 10, color);
    fprintf(f, "<text x=\"%g\" y=\"%g\">", W - MR + 30, y);
    if (name) esc(f, name);
    else fprintf(f, "class %lld", (long long)id);
    fputs("</text>\n", f);
}

lf_status lf_svg_scatter(const char *path, const double *xy, const int64_t *labels, int64_t n,
                         int64_t n_classes, const char *const *class_names, const char *title)
{
    if (!path || (!xy && n > 0) || n < 0 || n_classes < 0)
        return lf_error(LF_ERR_ARG, "svg_scatter: NULL path/points or n=%lld, classes=%lld", (long long)n, (long long)n_classes);
    axes a = {HUGE_VAL, -HUGE_VAL, HUGE_VAL, -HUGE_VAL, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]))
            return lf_error(LF_ERR_NUMERIC, "svg_scatter: point %lld is (%g, %g)", (long long)i, xy[2 * i], xy[2 * i + 1]);
        a.x0 = fmin(a.x0, xy[2 * i]); a.x1 = fmax(a.x1, xy[2 * i]);
        a.y0 = fmin(a.y0, xy[2 * i + 1]); a.y1 = fmax(a.y1, xy[2 * i + 1]);
    }
    pad_range(&a.x0, &a.x1);
    pad_range(&a.y0, &a.y1);
    FILE *f = open_svg(path, title);
    if (!f) return lf_last_status();
    draw_axes(f, &a, "component 1", "component 2");
    double r = n > 5000 ? 1.2 : n > 500 ? 2.0 : 3.0;
    fputs("<g fill-opacity=\"0.7\">\n", f);
    for (int64_t i = 0; i < n; i++) {
        int64_t l = labels ? labels[i] : 0;
        const char *c = l < 0 ? "#aaaaaa" : palette[l % 10];
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%g\" fill=\"%s\"/>\n", px(&a, xy[2 * i]), py(&a, xy[2 * i + 1]), r, c);
    }
    fputs("</g>\n", f);
    int64_t shown = n_classes < 22 ? n_classes : 22; /* what fits beside the plot */
    for (int64_t k = 0; k < shown; k++)
        legend_entry(f, (int)k, palette[k % 10], class_names ? class_names[k] : NULL, k);
    return close_svg(f, path);
}

static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }
static double tr(double v, int log) { return log ? log10(v) : v; }

lf_status lf_svg_lines(const char *path, const lf_svg_series *series, int n_series,
                       const char *title, const char *xlabel, const char *ylabel, int log_x,
                       int log_y)
{
    if (!path || n_series < 0 || (n_series > 0 && !series))
        return lf_error(LF_ERR_ARG, "svg_lines: NULL path or series (n_series=%d)", n_series);
    axes a = {HUGE_VAL, -HUGE_VAL, HUGE_VAL, -HUGE_VAL, log_x, log_y};
    for (int s = 0; s < n_series; s++) {
        const lf_svg_series *S = &series[s];
        if (S->n > 0 && (!S->x || !S->y))
            return lf_error(LF_ERR_ARG, "svg_lines: series %d has NULL x or y", s);
        for (int64_t i = 0; i < S->n; i++) {
            if (!usable(S->x[i], log_x) || !usable(S->y[i], log_y)) continue;
            double e = S->yerr && isfinite(S->yerr[i]) ? fabs(S->yerr[i]) : 0;
            double lo = S->y[i] - e, hi = S->y[i] + e;
            if (log_y && !(lo > 0)) lo = S->y[i];
            a.x0 = fmin(a.x0, tr(S->x[i], log_x)); a.x1 = fmax(a.x1, tr(S->x[i], log_x));
            a.y0 = fmin(a.y0, tr(lo, log_y)); a.y1 = fmax(a.y1, tr(hi, log_y));
        }
    }
    pad_range(&a.x0, &a.x1);
    pad_range(&a.y0, &a.y1);
    FILE *f = open_svg(path, title);
    if (!f) return lf_last_status();
    draw_axes(f, &a, xlabel, ylabel);
    for (int s = 0; s < n_series; s++) {
        const lf_svg_series *S = &series[s];
        const char *c = palette[s % 10];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", c);
        for (int64_t i = 0; i < S->n; i++)
            if (usable(S->x[i], log_x) && usable(S->y[i], log_y))
                fprintf(f, "%.2f,%.2f ", px(&a, tr(S->x[i], log_x)), py(&a, tr(S->y[i], log_y)));
        fputs("\"/>\n", f);
        for (int64_t i = 0; i < S->n && S->n <= 200; i++) { /* markers and error bars */
            if (!usable(S->x[i], log_x) || !usable(S->y[i], log_y)) continue;
            double X = px(&a, tr(S->x[i], log_x));
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", X, py(&a, tr(S->y[i], log_y)), c);
            if (S->yerr && isfinite(S->yerr[i]) && S->yerr[i] != 0) {
                double e = fabs(S->yerr[i]), lo = S->y[i] - e, hi = S->y[i] + e;
                if (log_y && !(lo > 0)) lo = S->y[i];
                fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n", X,
                        py(&a, tr(lo, log_y)), X, py(&a, tr(hi, log_y)), c);
            }
        }
        legend_entry(f, s, c, S->name ? S->name : "series", s);
    }
    return close_svg(f, path);
}

lf_status lf_svg_label_efficiency(const char *path, const lf_probe_result *const *results,
                                  const char *const *names, int n_results, int metric)
{
    if (metric < 0 || metric >= LF_PROBE_N_METRICS)
        return lf_error(LF_ERR_ARG, "svg_label_efficiency: metric %d is not one of LF_PROBE_*", metric);
    if (n_results < 0 || (n_results > 0 && !results))
        return lf_error(LF_ERR_ARG, "svg_label_efficiency: NULL results (n=%d)", n_results);
    int64_t total = 0;
    for (int i = 0; i < n_results; i++) {
        if (!results[i]) return lf_error(LF_ERR_ARG, "svg_label_efficiency: result %d is NULL", i);
        total += results[i]->n_rows;
    }
    double *buf = lf_malloc(sizeof(double) * (size_t)(3 * total + 1));
    lf_svg_series *S = lf_malloc(sizeof(lf_svg_series) * (size_t)(n_results + 1));
    if (!buf || !S) {
        lf_free(buf); lf_free(S);
        return lf_error(LF_ERR_NOMEM, "svg_label_efficiency: %lld points", (long long)total);
    }
    double *p = buf;
    for (int i = 0; i < n_results; i++) {
        const lf_probe_result *r = results[i];
        S[i].name = names ? names[i] : (r->opts.kind == LF_PROBE_LINEAR ? "linear probe" : "k-NN");
        S[i].x = p; S[i].y = p + r->n_rows; S[i].yerr = p + 2 * r->n_rows; S[i].n = r->n_rows;
        for (int j = 0; j < r->n_rows; j++) {
            p[j] = r->rows[j].fraction;
            p[r->n_rows + j] = r->rows[j].metric[metric].mean;
            p[2 * r->n_rows + j] = r->rows[j].metric[metric].sd;
        }
        p += 3 * r->n_rows;
    }
    char title[96];
    snprintf(title, sizeof title, "label efficiency: %s (mean +- sd)", lf_probe_metric_name(metric));
    lf_status s = lf_svg_lines(path, S, n_results, title, "fraction of training labels",
                               lf_probe_metric_name(metric), 1, 0);
    lf_free(buf);
    lf_free(S);
    return s;
}
