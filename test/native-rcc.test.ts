/**
 * The native RCC backends (native/cuda-pfr) against the TypeScript reference (docs/rcc.md v1):
 * every SIMD level the CPU has (each forced), the ts reference and, where a GPU exists, CUDA must
 * give identical winner indices, identical float32 scores and identical candidate samples, on the
 * fixed vectors and on randomized inputs of many shapes. DIFFC_LONG=1 widens the randomized runs.
 *
 * In CI (CI=true) a missing addon fails the suite; elsewhere the suite is skipped loudly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { f32Bits, f32FromBits } from '../src/codec/rcc/f32math.js';
import { candidateGaussians, lnArrivalTimes, type ChunkAddress } from '../src/codec/rcc/candidates.js';
import { selectChunkReference, targetShape, tsBackend, type ChunkRequest, type RccBackend, type Selection } from '../src/codec/rcc/select.js';
import { createNativeBackend, loadAddon, resolveBackend, type SimdLevel } from '../src/rcc-backends/index.js';

const V = JSON.parse(readFileSync(new URL('./vectors/rcc-v1.json', import.meta.url), 'utf8'));
const h = (s: string) => parseInt(s, 16) >>> 0;
const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
const bitsOf = (a: Float32Array) => Array.from(a, (x) => hex(f32Bits(x)));
const key = { seedLo: h(V.key[0]), seedHi: h(V.key[1]) };

const CI = process.env.CI === 'true' || process.env.CI === '1';
const LONG = process.env.DIFFC_LONG === '1';
const { addon, error: addonError } = loadAddon();

/** Deterministic PRNG for the randomized cases (xorshift128+ folded to 32 bits). */
function rng(seed: number) {
  let a = seed >>> 0 || 1, b = 0x9e3779b9, c = 0x243f6a88, d = 0xb7e15162;
  const next = () => {
    const t = a ^ (a << 11);
    a = b; b = c; c = d;
    d = (d ^ (d >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    return d;
  };
  return {
    u32: next,
    int: (n: number) => next() % n,
    float: () => next() / 2 ** 32,
    normal: () => Math.sqrt(-2 * Math.log(1 - next() / 2 ** 32)) * Math.cos(2 * Math.PI * (next() / 2 ** 32)),
  };
}

/** Targets of several kinds, including the extremes: subnormal, overflowing, all-zero, sparse. */
function target(r: ReturnType<typeof rng>, n: number, mode: number): Float32Array {
  const d = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    switch (mode) {
      case 0: d[j] = r.normal(); break;
      case 1: d[j] = 4 * r.normal(); break;
      case 2: d[j] = 1e-3 * r.normal(); break;
      case 3: d[j] = (r.float() - 0.5) * 2e-39; break; // subnormal targets: no flush-to-zero anywhere
      case 4: d[j] = (r.float() - 0.5) * 6e38; break; // products overflow: +-inf and NaN scores
      case 5: d[j] = r.int(2) ? 0 : -0; break;
      case 6: d[j] = r.int(8) === 0 ? 30 * r.normal() : 0; break;
      default: d[j] = (r.float() - 0.5) * 2e20; break;
    }
  }
  return d;
}

/** The target shape of §6: mostly absent or narrowed as the codec does, sometimes extreme. */
function shape(r: ReturnType<typeof rng>, d: Float32Array): ChunkRequest['shape'] {
  switch (r.int(4)) {
    case 0: return undefined;
    case 1: return targetShape(d, 0.2 + 0.75 * r.float());
    case 2: return { a: target(r, 1, r.int(8))[0], b: target(r, 1, r.int(8))[0] };
    default: return { a: 0, b: 1 };
  }
}

function request(r: ReturnType<typeof rng>, n: number, k: number, chunk = r.u32()): ChunkRequest {
  const d = target(r, n, r.int(8));
  return { addr: { key: { seedLo: r.u32(), seedHi: r.u32() }, step: r.int(2 ** 28), chunk }, d, k, shape: shape(r, d) };
}

function sameSelections(got: readonly Selection[], want: readonly Selection[], what: string): void {
  assert.equal(got.length, want.length, what);
  for (let c = 0; c < want.length; c++) {
    assert.equal(got[c].index, want[c].index, `${what}: chunk ${c} index`);
    assert.equal(hex(f32Bits(got[c].score)), hex(f32Bits(want[c].score)), `${what}: chunk ${c} score bits`);
  }
}

if (!addon) {
  const msg = `NATIVE RCC ADDON MISSING: ${addonError}`;
  if (CI) {
    test('native RCC addon is built (required in CI)', () => assert.fail(msg));
  } else {
    console.warn(`\n!!!! ${msg}\n!!!! native-rcc tests SKIPPED; run \`npm run build:native\`.\n`);
    test('native RCC backends', { skip: msg }, () => {});
  }
} else {
  const info = addon.info();
  const cuda = addon.cudaInfo();
  const levels: SimdLevel[] = info.simd;
  const cpuBackends: [string, RccBackend][] = levels.map((s) => [s, createNativeBackend('cpu', { simd: s })]);
  const all: [string, RccBackend][] = [['ts', tsBackend], ...cpuBackends];
  if (cuda.available) all.push(['cuda', createNativeBackend('cuda')]);
  const NS = [1, 3, 15, 16, 17, 63, 64, 65, 250, 1000, 4099];

  test('addon reports its SIMD levels, threads and CUDA status', () => {
    assert.ok(levels.includes('scalar'));
    assert.equal(info.best, levels[levels.length - 1]);
    assert.ok(info.threads >= 1);
    if (process.arch === 'x64') assert.ok(levels.includes('avx2') || !CI, 'CI machine has AVX2');
    console.log(`native rcc: simd ${levels.join(', ')}; ${info.threads} threads; cuda: ${cuda.available ? `${cuda.device} via ${cuda.jit}` : `no (${cuda.error})`}`);
  });

  test('fixed vectors: candidates and ln T at every SIMD level (and CUDA)', () => {
    const targets: { name: string; simd?: SimdLevel; backend: 'cpu' | 'cuda' }[] = levels.map((s) => ({ name: s, simd: s, backend: 'cpu' }));
    if (cuda.available) targets.push({ name: 'cuda', backend: 'cuda' });
    for (const t of targets) {
      const opts = { backend: t.backend, simd: t.simd };
      for (const c of V.candidates) {
        assert.deepEqual(bitsOf(addon.candidate(key.seedLo, key.seedHi, c.step, c.chunk, c.index, c.n, opts)), c.g, `${t.name} candidate ${c.index}`);
      }
      for (const a of V.arrivals) {
        assert.deepEqual(bitsOf(addon.lnArrivalTimes(key.seedLo, key.seedHi, a.step, a.chunk, a.k, opts)), a.lnT, `${t.name} lnT k=${a.k}`);
      }
    }
  });

  test('fixed vectors: winner index and float32 score (plain and shaped), one batch and chunk by chunk, every backend', async () => {
    type Vec = { step: number; chunk: number; k: number; d: string[]; a?: string; b?: string; index: number; score: string };
    const vecs: Vec[] = [...V.selections, ...(V.shapedSelections ?? [])];
    assert.ok(vecs.length > V.selections.length, 'vectors include shaped selections');
    const reqs: ChunkRequest[] = vecs.map((s) => ({
      addr: { key, step: s.step, chunk: s.chunk },
      d: new Float32Array(s.d.map((b) => f32FromBits(h(b)))),
      k: s.k,
      ...(s.a !== undefined && s.b !== undefined ? { shape: { a: f32FromBits(h(s.a)), b: f32FromBits(h(s.b)) } } : {}),
    }));
    const want: Selection[] = vecs.map((s) => ({ index: s.index, score: f32FromBits(h(s.score)) }));
    for (const [name, b] of all) {
      sameSelections(await b.selectBatch(reqs), want, `${name} batch`);
      for (let i = 0; i < reqs.length; i++) sameSelections(await b.selectBatch([reqs[i]]), [want[i]], `${name} single ${i}`);
    }
  });

  test('randomized: ts reference and every native path agree (n in a fixed list, extreme targets)', async () => {
    const r = rng(20261122);
    // ts is ~25 M samples/s: keep its share of the work to a few 1e5 samples per case.
    const budget = LONG ? 2 ** 21 : 2 ** 17;
    for (const n of NS) {
      for (let rep = 0; rep < (LONG ? 3 : 1); rep++) {
        let k = r.int(17);
        while (k > 0 && n * 2 ** k > budget) k--;
        const reqs: ChunkRequest[] = [0, 1].map((c) => request(r, n, c === 0 ? k : r.int(k + 1), c + r.int(1000)));
        const want = reqs.map(selectChunkReference);
        for (const [name, b] of all) sameSelections(await b.selectBatch(reqs), want, `${name} n=${n} k=${k}`);
      }
    }
  });

  test('randomized: k = 0..16 (ts on small chunks, native paths against each other on larger ones)', async () => {
    const r = rng(777);
    const maxK = LONG ? 20 : 16;
    for (let k = 0; k <= maxK; k++) {
      // ts on a small chunk at this k.
      const small = request(r, 1 + r.int(3), k, r.int(64));
      const want = [selectChunkReference(small)];
      for (const [name, b] of all) sameSelections(await b.selectBatch([small]), want, `${name} k=${k} n=${small.d.length}`);
      // Native paths on a mixed batch, the scalar native path as the reference.
      const budget = LONG ? 2 ** 26 : 2 ** 21;
      const reqs: ChunkRequest[] = [];
      let work = 0;
      for (let c = 0; c < 3; c++) {
        let n = NS[r.int(NS.length)];
        while (n > 1 && work + n * 2 ** k > budget) n = Math.max(1, n >> 1);
        work += n * 2 ** k;
        reqs.push(request(r, n, k));
      }
      const ref = await cpuBackends[0][1].selectBatch(reqs);
      for (const [name, b] of all) {
        if (name === 'ts') continue;
        sameSelections(await b.selectBatch(reqs), ref, `${name} k=${k} batch n=${reqs.map((q) => q.d.length).join(',')}`);
      }
    }
  });

  test('randomized: candidate samples and ln T are identical to the reference', () => {
    const r = rng(4242);
    for (const n of [...NS, 1 + r.int(5000)]) {
      const addr: ChunkAddress = { key: { seedLo: r.u32(), seedHi: r.u32() }, step: r.int(2 ** 28), chunk: r.u32() };
      const index = r.int(2) ? r.u32() : r.int(1 << 16);
      const want = bitsOf(candidateGaussians(addr, index, n));
      for (const s of levels) {
        assert.deepEqual(bitsOf(addon.candidate(addr.key.seedLo, addr.key.seedHi, addr.step, addr.chunk, index, n, { simd: s })), want, `${s} n=${n}`);
      }
      if (cuda.available) {
        assert.deepEqual(bitsOf(addon.candidate(addr.key.seedLo, addr.key.seedHi, addr.step, addr.chunk, index, n, { backend: 'cuda' })), want, `cuda n=${n}`);
      }
    }
    for (let k = 0; k <= (LONG ? 16 : 11); k++) {
      const addr: ChunkAddress = { key: { seedLo: r.u32(), seedHi: r.u32() }, step: r.int(2 ** 28), chunk: r.int(100) };
      const want = bitsOf(lnArrivalTimes(addr, k));
      for (const s of levels) {
        assert.deepEqual(bitsOf(addon.lnArrivalTimes(addr.key.seedLo, addr.key.seedHi, addr.step, addr.chunk, k, { simd: s })), want, `${s} k=${k}`);
      }
      if (cuda.available) {
        assert.deepEqual(bitsOf(addon.lnArrivalTimes(addr.key.seedLo, addr.key.seedHi, addr.step, addr.chunk, k, { backend: 'cuda' })), want, `cuda k=${k}`);
      }
    }
  });

  test('thread count and concurrent batches do not change results', async () => {
    const r = rng(99);
    const reqs: ChunkRequest[] = [250, 17, 1000].map((n, c) => request(r, n, 12, c));
    const best = levels[levels.length - 1];
    const one = await createNativeBackend('cpu', { simd: best, threads: 1 }).selectBatch(reqs);
    const many = await Promise.all([1, 2, 3, 4].map(() => createNativeBackend('cpu', { simd: best, threads: 0 }).selectBatch(reqs)));
    for (const m of many) sameSelections(m, one, 'concurrent all-threads vs 1 thread');
  });

  test('invalid requests are rejected like the reference', async () => {
    const b = createNativeBackend('cpu');
    const addr = { key, step: 1, chunk: 0 };
    await assert.rejects(b.selectBatch([{ addr, d: new Float32Array([1, NaN]), k: 4 }]), /non-finite/);
    await assert.rejects(b.selectBatch([{ addr, d: new Float32Array([1, Infinity]), k: 4 }]), /non-finite/);
    await assert.rejects(b.selectBatch([{ addr, d: new Float32Array(0), k: 4 }]), /empty chunk/);
    await assert.rejects(b.selectBatch([{ addr, d: new Float32Array(2), k: 4, shape: { a: NaN, b: 1 } }]), /shape/);
    await assert.rejects(b.selectBatch([{ addr, d: new Float32Array(3), k: 25 }]), /chunk bits/);
    await assert.rejects(b.selectBatch([{ addr: { key, step: 2 ** 28, chunk: 0 }, d: new Float32Array(3), k: 2 }]), /step/);
    await assert.rejects(b.selectBatch([{ addr: { key: { seedLo: -1, seedHi: 0 }, step: 0, chunk: 0 }, d: new Float32Array(3), k: 2 }]), /key/);
    assert.deepEqual(await b.selectBatch([]), []);
    // The addon itself checks its inputs too.
    const one = f32Bits(1);
    await assert.rejects(addon.selectBatch(new Uint32Array([0, 0, 0, 0, 30, 1, 0, one]), new Float32Array(1)), /chunk bits/);
    await assert.rejects(addon.selectBatch(new Uint32Array([0, 0, 0, 0, 3, 2, 0, one]), new Float32Array(1)), /shorter/);
    await assert.rejects(addon.selectBatch(new Uint32Array([0, 0, 0, 0, 3, 1, 0, 0x7fc00000]), new Float32Array(1)), /shape/);
    await assert.rejects(async () => addon.selectBatch(new Uint32Array(6), new Float32Array(1)), /8 words/);
    assert.throws(() => createNativeBackend('cpu', { simd: 'avx9' as SimdLevel }), /not available/);
  });

  test('resolveBackend: explicit names, auto picks the fastest available and says so', async () => {
    const logs: string[] = [];
    const log = (m: string) => logs.push(m);
    assert.equal((await resolveBackend('ts', { log })).name, 'ts');
    assert.equal((await resolveBackend('cpu', { log })).name, 'cpu');
    const auto = await resolveBackend('auto', { log });
    assert.equal(auto.name, cuda.available ? 'cuda' : 'cpu');
    assert.match(logs[logs.length - 1], cuda.available ? /rcc backend: cuda/ : /rcc backend: cpu .*no CUDA/);
    if (!cuda.available) await assert.rejects(resolveBackend('cuda', { log }), /cuda' unavailable/);
    await assert.rejects(resolveBackend('gpu' as 'cuda', { log }), /unknown rcc backend/);
  });

  test('CUDA matches the CPU paths on larger shapes', { skip: cuda.available ? false : `no GPU here: ${cuda.error}` }, async () => {
    const r = rng(31337);
    const gpu = createNativeBackend('cuda');
    const cpu = createNativeBackend('cpu');
    for (const [n, k] of [[4, 16], [16, 16], [65, 14], [256, 16], [4099, 12], [3, 20]] as const) {
      const reqs: ChunkRequest[] = [0, 1, 2].map((c) => request(r, n, k, c));
      sameSelections(await gpu.selectBatch(reqs), await cpu.selectBatch(reqs), `cuda n=${n} k=${k}`);
    }
  });
}
