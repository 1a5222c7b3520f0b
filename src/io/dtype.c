/* Element types of stored tensors: names as safetensors spells them, sizes, half floats. */
#include "io_internal.h"

#include <string.h>

static const char *const names[] = {"F32", "F64", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL"};
static const size_t sizes[] = {4, 8, 2, 2, 8, 4, 1, 1, 1};
#define N_DTYPES ((int)(sizeof sizes / sizeof sizes[0]))

const char *lf_dtype_name(lf_dtype d)
{
    return (int)d >= 0 && (int)d < N_DTYPES ? names[d] : "?";
}

size_t lf_dtype_size(lf_dtype d) { return (int)d >= 0 && (int)d < N_DTYPES ? sizes[d] : 0; }

int lf_dtype_parse(const char *s, lf_dtype *d)
{
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, names[i]) == 0) {
            *d = (lf_dtype)i;
            return 1;
        }
    return 0;
}

float lf_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13; /* inf / nan */
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float lf_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
