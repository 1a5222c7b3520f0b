/* Datasets: manifest parsing (quotes, errors naming file and line), class folders,
 * stratified split, channel statistics and mixed-size / mixed-channel errors. */
#include "data_util.h"
#include "test.h"

#include <sys/stat.h>

static void write_gray_png(const char *dir, const char *name, int h, int w, int c, int seed)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t px[32 * 32 * 4];
    for (int i = 0; i < h * w * c; i++) px[i] = (uint8_t)(i * 7 + seed * 29);
    tdu_write_png(p, h, w, c, 8, px);
}

TEST(data_manifest_quotes_and_columns)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    snprintf(p, sizeof p, "%s/sub dir", dir);
    mkdir(p, 0755);
    write_gray_png(dir, "a.png", 8, 8, 3, 1);
    write_gray_png(dir, "sub dir/b,1.png", 8, 8, 3, 2);
    write_gray_png(dir, "c.png", 8, 8, 3, 3);
    snprintf(p, sizeof p, "%s/m.csv", dir);
    /* CRLF, a quoted comma, an escaped quote, a line break inside quotes, extra column,
     * columns in another order */
    tdu_write_text(p, "site,Label,path,note\r\n"
                      "\"lab \"\"A\"\"\",cat,a.png,x\r\n"
                      "labB,\"dog\",\"sub dir/b,1.png\",\"two\nlines\"\r\n"
                      "\r\n"
                      "labA,,c.png,\n");
    lf_dataset *ds;
    CHECK_OK(lf_dataset_open(&ds, p, NULL));
    if (!ds) return;
    CHECK(lf_dataset_count(ds) == 3);
    CHECK(lf_dataset_num_classes(ds) == 2);
    CHECK(!strcmp(lf_dataset_class_name(ds, 0), "cat") && !strcmp(lf_dataset_class_name(ds, 1), "dog"));
    CHECK(lf_dataset_label(ds, 0) == 0 && lf_dataset_label(ds, 1) == 1 && lf_dataset_label(ds, 2) == -1);
    CHECK(!strcmp(lf_dataset_site(ds, 0), "lab \"A\""));
    CHECK(strstr(lf_dataset_path(ds, 1), "sub dir/b,1.png") != NULL);
    CHECK(!strcmp(lf_dataset_origin(ds, 2), "m.csv line 6")); /* the quoted break counts */
    lf_image im = {0};
    CHECK_OK(lf_dataset_read(ds, 1, &im));
    CHECK(im.c == 3 && im.h == 8);
    lf_image_free(&im);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

TEST(data_manifest_errors_name_file_and_line)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    write_gray_png(dir, "a.png", 8, 8, 1, 1);
    write_gray_png(dir, "b.png", 8, 8, 1, 2);
    snprintf(p, sizeof p, "%s/m.csv", dir);
    lf_dataset *ds = NULL;
    /* a row pointing nowhere */
    tdu_write_text(p, "path,label\na.png,x\nb.png,y\nnope.png,x\n");
    CHECK(lf_dataset_open(&ds, p, NULL) == LF_ERR_IO && ds == NULL);
    CHECK_MSG(strstr(lf_last_error(), "m.csv line 4") && strstr(lf_last_error(), "nope.png"),
              "%s", lf_last_error());
    /* one class only */
    tdu_write_text(p, "path,label\na.png,x\nb.png,x\n");
    CHECK(lf_dataset_open(&ds, p, NULL) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "m.csv") && strstr(lf_last_error(), "one class"), "%s",
              lf_last_error());
    /* unterminated quote: names the line where the field starts */
    tdu_write_text(p, "path,label\na.png,x\n\"b.png,y\n");
    CHECK(lf_dataset_open(&ds, p, NULL) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "m.csv line 3"), "%s", lf_last_error());
    /* bad split value, missing path column */
    tdu_write_text(p, "path,split\na.png,train\nb.png,holdout\n");
    CHECK(lf_dataset_open(&ds, p, NULL) == LF_ERR_FORMAT && strstr(lf_last_error(), "line 3"));
    tdu_write_text(p, "file,label\na.png,x\n");
    CHECK(lf_dataset_open(&ds, p, NULL) == LF_ERR_FORMAT && strstr(lf_last_error(), "'path'"));
    /* an unreadable image: the read names the manifest line and the file */
    char q[200];
    snprintf(q, sizeof q, "%s/bad.png", dir);
    tdu_write_text(q, "\x89PNG\r\n\x1a\n garbage");
    tdu_write_text(p, "path\na.png\nbad.png\n");
    CHECK_OK(lf_dataset_open(&ds, p, NULL));
    lf_image im = {0};
    CHECK(lf_dataset_read(ds, 1, &im) == LF_ERR_FORMAT);
    CHECK_MSG(strstr(lf_last_error(), "m.csv line 3") && strstr(lf_last_error(), "bad.png"), "%s",
              lf_last_error());
    lf_norm_stats st;
    CHECK(lf_dataset_channel_stats(ds, LF_SPLIT_ALL, &st) != LF_OK);
    CHECK(strstr(lf_last_error(), "bad.png") != NULL);
    lf_image_free(&im);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

