// SIMD kernels of docs/rcc.md, written once over a 16-lane vector type V (AVX-512: one register;
// AVX2: a pair). Included inside an anonymous namespace by rcc_avx512.cpp and rcc_avx2.cpp, after
// the definition of V; no STL here (see rcc_spec.h).
//
// Layout (§6 hint): lane r of the accumulator for Philox word w holds acc[4r + w]; one candidate's
// counters j = 16m + r run in the 16 lanes, so chunk dim 4j + w lands in acc[(4j + w) mod 64] as the
// spec requires, and the final tree is four in-register lane folds (8, 4, 2, 1) followed by the
// word folds (w + 2, w + 1). Nothing per candidate is ever stored: Philox words become normals and
// then products in registers.

using I = V::I;
using F = V::F;

// Philox4x32-10 of 16 counters (c0 + lane, c1, c2, c3): c1..c3 are uniform across lanes, so the
// first round's word-2 product and the second round's word-0 product are scalars.
static inline void philox16(I c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                            I& x0, I& x1, I& x2, I& x3) {
  using namespace spec;
  // Round 1 (keys k0, k1).
  const uint64_t p1 = uint64_t(kM1) * c2;
  const uint32_t s_x0 = uint32_t(p1 >> 32) ^ c1 ^ k0;  // uniform
  const uint32_t s_x1 = uint32_t(p1);                   // uniform
  I hi0, lo0;
  V::mulhilo(c0, kM0, hi0, lo0);
  I v_x2 = V::xor_(hi0, V::set1(c3 ^ k1));
  I v_x3 = lo0;
  // Round 2.
  uint32_t a = k0 + kW0, b = k1 + kW1;
  const uint64_t p0 = uint64_t(kM0) * s_x0;
  I hi1, lo1;
  V::mulhilo(v_x2, kM1, hi1, lo1);
  x0 = V::xor_(hi1, V::set1(s_x1 ^ a));
  x1 = lo1;
  x2 = V::xor_(v_x3, V::set1(uint32_t(p0 >> 32) ^ b));
  x3 = V::set1(uint32_t(p0));
  // Rounds 3..10.
  for (int r = 2; r < 10; ++r) {
    a += kW0;
    b += kW1;
    V::mulhilo(x0, kM0, hi0, lo0);
    V::mulhilo(x2, kM1, hi1, lo1);
    x0 = V::xor3(hi1, x1, V::set1(a));
    x1 = lo1;
    x2 = V::xor3(hi0, x3, V::set1(b));
    x3 = lo0;
  }
}

// Philox4x32-10 of 16 counters (c0[lane], c1[lane], c2, c3): packed small chunks, where the lanes
// hold several candidates.
static inline void philox16v(I c0, I c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                             I& x0, I& x1, I& x2, I& x3) {
  using namespace spec;
  const uint64_t p1 = uint64_t(kM1) * c2;  // round 1, word 2: uniform
  I hi0, lo0, hi1, lo1;
  V::mulhilo(c0, kM0, hi0, lo0);
  x0 = V::xor_(c1, V::set1(uint32_t(p1 >> 32) ^ k0));
  x1 = V::set1(uint32_t(p1));
  x2 = V::xor_(hi0, V::set1(c3 ^ k1));
  x3 = lo0;
  uint32_t a = k0, b = k1;
  for (int r = 1; r < 10; ++r) {
    a += kW0;
    b += kW1;
    V::mulhilo(x0, kM0, hi0, lo0);
    V::mulhilo(x2, kM1, hi1, lo1);
    x0 = V::xor3(hi1, x1, V::set1(a));
    x1 = lo1;
    x2 = V::xor3(hi0, x3, V::set1(b));
    x3 = lo0;
  }
}

