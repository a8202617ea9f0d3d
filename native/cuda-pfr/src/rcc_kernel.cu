// CUDA kernels of docs/rcc.md v1. Self-contained (no includes) so that NVRTC can compile it at
// run time; also compiled to PTX with nvcc (native/cuda-pfr/kernels/rcc_kernel.ptx).
//
// Float32 arithmetic only through __fadd_rn / __fsub_rn / __fmul_rn / __fdiv_rn / __fsqrt_rn:
// never contracted into FMA, no flush-to-zero (compile with -fmad=false --ftz=false anyway).
//
// A batch is a set of chunks; per chunk:
//   rcc_arrivals  one CUDA block per 256 candidates: E_i, then the in-block running sums L_i
//                 (serial, one thread: the spec fixes the order) and the block total;
//   rcc_offsets   one thread per chunk: S_b, the float32 running sum of block totals;
//   rcc_score_tN  N threads per candidate (N = 4 or 16; lane r = t + sN of acc[4r + w] is thread
//                 t's slot s), scores, then the argmin: a 64-bit key (ordered score, index) reduced
//                 in the warp and merged with atomicMin, so ties go to the smallest index.
//                 (N = 1, all 64 accumulators in one thread, measured slower on an H100: nvcc kept
//                 them in local memory.)

typedef unsigned int u32;
typedef unsigned long long u64;

struct DevChunk {
  u32 key0, key1, c3_cand, c3_arr;
  u32 chunk, n, J, k;
  u32 first_block;  // first arrival block of the chunk in the batch (L offset = 256 * first_block)
  u32 first_tile;   // first scoring tile of the chunk in the launch
  u32 d_offset;     // offset of d in floats (multiple of 4; d zero-padded to 4 * J)
  float a, b;       // target shape (§6)
  u32 pad0, pad1, pad2;
};

#define RCC_M0 0xD2511F53u
#define RCC_M1 0xCD9E8D57u
#define RCC_W0 0x9E3779B9u
#define RCC_W1 0xBB67AE85u

__device__ __forceinline__ void philox(u32 c0, u32 c1, u32 c2, u32 c3, u32 k0, u32 k1,
                                       u32& o0, u32& o1, u32& o2, u32& o3) {
  u32 x0 = c0, x1 = c1, x2 = c2, x3 = c3;
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    const u64 p0 = (u64)RCC_M0 * x0;
    const u64 p1 = (u64)RCC_M1 * x2;
    const u32 nx0 = (u32)(p1 >> 32) ^ x1 ^ k0;
    const u32 nx2 = (u32)(p0 >> 32) ^ x3 ^ k1;
    x1 = (u32)p1;
    x3 = (u32)p0;
    x0 = nx0;
    x2 = nx2;
    k0 += RCC_W0;
    k1 += RCC_W1;
  }
  o0 = x0; o1 = x1; o2 = x2; o3 = x3;
}

__device__ __forceinline__ float ln_f32(float x) {
  const u32 b = __float_as_uint(x);
  int e = (int)((b >> 23) & 0xFFu) - 127;
  const u32 mant = b & 0x7FFFFFu;
  float m;
  if (mant > 0x3504F3u) {
    m = __uint_as_float(mant | (126u << 23));
    e = e + 1;
  } else {
    m = __uint_as_float(mant | (127u << 23));
  }
  const float s = __fdiv_rn(__fsub_rn(m, 1.0f), __fadd_rn(m, 1.0f));
  const float z = __fmul_rn(s, s);
  float p = __uint_as_float(0x3DE38E39u);
  p = __fadd_rn(__fmul_rn(p, z), __uint_as_float(0x3E124925u));
  p = __fadd_rn(__fmul_rn(p, z), __uint_as_float(0x3E4CCCCDu));
  p = __fadd_rn(__fmul_rn(p, z), __uint_as_float(0x3EAAAAABu));
  p = __fadd_rn(__fmul_rn(p, z), 1.0f);
  return __fadd_rn(__fmul_rn(__int2float_rn(e), __uint_as_float(0x3F317218u)), __fmul_rn(__fadd_rn(s, s), p));
}

__device__ __forceinline__ float neg_f32(float x) { return __uint_as_float(__float_as_uint(x) ^ 0x80000000u); }

// (v + 0.5) * 2^-23, exact for v < 2^23.
__device__ __forceinline__ float centred23(u32 v) {
  return __fmul_rn(__fadd_rn(__uint2float_rn(v), 0.5f), 1.1920928955078125e-7f);
}

__device__ __forceinline__ float exponential_f32(u32 w) { return neg_f32(ln_f32(centred23(w >> 9))); }

