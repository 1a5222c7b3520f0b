/* JSON output of a probe result with its protocol (libjansson). */
#include "eval_internal.h"

#include <jansson.h>
#include <math.h>

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); } /* NaN -> null */

static json_t *protocol(const lf_probe_result *r)
{
    const lf_probe_opts *o = &r->opts;
    json_t *p = json_object(), *fr = json_array();
    for (int i = 0; i < o->n_fractions; i++) json_array_append_new(fr, json_real(o->fractions[i]));
    json_object_set_new(p, "classifier", json_string(o->kind == LF_PROBE_LINEAR ? "logistic_regression" : "knn"));
    json_object_set_new(p, "fractions", fr);
    json_object_set_new(p, "repeats", json_integer(o->repeats));
    json_object_set_new(p, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(p, "sampling", json_string(
        "stratified per class: max(1, round(fraction * n_class)) labelled training rows, "
        "Philox stream per (seed, fraction, repeat); fraction 1 runs once"));
    json_object_set_new(p, "metrics_on", json_string("test split"));
    if (o->kind == LF_PROBE_LINEAR) {
        json_t *cg = json_array();
        for (int i = 0; i < o->n_c; i++) json_array_append_new(cg, json_real(o->c_grid[i]));
        json_object_set_new(p, "objective", json_string(
            "multinomial log-loss summed over rows + 0.5/C * ||W||^2, intercept not penalised "
            "(sklearn LogisticRegression multinomial, l2), L-BFGS"));
        json_object_set_new(p, "standardize", json_string("mean / population sd of all training-split embeddings (labelled or not)"));
        json_object_set_new(p, "c_grid", cg);
        json_object_set_new(p, "c_selection", json_string(r->n_val > 0
            ? "best validation balanced accuracy (ties: lower validation log-loss, then smaller C); "
              "model fitted on the training subset only"
            : "no validation rows: fixed C"));
        json_object_set_new(p, "c_default", json_real(o->c_default));
        json_object_set_new(p, "max_iter", json_integer(o->logreg.max_iter));
        json_object_set_new(p, "tol", json_real(o->logreg.tol));
    } else {
        json_object_set_new(p, "similarity", json_string("cosine (L2-normalised embeddings)"));
        json_object_set_new(p, "k", json_integer(o->knn.k));
        json_object_set_new(p, "temperature", json_real(o->knn.temperature));
        json_object_set_new(p, "vote", json_string(o->knn.majority ? "majority" : "weighted exp(sim / T)"));
    }
    return p;
}

lf_status lf_probe_result_write_json(const lf_probe_result *r, const char *path,
                                     const char *meta_json)
{
    if (!r || !path) return lf_error(LF_ERR_ARG, "probe_write_json: NULL result or path");
    json_t *meta = NULL;
    if (meta_json) {
        json_error_t e;
        meta = json_loads(meta_json, 0, &e);
        if (!meta || !json_is_object(meta)) {
            json_decref(meta);
            return lf_error(LF_ERR_FORMAT, "probe_write_json: meta is not a JSON object (line %d column %d: %s)",
                            e.line, e.column, meta ? "not an object" : e.text);
        }
    }
    json_t *root = json_object(), *data = json_object(), *rows = json_array();
    json_object_set_new(root, "labelfree_version", json_string(LF_VERSION));
    json_object_set_new(root, "protocol", protocol(r));
    json_object_set_new(data, "n", json_integer(r->n));
    json_object_set_new(data, "dim", json_integer(r->d));
    json_object_set_new(data, "n_classes", json_integer(r->n_classes));
    json_object_set_new(data, "n_train", json_integer(r->n_train));
    json_object_set_new(data, "n_val", json_integer(r->n_val));
    json_object_set_new(data, "n_test", json_integer(r->n_test));
    json_object_set_new(root, "data", data);
    for (int i = 0; i < r->n_rows; i++) {
        const lf_probe_row *row = &r->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "fraction", json_real(row->fraction));
        json_object_set_new(o, "runs", json_integer(row->runs));
        json_object_set_new(o, "n_labels_mean", json_real(row->n_labels));
        for (int m = 0; m < LF_PROBE_N_METRICS; m++) {
            json_t *ms = json_object(), *runs = json_array();
            json_object_set_new(ms, "mean", num(row->metric[m].mean));
            json_object_set_new(ms, "sd", num(row->metric[m].sd));
            for (int k = 0; k < row->runs; k++)
                json_array_append_new(runs, num(row->per_run[k * LF_PROBE_N_METRICS + m]));
            json_object_set_new(ms, "runs", runs);
            json_object_set_new(o, lf_probe_metric_name(m), ms);
        }
        if (row->c_chosen) {
            json_t *cc = json_array();
            for (int k = 0; k < row->runs; k++) json_array_append_new(cc, json_real(row->c_chosen[k]));
            json_object_set_new(o, "c_chosen", cc);
        }
        json_array_append_new(rows, o);
    }
    json_object_set_new(root, "results", rows);
    if (meta) json_object_set_new(root, "meta", meta);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0) return lf_error(LF_ERR_IO, "probe_write_json: cannot write %s", path);
    return LF_OK;
}
