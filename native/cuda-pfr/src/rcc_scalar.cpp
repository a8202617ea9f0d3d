// Portable scalar kernels: the spec (docs/rcc.md §4–§6) written out literally, one candidate at a
// time. Also the fallback on CPUs without AVX2 and the oracle the SIMD kernels are checked against.
#include "rcc_kernels.h"

namespace rcc {
namespace {

using namespace spec;

void arrival_block(const ChunkDesc& c, uint32_t first, uint32_t count, float* L) {
  uint32_t w[4];
  float prev = 0.0f;
  for (uint32_t t = 0; t < count; ++t) {
    const uint32_t i = first + t;
    if ((i & 3) == 0 || t == 0) philox4x32(i >> 2, 0, c.chunk, c.c3_arr, c.key0, c.key1, w);
    const float e = exponential(w[i & 3]);
    prev = (i % kArrivalBlock == 0) ? e : prev + e;
    L[t] = prev;
  }
}

void ln_offset(float S, const float* L, uint32_t count, float* lnT) {
  for (uint32_t t = 0; t < count; ++t) lnT[t] = ln(S + L[t]);
}

Best score(const ChunkDesc& c, uint32_t first, uint32_t count, const float* lnT) {
  Best best = best_init();
  float acc[kDotLanes];
  uint32_t w[4];
  float g[4];
  for (uint32_t t = 0; t < count; ++t) {
    const uint32_t i = first + t;
    for (int l = 0; l < kDotLanes; ++l) acc[l] = 0.0f;
    for (uint32_t j = 0; j < c.J; ++j) {
      philox4x32(j, i, c.chunk, c.c3_cand, c.key0, c.key1, w);
      normal_pair(w[0], w[1], g);
      normal_pair(w[2], w[3], g + 2);
      for (uint32_t q = 0; q < 4 && 4 * j + q < c.n; ++q) {
        const uint32_t dim = 4 * j + q;
        const int l = int(dim & (kDotLanes - 1));
        acc[l] = acc[l] + g[q] * c.d[dim];
      }
    }
    for (int width = kDotLanes >> 1; width >= 1; width >>= 1)
      for (int l = 0; l < width; ++l) acc[l] = acc[l] + acc[l + width];
    const float s = shaped_score(lnT[t], acc[0], c.a, c.b);
    if (s < best.score) best = Best{s, i};
  }
  return best;
}

void gaussians(uint32_t k0, uint32_t k1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t n, float* out) {
  uint32_t w[4];
  float g[4];
  for (uint32_t j = 0; 4 * j < n; ++j) {
    philox4x32(j, c1, c2, c3, k0, k1, w);
    normal_pair(w[0], w[1], g);
    normal_pair(w[2], w[3], g + 2);
    for (uint32_t q = 0; q < 4 && 4 * j + q < n; ++q) out[4 * j + q] = g[q];
  }
}

const Kernels kScalar = {"scalar", arrival_block, ln_offset, score, gaussians};

}  // namespace

const Kernels* kernels_scalar() { return &kScalar; }

}  // namespace rcc
