/* I/O: safetensors round trips and errors (missing, shape, dtype, truncation, corruption),
 * PyTorch/numpy-written fixtures (tests/parity/gen_io.py), .npy, atomic writes, checkpoints.
 * Scratch files go to build/test_io/. */
#include "test.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/parity/fixtures/io/"

static const char *scratch(const char *name)
{
    static char buf[4][256];
    static int k;
    mkdir("build", 0755);
    mkdir("build/test_io", 0755);
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "build/test_io/%s", name);
    return buf[k];
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Linear(4, 3) + BatchNorm1d(3), names as torch's nn.Sequential state_dict */
static lf_params *demo_params(void)
{
    lf_params *P;
    lf_params_init(&P);
    lf_param_add(P, "0.weight", 2, (int64_t[]){3, 4}, 0);
    lf_param_add(P, "0.bias", 1, (int64_t[]){3}, LF_TENSOR_NO_DECAY);
    lf_param_add(P, "1.weight", 1, (int64_t[]){3}, LF_TENSOR_NO_DECAY);
    lf_param_add(P, "1.bias", 1, (int64_t[]){3}, LF_TENSOR_NO_DECAY);
    lf_param_add(P, "1.running_mean", 1, (int64_t[]){3}, LF_TENSOR_BUFFER);
    lf_param_add(P, "1.running_var", 1, (int64_t[]){3}, LF_TENSOR_BUFFER);
    lf_param_add(P, "1.num_batches_tracked", 0, NULL, LF_TENSOR_BUFFER);
    lf_params_finalize(P);
    int64_t n;
    lf_real *d = lf_params_data_block(P, &n);
    for (int64_t i = 0; i < n; i++) d[i] = (lf_real)(0.1 * (double)i - 0.7);
    lf_params_find(P, "1.num_batches_tracked")->data[0] = 42;
    return P;
}

TEST(io_safetensors_roundtrip)
{
    lf_params *P = demo_params(), *Q = demo_params();
    const char *path = scratch("roundtrip.safetensors");
    const char *meta[] = {"model_config", "{\"arch\": \"demo\"}", "preprocessing", "{\"mean\": [0.5]}"};
    CHECK_OK(lf_safetensors_save(path, P, meta, 2));
    lf_safetensors *f;
    CHECK_OK(lf_st_open(&f, path));
    if (!f) return;
    CHECK(lf_st_count(f) == 7);
    CHECK(lf_st_meta(f, "model_config") && !strcmp(lf_st_meta(f, "model_config"), "{\"arch\": \"demo\"}"));
    CHECK(lf_st_meta(f, "format_version") && atoi(lf_st_meta(f, "format_version")) == LF_FORMAT_VERSION);
    CHECK(lf_st_meta(f, "nope") == NULL);
    lf_dtype dt;
    int nd;
    int64_t sh[8];
    CHECK_OK(lf_st_info(f, "1.num_batches_tracked", &dt, &nd, sh));
    CHECK(dt == LF_DTYPE_I64 && nd == 0);
    int64_t nbt = 0;
    CHECK_OK(lf_st_read_i64(f, "1.num_batches_tracked", &nbt, 1));
    CHECK(nbt == 42);
    CHECK_OK(lf_st_info(f, "0.weight", &dt, &nd, sh));
    CHECK(dt == LF_DTYPE_F32 && nd == 2 && sh[0] == 3 && sh[1] == 4);
    lf_st_close(f);
    int64_t n;
    lf_real *q = lf_params_data_block(Q, &n), *p = lf_params_data_block(P, NULL);
    for (int64_t i = 0; i < n; i++) q[i] = 0;
    CHECK_OK(lf_safetensors_load(path, Q, NULL, 0));
    for (int64_t i = 0; i < n; i++) CHECK_NEAR(q[i], p[i], 1e-6 * fmax(1, fabs(p[i])));
    /* the header is padded so the data section starts 8-byte aligned */
    size_t sz;
    unsigned char *raw = slurp(path, &sz);
    uint64_t hl = 0;
    for (int i = 7; raw && i >= 0; i--) hl = hl << 8 | raw[i];
    CHECK(hl % 8 == 0);
    free(raw);
    /* no temporary left behind */
    glob_t gl;
    CHECK(glob("build/test_io/roundtrip.safetensors.tmp.*", 0, NULL, &gl) == GLOB_NOMATCH);
    globfree(&gl);
    lf_params_free(P);
    lf_params_free(Q);
}

