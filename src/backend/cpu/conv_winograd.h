/* Winograd F(2x2, 3x3) for 3x3 stride-1 "same" convolutions on the CPU (conv_winograd.c).
 * Not part of the public API. */
#ifndef LF_CONV_WINOGRAD_H
#define LF_CONV_WINOGRAD_H

#include "conv_cpu.h"

/* 1 when lf_conv_cpu_run may take the Winograd path: a float build on an AVX-512 machine
 * (lf_gemm512_available) whose environment does not set LF_CONV=im2col. Read once. */
int lf_conv_winograd_enabled(void);
/* Tests: 1 forces the path on where the machine allows it, 0 off, -1 back to the
 * environment's choice. */
void lf_conv_winograd_force(int mode);

/* True when q is a 2-D 3x3 convolution with stride 1, dilation 1, padding 1 in H and W, one
 * group and equal image- and column-side sizes: the only geometry the path computes. */
bool lf_conv_winograd_fits(const lf_conv_geom *q);

/* The products of j that the path computes, on T threads (each a fixed range of images):
 * colside_out from img (+= if accumulate) and img_out (+=) from colside. j->dw must be NULL
 * (the caller runs it on the im2col path). Scratch: g's slots 5 and 6. */
lf_status lf_conv_winograd_run(lf_graph *g, const lf_conv_geom *q, const lf_conv_job *j, int T);

#endif
