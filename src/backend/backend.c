#include "backend.h"

static const lf_backend cpu_backend = {
    .gemm = lf_gemm,
    .conv = lf_conv_cpu_run,
    .conv_chunk = lf_conv_cpu_chunk,
    .conv_bias_forward = lf_conv_bias_forward,
    .conv_bias_backward = lf_conv_bias_backward,
};

const lf_backend *lf_backend_for(lf_device d)
{
    switch (d) {
    case LF_DEVICE_CPU: return &cpu_backend;
    default: return NULL; /* a CUDA build registers its table here */
    }
}

const char *lf_device_name(lf_device d)
{
    switch (d) {
    case LF_DEVICE_CPU: return "cpu";
    case LF_DEVICE_CUDA: return "cuda";
    default: return "unknown device";
    }
}
