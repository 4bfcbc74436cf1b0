// Runs a network's generated CUDA source through the CPU shim.
// usage: driver PARAMS.bin ARENA_FLOATS INPUT_OFFSET INPUT.bin OUTPUT_OFFSET OUTPUT_FLOATS OUTPUT.bin
#include "shim_files.h"

extern "C" void espnet_forward_shim(const float* p, float* a);

int main(int argc, char** argv)
{
    if (argc != 8) { std::fprintf(stderr, "usage: driver PARAMS ARENA INOFF IN OUTOFF OUTLEN OUT\n"); return 2; }
    std::vector<float> p = espnet_read_floats(argv[1]);
    std::vector<float> a(std::strtoll(argv[2], nullptr, 10), std::nanf(""));   // NaN: a read of unwritten memory shows
    std::vector<float> in = espnet_read_floats(argv[4]);
    long long inOff = std::strtoll(argv[3], nullptr, 10), outOff = std::strtoll(argv[5], nullptr, 10), outLen = std::strtoll(argv[6], nullptr, 10);
    for (size_t i = 0; i < in.size(); i++) a[inOff + i] = in[i];
    espnet_forward_shim(p.data(), a.data());
    espnet_write(argv[7], a.data() + outOff, (size_t)outLen * 4);
    return 0;
}