TEST(data_mixed_sizes_and_channels_rejected)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    write_gray_png(dir, "a.png", 8, 8, 3, 1);
    write_gray_png(dir, "b.png", 8, 8, 3, 2);
    write_gray_png(dir, "small.png", 6, 8, 3, 3);
    write_gray_png(dir, "gray.png", 8, 8, 1, 4);
    snprintf(p, sizeof p, "%s/m.csv", dir);
    lf_dataset *ds;
    lf_norm_stats st;
    tdu_write_text(p, "path,split\na.png,train\nb.png,train\nsmall.png,train\n");
    CHECK_OK(lf_dataset_open(&ds, p, NULL));
    CHECK(lf_dataset_channel_stats(ds, LF_SPLIT_TRAIN, &st) == LF_ERR_SHAPE);
    CHECK_MSG(strstr(lf_last_error(), "m.csv line 4") && strstr(lf_last_error(), "small.png") &&
              strstr(lf_last_error(), "mixed image sizes"), "%s", lf_last_error());
    lf_loader_config lc = lf_loader_config_default();
    lc.batch_size = 1;
    lf_loader *L = NULL;
    CHECK(lf_loader_create(&L, ds, &lc) == LF_ERR_SHAPE && L == NULL);
    CHECK(strstr(lf_last_error(), "small.png") != NULL);
    lf_dataset_free(ds);
    tdu_write_text(p, "path,split\na.png,train\ngray.png,train\n");
    CHECK_OK(lf_dataset_open(&ds, p, NULL));
    CHECK(lf_dataset_channel_stats(ds, LF_SPLIT_TRAIN, &st) == LF_ERR_SHAPE);
    CHECK_MSG(strstr(lf_last_error(), "m.csv line 3") && strstr(lf_last_error(), "channel"), "%s",
              lf_last_error());
    /* without the cache the worker finds it, and lf_loader_next reports it */
    lc.cache = 0;
    lc.shuffle = 0;
    CHECK_OK(lf_loader_create(&L, ds, &lc));
    const lf_batch *b;
    if (L) {
        CHECK_OK(lf_loader_next(L, &b));
        CHECK(lf_loader_next(L, &b) == LF_ERR_SHAPE && b == NULL);
        CHECK_MSG(strstr(lf_last_error(), "gray.png") && strstr(lf_last_error(), "line 3"), "%s",
                  lf_last_error());
        lf_loader_free(L);
    }
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