// §3.1
static inline F ln16(F x) {
  using namespace spec;
  const I b = V::bits(x);
  I e = V::sub(V::and_(V::template srl<23>(b), V::set1(0xFFu)), V::set1(127u));
  const I mant = V::and_(b, V::set1(0x7FFFFFu));
  const auto big = V::gt(mant, V::set1(kSqrt2Mant));
  const F m = V::fbits(V::or_(mant, V::sel(big, V::set1(126u << 23), V::set1(127u << 23))));
  e = V::sel(big, V::add(e, V::set1(1u)), e);
  const F one = V::fset1(1.0f);
  const F s = V::fdiv(V::fsub(m, one), V::fadd(m, one));
  const F z = V::fmul(s, s);
  F p = V::fset1(u2f(kL9));
  p = V::fadd(V::fmul(p, z), V::fset1(u2f(kL7)));
  p = V::fadd(V::fmul(p, z), V::fset1(u2f(kL5)));
  p = V::fadd(V::fmul(p, z), V::fset1(u2f(kL3)));
  p = V::fadd(V::fmul(p, z), one);
  return V::fadd(V::fmul(V::cvt(e), V::fset1(u2f(kLN2))), V::fmul(V::fadd(s, s), p));
}

// (v + 0.5) * 2^-23 for integer lanes v < 2^23: exact.
static inline F centred23(I v) {
  return V::fmul(V::fadd(V::cvt(v), V::fset1(0.5f)), V::fset1(spec::kTwoPowMinus23));
}

static inline F neg(F x) { return V::fbits(V::xor_(V::bits(x), V::set1(0x80000000u))); }

// §3.2 N2(a, b) -> (o0, o1)
static inline void normal_pair16(I a, I b, F& o0, F& o1) {
  using namespace spec;
  const F rr = V::fsqrt(neg(ln16(centred23(V::template srl<9>(a)))));
  const F x = centred23(V::and_(V::template srl<7>(b), V::set1(0x7FFFFFu)));
  const F phi = V::fmul(V::fsub(x, V::fset1(0.5f)), V::fset1(u2f(kHalfPi)));
  const F z = V::fmul(phi, phi);
  const F one = V::fset1(1.0f);
  F sp = V::fset1(u2f(kS9));
  sp = V::fadd(V::fmul(sp, z), V::fset1(u2f(kS7)));
  sp = V::fadd(V::fmul(sp, z), V::fset1(u2f(kS5)));
  sp = V::fadd(V::fmul(sp, z), V::fset1(u2f(kS3)));
  sp = V::fadd(V::fmul(sp, z), one);
  const F s = V::fmul(phi, sp);
  F c = V::fset1(u2f(kK8));
  c = V::fadd(V::fmul(c, z), V::fset1(u2f(kK6)));
  c = V::fadd(V::fmul(c, z), V::fset1(u2f(kK4)));
  c = V::fadd(V::fmul(c, z), V::fset1(u2f(kK2)));
  c = V::fadd(V::fmul(c, z), one);
  const F X = V::fmul(rr, V::fsub(c, s));
  const F Y = V::fmul(rr, V::fadd(c, s));
  // Quadrant q = b >> 30: q odd swaps (X, Y); sign of o0 is bit31 ^ bit30, sign of o1 is bit31.
  const auto swap = V::gt(V::and_(b, V::set1(0x40000000u)), V::set1(0u));
  const I sign = V::set1(0x80000000u);
  const I s0 = V::and_(V::xor_(b, V::template sll<1>(b)), sign);
  const I s1 = V::and_(b, sign);
  o0 = V::fbits(V::xor_(V::bits(V::fsel(swap, Y, X)), s0));
  o1 = V::fbits(V::xor_(V::bits(V::fsel(swap, X, Y)), s1));
}

static inline I iota16() { return V::iota(); }

