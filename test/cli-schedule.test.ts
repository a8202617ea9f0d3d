import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { CodingParams, planForKl } from '../src/codec/chain/chunk-plan.js';
import { selectChunkReference, targetShape, shapeExtraKlBits } from '../src/codec/rcc/select.js';
import { candidateGaussians } from '../src/codec/rcc/candidates.js';
import {
  optimizeSchedule, chunkSelection, indexBitsFromBuckets, expectedIndexBits, expectedDeficitBits, stepCodingCost, codingCost, sideInfoBitsAlong, type KlMatrix,
} from '../src/codec/schedule/optimize.js';
import { assemblePayload } from '../src/codec/chain/payload.js';

async function run(args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(args, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join(''), err: err.join('') };
}

test('schedule optimize from a KL matrix file finds the brute-force optimum', async () => {
  // Small random DAG: compare with exhaustive search over all decreasing subsequences.
  const ts = [900, 700, 500, 300, 100];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const m: KlMatrix = { timesteps: ts, prior: ts.map((_, j) => 5 + 40 * j * rnd()), kl: ts.map((_, i) => ts.map((_, j) => (j > i ? 3 + 20 * (j - i) * rnd() : 0))) };
  const cost = (d: number) => 2 + d + Math.log2(d + 1);
  let best = Infinity;
  for (let mask = 0; mask < 16; mask++) { // subsets of the first 4 candidates, always ending at 100
    const path = [0, 1, 2, 3].filter((b) => mask & (1 << b)).concat([4]);
    let c = cost(m.prior[path[0]]);
    for (let k = 1; k < path.length; k++) c += cost(m.kl[path[k - 1]][path[k]]);
    best = Math.min(best, c);
  }
  const r = optimizeSchedule(m, cost, 100);
  assert.ok(Math.abs(r.cost - best) < 1e-9, `${r.cost} vs ${best}`);
  const dir = mkdtempSync(join(tmpdir(), 'diffc-'));
  const file = join(dir, 'kl.json');
  writeFileSync(file, JSON.stringify(m));
  const res = await run(['schedule', 'optimize', '--kl', file, '--target', '100', '--json', '--chunk-bits', '16', '--padding', '1']);
  assert.equal(res.code, 0, res.err);
  const j = JSON.parse(res.out);
  assert.equal(j.timesteps.at(-1), 100);
  assert.match(j.id, /^list:/);
});

test('schedule optimize --analytic prints a schedule whose expected cost exceeds its KL', async () => {
  const res = await run(['schedule', 'optimize', '--analytic', '16', '--target', '20', '--json']);
  assert.equal(res.code, 0, res.err);
  const j = JSON.parse(res.out);
  assert.ok(j.steps > 3 && j.expected_bits > j.kl_bits);
});

test('usage errors exit 2 with a message; --help exits 0', async () => {
  assert.equal((await run(['schedule', 'optimize'])).code, 2);
  assert.equal((await run(['schedule', 'optimize', '--analytic', '1'])).code, 2);
  assert.equal((await run(['schedule', 'optimize', '--kl', '/nonexistent.json'])).code, 2);
  assert.equal((await run(['schedule', 'optimize', '--bogus'])).code, 2);
  assert.equal((await run(['nope'])).code, 2);
  const h = await run(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /schedule optimize/);
});

// ---- The cost model against the codec ------------------------------------------------------

/**
 * The reference PFR selection on 1-D chunks (a chunk's winner depends on d only through |d|):
 * mean index cost as the payload codes it once adapted (raw bits + bucket entropy) and the
 * winner's mean projection.
 */
