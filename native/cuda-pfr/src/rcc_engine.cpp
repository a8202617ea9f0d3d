// CPU engine: validation, SIMD dispatch, the thread pool and the three stages of a batch
// (docs/rcc.md §5–§6):
//   1. in-block arrival sums L_i, in parallel over (chunk, block of 256 candidates);
//   2. block offsets S_b, serially per chunk (float32, in block order, as the spec's scan);
//   3. ln T_i = ln(S_b + L_i) and the scores of the block's candidates, in parallel over the same
//      (chunk, block) items; each item keeps its best by the strict-less rule, and items are
//      merged in index order, so the result never depends on the thread count or schedule.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include "rcc.h"
#include "rcc_kernels.h"

namespace rcc {

// ---------------------------------------------------------------------------------------------
// SIMD levels

const char* simd_name(Simd s) {
  switch (s) {
    case Simd::Scalar: return "scalar";
    case Simd::Avx2: return "avx2";
    case Simd::Avx512: return "avx512";
  }
  return "?";
}

bool parse_simd(const std::string& name, Simd* out) {
  if (name == "scalar") *out = Simd::Scalar;
  else if (name == "avx2") *out = Simd::Avx2;
  else if (name == "avx512") *out = Simd::Avx512;
  else return false;
  return true;
}

static bool cpu_has(Simd s) {
  switch (s) {
    case Simd::Scalar: return true;
#if defined(__x86_64__)
    // libgcc's checks include the OS's XSAVE support for the wider registers.
    case Simd::Avx2: return kernels_avx2() != nullptr && __builtin_cpu_supports("avx2");
    case Simd::Avx512: return kernels_avx512() != nullptr && __builtin_cpu_supports("avx512f");
#else
    default: return false;
#endif
  }
  return false;
}

std::vector<Simd> available_simd() {
  std::vector<Simd> v;
  for (Simd s : {Simd::Scalar, Simd::Avx2, Simd::Avx512})
    if (cpu_has(s)) v.push_back(s);
  return v;
}

Simd best_simd() { return available_simd().back(); }

static const Kernels* kernels_for(Simd s) {
  if (!cpu_has(s)) throw std::invalid_argument(std::string("SIMD level '") + simd_name(s) + "' is not available on this CPU/build");
  switch (s) {
    case Simd::Scalar: return kernels_scalar();
    case Simd::Avx2: return kernels_avx2();
    case Simd::Avx512: return kernels_avx512();
  }
  return kernels_scalar();
}

unsigned default_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return unsigned(n);
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

// ---------------------------------------------------------------------------------------------
// Thread pool: persistent workers; one parallel loop at a time (callers are serialised), the
// calling thread works too. Items are claimed with an atomic counter.

namespace {

class Pool {
 public:
  static Pool& instance() {
    static Pool* pool = new Pool();  // never destroyed: workers may outlive static destructors
    return *pool;
  }

