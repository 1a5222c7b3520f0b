/* Evaluation library against scikit-learn 1.2.1 / numpy fixtures (tests/parity/gen_eval.py)
 * plus properties of the sampler, the probe driver, JSON and SVG output. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixture reader: "LFFIX 1" header lines "name dtype ndim dims...", "end", then data */
#define FIX_MAX 16
typedef struct fix_arr {
    char name[32], dtype[4];
    int64_t numel, shape[4];
    void *data;
} fix_arr;
typedef struct fixture {
    int n;
    fix_arr a[FIX_MAX];
} fixture;

static void fix_free(fixture *f)
{
    for (int i = 0; i < f->n; i++) free(f->a[i].data);
    f->n = 0;
}

static int fix_load(const char *name, fixture *f)
{
    char path[256], line[256];
    snprintf(path, sizeof path, "tests/parity/fixtures/eval/%s", name);
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    if (!fgets(line, sizeof line, fp) || strncmp(line, "LFFIX 1", 7)) goto bad;
    while (fgets(line, sizeof line, fp) && strncmp(line, "end", 3)) {
        fix_arr *a = &f->a[f->n];
        int nd, off;
        if (f->n >= FIX_MAX || sscanf(line, "%31s %3s %d%n", a->name, a->dtype, &nd, &off) != 3 || nd > 4)
            goto bad;
        a->numel = 1;
        for (int k = 0; k < nd; k++) {
            long long v;
            int used;
            if (sscanf(line + off, "%lld%n", &v, &used) != 1) goto bad;
            off += used;
            a->shape[k] = v;
            a->numel *= v;
        }
        f->n++;
    }
    for (int i = 0; i < f->n; i++) {
        fix_arr *a = &f->a[i];
        size_t es = a->dtype[1] == '4' ? 4 : 8;
        a->data = malloc(es * (size_t)a->numel + 1);
        if (fread(a->data, es, (size_t)a->numel, fp) != (size_t)a->numel) goto bad;
    }
    fclose(fp);
    return 1;
bad:
    fclose(fp);
    fix_free(f);
    return 0;
}

static fix_arr *fix_get(fixture *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->a[i].name, name)) return &f->a[i];
    lf_test_fail(__FILE__, __LINE__, "fixture array '%s' missing", name);
    static fix_arr empty;
    static double zero[4096];
    empty.data = zero;
    return &empty;
}
#define F32(f, n) ((const float *)fix_get(f, n)->data)
#define F64(f, n) ((const double *)fix_get(f, n)->data)
#define I64(f, n) ((const int64_t *)fix_get(f, n)->data)

