/* Query encoders: the built-in Morgan-fingerprint encoder and the process-wide hook through
 * which a trained model's encoders are plugged in (lf_index_set_model_loader). */
#include "index_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct fp_ctx { int radius, bits; } fp_ctx;

static lf_status fp_smiles(void *ctx, const char *smiles, float *out)
{
    fp_ctx *c = ctx;
    if (!smiles || !*smiles) return lf_error(LF_ERR_FORMAT, "empty SMILES");
    lf_mol *m = NULL;
    int pos = -1;
    lf_status st = lf_mol_parse(smiles, &m, &pos);
    if (st) return st; /* the parser's message names the position */
    uint8_t *bits = lf_malloc((size_t)c->bits);
    if (!bits) { lf_mol_free(m); return LF_ERR_NOMEM; }
    st = lf_morgan_bits(m, c->radius, c->bits, 0, bits);
    lf_mol_free(m);
    int on = 0;
    for (int i = 0; !st && i < c->bits; i++) { out[i] = bits[i] ? 1.0f : 0.0f; on += bits[i] != 0; }
    lf_free(bits);
    if (st) return st;
    if (!on) return lf_error(LF_ERR_FORMAT, "SMILES '%.60s' has no atoms (empty fingerprint)", smiles);
    float inv = 1.0f / sqrtf((float)on);
    for (int i = 0; i < c->bits; i++) out[i] *= inv;
    return LF_OK;
}

static void fp_release(void *ctx) { lf_free(ctx); }

lf_status lf_query_encoder_fingerprint(lf_query_encoder *e, int radius, int n_bits)
{
    if (!e) return lf_error(LF_ERR_ARG, "lf_query_encoder_fingerprint: NULL");
    memset(e, 0, sizeof *e);
    if (radius < 0 || radius > 10 || n_bits < 8 || n_bits > (1 << 20))
        return lf_error(LF_ERR_ARG, "fingerprint encoder: radius %d (0..10), bits %d (8..2^20)", radius, n_bits);
    fp_ctx *c = lf_malloc(sizeof *c);
    if (!c) return LF_ERR_NOMEM;
    c->radius = radius;
    c->bits = n_bits;
    snprintf(e->name, sizeof e->name, "fingerprint");
    e->dim = n_bits;
    e->ctx = c;
    e->encode_smiles = fp_smiles;
    e->encode_image = NULL;
    e->release = fp_release;
    return LF_OK;
}

void lf_query_encoder_release(lf_query_encoder *e)
{
    if (!e) return;
    if (e->release) e->release(e->ctx);
    memset(e, 0, sizeof *e);
}

static lf_model_encoder_loader g_loader;

void lf_index_set_model_loader(lf_model_encoder_loader fn) { g_loader = fn; }

lf_model_encoder_loader lf_index_model_loader(void) { return g_loader; }
