// Standalone check and benchmark of the native RCC paths (no Node needed):
//   rcc_harness [--vectors test/vectors/rcc-v1.json] [--cross N] [--long] [--bench] [--no-cuda]
//               [--quick] [--threads T] [--budget-log2 B]
// 1. every available SIMD level and CUDA against the fixed vectors (docs/rcc.md v1);
// 2. randomised cross-checks: every level and CUDA against the scalar path on many shapes
//    (dims not multiples of the lane width, k = 0..20, extreme targets, mixed batches);
// 3. benchmark: samples/s (candidates x dims / s) per level, thread count and CUDA variant.
// Exit status 0 only when every check passed.
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../src/rcc.h"
#include "../src/rcc_spec.h"

using namespace rcc;

// ------------------------------------------------------------------------------------------------
// A tiny JSON reader (objects, arrays, strings, numbers, true/false/null): enough for the vectors.

struct Json {
  enum Kind { Null, Bool, Num, Str, Arr, Obj } kind = Null;
  double num = 0;
  bool b = false;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;
  const Json& operator[](const std::string& k) const {
    auto it = obj.find(k);
    if (it == obj.end()) throw std::runtime_error("missing key " + k);
    return it->second;
  }
  const Json& operator[](size_t i) const { return arr.at(i); }
  size_t size() const { return kind == Arr ? arr.size() : obj.size(); }
  uint32_t u32() const { return uint32_t(num); }
  uint32_t hex() const { return uint32_t(std::stoul(str, nullptr, 16)); }
};

struct JsonParser {
  const std::string& s;
  size_t p = 0;
  explicit JsonParser(const std::string& src) : s(src) {}
  void ws() {
    while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
  }
  Json parse() {
    ws();
    if (p >= s.size()) throw std::runtime_error("unexpected end of JSON");
    Json j;
    const char c = s[p];
    if (c == '{') {
      j.kind = Json::Obj;
      ++p;
      ws();
      if (s[p] == '}') { ++p; return j; }
      for (;;) {
        ws();
        Json key = parse();
        ws();
        if (s[p++] != ':') throw std::runtime_error("expected ':'");
        j.obj[key.str] = parse();
        ws();
        if (s[p] == ',') { ++p; continue; }
        if (s[p++] != '}') throw std::runtime_error("expected '}'");
        return j;
      }
    }
    if (c == '[') {
      j.kind = Json::Arr;
      ++p;
      ws();
      if (s[p] == ']') { ++p; return j; }
      for (;;) {
        j.arr.push_back(parse());
        ws();
        if (s[p] == ',') { ++p; continue; }
        if (s[p++] != ']') throw std::runtime_error("expected ']'");
        return j;
      }
    }
    if (c == '"') {
      j.kind = Json::Str;
      ++p;
      while (s[p] != '"') {
        if (s[p] == '\\') ++p;  // vectors hold no escapes beyond \" and \\ .
        j.str += s[p++];
      }
      ++p;
      return j;
    }
    if (s.compare(p, 4, "true") == 0) { p += 4; j.kind = Json::Bool; j.b = true; return j; }
    if (s.compare(p, 5, "false") == 0) { p += 5; j.kind = Json::Bool; return j; }
    if (s.compare(p, 4, "null") == 0) { p += 4; return j; }
    j.kind = Json::Num;
    char* end = nullptr;
    j.num = std::strtod(s.c_str() + p, &end);
    if (end == s.c_str() + p) throw std::runtime_error("bad JSON at " + std::to_string(p));
    p = size_t(end - s.c_str());
    return j;
  }
};

// ------------------------------------------------------------------------------------------------

static int g_failures = 0;
static int g_checks = 0;

static void expect(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    if (g_failures <= 30) std::printf("FAIL: %s\n", what.c_str());
  }
}

static std::string hex32(uint32_t x) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", x);
  return b;
}

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b, size_t* at = nullptr) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (spec::f2u(a[i]) != spec::f2u(b[i])) {
      if (at) *at = i;
      return false;
    }
  return true;
}

struct Path {
  std::string name;
  bool cuda;
  Simd simd;
  unsigned threads;
  int tpc;
};

static void run_select(const Path& p, const std::vector<ChunkIn>& in, std::vector<ChunkOut>& out) {
  out.assign(in.size(), ChunkOut{});
  if (p.cuda) select_cuda(in.data(), in.size(), out.data(), p.tpc);
  else select_cpu(in.data(), in.size(), out.data(), p.simd, p.threads);
}

