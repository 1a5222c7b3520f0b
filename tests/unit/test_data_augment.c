/* Augmentations: determinism per (seed, epoch, index, view), identities (flip twice, full
 * crop = resize), value sanity; the loader: every index once per epoch, same batches with 1
 * and 2 worker threads, whole SimCLR batches (throughput printed). */
#include "data_util.h"
#include "test.h"

#include <sys/stat.h>
#include <time.h>

static void fill_image(lf_image *im, int c, int h, int w, int seed)
{
    lf_image_alloc(im, c, 1, h, w);
    lf_rng r = lf_rng_make((uint64_t)seed, 99);
    for (size_t i = 0; i < (size_t)c * h * w; i++) im->data[i] = (float)lf_rng_uniform(&r);
}

static double max_diff(const lf_image *a, const lf_image *b)
{
    if (a->c != b->c || a->h != b->h || a->w != b->w) return INFINITY;
    double m = 0;
    for (size_t i = 0; i < (size_t)a->c * a->h * a->w; i++)
        m = fmax(m, fabs((double)a->data[i] - b->data[i]));
    return m;
}

TEST(data_augment_deterministic_per_view)
{
    lf_image src = {0}, a = {0}, b = {0}, c = {0};
    fill_image(&src, 3, 50, 60, 1);
    lf_augment_config cfg = lf_augment_microscopy(32, 32);
    lf_rng r1 = lf_augment_rng(5, 2, 17, 0), r2 = lf_augment_rng(5, 2, 17, 0),
           r3 = lf_augment_rng(5, 2, 17, 1);
    CHECK_OK(lf_augment_apply(&cfg, &src, &a, NULL, &r1));
    CHECK_OK(lf_augment_apply(&cfg, &src, &b, NULL, &r2));
    CHECK_OK(lf_augment_apply(&cfg, &src, &c, NULL, &r3));
    CHECK(a.c == 3 && a.h == 32 && a.w == 32);
    CHECK(max_diff(&a, &b) == 0);
    CHECK(max_diff(&a, &c) > 0.01); /* another view differs */
    /* RGB jitter keeps [0, 1]; every value finite */
    int ok = 1;
    for (int i = 0; i < 3 * 32 * 32; i++) ok &= a.data[i] >= 0 && a.data[i] <= 1;
    CHECK(ok);
    lf_image_free(&src);
    lf_image_free(&a);
    lf_image_free(&b);
    lf_image_free(&c);
}

