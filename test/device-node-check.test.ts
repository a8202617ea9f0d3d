/**
 * The Node-level GPU check (scripts/device-node-check.ts), run from the sources so that it keeps
 * working between device runs: with the cpu backend in the cuda role it must pass every check and
 * print its JSON keys; on the real cuda backend it runs where a GPU is and otherwise must say
 * plainly that CUDA is unavailable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadAddon } from '../src/rcc-backends/index.js';

const run = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/device-node-check.ts', '--quick', ...args], {
  cwd: new URL('..', import.meta.url).pathname, maxBuffer: 1 << 24,
}).catch((e: { code: number; stdout: string; stderr: string }) => ({ stdout: e.stdout, stderr: `${e.stderr}\nexit ${e.code}` }));
const last = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as Record<string, unknown>;

const { addon, error } = loadAddon();
const skip = addon ? false : `native addon: ${error}`;

test('the device check passes with the cpu backend standing in for cuda, and reports the asked keys', { skip }, async () => {
  const { stdout, stderr } = await run(['--stand-in', 'cpu']);
  const r = last(stdout);
  assert.equal(r.ok, true, stderr);
  assert.equal(r.stand_in, 'cpu');
  assert.equal(r.identical_indices, true);
  assert.equal(r.dfc_identical, true);
  for (const k of ['uniform_cuda_samples_per_s', 'mix_cuda_samples_per_s', 'mix_cuda_uniform_fraction', 'uniform_cpu_samples_per_s', 'mix_cpu_samples_per_s']) {
    assert.ok(typeof r[k] === 'number' && (r[k] as number) > 0, `${k}: ${String(r[k])}`);
  }
});

const cuda = addon?.cudaInfo();
test('the device check on the cuda backend', { skip: skip || (cuda && !cuda.available ? `GPU tests skipped: cuda unavailable (${cuda.error})` : false) }, async () => {
  const { stdout, stderr } = await run([]);
  const r = last(stdout);
  assert.equal(r.ok, true, stderr);
  assert.equal(r.identical_indices, true);
  assert.equal(r.dfc_identical, true);
});

test('without a GPU the device check says so and skips, exit 0', { skip: skip || (cuda?.available ? 'a GPU is present' : false) }, async () => {
  const { stdout, stderr } = await run([]);
  const r = last(stdout);
  assert.equal(r.cuda, null);
  assert.equal(r.skipped, true);
  assert.match(stderr, /cuda unavailable: /);
  assert.doesNotMatch(stderr, /exit \d/);
});
