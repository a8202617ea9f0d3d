/**
 * The bulk planner without Temporal: model-free skip decisions (header or metadata), the
 * merge-join of source and output listings, paging, manifest lines; and the pieces it shares with
 * the workflows (output keys, workflow ids, child jobs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { writeDfc, readDfc, readDfcHeader, DfcError, type DfcHeader } from '../src/codec/format/index.js';
import { openStore, type ObjectStore } from '../src/storage/index.js';
import { BulkArchiveInput, ManifestLine, childJob, type BulkCursor, type Outcome, type PlannedItem } from '../src/orchestration/bulk-types.js';
import { CompressImageInput } from '../src/orchestration/types.js';
import { compressWorkflowId, outputKeyFor } from '../src/orchestration/output-key.js';
import { planPage } from '../activities/bulk-plan.js';
import { HEADER_PROBE_BYTES, judgeOutput, outputMetadata, promptDigest, readOutputFacts } from '../activities/existing-output.js';
import { ListingStore } from '../bench/listing-store.js';

const HASH = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const HASH_HEX = '0102030405060708';

function dfc(opts: { hash?: Uint8Array; seed?: number; width?: number; height?: number; steps?: number; payload?: number; id?: string; prompt?: string; conditioning?: DfcHeader['conditioning'] } = {}): Uint8Array {
  const header: DfcHeader = {
    version: 1, model: { id: opts.id ?? 'test-model', hash: opts.hash ?? HASH }, image: { width: opts.width ?? 64, height: opts.height ?? 48, channels: 3 },
    latent: { channels: 3, height: 12, width: 16 }, schedule: { id: 'sched', hash: new Uint8Array(4) }, seed: { lo: opts.seed ?? 0, hi: 0 },
    recon: { method: 'flow', steps: 0 }, coding: new Uint8Array(8), stepsCoded: opts.steps ?? 10,
    ...(opts.prompt !== undefined ? { prompt: opts.prompt } : {}), ...(opts.conditioning ? { conditioning: opts.conditioning } : {}),
  };
  return writeDfc({ header, payload: new Uint8Array(opts.payload ?? 100) });
}

async function tempStore(files: Record<string, Uint8Array | string>): Promise<{ store: ObjectStore; dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'diffc-plan-'));
  for (const [k, v] of Object.entries(files)) {
    await mkdir(dirname(join(dir, k)), { recursive: true });
    await writeFile(join(dir, k), v);
  }
  const store = openStore(`file://${dir}`);
  return { store, dir, done: () => rm(dir, { recursive: true, force: true }) };
}

async function planAll(store: ObjectStore, job: BulkArchiveInput, limit: number): Promise<{ run: PlannedItem[]; known: Outcome[]; pages: number }> {
  let cursor: BulkCursor | null = {};
  const run: PlannedItem[] = [], known: Outcome[] = [];
  let pages = 0;
  while (cursor !== null) {
    const p = await planPage(store, store, job, cursor, limit, HASH_HEX);
    run.push(...p.run);
    known.push(...p.known);
    cursor = p.next;
    pages++;
  }
  return { run, known, pages };
}

test('readDfcHeader: the header from the first bytes equals readDfc; a prefix ending inside it is truncated', () => {
  const bytes = dfc({ payload: 5000, seed: 7 });
  const full = readDfc(bytes).header;
  assert.deepEqual(readDfcHeader(bytes.subarray(0, HEADER_PROBE_BYTES)), full);
  assert.deepEqual(readDfcHeader(bytes), full);
  assert.throws(() => readDfcHeader(bytes.subarray(0, 20)), (e: unknown) => e instanceof DfcError && e.code === 'truncated');
  assert.throws(() => readDfcHeader(new TextEncoder().encode('not a dfc at all')), (e: unknown) => e instanceof DfcError && e.code === 'magic');
  // Longest ids still fit the probe.
  const long = dfc({ id: 'm'.repeat(255) });
  assert.equal(readDfcHeader(long.subarray(0, HEADER_PROBE_BYTES)).model.id.length, 255);
});

test('judgeOutput: keeps only a .dfc of this model, seed, size, rate and source version', () => {
  const job = { output: 'o.dfc', seed: 0, modelHash: HASH_HEX } as const;
  const facts = { bytes: 200, modelHash: HASH_HEX, seed: 0, width: 64, height: 48, steps: 10 };
  assert.ok('skipped' in judgeOutput(facts, job));
  assert.match((judgeOutput({ ...facts, modelHash: 'ffffffffffffffff' }, job) as { redo: string }).redo, /another model/);
  assert.match((judgeOutput(facts, { ...job, seed: 3 }) as { redo: string }).redo, /seed 0, not 3/);
  assert.match((judgeOutput(facts, job, { width: 10, height: 10 }) as { redo: string }).redo, /64x48/);
  assert.match((judgeOutput(facts, { ...job, bpp: 0.1 }) as { redo: string }).redo, /bpp/);
  assert.match((judgeOutput(facts, { ...job, steps: 4 }) as { redo: string }).redo, /10 steps/);
  const v = { etag: 'abc' };
  assert.match((judgeOutput(facts, { ...job, sourceVersion: v }) as { redo: string }).redo, /unrecorded/);
  assert.match((judgeOutput({ ...facts, source: { etag: 'old' } }, { ...job, sourceVersion: v }) as { redo: string }).redo, /another version/);
  assert.ok('skipped' in judgeOutput({ ...facts, source: { etag: '"abc"' } }, { ...job, sourceVersion: v }));
  assert.match((judgeOutput({ invalid: 'not a valid .dfc (x)' }, job) as { redo: string }).redo, /not a valid/);
});

test('judgeOutput with a quality target: kept only when made for the same target; steps and bpp cap it', () => {
  const job = { output: 'o.dfc', seed: 0, modelHash: HASH_HEX, targetQuality: { metric: 'ssimulacra2', value: 60 } } as const;
  const facts = { bytes: 200, modelHash: HASH_HEX, seed: 0, width: 64, height: 48, steps: 10 };
  assert.match((judgeOutput(facts, job) as { redo: string }).redo, /without a quality target, ssimulacra2=60/);
  const made = { ...facts, quality: { target: { metric: 'ssimulacra2', value: 60 }, reached: 61.5 } } as const;
  const kept = judgeOutput(made, job);
  assert.ok('skipped' in kept);
  assert.deepEqual(kept.skipped.target_quality, { metric: 'ssimulacra2', target: 60, reached: 61.5, target_met: true });
  assert.match((judgeOutput(made, { ...job, targetQuality: { metric: 'ssimulacra2', value: 70 } }) as { redo: string }).redo, /made for ssimulacra2=60, not ssimulacra2=70/);
  assert.match((judgeOutput(made, { ...job, targetQuality: { metric: 'psnr', value: 60 } }) as { redo: string }).redo, /not psnr=60/);
  assert.ok('skipped' in judgeOutput(made, { ...job, steps: 12 }), 'steps cap the chain: a 10-step prefix is within 12');
  assert.match((judgeOutput(made, { ...job, steps: 8 }) as { redo: string }).redo, /10 steps, not at most 8/);
  assert.match((judgeOutput(made, { ...job, bpp: 0.1 }) as { redo: string }).redo, /bpp/);
  // A job without a target keeps it by the usual rules, and still reports what it reached.
  const plain = judgeOutput(made, { output: 'o.dfc', seed: 0, modelHash: HASH_HEX });
  assert.ok('skipped' in plain && plain.skipped.target_quality?.reached === 61.5);
  // A butteraugli target is met at or below it.
  const ba = judgeOutput({ ...facts, quality: { target: { metric: 'butteraugli', value: 4 }, reached: 4.5 } }, { ...job, targetQuality: { metric: 'butteraugli', value: 4 } });
  assert.ok('skipped' in ba && ba.skipped.target_quality?.target_met === false);
});

test('a quality target travels in the output metadata and back', async () => {
  const header = readDfcHeader(dfc({}));
  const report = { metric: 'ms-ssim', target: 0.9, reached: 0.9134, target_met: true, steps_coded: 20, prefixes_decoded: 6 } as const;
  const m = outputMetadata(header, { etag: 'e' }, report);
  assert.equal(m['diffc-target-quality'], 'ms-ssim=0.9');
  assert.equal(m['diffc-quality-reached'], '0.9134');
  assert.equal(outputMetadata(header, undefined)['diffc-target-quality'], undefined);
  const store = openStore(`file://${await mkdtemp(join(tmpdir(), 'diffc-tqm-'))}`);
  await store.put('o.dfc', dfc({}), { metadata: m });
  const facts = await readOutputFacts(store, 'o.dfc');
  assert.deepEqual(facts && 'quality' in facts ? facts.quality : undefined, { target: { metric: 'ms-ssim', value: 0.9 }, reached: 0.9134 });
});

test('judgeOutput: the prompt must be the job\'s; guidance the job names must be the recorded one', () => {
  const job = { output: 'o.dfc', seed: 0, modelHash: HASH_HEX } as const;
  const facts = { bytes: 200, modelHash: HASH_HEX, seed: 0, width: 64, height: 48, steps: 10 };
  const cat = promptDigest('a cat');
  assert.match(cat, /^[0-9a-f]{32}$/);
  assert.equal(promptDigest(''), '');
  assert.ok('skipped' in judgeOutput({ ...facts, prompt: '' }, { ...job, prompt: '' }));
  assert.ok('skipped' in judgeOutput(facts, job), 'metadata from before prompts: a prompt-less job keeps it');
  assert.match((judgeOutput(facts, { ...job, prompt: 'a cat' }) as { redo: string }).redo, /another prompt/);
  assert.ok('skipped' in judgeOutput({ ...facts, prompt: cat }, { ...job, prompt: 'a cat' }));
  assert.match((judgeOutput({ ...facts, prompt: cat }, { ...job, prompt: 'a dog' }) as { redo: string }).redo, /another prompt/);
  assert.match((judgeOutput({ ...facts, prompt: cat }, job) as { redo: string }).redo, /coded with a prompt/);
  const conditioning = { guidance: 1, denoiseGuidance: Math.fround(7.3) };
  assert.ok('skipped' in judgeOutput({ ...facts, conditioning }, job), 'no guidance named: whatever the defaults gave');
  assert.ok('skipped' in judgeOutput({ ...facts, conditioning }, { ...job, guidance: 1, denoiseGuidance: 7.3 }), 'compared as float32');
  assert.match((judgeOutput({ ...facts, conditioning }, { ...job, denoiseGuidance: 5 }) as { redo: string }).redo, /denoiseGuidance 7\.3\d*, not 5/);
  assert.match((judgeOutput(facts, { ...job, guidance: 1 }) as { redo: string }).redo, /guidance not recorded/);
});

test('outputMetadata round-trips through readOutputFacts; without metadata the header is read', async () => {
  const bytes = dfc({ seed: 5, steps: 12 });
  const meta = outputMetadata(readDfc(bytes).header, { etag: 'e1', versionId: 'v1' });
  assert.equal(meta['diffc-model-hash'], HASH_HEX);
  const { store, done } = await tempStore({ 'a.dfc': bytes, 'junk.dfc': 'hello' });
  try {
    const { etag, ...facts } = (await readOutputFacts(store, 'a.dfc')) as Record<string, unknown>;
    assert.deepEqual(facts, { bytes: bytes.length, modelHash: HASH_HEX, seed: 5, width: 64, height: 48, steps: 12, prompt: '' });
    assert.equal(etag, (await store.head('a.dfc'))!.etag, 'the ETag the final put can be made conditional on');
    assert.equal(await readOutputFacts(store, 'missing.dfc'), null);
    assert.match((await readOutputFacts(store, 'junk.dfc') as { invalid: string }).invalid, /not a valid \.dfc/);
    // Prompt and guidance: from the metadata of our puts, and from the header without it (a
    // long coded prompt does not fit the first probe: the header is read again, longer).
    const conditioning = { guidance: Math.fround(3.3), denoiseGuidance: 2 ** -149 };
    const prompted = dfc({ prompt: Array.from({ length: 3000 }, (_, i) => String.fromCharCode(33 + ((i * 7919) % 94))).join(''), conditioning });
    assert.ok(prompted.length > 2 * HEADER_PROBE_BYTES, `${prompted.length} bytes`);
    await store.put('p.dfc', prompted, { metadata: outputMetadata(readDfc(prompted).header, undefined) });
    await store.put('q.dfc', prompted);
    for (const key of ['p.dfc', 'q.dfc']) {
      const f = (await readOutputFacts(store, key)) as Record<string, unknown>;
      assert.equal(f.prompt, promptDigest(readDfc(prompted).header.prompt), key);
      assert.deepEqual(f.conditioning, conditioning, key);
    }
  } finally {
    await done();
  }
});

test('outputKeyFor and compressWorkflowId: one key and one writer per output', () => {
  assert.equal(outputKeyFor('incoming/a/b.png', 'incoming/', 'dfc/'), 'dfc/a/b.png.dfc');
  assert.equal(outputKeyFor('other/b.png', 'incoming/', 'dfc/'), 'dfc/other/b.png.dfc');
  assert.equal(outputKeyFor('b.png', '', ''), 'b.png.dfc');
  const id = compressWorkflowId('s3://bucket', 'dfc/a.png.dfc');
  assert.equal(id, compressWorkflowId('s3://bucket/', 'dfc/a.png.dfc'));
  assert.notEqual(id, compressWorkflowId('s3://bucket', 'dfc/b.png.dfc'));
  assert.notEqual(compressWorkflowId('s3://a/b', 'c'), compressWorkflowId('s3://a', 'b/c'));
  assert.match(id, /^compress-[0-9a-f]{40}$/);
});

test('childJob is a valid compressImage job; a manifest rate replaces the job rate', () => {
  const job = BulkArchiveInput.parse({ store: 'file:///x', outputPrefix: 'dfc/', jobId: 'j', bpp: 0.1 });
  const item: PlannedItem = { workflowId: 'w', source: 'a.png', output: 'dfc/a.png.dfc', overrides: { steps: 4 } };
  const parsed = CompressImageInput.parse(childJob(job, item, HASH_HEX));
  assert.equal(parsed.steps, 4);
  assert.equal(parsed.bpp, undefined);
  assert.equal(parsed.modelHash, HASH_HEX);
  assert.equal(CompressImageInput.parse(childJob(job, { ...item, overrides: { seed: 9 } }, undefined)).bpp, 0.1);
  // A quality target is a rate: the job's goes to every child, with its bpp cap; a line's replaces both.
  const targeted = BulkArchiveInput.parse({ store: 'file:///x', outputPrefix: 'dfc/', jobId: 'j', bpp: 0.5, targetQuality: 'psnr=30' });
  const tc = CompressImageInput.parse(childJob(targeted, { ...item, overrides: undefined }, HASH_HEX));
  assert.deepEqual([tc.targetQuality, tc.bpp], [{ metric: 'psnr', value: 30 }, 0.5]);
  const line = ManifestLine.parse({ key: 'a.png', targetQuality: 'ssimulacra2=55' });
  const lc = CompressImageInput.parse(childJob(job, { ...item, overrides: { targetQuality: line.targetQuality } }, HASH_HEX));
  assert.deepEqual([lc.targetQuality, lc.bpp], [{ metric: 'ssimulacra2', value: 55 }, undefined]);
  assert.equal(CompressImageInput.parse(childJob(targeted, item, HASH_HEX)).targetQuality, undefined, 'a line with steps: fixed steps, no target');
  assert.equal(ManifestLine.safeParse({ key: 'a.png', targetQuality: 'lpips=0.1' }).success, false);
  // Prompt and guidance are encode settings: every child gets the job's.
  const guided = BulkArchiveInput.parse({ store: 'file:///x', outputPrefix: 'dfc/', jobId: 'j', prompt: 'a cat', guidance: 2, denoiseGuidance: 7.5 });
  const child = CompressImageInput.parse(childJob(guided, item, HASH_HEX));
  assert.deepEqual([child.prompt, child.guidance, child.denoiseGuidance], ['a cat', 2, 7.5]);
  const plain = CompressImageInput.parse(childJob(job, item, HASH_HEX));
  assert.deepEqual([plain.prompt, plain.guidance, plain.denoiseGuidance], [undefined, undefined, undefined]);
  assert.throws(() => CompressImageInput.parse({ store: 'file:///x', source: 'a.png', output: 'a.dfc', guidance: 101 }));
  assert.throws(() => CompressImageInput.parse({ store: 'file:///x', source: 'a.png', output: 'a.dfc', prompt: '灯'.repeat(1366) }), /4096 bytes/);
  assert.equal(CompressImageInput.parse({ store: 'file:///x', source: 'a.png', output: 'a.dfc', prompt: '灯'.repeat(1365) }).prompt?.length, 1365);
});

test('planPage (prefix): matching outputs are skipped, others run, non-images and own outputs ignored; pages add up', async () => {
  const files: Record<string, Uint8Array | string> = {
    'in/a.png': 'x', 'in/a-b.png': 'x', 'in/b.jpg': 'x', 'in/c.webp': 'x', 'in/notes.txt': 'x', 'in/sub/d.png': 'x',
    // a and a-b swap order once '.dfc' is appended ('.' > '-'): the merge-join must not care.
    'in/dfc/a.png.dfc': dfc(), 'in/dfc/a-b.png.dfc': dfc(),
    'in/dfc/b.jpg.dfc': dfc({ hash: new Uint8Array(8) }), // another model: redo
    'in/dfc/sub/d.png.dfc': dfc({ seed: 1 }), // another seed: redo
  };
  const { store, dir, done } = await tempStore(files);
  try {
    const job = BulkArchiveInput.parse({ store: `file://${dir}`, prefix: 'in/', outputPrefix: 'in/dfc/', jobId: 'j' });
    for (const limit of [1, 2, 500]) {
      const r = await planAll(store, job, limit);
      assert.deepEqual(r.known.map((o) => [o.source, o.status]).sort(), [['in/a-b.png', 'skipped'], ['in/a.png', 'skipped']]);
      assert.deepEqual(r.run.map((i) => i.source).sort(), ['in/b.jpg', 'in/c.webp', 'in/sub/d.png']);
      assert.deepEqual(r.run.map((i) => i.output).sort(), ['in/dfc/b.jpg.dfc', 'in/dfc/c.webp.dfc', 'in/dfc/sub/d.png.dfc']);
      for (const i of r.run) assert.equal(i.workflowId, compressWorkflowId(`file://${dir}`, i.output));
      // A local store's ETags are not source versions: none recorded.
      assert.ok(r.run.every((i) => i.sourceVersion === undefined));
      if (limit === 1) assert.ok(r.pages >= 5);
    }
  } finally {
    await done();
  }
});

test('planPage over a synthetic listing: every other object skipped with one HEAD each, none for the rest', async () => {
  const store = new ListingStore({ objects: 5000, doneEvery: 2, modelHash: HASH_HEX, seed: 0 });
  const job = BulkArchiveInput.parse({ store: store.url, prefix: 'photos/', outputPrefix: 'dfc/', jobId: 'j', bpp: 0.05 });
  const r = await planAll(store, job, 500);
  assert.equal(r.known.filter((o) => o.status === 'skipped').length, 2500);
  assert.equal(r.run.length, 2500);
  assert.equal(store.requests.head, 2500);
  // S3 listings carry the source's ETag: the child pins it and records it on the .dfc.
  assert.ok(r.run.every((i) => i.sourceVersion?.etag?.startsWith('e')));
  const other = new ListingStore({ objects: 100, doneEvery: 2, modelHash: 'ffffffffffffffff', seed: 0 });
  const r2 = await planAll(other, job, 500);
  assert.equal(r2.run.length, 100, 'outputs of another model are all redone');
});

test('planPage (manifest): pages by byte offset; bad lines are failed outcomes; existing matching outputs skipped', async () => {
  const lines = [
    JSON.stringify({ key: 'a.png' }),
    '',
    'not json',
    JSON.stringify({ key: 'b.png', steps: 3 }),
    JSON.stringify({ key: 'c.png', colour: 'blue' }),
    JSON.stringify({ key: 'd.png', seed: 1 }),
  ];
  const { store, dir, done } = await tempStore({ 'list.jsonl': `${lines.join('\n')}\n`, 'out/a.png.dfc': dfc(), 'out/d.png.dfc': dfc() });
  try {
    const job = BulkArchiveInput.parse({ store: `file://${dir}`, manifest: 'list.jsonl', outputPrefix: 'out/', jobId: 'j' });
    for (const limit of [1, 2, 100]) {
      const r = await planAll(store, job, limit);
      assert.deepEqual(r.run.map((i) => [i.source, i.overrides ?? {}]), [['b.png', { steps: 3 }], ['d.png', { seed: 1 }]], `limit ${limit}`);
      const failed = r.known.filter((o) => o.status === 'failed') as { source: string; error: string }[];
      assert.equal(failed.length, 2);
      assert.match(failed.find((o) => o.source === 'list.jsonl#line3')!.error, /line 3 is not JSON/);
      assert.match(failed.find((o) => o.source === 'c.png')!.error, /line 5/);
      assert.deepEqual(r.known.filter((o) => o.status === 'skipped').map((o) => o.source), ['a.png']);
    }
  } finally {
    await done();
  }
});