  void parallel_for(size_t items, unsigned threads, const std::function<void(size_t)>& fn) {
    if (threads <= 1 || items <= 1) {
      for (size_t i = 0; i < items; ++i) fn(i);
      return;
    }
    std::lock_guard<std::mutex> serial(run_mutex_);
    const unsigned helpers = unsigned(std::min<size_t>(threads, items)) - 1;
    {
      std::unique_lock<std::mutex> lock(m_);
      while (workers_.size() < helpers) {
        const unsigned id = unsigned(workers_.size());
        workers_.emplace_back([this, id] { loop(id); });
        workers_.back().detach();
      }
      fn_ = &fn;
      items_ = items;
      next_.store(0);
      helpers_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    cv_work_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(m_);
    cv_done_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void work() {
    for (size_t i = next_.fetch_add(1); i < items_; i = next_.fetch_add(1)) (*fn_)(i);
  }

  void loop(unsigned id) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_work_.wait(lock, [&] { return generation_ != seen && id < helpers_; });
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> lock(m_);
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }

  std::mutex run_mutex_;
  std::mutex m_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t items_ = 0;
  std::atomic<size_t> next_{0};
  unsigned helpers_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Batches

void validate(const ChunkIn& c) {
  if (c.k > uint32_t(spec::kMaxChunkBits))
    throw std::invalid_argument("chunk bits k=" + std::to_string(c.k) + " outside [0, 24]");
  if (c.n == 0) throw std::invalid_argument("empty chunk");
  if (c.step >= spec::kMaxStep) throw std::invalid_argument("step " + std::to_string(c.step) + " outside [0, 2^28)");
  if (!std::isfinite(c.a) || !std::isfinite(c.b)) throw std::invalid_argument("non-finite target shape");
  for (uint32_t j = 0; j < c.n; ++j)
    if (!std::isfinite(c.d[j])) throw std::invalid_argument("non-finite target at chunk dim " + std::to_string(j));
}

namespace {

constexpr uint64_t kMaxCandidatesPerPass = uint64_t(1) << 24;  // bounds the L buffer to 64 MiB

struct Prepared {
  ChunkDesc desc;
  std::vector<float> dT;
  uint32_t candidates;  // 2^k
  uint32_t blocks;      // ceil(2^k / 256)
  size_t first_item;    // index of its first (chunk, block) item
};

void prepare(const ChunkIn& in, Prepared& p) {
  const uint32_t J = (in.n + 3) / 4;
  const uint32_t Jpad = (J + 15) / 16 * 16;
  p.dT.assign(size_t(4) * Jpad, 0.0f);
  for (uint32_t dim = 0; dim < in.n; ++dim) p.dT[size_t(dim & 3) * Jpad + dim / 4] = in.d[dim];
  p.desc = ChunkDesc{in.seed_lo, in.seed_hi, spec::counter_word3(spec::kDomainCandidate, in.step),
                     spec::counter_word3(spec::kDomainArrival, in.step), in.chunk, in.n, J, Jpad, in.d, p.dT.data(),
                     in.a, in.b};
  p.candidates = 1u << in.k;
  p.blocks = (p.candidates + spec::kArrivalBlock - 1) / spec::kArrivalBlock;
}

// Stages 1 and 2 for a set of chunks: L for every candidate and S for every block.
void arrivals(const Kernels* kern, std::vector<Prepared>& ps, std::vector<uint32_t>& item_chunk,
              std::vector<float>& L, std::vector<float>& S, unsigned threads) {
  item_chunk.clear();
  for (uint32_t c = 0; c < ps.size(); ++c) {
    ps[c].first_item = item_chunk.size();
    item_chunk.insert(item_chunk.end(), ps[c].blocks, c);
  }
  L.resize(item_chunk.size() * spec::kArrivalBlock);
  S.resize(item_chunk.size());
  Pool::instance().parallel_for(item_chunk.size(), threads, [&](size_t item) {
    const Prepared& p = ps[item_chunk[item]];
    const uint32_t b = uint32_t(item - p.first_item);
    const uint32_t first = b * spec::kArrivalBlock;
    kern->arrival_block(p.desc, first, std::min(spec::kArrivalBlock, p.candidates - first),
                        L.data() + item * spec::kArrivalBlock);
  });
  for (const Prepared& p : ps) {
    float s = 0.0f;
    for (uint32_t b = 0; b < p.blocks; ++b) {
      const size_t item = p.first_item + b;
      S[item] = s;
      const uint32_t last = std::min(spec::kArrivalBlock, p.candidates - b * spec::kArrivalBlock) - 1;
      s = s + L[item * spec::kArrivalBlock + last];
    }
  }
}

}  // namespace

void select_cpu(const ChunkIn* in, size_t count, ChunkOut* out, Simd simd, unsigned threads) {
  const Kernels* kern = kernels_for(simd);
  if (threads == 0) threads = default_threads();
  for (size_t c = 0; c < count; ++c) validate(in[c]);

  std::vector<Prepared> ps;
  std::vector<uint32_t> item_chunk;
  std::vector<float> L, S;
  std::vector<spec::Best> item_best;
  for (size_t begin = 0; begin < count;) {
    // One pass: consecutive chunks up to kMaxCandidatesPerPass candidates (at least one chunk).
    size_t end = begin;
    uint64_t total = 0;
    while (end < count && (end == begin || total + (uint64_t(1) << in[end].k) <= kMaxCandidatesPerPass))
      total += uint64_t(1) << in[end++].k;
    ps.resize(end - begin);
    for (size_t c = begin; c < end; ++c) prepare(in[c], ps[c - begin]);
    arrivals(kern, ps, item_chunk, L, S, threads);
    item_best.assign(item_chunk.size(), spec::best_init());
    Pool::instance().parallel_for(item_chunk.size(), threads, [&](size_t item) {
      const Prepared& p = ps[item_chunk[item]];
      const uint32_t first = uint32_t(item - p.first_item) * spec::kArrivalBlock;
      const uint32_t cnt = std::min(spec::kArrivalBlock, p.candidates - first);
      alignas(64) float lnT[spec::kArrivalBlock];
      kern->ln_offset(S[item], L.data() + item * spec::kArrivalBlock, cnt, lnT);
      item_best[item] = kern->score(p.desc, first, cnt, lnT);
    });
    for (size_t c = begin; c < end; ++c) {
      const Prepared& p = ps[c - begin];
      spec::Best best = spec::best_init();
      for (uint32_t b = 0; b < p.blocks; ++b) {
        const spec::Best& ib = item_best[p.first_item + b];
        if (ib.score < best.score) best = ib;  // blocks in index order: strict less keeps the first
      }
      out[c] = ChunkOut{best.index, best.score};
    }
    begin = end;
  }
}

void candidate_cpu(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t index, uint32_t n,
                   float* out, Simd simd) {
  if (step >= spec::kMaxStep) throw std::invalid_argument("step outside [0, 2^28)");
  kernels_for(simd)->gaussians(seed_lo, seed_hi, index, chunk, spec::counter_word3(spec::kDomainCandidate, step), n,
                               out);
}

void ln_arrival_times_cpu(uint32_t seed_lo, uint32_t seed_hi, uint32_t step, uint32_t chunk, uint32_t k, float* out,
                          Simd simd, unsigned threads) {
  const Kernels* kern = kernels_for(simd);
  if (threads == 0) threads = default_threads();
  const float zero = 0.0f;
  ChunkIn in{seed_lo, seed_hi, step, chunk, k, &zero, 1, 0.0f, 1.0f};
  validate(in);
  std::vector<Prepared> ps(1);
  prepare(in, ps[0]);
  std::vector<uint32_t> item_chunk;
  std::vector<float> L, S;
  arrivals(kern, ps, item_chunk, L, S, threads);
  Pool::instance().parallel_for(item_chunk.size(), threads, [&](size_t b) {
    const uint32_t first = uint32_t(b) * spec::kArrivalBlock;
    kern->ln_offset(S[b], L.data() + b * spec::kArrivalBlock, std::min(spec::kArrivalBlock, ps[0].candidates - first),
                    out + first);
  });
}

}  // namespace rcc