void arrival_block(const ChunkDesc& c, uint32_t first, uint32_t count, float* L) {
  alignas(64) float e[4][16];
  float prev = 0.0f;
  for (uint32_t base = 0; base < count; base += 64) {
    // 16 counters q = (first + base) / 4 + lane, word w -> candidate first + base + 4 lane + w.
    I x0, x1, x2, x3;
    philox16(V::add(iota16(), V::set1((first + base) >> 2)), 0, c.chunk, c.c3_arr, c.key0, c.key1, x0, x1, x2, x3);
    V::fstore(e[0], neg(ln16(centred23(V::template srl<9>(x0)))));
    V::fstore(e[1], neg(ln16(centred23(V::template srl<9>(x1)))));
    V::fstore(e[2], neg(ln16(centred23(V::template srl<9>(x2)))));
    V::fstore(e[3], neg(ln16(centred23(V::template srl<9>(x3)))));
    const uint32_t end = count - base < 64 ? count - base : 64;
    for (uint32_t u = 0; u < end; ++u) {
      const uint32_t t = base + u;
      const float ev = e[u & 3][u >> 2];
      prev = ((first + t) % spec::kArrivalBlock == 0) ? ev : prev + ev;
      L[t] = prev;
    }
  }
}

void ln_offset(float S, const float* L, uint32_t count, float* lnT) {
  const F vs = V::fset1(S);
  uint32_t t = 0;
  for (; t + 16 <= count; t += 16) V::fstore(lnT + t, ln16(V::fadd(vs, V::fload(L + t))));
  if (t < count) {
    alignas(64) float tmp[16];
    for (uint32_t u = 0; u < 16; ++u) tmp[u] = t + u < count ? L[t + u] : 1.0f;
    V::fstore(tmp, ln16(V::fadd(vs, V::fload(tmp))));
    for (uint32_t u = 0; t + u < count; ++u) lnT[t + u] = tmp[u];
  }
}

// Small chunks (J <= 8 counters, n <= 32 dims): P = 16 / G candidates share the 16 lanes, G = J
// rounded up to a power of two lanes each (lane r: candidate r / G, counter j = r % G). Each lane
// then holds exactly one term, acc = +0 + g d, and the lanes r >= J of the spec's 16 are +0; since
// an accumulator is never -0, the spec's folds by 8, 4, .. down to G leave acc[r < G] unchanged,
// and the remaining folds by G/2 .. 1 stay inside each candidate's lane group.
template <int G>
spec::Best score_packed(const ChunkDesc& c, uint32_t first, uint32_t count, const float* lnT) {
  constexpr uint32_t P = 16 / G;
  spec::Best best = spec::best_init();
  alignas(64) uint32_t jl[16], pl[16];
  alignas(64) float dl[4][16], dot[16];
  for (uint32_t r = 0; r < 16; ++r) {
    jl[r] = r % G;
    pl[r] = r / G;
    for (uint32_t w = 0; w < 4; ++w) dl[w][r] = c.dT[w * c.Jpad + r % G];  // zero for j >= J
  }
  const I jv = V::load(jl), pv = V::load(pl);
  const F d0 = V::fload(dl[0]), d1 = V::fload(dl[1]), d2 = V::fload(dl[2]), d3 = V::fload(dl[3]);
  const F zero = V::fzero();
  for (uint32_t t = 0; t < count; t += P) {
    I x0, x1, x2, x3;
    philox16v(jv, V::add(pv, V::set1(first + t)), c.chunk, c.c3_cand, c.key0, c.key1, x0, x1, x2, x3);
    F g0, g1, g2, g3;
    normal_pair16(x0, x1, g0, g1);
    normal_pair16(x2, x3, g2, g3);
    F a0 = V::fadd(zero, V::fmul(g0, d0)), a1 = V::fadd(zero, V::fmul(g1, d1));
    F a2 = V::fadd(zero, V::fmul(g2, d2)), a3 = V::fadd(zero, V::fmul(g3, d3));
    if (G >= 8) {
      a0 = V::fadd(a0, V::template lane_down<4>(a0)); a1 = V::fadd(a1, V::template lane_down<4>(a1));
      a2 = V::fadd(a2, V::template lane_down<4>(a2)); a3 = V::fadd(a3, V::template lane_down<4>(a3));
    }
    if (G >= 4) {
      a0 = V::fadd(a0, V::template lane_down<2>(a0)); a1 = V::fadd(a1, V::template lane_down<2>(a1));
      a2 = V::fadd(a2, V::template lane_down<2>(a2)); a3 = V::fadd(a3, V::template lane_down<2>(a3));
    }
    if (G >= 2) {
      a0 = V::fadd(a0, V::template lane_down<1>(a0)); a1 = V::fadd(a1, V::template lane_down<1>(a1));
      a2 = V::fadd(a2, V::template lane_down<1>(a2)); a3 = V::fadd(a3, V::template lane_down<1>(a3));
    }
    V::fstore(dot, V::fadd(V::fadd(a0, a2), V::fadd(a1, a3)));
    const uint32_t m = count - t < P ? count - t : P;
    for (uint32_t p = 0; p < m; ++p) {
      const float s = spec::shaped_score(lnT[t + p], dot[p * G], c.a, c.b);
      if (s < best.score) best = spec::Best{s, first + t + p};
    }
  }
  return best;
}

