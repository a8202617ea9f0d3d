/**
 * `diffc trigger sqs` end to end on real services: ElasticMQ (SQS API, queues with a redrive
 * policy from its config file), a private Temporal dev server, MinIO, and in-process workers. The
 * objects are real uploads to MinIO; their event notifications are sent to the queue in the shapes
 * S3 delivers them (bare, SNS-wrapped, EventBridge). Checked: duplicates reach one workflow per
 * output and cost one encode; poison ends in the DLQ (sent at once with its reason, or moved by the
 * redrive policy) with nothing started; a failed start is redelivered; a consumer process killed
 * with SIGKILL mid-batch loses nothing once another consumer runs, which then exits 0 on SIGTERM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Client } from '@temporalio/client';
import { needsAll, privateMinio, privateTemporal, s3EnvOf, setEnv, testQueues, type Minio, type Temporal } from '../helpers/dev-services.js';
import { needsElasticmq, privateElasticmq, SQS_TEST_ENV, type Elasticmq } from '../helpers/elasticmq.js';
import { runWorkers, testImage } from '../helpers/workflows.js';
import { encodeImage } from '../../src/image/io.js';
import { readDfc } from '../../src/codec/format/index.js';
import { openStore, s3ConfigFromEnv, type ObjectStore } from '../../src/storage/index.js';
import { parseTemporalConfig, type TemporalConfig } from '../../src/orchestration/config.js';
import { connectClient } from '../../src/orchestration/client.js';
import { compressWorkflowId } from '../../src/orchestration/output-key.js';
import { jobForEvent, startCompressForEvent } from '../../src/orchestration/trigger-service.js';
import { filterFromConfig } from '../../src/trigger/index.js';
import { parseSqsConfig, type SqsConfigInput } from '../../src/trigger/sqs-config.js';
import { createSqsTrigger, sqsClientFor } from '../../src/trigger/sqs-service.js';
import { POISON_ATTRIBUTES, SqsConsumer } from '../../src/trigger/sqs.js';

const services = await needsAll('temporal', 'minio');
const emq = await needsElasticmq();
const missing = services.missing ?? emq.missing;
const opts = services.missing ? services.opts : emq.opts;
const BUCKET = 'diffc-sqs-test';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULTS = { steps: 3, seed: 0, model: 'default' };

let temporal: Temporal | undefined;
let minio: Minio | undefined;
let mq: Elasticmq | undefined;
let client: Client | undefined;
let cfg: TemporalConfig;
let workers: { stop(): Promise<void> } | undefined;
let restoreEnv: (() => void) | undefined;

before(async () => {
  if (missing) {
    if (opts.skip) return;
    throw new Error(missing);
  }
  // Each test has queues of its own; the DLQs are ElasticMQ's form of a RedrivePolicy.
  [temporal, minio, mq] = await Promise.all([
    privateTemporal(),
    privateMinio({ DIFFC_S3_BUCKET: BUCKET }),
    privateElasticmq([
      { name: 'dup', deadLetters: { name: 'dup-dlq', maxReceiveCount: 5 } }, { name: 'dup-dlq' },
      { name: 'poison', deadLetters: { name: 'poison-dlq', maxReceiveCount: 5 } }, { name: 'poison-dlq' },
      { name: 'redrive', deadLetters: { name: 'redrive-dlq', maxReceiveCount: 2 } }, { name: 'redrive-dlq' },
      { name: 'kill', deadLetters: { name: 'kill-dlq', maxReceiveCount: 5 } }, { name: 'kill-dlq' },
      { name: 'drain', deadLetters: { name: 'drain-dlq', maxReceiveCount: 5 } }, { name: 'drain-dlq' },
    ]),
  ]);
  restoreEnv = setEnv({ ...s3EnvOf(minio), ...SQS_TEST_ENV });
  cfg = parseTemporalConfig({ address: temporal.address, queues: testQueues('sqs') });
  client = await connectClient(cfg);
  workers = await runWorkers(cfg);
});

after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await Promise.all([temporal?.stop(), minio?.stop(), mq?.stop()]);
  restoreEnv?.();
});

const store = (): ObjectStore => openStore(`s3://${BUCKET}`, { s3: s3ConfigFromEnv() });
const idOf = (output: string) => compressWorkflowId(`s3://${BUCKET}`, output);

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Uploads a small PNG under incoming/; its ETag is the version the events name. */
async function upload(s: ObjectStore, name: string, salt: number): Promise<string> {
  const { etag } = await s.put(`incoming/${name}`, await encodeImage(testImage(24, 16, salt), 'png'));
  return etag!.replace(/"/g, '');
}

/** The notification S3 sends (keys URL-encoded, as on the wire). */
const s3Record = (key: string, etag: string, bucket = BUCKET) => ({
  eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', eventTime: new Date().toISOString(),
  s3: { s3SchemaVersion: '1.0', bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), size: 100, eTag: etag, sequencer: '0065F00D' } },
});
const s3Body = (...records: ReturnType<typeof s3Record>[]) => JSON.stringify({ Records: records });
const snsBody = (inner: string) => JSON.stringify({ Type: 'Notification', MessageId: 'sns-1', TopicArn: 'arn:aws:sns:us-east-1:000000000000:uploads', Message: inner, Timestamp: new Date().toISOString() });
const eventBridgeBody = (key: string, etag: string) => JSON.stringify({
  version: '0', id: 'eb-1', 'detail-type': 'Object Created', source: 'aws.s3', account: '000000000000', time: new Date().toISOString(), region: 'us-east-1',
  detail: { version: '0', bucket: { name: BUCKET }, object: { key, size: 100, etag, sequencer: '0065F00D' }, reason: 'PutObject' },
});

