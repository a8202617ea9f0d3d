// Node binding (N-API through node-addon-api) of the native RCC scorer. Narrow on purpose:
//   info()                      -> { simd: string[], best: string, threads: number }
//   cudaInfo()                  -> { available, device, error, jit, computeCapability, sms }
//   selectBatch(meta, d, opts)  -> Promise<{ index: Uint32Array, score: Float32Array }>
//       meta: Uint32Array, 8 words per chunk (seedLo, seedHi, step, chunk, k, n, bits(a), bits(b),
//       a and b the float32 target shape of §6); d: Float32Array, the chunks' targets
//       concatenated; opts: { backend: 'cpu' | 'cuda', simd?, threads?, tpc? }.
//       Runs on a libuv worker thread (and the addon's own pool), never on the main thread.
//   candidate(seedLo, seedHi, step, chunk, index, n, opts?)  -> Float32Array (§4)
//   lnArrivalTimes(seedLo, seedHi, step, chunk, k, opts?)    -> Float32Array (§5, for tests)
// The TypeScript side (src/rcc-backends/) validates arguments and builds meta/d.
#include <napi.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "rcc.h"

namespace {

constexpr size_t kMetaWords = 8;

struct Options {
  bool cuda = false;
  rcc::Simd simd = rcc::best_simd();
  unsigned threads = 0;
  int tpc = 0;
};

Options parse_options(const Napi::Env& env, const Napi::Value& v) {
  Options o;
  if (v.IsUndefined() || v.IsNull()) return o;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object obj = v.As<Napi::Object>();
  if (obj.Has("backend")) {
    const std::string b = obj.Get("backend").ToString().Utf8Value();
    if (b == "cuda") o.cuda = true;
    else if (b != "cpu") throw Napi::TypeError::New(env, "backend must be 'cpu' or 'cuda'");
  }
  if (obj.Has("simd") && !obj.Get("simd").IsUndefined()) {
    const std::string s = obj.Get("simd").ToString().Utf8Value();
    if (s != "auto" && !rcc::parse_simd(s, &o.simd))
      throw Napi::TypeError::New(env, "simd must be 'auto', 'scalar', 'avx2' or 'avx512'");
  }
  if (obj.Has("threads") && !obj.Get("threads").IsUndefined()) o.threads = obj.Get("threads").ToNumber().Uint32Value();
  if (obj.Has("tpc") && !obj.Get("tpc").IsUndefined()) o.tpc = obj.Get("tpc").ToNumber().Int32Value();
  return o;
}

uint32_t u32_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double x = info[i].As<Napi::Number>().DoubleValue();
  if (!(x >= 0 && x <= 4294967295.0) || x != double(uint32_t(x)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an unsigned 32-bit integer");
  return uint32_t(x);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const auto levels = rcc::available_simd();
  Napi::Array simd = Napi::Array::New(env, levels.size());
  for (size_t i = 0; i < levels.size(); ++i) simd.Set(uint32_t(i), rcc::simd_name(levels[i]));
  o.Set("simd", simd);
  o.Set("best", rcc::simd_name(rcc::best_simd()));
  o.Set("threads", rcc::default_threads());
  return o;
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const rcc::CudaInfo ci = rcc::cuda_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", ci.available);
  o.Set("device", ci.device);
  o.Set("error", ci.error);
  o.Set("jit", ci.jit);
  o.Set("computeCapability", std::to_string(ci.cc_major) + "." + std::to_string(ci.cc_minor));
  o.Set("sms", ci.sms);
  return o;
}

class SelectWorker : public Napi::AsyncWorker {
 public:
  SelectWorker(Napi::Env env, std::vector<uint32_t> meta, std::vector<float> d, Options opts)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), meta_(std::move(meta)),
        d_(std::move(d)), opts_(opts) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      const size_t count = meta_.size() / kMetaWords;
      std::vector<rcc::ChunkIn> in(count);
      size_t off = 0;
      for (size_t c = 0; c < count; ++c) {
        const uint32_t* m = &meta_[kMetaWords * c];
        if (off + m[5] > d_.size()) throw std::invalid_argument("d is shorter than the chunks' dims");
        float a, b;
        std::memcpy(&a, &m[6], 4);
        std::memcpy(&b, &m[7], 4);
        in[c] = rcc::ChunkIn{m[0], m[1], m[2], m[3], m[4], d_.data() + off, m[5], a, b};
        off += m[5];
      }
      if (off != d_.size()) throw std::invalid_argument("d is longer than the chunks' dims");
      out_.resize(count);
      if (opts_.cuda) rcc::select_cuda(in.data(), count, out_.data(), opts_.tpc);
      else rcc::select_cpu(in.data(), count, out_.data(), opts_.simd, opts_.threads);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Uint32Array index = Napi::Uint32Array::New(env, out_.size());
    Napi::Float32Array score = Napi::Float32Array::New(env, out_.size());
    for (size_t c = 0; c < out_.size(); ++c) {
      index[c] = out_[c].index;
      score[c] = out_[c].score;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("index", index);
    r.Set("score", score);
    deferred_.Resolve(r);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint32_t> meta_;
  std::vector<float> d_;
  Options opts_;
  std::vector<rcc::ChunkOut> out_;
};

Napi::Value SelectBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "meta must be a Uint32Array");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "d must be a Float32Array");
  const Napi::Uint32Array meta = info[0].As<Napi::Uint32Array>();
  const Napi::Float32Array d = info[1].As<Napi::Float32Array>();
  if (meta.ElementLength() % kMetaWords != 0) throw Napi::TypeError::New(env, "meta must hold 8 words per chunk");
  const Options opts = parse_options(env, info.Length() > 2 ? info[2] : env.Undefined());
  // Copies: the worker must not touch JS memory off the main thread.
  std::vector<uint32_t> m(meta.Data(), meta.Data() + meta.ElementLength());
  std::vector<float> dv(d.Data(), d.Data() + d.ElementLength());
  auto* w = new SelectWorker(env, std::move(m), std::move(dv), opts);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value Candidate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t lo = u32_arg(info, 0, "seedLo"), hi = u32_arg(info, 1, "seedHi"), step = u32_arg(info, 2, "step");
  const uint32_t chunk = u32_arg(info, 3, "chunk"), index = u32_arg(info, 4, "index"), n = u32_arg(info, 5, "n");
  const Options opts = parse_options(env, info.Length() > 6 ? info[6] : env.Undefined());
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  try {
    if (opts.cuda) rcc::candidate_cuda(lo, hi, step, chunk, index, n, out.Data());
    else rcc::candidate_cpu(lo, hi, step, chunk, index, n, out.Data(), opts.simd);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return out;
}

Napi::Value LnArrivalTimes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t lo = u32_arg(info, 0, "seedLo"), hi = u32_arg(info, 1, "seedHi"), step = u32_arg(info, 2, "step");
  const uint32_t chunk = u32_arg(info, 3, "chunk"), k = u32_arg(info, 4, "k");
  if (k > 24) throw Napi::RangeError::New(env, "k must be at most 24");
  const Options opts = parse_options(env, info.Length() > 5 ? info[5] : env.Undefined());
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(1) << k);
  try {
    if (opts.cuda) rcc::ln_arrival_times_cuda(lo, hi, step, chunk, k, out.Data());
    else rcc::ln_arrival_times_cpu(lo, hi, step, chunk, k, out.Data(), opts.simd, opts.threads);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  exports.Set("selectBatch", Napi::Function::New(env, SelectBatch, "selectBatch"));
  exports.Set("candidate", Napi::Function::New(env, Candidate, "candidate"));
  exports.Set("lnArrivalTimes", Napi::Function::New(env, LnArrivalTimes, "lnArrivalTimes"));
  exports.Set("abiVersion", Napi::Number::New(env, 2));  // 2: meta carries the target shape
  return exports;
}

}  // namespace

NODE_API_MODULE(rcc_native, Init)
