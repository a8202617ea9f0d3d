/**
 * Patches earn their keep: a history recorded on the code before an incompatible change (here
 * decompress-image.pb, one decodeToImage activity) must fail to replay on the changed code
 * without the patch, and replay on the shipped, patched code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { WORKFLOWS_PATH } from '../src/orchestration/worker.js';

const { temporal } = proto;
const history = async (name: string) => temporal.api.history.v1.History.decode(await readFile(fileURLToPath(new URL(`histories/${name}.pb`, import.meta.url))));
const UNPATCHED = fileURLToPath(new URL('fixtures/workflows/unpatched-decode.ts', import.meta.url));

test('the ranged decode without its patch breaks a run recorded before it', async () => {
  await assert.rejects(
    Worker.runReplayHistory({ workflowsPath: UNPATCHED }, await history('decompress-image'), 'unpatched'),
    (e: unknown) => {
      assert.ok(e instanceof DeterminismViolationError, `a determinism violation, got ${String(e)}`);
      return true;
    },
  );
});

test('with the patch, the same history replays on the shipped workflows', async () => {
  await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, await history('decompress-image'), 'patched');
});
