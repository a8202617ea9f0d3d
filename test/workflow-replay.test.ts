/**
 * Workflow determinism in every CI run, no server needed: histories recorded from real runs on
 * the Temporal dev server (test/histories/*.pb, written by the integration tests with
 * DIFFC_RECORD_HISTORIES set, on the deployed commit) must replay against the current workflow
 * code. A change that would break running workflows fails here: it needs patched(), not a new
 * recording (docs/dev-services.md, "Recorded workflow histories").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { WORKFLOWS_PATH } from '../src/orchestration/worker.js';

const DIR = fileURLToPath(new URL('histories', import.meta.url));
const files = (await readdir(DIR).catch(() => [] as string[])).filter((f) => f.endsWith('.pb')).sort();

/**
 * The happy paths, and the failure paths recorded by test/integration/temporal-failure-histories.test.ts
 * (a drain hand-off, a cancel, a permanent failure, a bulk job with a failed child, both runs of a
 * bulk job that continued as new with a child in flight): a change to any of those branches must
 * still replay the runs that took them.
 */
const REQUIRED = [
  'compress-image', 'compress-image-s3', 'compress-image-signalled', 'decompress-image', 'bulk-archive-run1',
  'compress-image-drained', 'compress-image-cancelled', 'compress-image-failed', 'compress-image-child-failed',
  'bulk-archive-child-failed', 'bulk-archive-continued-run1', 'bulk-archive-continued-run2',
];

test('recorded histories exist for every workflow type', () => {
  const names = files.map((f) => f.replace(/\.pb$/, ''));
  for (const want of REQUIRED) assert.ok(names.includes(want), `missing test/histories/${want}.pb`);
});

for (const f of files) {
  test(`history ${f} replays deterministically`, async () => {
    const history = temporal.api.history.v1.History.decode(await readFile(join(DIR, f)));
    assert.ok((history.events?.length ?? 0) > 5, 'a real history, not an empty one');
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, `replay-${f}`);
  });
}
