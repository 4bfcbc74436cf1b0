// Runs a network's generated CUDA training kernels through the CPU shim: for each settings file, one training
// step (forward, loss, backward) and one optimizer update.
// usage: train_driver PARAMS.bin ARENA_FLOATS INPUT_OFFSET INPUT.bin WORK.bin HYPER_OFFSET LOSS_OFFSET sgd|adam OUTDIR HYPER.bin...
// Writes to OUTDIR, after the first step: d.bin (parameter gradients), t.bin (the arena), p1.bin (the parameters,
// running statistics updated); after the last update: p.bin; loss.bin (each step's loss, double).
#include "shim_files.h"

extern "C" void espnet_train_shim(float* p, float* t, float* d, float* w);
extern "C" void espnet_sgd_shim(float* p, float* t, float* d, float* w);
extern "C" void espnet_adam_shim(float* p, float* t, float* d, float* w);

int main(int argc, char** argv)
{
    if (argc < 11) { std::fprintf(stderr, "usage: train_driver PARAMS ARENA INOFF IN WORK HYPEROFF LOSSOFF sgd|adam OUTDIR HYPER...\n"); return 2; }
    std::vector<float> p = espnet_read_floats(argv[1]);
    std::vector<float> t(std::strtoll(argv[2], nullptr, 10), std::nanf(""));   // NaN: a read of unwritten memory shows
    std::vector<float> d(p.size(), std::nanf(""));                              // the step must clear it
    std::vector<float> in = espnet_read_floats(argv[4]);
    std::vector<float> w = espnet_read_floats(argv[5]);
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
            espnet_write(out + "/d.bin", d.data(), d.size() * 4);
            espnet_write(out + "/t.bin", t.data(), t.size() * 4);
            espnet_write(out + "/p1.bin", p.data(), p.size() * 4);
        }
        std::vector<char> hyper = espnet_read_bytes(argv[k]);
        std::memcpy(w.data() + hyperOff, hyper.data(), hyper.size());
        (adam ? espnet_adam_shim : espnet_sgd_shim)(p.data(), t.data(), d.data(), w.data());
    }
    espnet_write(out + "/p.bin", p.data(), p.size() * 4);
    espnet_write(out + "/loss.bin", losses.data(), losses.size() * sizeof(double));
    return 0;
}
