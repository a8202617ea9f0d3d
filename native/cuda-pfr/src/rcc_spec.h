// Spec-literal scalar building blocks of docs/rcc.md v1 (§2 Philox, §3 float32 math).
//
// Every function is `static inline` on purpose: this header is included by translation units
// compiled with different instruction-set flags (-mavx2, -mavx512f), and a non-static inline
// function would be merged by the linker into one copy that might use instructions the CPU lacks.
// Build with -ffp-contract=off and without -ffast-math: each + - * / sqrt below is one IEEE
// binary32 operation rounded to nearest even, in the order written.
#pragma once

#include <cstdint>
#include <cstring>
#include <cmath>

namespace rcc {
namespace spec {

// §2 Philox4x32-10.
static constexpr uint32_t kM0 = 0xD2511F53u;
static constexpr uint32_t kM1 = 0xCD9E8D57u;
static constexpr uint32_t kW0 = 0x9E3779B9u;
static constexpr uint32_t kW1 = 0xBB67AE85u;

// Counter word 3 domains.
static constexpr uint32_t kDomainCandidate = 0;
static constexpr uint32_t kDomainArrival = 1;
static constexpr uint32_t kDomainPartition = 2;
static constexpr uint32_t kDomainChainNoise = 3;
static constexpr uint32_t kMaxStep = 1u << 28;
static constexpr uint32_t kArrivalBlock = 256;  // B in §5
static constexpr int kDotLanes = 64;            // accumulators in §6
static constexpr int kMaxChunkBits = 24;        // MAX_CHUNK_BITS in src/codec/rcc/select.ts

static inline uint32_t counter_word3(uint32_t domain, uint32_t step) { return (domain << 28) | step; }

static inline void philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                              uint32_t out[4]) {
  uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = c3, a = k0, b = k1;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      a += kW0;
      b += kW1;
    }
    const uint64_t p0 = uint64_t(kM0) * x0;
    const uint64_t p1 = uint64_t(kM1) * x2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    x0 = hi1 ^ x1 ^ a;
    x1 = lo1;
    x2 = hi0 ^ x3 ^ b;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

static inline uint32_t f2u(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
static inline float u2f(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// §3 constants (binary32 bit patterns).
static constexpr uint32_t kLN2 = 0x3F317218u;
static constexpr uint32_t kL3 = 0x3EAAAAABu, kL5 = 0x3E4CCCCDu, kL7 = 0x3E124925u, kL9 = 0x3DE38E39u;
static constexpr uint32_t kHalfPi = 0x3FC90FDBu;
static constexpr uint32_t kS3 = 0xBE2AAAABu, kS5 = 0x3C088889u, kS7 = 0xB9500D01u, kS9 = 0x3638EF1Du;
static constexpr uint32_t kK2 = 0xBF000000u, kK4 = 0x3D2AAAABu, kK6 = 0xBAB60B61u, kK8 = 0x37D00D01u;
static constexpr uint32_t kSqrt2Mant = 0x3504F3u;
static constexpr float kTwoPowMinus23 = 1.1920928955078125e-7f;

// §3.1 ln(x) for positive normal x.
static inline float ln(float x) {
  const uint32_t b = f2u(x);
  int32_t e = int32_t((b >> 23) & 0xFFu) - 127;
  const uint32_t mant = b & 0x7FFFFFu;
  float m;
  if (mant > kSqrt2Mant) {
    m = u2f(mant | (126u << 23));
    e = e + 1;
  } else {
    m = u2f(mant | (127u << 23));
  }
  const float s = (m - 1.0f) / (m + 1.0f);
  const float z = s * s;
  float p = u2f(kL9);
  p = p * z + u2f(kL7);
  p = p * z + u2f(kL5);
  p = p * z + u2f(kL3);
  p = p * z + 1.0f;
  return float(e) * u2f(kLN2) + (s + s) * p;
}

// §3.2
static inline float uniform(uint32_t w) { return (float(w >> 9) + 0.5f) * kTwoPowMinus23; }
static inline float exponential(uint32_t w) { return -ln(uniform(w)); }

static inline void normal_pair(uint32_t a, uint32_t b, float* out) {
  const float rr = std::sqrt(-ln(uniform(a)));
  const uint32_t q = b >> 30;
  const float x = (float((b >> 7) & 0x7FFFFFu) + 0.5f) * kTwoPowMinus23;
  const float phi = (x - 0.5f) * u2f(kHalfPi);
  const float z = phi * phi;
  float sp = u2f(kS9);
  sp = sp * z + u2f(kS7);
  sp = sp * z + u2f(kS5);
  sp = sp * z + u2f(kS3);
  sp = sp * z + 1.0f;
  const float s = phi * sp;
  float c = u2f(kK8);
  c = c * z + u2f(kK6);
  c = c * z + u2f(kK4);
  c = c * z + u2f(kK2);
  c = c * z + 1.0f;
  const float X = rr * (c - s);
  const float Y = rr * (c + s);
  switch (q) {
    case 0: out[0] = X; out[1] = Y; break;
    case 1: out[0] = -Y; out[1] = X; break;
    case 2: out[0] = -X; out[1] = -Y; break;
    default: out[0] = Y; out[1] = -X; break;
  }
}

// §6 score with the target shape (a, b): f = ((a * dot) * dot) + (b * dot), score = lnT - f.
// (a, b) = (0, 1) gives lnT - dot for every finite dot (an infinite dot gives NaN: 0 * inf).
static inline float shaped_score(float lnT, float dot, float a, float b) {
  return lnT - (((a * dot) * dot) + (b * dot));
}

// §6 winner rule: a score replaces the best only when strictly less (NaN never does), so the
// smallest index wins ties and the result is (0, +inf) when no score is below +inf.
struct Best {
  float score;
  uint32_t index;
};
static inline Best best_init() { return Best{INFINITY, 0}; }
static inline bool better(float score, uint32_t index, const Best& b) {
  return score < b.score || (score == b.score && index < b.index && b.score < INFINITY);
}

}  // namespace spec
}  // namespace rcc