static void run_candidate(const Path& p, uint32_t k0, uint32_t k1, uint32_t step, uint32_t chunk, uint32_t idx,
                          uint32_t n, std::vector<float>& out) {
  out.assign(n, 0.0f);
  if (p.cuda) candidate_cuda(k0, k1, step, chunk, idx, n, out.data());
  else candidate_cpu(k0, k1, step, chunk, idx, n, out.data(), p.simd);
}

static void run_arrivals(const Path& p, uint32_t k0, uint32_t k1, uint32_t step, uint32_t chunk, uint32_t k,
                         std::vector<float>& out) {
  out.assign(size_t(1) << k, 0.0f);
  if (p.cuda) ln_arrival_times_cuda(k0, k1, step, chunk, k, out.data());
  else ln_arrival_times_cpu(k0, k1, step, chunk, k, out.data(), p.simd, p.threads);
}

// ------------------------------------------------------------------------------------------------

static void check_vectors(const std::string& path, const std::vector<Path>& paths) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  const Json V = JsonParser(text).parse();
  const uint32_t k0 = V["key"][0].hex(), k1 = V["key"][1].hex();
  const int before = g_failures;

  for (const Json& v : V["philox"].arr) {
    uint32_t out[4];
    spec::philox4x32(v["ctr"][0].hex(), v["ctr"][1].hex(), v["ctr"][2].hex(), v["ctr"][3].hex(), v["key"][0].hex(),
                     v["key"][1].hex(), out);
    for (int w = 0; w < 4; ++w) expect(out[w] == v["out"][w].hex(), "philox word " + std::to_string(w));
  }
  for (const Json& v : V["ln"].arr)
    expect(spec::f2u(spec::ln(spec::u2f(v["x"].hex()))) == v["ln"].hex(), "ln(" + v["x"].str + ")");
  for (const Json& v : V["normals"].arr) {
    float z[2];
    spec::normal_pair(v["a"].hex(), v["b"].hex(), z);
    expect(spec::f2u(z[0]) == v["z"][0].hex() && spec::f2u(z[1]) == v["z"][1].hex(), "normal pair " + v["a"].str);
  }
  for (const Json& v : V["permutations"].arr) {
    const uint32_t n = v["n"].u32();
    std::vector<uint32_t> perm(n);
    for (uint32_t i = 0; i < n; ++i) perm[i] = i;
    uint32_t w[4];
    for (uint32_t i = n - 1, m = 0; i >= 1; --i, ++m) {
      if ((m & 3) == 0) spec::philox4x32(m >> 2, 0, 0, spec::counter_word3(2, v["step"].u32()), k0, k1, w);
      const uint32_t r = uint32_t((uint64_t(w[m & 3]) * (uint64_t(i) + 1)) >> 32);
      std::swap(perm[i], perm[r]);
    }
    bool ok = true;
    for (uint32_t i = 0; i < n; ++i) ok = ok && perm[i] == v["perm"][i].u32();
    expect(ok, "permutation n=" + std::to_string(n));
  }

  {
    // Chain noise (§8): the normals of counters (j, 0, stream, (3 << 28) | step).
    const Json& nz = V["noise"];
    const uint32_t n = nz["n"].u32();
    bool ok = nz["z"].size() == n;
    uint32_t w[4];
    float g[4];
    for (uint32_t j = 0; ok && 4 * j < n; ++j) {
      spec::philox4x32(j, 0, nz["stream"].u32(), spec::counter_word3(3, nz["step"].u32()), k0, k1, w);
      spec::normal_pair(w[0], w[1], g);
      spec::normal_pair(w[2], w[3], g + 2);
      for (uint32_t q = 0; q < 4 && 4 * j + q < n; ++q) ok = ok && spec::f2u(g[q]) == nz["z"][4 * j + q].hex();
    }
    expect(ok, "chain noise");
  }

  for (const Path& p : paths) {
    std::vector<float> got;
    for (const Json& c : V["candidates"].arr) {
      run_candidate(p, k0, k1, c["step"].u32(), c["chunk"].u32(), c["index"].u32(), c["n"].u32(), got);
      bool ok = got.size() == c["g"].size();
      for (size_t i = 0; ok && i < got.size(); ++i) ok = spec::f2u(got[i]) == c["g"][i].hex();
      expect(ok, p.name + ": candidate vector index " + std::to_string(c["index"].u32()));
    }
    for (const Json& a : V["arrivals"].arr) {
      run_arrivals(p, k0, k1, a["step"].u32(), a["chunk"].u32(), a["k"].u32(), got);
      bool ok = got.size() == a["lnT"].size();
      for (size_t i = 0; ok && i < got.size(); ++i) ok = spec::f2u(got[i]) == a["lnT"][i].hex();
      expect(ok, p.name + ": arrival vector k=" + std::to_string(a["k"].u32()));
    }
    // All selection vectors (plain and shaped) in one batch (mixed k and n) and one by one.
    std::vector<const Json*> sel;
    for (const Json& x : V["selections"].arr) sel.push_back(&x);
    if (V.obj.count("shapedSelections"))
      for (const Json& x : V["shapedSelections"].arr) sel.push_back(&x);
    std::vector<std::vector<float>> ds(sel.size());
    std::vector<ChunkIn> batch;
    for (size_t i = 0; i < sel.size(); ++i) {
      const Json& x = *sel[i];
      for (const Json& b : x["d"].arr) ds[i].push_back(spec::u2f(b.hex()));
      ChunkIn c{k0, k1, x["step"].u32(), x["chunk"].u32(), x["k"].u32(), ds[i].data(), uint32_t(ds[i].size())};
      if (x.obj.count("a")) {
        c.a = spec::u2f(x["a"].hex());
        c.b = spec::u2f(x["b"].hex());
      }
      batch.push_back(c);
    }
    std::vector<ChunkOut> out;
    run_select(p, batch, out);
    for (size_t i = 0; i < sel.size(); ++i) {
      const Json& x = *sel[i];
      const std::string what = p.name + ": selection" + (x.obj.count("a") ? " (shaped)" : "") + " step " +
                               std::to_string(x["step"].u32());
      expect(out[i].index == x["index"].u32() && hex32(spec::f2u(out[i].score)) == x["score"].str,
             what + " got " + std::to_string(out[i].index) + "/" + hex32(spec::f2u(out[i].score)) + " want " +
                 std::to_string(x["index"].u32()) + "/" + x["score"].str);
      std::vector<ChunkOut> one;
      run_select(p, std::vector<ChunkIn>{batch[i]}, one);
      expect(one[0].index == out[i].index && spec::f2u(one[0].score) == spec::f2u(out[i].score), what + " alone vs in batch");
    }
  }
  std::printf("vectors: %s (%d checks so far)\n", g_failures == before ? "ok" : "FAILED", g_checks);
}

