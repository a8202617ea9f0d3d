import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import {
  createTriggerServer, filterFromConfig, makeFilter, parseObjectEvents, signBody, sourceVersionOf, triggerConfigFromEnv,
  TriggerError, verifyRequest, type HandedOver, type ObjectCreatedEvent, type TriggerServerOptions,
} from '../src/trigger/index.js';
import { createTriggerService, jobForEvent } from '../src/orchestration/trigger-service.js';
import { compressWorkflowId, outputKeyFor } from '../src/orchestration/output-key.js';
import { WORK_ROOT, workPrefix, type SourceVersion } from '../src/orchestration/types.js';
import { triggerCommand } from '../src/cli/trigger.js';

const SECRET = 'bearer-secret-0123456789';
const HMAC = 'hmac-secret-abcdefghijklmnop';
const BUCKETS = ['images', 'photos-prod'];
const isCode = (code: string) => (e: unknown) => e instanceof TriggerError && e.code === code;
const cfgFilter = filterFromConfig({ prefix: undefined, suffixes: ['.png', '.jpg', '.jpeg', '.webp'], outputPrefix: 'dfc/' });
const QUEUES = { io: 'io', gpu: 'gpu' };
const DEFAULTS = { steps: 3, seed: 0, model: 'default' };

/**
 * start() handing each event over as trigger-service does (its job, its output's workflow id);
 * the run id stands for "whichever run got the signal", numbered per workflow id.
 */
function recorder(fail?: (ev: ObjectCreatedEvent) => boolean) {
  const calls: { ev: ObjectCreatedEvent; version: SourceVersion; run: HandedOver }[] = [];
  const start = async (ev: ObjectCreatedEvent, version: SourceVersion): Promise<HandedOver> => {
    if (fail?.(ev)) throw new Error('temporal unavailable');
    const job = jobForEvent(ev, { outputPrefix: 'dfc/' }, DEFAULTS, QUEUES, version);
    const run = { workflowId: compressWorkflowId(job.store, job.output), runId: 'run-1', output: job.output };
    calls.push({ ev, version, run });
    return run;
  };
  return { start, calls };
}

interface Reply { status: number; headers: Headers; json: Record<string, unknown>; text: string }

async function withServer(
  fn: (post: (body: string, headers?: Record<string, string>, path?: string) => Promise<Reply>, base: string) => Promise<void>,
  opts: Partial<TriggerServerOptions> & Pick<TriggerServerOptions, 'start'>,
): Promise<void> {
  const server = createTriggerServer({ auth: { secret: SECRET }, buckets: BUCKETS, filter: cfgFilter, ...opts });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (body: string, headers: Record<string, string> = { Authorization: `Bearer ${SECRET}` }, path = '/events') => {
    const r = await fetch(base + path, { method: 'POST', body, headers });
    const text = await r.text();
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json, text };
  };
  try {
    await fn(post, base);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** One record as MinIO's webhook target sends it (keys URL-encoded, '+' for space). */
function minioRecord(key: string, over: { eventName?: string; versionId?: string; eTag?: string } = {}) {
  const eventName = over.eventName ?? 's3:ObjectCreated:Put';
  return {
    EventName: eventName,
    Key: `images/${key}`,
    Records: [{
      eventVersion: '2.0', eventSource: 'minio:s3', awsRegion: '', eventTime: '2024-05-01T10:00:00.000Z', eventName,
      userIdentity: { principalId: 'minioadmin' },
      requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '172.17.0.1' },
      responseElements: { 'x-amz-request-id': '17C0A1B2C3D4E5F6', 'x-minio-origin-endpoint': 'http://172.17.0.2:9000' },
      s3: {
        s3SchemaVersion: '1.0', configurationId: 'Config',
        bucket: { name: 'images', ownerIdentity: { principalId: 'minioadmin' }, arn: 'arn:aws:s3:::images' },
        object: {
          key, size: 48213, eTag: over.eTag ?? 'd41d8cd98f00b204e9800998ecf8427e', contentType: 'image/png',
          userMetadata: { 'content-type': 'image/png' }, versionId: over.versionId ?? '', sequencer: '17C0A1B2C3D4E5F6',
        },
      },
      source: { host: '172.17.0.1', port: '', userAgent: 'MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE.2024-04-29' },
    }],
  };
}

