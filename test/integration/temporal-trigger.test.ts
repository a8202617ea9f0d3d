/**
 * Bucket triggers end to end: MinIO (private, started with a webhook target pointing at the
 * receiver) posts object-created events to `createTriggerService`, which starts compressImage on
 * a private Temporal dev server. Uploads start exactly one workflow per object version, also when
 * an event is delivered again; unauthenticated events start nothing; the sweep Schedule catches
 * an object whose event never arrived.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import type { Client } from '@temporalio/client';
import { needsAll, privateMinio, s3EnvOf, setEnv, privateTemporal, testQueues, type Minio, type Temporal } from '../helpers/dev-services.js';
import { testImage } from '../helpers/workflows.js';
import { encodeImage } from '../../src/image/io.js';
import { readDfc } from '../../src/codec/format/index.js';
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../../src/storage/index.js';
import { parseTemporalConfig, type TemporalConfig } from '../../src/orchestration/config.js';
import { createWorkers, type DiffcWorkers } from '../../src/orchestration/worker.js';
import { connectClient } from '../../src/orchestration/client.js';
import { createTriggerService, upsertSweepSchedule } from '../../src/orchestration/trigger-service.js';
import { parseTriggerConfig, triggerWorkflowId } from '../../src/trigger/index.js';

const { missing, opts } = await needsAll('temporal', 'minio');
const SECRET = 'trigger-test-secret-0123456789';

let temporal: Temporal | undefined;
let minio: Minio | undefined;
let client: Client | undefined;
let workers: DiffcWorkers | undefined;
let running: Promise<void> | undefined;
let receiver: Server | undefined;
let receiverUrl = '';
let cfg: TemporalConfig;
const starts: { key: string; workflowId: string; result: string }[] = [];
let restoreEnv: (() => void) | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  temporal = await privateTemporal();
  cfg = parseTemporalConfig({ address: temporal.address, queues: testQueues('trigger') });
  client = await connectClient(cfg);
  // The receiver first (on a port fixed now), so MinIO starts with its webhook pointing at it.
  const port = await freePort();
  receiverUrl = `http://127.0.0.1:${port}/events`;
  const tcfg = parseTriggerConfig({ port, host: '127.0.0.1', secret: SECRET, prefix: 'incoming/', outputPrefix: 'dfc/' });
  const service = createTriggerService(client, tcfg, cfg, { steps: 3, seed: 0, model: 'default' });
  // Record what the service decided for each delivered event (the HTTP answer is MinIO's to read).
  service.on('request', (req, res) => {
    if (req.url !== '/events') return;
    const chunks: Buffer[] = [];
    const write = res.write.bind(res), end = res.end.bind(res);
    res.write = ((c: Buffer | string, ...a: unknown[]) => { chunks.push(Buffer.from(c)); return (write as (...x: unknown[]) => boolean)(c, ...a); }) as typeof res.write;
    res.end = ((c?: Buffer | string, ...a: unknown[]) => {
      if (c && typeof c !== 'function') chunks.push(Buffer.from(c));
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { started?: { key: string; workflowId: string }[]; duplicates?: { key: string; workflowId: string }[] };
        for (const s of body.started ?? []) starts.push({ ...s, result: 'started' });
        for (const s of body.duplicates ?? []) starts.push({ ...s, result: 'duplicate' });
      } catch { /* 401 and friends */ }
      return (end as (...x: unknown[]) => typeof res)(c, ...a);
    }) as typeof res.end;
  });
  receiver = service;
  await new Promise<void>((r) => service.listen(port, '127.0.0.1', r));
  minio = await privateMinio({ DIFFC_TRIGGER_URL: receiverUrl, DIFFC_TRIGGER_SECRET: SECRET });
  restoreEnv = setEnv(s3EnvOf(minio));
  workers = await createWorkers(cfg);
  // A worker that stops polling would only show as a hang: fail loudly instead.
  running = workers.run().catch((e: unknown) => {
    console.error('diffc workers stopped with an error:', e);
    throw e;
  });
});

after(async () => {
  workers?.shutdown();
  await running;
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
  await client?.connection.close();
  await Promise.all([temporal?.stop(), minio?.stop()]);
  restoreEnv?.();
});

