/* .npy arrays (numpy format 1.0-3.0): uint8, uint16, float32, float64, C order.
 * Axis convention (documented in labelfree.h): (H, W); (C, H, W), or (H, W, C) when the last
 * dim is <= 4 and the first > 4; (C, D, H, W). */
#include "data/image_internal.h"
#include "io/io_internal.h"

#include <stdlib.h>
#include <string.h>

lf_status lf_npy_read(FILE *f, const char *path, lf_image *img)
{
    npy_info info;
    lf_status st = lf_npy_read_header(f, path, &info);
    if (st != LF_OK) return st;
    const char *descr = info.descr;
    int esize = 0, bits = 0;
    if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1")) {
        esize = 1; bits = 8;
    } else if (!strcmp(descr, "<u2")) {
        esize = 2; bits = 16;
    } else if (!strcmp(descr, "<f4")) {
        esize = 4; bits = 32;
    } else if (!strcmp(descr, "<f8")) {
        esize = 8; bits = 64;
    }
    if (!esize)
        return lf_error(LF_ERR_UNSUPPORTED, "%s: .npy dtype '%s' (supported: uint8, uint16, "
                        "float32, float64, little-endian)", path, descr);
    const int nd = info.ndim;
    const int64_t *dims = info.shape;
    int positive = 1;
    for (int i = 0; i < nd; i++) positive &= dims[i] > 0;
    if (nd < 2 || nd > 4 || !positive)
        return lf_error(LF_ERR_FORMAT, "%s: .npy array must have 2 to 4 non-empty dims ((H, W), "
                        "(C, H, W), (H, W, C) or (C, D, H, W))", path);
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