/** The AWS S3 shape (event notification structure 2.1). */
function awsRecord(key: string, eventName = 'ObjectCreated:Put', extra: Record<string, unknown> = {}) {
  return {
    eventVersion: '2.1', eventSource: 'aws:s3', awsRegion: 'eu-west-1', eventTime: '2024-05-01T10:00:00.000Z', eventName,
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' }, requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD' },
    s3: {
      s3SchemaVersion: '1.0', configurationId: 'diffc',
      bucket: { name: 'photos-prod', ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: 'arn:aws:s3:::photos-prod' },
      object: { key, size: 1024, eTag: '"0123456789abcdef0123456789abcdef"', sequencer: '0055AED6DCD90281E5', ...extra },
    },
  };
}

const body = (o: unknown) => JSON.stringify(o);

test('MinIO record: URL-encoded key with spaces, unicode and a literal + is decoded; start gets the event and its version', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const r = await post(body(minioRecord('in/My+Holiday+%C3%A9t%C3%A9+%2B1+%E5%86%99%E7%9C%9F.png', { versionId: 'v-1' })));
    assert.equal(r.status, 200, r.text);
    assert.equal(rec.calls.length, 1);
    const { ev, version, run } = rec.calls[0];
    assert.deepEqual(ev, {
      bucket: 'images', key: 'in/My Holiday été +1 写真.png', size: 48213, etag: 'd41d8cd98f00b204e9800998ecf8427e',
      versionId: 'v-1', eventName: 's3:ObjectCreated:Put', sequencer: '17C0A1B2C3D4E5F6',
    });
    assert.deepEqual(version, { etag: 'd41d8cd98f00b204e9800998ecf8427e', versionId: 'v-1', sequencer: '17C0A1B2C3D4E5F6' });
    assert.deepEqual(r.json, { signalled: [{ bucket: 'images', key: ev.key, ...run }], filtered: [], ignored: 0 });
  }, { start: rec.start });
});

test('AWS records: quotes stripped from eTag, empty versionId absent, ObjectRemoved in the same delivery ignored', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const r = await post(body({ Records: [awsRecord('uploads/cat+1.jpg'), awsRecord('uploads/old.jpg', 'ObjectRemoved:Delete', { size: undefined, eTag: undefined })] }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.ignored, 1);
    assert.equal(rec.calls.length, 1);
    assert.deepEqual(rec.calls[0].ev, {
      bucket: 'photos-prod', key: 'uploads/cat 1.jpg', size: 1024, etag: '0123456789abcdef0123456789abcdef',
      eventName: 'ObjectCreated:Put', sequencer: '0055AED6DCD90281E5',
    });
  }, { start: rec.start });
});

test('SNS Notification envelope is unwrapped; Basic auth (credentials in the SNS endpoint URL) is accepted', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const envelope = {
      Type: 'Notification', MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324', TopicArn: 'arn:aws:sns:eu-west-1:123456789012:uploads',
      Subject: 'Amazon S3 Notification', Message: body({ Records: [awsRecord('a/b%28c%29.webp')] }),
      Timestamp: '2024-05-01T10:00:01.000Z', SignatureVersion: '1', Signature: 'EXAMPLE', SigningCertURL: 'https://sns.example/cert.pem',
    };
    const basic = `Basic ${Buffer.from(`sns:${SECRET}`).toString('base64')}`;
    const r = await post(body(envelope), { Authorization: basic, 'Content-Type': 'text/plain; charset=UTF-8' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(rec.calls.map((c) => c.ev.key), ['a/b(c).webp']);

    const bad = await post(body({ ...envelope, Message: '{not json' }));
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.message), /SNS Message is not JSON/);
  }, { start: rec.start });
});