static double max_diff(const double *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* ---- logistic regression vs sklearn */
TEST(eval_logreg_matches_sklearn)
{
    fixture f;
    if (!fix_load("logreg.bin", &f)) {
        CHECK_MSG(0, "cannot read tests/parity/fixtures/eval/logreg.bin");
        return;
    }
    int64_t n = fix_get(&f, "x_train")->shape[0], d = fix_get(&f, "x_train")->shape[1];
    int64_t m = fix_get(&f, "x_test")->shape[0], K = 4, nc = fix_get(&f, "C")->numel;
    double *proba = malloc(sizeof(double) * (size_t)(m * K));
    for (int64_t c = 0; c < nc; c++) {
        lf_logreg_opts o = lf_logreg_opts_default();
        o.C = F64(&f, "C")[c];
        lf_logreg *lr = NULL;
        CHECK_OK(lf_logreg_fit(&lr, F32(&f, "x_train"), I64(&f, "y_train"), n, d, K, &o));
        if (!lr) break;
        double dm = max_diff(lr->mean, F64(&f, "scaler_mean"), d);
        double ds = max_diff(lr->scale, F64(&f, "scaler_scale"), d);
        double dc = max_diff(lr->coef, F64(&f, "coef") + c * K * d, K * d);
        double di = max_diff(lr->intercept, F64(&f, "intercept") + c * K, K);
        CHECK_OK(lf_logreg_predict(lr, F32(&f, "x_test"), m, proba, NULL));
        double dp = max_diff(proba, F64(&f, "proba_test") + c * m * K, m * K);
        printf("    C=%-6g iters %3d converged %d | max diff vs sklearn: mean %.1e scale %.1e "
               "coef %.2e intercept %.2e proba %.2e\n", o.C, lr->n_iter, lr->converged, dm, ds, dc, di, dp);
        CHECK(lr->converged);
        CHECK(dm < 1e-9 && ds < 1e-9);
        CHECK_MSG(dc < 1e-4 && di < 1e-4 && dp < 1e-5, "C=%g: coef %.3g intercept %.3g proba %.3g", o.C, dc, di, dp);
        lf_logreg_free(lr);
    }
    free(proba);
    fix_free(&f);
}

TEST(eval_logreg_select_and_errors)
{
    fixture f;
    if (!fix_load("logreg.bin", &f)) {
        CHECK_MSG(0, "cannot read logreg.bin");
        return;
    }
    const float *X = F32(&f, "x_train");
    const int64_t *y = I64(&f, "y_train");
    int64_t d = 16, K = 4;
    double grid[5] = {1e2, 1e-4, 1, 1e-2, 10}, vb[5];
    lf_logreg *lr = NULL;
    /* first 150 rows train, last 50 validate */
    CHECK_OK(lf_logreg_fit_select(&lr, X, y, 150, X + 150 * d, y + 150, 50, d, K, grid, 5, NULL, vb));
    if (lr) {
        int best = 0;
        for (int i = 1; i < 5; i++)
            if (vb[i] > vb[best] || (vb[i] == vb[best] && grid[i] < grid[best])) best = i;
        printf("    val balanced acc per C: %.3f %.3f %.3f %.3f %.3f -> C=%g\n", vb[0], vb[1], vb[2], vb[3], vb[4], lr->C);
        for (int i = 0; i < 5; i++) CHECK(vb[i] >= 0 && vb[i] <= 1);
        int ci = -1;
        for (int i = 0; i < 5; i++)
            if (grid[i] == lr->C) ci = i;
        CHECK(ci >= 0 && vb[ci] == vb[best]); /* the kept C has the best validation score */
        CHECK(vb[1] < vb[ci] || vb[1] == vb[ci]);
        lf_logreg_free(lr);
    }
    lr = NULL;
    int64_t ybad[3] = {0, 4, 1};
    CHECK(lf_logreg_fit(&lr, X, ybad, 3, d, K, NULL) == LF_ERR_ARG && lr == NULL);
    CHECK(strstr(lf_last_error(), "y_train[1] = 4") != NULL);
    lf_logreg_opts o = lf_logreg_opts_default();
    o.C = -1;
    CHECK(lf_logreg_fit(&lr, X, y, 50, d, K, &o) == LF_ERR_ARG);
    fix_free(&f);
}

/* ---- k-NN vs numpy reference (weighted) and sklearn KNeighborsClassifier (majority) */
TEST(eval_knn_matches_reference)
{
    fixture f;
    if (!fix_load("knn.bin", &f)) {
        CHECK_MSG(0, "cannot read knn.bin");
        return;
    }
    int64_t n = fix_get(&f, "x_train")->shape[0], d = fix_get(&f, "x_train")->shape[1];
    int64_t m = fix_get(&f, "x_test")->shape[0], K = 5;
    double *proba = malloc(sizeof(double) * (size_t)(m * K));
    int64_t *pred = malloc(sizeof(int64_t) * (size_t)m);
    for (int maj = 0; maj < 2; maj++) {
        lf_knn_opts o = lf_knn_opts_default();
        o.majority = maj;
        CHECK(o.k == 20 && o.temperature == 0.07);
        CHECK_OK(lf_knn_predict(F32(&f, "x_train"), I64(&f, "y_train"), n, F32(&f, "x_test"), m, d, K, &o, proba, pred));
        double dp = max_diff(proba, F64(&f, maj ? "proba_majority" : "proba_weighted"), m * K);
        const int64_t *ref = I64(&f, maj ? "pred_majority" : "pred_weighted");
        int64_t wrong = 0;
        for (int64_t i = 0; i < m; i++) wrong += pred[i] != ref[i];
        printf("    %s vote: max |proba - ref| %.2e, %lld/%lld predictions differ\n", maj ? "majority" : "weighted",
               dp, (long long)wrong, (long long)m);
        CHECK(dp < 1e-9);
        CHECK(wrong == 0);
    }
    lf_knn_opts o = lf_knn_opts_default();
    o.temperature = 0;
    CHECK(lf_knn_predict(F32(&f, "x_train"), I64(&f, "y_train"), n, F32(&f, "x_test"), m, d, K, &o, proba, pred) == LF_ERR_ARG);
    free(proba);
    free(pred);
    fix_free(&f);
}

/* ---- metrics vs sklearn */
TEST(eval_metrics_match_sklearn)
{
    fixture f;
    if (!fix_load("metrics.bin", &f)) {
        CHECK_MSG(0, "cannot read metrics.bin");
        return;
    }
    int64_t n = fix_get(&f, "y_true")->numel, K = 4;
    const int64_t *yt = I64(&f, "y_true"), *yp = I64(&f, "y_pred");
    const double *ref = F64(&f, "ref");
    double got[6] = {lf_accuracy(yt, yp, n), lf_balanced_accuracy(yt, yp, n, K), lf_macro_f1(yt, yp, n, K),
                     lf_auroc_ovr_macro(yt, F64(&f, "proba"), n, K),
                     lf_auroc_binary(I64(&f, "y_bin"), F64(&f, "score_bin"), n),
                     lf_pearson_r(F64(&f, "u"), F64(&f, "v"), n)};
    const char *names[6] = {"accuracy", "balanced_accuracy", "macro_f1", "auroc_ovr_macro", "auroc_binary", "pearson_r"};
    for (int i = 0; i < 6; i++) {
        printf("    %-18s %.12f sklearn %.12f diff %.1e\n", names[i], got[i], ref[i], fabs(got[i] - ref[i]));
        CHECK_MSG(fabs(got[i] - ref[i]) < 1e-12, "%s: %.15g vs %.15g", names[i], got[i], ref[i]);
    }
    int64_t cm[16];
    CHECK_OK(lf_confusion_matrix(yt, yp, n, K, cm));
    CHECK(memcmp(cm, I64(&f, "confusion"), sizeof cm) == 0);
    /* hand-checked small cases: all ties -> 0.5; perfect -> 1; reversed -> 0 */
    int64_t yb[4] = {0, 1, 0, 1};
    double tie[4] = {0.3, 0.3, 0.3, 0.3}, up[4] = {0.1, 0.9, 0.2, 0.8}, down[4] = {0.9, 0.1, 0.8, 0.2};
    CHECK_NEAR(lf_auroc_binary(yb, tie, 4), 0.5, 0);
    CHECK_NEAR(lf_auroc_binary(yb, up, 4), 1.0, 0);
    CHECK_NEAR(lf_auroc_binary(yb, down, 4), 0.0, 0);
    int64_t one[4] = {1, 1, 1, 1};
    CHECK(isnan(lf_auroc_binary(one, up, 4)));
    CHECK(isnan(lf_accuracy(yb, yb, 0)));
    int64_t bad[4] = {0, 7, 0, 1};
    CHECK(isnan(lf_balanced_accuracy(yb, bad, 4, 2)) && lf_last_status() == LF_ERR_ARG);
    double v[3] = {1, 2, NAN};
    lf_mean_sd ms = lf_mean_sd_of(v, 3);
    CHECK_NEAR(ms.mean, 1.5, 1e-15);
    CHECK_NEAR(ms.sd, sqrt(0.5), 1e-15);
    CHECK(lf_mean_sd_of(v, 1).sd == 0);
    fix_free(&f);
}

/* ---- PCA vs numpy SVD (up to the sign of each component) */
TEST(eval_pca_matches_numpy)
{
    fixture f;
    if (!fix_load("pca.bin", &f)) {
        CHECK_MSG(0, "cannot read pca.bin");
        return;
    }
    int64_t n = fix_get(&f, "x")->shape[0], d = fix_get(&f, "x")->shape[1];
    double *out = malloc(sizeof(double) * (size_t)(2 * n)), ex[2];
    const double *ref = F64(&f, "proj");
    CHECK_OK(lf_pca_2d(F32(&f, "x"), n, d, out, ex));
    double worst = 0;
    for (int c = 0; c < 2; c++) {
        double dot = 0, big = 0;
        for (int64_t i = 0; i < n; i++) {
            dot += out[2 * i + c] * ref[2 * i + c];
            if (fabs(out[2 * i + c]) > fabs(big)) big = out[2 * i + c];
        }
        CHECK(big > 0); /* sign convention */
        double sg = dot < 0 ? -1 : 1;
        for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(out[2 * i + c] - sg * ref[2 * i + c]));
    }
    printf("    max |projection - numpy svd| %.2e (explained %.3f, %.3f)\n", worst, ex[0], ex[1]);
    CHECK(worst < 1e-8);
    CHECK(ex[0] >= ex[1] && ex[1] > 0 && ex[0] + ex[1] < 1);
    free(out);
    fix_free(&f);
}

