#include "model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lf_status model_load(const char *path, loaded_model *m)
{
    memset(m, 0, sizeof *m);
    lf_safetensors *f;
    lf_status s = lf_st_open(&f, path);
    if (s) return s;
    const char *enc = lf_st_meta(f, "encoder"), *norm = lf_st_meta(f, "normalization");
    const char *size = lf_st_meta(f, "image_size"), *method = lf_st_meta(f, "method");
    if (!enc || !norm || !size) {
        lf_st_close(f);
        return lf_error(LF_ERR_FORMAT, "%s: not a labelfree model (metadata '%s' missing); "
                        "train one with `labelfree pretrain` or `labelfree train`",
                        path, !enc ? "encoder" : !norm ? "normalization" : "image_size");
    }
    m->image_size = atoi(size);
    snprintf(m->method, sizeof m->method, "%s", method ? method : "");
    if ((s = lf_encoder_config_from_json(enc, &m->ecfg)) ||
        (s = lf_norm_stats_from_json(norm, &m->norm))) {
        lf_st_close(f);
        return lf_error(s, "%s: %s", path, lf_last_error());
    }
    if ((s = lf_params_init(&m->P)) || (s = lf_encoder_init(m->P, &m->ecfg, NULL, &m->enc)) ||
        (s = lf_params_finalize(m->P)) ||
        (s = lf_st_load_params(f, m->P, "", LF_LOAD_ALLOW_UNEXPECTED))) {
        lf_st_close(f);
        model_free(m);
        return s;
    }
    lf_st_close(f);
    return LF_OK;
}

void model_free(loaded_model *m)
{
    if (m->enc) lf_encoder_free(m->enc);
    if (m->P) lf_params_free(m->P);
    m->enc = NULL;
    m->P = NULL;
}

lf_status model_infer(loaded_model *m, const lf_dataset *ds, const int64_t *idx, int64_t n,
                      int logits, int batch_size, float *out, int64_t *dim)
{
    lf_loader_config lc = lf_loader_config_default();
    lc.batch_size = batch_size;
    lc.views = 1;
    lc.shuffle = 0;
    lc.drop_last = 0;
    lc.split = LF_SPLIT_ALL;
    lc.indices = idx;
    lc.n_indices = n;
    lc.aug = lf_augment_none(m->image_size, m->image_size);
    lc.norm = &m->norm;
    lf_loader *L;
    lf_status s = lf_loader_create(&L, ds, &lc);
    if (s) return s;
    lf_graph *g;
    if ((s = lf_graph_init(&g, 0))) {
        lf_loader_free(L);
        return s;
    }
    lf_graph_set_training(g, 0);
    lf_graph_set_grad_enabled(g, 0);
    lf_graph_set_frozen_weights(g, 1); /* the model does not change while this graph lives */
    int64_t d = logits ? m->ecfg.num_classes : lf_encoder_feature_dim(m->enc);
    *dim = d;
    int64_t done = 0, nb = lf_loader_batches_per_epoch(L);
    for (int64_t q = 0; q < nb && s == LF_OK; q++) {
        const lf_batch *b;
        if ((s = lf_loader_next(L, &b))) break;
        lf_graph_reset(g);
        int64_t shape[4] = {b->n, b->c, b->h, b->w};
        lf_tensor *x = lf_tensor_from(g, 4, shape, b->view[0]);
        lf_tensor *y = logits ? lf_encoder_forward(g, m->enc, x) : lf_encoder_features(g, m->enc, x);
        if (!y) {
            s = lf_last_status();
            break;
        }
        for (int64_t i = 0; i < b->n; i++)
            for (int64_t k = 0; k < d; k++) out[(done + i) * d + k] = (float)y->data[i * d + k];
        done += b->n;
    }
    if (s == LF_OK && done != n)
        s = lf_error(LF_ERR_STATE, "inference produced %lld rows for %lld items", (long long)done,
                     (long long)n);
    lf_graph_free(g);
    lf_loader_free(L);
    return s;
}
