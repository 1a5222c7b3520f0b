/* Winograd F(2x2, 3x3), F(4x4, 3x3) and the 2x2 images' dual kind for 3x3 stride-1 "same"
 * convolutions on the CPU (conv_winograd.c, conv_winograd4.c, conv_winograd_dual.c), and the
 * stride-2 kind for the forward pass of 3x3 stride-2 pad-1 ones (conv_winograd_s2.c).
 * Not part of the public API. */
#ifndef LF_CONV_WINOGRAD_H
#define LF_CONV_WINOGRAD_H

#include "conv_cpu.h"

/* 1 when lf_conv_cpu_run may take the Winograd path: a float build on an AVX-512 machine
 * (lf_gemm512_available) whose environment does not set LF_CONV=im2col (LF_CONV=winograd2:
 * F(2x2, 3x3) alone). Read once. */
int lf_conv_winograd_enabled(void);
/* Tests: 1 forces the path on where the machine allows it, 2 on with F(2x2, 3x3) alone (no
 * F(4x4, 3x3)), 0 off, -1 back to the environment's choice. */
void lf_conv_winograd_force(int mode);

/* True when q is a 2-D 3x3 convolution with stride 1, dilation 1, padding 1 in H and W, one
 * group and equal image- and column-side sizes: the only geometry the path computes. */
bool lf_conv_winograd_fits(const lf_conv_geom *q);

/* True when the weight gradient of q (which fits) is worth the Winograd path: more than 64
 * channels on both sides. dW's 16 products are co x ci, and with few channels their
 * 48-column panels run part empty: at 64 channels the two paths took the same time, at 3
 * (a CIFAR stem) Winograd 1.6x longer, from 128 on 11-33 % less (NOTES 17). */
bool lf_conv_winograd_dw_fits(const lf_conv_geom *q);

/* The products of j on T threads: colside_out from img (+= if accumulate), img_out (+=)
 * from colside (each thread a fixed range of images), dw (+=) from img and colside (blocks
 * of tiles shared by all threads; results do not depend on T; the caller checks
 * lf_conv_winograd_dw_fits). Scratch: g's slots 0 and 2, as the im2col path's columns
 * and weight-gradient accumulators (never in use at the same time). */
lf_status lf_conv_winograd_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j, int T);

/* F(4x4, 3x3) (conv_winograd4.c) for the forward pass and the input gradient: true when q
 * (which fits) has images of at least 3x3 (a 2x2 image is one exact F(2x2) tile). */
bool lf_conv_winograd4_fits(const lf_conv_geom *q);

/* The dual of F(2x2, 2x2) (conv_winograd_dual.c) for the forward pass and the input gradient
 * of 2x2 images: 9 products an image where F(2x2, 3x3) does 16. True when q (which fits)
 * has 2x2 images. */
bool lf_conv_winograd_dual_fits(const lf_conv_geom *q);

/* The forward pass of 3x3 stride-2 pad-1 convolutions (conv_winograd_s2.c): 25 products per
 * 2x2 output tile where im2col does 36. fits: a 2-D one-group geometry with outputs of
 * ceil(in / 2), and n images' offsets within int32; takes: lf_conv_cpu_run sends job j
 * there (a forward product alone, on T's batch-parallel AVX-512 path, Winograd with F(4x4)
 * on: not LF_CONV=im2col or winograd2); run: j on T threads (results independent of T). */
bool lf_conv_winograd_s2_fits(const lf_conv_geom *q, int64_t n);
bool lf_conv_winograd_s2_takes(const lf_conv_geom *q, const lf_conv_job *j);
lf_status lf_conv_winograd_s2_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j,
                                  int T);

#endif