TEST(data_augment_identities)
{
    lf_image src = {0}, a = {0}, b = {0}, r = {0};
    fill_image(&src, 5, 40, 40, 2);
    /* scale 1, ratio 1 crop of a square image = plain resize */
    lf_augment_config crop = lf_augment_none(24, 24);
    crop.random_crop = 1;
    crop.scale_min = crop.scale_max = 1.0;
    crop.ratio_min = crop.ratio_max = 1.0;
    lf_rng g = lf_augment_rng(1, 0, 0, 0);
    CHECK_OK(lf_augment_apply(&crop, &src, &a, NULL, &g));
    CHECK_OK(lf_image_alloc(&r, 5, 1, 24, 24));
    CHECK_OK(lf_image_resize_region(&src, 0, 0, 40, 40, &r));
    CHECK(max_diff(&a, &r) == 0);
    /* resize to the same size is the identity */
    lf_augment_config none = lf_augment_none(40, 40);
    g = lf_augment_rng(1, 0, 0, 0);
    CHECK_OK(lf_augment_apply(&none, &src, &b, NULL, &g));
    CHECK(max_diff(&b, &src) < 1e-6);
    /* horizontal flip twice = identity; once = mirrored */
    lf_augment_config flip = lf_augment_none(40, 40);
    flip.p_hflip = 1.0;
    g = lf_augment_rng(1, 0, 0, 0);
    CHECK_OK(lf_augment_apply(&flip, &src, &a, NULL, &g));
    CHECK_NEAR(a.data[3 * 40 + 0], src.data[3 * 40 + 39], 1e-6);
    CHECK_OK(lf_augment_apply(&flip, &a, &b, NULL, &g));
    CHECK(max_diff(&b, &src) < 1e-6);
    /* four 90-degree turns = identity: apply with rot90 forced to k by trying seeds */
    lf_augment_config rot = lf_augment_none(40, 40);
    rot.rot90 = 1;
    int seen_turn = 0;
    for (int s = 0; s < 8 && !seen_turn; s++) {
        g = lf_augment_rng((uint64_t)s, 0, 0, 0);
        CHECK_OK(lf_augment_apply(&rot, &src, &a, NULL, &g));
        seen_turn = max_diff(&a, &src) > 1e-3;
    }
    CHECK(seen_turn);
    /* a rotation keeps the multiset of values: sums equal */
    double s0 = 0, s1 = 0;
    for (int i = 0; i < 5 * 1600; i++) { s0 += src.data[i]; s1 += a.data[i]; }
    CHECK_NEAR(s0, s1, 1e-2);
    /* intensity jitter on 5 channels: each channel an affine map of the original */
    lf_augment_config ij = lf_augment_none(40, 40);
    ij.p_jitter = 1.0;
    g = lf_augment_rng(3, 0, 0, 0);
    CHECK_OK(lf_augment_apply(&ij, &src, &a, NULL, &g));
    for (int c = 0; c < 5; c++) {
        const float *x = src.data + c * 1600, *y = a.data + c * 1600;
        double sc = (y[1] - y[0]) / (x[1] - x[0]), sh = y[0] - sc * x[0];
        CHECK(sc >= 0.6 - 1e-4 && sc <= 1.4 + 1e-4 && fabs(sh) <= 0.1 + 1e-4);
        CHECK_NEAR(y[777], sc * x[777] + sh, 1e-4);
    }
    /* grayscale: all three channels equal */
    lf_image rgb = {0};
    fill_image(&rgb, 3, 16, 16, 4);
    lf_augment_config gr = lf_augment_none(16, 16);
    gr.p_gray = 1.0;
    CHECK_OK(lf_augment_apply(&gr, &rgb, &a, NULL, &g));
    CHECK(a.data[5] == a.data[256 + 5] && a.data[5] == a.data[512 + 5]);
    /* blur keeps the mean of a constant image and smooths noise */
    lf_augment_config bl = lf_augment_none(40, 40);
    bl.p_blur = 1.0;
    bl.blur_sigma_min = bl.blur_sigma_max = 2.0;
    CHECK_OK(lf_augment_apply(&bl, &src, &a, NULL, &g));
    double v0 = 0, v1 = 0;
    for (int i = 1; i < 1600; i++) {
        v0 += fabs(src.data[i] - src.data[i - 1]);
        v1 += fabs(a.data[i] - a.data[i - 1]);
    }
    CHECK(v1 < 0.5 * v0);
    lf_image_free(&src);
    lf_image_free(&a);
    lf_image_free(&b);
    lf_image_free(&r);
    lf_image_free(&rgb);
}

/* 40 small RGB PNGs in two class folders */
static const char *make_folder(char *dir, size_t size, int n, int side)
{
    if (!tdu_tmpdir(dir, size)) return NULL;
    char p[300];
    uint8_t *px = malloc((size_t)side * side * 3);
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/class%d", dir, k);
        mkdir(p, 0755);
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < side * side * 3; j++) px[j] = (uint8_t)(j * 13 + i * 71);
        snprintf(p, sizeof p, "%s/class%d/im%03d.png", dir, i % 2, i);
        tdu_write_png(p, side, side, 3, 8, px);
    }
    free(px);
    return dir;
}

