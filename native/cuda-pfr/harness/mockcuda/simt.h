// Host emulation of the few CUDA device features rcc_kernel.cu uses, so the kernel source can be
// compiled by g++ and run (slowly) by mockcuda.cpp: each CUDA thread of a block is a std::thread,
// __syncthreads and the warp shuffles are block-wide barriers. Testing aid only.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>

#define __device__
#define __global__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static  // blocks run one at a time, so one static copy is the block's shared memory
#define __launch_bounds__(x)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct float4 {
  float x, y, z, w;
};

struct BlockCtx {
  std::barrier<>* bar;
  float* fslot;
  unsigned long long* uslot;
  std::mutex* atomic_mutex;
};
extern thread_local dim3 threadIdx, blockIdx, blockDim;
extern thread_local BlockCtx* g_block;

inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned u) { float x; std::memcpy(&x, &u, 4); return x; }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }
template <class T> inline T __ldg(const T* p) { return *p; }

inline void __syncthreads() { g_block->bar->arrive_and_wait(); }

inline float __shfl_down_sync(unsigned, float v, int delta, int width) {
  const unsigned tid = threadIdx.x;
  g_block->fslot[tid] = v;
  g_block->bar->arrive_and_wait();
  const unsigned lane = tid % 32;
  const float r = (lane % unsigned(width)) + unsigned(delta) < unsigned(width) ? g_block->fslot[tid + delta] : v;
  g_block->bar->arrive_and_wait();
  return r;
}

inline unsigned long long __shfl_xor_sync(unsigned, unsigned long long v, int mask) {
  const unsigned tid = threadIdx.x;
  g_block->uslot[tid] = v;
  g_block->bar->arrive_and_wait();
  const unsigned src = (tid & ~31u) | ((tid % 32) ^ unsigned(mask));
  const unsigned long long r = src < blockDim.x ? g_block->uslot[src] : v;
  g_block->bar->arrive_and_wait();
  return r;
}

inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::lock_guard<std::mutex> lock(*g_block->atomic_mutex);
  const unsigned long long old = *p;
  if (v < old) *p = v;
  return old;
}