/* ---- sampler */
TEST(eval_stratified_subset)
{
    int64_t n = 1000, K = 7, y[1000], idx[1000], a[1000], b[1000], c[1000], na, nb, nc;
    lf_rng r = lf_rng_make(3, 0);
    for (int64_t i = 0; i < n; i++) {
        y[i] = i < 6 ? 6 : (int64_t)lf_rng_below(&r, 6); /* class 6 is rare: 6 rows */
        idx[i] = i;
    }
    CHECK_OK(lf_stratified_subset(y, idx, n, K, 0.01, 42, 0, a, &na));
    CHECK_OK(lf_stratified_subset(y, idx, n, K, 0.01, 42, 0, b, &nb));
    CHECK_OK(lf_stratified_subset(y, idx, n, K, 0.01, 42, 1, c, &nc));
    CHECK(na == nb && memcmp(a, b, sizeof(int64_t) * (size_t)na) == 0); /* deterministic */
    CHECK(na != nc || memcmp(a, c, sizeof(int64_t) * (size_t)na) != 0); /* repeat differs */
    int64_t per[7] = {0}, tot[7] = {0};
    for (int64_t i = 0; i < n; i++) tot[y[i]]++;
    for (int64_t i = 0; i < na; i++) per[y[a[i]]]++;
    for (int k = 0; k < 7; k++) {
        int64_t want = (int64_t)floor(0.01 * (double)tot[k] + 0.5);
        CHECK(per[k] == (want < 1 ? 1 : want)); /* >= 1 per class, round(f n_c) otherwise */
    }
    for (int64_t i = 1; i < na; i++) CHECK(a[i] > a[i - 1]);
    CHECK_OK(lf_stratified_subset(y, idx, n, K, 1.0, 42, 0, a, &na));
    CHECK(na == n);
    CHECK(lf_stratified_subset(y, idx, n, K, 0, 42, 0, a, &na) == LF_ERR_ARG);
}

