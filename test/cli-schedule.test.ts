import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { optimizeSchedule, type KlMatrix } from '../src/codec/schedule/optimize.js';

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
