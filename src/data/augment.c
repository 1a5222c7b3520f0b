/* SimCLR augmentations on planar float images (defaults and order documented in labelfree.h).
 * Every random decision is drawn from the rng passed in (lf_augment_rng: one Philox stream per
 * (seed, epoch, image, view)), so a view is the same whichever thread makes it. */
#include "labelfree.h"

#include <math.h>
#include <string.h>

lf_augment_config lf_augment_simclr(int out_h, int out_w)
{
    lf_augment_config c;
    memset(&c, 0, sizeof c);
    c.out_h = out_h;
    c.out_w = out_w;
    c.random_crop = 1;
    c.scale_min = 0.08;
    c.scale_max = 1.0;
    c.ratio_min = 3.0 / 4.0;
    c.ratio_max = 4.0 / 3.0;
    c.p_hflip = 0.5;
    c.jitter_strength = 1.0;
    c.p_jitter = 0.8;
    c.p_gray = 0.2;
    c.p_blur = 0.5;
    c.blur_sigma_min = 0.1;
    c.blur_sigma_max = 2.0;
    c.blur_kernel_frac = 0.1;
    c.intensity_scale = 0.4;
    c.intensity_shift = 0.1;
    return c;
}

lf_augment_config lf_augment_microscopy(int out_h, int out_w)
{
    lf_augment_config c = lf_augment_simclr(out_h, out_w);
    c.p_vflip = 0.5;
    c.rot90 = 1;
    return c;
}

lf_augment_config lf_augment_none(int out_h, int out_w)
{
    lf_augment_config c = lf_augment_simclr(out_h, out_w);
    c.random_crop = 0;
    c.p_hflip = c.p_vflip = c.p_jitter = c.p_gray = c.p_blur = 0;
    c.rot90 = 0;
    return c;
}

lf_rng lf_augment_rng(uint64_t seed, int64_t epoch, int64_t index, int view)
{
    /* stream = epoch (24 bits) | index (36 bits) | view (4 bits): distinct for every view of
     * every image of every epoch in any realistic run; the key is separated from the other
     * users of `seed` by a constant. */
    uint64_t stream = ((uint64_t)epoch & 0xFFFFFFull) << 40 |
                      ((uint64_t)index & 0xFFFFFFFFFull) << 4 | ((uint64_t)view & 15u);
    return lf_rng_make(seed ^ 0xA116E47A7E5EEDull, stream);
}

static double unif(lf_rng *r, double lo, double hi) { return lo + (hi - lo) * lf_rng_uniform(r); }

/* torchvision's RandomResizedCrop.get_params: 10 tries at a random area and log-uniform
 * aspect ratio, then a centre crop with the ratio clamped into range. */
static void crop_params(const lf_augment_config *cfg, int H, int W, lf_rng *r, int *y, int *x,
                        int *h, int *w)
{
    double area = (double)H * W, lr0 = log(cfg->ratio_min), lr1 = log(cfg->ratio_max);
    for (int t = 0; t < 10; t++) {
        double ta = area * unif(r, cfg->scale_min, cfg->scale_max);
        double ar = exp(unif(r, lr0, lr1));
        int cw = (int)lround(sqrt(ta * ar)), ch = (int)lround(sqrt(ta / ar));
        if (cw > 0 && cw <= W && ch > 0 && ch <= H) {
            *y = (int)lf_rng_below(r, (uint32_t)(H - ch + 1));
            *x = (int)lf_rng_below(r, (uint32_t)(W - cw + 1));
            *h = ch;
            *w = cw;
            return;
        }
    }
    double in_ratio = (double)W / H;
    int cw = W, ch = H;
    if (in_ratio < cfg->ratio_min) ch = (int)lround(cw / cfg->ratio_min);
    else if (in_ratio > cfg->ratio_max) cw = (int)lround(ch * cfg->ratio_max);
    if (ch > H) ch = H;
    if (cw > W) cw = W;
    *h = ch;
    *w = cw;
    *y = (H - ch) / 2;
    *x = (W - cw) / 2;
}

/* flips and a rotation by k * 90 degrees (counter-clockwise), through one plane of scratch */
static void flip_rotate(lf_image *im, int hflip, int vflip, int k, float *tmp)
{
    int h = im->h, w = im->w;
    size_t plane = (size_t)h * w;
    for (int c = 0; c < im->c; c++) {
        float *p = im->data + c * plane;
        memcpy(tmp, p, plane * sizeof(float));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                /* output (y, x) reads source (sy, sx); square images for k odd */
                int sy = y, sx = x, t;
                switch (k) {
                case 1: t = sy; sy = sx; sx = w - 1 - t; break;
                case 2: sy = h - 1 - sy; sx = w - 1 - sx; break;
                case 3: t = sy; sy = h - 1 - sx; sx = t; break;
                default: break;
                }
                if (vflip) sy = h - 1 - sy;
                if (hflip) sx = w - 1 - sx;
                p[(size_t)y * w + x] = tmp[(size_t)sy * w + sx];
            }
    }
}