/* ---- probe driver on separable synthetic data, JSON and SVG output */
static void synth(int64_t n, int64_t d, int64_t K, float *X, int64_t *y, int8_t *split)
{
    lf_rng r = lf_rng_make(11, 0);
    for (int64_t i = 0; i < n; i++) {
        y[i] = i % K;
        split[i] = (int8_t)(i % 10 < 6 ? LF_SPLIT_TRAIN : i % 10 < 8 ? LF_SPLIT_VAL : LF_SPLIT_TEST);
        for (int64_t j = 0; j < d; j++)
            X[i * d + j] = (float)(lf_rng_normal(&r) + (j == y[i] ? 4.0 : 0.0) + 0.5);
    }
    y[5] = -1; /* an unlabelled row is skipped */
}

TEST(eval_probe_driver_json_svg)
{
    enum { N = 600, D = 8, K = 3 };
    float *X = malloc(sizeof(float) * N * D);
    int64_t y[N];
    int8_t split[N];
    synth(N, D, K, X, y, split);
    double fr[3] = {0.01, 0.1, 1};
    for (int kind = 0; kind < 2; kind++) {
        lf_probe_opts o = lf_probe_opts_default(kind ? LF_PROBE_KNN : LF_PROBE_LINEAR);
        o.fractions = fr;
        o.n_fractions = 3;
        o.repeats = 3;
        o.seed = 5;
        lf_probe_result *r = NULL, *r2 = NULL;
        CHECK_OK(lf_probe_run(X, N, D, y, split, &o, &r));
        CHECK_OK(lf_probe_run(X, N, D, y, split, &o, &r2));
        if (!r || !r2) break;
        CHECK(r->n_classes == K && r->n_train == 359 && r->n_val == 120 && r->n_test == 120);
        CHECK(r->rows[0].runs == 3 && r->rows[2].runs == 1);
        CHECK_NEAR(r->rows[0].n_labels, 3, 0); /* 0.01 * ~120 per class rounds to 1 */
        for (int i = 0; i < 3; i++) {
            printf("    %s f=%-4g labels %5.0f  acc %.3f+-%.3f  bacc %.3f  f1 %.3f  auroc %.3f\n",
                   kind ? "knn   " : "linear", r->rows[i].fraction, r->rows[i].n_labels,
                   r->rows[i].metric[LF_PROBE_ACC].mean, r->rows[i].metric[LF_PROBE_ACC].sd,
                   r->rows[i].metric[LF_PROBE_BACC].mean, r->rows[i].metric[LF_PROBE_F1].mean,
                   r->rows[i].metric[LF_PROBE_AUROC].mean);
            CHECK(memcmp(r->rows[i].per_run, r2->rows[i].per_run,
                         sizeof(double) * (size_t)(r->rows[i].runs * LF_PROBE_N_METRICS)) == 0);
        }
        CHECK(r->rows[2].metric[LF_PROBE_ACC].mean > 0.95); /* well separated classes */
        CHECK(r->rows[2].metric[LF_PROBE_AUROC].mean > 0.99);
        CHECK(r->rows[2].metric[LF_PROBE_ACC].sd == 0);
        const char *path = kind ? "build/test_eval_knn.json" : "build/test_eval_linear.json";
        CHECK_OK(lf_probe_result_write_json(r, path, "{\"embeddings\": \"synthetic\"}"));
        json_error_t e;
        json_t *j = json_load_file(path, 0, &e);
        CHECK_MSG(j != NULL, "JSON does not parse: %s", e.text);
        if (j) {
            json_t *p = json_object_get(j, "protocol");
            CHECK(json_integer_value(json_object_get(p, "seed")) == 5);
            CHECK(json_integer_value(json_object_get(p, "repeats")) == 3);
            if (kind) {
                CHECK(json_integer_value(json_object_get(p, "k")) == 20);
                CHECK(fabs(json_real_value(json_object_get(p, "temperature")) - 0.07) < 1e-12);
            } else {
                CHECK(json_array_size(json_object_get(p, "c_grid")) == 9);
            }
            json_t *res = json_object_get(j, "results");
            CHECK(json_array_size(res) == 3);
            json_t *acc = json_object_get(json_array_get(res, 2), "accuracy");
            CHECK_NEAR(json_real_value(json_object_get(acc, "mean")), r->rows[2].metric[LF_PROBE_ACC].mean, 1e-9);
            CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "meta"), "embeddings")), "synthetic"));
            json_decref(j);
        }
        CHECK(lf_probe_result_write_json(r, path, "[1, 2]") == LF_ERR_FORMAT);
        if (kind) {
            const lf_probe_result *rs[1] = {r};
            CHECK_OK(lf_svg_label_efficiency("build/test_eval_curve.svg", rs, NULL, 1, LF_PROBE_BACC));
        }
        lf_probe_result_free(r);
        lf_probe_result_free(r2);
    }
    /* errors name what is wrong */
    lf_probe_opts o = lf_probe_opts_default(LF_PROBE_LINEAR);
    double badf[1] = {1.5};
    o.fractions = badf;
    o.n_fractions = 1;
    lf_probe_result *r = NULL;
    CHECK(lf_probe_run(X, N, D, y, split, &o, &r) == LF_ERR_ARG && r == NULL);
    CHECK(strstr(lf_last_error(), "1.5") != NULL);
    free(X);
}

