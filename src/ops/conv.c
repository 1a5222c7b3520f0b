/* Convolution and transposed convolution, 2-D (N, C, H, W) and 3-D (N, C, D, H, W), with
 * stride, padding, dilation, groups (and output_padding for the transposed one), as
 * torch.nn.functional.conv{2,3}d / conv_transpose{2,3}d. Shapes and the tape live here; the
 * kernels are in src/backend/cpu/conv_cpu.c.
 *
 * A transposed convolution is the input-gradient of a convolution, so both run on the same
 * driver with the roles of the tensors swapped (see lf_conv_job): for conv the columns are
 * taken from x, for conv_transpose from y. */
#include "../backend/backend.h"
#include "../core/internal.h"

#include <string.h>

lf_conv_args lf_conv_args_make(int ndim_spatial, int stride, int padding, int dilation,
                               int groups)
{
    lf_conv_args a;
    memset(&a, 0, sizeof a);
    a.ndim_spatial = ndim_spatial;
    for (int i = 0; i < 3; i++) {
        a.stride[i] = stride;
        a.padding[i] = padding;
        a.dilation[i] = dilation;
        a.output_padding[i] = 0;
    }
    a.groups = groups;
    return a;
}

/* Checks x, w, b and a; fills the geometry (image side = the tensor columns come from) and
 * the output shape. Returns LF_OK or an error naming the shapes. */
static lf_status conv_setup(const char *op, int transposed, const lf_tensor *x,
                            const lf_tensor *w, const lf_tensor *b, const lf_conv_args *a,
                            lf_conv_geom *q, int64_t *yshape)
{
    char sx[96], sw[96], sb[96];
    const int nd = a->ndim_spatial;
    if (nd != 2 && nd != 3)
        return lf_error(LF_ERR_ARG, "%s: ndim_spatial is %d (2 or 3 allowed)", op, nd);
    lf_shape_str(x, sx, sizeof sx);
    lf_shape_str(w, sw, sizeof sw);
    if (x->ndim != nd + 2 || w->ndim != nd + 2)
        return lf_error(LF_ERR_SHAPE, "%s: %d-D convolution needs a %d-D input and weight, got "
                        "input %s and weight %s", op, nd, nd + 2, sx, sw);
    if (a->groups < 1) return lf_error(LF_ERR_ARG, "%s: groups is %d (>= 1)", op, a->groups);
    for (int i = 0; i < nd; i++) {
        if (a->stride[i] < 1 || a->dilation[i] < 1 || a->padding[i] < 0 ||
            (transposed && a->output_padding[i] < 0))
            return lf_error(LF_ERR_ARG, "%s: dim %d has stride %d, padding %d, dilation %d "
                            "(stride, dilation >= 1, padding >= 0)", op, i, a->stride[i],
                            a->padding[i], a->dilation[i]);
        if (transposed && a->output_padding[i] >= a->stride[i] &&
            a->output_padding[i] >= a->dilation[i])
            return lf_error(LF_ERR_ARG, "%s: output_padding %d in dim %d must be smaller than "
                            "stride %d or dilation %d", op, a->output_padding[i], i,
                            a->stride[i], a->dilation[i]);
    }
    const int64_t G = a->groups, cin = x->shape[1];
    int64_t cout;
    if (!transposed) {
        cout = w->shape[0];
        if (cin % G || cout % G)
            return lf_error(LF_ERR_SHAPE, "%s: groups %lld does not divide the channels of "
                            "input %s / weight %s", op, (long long)G, sx, sw);
        if (w->shape[1] * G != cin)
            return lf_error(LF_ERR_SHAPE, "%s: input %s has %lld channels but weight %s with "
                            "groups %lld expects %lld", op, sx, (long long)cin, sw, (long long)G,
                            (long long)(w->shape[1] * G));
    } else {
        cout = w->shape[1] * G;
        if (cin % G)
            return lf_error(LF_ERR_SHAPE, "%s: groups %lld does not divide the %lld channels of "
                            "input %s", op, (long long)G, (long long)cin, sx);
        if (w->shape[0] != cin)
            return lf_error(LF_ERR_SHAPE, "%s: input %s has %lld channels but weight %s "
                            "(Cin, Cout/groups, k...) expects %lld", op, sx, (long long)cin, sw,
                            (long long)w->shape[0]);
    }
    if (b && (b->ndim != 1 || b->shape[0] != cout))
        return lf_error(LF_ERR_SHAPE, "%s: bias %s does not match %lld output channels of "
                        "weight %s", op, lf_shape_str(b, sb, sizeof sb), (long long)cout, sw);
    /* 2-D problems get a unit depth so that one 3-D kernel serves both */
    int64_t xs[3] = {1, 1, 1}, ks[3] = {1, 1, 1}, ys[3] = {1, 1, 1};
    memset(q, 0, sizeof *q);
    for (int i = 0; i < 3; i++) q->s[i] = q->d[i] = 1;
    const int off = 3 - nd;
    for (int i = 0; i < nd; i++) {
        xs[off + i] = x->shape[2 + i];
        ks[off + i] = w->shape[2 + i];
        q->s[off + i] = a->stride[i];
        q->p[off + i] = a->padding[i];
        q->d[off + i] = a->dilation[i];
        const int64_t span = (int64_t)a->dilation[i] * (ks[off + i] - 1) + 1;
        if (!transposed) {
            const int64_t padded = xs[off + i] + 2 * (int64_t)a->padding[i];
            if (span > padded)
                return lf_error(LF_ERR_SHAPE, "%s: kernel of weight %s spans %lld in spatial "
                                "dim %d (dilation %d) but input %s padded by %d has %lld", op, sw,
                                (long long)span, i, a->dilation[i], sx, a->padding[i],
                                (long long)padded);
            ys[off + i] = (padded - span) / a->stride[i] + 1;
        } else {
            ys[off + i] = (xs[off + i] - 1) * a->stride[i] - 2 * (int64_t)a->padding[i] + span +
                          a->output_padding[i];
            if (ys[off + i] < 1)
                return lf_error(LF_ERR_SHAPE, "%s: input %s with weight %s, stride %d, padding "
                                "%d gives output size %lld in spatial dim %d", op, sx, sw,
                                a->stride[i], a->padding[i], (long long)ys[off + i], i);
        }
    }
    if (x->shape[0] < 0 || cin < 1 || cout < 1)
        return lf_error(LF_ERR_SHAPE, "%s: empty channels in input %s / weight %s", op, sx, sw);
    q->groups = G;
    for (int i = 0; i < 3; i++) q->k[i] = ks[i];
    if (!transposed) {
        q->ci = cin;
        q->co = cout;
        memcpy(q->in, xs, sizeof xs);
        memcpy(q->out, ys, sizeof ys);
    } else {
        q->ci = cout;
        q->co = cin;
        memcpy(q->in, ys, sizeof ys);
        memcpy(q->out, xs, sizeof xs);
    }
    yshape[0] = x->shape[0];
    yshape[1] = cout;
    for (int i = 0; i < nd; i++) yshape[2 + i] = ys[off + i];
    return LF_OK;
}