function simulateChunk(D: number, k: number, s: number, trials: number) {
  const m = Math.sqrt(2 * D * Math.LN2), d = new Float32Array([m]);
  const counts = new Array<number>(k + 1).fill(0);
  let raw = 0, proj = 0;
  for (let t = 0; t < trials; t++) {
    const addr = { key: { seedLo: 0x5eed, seedHi: k }, step: t, chunk: Math.round(D * 64) };
    const { index } = selectChunkReference({ addr, d, k, ...(s < 1 ? { shape: targetShape(d, s) } : {}) });
    const b = 31 - Math.clz32(index + 1);
    counts[b]++;
    if (b < k) raw += b;
    proj += candidateGaussians(addr, index, 1)[0];
  }
  let H = 0;
  for (const c of counts) if (c > 0) H -= (c / trials) * Math.log2(c / trials);
  return { bits: raw / trials + H, proj: proj / trials };
}

test('expected index cost and sample shortfall match simulated PFR selections (reference backend)', () => {
  // k from the planner at B = 8, padding 1: over-padded, just padded, and capped (D near and above k) chunks.
  for (const s of [0.35, 1]) {
    for (const D of [0.5, 3, 6, 7.5, 12]) {
      const k = Math.min(8, Math.ceil(D + 1 + shapeExtraKlBits(s)));
      const sim = simulateChunk(D, k, s, 500);
      const model = chunkSelection(D, k, s);
      const bits = indexBitsFromBuckets(model.buckets);
      assert.ok(Math.abs(bits - sim.bits) < 0.3, `s=${s} D=${D} k=${k}: model ${bits.toFixed(2)} bits, simulated ${sim.bits.toFixed(2)}`);
      assert.ok(Math.abs(model.meanProjection - sim.proj) < 0.12, `s=${s} D=${D} k=${k}: model E[x*] ${model.meanProjection.toFixed(3)}, simulated ${sim.proj.toFixed(3)}`);
      assert.ok(Math.abs(expectedIndexBits(D, k, s) - bits) < 0.02, 'grid interpolation');
    }
  }
  // Far beyond k the winner is the best of 2^k: about k bits of index, all but ~E[max]^2/2 of the KL left over.
  assert.ok(Math.abs(expectedIndexBits(5000, 8, 0.35) - 8) < 0.1);
  assert.ok(expectedDeficitBits(5000, 8, 0.35) > 4990);
  assert.equal(expectedIndexBits(3, 0, 0.35), 0);
});

test('the cost model plans with planForKl and charges side information as the payload writer codes it', () => {
  const params = { maxChunkBits: 12, paddingQuarterBits: -2, chunkKlQuarterBits: 40, targetStdPercent: 50 };
  const full = CodingParams.parse(params);
  for (const kl of [0, 0.3, 9.99, 10, 57, 1234.5, 1e6]) {
    const c = stepCodingCost(kl, { params, dims: 5000 });
    assert.deepEqual(c.plan, planForKl(kl, 5000, full), `KL ${kl}`);
  }
  // The last step is not charged the KL its samples leave for a next step.
  const cost = codingCost({ params, dims: 5000 });
  assert.ok(cost(500, { from: 0, to: 1, last: false }) > cost(500, { from: 0, to: 1, last: true }));
  // sideInfoBitsAlong: exactly the payload's plan bits (coded minus protocol side information), step by step.
  const plans = [{ chunks: 3, k: 12 }, { chunks: 9, k: 12 }, { chunks: 9, k: 11 }, { chunks: 40, k: 12 }];
  const steps = plans.map((plan, j) => ({ plan, indices: Array.from({ length: plan.chunks }, (_, c) => (c * 7 + j) % 2 ** plan.k) }));
  const coded = assemblePayload(full, 5000, steps).bitsPerStep;
  const bare = assemblePayload({ ...full, sideInfo: 'protocol' }, 5000, steps, plans).bitsPerStep;
  const along = sideInfoBitsAlong(plans, full, 5000);
  along.forEach((b, j) => assert.ok(Math.abs(b - (coded[j] - bare[j])) < 1e-9, `step ${j}: ${b} vs ${coded[j] - bare[j]}`));
});
