/* Weights kept in a kernel's own form between steps (lf_graph_set_frozen_weights): the
 * convolutions' Winograd-transformed and gemm-packed filters, remade every call otherwise
 * (the filter transforms were 3.4 % of a 64x64 ResNet-18 embedding profile; a 512-channel
 * layer's call turns 9.4 MB of filters into 16.8 MB: NOTES 24).
 *
 * An entry is found by the weights' address and the form's kind. The caller promises that
 * the weights do not change while the graph's weights are frozen; as a net under that
 * promise each entry keeps a fingerprint of the weights (their size and 64 floats spread
 * over them, bit for bit) and is remade when it differs, as after a checkpoint load into
 * the same tensors. Only in inference (eval mode, gradients off). */
#include "internal.h"

#include <string.h>

struct lf_weight_form {
    const lf_real *key;
    int kind;
    size_t bytes;
    uint64_t fp;
    void *buf;
};

static uint64_t fingerprint(const lf_real *w, int64_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n; /* FNV-1a over the sampled bits */
    for (int i = 0; i < 64 && n > 0; i++) {
        const lf_real v = w[(n - 1) * i / 63];
        unsigned char b[sizeof v];
        memcpy(b, &v, sizeof v);
        for (size_t k = 0; k < sizeof v; k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    return h;
}

void lf_graph_set_frozen_weights(lf_graph *g, int on)
{
    g->frozen_weights = on != 0;
    if (!on) lf_graph_weight_forms_free(g);
}

int lf_graph_frozen_weights(const lf_graph *g) { return g->frozen_weights; }

void lf_graph_weight_forms_free(lf_graph *g)
{
    for (int i = 0; i < g->n_forms; i++) lf_free(g->forms[i].buf);
    lf_free(g->forms);
    g->forms = NULL;
    g->n_forms = g->cap_forms = 0;
}

void *lf_graph_weight_form(lf_graph *g, const lf_real *w, int64_t nw, int kind, size_t bytes,
                           bool *fresh)
{
    *fresh = true;
    if (!g->frozen_weights || g->grad_enabled || g->training || !w || !bytes) return NULL;
    const uint64_t fp = fingerprint(w, nw);
    lf_weight_form *f = NULL;
    for (int i = 0; i < g->n_forms && !f; i++)
        if (g->forms[i].key == w && g->forms[i].kind == kind) f = &g->forms[i];
    if (f && f->bytes == bytes && f->fp == fp) {
        *fresh = false;
        return f->buf;
    }
    if (!f) {
        if (g->n_forms == g->cap_forms) {
            const int cap = g->cap_forms ? 2 * g->cap_forms : 32;
            lf_weight_form *m = lf_malloc((size_t)cap * sizeof *m);
            if (!m) return NULL; /* not kept: the caller's scratch does */
            if (g->n_forms) memcpy(m, g->forms, (size_t)g->n_forms * sizeof *m);
            lf_free(g->forms);
            g->forms = m;
            g->cap_forms = cap;
        }
        f = &g->forms[g->n_forms++];
        *f = (lf_weight_form){.key = w, .kind = kind};
    }
    if (f->bytes != bytes) {
        lf_free(f->buf);
        f->buf = lf_malloc(bytes);
        f->bytes = f->buf ? bytes : 0;
        if (!f->buf) return NULL;
    }
    f->fp = fp;
    return f->buf;
}
