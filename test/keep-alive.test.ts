/** keepAlive: timer heartbeats between units of work, at a quarter of the heartbeat timeout. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '@temporalio/activity';
import { keepAlive } from '../activities/keep-alive.js';

const fakeCtx = (heartbeatTimeoutMs: number | undefined, beats: unknown[]) =>
  ({ info: { heartbeatTimeoutMs }, heartbeat: (d: unknown) => beats.push(d) }) as unknown as Context;

test('beats the latest details every quarter of the timeout (at least 1 s) until stopped', async () => {
  const beats: unknown[] = [];
  let step = 3;
  const ka = keepAlive(fakeCtx(4_000, beats), () => ({ step }));
  await new Promise((r) => setTimeout(r, 1_150));
  step = 4;
  await new Promise((r) => setTimeout(r, 1_000));
  ka.stop();
  const n = beats.length;
  await new Promise((r) => setTimeout(r, 1_100));
  assert.deepEqual(beats.slice(0, 2), [{ step: 3 }, { step: 4 }]);
  assert.equal(beats.length, n, 'no beat after stop');
});

test('no heartbeat timeout: nothing to keep alive', async () => {
  const beats: unknown[] = [];
  const ka = keepAlive(fakeCtx(undefined, beats), () => 1);
  await new Promise((r) => setTimeout(r, 1_100));
  ka.stop();
  assert.equal(beats.length, 0);
});

test('measures how long the event loop kept the timer from firing', async () => {
  const beats: unknown[] = [];
  const ka = keepAlive(fakeCtx(4_000, beats), () => 0);
  await new Promise((r) => setTimeout(r, 1_050));
  const end = Date.now() + 1_600;
  while (Date.now() < end) { /* a synchronous stretch, as a TS-backend RCC step is */ }
  await new Promise((r) => setTimeout(r, 50));
  ka.stop();
  assert.ok(ka.stallSeconds() >= 0.5 && ka.stallSeconds() < 3, `stall ${ka.stallSeconds()} s`);
});
