/**
 * `diffc worker --exit-when-idle S` (the gpu ScaledJob's workers end themselves when idle) on the
 * real Temporal dev server: a worker process with no work exits 0 by itself.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { needs, privateTemporal, testQueues, type Temporal } from '../helpers/dev-services.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { connectClient } from '../../src/orchestration/client.js';

const DIFFC = fileURLToPath(new URL('../../bin/diffc.js', import.meta.url));
const { missing, opts } = await needs('temporal');
let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  dir = await mkdtemp(join(tmpdir(), 'diffc-idle-'));
  server = await privateTemporal();
  client = await connectClient(parseTemporalConfig({ address: server.address }));
});

after(async () => {
  await client?.connection.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

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
