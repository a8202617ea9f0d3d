// Interface between the engine (rcc_engine.cpp, baseline ISA) and the per-ISA kernels
// (rcc_scalar.cpp, rcc_avx2.cpp, rcc_avx512.cpp). Plain structs and function pointers only: the
// ISA-specific translation units must not instantiate STL templates (see rcc_spec.h).
#pragma once

#include <cstdint>

#include "rcc_spec.h"

namespace rcc {

// One chunk, prepared by the engine.
struct ChunkDesc {
  uint32_t key0, key1;  // Philox key (seedLo, seedHi)
  uint32_t c3_cand;     // counter word 3 of the candidate domain, (0 << 28) | step
  uint32_t c3_arr;      // counter word 3 of the arrival domain, (1 << 28) | step
  uint32_t chunk;
  uint32_t n;           // chunk dims
  uint32_t J;           // Philox counters per candidate, ceil(n / 4)
  uint32_t Jpad;        // J rounded up to a multiple of 16 (the SIMD lane count)
  const float* d;       // n entries (scalar kernel)
  const float* dT;      // 4 * Jpad entries, dT[w * Jpad + j] = d[4j + w], zero past n (SIMD kernels)
  float a, b;           // target shape (§6)
};

struct Kernels {
  const char* name;
  // L[t] for candidates first + t, t < count: the in-block running sums of §5. first is a
  // multiple of 256 and count <= 256.
  void (*arrival_block)(const ChunkDesc& c, uint32_t first, uint32_t count, float* L);
  // lnT[t] = ln(S + L[t]) for t < count.
  void (*ln_offset)(float S, const float* L, uint32_t count, float* lnT);
  // Scores candidates first .. first + count - 1 given their ln T; the best by the §6 rule.
  spec::Best (*score)(const ChunkDesc& c, uint32_t first, uint32_t count, const float* lnT);
  // n normals of the Philox stream (j, c1, c2, c3) for j = 0, 1, ... (§4, §8).
  void (*gaussians)(uint32_t k0, uint32_t k1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t n, float* out);
};

const Kernels* kernels_scalar();
const Kernels* kernels_avx2();    // nullptr when not built (non-x86)
const Kernels* kernels_avx512();  // nullptr when not built (non-x86)

}  // namespace rcc