static int64_t count(const char *s, const char *what)
{
    int64_t c = 0;
    for (const char *p = s; (p = strstr(p, what)); p++) c++;
    return c;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    size_t got = fread(s, 1, (size_t)len, f);
    s[got] = 0;
    fclose(f);
    return s;
}

TEST(eval_svg_scatter_and_lines)
{
    enum { N = 300, D = 6 };
    float X[N * D];
    int64_t y[N];
    double xy[2 * N];
    lf_rng r = lf_rng_make(2, 0);
    for (int i = 0; i < N; i++) {
        y[i] = i % 4 - (i == 7); /* one unlabelled point (grey) */
        for (int j = 0; j < D; j++) X[i * D + j] = (float)(lf_rng_normal(&r) + 3.0 * (j == i % 4));
    }
    CHECK_OK(lf_pca_2d(X, N, D, xy, NULL));
    const char *names[4] = {"a<b", "T&C", "\"q\"", "d"};
    CHECK_OK(lf_svg_scatter("build/test_eval_scatter.svg", xy, y, N, 4, names, "PCA <map>"));
    char *s = slurp("build/test_eval_scatter.svg");
    CHECK(s && !strncmp(s, "<svg", 4));
    if (s) {
        CHECK(count(s, "<circle") == N);
        CHECK(strstr(s, "a&lt;b") && strstr(s, "T&amp;C") && strstr(s, "&quot;q&quot;") && !strstr(s, "a<b"));
        CHECK(strstr(s, "</svg>\n") != NULL);
        CHECK(count(s, "<") == count(s, ">")); /* no stray brackets from text */
    }
    free(s);
    double step[50], loss[50];
    for (int i = 0; i < 50; i++) {
        step[i] = i + 1;
        loss[i] = 2.0 / (i + 1);
    }
    lf_svg_series ser[1] = {{"train loss", step, loss, NULL, 50}};
    CHECK_OK(lf_svg_lines("build/test_eval_loss.svg", ser, 1, "loss", "step", "loss", 0, 1));
    s = slurp("build/test_eval_loss.svg");
    CHECK(s && !strncmp(s, "<svg", 4) && count(s, "<polyline") == 1 && count(s, "<circle") == 50);
    free(s);
    s = slurp("build/test_eval_curve.svg"); /* written by the probe test (runs first) */
    if (s) CHECK(!strncmp(s, "<svg", 4) && count(s, "<circle") == 3);
    free(s);
    CHECK(lf_svg_scatter("/nonexistent-dir/x.svg", xy, y, N, 4, NULL, "t") == LF_ERR_IO);
    CHECK(strstr(lf_last_error(), "/nonexistent-dir/x.svg") != NULL);
}
