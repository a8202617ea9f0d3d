// A stand-in libcuda.so.1 for machines without a GPU: implements the driver API calls that
// src/rcc_cuda.cpp makes, with device memory in host RAM and kernels from src/rcc_kernel.cu compiled
// for the host and run through the SIMT emulation in simt.h. It lets the harness exercise the
// whole CUDA host path (layouts, tiling, offsets, argmin keys) without a GPU:
//   LD_LIBRARY_PATH=<dir of this libcuda.so.1> rcc_harness --cross 20
// Slow (one OS thread per CUDA thread): small shapes only. Never shipped with the addon.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "simt.h"

thread_local dim3 threadIdx, blockIdx, blockDim;
thread_local BlockCtx* g_block = nullptr;

#include "../../src/rcc_kernel.cu"

namespace {

using Runner = void (*)(void** params);
struct Func {
  const char* name;
  Runner run;
};

template <class T> T arg(void** params, int i) { return *reinterpret_cast<T*>(params[i]); }
template <class T> T* ptr(void** params, int i) {
  return reinterpret_cast<T*>(uintptr_t(*reinterpret_cast<unsigned long long*>(params[i])));
}

#define RUN(call) [](void** p) { (void)p; call; }
Func kFuncs[] = {
    {"rcc_arrivals", RUN(rcc_arrivals(ptr<const DevChunk>(p, 0), ptr<const u32>(p, 1), ptr<float>(p, 2), ptr<float>(p, 3)))},
    {"rcc_offsets", RUN(rcc_offsets(ptr<const DevChunk>(p, 0), arg<u32>(p, 1), ptr<const float>(p, 2), ptr<float>(p, 3)))},
    {"rcc_score_t4", RUN(rcc_score_t4(ptr<const DevChunk>(p, 0), ptr<const u32>(p, 1), ptr<const float>(p, 2),
                                      ptr<const float>(p, 3), ptr<const float>(p, 4), ptr<u64>(p, 5)))},
    {"rcc_score_t16", RUN(rcc_score_t16(ptr<const DevChunk>(p, 0), ptr<const u32>(p, 1), ptr<const float>(p, 2),
                                        ptr<const float>(p, 3), ptr<const float>(p, 4), ptr<u64>(p, 5)))},
    {"rcc_ln_arrivals", RUN(rcc_ln_arrivals(arg<u32>(p, 0), ptr<const float>(p, 1), ptr<const float>(p, 2), ptr<float>(p, 3)))},
    {"rcc_gaussians", RUN(rcc_gaussians(arg<u32>(p, 0), arg<u32>(p, 1), arg<u32>(p, 2), arg<u32>(p, 3), arg<u32>(p, 4),
                                        arg<u32>(p, 5), ptr<float>(p, 6)))},
};

int g_module = 1;
int g_ctx = 1;

}  // namespace

extern "C" {
__attribute__((visibility("default"))) int cuInit(unsigned) { return 0; }
__attribute__((visibility("default"))) int cuDeviceGetCount(int* n) { *n = 1; return 0; }
__attribute__((visibility("default"))) int cuDeviceGet(int* d, int) { *d = 0; return 0; }
__attribute__((visibility("default"))) int cuDeviceGetName(char* name, int len, int) {
  std::snprintf(name, size_t(len), "mockcuda (host SIMT emulation)");
  return 0;
}
__attribute__((visibility("default"))) int cuDeviceGetAttribute(int* v, int attr, int) {
  *v = attr == 16 ? 2 : attr == 75 ? 9 : attr == 76 ? 0 : 0;
  return 0;
}
__attribute__((visibility("default"))) int cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = &g_ctx; return 0; }
__attribute__((visibility("default"))) int cuCtxSetCurrent(void*) { return 0; }
__attribute__((visibility("default"))) int cuCtxSynchronize() { return 0; }
__attribute__((visibility("default"))) int cuModuleLoadDataEx(void** mod, const void* image, unsigned, int*, void**) {
  if (!image || std::strstr(static_cast<const char*>(image), "rcc_score_t4") == nullptr) return 200;  // INVALID_IMAGE
  *mod = &g_module;
  return 0;
}
__attribute__((visibility("default"))) int cuModuleGetFunction(void** f, void*, const char* name) {
  for (Func& fn : kFuncs)
    if (std::strcmp(fn.name, name) == 0) {
      *f = &fn;
      return 0;
    }
  return 500;  // NOT_FOUND
}
__attribute__((visibility("default"))) int cuMemAlloc_v2(unsigned long long* p, size_t bytes) {
  void* m = std::calloc(1, bytes);
  if (!m) return 2;  // OUT_OF_MEMORY
  std::memset(m, 0xA5, bytes);  // garbage, like fresh device memory
  *p = uintptr_t(m);
  return 0;
}
__attribute__((visibility("default"))) int cuMemFree_v2(unsigned long long p) { std::free(reinterpret_cast<void*>(uintptr_t(p))); return 0; }
__attribute__((visibility("default"))) int cuMemcpyHtoD_v2(unsigned long long dst, const void* src, size_t n) {
  std::memcpy(reinterpret_cast<void*>(uintptr_t(dst)), src, n);
  return 0;
}
__attribute__((visibility("default"))) int cuMemcpyDtoH_v2(void* dst, unsigned long long src, size_t n) {
  std::memcpy(dst, reinterpret_cast<void*>(uintptr_t(src)), n);
  return 0;
}
__attribute__((visibility("default"))) int cuMemsetD32_v2(unsigned long long dst, unsigned v, size_t n) {
  unsigned* p = reinterpret_cast<unsigned*>(uintptr_t(dst));
  for (size_t i = 0; i < n; ++i) p[i] = v;
  return 0;
}
__attribute__((visibility("default"))) int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                                          unsigned by, unsigned bz, unsigned, void*, void** params, void**) {
  if (gy != 1 || gz != 1 || by != 1 || bz != 1 || bx == 0 || bx > 1024 || gx == 0) return 1;  // INVALID_VALUE
  Func* fn = static_cast<Func*>(f);
  std::vector<float> fslot(bx);
  std::vector<unsigned long long> uslot(bx);
  std::mutex am;
  for (unsigned b = 0; b < gx; ++b) {
    std::barrier<> bar(bx);
    BlockCtx ctx{&bar, fslot.data(), uslot.data(), &am};
    std::vector<std::thread> ts;
    ts.reserve(bx);
    for (unsigned t = 0; t < bx; ++t)
      ts.emplace_back([&, t] {
        threadIdx.x = t;
        blockIdx.x = b;
        blockDim.x = bx;
        g_block = &ctx;
        fn->run(params);
      });
    for (auto& th : ts) th.join();
  }
  return 0;
}
__attribute__((visibility("default"))) int cuGetErrorName(int r, const char** s) {
  static thread_local std::string msg;
  msg = "MOCK_ERROR_" + std::to_string(r);
  *s = msg.c_str();
  return 0;
}
__attribute__((visibility("default"))) int cuGetErrorString(int, const char** s) { *s = "mockcuda error"; return 0; }
}
