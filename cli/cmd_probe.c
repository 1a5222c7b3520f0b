/* labelfree probe --embeddings emb.npy --data DATA --out report.json: few-label evaluation of
 * frozen embeddings (logistic regression and/or k-NN at several label fractions). */
#include "cli.h"
#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_probe(int argc, char **argv)
{
    const char *emb = NULL, *data = NULL, *out = NULL, *fr = "0.01,0.1,1", *cls = "logistic";
    int64_t repeats = 5, seed = 0, k = 20;
    double knn_t = 0.07;
    cli_arg args[] = {
        {"embeddings", ARG_STR, &emb, ".npy written by `labelfree embed` (rows = items of DATA)", true, false},
        {"data", ARG_STR, &data, "the same folder or manifest (labels, splits)", true, false},
        {"out", ARG_STR, &out, "report .json to write", true, false},
        {"label-fractions", ARG_STR, &fr, "fractions of the training labels (default 0.01,0.1,1)", false, false},
        {"repeats", ARG_INT, &repeats, "random stratified subsets per fraction < 1 (default 5)", false, false},
        {"classifier", ARG_STR, &cls, "logistic | knn (default logistic)", false, false},
        {"k", ARG_INT, &k, "k-NN neighbours (default 20)", false, false},
        {"knn-temperature", ARG_REAL, &knn_t, "k-NN vote temperature (default 0.07)", false, false},
        {"seed", ARG_INT, &seed, "seed of subsets and of the split when DATA has none", false, false},
    };
    int n = (int)(sizeof args / sizeof args[0]);
    int r = cli_parse("probe", argc, argv, args, n);
    if (r) {
        if (r == 2) cli_usage("probe", "linear / k-NN probe of embeddings with few labels", args, n);
        return r == 2 ? 0 : 2;
    }
    double fractions[16];
    int nf = parse_fractions(fr, fractions, 16);
    if (nf < 1) return 2;
    lf_probe_kind kind;
    if (!strcmp(cls, "logistic")) kind = LF_PROBE_LINEAR;
    else if (!strcmp(cls, "knn")) kind = LF_PROBE_KNN;
    else {
        fprintf(stderr, "labelfree probe: --classifier must be logistic or knn, got '%s'\n", cls);
        return 2;
    }
    if (repeats < 1 || k < 1 || !(knn_t > 0)) {
        fprintf(stderr, "labelfree probe: --repeats, --k and --knn-temperature must be positive\n");
        return 2;
    }
    lf_real *X = NULL;
    int64_t rows, d;
    if (lf_npy_read_f32(emb, &X, &rows, &d)) return cli_fail("probe");
    lf_dataset *ds;
    lf_dataset_options o = lf_dataset_options_default();
    o.seed = (uint64_t)seed;
    if (lf_dataset_open(&ds, data, &o)) {
        lf_free(X);
        return cli_fail("probe");
    }
    int rc = 1;
    int64_t *y = NULL;
    int8_t *sp = NULL;
    float *Xf = NULL;
    lf_probe_result *res = NULL;
    if (rows != lf_dataset_count(ds)) {
        fprintf(stderr, "labelfree probe: %s has %lld rows but %s has %lld items (embed the same data)\n",
                emb, (long long)rows, data, (long long)lf_dataset_count(ds));
        goto done;
    }
    if (lf_dataset_num_classes(ds) < 2) {
        fprintf(stderr, "labelfree probe: %s has labels of fewer than 2 classes\n", data);
        goto done;
    }
    int64_t carved;
    y = protocol_labels(ds);
    sp = protocol_splits(ds, (uint64_t)seed, &carved);
    Xf = malloc((size_t)(rows * d) * sizeof *Xf);
    if (!y || !sp || !Xf) goto done;
    for (int64_t i = 0; i < rows * d; i++) Xf[i] = (float)X[i];
    lf_probe_opts po = lf_probe_opts_default(kind);
    po.fractions = fractions;
    po.n_fractions = nf;
    po.repeats = (int)repeats;
    po.seed = (uint64_t)seed;
    po.knn.k = (int)k;
    po.knn.temperature = knn_t;
    if (lf_probe_run(Xf, rows, d, y, sp, &po, &res)) {
        cli_fail("probe");
        goto done;
    }
    char meta[8192];
    snprintf(meta, sizeof meta, "{\"embeddings\": \"%s\", \"data\": \"%s\", \"validation_carved_from_train\": %lld}",
             emb, data, (long long)carved);
    if (lf_probe_result_write_json(res, out, meta)) {
        cli_fail("probe");
        goto done;
    }
    printf("%-9s %-10s %-18s %-18s %-18s %-18s\n", "fraction", "labels", "accuracy", "balanced_acc", "macro_f1", "macro_auroc");
    for (int i = 0; i < res->n_rows; i++) {
        const lf_probe_row *w = &res->rows[i];
        printf("%-9g %-10.1f", w->fraction, w->n_labels);
        for (int m = 0; m < LF_PROBE_N_METRICS; m++) printf(" %.4f +- %.4f   ", w->metric[m].mean, w->metric[m].sd);
        printf("\n");
    }
    fprintf(stderr, "wrote %s\n", out);
    rc = 0;
done:
    lf_probe_result_free(res);
    free(Xf);
    lf_free(y);
    lf_free(sp);
    lf_free(X);
    lf_dataset_free(ds);
    return rc;
}