TEST(data_folder_dataset_and_stratified_split)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    const char *cls[3] = {"zeta", "alpha", "mid"};
    int counts[3] = {30, 20, 10};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, cls[k]);
        mkdir(p, 0755);
        for (int i = 0; i < counts[k]; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s/img%02d.png", cls[k], i);
            write_gray_png(dir, name, 4, 4, 1, i);
        }
    }
    snprintf(p, sizeof p, "%s/zeta/notes.txt", dir);
    tdu_write_text(p, "ignored");
    lf_dataset *a, *b, *c;
    lf_dataset_options o = lf_dataset_options_default();
    o.seed = 11;
    CHECK_OK(lf_dataset_open(&a, dir, &o));
    CHECK_OK(lf_dataset_open(&b, dir, &o));
    o.seed = 12;
    CHECK_OK(lf_dataset_open(&c, dir, &o));
    if (!a || !b || !c) return;
    CHECK(lf_dataset_count(a) == 60 && lf_dataset_num_classes(a) == 3);
    CHECK(!strcmp(lf_dataset_class_name(a, 0), "alpha") && !strcmp(lf_dataset_class_name(a, 2), "zeta"));
    int same = 1, diff = 0, per[3][3] = {{0}};
    for (int64_t i = 0; i < 60; i++) {
        same &= lf_dataset_split(a, i) == lf_dataset_split(b, i);
        diff += lf_dataset_split(a, i) != lf_dataset_split(c, i);
        per[lf_dataset_label(a, i)][lf_dataset_split(a, i)]++;
    }
    CHECK(same);
    CHECK(diff > 0);
    /* alpha 20 -> 14/2/4, mid 10 -> 7/1/2, zeta 30 -> 21/3/6 */
    CHECK(per[0][0] == 14 && per[0][1] == 2 && per[0][2] == 4);
    CHECK(per[1][0] == 7 && per[1][1] == 1 && per[1][2] == 2);
    CHECK(per[2][0] == 21 && per[2][1] == 3 && per[2][2] == 6);
    CHECK(lf_dataset_indices(a, LF_SPLIT_TRAIN, NULL) == 42);
    lf_dataset_free(a);
    lf_dataset_free(b);
    lf_dataset_free(c);
    tdu_rm_rf(dir);
}

TEST(data_channel_stats_and_json)
{
    char dir[64], p[200];
    CHECK(tdu_tmpdir(dir, sizeof dir) != NULL);
    /* two 16-bit 2-channel images with known values; a test image that must not count */
    uint16_t v[3][6 * 4 * 2]; /* (H, W, C) = (6, 4, 2) */
    double sum[2] = {0}, sq[2] = {0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 48; i++) v[k][i] = (uint16_t)((i * 2311 + k * 17777) % 65536);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 48; i++) {
            double x = v[k][i] / 65535.0;
            sum[i % 2] += x;
            sq[i % 2] += x * x;
        }
    for (int k = 0; k < 3; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s/i%d.npy", dir, k);
        tdu_write_npy(name, "<u2", 3, (int64_t[]){6, 4, 2}, v[k], sizeof v[k]);
    }
    snprintf(p, sizeof p, "%s/m.csv", dir);
    tdu_write_text(p, "path,split\ni0.npy,train\ni1.npy,train\ni2.npy,test\n");
    lf_dataset *ds;
    CHECK_OK(lf_dataset_open(&ds, p, NULL));
    lf_norm_stats st;
    CHECK_OK(lf_dataset_channel_stats(ds, LF_SPLIT_TRAIN, &st));
    CHECK(st.channels == 2);
    for (int c = 0; c < 2; c++) {
        double m = sum[c] / 48, sd = sqrt(sq[c] / 48 - m * m);
        CHECK_NEAR(st.mean[c], m, 1e-6);
        CHECK_NEAR(st.std[c], sd, 1e-6);
    }
    char js[512];
    CHECK_OK(lf_norm_stats_to_json(&st, js, sizeof js));
    lf_norm_stats back;
    CHECK_OK(lf_norm_stats_from_json(js, &back));
    CHECK(back.channels == 2);
    CHECK_NEAR(back.mean[1], st.mean[1], 1e-8);
    CHECK_NEAR(back.std[0], st.std[0], 1e-8);
    CHECK(lf_norm_stats_to_json(&st, js, 10) == LF_ERR_ARG);
    CHECK(lf_norm_stats_from_json("{\"mean\":[1,2],\"std\":[1]}", &back) == LF_ERR_FORMAT);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}