test('SNS SubscriptionConfirmation is a typed 400 naming the SubscribeURL; nothing is fetched or started', async () => {
  const rec = recorder();
  const url = 'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:uploads&Token=2336412f37';
  assert.throws(() => parseObjectEvents({ Type: 'SubscriptionConfirmation', SubscribeURL: url, Token: '2336412f37' }), isCode('sns-subscription'));
  await withServer(async (post) => {
    const r = await post(body({ Type: 'SubscriptionConfirmation', MessageId: 'x', SubscribeURL: url, Token: '2336412f37', Message: 'You have chosen...' }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'sns-subscription');
    assert.ok(String(r.json.message).includes(url));
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start });
});

test('EventBridge Object Created: keys are taken literally (not URL-decoded); other detail-types ignored', async () => {
  const rec = recorder();
  const ev = (detailType: string, key: string) => ({
    version: '0', id: '17793124-05d4-b198-2fde-7ededc63b103', 'detail-type': detailType, source: 'aws.s3', account: '111122223333',
    time: '2021-11-12T00:00:00Z', region: 'ca-central-1', resources: ['arn:aws:s3:::photos-prod'],
    detail: {
      version: '0', bucket: { name: 'photos-prod' },
      object: { key, size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', 'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e', sequencer: '00617F08299329D189' },
      'request-id': 'N4N7GDK58NMKJ12R', requester: '123456789012', 'source-ip-address': '1.2.3.4', reason: 'PutObject',
    },
  });
  await withServer(async (post) => {
    const r = await post(body(ev('Object Created', 'in/a+b %41.png')));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(rec.calls[0].ev, {
      bucket: 'photos-prod', key: 'in/a+b %41.png', size: 5, etag: 'b1946ac92492d2347c6235b4d2611184',
      versionId: 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e', eventName: 'Object Created:PutObject', sequencer: '00617F08299329D189',
    });
    const d = await post(body(ev('Object Deleted', 'in/x.png')));
    assert.equal(d.status, 200);
    assert.equal(d.json.ignored, 1);
    assert.equal(rec.calls.length, 1);
  }, { start: rec.start });
});

test('the same event twice, and a new upload of the key: all to the one workflow of the output, each with its version', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const payload = body(minioRecord('in/x.png'));
    const a = await post(payload);
    const b = await post(payload);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.deepEqual(b.json.signalled, a.json.signalled, 'a redelivery is handed over exactly like the first delivery');
    // A new upload of the same key (new ETag) goes to the same output, so to the same workflow id:
    // one writer per output, which the newer version supersedes.
    const c = await post(body(minioRecord('in/x.png', { eTag: 'ffffffffffffffffffffffffffffffff' })));
    assert.equal(c.status, 200);
    assert.deepEqual(rec.calls.map((x) => x.run.workflowId), Array(3).fill(compressWorkflowId('s3://images', 'dfc/in/x.png.dfc')));
    assert.deepEqual(rec.calls.map((x) => x.version.etag), ['d41d8cd98f00b204e9800998ecf8427e', 'd41d8cd98f00b204e9800998ecf8427e', 'ffffffffffffffffffffffffffffffff']);
  }, { start: rec.start });
});