/* lf_st_add_i64 keeps int64 values exactly (token ids, counters, indices past 2^53 that a
 * float64 round trip would change), with its shape and the I64 dtype */
TEST(io_safetensors_i64_exact)
{
    const char *path = scratch("i64.safetensors");
    const int64_t vals[6] = {INT64_MAX, INT64_MIN, (INT64_C(1) << 53) + 1, -1, 0, 42};
    lf_st_writer *w;
    CHECK_OK(lf_st_writer_init(&w));
    if (!w) return;
    CHECK_OK(lf_st_add_i64(w, "ids", 2, (int64_t[]){2, 3}, vals));
    CHECK(lf_st_add_i64(w, "ids", 1, (int64_t[]){6}, vals) == LF_ERR_ARG); /* same name */
    CHECK_OK(lf_st_write(w, path));
    lf_st_writer_free(w);
    lf_safetensors *f;
    CHECK_OK(lf_st_open(&f, path));
    if (!f) return;
    lf_dtype dt;
    int nd;
    int64_t sh[LF_MAX_DIMS + 3], back[6] = {0};
    CHECK_OK(lf_st_info(f, "ids", &dt, &nd, sh));
    CHECK(dt == LF_DTYPE_I64 && nd == 2 && sh[0] == 2 && sh[1] == 3);
    CHECK_OK(lf_st_read_i64(f, "ids", back, 6));
    for (int i = 0; i < 6; i++) CHECK_MSG(back[i] == vals[i], "element %d: %lld, wrote %lld", i,
                                          (long long)back[i], (long long)vals[i]);
    lf_st_close(f);
}

TEST(io_state_dict_demo)
{
    /* the file tests/parity/check_load_state_dict.py loads into torch with strict=True */
    lf_params *P = demo_params();
    mkdir("build", 0755);
    const char *meta[] = {"model_config", "{\"arch\": \"linear+bn\", \"in\": 4, \"out\": 3}"};
    CHECK_OK(lf_safetensors_save("build/io_state_dict_demo.safetensors", P, meta, 1));
    lf_params_free(P);
}

