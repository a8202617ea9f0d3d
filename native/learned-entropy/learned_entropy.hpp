// Learned entropy coding, decoder side, in C++17 (docs/learned-entropy.md): the deterministic
// Gaussian CDF, the 64 Gaussian-conditional tables, the range decoder of docs/format.md §2 and
// the Gaussian-conditional stream with its guard list. It must agree bit for bit with the
// TypeScript reference (src/codec/entropy/learned/), so every floating-point expression is
// written in the reference's order and the file must be compiled without contraction into fused
// multiply-adds (-ffp-contract=off; GCC contracts by default on targets with FMA, e.g. arm64).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace diffc::learned {

constexpr double LN2_HI = 0.693147180369123816490;
constexpr double LN2_LO = 1.90821492927058770002e-10;
constexpr double INV_SQRT_PI = 0.5641895835477563;
constexpr double TWO_OVER_SQRT_PI = 1.1283791670955126;
constexpr double SQRT2 = 1.4142135623730951;

// ECMAScript Math.round: the nearest integer, halves toward +infinity.
inline double js_round(double x) {
  double f = std::floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

inline double det_exp(double x) {
  if (std::isnan(x)) return NAN;
  if (x <= -745) return 0;
  if (x >= 710) return INFINITY;
  double k = js_round(x / LN2_HI);
  double r = (x - k * LN2_HI) - k * LN2_LO;
  double t = 1;
  for (int j = 24; j >= 1; j--) t = 1 + (r / j) * t;
  if (k > 0) for (int i = 0; i < k; i++) t *= 2;
  else for (int i = 0; i < -k; i++) t *= 0.5;
  return t;
}

inline double det_erfc(double z) {
  if (!(z >= 0)) throw std::range_error("det_erfc needs z >= 0");
  if (z < 3) {
    double z2 = z * z, t = z, sum = z;
    for (int j = 1; j < 60; j++) {
      t = (t * -z2 * (2.0 * j - 1)) / (j * (2.0 * j + 1));
      sum += t;
    }
    return 1 - TWO_OVER_SQRT_PI * sum;
  }
  double c = z;
  for (int j = 80; j >= 1; j--) c = z + j / 2.0 / c;
  return (det_exp(-(z * z)) * INV_SQRT_PI) / c;
}

inline double det_phi(double x) {
  double u = std::fabs(x) / SQRT2;
  return x < 0 ? 0.5 * det_erfc(u) : 1 - 0.5 * det_erfc(u);
}

inline float f32_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// §2.3: σ_k and B_k as float32 bit patterns (the spec's values).
inline const uint32_t SCALE_BITS[64] = {
  0x3de147ae, 0x3dfcde46, 0x3e0deae2, 0x3e1f4c09, 0x3e32ce0b, 0x3e48b3a0, 0x3e6147ae, 0x3e7cde46, 0x3e8deae2, 0x3e9f4c09, 0x3eb2ce0b, 0x3ec8b3a0,
  0x3ee147ae, 0x3efcde46, 0x3f0deae2, 0x3f1f4c09, 0x3f32ce0b, 0x3f48b3a0, 0x3f6147ae, 0x3f7cde46, 0x3f8deae2, 0x3f9f4c09, 0x3fb2ce0b, 0x3fc8b3a0,
  0x3fe147ae, 0x3ffcde46, 0x400deae2, 0x401f4c09, 0x4032ce0b, 0x4048b3a0, 0x406147ae, 0x407cde46, 0x408deae2, 0x409f4c09, 0x40b2ce0b, 0x40c8b3a0,
  0x40e147ae, 0x40fcde46, 0x410deae2, 0x411f4c09, 0x4132ce0b, 0x4148b3a0, 0x416147ae, 0x417cde46, 0x418deae2, 0x419f4c09, 0x41b2ce0b, 0x41c8b3a0,
  0x41e147ae, 0x41fcde46, 0x420deae2, 0x421f4c09, 0x4232ce0b, 0x4248b3a0, 0x426147ae, 0x427cde46, 0x428deae2, 0x429f4c09, 0x42b2ce0b, 0x42c8b3a0,
  0x42e147ae, 0x42fcde46, 0x430deae2, 0x431f4c09,
};
inline const uint32_t BOUND_BITS[63] = {
  0x3deead04, 0x3e05f3c9, 0x3e165b3b, 0x3e28c4f1, 0x3e3d6fe9, 0x3e54a2d1, 0x3e6ead04, 0x3e85f3c9, 0x3e965b3b, 0x3ea8c4f1, 0x3ebd6fe9, 0x3ed4a2d1,
  0x3eeead04, 0x3f05f3c9, 0x3f165b3b, 0x3f28c4f1, 0x3f3d6fe9, 0x3f54a2d1, 0x3f6ead04, 0x3f85f3c9, 0x3f965b3b, 0x3fa8c4f1, 0x3fbd6fe9, 0x3fd4a2d1,
  0x3feead04, 0x4005f3c9, 0x40165b3b, 0x4028c4f1, 0x403d6fe9, 0x4054a2d1, 0x406ead04, 0x4085f3c9, 0x40965b3b, 0x40a8c4f1, 0x40bd6fe9, 0x40d4a2d1,
  0x40eead04, 0x4105f3c9, 0x41165b3b, 0x4128c4f1, 0x413d6fe9, 0x4154a2d1, 0x416ead04, 0x4185f3c9, 0x41965b3b, 0x41a8c4f1, 0x41bd6fe9, 0x41d4a2d1,
  0x41eead04, 0x4205f3c9, 0x42165b3b, 0x4228c4f1, 0x423d6fe9, 0x4254a2d1, 0x426ead04, 0x4285f3c9, 0x42965b3b, 0x42a8c4f1, 0x42bd6fe9, 0x42d4a2d1,
  0x42eead04, 0x4305f3c9, 0x43165b3b,
};
inline double bound(int i) { return f32_of(BOUND_BITS[i]); }

struct Table {
  int64_t offset;
  std::vector<uint32_t> freqs;  // ordinary symbols, then the escape
  std::vector<uint32_t> cum;
};

constexpr uint32_t TOTAL = 1u << 16;

// §2.1
inline Table quantize_table(int64_t offset, const std::vector<double>& p, double p_escape) {
  size_t n = p.size();
  double M = double(TOTAL - (n + 1));
  std::vector<uint32_t> f(n + 1);
  uint64_t sum = 0;
  size_t top = 0;
  for (size_t i = 0; i <= n; i++) {
    double q = i < n ? p[i] : p_escape;
    f[i] = 1 + uint32_t(std::floor(q * M));
    sum += f[i];
    if (f[i] > f[top]) top = i;
  }
  f[top] = uint32_t(int64_t(f[top]) + int64_t(TOTAL) - int64_t(sum));
  Table t{offset, f, std::vector<uint32_t>(n + 2, 0)};
  for (size_t i = 0; i <= n; i++) t.cum[i + 1] = t.cum[i] + f[i];
  return t;
}

inline Table gaussian_table(int k) {
  double s = f32_of(SCALE_BITS[k]);
  int64_t T = std::max<int64_t>(1, int64_t(std::ceil(6 * s)));
  std::vector<double> p(size_t(2 * T + 1));
  for (int64_t i = 0; i <= 2 * T; i++) {
    double v = double(i - T);
    p[size_t(i)] = det_phi((v + 0.5) / s) - det_phi((v - 0.5) / s);
  }
  return quantize_table(-T, p, 2 * det_phi(-(double(T) + 0.5) / s));
}

inline int scale_index(double sigma) {
  if (std::isnan(sigma)) throw std::runtime_error("invalid: a scale is NaN");
  int lo = 0, hi = 63;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (bound(mid) <= sigma) lo = mid + 1; else hi = mid;
  }
  return lo;
}