// ------------------------------------------------------------------------------------------------

static float draw_d(std::mt19937_64& rng, int mode) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  switch (mode) {
    case 0: return nd(rng);                            // standard
    case 1: return nd(rng) * 4.0f;                     // strong target
    case 2: return nd(rng) * 1e-3f;                    // weak target
    case 3: return ud(rng) * 1e-39f;                   // subnormal d (products underflow)
    case 4: return ud(rng) * 3.0e38f;                  // overflowing products: inf / NaN scores
    case 5: return (rng() & 1) ? 0.0f : -0.0f;         // all zeros of both signs
    case 6: return (rng() % 8 == 0) ? nd(rng) * 30.0f : 0.0f;  // sparse, large
    default: return ud(rng) * 1e20f;                   // huge but finite products
  }
}

static void check_cross(int cases, bool long_mode, const std::vector<Path>& paths, unsigned seed, int budget_log2) {
  std::mt19937_64 rng(seed);
  const uint32_t ns[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 250, 256, 1000, 4099};
  const Path ref{"scalar", false, Simd::Scalar, 0, 0};
  const int before = g_failures;
  const uint64_t budget = uint64_t(1) << (budget_log2 > 0 ? budget_log2 : long_mode ? 30 : 26);  // samples per batch
  size_t compared = 0;
  for (int t = 0; t < cases; ++t) {
    // A batch of 1..4 chunks with random shapes and targets.
    const int nchunks = 1 + int(rng() % 4);
    std::vector<std::vector<float>> ds(nchunks);
    std::vector<ChunkIn> in;
    uint64_t work = 0;
    for (int c = 0; c < nchunks; ++c) {
      uint32_t n = (rng() % 3 == 0) ? uint32_t(1 + rng() % 5000) : ns[rng() % (sizeof ns / sizeof ns[0])];
      uint32_t k = uint32_t(rng() % (long_mode ? 21 : 19));
      while (k > 0 && work + (uint64_t(n) << k) > budget) --k;
      const int mode = int(rng() % 8);
      ds[c].resize(n);
      for (float& x : ds[c]) x = draw_d(rng, mode);
      work += uint64_t(n) << k;
      ChunkIn ci{uint32_t(rng()), uint32_t(rng()), uint32_t(rng() % (1u << 28)), uint32_t(rng() % 4096), k,
                 ds[c].data(), n};
      // Target shape (§6): the exact target, a narrowed one (as targetShape() computes), or extremes.
      const int shape = int(rng() % 4);
      if (shape == 1) {
        double m2 = 0;
        for (float x : ds[c]) m2 += double(x) * x;
        const double sd = 0.2 + 0.75 * double(rng() % 1000) / 1000.0;
        if (m2 >= 1e-12 && std::isfinite(m2)) {
          ci.a = float((1 - 1 / (sd * sd)) / (2 * m2));
          ci.b = float(1 / (sd * sd));
        }
      } else if (shape == 2) {
        ci.a = draw_d(rng, int(rng() % 8));
        ci.b = draw_d(rng, int(rng() % 8));
      }
      in.push_back(ci);
    }
    std::vector<ChunkOut> want, got;
    run_select(ref, in, want);
    for (const Path& p : paths) {
      if (!p.cuda && p.simd == Simd::Scalar && p.threads == 0) continue;
      run_select(p, in, got);
      for (int c = 0; c < nchunks; ++c) {
        ++compared;
        expect(got[c].index == want[c].index && spec::f2u(got[c].score) == spec::f2u(want[c].score),
               p.name + ": case " + std::to_string(t) + " chunk " + std::to_string(c) + " n=" + std::to_string(in[c].n) +
                   " k=" + std::to_string(in[c].k) + " a=" + hex32(spec::f2u(in[c].a)) + " b=" + hex32(spec::f2u(in[c].b)) + " got " + std::to_string(got[c].index) + "/" +
                   hex32(spec::f2u(got[c].score)) + " want " + std::to_string(want[c].index) + "/" +
                   hex32(spec::f2u(want[c].score)));
      }
    }
    // Canonical samples of the winners and of random indices; ln T of the first chunk.
    std::vector<float> a, b;
    for (int c = 0; c < nchunks; ++c) {
      const uint32_t idx = (c & 1) ? uint32_t(rng()) : want[c].index;
      run_candidate(ref, in[c].seed_lo, in[c].seed_hi, in[c].step, in[c].chunk, idx, in[c].n, a);
      for (const Path& p : paths) {
        run_candidate(p, in[c].seed_lo, in[c].seed_hi, in[c].step, in[c].chunk, idx, in[c].n, b);
        expect(same_bits(a, b), p.name + ": candidate n=" + std::to_string(in[c].n));
      }
    }
    run_arrivals(ref, in[0].seed_lo, in[0].seed_hi, in[0].step, in[0].chunk, in[0].k, a);
    for (const Path& p : paths) {
      run_arrivals(p, in[0].seed_lo, in[0].seed_hi, in[0].step, in[0].chunk, in[0].k, b);
      size_t at = 0;
      expect(same_bits(a, b, &at), p.name + ": ln T k=" + std::to_string(in[0].k) + " at " + std::to_string(at));
    }
  }
  std::printf("cross: %s (%d batches, %zu chunk comparisons, %d checks so far)\n",
              g_failures == before ? "ok" : "FAILED", cases, compared, g_checks);
}