TEST(io_load_errors_named)
{
    lf_params *P = demo_params();
    const char *path = scratch("errors.safetensors");
    CHECK_OK(lf_safetensors_save(path, P, NULL, 0));
    /* shape mismatch: the message has both shapes, torch style */
    lf_params *S;
    lf_params_init(&S);
    lf_param_add(S, "0.weight", 2, (int64_t[]){4, 3}, 0);
    lf_params_finalize(S);
    CHECK(lf_safetensors_load(path, S, NULL, LF_LOAD_ALLOW_UNEXPECTED) == LF_ERR_SHAPE);
    CHECK_MSG(strstr(lf_last_error(), "'0.weight': expected (4, 3), file has (3, 4)") &&
              strstr(lf_last_error(), path), "message: %s", lf_last_error());
    /* strict: the other six tensors are unexpected */
    lf_params *U;
    lf_params_init(&U);
    lf_param_add(U, "0.weight", 2, (int64_t[]){3, 4}, 0);
    lf_params_finalize(U);
    CHECK(lf_safetensors_load(path, U, NULL, 0) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "unexpected tensor") && strstr(lf_last_error(), "6 in all"),
              "message: %s", lf_last_error());
    CHECK_OK(lf_safetensors_load(path, U, NULL, LF_LOAD_ALLOW_UNEXPECTED));
    /* missing tensor */
    lf_params *M;
    lf_params_init(&M);
    lf_param_add(M, "0.weight", 2, (int64_t[]){3, 4}, 0);
    lf_param_add(M, "2.weight", 4, (int64_t[]){64, 3, 7, 7}, 0);
    lf_params_finalize(M);
    CHECK(lf_safetensors_load(path, M, NULL, LF_LOAD_ALLOW_UNEXPECTED) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "missing tensor '2.weight' (64, 3, 7, 7)"), "message: %s",
              lf_last_error());
    lf_tensor *w = lf_params_find(M, "0.weight");
    w->data[0] = 123;
    CHECK_OK(lf_safetensors_load(path, M, NULL, LF_LOAD_ALLOW_UNEXPECTED | LF_LOAD_ALLOW_MISSING));
    CHECK_NEAR(w->data[0], -0.7, 1e-6);
    /* prefix: the file saved under "backbone." loads into the bare names */
    lf_st_writer *wr;
    CHECK_OK(lf_st_writer_init(&wr));
    CHECK_OK(lf_st_add_params(wr, P, "backbone."));
    CHECK_OK(lf_st_add(wr, "head.weight", 1, (int64_t[]){2}, w->data, LF_DTYPE_F32));
    CHECK(lf_st_add(wr, "head.weight", 1, (int64_t[]){2}, w->data, LF_DTYPE_F32) == LF_ERR_ARG);
    CHECK(lf_st_add(wr, "x", 1, (int64_t[]){2}, w->data, LF_DTYPE_F16) == LF_ERR_UNSUPPORTED);
    const char *p2 = scratch("prefixed.safetensors");
    CHECK_OK(lf_st_write(wr, p2));
    lf_st_writer_free(wr);
    lf_params *Q = demo_params();
    CHECK_OK(lf_safetensors_load(p2, Q, "backbone.", 0));
    CHECK(lf_safetensors_load(p2, Q, NULL, 0) == LF_ERR_FORMAT);
    /* missing file */
    CHECK(lf_safetensors_load("build/test_io/does-not-exist", Q, NULL, 0) == LF_ERR_IO);
    CHECK(strstr(lf_last_error(), "does-not-exist") != NULL);
    lf_params_free(P);
    lf_params_free(Q);
    lf_params_free(S);
    lf_params_free(U);
    lf_params_free(M);
}

/* writes a safetensors file from a raw header string and data bytes */
static void write_raw_st(const char *path, const char *hdr, const void *data, size_t n)
{
    size_t hn = strlen(hdr);
    unsigned char *b = calloc(1, 8 + hn + n);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, hdr, hn);
    if (n) memcpy(b + 8 + hn, data, n);
    spit(path, b, 8 + hn + n);
    free(b);
}

TEST(io_corrupt_files_error_not_crash)
{
    lf_params *P = demo_params();
    const char *path = scratch("good.safetensors"), *bad = scratch("bad.safetensors");
    CHECK_OK(lf_safetensors_save(path, P, NULL, 0));
    size_t n;
    unsigned char *raw = slurp(path, &n);
    CHECK(raw != NULL);
    if (!raw) return;
    /* every truncation fails cleanly */
    int ok_count = 0;
    for (size_t len = 0; len < n; len++) {
        spit(bad, raw, len);
        lf_status s = lf_safetensors_load(bad, P, NULL, 0);
        ok_count += s == LF_OK;
        if (len == 0) CHECK(strstr(lf_last_error(), "truncated") != NULL);
    }
    CHECK_MSG(ok_count == 0, "%d truncated files loaded", ok_count);
    /* flipping any single header byte never crashes (most fail, a few stay valid JSON) */
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    int errors = 0;
    for (size_t i = 0; i < 8 + hl; i++) {
        unsigned char save = raw[i];
        raw[i] ^= (unsigned char)(0x5a + i);
        spit(bad, raw, n);
        errors += lf_safetensors_load(bad, P, NULL, 0) != LF_OK;
        raw[i] = save;
    }
    CHECK(errors > (int)hl / 2);
    /* specific messages */
    write_raw_st(bad, "{\"a\": [1, 2", NULL, 0);
    CHECK(lf_safetensors_load(bad, P, NULL, 0) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "header is not JSON"), "message: %s", lf_last_error());
    float four[4] = {1, 2, 3, 4};
    write_raw_st(bad, "{\"0.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", four, 4);
    lf_safetensors *f;
    CHECK_OK(lf_st_open(&f, bad)); /* unknown dtypes only fail when that tensor is read */
    lf_real out[4];
    if (f) {
        CHECK(lf_st_read(f, "0.weight", out, 4) == LF_ERR_UNSUPPORTED);
        CHECK_MSG(strstr(lf_last_error(), "unsupported dtype 'F8_E4M3'") &&
                  strstr(lf_last_error(), "'0.weight'"), "message: %s", lf_last_error());
        lf_st_close(f);
    }
    write_raw_st(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", four, 12);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "truncated"), "message: %s", lf_last_error());
    write_raw_st(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", four, 16);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    write_raw_st(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", four, 16);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    write_raw_st(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", four, 16);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    write_raw_st(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}", four, 16);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    write_raw_st(bad, "[1, 2]", NULL, 0);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    write_raw_st(bad, "{\"__metadata__\": {\"a\": 3}}", NULL, 0);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    unsigned char huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    spit(bad, huge, 8);
    CHECK(lf_st_open(&f, bad) == LF_ERR_FORMAT);
    free(raw);
    lf_params_free(P);
}