inline int nearest_boundary(double sigma) {
  int lo = 0, hi = 62;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (bound(mid) < sigma) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && sigma - bound(lo - 1) <= bound(lo) - sigma) lo--;
  return lo + 1;
}

// docs/format.md §2: the range decoder.
class RangeDecoder {
 public:
  explicit RangeDecoder(const std::vector<uint8_t>& b) : bytes_(b) {
    for (int i = 0; i < 4; i++) code_ = code_ * 256 + next();
  }
  uint64_t overrun() const { return over_; }
  uint32_t target(uint32_t total) {
    uint64_t t = code_ / (range_ / total);
    return t < total ? uint32_t(t) : total - 1;
  }
  void consume(uint32_t cum, uint32_t freq, uint32_t total) {
    uint64_t r = range_ / total;
    code_ = (code_ - r * cum) & 0xffffffffu;
    range_ = cum + freq == total ? range_ - r * cum : r * freq;
    while (range_ < (1u << 24)) {
      code_ = ((code_ << 8) | next()) & 0xffffffffu;
      range_ *= 256;
    }
  }
  uint32_t bits(int n) {
    if (n == 0) return 0;
    uint32_t total = 1u << n, v = target(total);
    consume(v, 1, total);
    return v;
  }

 private:
  uint64_t next() {
    if (pos_ < bytes_.size()) return bytes_[pos_++];
    over_++;
    return 0;
  }
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
  uint64_t code_ = 0, range_ = 0xffffffffu, over_ = 0;
};

