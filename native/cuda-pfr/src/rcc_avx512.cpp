// AVX-512F kernels: 16 lanes in one zmm register. Compiled with -mavx512f; called only after the
// engine has checked the CPU (rcc_engine.cpp).
#include "rcc_kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

namespace rcc {
namespace {

using spec::u2f;

struct V {
  using I = __m512i;
  using F = __m512;
  using M = __mmask16;
  static inline I set1(uint32_t x) { return _mm512_set1_epi32(int(x)); }
  static inline I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
  static inline I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static inline I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static inline I xor_(I a, I b) { return _mm512_xor_si512(a, b); }
  static inline I xor3(I a, I b, I c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
  static inline I and_(I a, I b) { return _mm512_and_si512(a, b); }
  static inline I or_(I a, I b) { return _mm512_or_si512(a, b); }
  template <int k> static inline I srl(I a) { return _mm512_srli_epi32(a, k); }
  template <int k> static inline I sll(I a) { return _mm512_slli_epi32(a, k); }
  // Signed compare; every operand here is below 2^31.
  static inline M gt(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static inline I sel(M m, I t, I f) { return _mm512_mask_blend_epi32(m, f, t); }
  static inline F fsel(M m, F t, F f) { return _mm512_mask_blend_ps(m, f, t); }
  // 32x32 -> 64-bit products of every lane with the constant k: high and low words.
  static inline void mulhilo(I a, uint32_t k, I& hi, I& lo) {
    const I kv = set1(k);
    const I pe = _mm512_mul_epu32(a, kv);                                        // even lanes
    const I po = _mm512_mul_epu32(_mm512_shuffle_epi32(a, _MM_PERM_CDAB), kv);  // odd lanes
    hi = _mm512_mask_shuffle_epi32(po, 0x5555, pe, _MM_PERM_CDAB);
    lo = _mm512_mask_shuffle_epi32(pe, 0xAAAA, po, _MM_PERM_CDAB);
  }
  static inline F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static inline I bits(F a) { return _mm512_castps_si512(a); }
  static inline F fbits(I a) { return _mm512_castsi512_ps(a); }
  static inline F fset1(float x) { return _mm512_set1_ps(x); }
  static inline F fzero() { return _mm512_setzero_ps(); }
  static inline F fadd(F a, F b) { return _mm512_add_ps(a, b); }
  static inline F fsub(F a, F b) { return _mm512_sub_ps(a, b); }
  static inline F fmul(F a, F b) { return _mm512_mul_ps(a, b); }
  static inline F fdiv(F a, F b) { return _mm512_div_ps(a, b); }
  static inline F fsqrt(F a) { return _mm512_sqrt_ps(a); }
  static inline F fload(const float* p) { return _mm512_loadu_ps(p); }
  static inline I load(const uint32_t* p) { return _mm512_loadu_si512(p); }
  // Lane r <- lane (r + o) mod 16.
  template <int o> static inline F lane_down(F v) {
    return _mm512_permutexvar_ps(_mm512_and_si512(_mm512_add_epi32(iota(), set1(o)), set1(15)), v);
  }
  static inline void fstore(float* p, F a) { _mm512_storeu_ps(p, a); }
  // §6 tree on acc[4r + w] = a_w[r]: lane folds 8, 4, 2, 1 of all four words at once, then the
  // word folds w + 2 and w + 1. Returns acc[0].
  static inline float reduce_tree(F a0, F a1, F a2, F a3) {
    // r + 8: lanes 0..7 <- a0[r] + a0[r + 8], lanes 8..15 <- a1[r] + a1[r + 8].
    const F x01 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a1, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(a0, a1, _MM_SHUFFLE(3, 2, 3, 2)));
    const F x23 = _mm512_add_ps(_mm512_shuffle_f32x4(a2, a3, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_f32x4(a2, a3, _MM_SHUFFLE(3, 2, 3, 2)));
    // r + 4: 128-bit block w holds word w's four partial sums.
    F y = _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
    // r + 2, r + 1 inside each block: lane 0 of block w is acc[w].
    y = _mm512_add_ps(y, _mm512_permute_ps(y, _MM_SHUFFLE(3, 2, 3, 2)));
    y = _mm512_add_ps(y, _mm512_permute_ps(y, _MM_SHUFFLE(1, 1, 1, 1)));
    // w + 2, then w + 1.
    y = _mm512_add_ps(y, _mm512_shuffle_f32x4(y, y, _MM_SHUFFLE(3, 2, 3, 2)));
    y = _mm512_add_ps(y, _mm512_shuffle_f32x4(y, y, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm512_cvtss_f32(y);
  }
};

#include "rcc_simd.inl"

const Kernels kAvx512 = {"avx512", arrival_block, ln_offset, score, gaussians};

}  // namespace

const Kernels* kernels_avx512() { return &kAvx512; }

}  // namespace rcc

#else
namespace rcc {
const Kernels* kernels_avx512() { return nullptr; }
}  // namespace rcc
#endif