TEST(io_reads_torch_written_safetensors)
{
    lf_safetensors *f;
    CHECK_OK(lf_st_open(&f, FIX "torch_tensors.safetensors"));
    if (!f) return;
    CHECK(lf_st_meta(f, "format") && !strcmp(lf_st_meta(f, "format"), "pt"));
    const char *names[] = {"conv.weight", "bn.running_var", "bn.num_batches_tracked", "half",
                           "bf", "dbl", "i32", "u8"};
    int checked = 0;
    for (int k = 0; k < 8; k++) {
        lf_dtype dt;
        int nd;
        int64_t sh[8], n = 1;
        CHECK_OK(lf_st_info(f, names[k], &dt, &nd, sh));
        for (int d = 0; d < nd; d++) n *= sh[d];
        lf_real a[64], b[64];
        char ref[64];
        snprintf(ref, sizeof ref, "ref.%s", names[k]);
        CHECK_OK(lf_st_read(f, names[k], a, n));
        CHECK_OK(lf_st_read(f, ref, b, n));
        for (int64_t i = 0; i < n; i++) {
            CHECK_MSG(a[i] == b[i], "%s[%lld]: %.9g vs %.9g", names[k], (long long)i, (double)a[i],
                      (double)b[i]);
            checked++;
        }
    }
    CHECK(checked == 54 + 2 + 1 + 5 + 4 + 4 + 3 + 3);
    lf_real h[5];
    CHECK_OK(lf_st_read(f, "half", h, 5));
    CHECK_NEAR(h[0], 6.1e-5, 1e-7);    /* normal half */
    CHECK_NEAR(h[1], 2.98e-7, 1e-8);   /* subnormal half (3e-7 rounds to 5 * 2^-24) */
    int64_t big[2], nbt;
    CHECK_OK(lf_st_read_i64(f, "big_i64", big, 2));
    CHECK(big[0] == -(INT64_C(1) << 62) - 1 && big[1] == (INT64_C(1) << 53) + 1); /* exact */
    CHECK_OK(lf_st_read_i64(f, "bn.num_batches_tracked", &nbt, 1));
    CHECK(nbt == 7);
    CHECK(lf_st_read_i64(f, "dbl", big, 4) == LF_ERR_FORMAT);
    CHECK(lf_st_read(f, "conv.weight", h, 5) == LF_ERR_SHAPE);
    CHECK(lf_st_read(f, "nope", h, 5) == LF_ERR_ARG && strstr(lf_last_error(), "'nope'"));
    lf_st_close(f);
}