TEST(data_loader_epochs_and_threads)
{
    char dir[64];
    CHECK(make_folder(dir, sizeof dir, 40, 20) != NULL);
    lf_dataset *ds;
    CHECK_OK(lf_dataset_open(&ds, dir, NULL));
    if (!ds) return;
    lf_norm_stats ns;
    CHECK_OK(lf_dataset_channel_stats(ds, LF_SPLIT_ALL, &ns));
    lf_loader_config cfg = lf_loader_config_default();
    cfg.batch_size = 7;
    cfg.split = LF_SPLIT_ALL;
    cfg.drop_last = 0;
    cfg.aug = lf_augment_simclr(16, 16);
    cfg.seed = 3;
    cfg.norm = &ns;
    size_t per = 3 * 16 * 16;
    lf_real *ref = malloc(sizeof(lf_real) * per * 2 * 40 * 2); /* 2 epochs, 2 views */
    int64_t ref_idx[80];
    for (int threads = 1; threads <= 2; threads++)
        for (int cache = 0; cache <= 1; cache++) {
            cfg.threads = threads;
            cfg.cache = cache;
            cfg.prefetch = threads == 2 ? 2 : 3;
            lf_loader *L;
            CHECK_OK(lf_loader_create(&L, ds, &cfg));
            if (!L) continue;
            CHECK(lf_loader_batches_per_epoch(L) == 6 && lf_loader_count(L) == 40);
            int pos = 0, bad_labels = 0, mismatch = 0;
            for (int e = 0; e < 2; e++) {
                int seen[40] = {0};
                for (int s = 0; s < 6; s++) {
                    const lf_batch *b;
                    CHECK_OK(lf_loader_next(L, &b));
                    if (!b) break;
                    CHECK(b->epoch == e && b->step == s && b->n == (s < 5 ? 7 : 5));
                    CHECK(b->c == 3 && b->h == 16 && b->w == 16 && b->view[1] != NULL);
                    for (int j = 0; j < b->n; j++, pos++) {
                        int64_t i = b->index[j];
                        seen[i]++;
                        bad_labels += b->label[j] != lf_dataset_label(ds, i);
                        for (int v = 0; v < 2; v++) {
                            lf_real *dst = ref + ((size_t)pos * 2 + v) * per;
                            const lf_real *got = b->view[v] + (size_t)j * per;
                            if (threads == 1 && cache == 0) {
                                memcpy(dst, got, per * sizeof(lf_real));
                                ref_idx[pos] = i;
                            } else {
                                mismatch += ref_idx[pos] != i ||
                                            memcmp(dst, got, per * sizeof(lf_real)) != 0;
                            }
                        }
                    }
                }
                int once = 1;
                for (int i = 0; i < 40; i++) once &= seen[i] == 1;
                CHECK_MSG(once, "epoch %d: not every index exactly once (threads %d)", e, threads);
            }
            CHECK(bad_labels == 0);
            CHECK_MSG(mismatch == 0, "threads %d cache %d: %d views differ from 1 thread", threads,
                      cache, mismatch);
            lf_loader_free(L);
        }
    /* a loader started at batch 6 (a resumed run) continues the stream: epoch 1, step 0 */
    cfg.threads = 1;
    cfg.start_batch = 6;
    lf_loader *L2;
    CHECK_OK(lf_loader_create(&L2, ds, &cfg));
    if (L2) {
        const lf_batch *b;
        CHECK_OK(lf_loader_next(L2, &b));
        if (b) {
            CHECK(b->epoch == 1 && b->step == 0);
            int diff = 0;
            for (int j = 0; j < b->n; j++)
                diff += b->index[j] != ref_idx[40 + j] ||
                        memcmp(b->view[0] + (size_t)j * per, ref + ((size_t)(40 + j) * 2) * per,
                               per * sizeof(lf_real)) != 0;
            CHECK_MSG(diff == 0, "%d items differ from the uninterrupted stream", diff);
        }
        lf_loader_free(L2);
    }
    /* an explicit index list, unshuffled, comes out in its own order */
    int64_t subset[3] = {5, 3, 9};
    cfg.start_batch = 0;
    cfg.indices = subset;
    cfg.n_indices = 3;
    cfg.shuffle = 0;
    cfg.batch_size = 3;
    CHECK_OK(lf_loader_create(&L2, ds, &cfg));
    if (L2) {
        const lf_batch *b;
        CHECK_OK(lf_loader_next(L2, &b));
        CHECK(b && b->n == 3 && b->index[0] == 5 && b->index[1] == 3 && b->index[2] == 9);
        CHECK(lf_loader_count(L2) == 3);
        lf_loader_free(L2);
    }
    subset[1] = 40; /* out of range */
    CHECK(lf_loader_create(&L2, ds, &cfg) != LF_OK);
    CHECK(strstr(lf_last_error(), "index 40") != NULL);
    /* the two epochs are shuffled differently; the views are normalised (mean near 0) */
    int same_order = 1;
    for (int k = 0; k < 40; k++) same_order &= ref_idx[k] == ref_idx[40 + k];
    CHECK(!same_order);
    double m = 0;
    for (size_t k = 0; k < per * 160; k++) m += ref[k];
    CHECK(fabs(m / (double)(per * 160)) < 0.5);
    free(ref);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

TEST(data_loader_no_alloc_steady_state)
{
    char dir[64];
    CHECK(make_folder(dir, sizeof dir, 16, 12) != NULL);
    lf_dataset *ds;
    CHECK_OK(lf_dataset_open(&ds, dir, NULL));
    if (!ds) return;
    lf_loader_config cfg = lf_loader_config_default();
    cfg.batch_size = 4;
    cfg.split = LF_SPLIT_ALL;
    cfg.aug = lf_augment_simclr(8, 8);
    lf_loader *L;
    CHECK_OK(lf_loader_create(&L, ds, &cfg));
    const lf_batch *b;
    for (int k = 0; k < 4; k++) CHECK_OK(lf_loader_next(L, &b));
    uint64_t before = lf_alloc_count();
    for (int k = 0; k < 12; k++) CHECK_OK(lf_loader_next(L, &b));
    CHECK(lf_alloc_count() == before);
    lf_loader_free(L);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

/* One worker over 4 epochs' worth of batches: 96x96 RGB, full SimCLR augmentation, two
 * views. Every batch is whole (32 images, two 3x96x96 views, finite values), the two views
 * of an image differ, and each of the 64 images comes 3-5 times (the epochs before and after
 * are halves); the throughput is printed, not asserted (timing depends on the machine:
 * bench/loader_bench.c measures it against PIL + torchvision). */
TEST(data_loader_simclr_batches_whole)
{
    char dir[64];
    CHECK(make_folder(dir, sizeof dir, 64, 96) != NULL);
    lf_dataset *ds;
    CHECK_OK(lf_dataset_open(&ds, dir, NULL));
    if (!ds) return;
    lf_loader_config cfg = lf_loader_config_default();
    cfg.batch_size = 32;
    cfg.split = LF_SPLIT_ALL;
    cfg.threads = 1;
    cfg.aug = lf_augment_simclr(96, 96);
    lf_loader *L;
    CHECK_OK(lf_loader_create(&L, ds, &cfg));
    const lf_batch *b;
    CHECK_OK(lf_loader_next(L, &b)); /* warm-up */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int nb = 8, seen[64] = {0}; /* 64 images: two batches an epoch */
    for (int k = 0; k < nb; k++) {
        CHECK_OK(lf_loader_next(L, &b));
        if (!b) break;
        CHECK(b->n == 32 && b->c == 3 && b->h == 96 && b->w == 96 && b->view[1] != NULL);
        int64_t bad = 0, same_views = 0;
        const int64_t per = (int64_t)b->c * b->h * b->w;
        for (int i = 0; i < b->n; i++) {
            const lf_real *v0 = b->view[0] + i * per, *v1 = b->view[1] + i * per;
            for (int64_t e = 0; e < per; e++) bad += !isfinite(v0[e]) || !isfinite(v1[e]);
            same_views += !memcmp(v0, v1, (size_t)per * sizeof(lf_real));
            if (b->index[i] >= 0 && b->index[i] < 64) seen[b->index[i]]++;
        }
        CHECK_MSG(bad == 0 && same_views == 0, "batch %d: %lld non-finite values, %lld images "
                  "with two equal views", k, (long long)bad, (long long)same_views);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int i = 0; i < 64; i++)
        CHECK_MSG(seen[i] >= 3 && seen[i] <= 5, "image %d in %d batches", i, seen[i]);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("    loader, 1 worker, 96x96 RGB, SimCLR aug, 2 views: %.0f images/s\n",
           nb * 32 / s);
    lf_loader_free(L);
    lf_dataset_free(ds);
    tdu_rm_rf(dir);
}

/* The committed sample (data/wbc-sample): 150 images, 4 classes, 3 sites, train/test split. */
TEST(data_wbc_sample_manifest)
{
    lf_dataset *ds;
    if (lf_dataset_open(&ds, "data/wbc-sample/manifest.csv", NULL) != LF_OK) {
        CHECK_MSG(0, "%s", lf_last_error());
        return;
    }
    CHECK(lf_dataset_count(ds) == 150 && lf_dataset_num_classes(ds) == 4);
    CHECK(!strcmp(lf_dataset_class_name(ds, 0), "eosinophil"));
    int64_t ntr = lf_dataset_indices(ds, LF_SPLIT_TRAIN, NULL);
    CHECK(ntr == 94 && lf_dataset_indices(ds, LF_SPLIT_TEST, NULL) == 56);
    int sites[3] = {0};
    for (int64_t i = 0; i < 150; i++) {
        const char *s = lf_dataset_site(ds, i);
        sites[0] += !strcmp(s, "jtsc_tecom");
        sites[1] += !strcmp(s, "cellavision_blog");
        sites[2] += !strcmp(s, "bccd");
    }
    CHECK(sites[0] == 48 && sites[1] == 50 && sites[2] == 52);
    lf_norm_stats st;
    CHECK_OK(lf_dataset_channel_stats(ds, LF_SPLIT_TRAIN, &st));
    CHECK(st.channels == 3);
    printf("    wbc-sample train mean %.4f %.4f %.4f std %.4f %.4f %.4f\n", st.mean[0], st.mean[1],
           st.mean[2], st.std[0], st.std[1], st.std[2]);
    lf_dataset_free(ds);
}
