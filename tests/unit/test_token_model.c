/* The masked-token transformer (lf_token_model, lf_mlm_mask, lf_mlm_loss): PyTorch parity
 * of hidden states, logits, loss and every gradient (fixture from tests/parity/gen_tokens.py,
 * float64 reference), BERT's masking rule and its statistics, argument errors, no malloc in
 * steady training steps, and recomputation giving the same step. */
#include "nn_fixture.h"
#include "test.h"

#include "../../src/core/internal.h" /* the arena's block heap threshold */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "tests/parity/fixtures/tokens/tokens_tiny.bin"

/* the fixture's model: 4^2 two-mers + 5 special ids, pad id 0 */
static lf_token_model_config tiny_config(void)
{
    lf_token_model_config c = lf_token_model_config_default();
    c.vocab = 21;
    c.max_len = 12;
    c.width = 32;
    c.depth = 2;
    c.heads = 4;
    c.pad_id = 0;
    return c;
}

/* a fixture tensor of integer values as int64 (malloc'd) */
static int64_t *ids_of(const nnfx_tensor *t)
{
    if (!t) return NULL;
    int64_t *v = malloc((size_t)t->numel * sizeof *v);
    for (int64_t i = 0; v && i < t->numel; i++) v[i] = (int64_t)t->data[i];
    return v;
}

TEST(token_model_parity_train)
{
    nnfx *f = nnfx_load(FIXTURE);
    CHECK(f != NULL);
    if (!f) return;
    lf_token_model_config c = tiny_config();
    lf_params *P;
    lf_token_model *m = NULL;
    CHECK_OK(lf_params_init(&P));
    CHECK_OK(lf_token_model_init(P, &c, NULL, &m));
    CHECK_OK(lf_params_finalize(P));
    const nnfx_tensor *fi = nnfx_get(f, "ids");
    int64_t *ids = ids_of(fi), *targets = ids_of(nnfx_get(f, "targets"));
    if (m && ids && targets && fi->ndim == 2 && nnfx_load_params(P, f)) {
        int64_t N = fi->shape[0], T = fi->shape[1];
        lf_graph *g;
        CHECK_OK(lf_graph_init(&g, 0));
        lf_graph_set_training(g, 1);
        lf_params_zero_grad(P);
        lf_tensor *h = lf_token_model_forward(g, m, ids, N, T);
        lf_tensor *logits = lf_token_model_logits(g, m, h);
        lf_tensor *loss = lf_mlm_loss(g, logits, targets);
        CHECK_MSG(loss != NULL, "forward: %s", lf_last_error());
        if (loss) {
            CHECK_OK(lf_backward(g, loss));
            nnfx_worst wo = {"out", 0, "", 0, 0, 0}, wg = {"grad", 0, "", 0, 0, 0};
            nnfx_cmp(&wo, "hidden", h->data, nnfx_get(f, "hidden"), lf_numel(h));
            nnfx_cmp(&wo, "logits", logits->data, nnfx_get(f, "logits"), lf_numel(logits));
            nnfx_cmp(&wo, "loss", loss->data, nnfx_get(f, "loss"), 1);
            char key[160];
            for (int i = 0; i < lf_params_count(P); i++) {
                lf_tensor *t = lf_params_get(P, i);
                snprintf(key, sizeof key, "grad/%s", t->name);
                nnfx_cmp(&wg, t->name, t->grad, nnfx_get(f, key), lf_numel(t));
            }
            nnfx_report(&wo);
            nnfx_report(&wg);
            CHECK(wg.n == lf_params_count(P)); /* every parameter compared */
        }
        lf_graph_free(g);
    }
    free(ids);
    free(targets);
    nnfx_free(f);
    lf_token_model_free(m);
    lf_params_free(P);
}

/* ids (N, T) of a 6-mer vocabulary: [CLS] first, [SEP] last, some sequences padded */
enum { V6 = 4101, PAD = 0, CLS = 2, SEP = 3, MASK = 4 };
static void sample_ids(int64_t *ids, int64_t N, int64_t T, uint64_t seed)
{
    lf_rng r = lf_rng_make(seed, 0);
    for (int64_t n = 0; n < N; n++) {
        int64_t len = n % 4 == 3 ? T - 1 - (int64_t)lf_rng_below(&r, (uint32_t)(T / 2)) : T;
        for (int64_t t = 0; t < T; t++)
            ids[n * T + t] = t == 0 ? CLS : t == len - 1 ? SEP : t >= len ? PAD
                                                                           : 5 + lf_rng_below(&r, V6 - 5);
    }
}

