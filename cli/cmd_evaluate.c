/* labelfree evaluate --data DATA --out DIR: the whole label-efficiency protocol in one command.
 *
 *  1. pretrain (SimCLR, or MAE with --method mae) on the training split (no labels)            DIR/pretrain/
 *  2. embed every item with the frozen encoder                      DIR/embeddings.npy
 *  3. probe (logistic regression, k-NN) at each label fraction      DIR/probe_{linear,knn}.json
 *  4. the supervised baseline (same encoder, from scratch) trained on the same label
 *     fractions, evaluated on the test split                        DIR/supervised-f<fraction>/
 *  5. with a site column: cross-site evaluation, per held-out site, of the probe and of the
 *     supervised model (train on the other sites, test on the held-out site's test items,
 *     against the same test items when training saw every site)
 *  6. report.json, report.md and SVG plots (label-efficiency curve, loss curve, 2-D maps of
 *     the embeddings coloured by label and by site).
 * Every fraction's subset is the same for the probe and the baseline (lf_stratified_subset
 * with the run's seed), so the two are compared on identical labels. */
#include "model_io.h"
#include "progress.h"
#include "protocol.h"
#include "report.h"
#include "train_loop.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FRACTIONS 16
#define MAX_SITES 32

typedef struct eval_ctx {
    const lf_dataset *ds;
    run_config base;        /* shared encoder/training settings */
    const char *dir;
    int64_t n, K;
    int64_t *y;
    int8_t *split;
    float *emb;
    int64_t d;
    double fractions[MAX_FRACTIONS];
    int nf;
    int64_t repeats, sup_epochs, sup_min_steps;
    lf_probe_opts lin, knn;
} eval_ctx;

static const char *metric_key[4] = {"accuracy", "balanced_accuracy", "macro_f1", "macro_auroc"};

static json_t *metrics_json(const double m[4])
{
    json_t *o = json_object();
    for (int i = 0; i < 4; i++) json_object_set_new(o, metric_key[i], isfinite(m[i]) ? json_real(m[i]) : json_null());
    return o;
}

/* Trains the supervised baseline on `subset` and returns test metrics on `test` rows. */
static int supervised_run(eval_ctx *e, const char *name, const int64_t *subset, int64_t n_sub,
                          const int64_t *test, int64_t n_test, double m[4], float **logits_out,
                          train_summary *ts)
{
    run_config c = run_config_default("supervised");
    c.data = e->base.data;
    c.arch = e->base.arch;
    c.stem = e->base.stem;
    c.width = e->base.width;
    c.image_size = e->base.image_size;
    c.channels = e->base.channels;
    c.augment = e->base.augment;
    c.batch_size = e->base.batch_size;
    c.seed = e->base.seed;
    c.threads = e->base.threads;
    c.loader_threads = e->base.loader_threads;
    c.quiet = e->base.quiet;
    c.subset = subset;
    c.n_subset = n_sub;
    int64_t bs = c.batch_size < n_sub ? c.batch_size : n_sub;
    int64_t spe = bs > 0 ? n_sub / bs : 1;
    if (spe < 1) spe = 1;
    c.epochs = e->sup_epochs;
    if (c.epochs * spe < e->sup_min_steps) c.epochs = (e->sup_min_steps + spe - 1) / spe;
    c.warmup_epochs = c.epochs / 10;
    char out[4096];
    snprintf(out, sizeof out, "%s/%s", e->dir, name);
    c.out = out;
    if (!c.quiet) fprintf(stderr, "== supervised baseline %s: %lld labelled images, %lld epochs\n", name,
                          (long long)n_sub, (long long)c.epochs);
    if (train_run("evaluate", &c, e->ds, ts)) return 1;
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/model.safetensors", out);
    loaded_model lm;
    if (model_load(mp, &lm)) return cli_fail("evaluate");
    float *lg = malloc((size_t)(n_test * e->K + 1) * sizeof *lg);
    int64_t dim;
    int rc = 0;
    if (model_infer(&lm, e->ds, test, n_test, 1, 256, lg, &dim)) rc = cli_fail("evaluate");
    model_free(&lm);
    if (rc) {
        free(lg);
        return rc;
    }
    int64_t *yt = malloc((size_t)(n_test + 1) * sizeof *yt);
    for (int64_t i = 0; i < n_test; i++) yt[i] = e->y[test[i]];
    protocol_metrics(lg, 1, yt, n_test, e->K, m);
    free(yt);
    if (logits_out) *logits_out = lg;
    else free(lg);
    return 0;
}