__device__ __forceinline__ void normal_pair(u32 a, u32 b, float& o0, float& o1) {
  const float rr = __fsqrt_rn(exponential_f32(a));
  const float x = centred23((b >> 7) & 0x7FFFFFu);
  const float phi = __fmul_rn(__fsub_rn(x, 0.5f), __uint_as_float(0x3FC90FDBu));
  const float z = __fmul_rn(phi, phi);
  float sp = __uint_as_float(0x3638EF1Du);
  sp = __fadd_rn(__fmul_rn(sp, z), __uint_as_float(0xB9500D01u));
  sp = __fadd_rn(__fmul_rn(sp, z), __uint_as_float(0x3C088889u));
  sp = __fadd_rn(__fmul_rn(sp, z), __uint_as_float(0xBE2AAAABu));
  sp = __fadd_rn(__fmul_rn(sp, z), 1.0f);
  const float s = __fmul_rn(phi, sp);
  float c = __uint_as_float(0x37D00D01u);
  c = __fadd_rn(__fmul_rn(c, z), __uint_as_float(0xBAB60B61u));
  c = __fadd_rn(__fmul_rn(c, z), __uint_as_float(0x3D2AAAABu));
  c = __fadd_rn(__fmul_rn(c, z), __uint_as_float(0xBF000000u));
  c = __fadd_rn(__fmul_rn(c, z), 1.0f);
  const float X = __fmul_rn(rr, __fsub_rn(c, s));
  const float Y = __fmul_rn(rr, __fadd_rn(c, s));
  // q = b >> 30: odd q swaps (X, Y); o0 is negated for q = 1, 2 and o1 for q = 2, 3.
  const bool swap = (b & 0x40000000u) != 0;
  const float u = swap ? Y : X;
  const float v = swap ? X : Y;
  o0 = __uint_as_float(__float_as_uint(u) ^ ((b ^ (b << 1)) & 0x80000000u));
  o1 = __uint_as_float(__float_as_uint(v) ^ (b & 0x80000000u));
}

extern "C" __global__ void __launch_bounds__(256) rcc_arrivals(const DevChunk* __restrict__ chunks,
                                                               const u32* __restrict__ block_chunk,
                                                               float* __restrict__ L, float* __restrict__ block_total) {
  __shared__ float e[256];
  const u32 g = blockIdx.x;
  const DevChunk c = chunks[block_chunk[g]];
  const u32 first = (g - c.first_block) * 256u;
  const u32 total = 1u << c.k;
  const u32 count = total - first < 256u ? total - first : 256u;
  const u32 t = threadIdx.x;
  if (t < 64 && 4 * t < count) {
    u32 w0, w1, w2, w3;
    philox((first >> 2) + t, 0, c.chunk, c.c3_arr, c.key0, c.key1, w0, w1, w2, w3);
    e[4 * t + 0] = exponential_f32(w0);
    e[4 * t + 1] = exponential_f32(w1);
    e[4 * t + 2] = exponential_f32(w2);
    e[4 * t + 3] = exponential_f32(w3);
  }
  __syncthreads();
  if (t == 0) {
    float acc = e[0];
    for (u32 u = 1; u < count; ++u) {
      acc = __fadd_rn(acc, e[u]);
      e[u] = acc;
    }
    block_total[g] = acc;
  }
  __syncthreads();
  if (t < count) L[(u64)g * 256u + t] = e[t];
}

extern "C" __global__ void rcc_offsets(const DevChunk* __restrict__ chunks, u32 nchunks,
                                       const float* __restrict__ block_total, float* __restrict__ S) {
  const u32 c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= nchunks) return;
  const DevChunk ch = chunks[c];
  const u32 blocks = ((1u << ch.k) + 255u) >> 8;
  float s = 0.0f;
  for (u32 b = 0; b < blocks; ++b) {
    S[ch.first_block + b] = s;
    s = __fadd_rn(s, block_total[ch.first_block + b]);
  }
}

