/* BERT's masking of token ids for masked-token pretraining (the rule is documented with
 * lf_mlm_mask in labelfree.h). Serial on purpose: the draws come in one fixed order, so a
 * seed gives one result whatever the thread count. */
#include "../core/internal.h"

#include <string.h>

lf_mlm_mask_config lf_mlm_mask_config_default(int64_t vocab, int64_t mask_id, int n_special)
{
    lf_mlm_mask_config c;
    memset(&c, 0, sizeof c);
    c.vocab = vocab;
    c.mask_id = mask_id;
    c.n_special = n_special < 0 ? 0 : n_special > LF_MLM_MAX_SPECIAL ? LF_MLM_MAX_SPECIAL
                                                                      : n_special;
    for (int i = 0; i < c.n_special; i++) c.special[i] = i;
    c.prob = 0.15;
    c.mask_frac = 0.8;
    c.random_frac = 0.1;
    c.at_least_one = 1;
    return c;
}

static int is_special(const lf_mlm_mask_config *c, int64_t id)
{
    for (int i = 0; i < c->n_special; i++)
        if (c->special[i] == id) return 1;
    return 0;
}

static lf_status check_config(const lf_mlm_mask_config *c)
{
    if (c->vocab < 1 || c->vocab > ((int64_t)1 << 31))
        return lf_error(LF_ERR_ARG, "mlm mask: vocab = %lld must be in 1..2^31",
                        (long long)c->vocab);
    if (c->mask_id < 0 || c->mask_id >= c->vocab)
        return lf_error(LF_ERR_ARG, "mlm mask: mask_id = %lld is outside [0, %lld)",
                        (long long)c->mask_id, (long long)c->vocab);
    if (c->n_special < 0 || c->n_special > LF_MLM_MAX_SPECIAL)
        return lf_error(LF_ERR_ARG, "mlm mask: n_special = %d outside 0..%d", c->n_special,
                        LF_MLM_MAX_SPECIAL);
    int distinct = 0;
    for (int i = 0; i < c->n_special; i++) {
        if (c->special[i] < 0 || c->special[i] >= c->vocab)
            return lf_error(LF_ERR_ARG, "mlm mask: special[%d] = %lld is outside [0, %lld)", i,
                            (long long)c->special[i], (long long)c->vocab);
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= c->special[j] == c->special[i];
        distinct += !seen;
    }
    if (!(c->prob > 0 && c->prob <= 1))
        return lf_error(LF_ERR_ARG, "mlm mask: prob = %g must be in (0, 1]", c->prob);
    if (!(c->mask_frac >= 0 && c->random_frac >= 0 && c->mask_frac + c->random_frac <= 1))
        return lf_error(LF_ERR_ARG, "mlm mask: mask_frac %g and random_frac %g must be >= 0 "
                        "with a sum <= 1", c->mask_frac, c->random_frac);
    if (c->random_frac > 0 && distinct >= c->vocab)
        return lf_error(LF_ERR_ARG, "mlm mask: random_frac %g but every id of the vocabulary "
                        "is special", c->random_frac);
    return LF_OK;
}

/* a uniform id that is not special (rejection; check_config made sure one exists) */
static int64_t random_id(const lf_mlm_mask_config *c, lf_rng *rng)
{
    int64_t id;
    do id = (int64_t)lf_rng_below(rng, (uint32_t)c->vocab);
    while (is_special(c, id));
    return id;
}

/* One sequence: selects positions (targets), then replaces their inputs. Returns the count. */
static int64_t mask_sequence(const lf_mlm_mask_config *c, lf_rng *rng, const int64_t *ids,
                             int64_t T, int64_t *in, int64_t *tg)
{
    int64_t selected = 0, candidates = 0;
    for (int64_t t = 0; t < T; t++) {
        tg[t] = LF_MLM_IGNORE;
        if (is_special(c, ids[t])) continue;
        candidates++;
        if (lf_rng_uniform(rng) < c->prob) {
            tg[t] = ids[t];
            selected++;
        }
    }
    if (selected == 0 && candidates > 0 && c->at_least_one) {
        int64_t k = (int64_t)lf_rng_below(rng, (uint32_t)candidates);
        for (int64_t t = 0; t < T; t++)
            if (!is_special(c, ids[t]) && k-- == 0) {
                tg[t] = ids[t];
                selected = 1;
                break;
            }
    }
    /* in may be ids: the original id lives on in tg from here */
    for (int64_t t = 0; t < T; t++) {
        in[t] = ids[t];
        if (tg[t] == LF_MLM_IGNORE) continue;
        double r = lf_rng_uniform(rng);
        if (r < c->mask_frac) in[t] = c->mask_id;
        else if (r < c->mask_frac + c->random_frac) in[t] = random_id(c, rng);
    }
    return selected;
}

lf_status lf_mlm_mask(const lf_mlm_mask_config *c, lf_rng *rng, const int64_t *ids, int64_t N,
                      int64_t T, int64_t *inputs, int64_t *targets, int64_t *n_selected)
{
    if (!c || !rng || !ids || !inputs || !targets)
        return lf_error(LF_ERR_ARG, "lf_mlm_mask: NULL argument");
    if (N < 1 || T < 1)
        return lf_error(LF_ERR_ARG, "mlm mask: ids of shape (%lld, %lld)", (long long)N,
                        (long long)T);
    lf_status s = check_config(c);
    if (s != LF_OK) return s;
    for (int64_t i = 0; i < N * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return lf_error(LF_ERR_ARG, "mlm mask: id %lld at sequence %lld position %lld is "
                            "outside the vocabulary [0, %lld)", (long long)ids[i],
                            (long long)(i / T), (long long)(i % T), (long long)c->vocab);
    int64_t total = 0;
    for (int64_t n = 0; n < N; n++)
        total += mask_sequence(c, rng, ids + n * T, T, inputs + n * T, targets + n * T);
    if (n_selected) *n_selected = total;
    return LF_OK;
}