TEST(mlm_mask_bert_rule_statistics)
{
    enum { N = 64, T = 128 };
    static int64_t ids[N * T], in[N * T], tg[N * T], in2[N * T], tg2[N * T];
    sample_ids(ids, N, T, 1);
    lf_mlm_mask_config c = lf_mlm_mask_config_default(V6, MASK, 5);
    lf_rng r = lf_rng_make(7, 3);
    int64_t nsel = -1;
    CHECK_OK(lf_mlm_mask(&c, &r, ids, N, T, in, tg, &nsel));
    int64_t cand = 0, sel = 0, masked = 0, random = 0, kept = 0, bad = 0, random_special = 0;
    for (int64_t i = 0; i < N * T; i++) {
        int special = ids[i] < 5;
        cand += !special;
        if (tg[i] == LF_MLM_IGNORE) {
            bad += in[i] != ids[i]; /* an unselected position keeps its id */
            continue;
        }
        sel++;
        bad += special || tg[i] != ids[i]; /* never special; the target is the original */
        if (in[i] == MASK) masked++;
        else if (in[i] == ids[i]) kept++;
        else {
            random++;
            random_special += in[i] < 5;
        }
    }
    CHECK_MSG(bad == 0, "%lld positions break the rule", (long long)bad);
    CHECK_MSG(random_special == 0, "%lld random replacements are special ids",
              (long long)random_special);
    CHECK(nsel == sel);
    /* bounds of about 5 standard deviations: ~7200 candidates, ~1080 selected */
    double fs = (double)sel / (double)cand;
    double fm = (double)masked / (double)sel, fr = (double)random / (double)sel,
           fk = (double)kept / (double)sel;
    printf("    selected %.4f of %lld, of them mask %.3f random %.3f kept %.3f\n", fs,
           (long long)cand, fm, fr, fk);
    CHECK_MSG(fabs(fs - 0.15) < 0.021, "selected fraction %.4f", fs);
    CHECK_MSG(fabs(fm - 0.8) < 0.06, "mask fraction %.4f", fm);
    CHECK_MSG(fabs(fr - 0.1) < 0.045, "random fraction %.4f", fr);
    CHECK_MSG(fabs(fk - 0.1) < 0.045, "kept fraction %.4f", fk);

    /* random replacements only, from a vocabulary of 5 special and 3 ordinary ids: never a
     * special id, each ordinary one about a third of the time */
    lf_mlm_mask_config c8 = lf_mlm_mask_config_default(8, MASK, 5);
    c8.prob = 1, c8.mask_frac = 0, c8.random_frac = 1;
    for (int64_t i = 0; i < N * T; i++) in2[i] = 5 + i % 3;
    lf_rng r8 = lf_rng_make(8, 8);
    CHECK_OK(lf_mlm_mask(&c8, &r8, in2, N, T, in2, tg2, NULL));
    int64_t seen[8] = {0};
    for (int64_t i = 0; i < N * T; i++) seen[in2[i] & 7]++;
    CHECK_MSG(seen[0] + seen[1] + seen[2] + seen[3] + seen[4] == 0, "random ids are special");
    for (int k = 5; k < 8; k++)
        CHECK_MSG(fabs((double)seen[k] / (N * T) - 1.0 / 3) < 0.03, "id %d drawn %lld times", k,
                  (long long)seen[k]);

    /* the same rng state, the same result; in place (inputs = ids) too */
    lf_rng r2 = lf_rng_make(7, 3);
    memcpy(in2, ids, sizeof ids);
    CHECK_OK(lf_mlm_mask(&c, &r2, in2, N, T, in2, tg2, NULL));
    CHECK(memcmp(in, in2, sizeof in) == 0 && memcmp(tg, tg2, sizeof tg) == 0);
    CHECK(r2.offset == r.offset);
    /* another seed, another selection */
    lf_rng r3 = lf_rng_make(8, 3);
    CHECK_OK(lf_mlm_mask(&c, &r3, ids, N, T, in2, tg2, NULL));
    CHECK(memcmp(tg, tg2, sizeof tg) != 0);
}

