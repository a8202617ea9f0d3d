// Public C++ interface of the native RCC scorer (docs/rcc.md v1): CPU (scalar / AVX2 / AVX-512,
// multi-threaded) and CUDA (driver API loaded at run time). Used by the Node addon and by the
// standalone harness; nothing here depends on Node or on CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rcc {

enum class Simd : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* simd_name(Simd s);
bool parse_simd(const std::string& name, Simd* out);
// Levels this CPU and build can run, lowest first (always contains Scalar).
std::vector<Simd> available_simd();
Simd best_simd();
// Worker threads the CPU path uses by default (CPUs in this process's affinity mask).
unsigned default_threads();

struct ChunkIn {
  uint32_t seed_lo, seed_hi, step, chunk, k;
  const float* d;  // chunk's standardised target offsets, n entries, finite
  uint32_t n;
  float a = 0.0f, b = 1.0f;  // target shape (§6): score = lnT - ((a dot) dot + b dot); finite
};
struct ChunkOut {
  uint32_t index;
  float score;
};

// Throws std::invalid_argument when a chunk breaks the spec's preconditions (k > 24, n == 0,
// non-finite d, a or b, step >= 2^28).
void validate(const ChunkIn& c);

// Selection on the CPU. threads == 0 means default_threads().
void select_cpu(const ChunkIn* in, size_t count, ChunkOut* out, Simd simd, unsigned threads);
// Candidate `index`'s n standard normals (§4).
void candidate_cpu(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t index, uint32_t n,
                   float* out, Simd simd);
// ln T_i for i < 2^k (§5).
void ln_arrival_times_cpu(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t k, float* out,
                          Simd simd, unsigned threads);

// CUDA. cuda_info() initialises lazily and never throws; the other calls throw std::runtime_error
// when CUDA is unavailable or a driver call fails.
struct CudaInfo {
  bool available = false;
  std::string device;  // e.g. "NVIDIA H100 80GB HBM3"
  std::string error;   // why it is unavailable
  std::string jit;     // "ptx" (embedded PTX) or "nvrtc"
  int cc_major = 0, cc_minor = 0, sms = 0;
};
CudaInfo cuda_info();
// threads_per_candidate: 0 = automatic, else 4 or 16.
void select_cuda(const ChunkIn* in, size_t count, ChunkOut* out, int threads_per_candidate = 0);
void candidate_cuda(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t index, uint32_t n,
                    float* out);
void ln_arrival_times_cuda(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t k, float* out);

}  // namespace rcc
