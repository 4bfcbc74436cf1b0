// Runs the generated CUDA kernels on the CPU: __global__ is an ordinary function, the thread coordinates are
// globals, and a launch calls the kernel once per thread of the grid, in order. The kernels use no shared memory
// or barriers (one thread per output element), so this is the same computation as on the GPU.
#pragma once
#include <cmath>

#define __global__
#define __restrict__ __restrict

static unsigned espnet_shim_tid, espnet_shim_bid, espnet_shim_bdim, espnet_shim_gdim;
#define ESP_TID espnet_shim_tid
#define ESP_BID espnet_shim_bid
#define ESP_BDIM espnet_shim_bdim
#define ESP_GDIM espnet_shim_gdim

static inline float espnet_shim_exp(float v) { return std::exp(v); }
static inline float espnet_shim_sqrt(float v) { return std::sqrt(v); }
static inline float espnet_shim_floor(float v) { return std::floor(v); }
static inline float espnet_shim_log(float v) { return std::log(v); }
static inline double espnet_shim_dsqrt(double v) { return std::sqrt(v); }

#define ESPNET_SHIM_LAUNCH(kernel, threads, ...)                                                   \
    do {                                                                                           \
        espnet_shim_bdim = 256;                                                                    \
        espnet_shim_gdim = (unsigned)(((threads) + 255) / 256);                                    \
        for (espnet_shim_bid = 0; espnet_shim_bid < espnet_shim_gdim; espnet_shim_bid++)           \
            for (espnet_shim_tid = 0; espnet_shim_tid < espnet_shim_bdim; espnet_shim_tid++)       \
                kernel(__VA_ARGS__);                                                               \
    } while (0)
