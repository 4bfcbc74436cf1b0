// Runs a network's generated CUDA source through the CPU shim.
// usage: driver PARAMS.bin ARENA_FLOATS INPUT_OFFSET INPUT.bin OUTPUT_OFFSET OUTPUT_FLOATS OUTPUT.bin
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" void espnet_forward_shim(const float* p, float* a);

static std::vector<float> read(const char* path)
{
    std::FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    std::fseek(f, 0, SEEK_END);
    long bytes = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    std::vector<float> v(bytes / 4);
    if (std::fread(v.data(), 4, v.size(), f) != v.size()) { std::perror(path); std::exit(2); }
    std::fclose(f);
    return v;
}

int main(int argc, char** argv)
{
    if (argc != 8) { std::fprintf(stderr, "usage: driver PARAMS ARENA INOFF IN OUTOFF OUTLEN OUT\n"); return 2; }
    std::vector<float> p = read(argv[1]);
    std::vector<float> a(std::strtoll(argv[2], nullptr, 10), std::nanf(""));   // NaN: a read of unwritten memory shows
    std::vector<float> in = read(argv[4]);
    long long inOff = std::strtoll(argv[3], nullptr, 10), outOff = std::strtoll(argv[5], nullptr, 10), outLen = std::strtoll(argv[6], nullptr, 10);
    for (size_t i = 0; i < in.size(); i++) a[inOff + i] = in[i];
    espnet_forward_shim(p.data(), a.data());
    std::FILE* f = std::fopen(argv[7], "wb");
    if (!f || std::fwrite(a.data() + outOff, 4, outLen, f) != (size_t)outLen) { std::perror(argv[7]); return 2; }
    std::fclose(f);
    return 0;
}
