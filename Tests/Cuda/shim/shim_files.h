// File helpers of the shim drivers: whole files of little-endian floats (or bytes) in and out.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static std::vector<char> espnet_read_bytes(const char* path)
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

static std::vector<float> espnet_read_floats(const char* path)
{
    std::vector<char> bytes = espnet_read_bytes(path);
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

static void espnet_write(const std::string& path, const void* data, size_t bytes)
{
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(data, 1, bytes, f) != bytes) { std::perror(path.c_str()); std::exit(2); }
    std::fclose(f);
}
