/**
 * whenIdle (diffc worker --exit-when-idle): a running activity never counts as idle time, however
 * long it runs past the idle period; the period counts from the last activity's end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whenIdle } from '../src/orchestration/worker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an activity running past the idle period keeps the worker; idleness counts from its end', async () => {
  let inFlight = 1;
  let lastActiveAt = Date.now() - 10_000; // the last *end* was long ago: only the running activity holds the worker
  let idleAt = 0;
  const stop = whenIdle({ activity: { inFlight: () => inFlight, lastActiveAt: () => lastActiveAt } }, 0.3, () => (idleAt = Date.now()));
  try {
    await sleep(900);
    assert.equal(idleAt, 0, 'no exit while an activity runs, three idle periods long');
    inFlight = 0;
    lastActiveAt = Date.now();
    const ended = lastActiveAt;
    await sleep(150);
    assert.equal(idleAt, 0, 'not idle before the period since the end has passed');
    await sleep(600);
    assert.ok(idleAt - ended >= 300, `idle ${idleAt - ended} ms after the activity ended`);
  } finally {
    stop();
  }
});

test('the stop function cancels the watch', async () => {
  let fired = false;
  const stop = whenIdle({ activity: { inFlight: () => 0, lastActiveAt: () => 0 } }, 0.1, () => (fired = true));
  stop();
  await sleep(300);
  assert.equal(fired, false);
});
