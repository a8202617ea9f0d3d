// AVX2 kernels: the 16 lanes of rcc_simd.inl as a pair of ymm registers (lanes 0..7, 8..15).
// Compiled with -mavx2 (no -mfma); called only after the engine has checked the CPU.
#include "rcc_kernels.h"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

namespace rcc {
namespace {

using spec::u2f;

struct V {
  struct I {
    __m256i l, h;
  };
  struct F {
    __m256 l, h;
  };
  using M = I;  // all-ones lanes where true
  static inline I set1(uint32_t x) {
    const __m256i v = _mm256_set1_epi32(int(x));
    return I{v, v};
  }
  static inline I iota() {
    return I{_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15)};
  }
  static inline I add(I a, I b) { return I{_mm256_add_epi32(a.l, b.l), _mm256_add_epi32(a.h, b.h)}; }
  static inline I sub(I a, I b) { return I{_mm256_sub_epi32(a.l, b.l), _mm256_sub_epi32(a.h, b.h)}; }
  static inline I xor_(I a, I b) { return I{_mm256_xor_si256(a.l, b.l), _mm256_xor_si256(a.h, b.h)}; }
  static inline I xor3(I a, I b, I c) { return xor_(xor_(a, b), c); }
  static inline I and_(I a, I b) { return I{_mm256_and_si256(a.l, b.l), _mm256_and_si256(a.h, b.h)}; }
  static inline I or_(I a, I b) { return I{_mm256_or_si256(a.l, b.l), _mm256_or_si256(a.h, b.h)}; }
  template <int k> static inline I srl(I a) { return I{_mm256_srli_epi32(a.l, k), _mm256_srli_epi32(a.h, k)}; }
  template <int k> static inline I sll(I a) { return I{_mm256_slli_epi32(a.l, k), _mm256_slli_epi32(a.h, k)}; }
  static inline M gt(I a, I b) { return I{_mm256_cmpgt_epi32(a.l, b.l), _mm256_cmpgt_epi32(a.h, b.h)}; }
  static inline I sel(M m, I t, I f) {
    return I{_mm256_blendv_epi8(f.l, t.l, m.l), _mm256_blendv_epi8(f.h, t.h, m.h)};
  }
  static inline F fsel(M m, F t, F f) {
    return F{_mm256_blendv_ps(f.l, t.l, _mm256_castsi256_ps(m.l)), _mm256_blendv_ps(f.h, t.h, _mm256_castsi256_ps(m.h))};
  }
  static inline void mulhilo8(__m256i a, __m256i kv, __m256i& hi, __m256i& lo) {
    const __m256i pe = _mm256_mul_epu32(a, kv);
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), kv);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  }
  static inline void mulhilo(I a, uint32_t k, I& hi, I& lo) {
    const __m256i kv = _mm256_set1_epi32(int(k));
    mulhilo8(a.l, kv, hi.l, lo.l);
    mulhilo8(a.h, kv, hi.h, lo.h);
  }
  static inline F cvt(I a) { return F{_mm256_cvtepi32_ps(a.l), _mm256_cvtepi32_ps(a.h)}; }
  static inline I bits(F a) { return I{_mm256_castps_si256(a.l), _mm256_castps_si256(a.h)}; }
  static inline F fbits(I a) { return F{_mm256_castsi256_ps(a.l), _mm256_castsi256_ps(a.h)}; }
  static inline F fset1(float x) {
    const __m256 v = _mm256_set1_ps(x);
    return F{v, v};
  }
  static inline F fzero() { return F{_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static inline F fadd(F a, F b) { return F{_mm256_add_ps(a.l, b.l), _mm256_add_ps(a.h, b.h)}; }
  static inline F fsub(F a, F b) { return F{_mm256_sub_ps(a.l, b.l), _mm256_sub_ps(a.h, b.h)}; }
  static inline F fmul(F a, F b) { return F{_mm256_mul_ps(a.l, b.l), _mm256_mul_ps(a.h, b.h)}; }
  static inline F fdiv(F a, F b) { return F{_mm256_div_ps(a.l, b.l), _mm256_div_ps(a.h, b.h)}; }
  static inline F fsqrt(F a) { return F{_mm256_sqrt_ps(a.l), _mm256_sqrt_ps(a.h)}; }
  static inline F fload(const float* p) { return F{_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static inline I load(const uint32_t* p) {
    return I{_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 8))};
  }
  // Lane r <- lane r + o inside each 8-lane half (o = 1, 2, 4: the packed small-chunk folds, whose
  // lane groups never straddle the halves); other lanes get don't-care values.
  template <int o> static inline __m256 lane_down8(__m256 v) {
    static_assert(o == 1 || o == 2 || o == 4, "lane_down: 1, 2 or 4");
    if (o == 4) return _mm256_permute2f128_ps(v, v, 0x01);
    if (o == 2) return _mm256_permute_ps(v, _MM_SHUFFLE(3, 2, 3, 2));
    return _mm256_permute_ps(v, _MM_SHUFFLE(3, 3, 1, 1));
  }
  template <int o> static inline F lane_down(F v) { return F{lane_down8<o>(v.l), lane_down8<o>(v.h)}; }
  static inline void fstore(float* p, F a) {
    _mm256_storeu_ps(p, a.l);
    _mm256_storeu_ps(p + 8, a.h);
  }
  // §6 tree on acc[4r + w] = a_w[r] (see rcc_avx512.cpp).
  static inline float reduce_tree(F a0, F a1, F a2, F a3) {
    // r + 8: the two halves.
    const __m256 x0 = _mm256_add_ps(a0.l, a0.h), x1 = _mm256_add_ps(a1.l, a1.h);
    const __m256 x2 = _mm256_add_ps(a2.l, a2.h), x3 = _mm256_add_ps(a3.l, a3.h);
    // r + 4: 128-bit block b of y01 is word b's partial sums, of y23 word 2 + b's.
    __m256 y01 = _mm256_add_ps(_mm256_permute2f128_ps(x0, x1, 0x20), _mm256_permute2f128_ps(x0, x1, 0x31));
    __m256 y23 = _mm256_add_ps(_mm256_permute2f128_ps(x2, x3, 0x20), _mm256_permute2f128_ps(x2, x3, 0x31));
    // r + 2, r + 1.
    y01 = _mm256_add_ps(y01, _mm256_permute_ps(y01, _MM_SHUFFLE(3, 2, 3, 2)));
    y23 = _mm256_add_ps(y23, _mm256_permute_ps(y23, _MM_SHUFFLE(3, 2, 3, 2)));
    y01 = _mm256_add_ps(y01, _mm256_permute_ps(y01, _MM_SHUFFLE(1, 1, 1, 1)));
    y23 = _mm256_add_ps(y23, _mm256_permute_ps(y23, _MM_SHUFFLE(1, 1, 1, 1)));
    // w + 2: block 0 = acc0 + acc2, block 1 = acc1 + acc3; then w + 1.
    const __m256 z = _mm256_add_ps(y01, y23);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(z), _mm256_extractf128_ps(z, 1)));
  }
};

#include "rcc_simd.inl"

const Kernels kAvx2 = {"avx2", arrival_block, ln_offset, score, gaussians};

}  // namespace

const Kernels* kernels_avx2() { return &kAvx2; }

}  // namespace rcc

#else
namespace rcc {
const Kernels* kernels_avx2() { return nullptr; }
}  // namespace rcc
#endif
