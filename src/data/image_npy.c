/* .npy arrays (numpy format 1.0-3.0): uint8, uint16, float32, float64, C order.
 * Axis convention (documented in labelfree.h): (H, W); (C, H, W), or (H, W, C) when the last
 * dim is <= 4 and the first > 4; (C, D, H, W). */
#include "data/image_internal.h"

#include <stdlib.h>
#include <string.h>

/* Finds 'key': in the header dict and returns a pointer just after the colon. */
static const char *dict_value(const char *hdr, const char *key)
{
    const char *p = strstr(hdr, key);
    if (!p) return NULL;
    p = strchr(p + strlen(key), ':');
    if (!p) return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

lf_status lf_npy_read(FILE *f, const char *path, lf_image *img)
{
    unsigned char pre[10];
    if (fread(pre, 1, 10, f) != 10) return lf_error(LF_ERR_FORMAT, "%s: truncated .npy header", path);
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char more[2];
        if (fread(more, 1, 2, f) != 2) return lf_error(LF_ERR_FORMAT, "%s: truncated .npy header", path);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)more[0] << 16 | (size_t)more[1] << 24;
    } else {
        return lf_error(LF_ERR_UNSUPPORTED, "%s: .npy format version %d", path, pre[6]);
    }
    if (hlen > 1 << 20) return lf_error(LF_ERR_FORMAT, "%s: .npy header of %zu bytes", path, hlen);
    char *hdr = lf_malloc(hlen + 1);
    if (!hdr) return LF_ERR_NOMEM;
    lf_status st = LF_OK;
    if (fread(hdr, 1, hlen, f) != hlen) {
        lf_free(hdr);
        return lf_error(LF_ERR_FORMAT, "%s: truncated .npy header", path);
    }
    hdr[hlen] = 0;
    const char *descr = dict_value(hdr, "'descr'");
    const char *fo = dict_value(hdr, "'fortran_order'");
    const char *shp = dict_value(hdr, "'shape'");
    int esize = 0, bits = 0;
    if (descr && (!strncmp(descr, "'|u1'", 5) || !strncmp(descr, "'<u1'", 5))) {
        esize = 1; bits = 8;
    } else if (descr && !strncmp(descr, "'<u2'", 5)) {
        esize = 2; bits = 16;
    } else if (descr && !strncmp(descr, "'<f4'", 5)) {
        esize = 4; bits = 32;
    } else if (descr && !strncmp(descr, "'<f8'", 5)) {
        esize = 8; bits = 64;
    }
    int64_t dims[8];
    int nd = 0;
    if (!esize) {
        st = lf_error(LF_ERR_UNSUPPORTED, "%s: .npy dtype %.8s (supported: uint8, uint16, "
                      "float32, float64, little-endian)", path, descr ? descr : "?");
    } else if (!fo || strncmp(fo, "False", 5)) {
        st = lf_error(LF_ERR_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", path);
    } else if (!shp || *shp != '(') {
        st = lf_error(LF_ERR_FORMAT, "%s: .npy header without a shape", path);
    } else {
        const char *p = shp + 1;
        while (*p && *p != ')') {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p) break;
            if (nd == 8 || v <= 0) { nd = -1; break; }
            dims[nd++] = v;
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
        if (nd < 2 || nd > 4)
            st = lf_error(LF_ERR_FORMAT, "%s: .npy array must have 2 to 4 dims ((H, W), (C, H, "
                          "W), (H, W, C) or (C, D, H, W))", path);
    }
    lf_free(hdr);
    if (st != LF_OK) return st;
    int64_t c = 1, d = 1, h, w;
    int hwc = 0;
    if (nd == 2) {
        h = dims[0]; w = dims[1];
    } else if (nd == 3) {
        hwc = dims[2] <= 4 && dims[0] > 4;
        if (hwc) { h = dims[0]; w = dims[1]; c = dims[2]; }
        else { c = dims[0]; h = dims[1]; w = dims[2]; }
    } else {
        c = dims[0]; d = dims[1]; h = dims[2]; w = dims[3];
    }
    if (c > LF_IMAGE_MAX_CHANNELS || h > 1 << 20 || w > 1 << 20 || d > 1 << 16)
        return lf_error(LF_ERR_UNSUPPORTED, "%s: .npy array too large (%lld channels)", path,
                        (long long)c);
    if ((st = lf_image_alloc(img, (int)c, (int)d, (int)h, (int)w)) != LF_OK) return st;
    img->bit_depth = bits;
    size_t n = (size_t)(c * d * h * w);
    unsigned char *raw = lf_malloc(n * (size_t)esize);
    if (!raw) return LF_ERR_NOMEM;
    size_t got = fread(raw, (size_t)esize, n, f);
    if (got != n) {
        lf_free(raw);
        return lf_error(LF_ERR_FORMAT, "%s: truncated .npy data (%zu of %zu values)", path, got, n);
    }
    size_t plane = (size_t)(d * h * w);
    for (size_t i = 0; i < n; i++) {
        float v;
        if (esize == 1) v = raw[i] / 255.0f;
        else if (esize == 2) { uint16_t u; memcpy(&u, raw + 2 * i, 2); v = u / 65535.0f; }
        else if (esize == 4) memcpy(&v, raw + 4 * i, 4);
        else { double x; memcpy(&x, raw + 8 * i, 8); v = (float)x; }
        size_t o = hwc ? (i % (size_t)c) * plane + i / (size_t)c : i;
        img->data[o] = v;
    }
    lf_free(raw);
    return LF_OK;
}