async function send(queue: string, bodies: string[]): Promise<void> {
  const url = await mq!.queueUrl(queue);
  for (let i = 0; i < bodies.length; i += 10) {
    const r = await mq!.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((b, j) => ({ Id: `m${i + j}`, MessageBody: b })) }));
    assert.deepEqual(r.Failed ?? [], []);
  }
}

const isEmpty = async (queue: string) => {
  const d = await mq!.depth(queue);
  return d.visible + d.inFlight + d.delayed === 0 ? d : undefined;
};

/** The workflow ids started on a task queue, and the runs and encodes of one. */
async function workflowIdsOn(taskQueue: string): Promise<string[]> {
  const ids = new Set<string>();
  for await (const w of client!.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) ids.add(w.workflowId);
  return [...ids].sort();
}
async function runsOf(workflowId: string): Promise<{ status: string; encodes: number }[]> {
  const out: { status: string; encodes: number }[] = [];
  for await (const w of client!.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const h = await client!.workflow.getHandle(workflowId, w.runId).fetchHistory();
    const encodes = (h.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'encodeLatent').length;
    out.push({ status: w.status.name, encodes });
  }
  return out;
}
/** Waits until no run of the output is running; then its runs. */
const settled = (output: string) => waitFor(`${output}'s runs to finish`, async () => {
  const runs = await runsOf(idOf(output));
  return runs.length > 0 && runs.every((r) => r.status !== 'RUNNING') ? runs : undefined;
});

/** An in-process consumer on `queue` (the CLI's wiring, createSqsTrigger), with small timeouts. */
function consumerOn(queueUrl: string, extra: Partial<SqsConfigInput> = {}, temporalCfg = cfg) {
  const c = parseSqsConfig({
    queueUrl, endpoint: mq!.endpoint, buckets: [BUCKET], prefix: 'incoming/', waitSeconds: 1, visibilitySeconds: 6, drainSeconds: 5, ...extra,
  });
  const consumer = createSqsTrigger(client!, c, temporalCfg, DEFAULTS, sqsClientFor(c));
  const running = consumer.run();
  return { consumer, running };
}

