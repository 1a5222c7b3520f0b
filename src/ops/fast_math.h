/* exp and erf for float, written so the compiler vectorises them (no calls, no branches):
 * glibc's expf / erff are scalar calls, which were 10-20 % of a ViT's inference (GELU and
 * softmax). Accuracy, measured by tests/unit/test_ops_elementwise.c over a dense grid:
 * lf_fast_expf within 2 ulp of exp on [-87.3, 88.37] (0 below, exp(88.37) above: the
 * callers' arguments are <= 0); lf_fast_erff within 3.5e-7 of erf (absolute). Float builds
 * only: the float64 build (gradient checks) keeps libm. */
#ifndef LF_FAST_MATH_H
#define LF_FAST_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 in two parts (Cody-Waite), exp(r) by
 * Cephes' degree-7 polynomial. */
static inline float lf_fast_expf(float x)
{
    x = x < -87.3f ? -87.3f : x > 88.37f ? 88.37f : x;
    /* round to nearest by the 1.5 * 2^23 trick: no call, vectorisable */
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return x <= -87.3f ? 0.0f : p * s;
}

/* |x| < 0.5: the Taylor series to x^11 (error < 2e-8); else
 * erf(x) = sign(x) (1 - t (a1 + t (a2 + ...)) exp(-x^2)), t = 1 / (1 + p |x|): Abramowitz
 * and Stegun 7.1.26 (|error| <= 1.5e-7), which near 0 would lose digits to 1 - (~1). */
static inline float lf_fast_erff(float x)
{
    const float a = x < 0 ? -x : x, t = 1.0f / (1.0f + 0.3275911f * a);
    float q = 1.061405429f;
    q = q * t - 1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t - 0.284496736f;
    q = q * t + 0.254829592f;
    const float y = 1.0f - q * t * lf_fast_expf(-a * a);
    const float z = x * x; /* 2/sqrt(pi) (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320) */
    float s = -1.0f / 1320;
    s = s * z + 1.0f / 216;
    s = s * z - 1.0f / 42;
    s = s * z + 1.0f / 10;
    s = s * z - 1.0f / 3;
    s = s * z + 1.0f;
    const float small = 1.1283791670955126f * x * s;
    return a < 0.5f ? small : x < 0 ? -y : y;
}

/* GELU (erf form) of one value as lf_gelu computes it, also used by fused epilogues so that
 * both give the same bits */
#ifdef LF_DOUBLE
#define LF_GELU_ERF(v) erf(v)
#define LF_GELU_EXP(v) exp(v)
#else
#define LF_GELU_ERF(v) lf_fast_erff(v)
#define LF_GELU_EXP(v) lf_fast_expf(v)
#endif
#define LF_GELU_VALUE(x) ((lf_real)0.5 * (x) * (1 + LF_GELU_ERF((x) * (lf_real)0.70710678118654752440)))

#endif
