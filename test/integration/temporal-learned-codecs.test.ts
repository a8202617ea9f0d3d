/**
 * The learned-entropy families through compressImage / decompressImage on the real Temporal dev
 * server (a private one) with a file:// store:
 *   - cod (conditional DiffC): the coded condition is made once in encodeLatent and carried by
 *     the job info, every step range decodes it and runs the chain on it;
 *   - stablecodec (one step): the whole code is made in encodeLatent, no encodeSteps runs, and a
 *     damaged condition fails the decode at once (a permanent EntropyError, not retried).
 * Each .dfc is byte-identical to `diffc compress` with the same bundle; decompressImage equals
 * `diffc decompress`. Skips when the temporal binary is not built; fails instead with
 * DIFFC_REQUIRE_SERVICES=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';
import { testImage } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { readDfc, writeDfc } from '../../src/codec/format/index.js';
import { createWorkers, WORKFLOWS_PATH } from '../../src/orchestration/worker.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { startCompressImage, startDecompressImage } from '../../src/orchestration/client.js';

const { missing, opts } = await needs('temporal');
const COD = fileURLToPath(new URL('../../models/test/cod/', import.meta.url));
const SC = fileURLToPath(new URL('../../models/test/stablecodec/', import.meta.url));

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
temporalSuite({ missing, opts }, 'diffc-wf-cod-', (t) => ({ dir, server, client } = t));

const quiet = () => {};

test('compressImage with a cod model: the coded condition crosses activities; byte-identical to diffc compress; decompressImage equals diffc decompress', opts, async () => {
  const storeDir = join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  const input = join(storeDir, 'in.png');
  await saveImage(testImage(64, 48, 9), input);
  const store = pathToFileURL(storeDir).href;
  const c = parseTemporalConfig({ address: server!.address, queues: testQueues('cod') });
  const w = await createWorkers(c);
  const wf = await w.runUntil(async () => {
    const h = await startCompressImage(client!, {
      store, source: 'in.png', output: 'out/in.dfc', model: COD, seed: 4, steps: 4, stepsPerActivity: 1, checkpointEvery: 1,
    }, { queues: c.queues, workflowId: `cod-${process.pid}` });
    const result = await h.result();
    const history = await h.fetchHistory();
    const dec = await (await startDecompressImage(client!, { store, source: 'out/in.dfc', output: 'out/in.png', model: COD }, { queues: c.queues, workflowId: `cod-d-${process.pid}` })).result();
    return { result, history, id: h.workflowId, dec };
  });
  const cli = join(dir, 'cli.dfc'), cliPng = join(dir, 'cli.png');
  assert.equal(await main(['compress', input, '-o', cli, '--model', COD, '--seed', '4', '--steps', '4', '-q'], quiet, quiet), 0);
  const got = await readFile(join(storeDir, 'out', 'in.dfc'));
  assert.equal(wf.result.steps, 4);
  assert.ok(got.equals(await readFile(cli)), `workflow .dfc (${got.length} bytes) == diffc compress --model cod`);
  assert.ok(readDfc(got).header.condition!.length > 0);
  const ranges = (wf.history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeSteps').length;
  assert.ok(ranges >= 4, `${ranges} encodeSteps activities: each decoded the condition again`);
  assert.equal(await main(['decompress', cli, '-o', cliPng, '--model', COD, '-q'], quiet, quiet), 0);
  assert.ok((await readFile(join(storeDir, 'out', 'in.png'))).equals(await readFile(cliPng)), 'decompressImage == diffc decompress');
  assert.equal(wf.dec.steps, 4);
  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, wf.history, wf.id);
});

test('compressImage with a stablecodec model: no step activities; byte-identical to diffc compress; decompressImage equals diffc decompress; a damaged condition fails once', opts, async () => {
  const storeDir = join(dir, 'store-sc');
  await mkdir(storeDir, { recursive: true });
  const input = join(storeDir, 'in.png');
  await saveImage(testImage(300, 200, 6), input);
  const store = pathToFileURL(storeDir).href;
  const cli = join(dir, 'sc.dfc'), cliPng = join(dir, 'sc.png');
  assert.equal(await main(['compress', input, '-o', cli, '--model', SC, '-q'], quiet, quiet), 0);
  const f = readDfc(await readFile(cli));
  const cut = f.header.condition!.subarray(0, f.header.condition!.length - 2);
  await writeFile(join(storeDir, 'bad.dfc'), writeDfc({ header: { ...f.header, condition: cut }, payload: f.payload }));
  const c = parseTemporalConfig({ address: server!.address, queues: testQueues('sc') });
  const w = await createWorkers(c);
  const wf = await w.runUntil(async () => {
    const h = await startCompressImage(client!, { store, source: 'in.png', output: 'out/in.dfc', model: SC }, { queues: c.queues, workflowId: `sc-${process.pid}` });
    const result = await h.result();
    const history = await h.fetchHistory();
    const dec = await (await startDecompressImage(client!, { store, source: 'out/in.dfc', output: 'out/in.png', model: SC }, { queues: c.queues, workflowId: `sc-d-${process.pid}` })).result();
    const bad = await startDecompressImage(client!, { store, source: 'bad.dfc', output: 'out/bad.png', model: SC }, { queues: c.queues, workflowId: `sc-bad-${process.pid}` });
    const failure = await bad.result().then(() => undefined, (e: unknown) => e);
    const badHistory = await bad.fetchHistory();
    return { result, history, id: h.workflowId, dec, failure, badHistory };
  });
  const got = await readFile(join(storeDir, 'out', 'in.dfc'));
  assert.equal(wf.result.steps, 0);
  assert.ok(got.equals(await readFile(cli)), `workflow .dfc (${got.length} bytes) == diffc compress --model stablecodec`);
  const scheduled = (h: typeof wf.history, name: string) => (h.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  assert.equal(scheduled(wf.history, 'encodeSteps'), 0, 'no chain steps to code');
  assert.equal(await main(['decompress', cli, '-o', cliPng, '--model', SC, '-q'], quiet, quiet), 0);
  assert.ok((await readFile(join(storeDir, 'out', 'in.png'))).equals(await readFile(cliPng)), 'decompressImage == diffc decompress');
  assert.equal(wf.dec.steps, 0);
  assert.match(String((wf.failure as { cause?: { cause?: Error } })?.cause?.cause?.message ?? wf.failure), /coded condition \(\.dfc field 17\) does not decode/);
  const attempts = (wf.badHistory.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  assert.deepEqual(attempts.filter((a) => a > 1), [], 'the EntropyError is permanent: no retries');
  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, wf.history, wf.id);
});