TEST(mlm_mask_at_least_one_per_sequence)
{
    /* sequences of specials with one or two ordinary ids, prob tiny: each still gets one */
    enum { N = 200, T = 8 };
    int64_t ids[N * T], in[N * T], tg[N * T], nsel = 0;
    for (int64_t i = 0; i < N * T; i++) ids[i] = i % T == 0 ? CLS : PAD;
    for (int64_t n = 0; n < N; n++) {
        ids[n * T + 1 + n % 5] = 5 + n;
        if (n % 2) ids[n * T + 7] = 6 + n;
    }
    lf_mlm_mask_config c = lf_mlm_mask_config_default(V6, MASK, 5);
    c.prob = 1e-9;
    lf_rng r = lf_rng_make(1, 1);
    CHECK_OK(lf_mlm_mask(&c, &r, ids, N, T, in, tg, &nsel));
    CHECK(nsel == N);
    int64_t second = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t k = 0;
        for (int64_t t = 0; t < T; t++)
            if (tg[n * T + t] != LF_MLM_IGNORE) {
                k++;
                CHECK(ids[n * T + t] >= 5);
                second += t == 7;
            }
        CHECK_MSG(k == 1, "sequence %lld: %lld selected", (long long)n, (long long)k);
    }
    CHECK(second > 20 && second < 80); /* of the 100 with two candidates, either one */
    /* off: nothing selected, the loss over this batch would be NaN */
    c.at_least_one = 0;
    CHECK_OK(lf_mlm_mask(&c, &r, ids, N, T, in, tg, &nsel));
    CHECK(nsel == 0);
    /* only specials: nothing to select, no error */
    for (int64_t i = 0; i < N * T; i++) ids[i] = PAD;
    c.at_least_one = 1;
    CHECK_OK(lf_mlm_mask(&c, &r, ids, N, T, in, tg, &nsel));
    CHECK(nsel == 0);
}

static int has(const char *needle) { return strstr(lf_last_error(), needle) != NULL; }

TEST(token_model_argument_errors)
{
    lf_token_model_config c = tiny_config();
    CHECK_OK(lf_token_model_config_check(&c));
    c.heads = 5;
    CHECK(lf_token_model_config_check(&c) == LF_ERR_ARG && has("heads = 5"));
    c = tiny_config();
    c.pad_id = 21;
    CHECK(lf_token_model_config_check(&c) == LF_ERR_ARG && has("pad_id = 21"));
    c = tiny_config();
    c.max_len = 0;
    CHECK(lf_token_model_config_check(&c) == LF_ERR_ARG && has("max_len = 0"));
    c = tiny_config();
    c.ln_eps = 0;
    CHECK(lf_token_model_config_check(&c) == LF_ERR_ARG && has("ln_eps"));

    lf_params *P;
    lf_token_model *m = NULL;
    CHECK_OK(lf_params_init(&P));
    c = tiny_config();
    CHECK_OK(lf_token_model_init(P, &c, "enc.", &m));
    CHECK(lf_token_model_reset_parameters(m, 1, 0) == LF_ERR_STATE);
    CHECK_OK(lf_params_finalize(P));
    CHECK_OK(lf_token_model_reset_parameters(m, 1, 0));
    CHECK(lf_params_find(P, "enc.blocks.1.mlp.fc2.bias") && lf_params_find(P, "enc.pos_embed"));
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    int64_t ids[2 * 4] = {2, 5, 6, 3, 2, 7, 21, 3};
    CHECK(lf_token_model_forward(g, m, ids, 2, 4) == NULL);
    CHECK_MSG(has("id 21 at sequence 1 position 2"), "message: %s", lf_last_error());
    ids[6] = -1;
    CHECK(lf_token_model_forward(g, m, ids, 2, 4) == NULL && has("id -1 at sequence 1"));
    ids[6] = 8;
    CHECK(lf_token_model_forward(g, m, ids, 1, 13) == NULL && has("max_len 12"));
    CHECK(lf_token_model_forward(g, m, NULL, 2, 4) == NULL);
    lf_tensor *h = lf_token_model_forward(g, m, ids, 2, 4);
    CHECK(h && h->ndim == 3 && h->shape[0] == 2 && h->shape[1] == 4 && h->shape[2] == 32);
    lf_tensor *bad = lf_tensor_zeros(g, 3, (int64_t[]){2, 4, 31});
    CHECK(lf_token_model_logits(g, m, bad) == NULL && lf_last_status() == LF_ERR_SHAPE);
    lf_tensor *logits = lf_token_model_logits(g, m, h);
    int64_t tg[8] = {-100, 5, -100, -100, -100, 7, 21, -100};
    CHECK(lf_mlm_loss(g, logits, tg) == NULL && has("target[6] = 21"));
    CHECK(lf_mlm_loss(g, h, NULL) == NULL);

    lf_mlm_mask_config mc = lf_mlm_mask_config_default(21, MASK, 5);
    int64_t in[8], t8[8];
    lf_rng r = lf_rng_make(0, 0);
    ids[6] = 30;
    CHECK(lf_mlm_mask(&mc, &r, ids, 2, 4, in, t8, NULL) == LF_ERR_ARG);
    CHECK_MSG(has("id 30 at sequence 1 position 2"), "message: %s", lf_last_error());
    CHECK(r.offset == 0); /* nothing drawn */
    ids[6] = 8;
    mc.mask_frac = 0.95;
    CHECK(lf_mlm_mask(&mc, &r, ids, 2, 4, in, t8, NULL) == LF_ERR_ARG && has("mask_frac"));
    mc = lf_mlm_mask_config_default(21, 21, 5);
    CHECK(lf_mlm_mask(&mc, &r, ids, 2, 4, in, t8, NULL) == LF_ERR_ARG && has("mask_id = 21"));
    mc = lf_mlm_mask_config_default(5, MASK, 5); /* every id special, random replacement on */
    int64_t sp[2] = {1, 2};
    CHECK(lf_mlm_mask(&mc, &r, sp, 1, 2, in, t8, NULL) == LF_ERR_ARG && has("every id"));
    lf_graph_free(g);
    lf_token_model_free(m);
    lf_params_free(P);
}