spec::Best score(const ChunkDesc& c, uint32_t first, uint32_t count, const float* lnT) {
  if (c.J <= 1) return score_packed<1>(c, first, count, lnT);
  if (c.J <= 2) return score_packed<2>(c, first, count, lnT);
  if (c.J <= 4) return score_packed<4>(c, first, count, lnT);
  if (c.J <= 8) return score_packed<8>(c, first, count, lnT);
  spec::Best best = spec::best_init();
  const uint32_t groups = c.Jpad / 16;
  const float* d0 = c.dT;
  const float* d1 = c.dT + c.Jpad;
  const float* d2 = c.dT + 2 * c.Jpad;
  const float* d3 = c.dT + 3 * c.Jpad;
  const I lanes = iota16();
  for (uint32_t t = 0; t < count; ++t) {
    const uint32_t i = first + t;
    F a0 = V::fzero(), a1 = V::fzero(), a2 = V::fzero(), a3 = V::fzero();
    for (uint32_t g = 0; g < groups; ++g) {
      I x0, x1, x2, x3;
      philox16(V::add(lanes, V::set1(16 * g)), i, c.chunk, c.c3_cand, c.key0, c.key1, x0, x1, x2, x3);
      F g0, g1, g2, g3;
      normal_pair16(x0, x1, g0, g1);
      normal_pair16(x2, x3, g2, g3);
      a0 = V::fadd(a0, V::fmul(g0, V::fload(d0 + 16 * g)));
      a1 = V::fadd(a1, V::fmul(g1, V::fload(d1 + 16 * g)));
      a2 = V::fadd(a2, V::fmul(g2, V::fload(d2 + 16 * g)));
      a3 = V::fadd(a3, V::fmul(g3, V::fload(d3 + 16 * g)));
    }
    const float s = spec::shaped_score(lnT[t], V::reduce_tree(a0, a1, a2, a3), c.a, c.b);
    if (s < best.score) best = spec::Best{s, i};
  }
  return best;
}

void gaussians(uint32_t k0, uint32_t k1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t n, float* out) {
  alignas(64) float g[4][16];
  const uint32_t J = (n + 3) / 4;
  for (uint32_t j0 = 0; j0 < J; j0 += 16) {
    I x0, x1, x2, x3;
    philox16(V::add(iota16(), V::set1(j0)), c1, c2, c3, k0, k1, x0, x1, x2, x3);
    F g0, g1, g2, g3;
    normal_pair16(x0, x1, g0, g1);
    normal_pair16(x2, x3, g2, g3);
    V::fstore(g[0], g0);
    V::fstore(g[1], g1);
    V::fstore(g[2], g2);
    V::fstore(g[3], g3);
    for (uint32_t r = 0; r < 16; ++r)
      for (uint32_t w = 0; w < 4; ++w) {
        const uint32_t dim = 4 * (j0 + r) + w;
        if (dim < n) out[dim] = g[w][r];
      }
  }
}
