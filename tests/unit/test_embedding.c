/* Embedding: gradient check (repeated ids accumulate), lookup values, id range errors. */
#include "gradcheck.h"
#include "test.h"

#include <string.h>

/* runs a gradient check and prints its max |analytic - numeric| (float64 build only) */
#define GC_PRINT(name, call)                                                               \
    do {                                                                                   \
        double d_ = (call);                                                                \
        if (GRADCHECK_ENABLED) printf("    %-40s max |analytic - numeric| = %.2g\n", name, d_); \
    } while (0)

static const int64_t emb_ids[6] = {4, 0, 2, 4, 4, 1}; /* id 3 unused: its grad must stay 0 */

static lf_tensor *f_emb(lf_graph *g, lf_tensor **in, void *ctx)
{
    (void)ctx;
    return lf_embedding(g, in[0], emb_ids, 2, (int64_t[]){2, 3});
}

TEST(grad_embedding)
{
    gc_input in[1] = {{2, {5, 4}, 0, 0, 0}};
    GC_PRINT("embedding (5,4)[2,3]", GRADCHECK("embedding (5,4)[2,3]", f_emb, 1, in, NULL));
}

TEST(embedding_lookup_and_scatter)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *t = lf_tensor_new(g, 2, (int64_t[]){5, 4});
    for (int i = 0; i < 20; i++) t->data[i] = (lf_real)i;
    t->flags = LF_TENSOR_REQUIRES_GRAD;
    lf_tensor *y = lf_embedding(g, t, emb_ids, 2, (int64_t[]){2, 3});
    CHECK(y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 4);
    for (int i = 0; y && i < 6; i++)
        for (int e = 0; e < 4; e++) CHECK(y->data[i * 4 + e] == (lf_real)(emb_ids[i] * 4 + e));
    lf_real seed[24];
    for (int i = 0; i < 24; i++) seed[i] = 1;
    CHECK_OK(lf_backward_with(g, y, seed));
    /* counts of each id: 0 -> 1, 1 -> 1, 2 -> 1, 3 -> 0, 4 -> 3 */
    const lf_real count[5] = {1, 1, 1, 0, 3};
    for (int v = 0; v < 5; v++)
        for (int e = 0; e < 4; e++) CHECK(t->grad[v * 4 + e] == count[v]);
    /* zero-dim ids: a single row */
    int64_t one = 3;
    lf_tensor *y0 = lf_embedding(g, t, &one, 0, NULL);
    CHECK(y0 && y0->ndim == 1 && y0->shape[0] == 4 && y0->data[0] == 12);
    lf_graph_free(g);
}

TEST(embedding_id_out_of_range)
{
    lf_graph *g;
    CHECK_OK(lf_graph_init(&g, 0));
    lf_tensor *t = lf_tensor_zeros(g, 2, (int64_t[]){5, 4});
    int64_t bad[4] = {0, 1, 7, 2};
    CHECK(lf_embedding(g, t, bad, 1, (int64_t[]){4}) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG);
    CHECK_MSG(strstr(lf_last_error(), "id 7") && strstr(lf_last_error(), "position 2"), "%s",
              lf_last_error());
    int64_t neg[2] = {-1, 0};
    CHECK(lf_embedding(g, t, neg, 1, (int64_t[]){2}) == NULL);
    CHECK(lf_last_status() == LF_ERR_ARG && strstr(lf_last_error(), "id -1") &&
          strstr(lf_last_error(), "position 0"));
    lf_tensor *t3 = lf_tensor_zeros(g, 3, (int64_t[]){5, 4, 1});
    CHECK(lf_embedding(g, t3, neg + 1, 1, (int64_t[]){1}) == NULL);
    CHECK(lf_last_status() == LF_ERR_SHAPE);
    lf_graph_free(g);
}