test('bucket allow-list: an event for another bucket is 403, logged, and nothing in its delivery is started', async () => {
  const rec = recorder();
  const lines: Record<string, unknown>[] = [];
  await withServer(async (post) => {
    const other = { ...awsRecord('in/a.png'), s3: { ...awsRecord('in/a.png').s3, bucket: { name: 'someone-elses' } } };
    const r = await post(body({ Records: [awsRecord('in/ok.png'), other] }));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error, 'bucket-not-allowed');
    assert.match(String(r.json.message), /someone-elses.*nothing in this delivery was started/);
    assert.doesNotMatch(r.text, /photos-prod/, 'the allow-list is not told to the sender');
    // Refused before filtering: even a key the filter would drop is no way around it.
    const filteredAnyway = { ...other, s3: { ...other.s3, object: { ...other.s3.object, key: 'in/readme.txt' } } };
    assert.equal((await post(body({ Records: [filteredAnyway] }))).status, 403);
    assert.equal(rec.calls.length, 0);
    const refused = lines.filter((l) => l.msg === 'trigger.bucket-refused');
    assert.equal(refused.length, 2);
    assert.deepEqual(refused[0].allowed, BUCKETS);
    // The allowed ones pass.
    assert.equal((await post(body({ Records: [awsRecord('in/ok.png')] }))).status, 200);
    assert.equal((await post(body(minioRecord('in/ok.png')))).status, 200);
    assert.deepEqual(rec.calls.map((c) => c.ev.bucket), ['photos-prod', 'images']);
  }, { start: rec.start, log: (l) => lines.push(l as Record<string, unknown>) });
  assert.throws(() => createTriggerServer({ auth: { secret: SECRET }, buckets: [], filter: cfgFilter, start: recorder().start }), isCode('config'));
});

test('missing or wrong bearer: 401 and start is never called', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const payload = body(minioRecord('in/x.png'));
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong-secret-0123456789' }, { Authorization: 'Bearer x' },
      { Authorization: `Bearer ${SECRET}x` }, { Authorization: SECRET }, { Authorization: `Basic ${Buffer.from(`u:${SECRET}!`).toString('base64')}` },
      { 'X-Diffc-Signature': signBody(payload, SECRET) }];
    for (const headers of attempts) {
      const r = await post(payload, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal(r.json.error, 'unauthorized');
    }
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start });
});

test('HMAC signature: valid accepted; tampered body, wrong key or bearer on an HMAC-only receiver rejected', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const payload = body(minioRecord('in/x.png'));
    const ok = await post(payload, { 'X-Diffc-Signature': signBody(payload, HMAC) });
    assert.equal(ok.status, 200, ok.text);
    const tampered = payload.replace('in/x.png', 'in/y.png');
    assert.notEqual(tampered, payload);
    assert.equal((await post(tampered, { 'X-Diffc-Signature': signBody(payload, HMAC) })).status, 401);
    assert.equal((await post(payload, { 'X-Diffc-Signature': signBody(payload, `${HMAC}!`) })).status, 401);
    assert.equal((await post(payload, { 'X-Diffc-Signature': signBody(payload, HMAC).slice(0, -2) })).status, 401);
    assert.equal((await post(payload, { Authorization: `Bearer ${HMAC}` })).status, 401);
    assert.equal(rec.calls.length, 1);
  }, { start: rec.start, auth: { hmacSecret: HMAC } });
});

test('verifyRequest: either configured scheme suffices; no secret configured is a config error, not open', () => {
  const raw = Buffer.from('{}');
  const both = { secret: SECRET, hmacSecret: HMAC };
  assert.equal(verifyRequest({ authorization: `bearer ${SECRET}` }, raw, both), 'bearer');
  assert.equal(verifyRequest({ 'x-diffc-signature': signBody(raw, HMAC).toUpperCase().replace('SHA256', 'sha256') }, raw, both), 'hmac');
  assert.throws(() => verifyRequest({ authorization: `Bearer ${SECRET}` }, raw, {}), isCode('config'));
  assert.throws(() => createTriggerServer({ auth: { secret: '' }, buckets: BUCKETS, filter: cfgFilter, start: recorder().start }), isCode('config'));
});

test('oversize body: 413 (declared or streamed), not read on, start never called', async () => {
  const rec = recorder();
  await withServer(async (post, base) => {
    const big = body({ Records: [awsRecord('in/x.png', 'ObjectCreated:Put', { pad: 'x'.repeat(5000) })] });
    const r = await post(big);
    assert.equal(r.status, 413);
    assert.equal(r.json.error, 'too-large');

    // Chunked, no Content-Length: the limit is enforced while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/events`, { method: 'POST', headers: { Authorization: `Bearer ${SECRET}`, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < 64 * 1024) {
          sent += 1024;
          if (!req.write('x'.repeat(1024))) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 413);
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start, maxBodyBytes: 4096 });
});

