/**
 * `diffc worker --exit-when-idle S` (the gpu ScaledJob's workers end themselves when idle) on the
 * real Temporal dev server: a worker process with no work exits 0 by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';

const DIFFC = fileURLToPath(new URL('../../bin/diffc.js', import.meta.url));
const { missing, opts } = await needs('temporal');
let server: Temporal | undefined;
temporalSuite({ missing, opts }, 'diffc-idle-', (t) => ({ server } = t));

test('diffc worker --exit-when-idle: a gpu worker process with no work exits 0 by itself', opts, async () => {
  const q = testQueues('idle');
  const w = spawn(process.execPath, [DIFFC, 'worker', '--queues', 'gpu', '--exit-when-idle', '2', '--health-port=-1'], {
    env: { ...process.env, TEMPORAL_ADDRESS: server!.address, DIFFC_QUEUE_IO: q.io, DIFFC_QUEUE_GPU: q.gpu }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  w.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const code = await new Promise<number | null>((r) => w.once('exit', r));
  assert.equal(code, 0, log);
  const lines = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
  const order = lines.map((l) => l.msg).filter((m) => ['worker-ready', 'idle-exit', 'worker-stopped'].includes(m));
  assert.deepEqual(order, ['worker-ready', 'idle-exit', 'worker-stopped']);
});