inline uint64_t read_bits(RangeDecoder& d, int n) {
  uint64_t v = 0;
  for (int left = n; left > 0;) {
    int k = left < 16 ? left : 16;
    left -= k;
    v = (v << k) + d.bits(k);
  }
  return v;
}

inline uint64_t exp_golomb(RangeDecoder& d) {
  int n = 0;
  while (d.bits(1) == 1) {
    if (++n > 30) throw std::runtime_error("corrupt: an Exp-Golomb prefix longer than 30 bits");
  }
  return (uint64_t(1) << n) + read_bits(d, n) - 1;
}

inline int64_t decode_symbol(RangeDecoder& d, const Table& t) {
  size_t n = t.freqs.size() - 1;
  uint32_t target = d.target(TOTAL);
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (t.cum[mid] <= target) lo = mid; else hi = mid - 1;
  }
  d.consume(t.cum[lo], t.freqs[lo], TOTAL);
  if (lo < n) return t.offset + int64_t(lo);
  bool above = d.bits(1) == 1;
  int64_t dist = int64_t(exp_golomb(d));
  return above ? t.offset + int64_t(n) + dist : t.offset - 1 - dist;
}

inline uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

// §4: n symbols with the decoder's own scales.
inline std::vector<int32_t> decode_gaussian(const std::vector<uint8_t>& bytes, const std::vector<float>& scales, const std::vector<Table>& tables) {
  size_t n = scales.size();
  RangeDecoder d(bytes);
  d.bits(4);
  std::vector<int> index(n, -1);
  uint64_t m = exp_golomb(d);
  if (m > n) throw std::runtime_error("corrupt: more guarded elements than elements");
  int64_t pos = -1;
  for (uint64_t j = 0; j < m; j++) {
    pos += int64_t(exp_golomb(d)) + 1;
    if (pos >= int64_t(n)) throw std::runtime_error("corrupt: a guarded element past the end");
    int k = nearest_boundary(scales[size_t(pos)]);
    index[size_t(pos)] = d.bits(1) == 1 ? k : k - 1;
  }
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; i++) {
    out[i] = int32_t(decode_symbol(d, tables[size_t(index[i] >= 0 ? index[i] : scale_index(scales[i]))]));
    if (d.overrun() > 4) throw std::runtime_error("corrupt: the stream ends early");
  }
  uint32_t crc = (d.bits(16) << 16) | d.bits(16);
  if (d.overrun() > 4) throw std::runtime_error("corrupt: the stream ends before its CRC");
  std::vector<uint8_t> le(4 * n);
  for (size_t i = 0; i < n; i++) for (int b = 0; b < 4; b++) le[4 * i + b] = uint8_t(uint32_t(out[i]) >> (8 * b));
  if (crc != crc32(le.data(), le.size())) throw std::runtime_error("desync: the decoded symbols fail the stream's CRC");
  return out;
}

}  // namespace diffc::learned
