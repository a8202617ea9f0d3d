/**
 * The SQS source without a server: what each message body is classified as (the consumer's whole
 * decision between start, delete and dead-letter), its configuration, and the CLI's refusals.
 * The consumer against a real SQS server is test/integration/trigger-sqs.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyMessage, type MessageClass } from '../src/trigger/sqs-message.js';
import { regionFor, sqsConfigFromEnv } from '../src/trigger/sqs-config.js';
import { filterFromConfig, TriggerError } from '../src/trigger/index.js';
import { jobForEvent } from '../src/orchestration/trigger-service.js';
import { runCli } from './helpers/cli.js';

const BUCKETS = new Set(['photos']);
const filter = filterFromConfig({ prefix: 'incoming/', suffixes: ['.png', '.jpg'], outputPrefix: 'dfc/' });
const prepare = (ev: Parameters<typeof jobForEvent>[0], version: Parameters<typeof jobForEvent>[4]) =>
  jobForEvent(ev, { prefix: 'incoming/', outputPrefix: 'dfc/' }, { steps: 3, seed: 0, model: 'default' }, { io: 'io', gpu: 'gpu' }, version);
const classify = (body: unknown) => classifyMessage(typeof body === 'string' ? body : JSON.stringify(body), { buckets: BUCKETS, filter, prepare });

function s3Event(key: string, o: { bucket?: string; etag?: string | null; eventName?: string; versionId?: string } = {}) {
  return {
    Records: [{
      eventVersion: '2.1', eventSource: 'aws:s3', eventName: o.eventName ?? 'ObjectCreated:Put',
      s3: {
        bucket: { name: o.bucket ?? 'photos' },
        object: { key, size: 10, ...(o.etag === null ? {} : { eTag: o.etag ?? 'abc123' }), ...(o.versionId ? { versionId: o.versionId } : {}), sequencer: '0065A1' },
      },
    }],
  };
}
const sns = (message: unknown) => ({ Type: 'Notification', MessageId: 'm-1', TopicArn: 'arn:aws:sns:eu-west-1:1:t', Message: JSON.stringify(message) });
const eventBridge = (key: string, detailType = 'Object Created') => ({
  version: '0', source: 'aws.s3', 'detail-type': detailType, account: '1', region: 'eu-west-1',
  detail: { bucket: { name: 'photos' }, object: { key, size: 10, etag: 'eb-etag', sequencer: '0065A2' }, reason: 'PutObject' },
});

function events(c: MessageClass<unknown>) {
  assert.equal(c.kind, 'events', JSON.stringify(c));
  return c as Extract<MessageClass<unknown>, { kind: 'events' }>;
}
function poison(c: MessageClass<unknown>, code: string) {
  assert.equal(c.kind, 'poison', JSON.stringify(c));
  const p = c as Extract<MessageClass<unknown>, { kind: 'poison' }>;
  assert.equal(p.code, code, p.reason);
  return p;
}

test('an S3 notification body: one job per created object, key decoded, output and version as the HTTP receiver has them', () => {
  const c = events(classify(s3Event('incoming/a+cat%2B1.png', { etag: '"abc123"' })));
  assert.equal(c.todo.length, 1);
  const [a] = c.todo;
  assert.equal(a.ev.key, 'incoming/a cat+1.png');
  assert.deepEqual(a.version, { etag: 'abc123', sequencer: '0065A1' });
  assert.equal((a.job as { output: string }).output, 'dfc/a cat+1.png.dfc');
  assert.equal((a.job as { store: string }).store, 's3://photos');
});

test('SNS-wrapped (SNS -> SQS) and EventBridge-shaped messages give the same jobs', () => {
  const direct = events(classify(s3Event('incoming/x.png'))).todo[0];
  const wrapped = events(classify(sns(s3Event('incoming/x.png')))).todo[0];
  assert.deepEqual(wrapped.job, direct.job);
  const eb = events(classify(eventBridge('incoming/x.png'))).todo[0];
  assert.equal((eb.job as { output: string }).output, 'dfc/x.png.dfc');
  assert.deepEqual(eb.version, { etag: 'eb-etag', sequencer: '0065A2' });
  // EventBridge events that are not creations are well-formed and start nothing.
  const deleted = events(classify(eventBridge('incoming/x.png', 'Object Deleted')));
  assert.deepEqual([deleted.todo.length, deleted.ignored], [0, 1]);
});

test('the s3:TestEvent S3 sends on setup, bare or through SNS, is a test event (deleted, nothing started)', () => {
  const test = { Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-01-01T00:00:00.000Z', Bucket: 'photos', RequestId: 'r', HostId: 'h' };
  assert.deepEqual(classify(test), { kind: 'test-event' });
  assert.deepEqual(classify(sns(test)), { kind: 'test-event' });
});

test('filtered keys and removals are events with nothing to do, not poison', () => {
  const outside = events(classify(s3Event('elsewhere/a.png')));
  assert.deepEqual([outside.todo.length, outside.filtered.map((f) => f.key)], [0, ['elsewhere/a.png']]);
  const output = events(classify(s3Event('dfc/a.png.dfc')));
  assert.equal(output.todo.length, 0);
  const removed = events(classify(s3Event('incoming/a.png', { eventName: 'ObjectRemoved:Delete' })));
  assert.deepEqual([removed.todo.length, removed.ignored], [0, 1]);
});

test('poison: not JSON, not an S3 event, a wrong field, a bucket not served, no version, an unconfirmed SNS subscription', () => {
  assert.match(poison(classify('not json {'), 'not-json').reason, /not JSON/);
  poison(classify(''), 'not-json');
  poison(classify('[1,2]'), 'bad-event');
  poison(classify({ hello: 'world' }), 'bad-event');
  poison(classify({ Records: [{ eventSource: 'aws:sqs', eventName: 'x', s3: {} }] }), 'bad-event');
  poison(classify(sns('{not json')), 'bad-event');
  assert.match(poison(classify(s3Event('incoming/a.png', { bucket: 'other' })), 'bucket-not-allowed').reason, /other/);
  assert.match(poison(classify(s3Event('incoming/a.png', { etag: null })), 'bad-event').reason, /neither versionId nor eTag/);
  const sub = { Type: 'SubscriptionConfirmation', TopicArn: 'arn:aws:sns:eu-west-1:1:t', SubscribeURL: 'https://sns.example/confirm' };
  assert.match(poison(classify(sub), 'sns-subscription').reason, /SubscribeURL|confirm/);
});

test('a message mixing an allowed and a refused bucket is poison as a whole: nothing in it is started', () => {
  const a = s3Event('incoming/a.png').Records[0], b = s3Event('incoming/b.png', { bucket: 'other' }).Records[0];
  poison(classify({ Records: [a, b] }), 'bucket-not-allowed');
});

test('an event whose job cannot be built is poison (bad-job), not a transient failure', () => {
  const c = classifyMessage(JSON.stringify(s3Event('incoming/a.png')), {
    buckets: BUCKETS, filter, prepare: () => { throw new Error('output key too long'); },
  });
  assert.match(poison(c, 'bad-job').reason, /output key too long/);
});

test('configuration: env fallbacks, flags win, SQS limits and the required queue and buckets are enforced', () => {
  const env = {
    DIFFC_SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123/uploads', DIFFC_SQS_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123/uploads-dlq',
    DIFFC_TRIGGER_BUCKETS: 'photos, raw', DIFFC_TRIGGER_PREFIX: 'incoming/', DIFFC_SQS_CONCURRENCY: '4', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324',
  };
  const c = sqsConfigFromEnv(env);
  assert.deepEqual([c.buckets, c.prefix, c.concurrency, c.waitSeconds, c.batchSize, c.endpoint, c.outputPrefix], [['photos', 'raw'], 'incoming/', 4, 20, 10, 'http://127.0.0.1:9324', 'dfc/']);
  assert.equal(sqsConfigFromEnv(env, { concurrency: 9, queueUrl: 'http://localhost:9324/000000000000/q' }).concurrency, 9);
  const bad = (e: NodeJS.ProcessEnv, o = {}) => assert.throws(() => sqsConfigFromEnv(e, o), (x: unknown) => x instanceof TriggerError && x.code === 'config');
  bad({ ...env, DIFFC_SQS_QUEUE_URL: '' });
  bad({ ...env, DIFFC_TRIGGER_BUCKETS: '' });
  bad(env, { waitSeconds: 21 });
  bad(env, { batchSize: 11 });
  bad({ ...env, DIFFC_SQS_CONCURRENCY: '0x10' });
  bad(env, { dlqUrl: env.DIFFC_SQS_QUEUE_URL });
  bad(env, { queueUrl: 'uploads' });
});

test('region: configured, else the AWS queue URL\'s, else us-east-1 for a compatible endpoint, else left to the SDK', () => {
  assert.equal(regionFor({ queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q' }), 'eu-west-1');
  assert.equal(regionFor({ queueUrl: 'https://ap-south-1.queue.amazonaws.com/1/q' }), 'ap-south-1');
  assert.equal(regionFor({ queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q', region: 'us-west-2' }), 'us-west-2');
  assert.equal(regionFor({ queueUrl: 'http://127.0.0.1:9324/000000000000/q', endpoint: 'http://127.0.0.1:9324' }), 'us-east-1');
  assert.equal(regionFor({ queueUrl: 'https://queue.example.com/q' }), undefined);
});

test('diffc trigger sqs: bad input exits non-zero before connecting to anything; --help documents the verb', async () => {
  const saved = { q: process.env.DIFFC_SQS_QUEUE_URL, b: process.env.DIFFC_TRIGGER_BUCKETS };
  delete process.env.DIFFC_SQS_QUEUE_URL;
  delete process.env.DIFFC_TRIGGER_BUCKETS;
  try {
    const noQueue = await runCli(['trigger', 'sqs', '--buckets', 'photos']);
    assert.equal(noQueue.code, 1);
    assert.match(noQueue.err, /--queue-url URL or DIFFC_SQS_QUEUE_URL/);
    const noBuckets = await runCli(['trigger', 'sqs', '--queue-url', 'http://127.0.0.1:1/000000000000/q']);
    assert.equal(noBuckets.code, 1);
    assert.match(noBuckets.err, /buckets/);
    const wait = await runCli(['trigger', 'sqs', '--queue-url', 'http://127.0.0.1:1/000000000000/q', '--buckets', 'p', '--wait-seconds', '30']);
    assert.equal(wait.code, 1);
    assert.match(wait.err, /waitSeconds/);
    assert.equal((await runCli(['trigger', 'sqs', '--bogus'])).code, 2);
  } finally {
    if (saved.q !== undefined) process.env.DIFFC_SQS_QUEUE_URL = saved.q;
    if (saved.b !== undefined) process.env.DIFFC_TRIGGER_BUCKETS = saved.b;
  }
  const help = await runCli(['trigger', '--help']);
  assert.equal(help.code, 0);
  for (const s of ['diffc trigger sqs', '--queue-url', '--dlq-url', '--endpoint', 'RedrivePolicy', 'diffc-poison-reason', 'SIGTERM']) assert.ok(help.out.includes(s), s);
});
