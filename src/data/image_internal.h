/* Per-format decoders behind lf_image_read (src/data/image.c dispatches on magic bytes). */
#ifndef LF_DATA_IMAGE_INTERNAL_H
#define LF_DATA_IMAGE_INTERNAL_H

#include "labelfree.h"

#include <stdio.h>

/* Each gets an open file positioned at 0; errors name `path`. */
lf_status lf_png_read(FILE *f, const char *path, lf_image *img);
lf_status lf_jpeg_read(FILE *f, const char *path, lf_image *img);
lf_status lf_tiff_read(const char *path, lf_image *img);
lf_status lf_npy_read(FILE *f, const char *path, lf_image *img);

#endif