test('malformed JSON: 400 bad-json', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const r = await post('{"Records": [');
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'bad-json');
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start });
});

test('schema errors: 400 bad-event with the zod path in the message; nothing in the delivery is started', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const broken = awsRecord('in/b.png');
    (broken.s3.bucket as { name?: string }).name = undefined;
    const r = await post(body({ Records: [awsRecord('in/a.png'), broken] }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'bad-event');
    assert.match(String(r.json.message), /Records\.1\.s3\.bucket\.name/);

    const sns = await post(body({ Type: 'Notification', Message: body({ Records: [{ ...awsRecord('in/a.png'), eventSource: 'aws:sqs' }] }) }));
    assert.equal(sns.status, 400);
    assert.match(String(sns.json.message), /SNS Message\.Records\.0\.eventSource/);

    for (const b of ['[]', '"x"', '{"hello": 1}', body({ Records: [awsRecord('in/%E9.png')] })]) {
      const x = await post(b);
      assert.equal(x.status, 400, b);
      assert.equal(x.json.error, 'bad-event', b);
    }
    // An object-created event with neither versionId nor eTag names no version to compress.
    const noVersion = await post(body({ Records: [awsRecord('in/a.png', 'ObjectCreated:Put', { eTag: undefined })] }));
    assert.equal(noVersion.status, 400);
    assert.match(String(noVersion.json.message), /neither versionId nor eTag/);
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start });
});

test('our own outputs never start a job: outputPrefix, .dfc, work objects (WORK_ROOT and old .work/); nor wrong suffixes', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const work = `${workPrefix('dfc/in/a.png.dfc', '0193a0b1-2c3d-7e4f-8a9b-0c1d2e3f4a5b')}source.png`;
    assert.ok(work.startsWith(WORK_ROOT));
    const keys = ['dfc/in/a.png', 'in/a.dfc', 'in/a.DFC', work, `${WORK_ROOT}x.jpg`, 'dfc/a.dfc.work/ckpt-0004.png', 'in/x.png.work/y.png', 'in/readme.txt', 'in/ok.JPEG'];
    const r = await post(body({ Records: keys.map((k) => awsRecord(k)) }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(rec.calls.map((c) => c.ev.key), ['in/ok.JPEG']);
    const filtered = r.json.filtered as { key: string; reason: string }[];
    assert.deepEqual(filtered.map((f) => f.key), keys.slice(0, -1));
    assert.ok(filtered.every((f) => f.reason.length > 0));
  }, { start: rec.start });
});

test('makeFilter: prefix, case-insensitive suffixes, excludes; empty exclude prefix excludes nothing', () => {
  const f = makeFilter({ prefix: 'in/', suffixes: ['.PNG', '.webp'], excludePrefixes: ['', 'in/skip/'] });
  assert.equal(makeFilter()({ key: `${WORK_ROOT}abc/run/stage.png` }).accept, false, 'work objects never trigger, even with no prefix or suffix rule');
  assert.deepEqual(f({ key: 'in/a.png' }), { accept: true });
  assert.deepEqual(f({ key: 'in/a.WebP' }), { accept: true });
  assert.equal(f({ key: 'In/a.png' }).accept, false);
  assert.equal(f({ key: 'in/a.jpg' }).accept, false);
  assert.equal(f({ key: 'in/skip/a.png' }).accept, false);
  assert.equal(makeFilter()({ key: 'anything/at.all' }).accept, true);
  assert.equal(makeFilter()({ key: 'x.dfc' }).accept, false);
});