const store = (): ObjectStore => openStore(`s3://${minio!.env.S3_BUCKET}`, { s3: s3ConfigFromEnv() });

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('an upload to the watched prefix starts one compressImage; the .dfc appears; outputs and other prefixes do not trigger', opts, async () => {
  const s = store();
  const png = await encodeImage(testImage(32, 24, 5), 'png');
  const { etag } = await s.put('incoming/cat one.png', png);
  await s.put('elsewhere/dog.png', png);
  const id = triggerWorkflowId({ bucket: minio!.env.S3_BUCKET, key: 'incoming/cat one.png', etag: etag?.replace(/"/g, '') });
  const r = await waitFor('the workflow the upload started', async () => client!.workflow.getHandle(id).result());
  assert.equal(r.output, 'dfc/incoming/cat one.png.dfc');
  const dfc = await s.get('dfc/incoming/cat one.png.dfc');
  assert.equal(readDfc(dfc).header.stepsCoded, 3);
  assert.equal(dfc.length, r.bytes);
  // Give MinIO a moment to deliver anything else it would (the .dfc's own event, the other prefix).
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(starts.filter((x) => x.result === 'started').map((x) => x.key), ['incoming/cat one.png'], 'one start, for the watched upload only');
  s.close();
});

test('a redelivered event starts nothing new; a new version of the object does; an unauthenticated event is rejected', opts, async () => {
  const s = store();
  const png = await encodeImage(testImage(32, 24, 6), 'png');
  const { etag } = await s.put('incoming/twice.png', png);
  const tag = etag!.replace(/"/g, '');
  await waitFor('the first start', async () => starts.find((x) => x.key === 'incoming/twice.png'));
  // Deliver the same event again, as a retrying sender would.
  const event = { EventName: 's3:ObjectCreated:Put', Key: `${minio!.env.S3_BUCKET}/incoming/twice.png`, Records: [{
    eventVersion: '2.0', eventSource: 'minio:s3', eventName: 's3:ObjectCreated:Put',
    s3: { bucket: { name: minio!.env.S3_BUCKET }, object: { key: 'incoming/twice.png', size: png.length, eTag: tag } },
  }] };
  const post = (headers: Record<string, string>) => fetch(receiverUrl, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(event) });
  const again = await post({ Authorization: `Bearer ${SECRET}` });
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as { duplicates: unknown[] }).duplicates.length, 1);
  const unauth = await post({ Authorization: 'Bearer wrong-secret-wrong-secret' });
  assert.equal(unauth.status, 401);
  assert.equal((await post({})).status, 401);
  const id = triggerWorkflowId({ bucket: minio!.env.S3_BUCKET, key: 'incoming/twice.png', etag: tag });
  await client!.workflow.getHandle(id).result();
  const first = await s.get('dfc/incoming/twice.png.dfc');
  // New bytes: a new ETag, so a new version, so a new workflow, which redoes the .dfc.
  const png2 = await encodeImage(testImage(32, 24, 7), 'png');
  const v2 = await s.put('incoming/twice.png', png2);
  const id2 = triggerWorkflowId({ bucket: minio!.env.S3_BUCKET, key: 'incoming/twice.png', etag: v2.etag!.replace(/"/g, '') });
  const r2 = await waitFor('the second version\'s workflow', async () => client!.workflow.getHandle(id2).result());
  assert.notEqual(r2.skipped, true, 'a new version is compressed again, not skipped');
  assert.ok(!Buffer.from(await s.get('dfc/incoming/twice.png.dfc')).equals(Buffer.from(first)), 'the .dfc is the new version\'s');
  const forKey = starts.filter((x) => x.key === 'incoming/twice.png');
  assert.equal(forKey.filter((x) => x.result === 'started').length, 2, 'one start per version');
  assert.equal(new Set(forKey.map((x) => x.workflowId)).size, 2, 'two versions, two workflow ids; the redelivery reused the first');
  s.close();
});

test('the sweep Schedule compresses an object whose event never arrived', opts, async () => {
  const s = store();
  // An object outside the watched prefix stands for one whose event was lost.
  await s.put('missed/lost.png', await encodeImage(testImage(24, 16, 8), 'png'));
  const h = await upsertSweepSchedule(client!, cfg, {
    store: `s3://${minio!.env.S3_BUCKET}`, prefix: 'missed/', outputPrefix: 'dfc/missed/', every: '1 hour',
    defaults: { steps: 3, seed: 0, model: 'default' }, scheduleId: `sweep-test-${process.pid}`,
  });
  await h.trigger();
  const dfc = await waitFor('the swept .dfc', async () => ((await s.head('dfc/missed/lost.png.dfc')) ? s.get('dfc/missed/lost.png.dfc') : undefined));
  assert.equal(readDfc(dfc).header.stepsCoded, 3);
  const desc = await h.describe();
  assert.equal(desc.spec.intervals?.[0]?.every, 3_600_000);
  // Upserting again updates the same schedule rather than failing or duplicating it.
  await upsertSweepSchedule(client!, cfg, {
    store: `s3://${minio!.env.S3_BUCKET}`, prefix: 'missed/', outputPrefix: 'dfc/missed/', every: '30 minutes',
    defaults: { steps: 3, seed: 0, model: 'default' }, scheduleId: `sweep-test-${process.pid}`,
  });
  assert.equal((await h.describe()).spec.intervals?.[0]?.every, 1_800_000);
  await h.delete();
  s.close();
});
