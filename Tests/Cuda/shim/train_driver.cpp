// Runs a network's generated CUDA training kernels through the CPU shim: for each settings file, one training
// step (forward, loss, backward) and one optimizer update.
// usage: train_driver PARAMS.bin ARENA_FLOATS INPUT_OFFSET INPUT.bin WORK.bin HYPER_OFFSET LOSS_OFFSET sgd|adam OUTDIR HYPER.bin...
// Writes to OUTDIR, after the first step: d.bin (parameter gradients), t.bin (the arena), p1.bin (the parameters,
// running statistics updated); after the last update: p.bin; loss.bin (each step's loss, double).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" void espnet_train_shim(float* p, float* t, float* d, float* w);
extern "C" void espnet_sgd_shim(float* p, float* t, float* d, float* w);
extern "C" void espnet_adam_shim(float* p, float* t, float* d, float* w);

static std::vector<char> read(const char* path)
{
    std::FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    std::fseek(f, 0, SEEK_END);
    long bytes = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    std::vector<char> v(bytes);
    if (bytes > 0 && std::fread(v.data(), 1, bytes, f) != (size_t)bytes) { std::perror(path); std::exit(2); }
    std::fclose(f);
    return v;
}

static std::vector<float> floats(const char* path)
{
    std::vector<char> bytes = read(path);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

static void write(const std::string& path, const void* data, size_t bytes)
{
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(data, 1, bytes, f) != bytes) { std::perror(path.c_str()); std::exit(2); }
    std::fclose(f);
}

int main(int argc, char** argv)
{
    if (argc < 11) { std::fprintf(stderr, "usage: train_driver PARAMS ARENA INOFF IN WORK HYPEROFF LOSSOFF sgd|adam OUTDIR HYPER...\n"); return 2; }
    std::vector<float> p = floats(argv[1]);
    std::vector<float> t(std::strtoll(argv[2], nullptr, 10), std::nanf(""));   // NaN: a read of unwritten memory shows
    std::vector<float> d(p.size(), std::nanf(""));                              // the step must clear it
    std::vector<float> in = floats(argv[4]);
    std::vector<float> w = floats(argv[5]);
    long long inOff = std::strtoll(argv[3], nullptr, 10), hyperOff = std::strtoll(argv[6], nullptr, 10), lossOff = std::strtoll(argv[7], nullptr, 10);
    bool adam = std::strcmp(argv[8], "adam") == 0;
    std::string out = argv[9];
    std::vector<double> losses;
    for (int k = 10; k < argc; k++)
    {
        for (size_t i = 0; i < in.size(); i++) t[inOff + i] = in[i];
        espnet_train_shim(p.data(), t.data(), d.data(), w.data());
        double loss;
        std::memcpy(&loss, w.data() + lossOff, sizeof loss);
        losses.push_back(loss);
        if (k == 10)
        {
            write(out + "/d.bin", d.data(), d.size() * 4);
            write(out + "/t.bin", t.data(), t.size() * 4);
            write(out + "/p1.bin", p.data(), p.size() * 4);
        }
        std::vector<char> hyper = read(argv[k]);
        std::memcpy(w.data() + hyperOff, hyper.data(), hyper.size());
        (adam ? espnet_adam_shim : espnet_sgd_shim)(p.data(), t.data(), d.data(), w.data());
    }
    write(out + "/p.bin", p.data(), p.size() * 4);
    write(out + "/loss.bin", losses.data(), losses.size() * sizeof(double));
    return 0;
}