test('duplicates (the same event 3 times, bare, SNS-wrapped and EventBridge) reach one workflow per output, one encode each; test events and filtered keys start nothing', opts, async () => {
  const s = store();
  const queues = testQueues('sqs-dup');
  const held = await runWorkers({ ...cfg, queues });
  try {
    const [a, b, c] = [await upload(s, 'dup/a.png', 1), await upload(s, 'dup/b.png', 2), await upload(s, 'dup/c.png', 3)];
    const bodies = [
      s3Body(s3Record('incoming/dup/a.png', a)), s3Body(s3Record('incoming/dup/a.png', a)), snsBody(s3Body(s3Record('incoming/dup/a.png', a))),
      eventBridgeBody('incoming/dup/b.png', b), eventBridgeBody('incoming/dup/b.png', b),
      // One message, two objects (a notification may carry several records).
      s3Body(s3Record('incoming/dup/b.png', b), s3Record('incoming/dup/c.png', c)),
      JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: BUCKET, Time: new Date().toISOString() }),
      s3Body(s3Record('elsewhere/d.png', c)),
    ];
    await send('dup', bodies);
    const { consumer, running } = consumerOn(await mq!.queueUrl('dup'), {}, { ...cfg, queues });
    await waitFor('the queue to empty', () => isEmpty('dup'));
    consumer.stop();
    const stats = await running;
    assert.equal(stats.deleted, bodies.length, `every message deleted: ${JSON.stringify(stats)}`);
    assert.deepEqual([stats.signalled, stats.testEvents, stats.deadLettered, stats.transient], [7, 1, 0, 0], JSON.stringify(stats));
    const outputs = ['dfc/dup/a.png.dfc', 'dfc/dup/b.png.dfc', 'dfc/dup/c.png.dfc'];
    for (const o of outputs) {
      const runs = await settled(o);
      assert.equal(runs.reduce((n, r) => n + r.encodes, 0), 1, `${o}: one encode however often its event came (runs: ${JSON.stringify(runs)})`);
      assert.equal(readDfc(await s.get(o)).header.stepsCoded, 3);
    }
    assert.deepEqual(await workflowIdsOn(queues.io), outputs.map(idOf).sort(), 'one workflow id per output, nothing else started');
    assert.equal((await mq!.depth('dup-dlq')).visible, 0, 'nothing dead-lettered');
  } finally {
    await held.stop();
    s.close();
  }
});

test('poison messages go to the DLQ at once with their reason; the good message beside them is compressed; nothing is started for them', opts, async () => {
  const s = store();
  const queues = testQueues('sqs-poison');
  const held = await runWorkers({ ...cfg, queues });
  try {
    const good = await upload(s, 'poison/good.png', 4);
    const noVersion = s3Record('incoming/poison/good.png', good) as { s3: { object: Record<string, unknown> } };
    delete noVersion.s3.object.eTag;
    const poison: Record<string, string> = {
      'not-json': 'this is not JSON {',
      'bad-event': JSON.stringify({ hello: 'world' }),
      'bucket-not-allowed': s3Body(s3Record('incoming/poison/good.png', good, 'someone-elses-bucket')),
      'sns-subscription': JSON.stringify({ Type: 'SubscriptionConfirmation', TopicArn: 'arn:aws:sns:us-east-1:000000000000:t', SubscribeURL: 'https://sns.example/confirm?x=1' }),
      'bad-event/no-version': JSON.stringify({ Records: [noVersion] }),
    };
    await send('poison', [...Object.values(poison), s3Body(s3Record('incoming/poison/good.png', good))]);
    const { consumer, running } = consumerOn(await mq!.queueUrl('poison'), { dlqUrl: await mq!.queueUrl('poison-dlq') }, { ...cfg, queues });
    await waitFor('the queue to empty', () => isEmpty('poison'));
    consumer.stop();
    const stats = await running;
    assert.deepEqual([stats.deadLettered, stats.signalled, stats.deleted], [5, 1, 6], JSON.stringify(stats));
    const dead = await mq!.drain('poison-dlq', 5);
    assert.equal(dead.length, 5);
    const byBody = new Map(dead.map((m) => [m.Body, m]));
    for (const [code, body] of Object.entries(poison)) {
      const m = byBody.get(body);
      assert.ok(m, `${code}: its body, unchanged, is in the DLQ`);
      assert.equal(m.MessageAttributes?.[POISON_ATTRIBUTES.code]?.StringValue, code.split('/')[0]);
      assert.ok((m.MessageAttributes?.[POISON_ATTRIBUTES.reason]?.StringValue ?? '').length > 10, `${code}: a reason`);
      assert.equal(m.MessageAttributes?.[POISON_ATTRIBUTES.sourceQueue]?.StringValue, await mq!.queueUrl('poison'));
    }
    const runs = await settled('dfc/poison/good.png.dfc');
    assert.equal(runs.reduce((n, r) => n + r.encodes, 0), 1);
    assert.deepEqual(await workflowIdsOn(queues.io), [idOf('dfc/poison/good.png.dfc')], 'only the good message started anything');
  } finally {
    await held.stop();
    s.close();
  }
});