static int site_index(const char *names[], int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    if (*n >= MAX_SITES) return -1;
    names[*n] = s;
    return (*n)++;
}

/* Probe with the split rewritten: train/val rows kept where keep_train(row), test rows where
 * keep_test(row); fraction 1 only. Returns the test metrics. */
static int probe_subset(eval_ctx *e, const lf_probe_opts *base, const int8_t *split, double m[4])
{
    lf_probe_opts o = *base;
    double one = 1;
    o.fractions = &one;
    o.n_fractions = 1;
    lf_probe_result *r = NULL;
    if (lf_probe_run(e->emb, e->n, e->d, e->y, split, &o, &r)) return cli_fail("evaluate");
    for (int i = 0; i < 4; i++) m[i] = r->rows[0].metric[i].mean;
    lf_probe_result_free(r);
    return 0;
}

static json_t *probe_json(const lf_probe_result *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->n_rows; i++) {
        const lf_probe_row *w = &r->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "fraction", json_real(w->fraction));
        json_object_set_new(o, "labels", json_real(w->n_labels));
        json_object_set_new(o, "runs", json_integer(w->runs));
        for (int k = 0; k < 4; k++) {
            json_t *ms = json_object();
            json_object_set_new(ms, "mean", isfinite(w->metric[k].mean) ? json_real(w->metric[k].mean) : json_null());
            json_object_set_new(ms, "sd", isfinite(w->metric[k].sd) ? json_real(w->metric[k].sd) : json_null());
            json_object_set_new(o, metric_key[k], ms);
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* loss per step from metrics.jsonl */
static int read_loss_curve(const char *path, double **x, double **y)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int cap = 1024, n = 0;
    *x = malloc(sizeof(double) * (size_t)cap);
    *y = malloc(sizeof(double) * (size_t)cap);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        long long step;
        double loss;
        if (sscanf(line, "{\"step\": %lld, \"epoch\": %*d, \"loss\": %lf", &step, &loss) != 2) continue;
        if (n == cap) {
            cap *= 2;
            *x = realloc(*x, sizeof(double) * (size_t)cap);
            *y = realloc(*y, sizeof(double) * (size_t)cap);
        }
        (*x)[n] = (double)step;
        (*y)[n] = loss;
        n++;
    }
    fclose(f);
    return n;
}