__device__ __forceinline__ u32 ordered_bits(float x) {
  const u32 u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <int T>
__device__ __forceinline__ void score_tile(const DevChunk* __restrict__ chunks, const u32* __restrict__ tile_chunk,
                                           const float* __restrict__ d, const float* __restrict__ L,
                                           const float* __restrict__ S, u64* __restrict__ result) {
  constexpr int SLOTS = 16 / T;
  const u32 ci = tile_chunk[blockIdx.x];
  const DevChunk c = chunks[ci];
  const u32 per_block = blockDim.x / T;
  const u32 t = threadIdx.x % T;
  const u32 i = (blockIdx.x - c.first_tile) * per_block + threadIdx.x / T;
  const bool active = i < (1u << c.k);
  const float4* __restrict__ d4 = reinterpret_cast<const float4*>(d + c.d_offset);

  float acc[SLOTS][4];
#pragma unroll
  for (int s = 0; s < SLOTS; ++s) acc[s][0] = acc[s][1] = acc[s][2] = acc[s][3] = 0.0f;

  if (active) {
    for (u32 base = 0; base < c.J; base += 16) {
#pragma unroll
      for (int s = 0; s < SLOTS; ++s) {
        const u32 j = base + t + (u32)s * T;
        if (j < c.J) {
          u32 w0, w1, w2, w3;
          philox(j, i, c.chunk, c.c3_cand, c.key0, c.key1, w0, w1, w2, w3);
          float g0, g1, g2, g3;
          normal_pair(w0, w1, g0, g1);
          normal_pair(w2, w3, g2, g3);
          const float4 dv = __ldg(d4 + j);
          acc[s][0] = __fadd_rn(acc[s][0], __fmul_rn(g0, dv.x));
          acc[s][1] = __fadd_rn(acc[s][1], __fmul_rn(g1, dv.y));
          acc[s][2] = __fadd_rn(acc[s][2], __fmul_rn(g2, dv.z));
          acc[s][3] = __fadd_rn(acc[s][3], __fmul_rn(g3, dv.w));
        }
      }
    }
  }
  // §6 tree over r = t + sT: folds by 8, 4, 2, 1 in r; in-thread while the fold spans slots,
  // then across the T threads of the candidate.
#pragma unroll
  for (int level = 0; level < 4; ++level) {  // linear induction, so the loop fully unrolls
    const int o = 8 >> level;
    if (o >= T) {
      const int half = o / T;
#pragma unroll
      for (int s = 0; s < half; ++s)
#pragma unroll
        for (int w = 0; w < 4; ++w) acc[s][w] = __fadd_rn(acc[s][w], acc[s + half][w]);
    } else {
#pragma unroll
      for (int w = 0; w < 4; ++w) acc[0][w] = __fadd_rn(acc[0][w], __shfl_down_sync(0xFFFFFFFFu, acc[0][w], o, T));
    }
  }
  u64 key = ~0ull;
  if (active && t == 0) {
    const float dot = __fadd_rn(__fadd_rn(acc[0][0], acc[0][2]), __fadd_rn(acc[0][1], acc[0][3]));
    const float lnT = ln_f32(__fadd_rn(S[c.first_block + (i >> 8)], L[(u64)c.first_block * 256u + i]));
    // §6 shaped score: f = ((a dot) dot) + (b dot).
    const float f = __fadd_rn(__fmul_rn(__fmul_rn(c.a, dot), dot), __fmul_rn(c.b, dot));
    const float score = __fsub_rn(lnT, f);
    // A score replaces the best only when strictly below it, starting from +inf: NaN and +inf
    // never win. A score is never -0 (ln T is never -0, and x - y is -0 only for x = -0), so the
    // ordered bits compare exactly as <.
    if (score < __uint_as_float(0x7F800000u)) key = ((u64)ordered_bits(score) << 32) | i;
  }
#pragma unroll
  for (int level = 0; level < 5; ++level) {
    const u64 other = __shfl_xor_sync(0xFFFFFFFFu, key, 16 >> level);
    key = other < key ? other : key;
  }
  if ((threadIdx.x & 31u) == 0 && key != ~0ull) atomicMin(result + ci, key);
}

extern "C" __global__ void __launch_bounds__(128) rcc_score_t4(const DevChunk* chunks, const u32* tile_chunk,
                                                               const float* d, const float* L, const float* S,
                                                               u64* result) {
  score_tile<4>(chunks, tile_chunk, d, L, S, result);
}
extern "C" __global__ void __launch_bounds__(128) rcc_score_t16(const DevChunk* chunks, const u32* tile_chunk,
                                                                const float* d, const float* L, const float* S,
                                                                u64* result) {
  score_tile<16>(chunks, tile_chunk, d, L, S, result);
}

// ln T_i of one chunk (tests): out[i] = ln(S_b + L_i).
extern "C" __global__ void rcc_ln_arrivals(u32 count, const float* __restrict__ L, const float* __restrict__ S,
                                           float* __restrict__ out) {
  const u32 i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) out[i] = ln_f32(__fadd_rn(S[i >> 8], L[i]));
}

// n normals of the stream (j, c1, c2, c3) (candidate regeneration, tests).
extern "C" __global__ void rcc_gaussians(u32 k0, u32 k1, u32 c1, u32 c2, u32 c3, u32 n, float* __restrict__ out) {
  const u32 j = blockIdx.x * blockDim.x + threadIdx.x;
  if (4 * j >= n) return;
  u32 w0, w1, w2, w3;
  philox(j, c1, c2, c3, k0, k1, w0, w1, w2, w3);
  float g[4];
  normal_pair(w0, w1, g[0], g[1]);
  normal_pair(w2, w3, g[2], g[3]);
  for (u32 w = 0; w < 4 && 4 * j + w < n; ++w) out[4 * j + w] = g[w];
}