/* A model of the fixture's shape (pad id 0) with fresh parameters and a graph. */
typedef struct tm_run {
    lf_params *P;
    lf_token_model *m;
    lf_graph *g;
} tm_run;

static int tm_run_init(tm_run *r, const lf_token_model_config *c)
{
    memset(r, 0, sizeof *r);
    CHECK_OK(lf_params_init(&r->P));
    CHECK_OK(lf_token_model_init(r->P, c, NULL, &r->m));
    CHECK_OK(lf_params_finalize(r->P));
    CHECK_OK(lf_token_model_reset_parameters(r->m, 11, 0));
    CHECK_OK(lf_graph_init(&r->g, 1024));
    if (!r->m || !r->g) return 0;
    lf_graph_set_training(r->g, 1);
    lf_graph_set_retain_grads(r->g, 0);
    return 1;
}

static void tm_run_free(tm_run *r)
{
    lf_graph_free(r->g);
    lf_token_model_free(r->m);
    lf_params_free(r->P);
}

/* masking, forward, loss, backward on (N, T) ids; the loss or NULL */
static lf_tensor *tm_step(tm_run *r, const int64_t *ids, int64_t N, int64_t T, lf_rng *rng,
                          int64_t *in, int64_t *tg)
{
    lf_mlm_mask_config mc = lf_mlm_mask_config_default(r->m ? lf_token_model_get_config(r->m)->vocab
                                                             : 0, MASK, 5);
    lf_graph_reset(r->g);
    if (lf_mlm_mask(&mc, rng, ids, N, T, in, tg, NULL) != LF_OK) return NULL;
    lf_tensor *h = lf_token_model_forward(r->g, r->m, in, N, T);
    lf_tensor *loss = lf_mlm_loss(r->g, lf_token_model_logits(r->g, r->m, h), tg);
    if (loss && lf_backward(r->g, loss) != LF_OK) return NULL;
    return loss;
}

/* After a few steps the arena has its high-water size: a training step (masking, forward,
 * loss, backward, AdamW) then allocates nothing, with and without the head transform. */