TEST(io_npy_roundtrip_and_numpy_files)
{
    lf_real *d = NULL;
    int64_t r, c, n;
    const char *files[2] = {FIX "emb_f4.npy", FIX "emb_f8.npy"};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(lf_npy_read_f32(files[k], &d, &r, &c));
        CHECK(r == 5 && c == 3);
        for (int64_t i = 0; d && i < r; i++)
            for (int64_t j = 0; j < c; j++) CHECK(d[i * c + j] == (lf_real)(0.5 * i - 0.25 * j));
        lf_free(d);
    }
    int64_t *lab = NULL;
    const char *lf[2] = {FIX "labels_i8.npy", FIX "labels_i4.npy"};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(lf_npy_read_i64(lf[k], &lab, &n));
        CHECK(n == 6);
        for (int64_t i = 0; lab && i < n; i++) CHECK(lab[i] == 3 * i - 7);
        lf_free(lab);
    }
    CHECK(lf_npy_read_f32(FIX "emb_fortran.npy", &d, &r, &c) == LF_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lf_last_error(), "Fortran"), "message: %s", lf_last_error());
    CHECK(lf_npy_read_f32(FIX "emb_f2.npy", &d, &r, &c) == LF_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(lf_last_error(), "'<f2'"), "message: %s", lf_last_error());
    CHECK(lf_npy_read_f32(FIX "emb_3d.npy", &d, &r, &c) == LF_ERR_SHAPE);
    CHECK_MSG(strstr(lf_last_error(), "(2, 2, 2)"), "message: %s", lf_last_error());
    CHECK(lf_npy_read_i64(FIX "emb_f4.npy", &lab, &n) == LF_ERR_UNSUPPORTED);
    /* round trip */
    lf_real emb[6] = {1.5f, -2, 3, 0.25f, 1e-3f, 7};
    int64_t ids[4] = {0, -1, INT64_MAX, 5};
    const char *pe = scratch("emb.npy"), *pl = scratch("labels.npy");
    CHECK_OK(lf_npy_write_f32(pe, emb, 2, 3));
    CHECK_OK(lf_npy_write_i64(pl, ids, 4));
    CHECK_OK(lf_npy_read_f32(pe, &d, &r, &c));
    CHECK(r == 2 && c == 3);
    for (int i = 0; d && i < 6; i++) CHECK(d[i] == (lf_real)(float)emb[i]);
    lf_free(d);
    CHECK_OK(lf_npy_read_i64(pl, &lab, &n));
    CHECK(n == 4 && lab && !memcmp(lab, ids, sizeof ids));
    lf_free(lab);
    /* every truncation of a written file fails cleanly */
    size_t sz;
    unsigned char *raw = slurp(pe, &sz);
    const char *bad = scratch("bad.npy");
    int loaded = 0;
    for (size_t len = 0; raw && len < sz; len++) {
        spit(bad, raw, len);
        if (lf_npy_read_f32(bad, &d, &r, &c) == LF_OK) {
            loaded++;
            lf_free(d);
        }
    }
    CHECK(loaded == 0);
    /* header length a multiple of 64 as numpy writes it */
    CHECK(raw && (10 + (raw[8] | raw[9] << 8)) % 64 == 0);
    free(raw);
    spit(bad, "\x93NUMPX\x01\x00", 8);
    CHECK(lf_npy_read_f32(bad, &d, &r, &c) == LF_ERR_FORMAT);
}

TEST(io_atomic_write_failures)
{
    lf_params *P = demo_params();
    /* a missing directory: an I/O error naming the path, nothing created */
    CHECK(lf_safetensors_save("build/test_io/no/such/dir/x.safetensors", P, NULL, 0) == LF_ERR_IO);
    CHECK(strstr(lf_last_error(), "no/such/dir") != NULL);
    /* the rename fails over a non-empty directory: error, temporary removed */
    const char *dir = scratch("a_directory");
    mkdir(dir, 0755);
    char inner[300];
    snprintf(inner, sizeof inner, "%s/keep", dir);
    spit(inner, "x", 1);
    CHECK(lf_safetensors_save(dir, P, NULL, 0) == LF_ERR_IO);
    glob_t gl;
    CHECK(glob("build/test_io/a_directory.tmp.*", 0, NULL, &gl) == GLOB_NOMATCH);
    globfree(&gl);
    /* replacing an existing file leaves the new content */
    const char *path = scratch("replace.safetensors");
    spit(path, "old", 3);
    CHECK_OK(lf_safetensors_save(path, P, NULL, 0));
    CHECK_OK(lf_safetensors_load(path, P, NULL, 0));
    lf_params_free(P);
}