test('without --dlq-url, poison is left to the queue\'s redrive policy (moved after maxReceiveCount receives); a failed start is redelivered and then succeeds', opts, async () => {
  const s = store();
  const etag = await upload(s, 'redrive/late.png', 5);
  const queueUrl = await mq!.queueUrl('redrive');
  const c = parseSqsConfig({ queueUrl, endpoint: mq!.endpoint, buckets: [BUCKET], prefix: 'incoming/', waitSeconds: 1, visibilitySeconds: 3, drainSeconds: 5 });
  // The real hand-over, failing the first time as when Temporal is briefly unreachable.
  let failures = 0;
  const consumer = new SqsConsumer({
    sqs: sqsClientFor(c), queueUrl, buckets: c.buckets, filter: filterFromConfig(c),
    prepare: (ev, version) => jobForEvent(ev, c, DEFAULTS, cfg.queues, version),
    start: async (job) => {
      if (failures++ === 0) throw new Error('temporal unavailable (injected)');
      return startCompressForEvent(client!, job);
    },
    waitSeconds: 1, batchSize: 10, concurrency: 4, visibilitySeconds: 3, drainSeconds: 5,
  });
  assert.ok((await consumer.checkQueues()).redrivePolicy?.includes('redrive-dlq'), 'the queue\'s redrive policy is read');
  await send('redrive', ['{"poison": true', s3Body(s3Record('incoming/redrive/late.png', etag))]);
  const running = consumer.run();
  const moved = await waitFor('the redrive policy to move the poison', async () => ((await mq!.depth('redrive-dlq')).visible === 1 ? true : undefined));
  assert.ok(moved);
  await waitFor('the queue to empty', () => isEmpty('redrive'));
  consumer.stop();
  const stats = await running;
  assert.equal(stats.transient, 1, JSON.stringify(stats));
  assert.equal(stats.signalled, 1, 'handed over on redelivery');
  assert.ok(stats.leftForRedrive >= 2, `the poison was received ${stats.leftForRedrive} times and left each time`);
  assert.equal(stats.deadLettered, 0, 'the consumer sent nothing to a DLQ itself');
  const [dead] = await mq!.drain('redrive-dlq', 1);
  assert.equal(dead.Body, '{"poison": true');
  await settled('dfc/redrive/late.png.dfc');
  assert.equal(readDfc(await s.get('dfc/redrive/late.png.dfc')).header.stepsCoded, 3);
  s.close();
});

test('a start held past the visibility timeout keeps its message hidden (renewed); at stop the drain hands it back (visibility 0) and the next consumer compresses it', opts, async () => {
  const s = store();
  const etag = await upload(s, 'drain/held.png', 6);
  const queueUrl = await mq!.queueUrl('drain');
  const c = parseSqsConfig({ queueUrl, endpoint: mq!.endpoint, buckets: [BUCKET], prefix: 'incoming/' });
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let entered!: () => void;
  const started = new Promise<void>((r) => { entered = r; });
  const consumer = new SqsConsumer({
    sqs: sqsClientFor(c), queueUrl, buckets: c.buckets, filter: filterFromConfig(c),
    prepare: (ev, version) => jobForEvent(ev, c, DEFAULTS, cfg.queues, version),
    // A hand-over that does not return (Temporal hanging) until the test lets it.
    start: async (job) => {
      entered();
      await held;
      return startCompressForEvent(client!, job);
    },
    waitSeconds: 1, batchSize: 10, concurrency: 4, visibilitySeconds: 3, drainSeconds: 1,
  });
  await send('drain', [s3Body(s3Record('incoming/drain/held.png', etag))]);
  const running = consumer.run();
  await started;
  // Three visibility timeouts: without the renewals the message would be visible again by now.
  await new Promise((r) => setTimeout(r, 9_000));
  assert.deepEqual(await mq!.depth('drain'), { visible: 0, inFlight: 1, delayed: 0 }, 'still hidden while its start is in flight');
  assert.equal(consumer.stats.received, 1, 'received once: it never became visible to be received again');
  consumer.stop();
  const stats = await running;
  assert.equal(stats.abandoned, 1, JSON.stringify(stats));
  assert.deepEqual(await mq!.depth('drain'), { visible: 1, inFlight: 0, delayed: 0 }, 'handed back: visible at once, not after its timeout');
  release();
  const next = consumerOn(queueUrl);
  await waitFor('the queue to empty', () => isEmpty('drain'));
  next.consumer.stop();
  assert.equal((await next.running).signalled, 1);
  await settled('dfc/drain/held.png.dfc');
  assert.equal(readDfc(await s.get('dfc/drain/held.png.dfc')).header.stepsCoded, 3);
  s.close();
});

interface Line { msg: string; messageId?: string; [k: string]: unknown }