static inline float clamp01(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
static inline float gray_of(float r, float g, float b)
{
    return 0.299f * r + 0.587f * g + 0.114f * b; /* ITU-R 601 luma, as torchvision */
}

static void rgb_to_hsv(float r, float g, float b, float *h, float *s, float *v)
{
    /* plain comparisons: fmaxf/fminf are library calls at -O2 (NaN rules) */
    float mx = r > g ? r : g, mn = r < g ? r : g;
    mx = b > mx ? b : mx;
    mn = b < mn ? b : mn;
    float d = mx - mn;
    *v = mx;
    *s = mx > 0 ? d / mx : 0;
    if (d <= 0) { *h = 0; return; }
    float hh;
    if (mx == r) hh = (g - b) / d;
    else if (mx == g) hh = 2.0f + (b - r) / d;
    else hh = 4.0f + (r - g) / d;
    hh /= 6.0f;
    *h = hh < 0 ? hh + 1.0f : hh;
}

static void hsv_to_rgb(float h, float s, float v, float *r, float *g, float *b)
{
    float h6 = h * 6.0f;
    int i = (int)floorf(h6);
    float f = h6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch (((i % 6) + 6) % 6) {
    case 0: *r = v; *g = t; *b = p; break;
    case 1: *r = q; *g = v; *b = p; break;
    case 2: *r = p; *g = v; *b = t; break;
    case 3: *r = p; *g = q; *b = v; break;
    case 4: *r = t; *g = p; *b = v; break;
    default: *r = v; *g = p; *b = q; break;
    }
}

/* torchvision ColorJitter: the four adjustments in random order, each clipped to [0, 1]. */
static void color_jitter(const lf_augment_config *cfg, lf_image *im, lf_rng *r)
{
    double s = cfg->jitter_strength, bs = 0.8 * s, hs = 0.2 * s;
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = (int)lf_rng_below(r, (uint32_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    float fb = (float)unif(r, fmax(0, 1 - bs), 1 + bs);
    float fc = (float)unif(r, fmax(0, 1 - bs), 1 + bs);
    float fs = (float)unif(r, fmax(0, 1 - bs), 1 + bs);
    float fh = (float)unif(r, -hs, hs);
    size_t n = (size_t)im->h * im->w;
    float *R = im->data, *G = R + n, *B = G + n;
    for (int k = 0; k < 4; k++) {
        switch (order[k]) {
        case 0: /* brightness: scale */
            for (size_t i = 0; i < 3 * n; i++) R[i] = clamp01(R[i] * fb);
            break;
        case 1: { /* contrast: blend with the mean grey level */
            double m = 0;
            for (size_t i = 0; i < n; i++) m += gray_of(R[i], G[i], B[i]);
            float mf = (float)(m / (double)n);
            for (size_t i = 0; i < 3 * n; i++) R[i] = clamp01(fc * R[i] + (1 - fc) * mf);
            break;
        }
        case 2: /* saturation: blend with the pixel's grey */
            for (size_t i = 0; i < n; i++) {
                float gv = gray_of(R[i], G[i], B[i]);
                R[i] = clamp01(fs * R[i] + (1 - fs) * gv);
                G[i] = clamp01(fs * G[i] + (1 - fs) * gv);
                B[i] = clamp01(fs * B[i] + (1 - fs) * gv);
            }
            break;
        default: /* hue: rotate in HSV */
            if (fh == 0) break;
            for (size_t i = 0; i < n; i++) {
                float h, sa, v;
                rgb_to_hsv(R[i], G[i], B[i], &h, &sa, &v);
                h += fh;
                h -= floorf(h);
                hsv_to_rgb(h, sa, v, &R[i], &G[i], &B[i]);
            }
            break;
        }
    }
}

/* Separable Gaussian, reflect padding (as SimCLR), kernel 2 * (k / 2) + 1 taps. Both passes
 * run tap-outer / pixel-inner so the inner loops are contiguous and vectorise. tmp: h * w
 * floats; rows wider than 4096 - 2 * MAXR are not blurred (never the case for crops). */
static void gaussian_blur(lf_image *im, double sigma, int radius, float *tmp)
{
    enum { MAXR = 64, MAXW = 4096 };
    int h = im->h, w = im->w;
    if (radius > MAXR) radius = MAXR;
    if (radius >= w) radius = w - 1;
    if (radius >= h) radius = h - 1;
    if (radius < 1 || w + 2 * radius > MAXW) return;
    float wgt[2 * MAXR + 1], pad[MAXW];
    double sum = 0;
    for (int k = -radius; k <= radius; k++) sum += exp(-0.5 * k * k / (sigma * sigma));
    for (int k = -radius; k <= radius; k++)
        wgt[k + radius] = (float)(exp(-0.5 * k * k / (sigma * sigma)) / sum);
    size_t plane = (size_t)h * w;
    for (int c = 0; c < im->c; c++) {
        float *p = im->data + c * plane;
        for (int y = 0; y < h; y++) { /* horizontal: reflect-pad the row, then convolve */
            const float *row = p + (size_t)y * w;
            for (int x = 0; x < w; x++) pad[radius + x] = row[x];
            for (int k = 1; k <= radius; k++) {
                pad[radius - k] = row[k];
                pad[radius + w - 1 + k] = row[w - 1 - k];
            }
            float *o = tmp + (size_t)y * w;
            for (int x = 0; x < w; x++) o[x] = 0;
            for (int k = 0; k <= 2 * radius; k++) {
                const float *src = pad + k;
                float wk = wgt[k];
                for (int x = 0; x < w; x++) o[x] += wk * src[x];
            }
        }
        for (int y = 0; y < h; y++) { /* vertical: weighted sum of reflected rows */
            float *o = p + (size_t)y * w;
            for (int x = 0; x < w; x++) o[x] = 0;
            for (int k = -radius; k <= radius; k++) {
                int yy = y + k;
                yy = yy < 0 ? -yy : yy >= h ? 2 * h - 2 - yy : yy;
                const float *src = tmp + (size_t)yy * w;
                float wk = wgt[k + radius];
                for (int x = 0; x < w; x++) o[x] += wk * src[x];
            }
        }
    }
}

lf_status lf_augment_apply(const lf_augment_config *cfg, const lf_image *src, lf_image *dst,
                           float *scratch, lf_rng *r)
{
    if (!cfg || !src || !dst || !r || !src->data || src == dst)
        return lf_error(LF_ERR_ARG, "lf_augment_apply: bad arguments");
    if (cfg->out_h < 1 || cfg->out_w < 1)
        return lf_error(LF_ERR_ARG, "lf_augment_apply: output size %dx%d", cfg->out_h, cfg->out_w);
    if (cfg->random_crop && !(cfg->scale_min > 0 && cfg->scale_min <= cfg->scale_max &&
                              cfg->scale_max <= 1 && cfg->ratio_min > 0 &&
                              cfg->ratio_min <= cfg->ratio_max))
        return lf_error(LF_ERR_ARG, "lf_augment_apply: crop scale (%g, %g) ratio (%g, %g)",
                        cfg->scale_min, cfg->scale_max, cfg->ratio_min, cfg->ratio_max);
    lf_status st = lf_image_alloc(dst, src->c, 1, cfg->out_h, cfg->out_w);
    if (st) return st;
    dst->bit_depth = src->bit_depth;
    float *own = NULL;
    if (!scratch) {
        own = scratch = lf_malloc((size_t)cfg->out_h * cfg->out_w * sizeof(float));
        if (!own) return LF_ERR_NOMEM;
    }
    /* 1. crop + resize */
    int cy = 0, cx = 0, ch = src->h, cw = src->w;
    if (cfg->random_crop) crop_params(cfg, src->h, src->w, r, &cy, &cx, &ch, &cw);
    st = lf_image_resize_region(src, cy, cx, ch, cw, dst);
    /* 2. flips and rotation */
    int hf = cfg->p_hflip > 0 && lf_rng_uniform(r) < cfg->p_hflip;
    int vf = cfg->p_vflip > 0 && lf_rng_uniform(r) < cfg->p_vflip;
    int k = 0;
    if (cfg->rot90) /* a non-square output can only turn by 180 degrees */
        k = dst->h == dst->w ? (int)lf_rng_below(r, 4) : 2 * (int)lf_rng_below(r, 2);
    if (st == LF_OK && (hf || vf || k)) flip_rotate(dst, hf, vf, k, scratch);
    /* 3. colour / intensity */
    size_t plane = (size_t)dst->h * dst->w;
    if (st == LF_OK && cfg->p_jitter > 0 && lf_rng_uniform(r) < cfg->p_jitter) {
        if (dst->c == 3) {
            color_jitter(cfg, dst, r);
        } else {
            for (int c = 0; c < dst->c; c++) {
                float a = (float)unif(r, 1 - cfg->intensity_scale, 1 + cfg->intensity_scale);
                float b = (float)unif(r, -cfg->intensity_shift, cfg->intensity_shift);
                float *p = dst->data + c * plane;
                for (size_t i = 0; i < plane; i++) p[i] = p[i] * a + b;
            }
        }
    }
    if (st == LF_OK && dst->c == 3 && cfg->p_gray > 0 && lf_rng_uniform(r) < cfg->p_gray) {
        float *R = dst->data, *G = R + plane, *B = G + plane;
        for (size_t i = 0; i < plane; i++) R[i] = G[i] = B[i] = gray_of(R[i], G[i], B[i]);
    }
    /* 4. blur */
    if (st == LF_OK && cfg->p_blur > 0 && lf_rng_uniform(r) < cfg->p_blur) {
        double sigma = unif(r, cfg->blur_sigma_min, cfg->blur_sigma_max);
        int side = dst->h < dst->w ? dst->h : dst->w;
        int radius = (int)(side * cfg->blur_kernel_frac) / 2;
        if (radius >= 1 && sigma > 0) gaussian_blur(dst, sigma, radius, scratch);
    }
    lf_free(own);
    return st;
}