test('s3:TestEvent and ObjectRemoved-only deliveries: 200, counted as ignored', async () => {
  const rec = recorder();
  await withServer(async (post) => {
    const t = await post(body({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2024-05-01T10:00:00.000Z', Bucket: 'photos-prod', RequestId: 'R', HostId: 'H' }));
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(t.json, { signalled: [], filtered: [], ignored: 1 });
    const removed = await post(body(minioRecord('in/x.png', { eventName: 's3:ObjectRemoved:Delete' })));
    assert.equal(removed.status, 200);
    assert.equal(removed.json.ignored, 1);
    assert.equal(rec.calls.length, 0);
  }, { start: rec.start });
});

test('start throwing: 503 so the sender retries; the redelivery hands every event over again', async () => {
  let down = true;
  const attempts: string[] = [];
  const rec = recorder((ev) => { attempts.push(ev.key); return down && ev.key === 'in/b.png'; });
  const lines: Record<string, unknown>[] = [];
  await withServer(async (post) => {
    const payload = body({ Records: [awsRecord('in/a.png'), awsRecord('in/b.png'), awsRecord('in/c.png')] });
    const r = await post(payload);
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'unavailable');
    assert.equal(r.headers.get('retry-after'), '5');
    assert.deepEqual((r.json.signalled as { key: string }[]).map((s) => s.key), ['in/a.png']);
    assert.deepEqual(attempts, ['in/a.png', 'in/b.png']); // stopped at the failure
    assert.ok(lines.some((l) => l.msg === 'trigger.start-failed' && l.key === 'in/b.png'));
    down = false;
    const again = await post(payload);
    assert.equal(again.status, 200);
    // a.png again too: a signal of a version its run already has is ignored by the run.
    assert.deepEqual((again.json.signalled as { key: string }[]).map((s) => s.key), ['in/a.png', 'in/b.png', 'in/c.png']);
    assert.equal(lines.filter((l) => l.msg === 'trigger.signalled').length, 4);
  }, { start: rec.start, log: (l) => lines.push(l as Record<string, unknown>) });
});

test('routes: GET /healthz ok; wrong method 405; unknown path 404', async () => {
  await withServer(async (_post, base) => {
    const h = await fetch(`${base}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(await h.text(), 'ok');
    assert.equal((await fetch(`${base}/events`)).status, 405);
    assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/events`, { method: 'PUT' })).headers.get('allow'), 'POST');
  }, { start: recorder().start });
});

test('sourceVersionOf: eTag, versionId and a hex sequencer; a non-hex sequencer is dropped; no version is a bad event', () => {
  const ev = { bucket: 'images', key: 'in/a.png', eventName: 's3:ObjectCreated:Put' };
  assert.deepEqual(sourceVersionOf({ ...ev, etag: 'abc' }), { etag: 'abc' });
  assert.deepEqual(sourceVersionOf({ ...ev, etag: 'abc', versionId: 'v1', sequencer: '0055AED6DCD90281E5' }), { etag: 'abc', versionId: 'v1', sequencer: '0055AED6DCD90281E5' });
  assert.deepEqual(sourceVersionOf({ ...ev, versionId: 'v1', sequencer: 'not-hex' }), { versionId: 'v1' });
  assert.throws(() => sourceVersionOf(ev), isCode('bad-event'));
  assert.throws(() => sourceVersionOf({ ...ev, etag: '', versionId: '' }), isCode('bad-event'));
  assert.throws(() => sourceVersionOf({ ...ev, etag: 'x'.repeat(2000) }), isCode('bad-event'));
});