// ------------------------------------------------------------------------------------------------

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static void bench(const std::vector<Path>& paths, bool quick, bool cpu) {
  struct Shape {
    uint32_t n, k, chunks;
  };
  std::vector<Shape> shapes = {{256, 16, 8}, {4, 16, 16}, {16, 16, 8}, {64, 16, 8}, {1024, 16, 4}, {4099, 14, 4}, {256, 20, 1}};
  if (quick) shapes = {{256, 16, 4}};
  std::mt19937_64 rng(7);
  std::printf("\nbenchmark: samples/s = chunks x 2^k x n / wall time (best of repeats)\n");
  std::printf("%-26s %6s %3s %6s %12s %10s\n", "path", "n", "k", "chunks", "samples/s", "ms/batch");
  for (const Shape& s : shapes) {
    std::vector<std::vector<float>> ds(s.chunks, std::vector<float>(s.n));
    std::vector<ChunkIn> in;
    for (uint32_t c = 0; c < s.chunks; ++c) {
      for (float& x : ds[c]) x = draw_d(rng, 0);
      in.push_back(ChunkIn{0x9E3779B9u, 0x7F4A7C15u, 17, c, s.k, ds[c].data(), s.n});
    }
    const double samples = double(s.chunks) * double(uint64_t(1) << s.k) * s.n;
    std::vector<ChunkOut> ref;
    for (const Path& p : paths) {
      if (!p.cuda && (!cpu || (p.simd == Simd::Scalar && samples > 1e9))) continue;  // scalar: too slow
      std::vector<ChunkOut> out;
      run_select(p, in, out);  // warm-up (CUDA: module load, allocations)
      double best = 1e30;
      const double t_end = now() + (quick ? 0.5 : 1.5);
      int reps = 0;
      do {
        const double t0 = now();
        run_select(p, in, out);
        best = std::min(best, now() - t0);
        ++reps;
      } while (now() < t_end && reps < 50);
      if (ref.empty()) ref = out;
      bool same = true;
      for (size_t c = 0; c < out.size(); ++c)
        same = same && out[c].index == ref[c].index && spec::f2u(out[c].score) == spec::f2u(ref[c].score);
      expect(same, "bench agreement " + p.name);
      std::printf("%-26s %6u %3u %6u %12.4g %10.3f%s\n", p.name.c_str(), s.n, s.k, s.chunks, samples / best,
                  best * 1e3, same ? "" : "  MISMATCH");
    }
  }
}

