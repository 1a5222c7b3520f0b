/* Optimizers: trajectories against torch (fixtures from tests/parity/gen_optim.py), schedule
 * shape, EMA, gradient clipping, state save/restore and no allocation per step. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static lf_params *make_params(lf_tensor **w, lf_tensor **b, lf_tensor **s, lf_tensor **rb)
{
    lf_params *P;
    if (lf_params_init(&P) != LF_OK) return NULL;
    *w = lf_param_add(P, "w", 2, (int64_t[]){4, 5}, 0);
    *rb = lf_param_add(P, "rb", 1, (int64_t[]){3}, LF_TENSOR_BUFFER); /* must stay untouched */
    *b = lf_param_add(P, "b", 1, (int64_t[]){5}, LF_TENSOR_NO_DECAY);
    *s = lf_param_add(P, "s", 1, (int64_t[]){6}, 0);
    if (lf_params_finalize(P) != LF_OK) {
        lf_params_free(P);
        return NULL;
    }
    return P;
}

#ifndef LF_DOUBLE
/* Reads <name>.bin: header line, then float32 values (see gen_optim.py). */
static float *read_case(const char *name, int *steps)
{
    char path[256];
    snprintf(path, sizeof path, "tests/parity/fixtures/optim/%s.bin", name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char line[128];
    int a = 0, b = 0, c = 0;
    float *v = NULL;
    if (fgets(line, sizeof line, f) &&
        sscanf(line, "LFOPT1 steps=%d sizes=%d,%d,%d", steps, &a, &b, &c) == 4 && a == 20 &&
        b == 5 && c == 6) {
        size_t n = (size_t)(*steps + 31 + 2 * 31 * *steps);
        v = malloc(n * sizeof *v);
        if (v && fread(v, sizeof *v, n, f) != n) {
            free(v);
            v = NULL;
        }
    }
    fclose(f);
    return v;
}

TEST(optim_parity_torch)
{
    FILE *idx = fopen("tests/parity/fixtures/optim/cases.txt", "r");
    CHECK_MSG(idx != NULL, "missing tests/parity/fixtures/optim/cases.txt");
    if (!idx) return;
    char name[64], kind[16];
    double wd, mom, b1, b2, eps, eta;
    int nest, decay_all, n_cases = 0;
    while (fscanf(idx, "%63s %15s %lf %lf %d %lf %lf %lf %lf %d", name, kind, &wd, &mom, &nest,
                  &b1, &b2, &eps, &eta, &decay_all) == 10) {
        int steps = 0;
        float *v = read_case(name, &steps);
        CHECK_MSG(v != NULL, "cannot read fixture %s", name);
        if (!v) continue;
        n_cases++;
        lf_tensor *w, *b, *s, *rb;
        lf_params *P = make_params(&w, &b, &s, &rb);
        lf_tensor *ts[3] = {w, b, s};
        const int sz[3] = {20, 5, 6};
        for (int k = 0; k < 3; k++) rb->data[k] = (lf_real)(k + 1);
        const float *lr = v, *init = v + steps, *grads = init + 31, *traj = grads + 31 * steps;
        for (int k = 0, o = 0; k < 3; o += sz[k], k++)
            for (int j = 0; j < sz[k]; j++) ts[k]->data[j] = init[o + j];
        lf_optim_kind kd = !strcmp(kind, "sgd") ? LF_OPTIM_SGD
                           : !strcmp(kind, "adamw") ? LF_OPTIM_ADAMW : LF_OPTIM_LARS;
        lf_optim_config cfg = lf_optim_defaults(kd);
        cfg.weight_decay = wd;
        cfg.momentum = mom;
        cfg.nesterov = nest;
        cfg.decay_all = decay_all;
        if (kd == LF_OPTIM_ADAMW) {
            cfg.beta1 = b1;
            cfg.beta2 = b2;
        }
        if (kd != LF_OPTIM_SGD) cfg.eps = eps;
        if (kd == LF_OPTIM_LARS) cfg.eta = eta;
        lf_optim *O = NULL;
        CHECK_OK(lf_optim_init(&O, P, &cfg));
        double maxdiff = 0;
        for (int t = 0; O && t < steps; t++) {
            for (int k = 0, o = 0; k < 3; o += sz[k], k++)
                for (int j = 0; j < sz[k]; j++) ts[k]->grad[j] = grads[31 * t + o + j];
            lf_optim_set_lr(O, lr[t]);
            CHECK_OK(lf_optim_step(O));
            for (int k = 0, o = 0; k < 3; o += sz[k], k++)
                for (int j = 0; j < sz[k]; j++) {
                    double a = ts[k]->data[j], r = traj[31 * t + o + j];
                    double d = fabs(a - r);
                    if (d > maxdiff) maxdiff = d;
                    CHECK_MSG(d <= 1e-5 * fmax(1.0, fabs(r)), "%s step %d %s[%d]: %.9g vs torch %.9g",
                              name, t, ts[k]->name, j, a, r);
                }
        }
        for (int k = 0; k < 3; k++) CHECK(rb->data[k] == (lf_real)(k + 1));
        printf("    %-16s %d steps, max |c - torch| = %.3g\n", name, steps, maxdiff);
        lf_optim_free(O);
        lf_params_free(P);
        free(v);
    }
    fclose(idx);
    CHECK(n_cases == 10);
}
#endif

/* fills gradients with a deterministic pattern that changes with the step */
static void fake_grads(lf_params *P, int step)
{
    int64_t n;
    lf_real *g = lf_params_grad_block(P, &n);
    for (int64_t i = 0; i < n; i++) g[i] = (lf_real)(0.1 * sin(0.7 * (double)i + step) + 0.01 * step);
}

TEST(optim_no_alloc_per_step)
{
    lf_optim_kind kinds[3] = {LF_OPTIM_SGD, LF_OPTIM_ADAMW, LF_OPTIM_LARS};
    for (int k = 0; k < 3; k++) {
        lf_tensor *w, *b, *s, *rb;
        lf_params *P = make_params(&w, &b, &s, &rb);
        for (int i = 0; i < 20; i++) w->data[i] = (lf_real)(0.05 * i - 0.3);
        lf_optim_config cfg = lf_optim_defaults(kinds[k]);
        cfg.momentum = 0.9;
        lf_optim *O;
        CHECK_OK(lf_optim_init(&O, P, &cfg));
        fake_grads(P, 0);
        CHECK_OK(lf_optim_step(O));
        uint64_t before = lf_alloc_count();
        for (int t = 1; t < 5; t++) {
            fake_grads(P, t);
            CHECK_OK(lf_optim_step(O));
            CHECK_OK(lf_clip_grad_norm(P, 0.1, NULL));
        }
        CHECK_MSG(lf_alloc_count() == before, "optimizer %d allocated %llu times in 4 steps", k,
                  (unsigned long long)(lf_alloc_count() - before));
        lf_optim_free(O);
        lf_params_free(P);
    }
}

/* Saving the state block and step count, then restoring into a fresh optimizer, continues
 * the exact same trajectory. */
TEST(optim_state_restore)
{
    lf_optim_kind kinds[3] = {LF_OPTIM_SGD, LF_OPTIM_ADAMW, LF_OPTIM_LARS};
    for (int k = 0; k < 3; k++) {
        lf_tensor *w, *b, *s, *rb, *w2, *b2, *s2, *rb2;
        lf_params *P = make_params(&w, &b, &s, &rb), *Q = make_params(&w2, &b2, &s2, &rb2);
        for (int i = 0; i < 20; i++) w->data[i] = (lf_real)(0.05 * i - 0.3);
        for (int i = 0; i < 6; i++) s->data[i] = (lf_real)(0.2 * i);
        lf_optim_config cfg = lf_optim_defaults(kinds[k]);
        cfg.momentum = 0.9;
        lf_optim *O, *O2;
        CHECK_OK(lf_optim_init(&O, P, &cfg));
        CHECK_OK(lf_optim_init(&O2, Q, &cfg));
        for (int t = 0; t < 3; t++) {
            fake_grads(P, t);
            lf_optim_step(O);
        }
        int64_t n1, n2;
        lf_real *s1 = lf_optim_state_block(O, &n1), *st2 = lf_optim_state_block(O2, &n2);
        CHECK(n1 == n2 && n1 == (kinds[k] == LF_OPTIM_ADAMW ? 62 : 31));
        memcpy(st2, s1, (size_t)n1 * sizeof(lf_real));
        lf_optim_set_step_count(O2, lf_optim_step_count(O));
        CHECK_OK(lf_params_copy(Q, P));
        for (int t = 3; t < 6; t++) {
            fake_grads(P, t);
            fake_grads(Q, t);
            lf_optim_step(O);
            lf_optim_step(O2);
        }
        int64_t nd;
        lf_real *d1 = lf_params_data_block(P, &nd), *d2 = lf_params_data_block(Q, NULL);
        CHECK(memcmp(d1, d2, (size_t)nd * sizeof(lf_real)) == 0);
        lf_optim_free(O);
        lf_optim_free(O2);
        lf_params_free(P);
        lf_params_free(Q);
    }
}

TEST(optim_bad_config)
{
    lf_tensor *w, *b, *s, *rb;
    lf_params *P = make_params(&w, &b, &s, &rb);
    lf_optim *O = NULL;
    lf_optim_config c = lf_optim_defaults(LF_OPTIM_SGD);
    c.nesterov = 1;
    CHECK(lf_optim_init(&O, P, &c) == LF_ERR_ARG && O == NULL);
    CHECK(strstr(lf_last_error(), "Nesterov") != NULL);
    c = lf_optim_defaults(LF_OPTIM_ADAMW);
    c.beta2 = 1.0;
    CHECK(lf_optim_init(&O, P, &c) == LF_ERR_ARG);
    c.beta2 = 0.99;
    c.lr = -1;
    CHECK(lf_optim_init(&O, P, &c) == LF_ERR_ARG);
    lf_params *U;
    lf_params_init(&U);
    lf_param_add(U, "x", 1, (int64_t[]){3}, 0);
    c = lf_optim_defaults(LF_OPTIM_SGD);
    CHECK(lf_optim_init(&O, U, &c) == LF_ERR_STATE); /* not finalized */
    lf_params_free(U);
    lf_params_free(P);
}

TEST(lr_schedule_shape)
{
    lf_lr_schedule sc = {.base = 1.0, .final = 0.01, .warmup_start = 0.0, .warmup_steps = 10,
                         .total_steps = 110};
    CHECK_NEAR(lf_lr_at(&sc, 0), 0.0, 1e-12);
    CHECK_NEAR(lf_lr_at(&sc, 5), 0.5, 1e-12);
    CHECK_NEAR(lf_lr_at(&sc, 10), 1.0, 1e-12);            /* peak right after warm-up */
    CHECK_NEAR(lf_lr_at(&sc, 60), 0.505, 1e-12);          /* half way: mean of base and final */
    CHECK_NEAR(lf_lr_at(&sc, 110), 0.01, 1e-12);
    CHECK_NEAR(lf_lr_at(&sc, 1000), 0.01, 1e-12);
    double prev = -1;
    int mono_up = 1, mono_down = 1;
    for (int64_t t = 0; t <= 10; t++) {
        mono_up &= lf_lr_at(&sc, t) > prev;
        prev = lf_lr_at(&sc, t);
    }
    for (int64_t t = 11; t <= 110; t++) {
        mono_down &= lf_lr_at(&sc, t) < prev;
        prev = lf_lr_at(&sc, t);
    }
    CHECK(mono_up && mono_down);
    /* the cosine is symmetric around its midpoint */
    CHECK_NEAR(lf_lr_at(&sc, 35) - 0.505, 0.505 - lf_lr_at(&sc, 85), 1e-12);
    lf_lr_schedule nowarm = {.base = 0.3, .final = 0.0, .warmup_steps = 0, .total_steps = 4};
    CHECK_NEAR(lf_lr_at(&nowarm, 0), 0.3, 1e-12);
    CHECK_NEAR(lf_lr_at(&nowarm, 2), 0.15, 1e-12);
    CHECK_NEAR(lf_cosine_momentum(0.996, 1.0, 0, 100), 0.996, 1e-12);
    CHECK_NEAR(lf_cosine_momentum(0.996, 1.0, 50, 100), 0.998, 1e-12);
    CHECK_NEAR(lf_cosine_momentum(0.996, 1.0, 100, 100), 1.0, 1e-12);
}

TEST(ema_update)
{
    lf_tensor *w, *b, *s, *rb, *w2, *b2, *s2, *rb2;
    lf_params *T = make_params(&w, &b, &s, &rb);
    /* online declared in another order: matching must go by name */
    lf_params *O;
    lf_params_init(&O);
    s2 = lf_param_add(O, "s", 1, (int64_t[]){6}, 0);
    b2 = lf_param_add(O, "b", 1, (int64_t[]){5}, LF_TENSOR_NO_DECAY);
    rb2 = lf_param_add(O, "rb", 1, (int64_t[]){3}, LF_TENSOR_BUFFER);
    w2 = lf_param_add(O, "w", 2, (int64_t[]){4, 5}, 0);
    CHECK_OK(lf_params_finalize(O));
    int64_t n;
    lf_real *td = lf_params_data_block(T, &n), *od = lf_params_data_block(O, NULL);
    for (int64_t i = 0; i < n; i++) {
        td[i] = (lf_real)i;
        od[i] = (lf_real)(100 + 2 * i);
    }
    lf_real w_before = w->data[7], w_on = w2->data[7], s_before = s->data[2], s_on = s2->data[2];
    lf_real rb_before = rb->data[1];
    CHECK_OK(lf_ema_update(T, O, 0.9));
    CHECK_NEAR(w->data[7], 0.9 * w_before + 0.1 * w_on, 1e-4);
    CHECK_NEAR(s->data[2], 0.9 * s_before + 0.1 * s_on, 1e-4);
    CHECK(rb->data[1] == rb_before); /* buffers are not averaged */
    (void)b2;
    (void)rb2;
    /* m = 0 copies, m = 1 keeps */
    CHECK_OK(lf_ema_update(T, O, 0.0));
    CHECK(b->data[3] == b2->data[3]);
    lf_real keep = w->data[0];
    CHECK_OK(lf_ema_update(T, O, 1.0));
    CHECK(w->data[0] == keep);
    CHECK(lf_ema_update(T, O, 1.5) == LF_ERR_ARG);
    /* a missing parameter is named in the error */
    lf_params *M;
    lf_params_init(&M);
    lf_param_add(M, "w", 2, (int64_t[]){4, 5}, 0);
    lf_params_finalize(M);
    CHECK(lf_ema_update(T, M, 0.5) == LF_ERR_ARG && strstr(lf_last_error(), "'b'") != NULL);
    lf_params_free(M);
    lf_params_free(T);
    lf_params_free(O);
}

TEST(clip_grad_norm)
{
    lf_tensor *w, *b, *s, *rb;
    lf_params *P = make_params(&w, &b, &s, &rb);
    int64_t n;
    lf_real *g = lf_params_grad_block(P, &n);
    for (int64_t i = 0; i < n; i++) g[i] = (lf_real)(i % 2 ? 0.5 : -0.5);
    double norm = 0, expect = 0.5 * sqrt((double)n);
    CHECK_OK(lf_clip_grad_norm(P, 1.0, &norm));
    CHECK_NEAR(norm, expect, 1e-6);
    double after = 0;
    for (int64_t i = 0; i < n; i++) after += (double)g[i] * g[i];
    CHECK_NEAR(sqrt(after), 1.0 / (1 + 1e-6 / expect), 1e-5);
    /* below the threshold nothing changes */
    lf_real g0 = g[0];
    CHECK_OK(lf_clip_grad_norm(P, 10.0, &norm));
    CHECK(g[0] == g0);
    g[3] = (lf_real)NAN;
    CHECK(lf_clip_grad_norm(P, 1.0, &norm) == LF_ERR_NUMERIC);
    CHECK(g[0] == g0);
    lf_params_free(P);
}