test('event -> job: the output key is the one bulk and sweep use (prefix cut), one workflow id per output, the version, skipExisting', () => {
  const ev: ObjectCreatedEvent = { bucket: 'photos', key: 'incoming/2026/cat.png', etag: 'e1', sequencer: '0A', eventName: 's3:ObjectCreated:Put' };
  const job = jobForEvent(ev, { prefix: 'incoming/', outputPrefix: 'dfc/' }, DEFAULTS, QUEUES);
  assert.equal(job.output, 'dfc/2026/cat.png.dfc');
  // What a sweep (bulkArchive with prefix incoming/ and the same output prefix) names it.
  assert.equal(job.output, outputKeyFor('incoming/2026/cat.png', 'incoming/', 'dfc/'));
  assert.deepEqual([job.store, job.source, job.outputStore], ['s3://photos', 'incoming/2026/cat.png', undefined]);
  assert.deepEqual(job.sourceVersion, { etag: 'e1', sequencer: '0A' });
  assert.equal(job.skipExisting, true);
  assert.deepEqual([job.steps, job.seed, job.model, job.queues], [3, 0, 'default', QUEUES]);
  // No prefix: the whole key; an empty output prefix: next to the source.
  assert.equal(jobForEvent(ev, { outputPrefix: 'dfc/' }, DEFAULTS, QUEUES).output, 'dfc/incoming/2026/cat.png.dfc');
  assert.equal(jobForEvent(ev, { prefix: 'incoming/', outputPrefix: '' }, DEFAULTS, QUEUES).output, '2026/cat.png.dfc');
  // Two uploads of one key: one output, so one workflow id (one writer); another bucket, another id.
  const again = jobForEvent({ ...ev, etag: 'e2', sequencer: '0B' }, { prefix: 'incoming/', outputPrefix: 'dfc/' }, DEFAULTS, QUEUES);
  assert.equal(compressWorkflowId(again.store, again.output), compressWorkflowId(job.store, job.output));
  assert.notEqual(compressWorkflowId('s3://photos2', job.output), compressWorkflowId(job.store, job.output));
  assert.throws(() => jobForEvent({ ...ev, etag: undefined }, { outputPrefix: 'dfc/' }, DEFAULTS, QUEUES), isCode('bad-event'));
});

test('createTriggerService: invalid job defaults are a config error at startup, before any event', async () => {
  // A lazy connection never dials: nothing here reaches Temporal.
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const cfg = triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images' });
  const temporal = { address: '127.0.0.1:1', namespace: 'default', queues: QUEUES };
  assert.throws(() => createTriggerService(client, cfg, temporal, { bpp: 500, seed: 0, model: 'default' }), isCode('config'));
  const ok = createTriggerService(client, cfg, temporal, DEFAULTS);
  assert.equal(ok.listening, false);
  await client.connection.close();
});