// ------------------------------------------------------------------------------------------------

int main(int argc, char** argv) {
  std::string vectors = "test/vectors/rcc-v1.json";
  int cross = 40;
  bool long_mode = false, do_bench = false, no_cuda = false, quick = false, only_bench = false;
  unsigned threads = 0;
  int budget_log2 = 0;
  bool cpu_bench = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    if (a == "--vectors") vectors = next();
    else if (a == "--cross") cross = std::atoi(next().c_str());
    else if (a == "--long") long_mode = true;
    else if (a == "--bench") do_bench = true;
    else if (a == "--bench-only") do_bench = only_bench = true;
    else if (a == "--no-cuda") no_cuda = true;
    else if (a == "--quick") quick = true;
    else if (a == "--threads") threads = unsigned(std::atoi(next().c_str()));
    else if (a == "--no-cpu-bench") cpu_bench = false;
    else if (a == "--budget-log2") budget_log2 = std::atoi(next().c_str());
    else {
      std::printf("usage: %s [--vectors PATH] [--cross N] [--long] [--bench|--bench-only] [--no-cuda] [--quick] [--threads T] [--budget-log2 B] [--no-cpu-bench]\n",
                  argv[0]);
      return 2;
    }
  }
  try {
    const unsigned all = threads ? threads : default_threads();
    std::printf("cpu: %u threads; simd levels:", all);
    for (Simd s : available_simd()) std::printf(" %s", simd_name(s));
    std::printf("\n");
    const CudaInfo ci = no_cuda ? CudaInfo{} : cuda_info();
    if (no_cuda) std::printf("cuda: skipped (--no-cuda)\n");
    else if (ci.available)
      std::printf("cuda: %s, sm_%d%d, %d SMs, kernels via %s\n", ci.device.c_str(), ci.cc_major, ci.cc_minor, ci.sms,
                  ci.jit.c_str());
    else std::printf("cuda: unavailable (%s)\n", ci.error.c_str());

    std::vector<Path> check_paths, bench_paths;
    for (Simd s : available_simd()) {
      check_paths.push_back(Path{std::string(simd_name(s)) + "/" + std::to_string(all) + "t", false, s, all, 0});
      bench_paths.push_back(Path{std::string(simd_name(s)) + " 1 thread", false, s, 1, 0});
      bench_paths.push_back(Path{std::string(simd_name(s)) + " " + std::to_string(all) + " threads", false, s, all, 0});
    }
    check_paths.push_back(Path{std::string(simd_name(best_simd())) + "/1t", false, best_simd(), 1, 0});
    if (ci.available) {
      for (int t : {0, 4, 16}) {
        const std::string name = t ? "cuda t" + std::to_string(t) : "cuda auto";
        check_paths.push_back(Path{name, true, Simd::Scalar, 0, t});
        bench_paths.push_back(Path{name, true, Simd::Scalar, 0, t});
      }
    }
    if (!only_bench) {
      if (!vectors.empty()) check_vectors(vectors, check_paths);  // --vectors "" skips them
      if (cross > 0) check_cross(cross, long_mode, check_paths, 12345, budget_log2);
    }
    if (do_bench) bench(bench_paths, quick, cpu_bench);
  } catch (const std::exception& e) {
    std::printf("ERROR: %s\n", e.what());
    return 1;
  }
  std::printf("\n%s: %d checks, %d failures\n", g_failures ? "FAILED" : "PASSED", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