/* A tiny "training" loop: fixed pseudo-gradients from the rng, AdamW steps. */
static void train(lf_params *P, lf_optim *O, lf_rng *rng, int steps)
{
    for (int s = 0; s < steps; s++) {
        int64_t n;
        lf_real *g = lf_params_grad_block(P, &n);
        lf_rng_fill_normal(rng, g, n, 0, 1);
        lf_optim_step(O);
    }
}

TEST(io_checkpoint_resume_is_exact)
{
    lf_optim_kind kinds[2] = {LF_OPTIM_ADAMW, LF_OPTIM_LARS};
    for (int k = 0; k < 2; k++) {
        lf_params *A = demo_params(), *B = demo_params();
        lf_optim_config cfg = lf_optim_defaults(kinds[k]);
        lf_optim *OA, *OB;
        CHECK_OK(lf_optim_init(&OA, A, &cfg));
        CHECK_OK(lf_optim_init(&OB, B, &cfg));
        lf_rng ra = lf_rng_make(99, 3);
        train(A, OA, &ra, 3);
        lf_optim_set_lr(OA, 0.0123);
        const char *path = scratch("ckpt.safetensors");
        const char *cfgjson = "{\"method\": \"simclr\", \"epochs\": 100}";
        CHECK_OK(lf_checkpoint_save(path, A, OA, 3, &ra, cfgjson));
        train(A, OA, &ra, 4); /* the uninterrupted run */
        /* the "resumed" run: fresh objects, everything from the file */
        int64_t step = -1;
        lf_rng rb = lf_rng_make(0, 0);
        char *cj = NULL;
        CHECK_OK(lf_checkpoint_load(path, B, OB, &step, &rb, &cj));
        CHECK(step == 3);
        CHECK(cj && !strcmp(cj, cfgjson));
        lf_free(cj);
        CHECK(lf_optim_step_count(OB) == 3);
        CHECK(lf_optim_lr(OB) == 0.0123);
        train(B, OB, &rb, 4);
        int64_t n;
        lf_real *a = lf_params_data_block(A, &n), *b = lf_params_data_block(B, NULL);
        CHECK_MSG(!memcmp(a, b, (size_t)n * sizeof(lf_real)), "resumed run differs (%s)",
                  lf_dtype_name(kinds[k] == LF_OPTIM_ADAMW ? LF_DTYPE_F32 : LF_DTYPE_F64));
        /* mismatches are refused before anything changes */
        lf_optim_config other = lf_optim_defaults(LF_OPTIM_SGD);
        other.momentum = 0.9;
        lf_optim *OS;
        CHECK_OK(lf_optim_init(&OS, B, &other));
        lf_real before = b[0];
        CHECK(lf_checkpoint_load(path, B, OS, NULL, NULL, NULL) == LF_ERR_ARG);
        CHECK(strstr(lf_last_error(), "optimizer") != NULL && b[0] == before);
        lf_optim_free(OS);
        lf_optim_free(OA);
        lf_optim_free(OB);
        lf_params_free(A);
        lf_params_free(B);
    }
    lf_params *P = demo_params();
    CHECK(lf_checkpoint_save(scratch("x.safetensors"), P, NULL, 0, NULL, "{not json") == LF_ERR_ARG);
    CHECK_OK(lf_safetensors_save(scratch("weights.safetensors"), P, NULL, 0));
    CHECK(lf_checkpoint_load(scratch("weights.safetensors"), P, NULL, NULL, NULL, NULL) == LF_ERR_FORMAT);
    CHECK(strstr(lf_last_error(), "not a labelfree checkpoint") != NULL);
    lf_params_free(P);
}