test('CLI: serve refuses to run without an allow-list and before connecting; the trigger takes no S3 flags; --help says so', async () => {
  const saved = { ...process.env };
  const printed: string[] = [];
  try {
    for (const k of Object.keys(process.env)) if (k.startsWith('DIFFC_TRIGGER_')) delete process.env[k];
    process.env.DIFFC_TRIGGER_SECRET = SECRET;
    // Port 1 on loopback: were it to connect, the error would be a connection error, not this.
    await assert.rejects(triggerCommand(['serve', '--temporal-address', '127.0.0.1:1'], (s) => printed.push(s)),
      (e: unknown) => isCode('config')(e) && /DIFFC_TRIGGER_BUCKETS/.test((e as Error).message));
    await assert.rejects(triggerCommand(['serve', '--buckets', 'a/b', '--temporal-address', '127.0.0.1:1'], (s) => printed.push(s)),
      (e: unknown) => isCode('config')(e) && /buckets\.0: not a bucket name/.test((e as Error).message));
    await assert.rejects(triggerCommand(['serve', '--buckets', 'images', '--prefix', 'incoming', '--temporal-address', '127.0.0.1:1'], (s) => printed.push(s)),
      (e: unknown) => isCode('config')(e) && /prefix must end with '\/'/.test((e as Error).message));
    await assert.rejects(triggerCommand(['serve', '--buckets', 'images', '--s3-endpoint', 'http://x'], (s) => printed.push(s)),
      (e: unknown) => (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  assert.equal(await triggerCommand(['--help'], (s) => printed.push(s)), 0);
  const help = printed.join('\n');
  assert.match(help, /--buckets B,B\s+required/);
  assert.match(help, /with --prefix incoming\/, incoming\/a\/cat\.png -> dfc\/a\/cat\.png\.dfc/);
  assert.match(help, /signal-with-start/);
  assert.doesNotMatch(help, /s3-endpoint|S3_ACCESS_KEY_ID/);
});

test('parseObjectEvents: Ceph string sizes, null versionId, unknown extra fields', () => {
  const rec = awsRecord('in/a.png', 'ObjectCreated:Put', { size: '2048', versionId: null, somethingNew: { x: 1 } });
  const out = parseObjectEvents({ Records: [{ ...rec, eventSource: 'ceph:s3' }], extra: true });
  assert.equal(out.events[0].size, 2048);
  assert.equal('versionId' in out.events[0], false);
  assert.throws(() => parseObjectEvents({ Records: [awsRecord('in/a.png', 'ObjectCreated:Put', { size: -1 })] }), isCode('bad-event'));
  assert.throws(() => parseObjectEvents(null), isCode('bad-event'));
  assert.throws(() => parseObjectEvents({ Type: 'Notification', Message: body({ Type: 'Notification', Message: '{}' }) }), isCode('bad-event'));
});

test('TriggerConfig from env: defaults, lists, refuses a receiver without a secret, without buckets or with a bad port', () => {
  const cfg = triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images' });
  assert.deepEqual(cfg, {
    port: 8080, host: '0.0.0.0', secret: SECRET, buckets: ['images'], suffixes: ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff'], outputPrefix: 'dfc/',
  });
  const c2 = triggerConfigFromEnv({
    DIFFC_TRIGGER_HMAC_SECRET: HMAC, DIFFC_TRIGGER_BUCKETS: ' images, photos-prod ,', DIFFC_TRIGGER_PREFIX: 'in/', DIFFC_TRIGGER_SUFFIX: ' .png, .JPG ,',
    DIFFC_OUTPUT_PREFIX: 'out/', DIFFC_TRIGGER_PORT: '0',
  });
  assert.deepEqual([c2.hmacSecret, c2.buckets, c2.prefix, c2.suffixes, c2.outputPrefix, c2.port], [HMAC, BUCKETS, 'in/', ['.png', '.JPG'], 'out/', 0]);
  // Flags override the environment; a flag not given keeps it.
  const c3 = triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images', DIFFC_TRIGGER_PREFIX: 'in/' }, { buckets: ['other'], prefix: undefined });
  assert.deepEqual([c3.buckets, c3.prefix], [['other'], 'in/']);
  assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_BUCKETS: 'images' }), (e: unknown) => isCode('config')(e) && /DIFFC_TRIGGER_SECRET/.test((e as Error).message));
  assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: 'short', DIFFC_TRIGGER_BUCKETS: 'images' }), (e: unknown) => isCode('config')(e) && /secret: .*16/.test((e as Error).message));
  // No allow-list is no receiver: the safe default is to refuse to start, never "any bucket".
  for (const buckets of [undefined, '', ' , ']) {
    assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, ...(buckets === undefined ? {} : { DIFFC_TRIGGER_BUCKETS: buckets }) }),
      (e: unknown) => isCode('config')(e) && /buckets: set the buckets this receiver serves \(DIFFC_TRIGGER_BUCKETS/.test((e as Error).message), String(buckets));
  }
  for (const bad of ['a/b', 'a b', '-x', '*']) {
    assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: bad }), isCode('config'), bad);
  }
  for (const port of ['70000', '-1', 'http', '0x50', '80.5']) {
    assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images', DIFFC_TRIGGER_PORT: port }), isCode('config'), port);
  }
  assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images', DIFFC_TRIGGER_PREFIX: 'dfc/in/' }), isCode('config'));
  // A prefix is a folder, as sweeps and bulk jobs take it, or the two would name outputs differently.
  assert.throws(() => triggerConfigFromEnv({ DIFFC_TRIGGER_SECRET: SECRET, DIFFC_TRIGGER_BUCKETS: 'images', DIFFC_TRIGGER_PREFIX: 'in' }), isCode('config'));
  const f = filterFromConfig(c2);
  assert.equal(f({ key: 'in/a.jpg' }).accept, true);
  assert.equal(f({ key: 'out/a.png' }).accept, false);
});
