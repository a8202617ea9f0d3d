/**
 * Prompt and guidance through compressImage / decompressImage on the real Temporal dev server
 * (a private one) with a file:// store and the sd15 test bundle: the workflow's .dfc is
 * byte-identical to `diffc compress --prompt --guidance --denoise-guidance` (the chain across
 * activity boundaries and checkpoints runs with the job's guidance, the header records it), a
 * rerun with the same settings skips, one with another denoise guidance is redone, and
 * decompressImage (with and without a denoise-guidance override) equals `diffc decompress`.
 * Skips when the temporal binary is not built; fails instead with DIFFC_REQUIRE_SERVICES=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';
import { testImage } from '../helpers/workflows.js';
import { saveImage } from '../../src/image/io.js';
import { main } from '../../src/cli/main.js';
import { readDfc } from '../../src/codec/format/index.js';
import { createWorkers, WORKFLOWS_PATH } from '../../src/orchestration/worker.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { startCompressImage, startDecompressImage } from '../../src/orchestration/client.js';

const { missing, opts } = await needs('temporal');
const SD15 = fileURLToPath(new URL('../../models/test/sd15/', import.meta.url));

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
temporalSuite({ missing, opts }, 'diffc-wf-guidance-', (t) => ({ dir, server, client } = t));

const quiet = () => {};

test('compressImage with prompt and guidance: byte-identical to diffc compress; reruns judge the settings; decompressImage equals diffc decompress', opts, async () => {
  const storeDir = join(dir, 'store');
  await mkdir(storeDir, { recursive: true });
  const input = join(storeDir, 'in.png');
  await saveImage(testImage(70, 50), input);
  const store = pathToFileURL(storeDir).href;
  const out = join(storeDir, 'out', 'in.dfc');
  const c = parseTemporalConfig({ address: server!.address, queues: testQueues('guidance') });
  const prompt = 'a photo of a cat';
  const w = await createWorkers(c);
  const wf = await w.runUntil(async () => {
    const compress = async (id: string, denoiseGuidance: number) => (await startCompressImage(client!, {
      store, source: 'in.png', output: 'out/in.dfc', model: SD15, prompt, guidance: 2, denoiseGuidance, seed: 3, steps: 4,
      stepsPerActivity: 1, checkpointEvery: 1,
    }, { queues: c.queues, workflowId: `${id}-${process.pid}` })).result();
    const decompress = async (id: string, output: string, denoiseGuidance?: number) => (await startDecompressImage(client!, {
      store, source: 'out/in.dfc', output, model: SD15, denoiseGuidance,
    }, { queues: c.queues, workflowId: `${id}-${process.pid}` })).result();
    const h = await startCompressImage(client!, {
      store, source: 'in.png', output: 'out/in.dfc', model: SD15, prompt, guidance: 2, denoiseGuidance: 7, seed: 3, steps: 4,
      stepsPerActivity: 1, checkpointEvery: 1,
    }, { queues: c.queues, workflowId: `g-${process.pid}` });
    const result = await h.result();
    const history = await h.fetchHistory();
    const firstBytes = await readFile(out);
    const again = await compress('g-again', 7);
    const dec = await decompress('gd', 'out/in.png');
    const dec3 = await decompress('gd3', 'out/in-3.png', 3);
    const redo = await compress('g-redo', 3);
    return { result, history, id: h.workflowId, firstBytes, again, dec, dec3, redo };
  });

  const flags = (denoise: string) => ['--model', SD15, '--prompt', prompt, '--guidance', '2', '--denoise-guidance', denoise, '--seed', '3', '--steps', '4', '-q'];
  const cli7 = join(dir, 'cli-7.dfc'), cli3 = join(dir, 'cli-3.dfc');
  assert.equal(await main(['compress', input, '-o', cli7, ...flags('7')], quiet, quiet), 0);
  assert.equal(await main(['compress', input, '-o', cli3, ...flags('3')], quiet, quiet), 0);
  assert.equal(wf.result.steps, 4);
  assert.ok(wf.firstBytes.equals(await readFile(cli7)), `workflow .dfc (${wf.firstBytes.length} bytes) == diffc compress (guidance 2, denoise 7, prompt)`);
  const h7 = readDfc(wf.firstBytes).header;
  assert.deepEqual([h7.prompt, h7.conditioning], [prompt, { guidance: 2, denoiseGuidance: 7 }]);
  // Reruns: the same settings keep the output; another denoise guidance redoes it.
  assert.equal(wf.again.skipped, true);
  assert.ok(!wf.redo.skipped && !wf.redo.superseded, JSON.stringify(wf.redo));
  assert.ok((await readFile(out)).equals(await readFile(cli3)), 'redone workflow .dfc == diffc compress --denoise-guidance 3');
  assert.deepEqual(readDfc(await readFile(out)).payload, readDfc(wf.firstBytes).payload, 'only the final denoise differs: same chain');

  // decompressImage of the first output = diffc decompress, with and without the override.
  const png7 = join(dir, 'cli-7.png'), png3 = join(dir, 'cli-7-as-3.png');
  assert.equal(await main(['decompress', cli7, '-o', png7, '--model', SD15, '-q'], quiet, quiet), 0);
  assert.equal(await main(['decompress', cli7, '-o', png3, '--model', SD15, '--denoise-guidance', '3', '-q'], quiet, quiet), 0);
  assert.ok((await readFile(join(storeDir, 'out', 'in.png'))).equals(await readFile(png7)), 'decompressImage == diffc decompress');
  assert.ok((await readFile(join(storeDir, 'out', 'in-3.png'))).equals(await readFile(png3)), 'decompressImage denoiseGuidance 3 == diffc decompress --denoise-guidance 3');
  assert.ok(!(await readFile(png7)).equals(await readFile(png3)));
  assert.equal(wf.dec.steps, 4);
  assert.equal(wf.dec3.steps, 4);

  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, wf.history, wf.id);
});