static int64_t spatial(const lf_tensor *t)
{
    int64_t n = 1;
    for (int i = 2; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* The backward of both ops. conv: dW += dy cols(x)^T, dx = col2im(W^T dy);
 * conv_transpose (y = col2im(W^T x)): dW += x cols(dy)^T, dx = W cols(dy). */
static lf_status conv_backward_common(lf_graph *g, lf_node *n, int transposed)
{
    const lf_conv_geom *q = n->saved;
    lf_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL, *y = n->out;
    lf_conv_job j;
    memset(&j, 0, sizeof j);
    j.n = x->shape[0];
    j.w = w->data;
    if (!transposed) {
        j.colside = y->grad;
        if (lf_needs_grad(w)) {
            j.img = x->data;
            j.dw = w->grad;
        }
        if (lf_needs_grad(x)) j.img_out = x->grad;
    } else {
        if (lf_needs_grad(w)) {
            j.colside = x->data;
            j.dw = w->grad;
        }
        if (lf_needs_grad(x)) {
            j.colside_out = x->grad;
            j.accumulate = 1;
        }
        if (j.dw || j.colside_out) j.img = y->grad;
    }
    if (j.dw || j.img_out || j.colside_out) {
        lf_status s = lf_backend_for(x->device)->conv(g, q, &j);
        if (s != LF_OK) return s;
    }
    if (lf_needs_grad(b))
        lf_backend_for(y->device)->conv_bias_backward(y->grad, b->grad, y->shape[0], y->shape[1],
                                                      spatial(y));
    return LF_OK;
}

static lf_status conv_backward(lf_graph *g, lf_node *n) { return conv_backward_common(g, n, 0); }

static lf_status conv_transpose_backward(lf_graph *g, lf_node *n)
{
    return conv_backward_common(g, n, 1);
}

/* The forward of both ops: the columns come from x for conv, from y for conv_transpose.
 * ep (conv without bias, nothing recorded; see lf_conv_bn_act): applied to the output by the
 * kernels, with res (or NULL) as its residual. */
static lf_tensor *conv_forward_common(lf_graph *g, int transposed, lf_tensor *x, lf_tensor *w,
                                      lf_tensor *b, lf_conv_args a, lf_conv_epilogue *ep,
                                      lf_tensor *res)
{
    const char *op = transposed ? "conv_transpose" : "conv";
    if (!x || !w) return NULL;
    lf_conv_geom q;
    int64_t ys[LF_MAX_DIMS];
    if (conv_setup(op, transposed, x, w, b, &a, &q, ys) != LF_OK) return NULL;
    if (ep && res) {
        bool same = res->ndim == x->ndim;
        for (int i = 0; same && i < x->ndim; i++) same = res->shape[i] == ys[i];
        if (!same) {
            char sr[96], sy[96];
            lf_tensor t = {.ndim = x->ndim};
            memcpy(t.shape, ys, sizeof(int64_t) * (size_t)x->ndim);
            lf_error(LF_ERR_SHAPE, "conv_bn_act: residual %s does not match the convolution's "
                     "output %s", lf_shape_str(res, sr, sizeof sr),
                     lf_shape_str(&t, sy, sizeof sy));
            return NULL;
        }
        if (!(res = lf_contiguous(g, res))) return NULL;
        ep->res = res->data;
    }
    x = lf_contiguous(g, x);
    w = lf_contiguous(g, w);
    if (b && !(b = lf_contiguous(g, b))) return NULL;
    if (!x || !w) return NULL;
    lf_tensor *ins[3] = {x, w, b};
    const int n_in = b ? 3 : 2;
    lf_tensor *y = lf_op_output(g, x->ndim, ys, ins, n_in);
    if (!y) return NULL;
    lf_conv_job j;
    memset(&j, 0, sizeof j);
    j.n = x->shape[0];
    j.w = w->data;
    j.ep = ep;
    if (!transposed) {
        j.img = x->data;
        j.colside_out = y->data;
    } else {
        memset(y->data, 0, (size_t)lf_numel(y) * sizeof(lf_real)); /* col2im adds into it */
        j.colside = x->data;
        j.img_out = y->data;
    }
    if (lf_backend_for(x->device)->conv(g, &q, &j) != LF_OK) return NULL;
    if (b) lf_backend_for(y->device)->conv_bias_forward(y->data, b->data, ys[0], ys[1], spatial(y));
    lf_node *n = lf_record(g, op, transposed ? conv_transpose_backward : conv_backward, y, ins,
                           n_in);
    if (n) {
        lf_conv_geom *s = lf_graph_alloc(g, sizeof *s);
        if (!s) return NULL;
        *s = q;
        n->saved = s;
    }
    return y;
}

lf_tensor *lf_conv(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b, lf_conv_args a)
{
    return conv_forward_common(g, 0, x, w, b, a, NULL, NULL);
}

lf_tensor *lf_conv_transpose(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *b,
                             lf_conv_args a)
{
    return conv_forward_common(g, 1, x, w, b, a, NULL, NULL);
}

/* True when conv + batch norm can run as one op: eval mode (running statistics) and nothing
 * to record */
static bool bn_fusable(const lf_graph *g, lf_tensor *x, lf_tensor *w, lf_tensor *bn_weight,
                       lf_tensor *bn_bias, lf_tensor *running_mean, lf_tensor *running_var,
                       lf_tensor *res)
{
    const bool records = g->grad_enabled && (lf_needs_grad(x) || lf_needs_grad(w) ||
                                             lf_needs_grad(bn_weight) || lf_needs_grad(bn_bias) ||
                                             lf_needs_grad(res));
    return !g->training && running_mean && running_var && !records;
}

/* The epilogue of eval-mode batch norm (+ relu) for w's output channels; constants in g's
 * arena. LF_OK or the parameters' error. */
static lf_status bn_epilogue(lf_graph *g, lf_tensor *w, lf_tensor *bn_weight, lf_tensor *bn_bias,
                             lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                             double eps, int relu, lf_conv_epilogue *ep)
{
    const int64_t co = w->ndim >= 1 ? w->shape[0] : 0;
    lf_real *k3 = lf_graph_alloc(g, 3 * (size_t)(co > 0 ? co : 1) * sizeof(lf_real));
    if (!k3) return LF_ERR_NOMEM;
    lf_status s = lf_bn_eval_constants(bn_weight, bn_bias, running_mean, running_var, momentum,
                                       eps, co, k3, k3 + co, k3 + 2 * co);
    *ep = (lf_conv_epilogue){.mean = k3, .a = k3 + co, .k = k3 + 2 * co, .relu = relu != 0};
    return s;
}

lf_tensor *lf_conv_bn_act(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                          lf_tensor *bn_weight, lf_tensor *bn_bias, lf_tensor *running_mean,
                          lf_tensor *running_var, double momentum, double eps, lf_tensor *res,
                          int relu)
{
    if (!x || !w) return NULL;
    /* batch statistics or a tape to record: the two ops */
    if (!bn_fusable(g, x, w, bn_weight, bn_bias, running_mean, running_var, res))
        return lf_batch_norm_add_relu(g, lf_conv(g, x, w, NULL, a), bn_weight, bn_bias,
                                      running_mean, running_var, momentum, eps, res, relu);
    lf_conv_epilogue ep;
    if (bn_epilogue(g, w, bn_weight, bn_bias, running_mean, running_var, momentum, eps, relu,
                    &ep) != LF_OK)
        return NULL;
    return conv_forward_common(g, 0, x, w, NULL, a, &ep, res);
}

/* Images per chunk of lf_conv_bn_act_pool: about 1 MB of convolution output per thread,
 * which the caches hold until it is pooled, and at least 4 images a thread; then as many as
 * the backend needs to run a chunk the way it runs the batch (the same bits; see
 * conv_chunk). Tests set less to get several chunks from small images. */
static _Atomic int64_t pool_chunk_bytes = 1 << 20;

void lf_conv_pool_chunk_force(int64_t bytes_per_thread)
{
    pool_chunk_bytes = bytes_per_thread > 0 ? bytes_per_thread : 1 << 20;
}

lf_tensor *lf_conv_bn_act_pool(lf_graph *g, lf_tensor *x, lf_tensor *w, lf_conv_args a,
                               lf_tensor *bn_weight, lf_tensor *bn_bias,
                               lf_tensor *running_mean, lf_tensor *running_var, double momentum,
                               double eps, int relu, int pool_kernel, int pool_stride,
                               int pool_padding)
{
    const int nd = a.ndim_spatial;
    if (!x || !w) return NULL;
    if (!bn_fusable(g, x, w, bn_weight, bn_bias, running_mean, running_var, NULL))
        return lf_max_pool(g,
                           lf_conv_bn_act(g, x, w, a, bn_weight, bn_bias, running_mean,
                                          running_var, momentum, eps, NULL, relu),
                           nd, pool_kernel, pool_stride, pool_padding);
    lf_conv_geom q;
    lf_tensor yc = {.ndim = x->ndim}; /* the convolution's output: its shape only */
    int64_t ps[LF_MAX_DIMS];
    lf_conv_epilogue ep;
    if (conv_setup("conv", 0, x, w, NULL, &a, &q, yc.shape) != LF_OK ||
        lf_max_pool_into(&yc, nd, pool_kernel, pool_stride, pool_padding, ps, NULL, NULL,
                         false) !=
            LF_OK ||
        bn_epilogue(g, w, bn_weight, bn_bias, running_mean, running_var, momentum, eps, relu,
                    &ep) != LF_OK)
        return NULL;
    x = lf_contiguous(g, x);
    w = lf_contiguous(g, w);
    if (!x || !w) return NULL;
    lf_tensor *y = lf_op_output(g, x->ndim, ps, LF_IN(x, w));
    if (!y) return NULL;
    const int64_t n = x->shape[0];
    if (n == 0) return y;
    const int64_t per_in = lf_numel(x) / n;
    const int64_t per_out = lf_numel(y) / n;
    const int64_t per_conv = q.co * q.out[0] * q.out[1] * q.out[2];
    const int64_t T = lf_get_threads();
    int64_t chunk = T * (pool_chunk_bytes / (per_conv * (int64_t)sizeof(lf_real) + 1));
    if (chunk < 4 * T) chunk = 4 * T;
    chunk = lf_backend_for(x->device)->conv_chunk(&q, n, chunk);
    /* a last chunk shorter than chunk joins the one before it: up to 2 chunk - 1 images */
    const int64_t most = n < 2 * chunk ? n : 2 * chunk - 1;
    lf_real *buf = lf_graph_alloc(g, (size_t)(most * per_conv) * sizeof(lf_real));
    if (!buf) return NULL;
    for (int64_t b0 = 0; b0 < n;) {
        const int64_t m = n - b0 < 2 * chunk ? n - b0 : chunk;
        lf_conv_job j = {.n = m, .w = w->data, .img = x->data + b0 * per_in,
                         .colside_out = buf, .ep = &ep};
        if (lf_backend_for(x->device)->conv(g, &q, &j) != LF_OK) return NULL;
        yc.shape[0] = m;
        /* after the ReLU nothing is NaN or below +0: the plain-maximum pooling */
        if (lf_max_pool_into(&yc, nd, pool_kernel, pool_stride, pool_padding, NULL, buf,
                             y->data + b0 * per_out, relu != 0) != LF_OK)
            return NULL;
        b0 += m;
    }
    return y;
}