/** `diffc trigger sqs` as a child process; its JSON log lines are collected. */
class ConsumerProcess {
  readonly proc: ChildProcess;
  readonly lines: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lines seen when it was SIGKILLed by `killAtReceived`. */
  atKill?: Line[];

  constructor(args: string[], killAtReceived?: number) {
    this.proc = spawn(process.execPath, [join(REPO, 'bin', 'diffc.js'), 'trigger', 'sqs', ...args], {
      env: { ...process.env, ...SQS_TEST_ENV, DIFFC_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let buf = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.startsWith('{')) continue;
        this.lines.push(JSON.parse(text) as Line);
        // Killed at once, from the data handler: messages of this batch are being handed over.
        if (killAtReceived !== undefined && !this.atKill && this.count('sqs.received') >= killAtReceived) {
          this.proc.kill('SIGKILL');
          this.atKill = [...this.lines];
        }
      }
    });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
  }

  count(msg: string, lines = this.lines): number {
    return lines.filter((l) => l.msg === msg).length;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

test('a consumer process SIGKILLed mid-batch loses nothing: the next one hands over the rest, every .dfc is written, the queue empties, and SIGTERM exits 0', opts, async () => {
  const s = store();
  const N = 24;
  const names = Array.from({ length: N }, (_, i) => `kill/img-${String(i).padStart(2, '0')}.png`);
  const bodies: string[] = [];
  for (const [i, n] of names.entries()) bodies.push(s3Body(s3Record(`incoming/${n}`, await upload(s, n, 100 + i))));
  await send('kill', bodies);
  const queueUrl = await mq!.queueUrl('kill');
  const args = ['--queue-url', queueUrl, '--dlq-url', await mq!.queueUrl('kill-dlq'), '--endpoint', mq!.endpoint, '--buckets', BUCKET, '--prefix', 'incoming/',
    '--steps', '3', '--model', 'default', '--temporal-address', temporal!.address, '--queue-io', cfg.queues.io, '--queue-gpu', cfg.queues.gpu,
    // Small batches so a kill lands mid-batch; a visibility that outlives the kill check.
    '--wait-seconds', '1', '--batch-size', '4', '--concurrency', '4', '--visibility-seconds', '8', '--drain-seconds', '10'];
  const first = new ConsumerProcess(args, 9);
  let second: ConsumerProcess | undefined;
  try {
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL', `the first consumer was killed (exit ${JSON.stringify(killed)}; last lines ${JSON.stringify(first.lines.slice(-3))})`);
    const depth = await mq!.depth('kill');
    const seen = first.atKill!;
    const deletedBefore = first.count('sqs.deleted', seen);
    console.error(`# kill: ${first.count('sqs.received', seen)} received, ${first.count('sqs.signalled', seen)} signalled, ${deletedBefore} deleted before SIGKILL; queue after: ${JSON.stringify(depth)}`);
    assert.ok(depth.inFlight > 0, `messages were in flight (received, not deleted) when it died: ${JSON.stringify(depth)}`);
    assert.ok(depth.visible > 0, 'and some not yet received');
    assert.ok(depth.visible + depth.inFlight < N, 'and some done');

    second = new ConsumerProcess(args);
    await waitFor('the queue to empty (the killed consumer\'s messages reappear after their visibility timeout)', () => isEmpty('kill'));
    second.proc.kill('SIGTERM');
    const end = await second.exited;
    assert.deepEqual(end, { code: 0, signal: null }, 'SIGTERM: a clean exit 0');
    assert.ok(second.lines.some((l) => l.msg === 'sqs.stopped'), 'it logged its stop');
    assert.equal(second.count('sqs.abandoned'), 0, 'nothing was in flight to abandon');

    for (const n of names) {
      const output = `dfc/${n}.dfc`;
      const runs = await settled(output);
      assert.equal(runs.reduce((k, r) => k + r.encodes, 0), 1, `${output}: one encode (runs: ${JSON.stringify(runs)})`);
      assert.equal(readDfc(await s.get(output)).header.stepsCoded, 3, `${output} is there`);
    }
    assert.equal((await mq!.depth('kill-dlq')).visible, 0, 'nothing dead-lettered');
    const handedOver = first.count('sqs.signalled') + second.count('sqs.signalled');
    console.error(`# kill: ${second.count('sqs.signalled')} handed over by the second consumer; ${handedOver - N} duplicates in all`);
    assert.ok(handedOver >= N, 'every event was handed over at least once');
  } finally {
    await first.stop();
    await second?.stop();
    s.close();
  }
});