int cmd_evaluate(int argc, char **argv)
{
    eval_ctx e;
    memset(&e, 0, sizeof e);
    const char *method = run_config_method(argc, argv, "simclr");
    if (strcmp(method, "simclr") != 0 && strcmp(method, "mae") != 0) {
        fprintf(stderr, "labelfree evaluate: --method %s is not available (simclr, mae)\n", method);
        return 2;
    }
    e.base = run_config_default(method);
    const char *fr = "0.01,0.1,1";
    e.repeats = 5;
    e.sup_epochs = 0;
    e.sup_min_steps = 100;
    bool skip_sup = false, skip_site = false;
    cli_arg args[48];
    int n = run_config_args(&e.base, args, 40);
    args[n++] = (cli_arg){"method", ARG_STR, &method, "self-supervised method: simclr | mae", false, false};
    args[n++] = (cli_arg){"label-fractions", ARG_STR, &fr, "fractions of the training labels (default 0.01,0.1,1)", false, false};
    args[n++] = (cli_arg){"repeats", ARG_INT, &e.repeats, "probe subsets per fraction < 1 (default 5)", false, false};
    args[n++] = (cli_arg){"supervised-epochs", ARG_INT, &e.sup_epochs, "baseline epochs (default: --epochs)", false, false};
    args[n++] = (cli_arg){"supervised-min-steps", ARG_INT, &e.sup_min_steps, "at least this many baseline steps on small subsets (default 100)", false, false};
    args[n++] = (cli_arg){"skip-supervised", ARG_BOOL, &skip_sup, "no supervised baseline", false, false};
    args[n++] = (cli_arg){"skip-cross-site", ARG_BOOL, &skip_site, "no cross-site evaluation", false, false};
    int r = cli_parse("evaluate", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("evaluate", "pretrain, embed, probe with few labels, supervised baseline, cross-site; writes DIR/report.{json,md}", args, n);
        return r == 2 ? 0 : 2;
    }
    if (run_config_check("evaluate", &e.base)) return 2;
    if ((e.nf = parse_fractions(fr, e.fractions, MAX_FRACTIONS)) < 1) return 2;
    if (e.repeats < 1 || e.sup_min_steps < 0 || e.sup_epochs < 0) {
        fprintf(stderr, "labelfree evaluate: --repeats, --supervised-epochs and --supervised-min-steps must be positive\n");
        return 2;
    }
    if (e.sup_epochs == 0) e.sup_epochs = e.base.epochs;
    e.dir = e.base.out;
    if (cli_make_dirs("evaluate", e.dir)) return 1;
    if (e.base.threads > 0) lf_set_threads((int)e.base.threads);
    double t_start = now_seconds();
    lf_dataset *ds;
    lf_dataset_options dopt = lf_dataset_options_default();
    dopt.seed = (uint64_t)e.base.seed;
    if (lf_dataset_open(&ds, e.base.data, &dopt)) return cli_fail("evaluate");
    e.ds = ds;
    e.n = lf_dataset_count(ds);
    e.K = lf_dataset_num_classes(ds);
    int rc = 1;
    json_t *rep = json_object();
    lf_probe_result *res_lin = NULL, *res_knn = NULL;
    float *sup_test_logits = NULL;
    int64_t *test_rows = NULL, *train_rows = NULL, *sub = NULL;
    double *sup_m = NULL;
    if (e.K < 2) {
        fprintf(stderr, "labelfree evaluate: %s needs labels of at least 2 classes\n", e.base.data);
        goto done;
    }
    int64_t carved;
    e.y = protocol_labels(ds);
    e.split = protocol_splits(ds, (uint64_t)e.base.seed, &carved);

    /* 1. pretrain */
    run_config pc = e.base;
    char pdir[4096];
    snprintf(pdir, sizeof pdir, "%s/pretrain", e.dir);
    pc.out = pdir;
    train_summary pre_sum = {0};
    if (!pc.quiet) fprintf(stderr, "== self-supervised pretraining (%s) on the training split\n", pc.method);
    if (train_run("evaluate", &pc, ds, &pre_sum)) goto done;
    e.base.channels = pc.channels;
    e.base.lr = -1; /* the baseline gets its own optimizer's default rule */

    /* 2. embed */
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/model.safetensors", pdir);
    loaded_model lm;
    if (model_load(mp, &lm)) {
        cli_fail("evaluate");
        goto done;
    }
    int64_t *all = malloc((size_t)e.n * sizeof *all);
    for (int64_t i = 0; i < e.n; i++) all[i] = i;
    e.d = lf_encoder_feature_dim(lm.enc);
    e.emb = malloc((size_t)(e.n * e.d) * sizeof *e.emb);
    lf_status st = model_infer(&lm, ds, all, e.n, 0, 256, e.emb, &e.d);
    model_free(&lm);
    free(all);
    if (st) {
        cli_fail("evaluate");
        goto done;
    }
    {
        lf_real *er = malloc((size_t)(e.n * e.d) * sizeof *er);
        for (int64_t i = 0; i < e.n * e.d; i++) er[i] = (lf_real)e.emb[i];
        char ep[4200];
        snprintf(ep, sizeof ep, "%s/embeddings.npy", e.dir);
        st = lf_npy_write_f32(ep, er, e.n, e.d);
        free(er);
        if (st) {
            cli_fail("evaluate");
            goto done;
        }
    }

    /* 3. probes */
    if (!e.base.quiet) fprintf(stderr, "== probing the embeddings (%d label fractions)\n", e.nf);
    e.lin = lf_probe_opts_default(LF_PROBE_LINEAR);
    e.knn = lf_probe_opts_default(LF_PROBE_KNN);
    for (lf_probe_opts *o = &e.lin; o; o = o == &e.lin ? &e.knn : NULL) {
        o->fractions = e.fractions;
        o->n_fractions = e.nf;
        o->repeats = (int)e.repeats;
        o->seed = (uint64_t)e.base.seed;
    }
    if (lf_probe_run(e.emb, e.n, e.d, e.y, e.split, &e.lin, &res_lin) ||
        lf_probe_run(e.emb, e.n, e.d, e.y, e.split, &e.knn, &res_knn)) {
        cli_fail("evaluate");
        goto done;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/probe_linear.json", e.dir);
    lf_probe_result_write_json(res_lin, path, NULL);
    snprintf(path, sizeof path, "%s/probe_knn.json", e.dir);
    lf_probe_result_write_json(res_knn, path, NULL);

    /* rows */
    int64_t n_test = 0, n_train = 0;
    test_rows = malloc((size_t)e.n * sizeof *test_rows);
    train_rows = malloc((size_t)e.n * sizeof *train_rows);
    sub = malloc((size_t)e.n * sizeof *sub);
    for (int64_t i = 0; i < e.n; i++) {
        if (e.y[i] < 0) continue;
        if (e.split[i] == LF_SPLIT_TEST) test_rows[n_test++] = i;
        if (e.split[i] == LF_SPLIT_TRAIN) train_rows[n_train++] = i;
    }

    /* 4. supervised baseline at each fraction (repeat 0 of the probe's subsets) */
    json_t *sup = json_array();
    sup_m = calloc((size_t)e.nf * 4, sizeof *sup_m);
    for (int f = 0; f < e.nf && !skip_sup; f++) {
        int64_t ns = 0;
        if (lf_stratified_subset(e.y, train_rows, n_train, e.K, e.fractions[f], (uint64_t)e.base.seed, 0, sub, &ns)) {
            cli_fail("evaluate");
            goto done;
        }
        char name[64];
        snprintf(name, sizeof name, "supervised-f%g", e.fractions[f]);
        train_summary ts = {0};
        float **keep = e.fractions[f] >= 1 ? &sup_test_logits : NULL;
        if (supervised_run(&e, name, sub, ns, test_rows, n_test, &sup_m[f * 4], keep, &ts)) goto done;
        json_t *o = metrics_json(&sup_m[f * 4]);
        json_object_set_new(o, "fraction", json_real(e.fractions[f]));
        json_object_set_new(o, "labels", json_integer(ns));
        json_object_set_new(o, "steps", json_integer(ts.steps));
        json_object_set_new(o, "seconds", json_real(ts.seconds));
        json_array_append_new(sup, o);
    }

    /* 5. cross-site */
    json_t *sites_j = json_array();
    const char *sites[MAX_SITES];
    int n_sites = 0;
    for (int64_t i = 0; i < e.n; i++)
        if (lf_dataset_site(ds, i)[0]) site_index(sites, &n_sites, lf_dataset_site(ds, i));
    int8_t *sp2 = malloc((size_t)(e.n > 0 ? e.n : 1));
    for (int s = 0; s < n_sites && n_sites >= 2 && !skip_site; s++) {
        json_t *o = json_object();
        json_object_set_new(o, "held_out_site", json_string(sites[s]));
        /* probe, in-site: train on every site, test on site s's test rows */
        double in_lin[4], x_lin[4], in_sup[4] = {NAN, NAN, NAN, NAN}, x_sup[4] = {NAN, NAN, NAN, NAN};
        for (int64_t i = 0; i < e.n; i++) {
            bool here = !strcmp(lf_dataset_site(ds, i), sites[s]);
            sp2[i] = e.split[i] == LF_SPLIT_TEST ? (here ? LF_SPLIT_TEST : -1) : e.split[i];
        }
        int64_t n_site_test = 0;
        for (int64_t i = 0; i < e.n; i++) n_site_test += sp2[i] == LF_SPLIT_TEST && e.y[i] >= 0;
        if (n_site_test == 0) {
            json_decref(o);
            continue;
        }
        if (probe_subset(&e, &e.lin, sp2, in_lin)) goto done;
        /* probe, cross-site: the held-out site's train/val rows are left out */
        for (int64_t i = 0; i < e.n; i++)
            if (!strcmp(lf_dataset_site(ds, i), sites[s]) && sp2[i] != LF_SPLIT_TEST) sp2[i] = -1;
        if (probe_subset(&e, &e.lin, sp2, x_lin)) goto done;
        /* supervised: the 100 % model on site s's test rows, and a model trained without s */
        int64_t nst = 0, ntr = 0;
        int64_t *st_rows = malloc((size_t)e.n * sizeof *st_rows);
        for (int64_t j = 0; j < n_test; j++)
            if (!strcmp(lf_dataset_site(ds, test_rows[j]), sites[s])) st_rows[nst++] = test_rows[j];
        if (!skip_sup && sup_test_logits) {
            float *lg = malloc((size_t)(nst * e.K + 1) * sizeof *lg);
            int64_t *yt = malloc((size_t)(nst + 1) * sizeof *yt), k2 = 0;
            for (int64_t j = 0; j < n_test; j++)
                if (!strcmp(lf_dataset_site(ds, test_rows[j]), sites[s])) {
                    memcpy(lg + k2 * e.K, sup_test_logits + j * e.K, (size_t)e.K * sizeof *lg);
                    yt[k2++] = e.y[test_rows[j]];
                }
            protocol_metrics(lg, 1, yt, nst, e.K, in_sup);
            free(lg);
            free(yt);
            for (int64_t j = 0; j < n_train; j++)
                if (strcmp(lf_dataset_site(ds, train_rows[j]), sites[s])) sub[ntr++] = train_rows[j];
            char name[300];
            snprintf(name, sizeof name, "supervised-without-site-%d", s);
            train_summary ts;
            if (ntr >= 2 && supervised_run(&e, name, sub, ntr, st_rows, nst, x_sup, NULL, &ts)) {
                free(st_rows);
                goto done;
            }
        }
        free(st_rows);
        json_object_set_new(o, "test_items", json_integer(n_site_test));
        json_object_set_new(o, "probe_all_sites", metrics_json(in_lin));
        json_object_set_new(o, "probe_without_site", metrics_json(x_lin));
        json_object_set_new(o, "supervised_all_sites", metrics_json(in_sup));
        json_object_set_new(o, "supervised_without_site", metrics_json(x_sup));
        json_object_set_new(o, "probe_drop_balanced_accuracy", json_real(in_lin[1] - x_lin[1]));
        if (isfinite(x_sup[1]))
            json_object_set_new(o, "supervised_drop_balanced_accuracy", json_real(in_sup[1] - x_sup[1]));
        json_array_append_new(sites_j, o);
    }
    free(sp2);

    /* 6. report */
    char *cfg = run_config_to_json(&pc);
    json_object_set_new(rep, "labelfree_version", json_string(LF_VERSION));
    json_object_set_new(rep, "data", json_string(e.base.data));
    json_object_set_new(rep, "items", json_integer(e.n));
    json_object_set_new(rep, "classes", json_integer(e.K));
    json_t *cn = json_array();
    for (int k = 0; k < e.K; k++) json_array_append_new(cn, json_string(lf_dataset_class_name(ds, k)));
    json_object_set_new(rep, "class_names", cn);
    json_object_set_new(rep, "train_items", json_integer(n_train));
    json_object_set_new(rep, "validation_carved_from_train", json_integer(carved));
    json_object_set_new(rep, "test_items", json_integer(n_test));
    json_object_set_new(rep, "pretrain_config", json_loads(cfg, 0, NULL));
    lf_free(cfg);
    json_t *pre = json_object();
    json_object_set_new(pre, "steps", json_integer(pre_sum.steps));
    json_object_set_new(pre, "seconds", json_real(pre_sum.seconds));
    json_object_set_new(pre, "images_per_s", json_real(pre_sum.images_per_s));
    json_object_set_new(pre, "final_loss", json_real(pre_sum.final_loss));
    json_object_set_new(rep, "pretrain", pre);
    json_t *proto = json_object();
    json_object_set_new(proto, "linear", json_string("multinomial logistic regression, L2, features standardised on the training split, C from 10^-4..10^4 by validation balanced accuracy"));
    json_object_set_new(proto, "knn", json_pack("{s:i, s:f, s:s}", "k", e.knn.knn.k, "temperature", e.knn.knn.temperature, "similarity", "cosine"));
    json_object_set_new(proto, "repeats", json_integer(e.repeats));
    json_object_set_new(proto, "seed", json_integer(e.base.seed));
    json_object_set_new(proto, "supervised_min_steps", json_integer(e.sup_min_steps));
    json_object_set_new(rep, "protocol", proto);
    json_object_set_new(rep, "probe_linear", probe_json(res_lin));
    json_object_set_new(rep, "probe_knn", probe_json(res_knn));
    json_object_set_new(rep, "supervised", sup);
    json_object_set_new(rep, "cross_site", sites_j);
    json_object_set_new(rep, "seconds", json_real(now_seconds() - t_start));
    snprintf(path, sizeof path, "%s/report.json", e.dir);
    if (json_dump_file(rep, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
        fprintf(stderr, "labelfree evaluate: cannot write %s\n", path);
        goto done;
    }
    if (report_markdown(e.dir, rep)) goto done;
    /* plots */
    {
        const lf_probe_result *rs[2] = {res_lin, res_knn};
        const char *M = !strcmp(e.base.method, "mae") ? "MAE" : "SimCLR";
        char lin_nm[48], knn_nm[48];
        snprintf(lin_nm, sizeof lin_nm, "%s + linear probe", M);
        snprintf(knn_nm, sizeof knn_nm, "%s + k-NN", M);
        const char *nm[2] = {lin_nm, knn_nm};
        snprintf(path, sizeof path, "%s/label_efficiency.svg", e.dir);
        lf_svg_label_efficiency(path, rs, nm, 2, LF_PROBE_BACC);
        if (!skip_sup) {
            /* the same plot with the supervised baseline as a third line */
            double xs[MAX_FRACTIONS], ys[MAX_FRACTIONS], y1[MAX_FRACTIONS], y2[MAX_FRACTIONS];
            double e1[MAX_FRACTIONS], e2[MAX_FRACTIONS];
            for (int f = 0; f < e.nf; f++) {
                xs[f] = e.fractions[f];
                ys[f] = sup_m[f * 4 + 1];
                y1[f] = res_lin->rows[f].metric[LF_PROBE_BACC].mean;
                e1[f] = res_lin->rows[f].metric[LF_PROBE_BACC].sd;
                y2[f] = res_knn->rows[f].metric[LF_PROBE_BACC].mean;
                e2[f] = res_knn->rows[f].metric[LF_PROBE_BACC].sd;
            }
            lf_svg_series ser[3] = {{lin_nm, xs, y1, e1, e.nf},
                                    {knn_nm, xs, y2, e2, e.nf},
                                    {"supervised from scratch", xs, ys, NULL, e.nf}};
            lf_svg_lines(path, ser, 3, "Label efficiency (test balanced accuracy)", "fraction of training labels",
                         "balanced accuracy", 1, 0);
        }
        double *lx = NULL, *ly = NULL;
        char mj[4300];
        snprintf(mj, sizeof mj, "%s/metrics.jsonl", pdir);
        int nl = read_loss_curve(mj, &lx, &ly);
        if (nl > 0) {
            lf_svg_series ls = {"NT-Xent", lx, ly, NULL, nl};
            snprintf(path, sizeof path, "%s/loss.svg", e.dir);
            lf_svg_lines(path, &ls, 1, "Pretraining loss", "step", "loss", 0, 0);
        }
        free(lx);
        free(ly);
        double *xy = malloc((size_t)e.n * 2 * sizeof *xy);
        if (xy && lf_pca_2d(e.emb, e.n, e.d, xy, NULL) == LF_OK) {
            const char **names = malloc((size_t)e.K * sizeof *names);
            for (int k = 0; k < e.K; k++) names[k] = lf_dataset_class_name(ds, k);
            snprintf(path, sizeof path, "%s/embeddings_by_label.svg", e.dir);
            lf_svg_scatter(path, xy, e.y, e.n, e.K, names, "Embeddings (PCA), by label");
            free(names);
            if (n_sites >= 2) {
                int64_t *sid = malloc((size_t)e.n * sizeof *sid);
                for (int64_t i = 0; i < e.n; i++) {
                    sid[i] = -1;
                    for (int s = 0; s < n_sites; s++)
                        if (!strcmp(lf_dataset_site(ds, i), sites[s])) sid[i] = s;
                }
                snprintf(path, sizeof path, "%s/embeddings_by_site.svg", e.dir);
                lf_svg_scatter(path, xy, sid, e.n, n_sites, sites, "Embeddings (PCA), by site");
                free(sid);
            }
        }
        free(xy);
    }
    fprintf(stderr, "wrote %s/report.json and %s/report.md (%.0f s)\n", e.dir, e.dir, now_seconds() - t_start);
    rc = 0;
done:
    json_decref(rep);
    lf_probe_result_free(res_lin);
    lf_probe_result_free(res_knn);
    free(sup_test_logits);
    free(test_rows);
    free(train_rows);
    free(sub);
    free(sup_m);
    free(e.emb);
    lf_free(e.y);
    lf_free(e.split);
    lf_dataset_free(ds);
    return rc;
}
