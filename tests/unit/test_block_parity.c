/* PyTorch parity of a pre-LN ViT block (timm's Block: norm1, attn.qkv, attn.proj, norm2,
 * mlp.fc1, mlp.fc2), composed from public ops:
 *   x1 = x + proj(attention(split_heads(qkv(layer_norm1(x)))))
 *   y  = x1 + fc2(gelu(fc1(layer_norm2(x1))))
 * E = 32, 4 heads, T = 7, B = 2; loss = sum(y * lossw). Compares output, loss, the input
 * gradient and every parameter gradient with tests/parity/fixtures/ops_c/vit_block.bin
 * (float32 build, |a - b| <= 1e-4 * max(1, |b|)).
 */
#include "fixture_opsc.h"
#include "test.h"

#include <math.h>
#include <string.h>

#ifndef LF_DOUBLE


#define BLOCK_TOL 1e-4

static const char *const block_params[] = {
    "norm1.weight",   "norm1.bias",   "attn.qkv.weight", "attn.qkv.bias",
    "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
    "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",  "mlp.fc2.bias",
};
#define N_BLOCK_PARAMS ((int)(sizeof block_params / sizeof block_params[0]))

static lf_tensor *fx_param(lf_graph *g, const fxc_file *f, const char *name)
{
    const fxc_array *a = fxc_get(f, name);
    if (!a) return NULL;
    lf_tensor *t = lf_tensor_from(g, a->ndim, a->shape, a->f);
    if (t) t->flags |= LF_TENSOR_REQUIRES_GRAD;
    return t;
}

/* (B, T, E) -> (B, T, E); p: the 12 parameters in block_params order */
static lf_tensor *vit_block(lf_graph *g, lf_tensor *x, lf_tensor **p, int64_t heads, double eps)
{
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], E = x->shape[2], Dh = E / heads;
    lf_tensor *h = lf_layer_norm(g, x, p[0], p[1], eps);
    lf_tensor *qkv = lf_linear(g, h, p[2], p[3]);                          /* (B, T, 3E) */
    qkv = lf_reshape(g, qkv, 5, (int64_t[]){B, T, 3, heads, Dh});
    qkv = lf_contiguous(g, lf_permute(g, qkv, (int[]){2, 0, 3, 1, 4}));   /* (3, B, H, T, Dh) */
    lf_tensor *qkv_s[3];
    for (int i = 0; i < 3; i++)
        qkv_s[i] = lf_reshape(g, lf_slice(g, qkv, 0, i, i + 1), 4, (int64_t[]){B, heads, T, Dh});
    lf_tensor *a = lf_attention(g, qkv_s[0], qkv_s[1], qkv_s[2], NULL, 1.0 / sqrt((double)Dh));
    a = lf_reshape(g, lf_permute(g, a, (int[]){0, 2, 1, 3}), 3, (int64_t[]){B, T, E});
    lf_tensor *x1 = lf_add(g, x, lf_linear(g, a, p[4], p[5]));
    lf_tensor *m = lf_layer_norm(g, x1, p[6], p[7], eps);
    m = lf_linear(g, lf_gelu(g, lf_linear(g, m, p[8], p[9])), p[10], p[11]);
    return lf_add(g, x1, m);
}

TEST(parity_vit_block)
{
    fxc_file *f = fxc_load("vit_block");
    if (!f) return;
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *x = fx_param(g, f, "x"), *p[N_BLOCK_PARAMS];
    for (int i = 0; i < N_BLOCK_PARAMS; i++) p[i] = fx_param(g, f, block_params[i]);
    const fxc_array *lossw = fxc_get(f, "lossw"), *heads = fxc_get(f, "heads"),
                    *eps = fxc_get(f, "eps");
    lf_tensor *y = heads && eps ? vit_block(g, x, p, heads->i[0], eps->f[0]) : NULL;
    CHECK_MSG(y != NULL, "block forward: %s", lf_last_error());
    CHECK_MSG(!y || (lossw && lossw->n == lf_numel(y)), "fixture 'lossw' missing or of the wrong size");
    if (y && lossw && lossw->n == lf_numel(y)) {
        fxc_compare(f, "y", y->data, lf_numel(y), "output", BLOCK_TOL);
        lf_real loss = 0;
        for (int64_t i = 0; i < lossw->n; i++) loss += y->data[i] * lossw->f[i];
        fxc_compare(f, "loss", &loss, 1, "loss", BLOCK_TOL);
        /* d loss / d y = lossw */
        CHECK_OK(lf_backward_with(g, y, lossw->f));
        fxc_compare(f, "grad.x", x->grad, lf_numel(x), "grad x", BLOCK_TOL);
        for (int i = 0; i < N_BLOCK_PARAMS; i++) {
            char ref[80], what[80];
            snprintf(ref, sizeof ref, "grad.%s", block_params[i]);
            snprintf(what, sizeof what, "grad %s", block_params[i]);
            fxc_compare(f, ref, p[i]->grad, lf_numel(p[i]), what, BLOCK_TOL);
        }
    }
    lf_graph_free(g);
    fxc_free(f);
}

#endif