TEST(token_model_step_no_malloc_after_warmup)
{
    for (int transform = 0; transform < 2; transform++) {
        lf_token_model_config c = tiny_config();
        c.head_transform = transform;
        tm_run r;
        lf_optim *opt = NULL;
        if (tm_run_init(&r, &c)) {
            lf_optim_config oc = lf_optim_defaults(LF_OPTIM_ADAMW);
            CHECK_OK(lf_optim_init(&opt, r.P, &oc));
            int64_t ids[4 * 12], in[4 * 12], tg[4 * 12];
            uint64_t before = 0;
            for (int step = 0; step < 6 && opt; step++) {
                if (step == 3) before = lf_alloc_count();
                sample_ids(ids, 4, 12, (uint64_t)step);
                for (int64_t i = 0; i < 4 * 12; i++) ids[i] %= 21; /* into the tiny vocab */
                lf_rng rng = lf_rng_make(5, (uint64_t)step);
                lf_tensor *loss = tm_step(&r, ids, 4, 12, &rng, in, tg);
                CHECK_MSG(loss != NULL, "step %d: %s", step, lf_last_error());
                if (!loss) break;
                CHECK_OK(lf_optim_step(opt));
                lf_params_zero_grad(r.P);
            }
            CHECK_MSG(lf_alloc_count() == before, "head_transform %d: %llu allocations in "
                      "steady steps", transform, (unsigned long long)(lf_alloc_count() - before));
        }
        lf_optim_free(opt);
        tm_run_free(&r);
    }
}

/* One step's loss and parameter gradients, the blocks recomputed or not, with the tensors in
 * the bump arena or all in the block heap (block_min 64; see test_recompute.c). The batch
 * holds padding, so the attention mask goes through the recomputed segments too. */
static lf_real *grads_of_step(int recompute, size_t block_min, lf_real *loss_out, int64_t *n,
                              size_t *peak)
{
    lf_token_model_config c = tiny_config();
    tm_run r;
    lf_real *out = NULL;
    if (tm_run_init(&r, &c)) {
        r.g->arena.block_min = block_min;
        lf_graph_set_recompute(r.g, recompute);
        int64_t ids[5 * 12], in[5 * 12], tg[5 * 12];
        sample_ids(ids, 5, 12, 3);
        for (int64_t i = 0; i < 5 * 12; i++) ids[i] %= 21;
        lf_rng rng = lf_rng_make(9, 9);
        lf_tensor *loss = tm_step(&r, ids, 5, 12, &rng, in, tg);
        CHECK_MSG(loss != NULL, "%s", lf_last_error());
        const lf_real *gb = lf_params_grad_block(r.P, n);
        out = malloc((size_t)*n * sizeof *out);
        if (out) memcpy(out, gb, (size_t)*n * sizeof *out);
        *loss_out = loss ? loss->data[0] : NAN;
        *peak = r.g->arena.peak_all;
    }
    tm_run_free(&r);
    return out;
}

TEST(token_model_recompute_same_gradients)
{
    lf_real l0 = 0, l1 = 1, l2 = 2;
    int64_t n0 = 0, n1 = 1, n2 = 2;
    size_t p0 = 0, p1 = 0, p2 = 0;
    lf_real *g0 = grads_of_step(0, SIZE_MAX, &l0, &n0, &p0);
    lf_real *g1 = grads_of_step(1, SIZE_MAX, &l1, &n1, &p1);
    lf_real *g2 = grads_of_step(1, 64, &l2, &n2, &p2);
    CHECK(g0 && g1 && g2 && n0 == n1 && n0 == n2 && n0 > 0);
    if (g0 && g1 && g2) {
        CHECK_MSG(memcmp(g0, g1, (size_t)n0 * sizeof *g0) == 0, "gradients differ with "
                  "recomputation");
        CHECK_MSG(memcmp(g0, g2, (size_t)n0 * sizeof *g0) == 0, "gradients differ with "
                  "recomputation and the block heap");
        int64_t nz = 0;
        for (int64_t i = 0; i < n0; i++) nz += g0[i] != 0;
        CHECK(nz > n0 / 2); /* a real step, not zeros compared with zeros */
    }
    CHECK(l0 == l1 && l0 == l2 && isfinite(l0));
    CHECK_MSG(p1 < p0, "arena high-water mark with recomputation %zu, without %zu", p1, p0);
    free(g0);
    free(g1);
    free(g2);
}
