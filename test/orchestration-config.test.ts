/** Pure parts of the orchestration layer: configuration, locations, metrics text, job schemas. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, temporalConfigFromEnv } from '../src/orchestration/config.js';
import { LocationError, splitObjectUrl, splitPrefixUrl } from '../src/orchestration/locations.js';
import { checkpointSeconds, metrics } from '../src/orchestration/runtime.js';
import { prometheusText } from '../src/orchestration/health.js';
import { CompressImageInput, DecompressImageInput } from '../src/orchestration/types.js';
import { BulkArchiveInput } from '../src/orchestration/bulk-types.js';

test('temporalConfigFromEnv: defaults, TLS pairs, queue names, bad addresses', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(temporalConfigFromEnv({}))), { address: '127.0.0.1:7233', namespace: 'default', queues: { io: 'io', gpu: 'gpu' } });
  const c = temporalConfigFromEnv({ TEMPORAL_ADDRESS: 't.example:7233', TEMPORAL_NAMESPACE: 'img', TEMPORAL_TLS_CERT: '/c', TEMPORAL_TLS_KEY: '/k', DIFFC_QUEUE_GPU: 'gpu-a100' });
  assert.deepEqual(c.tls, { cert: '/c', key: '/k', ca: undefined, serverName: undefined });
  assert.equal(c.queues.gpu, 'gpu-a100');
  assert.throws(() => temporalConfigFromEnv({ TEMPORAL_TLS_CERT: '/c' }), ConfigError);
  assert.throws(() => temporalConfigFromEnv({ TEMPORAL_ADDRESS: 'http://x:7233' }), /host:port/);
});

test('locations: s3 objects keep the bucket as the store; local paths split at the last folder', () => {
  assert.deepEqual(splitObjectUrl('s3://photos/2026/a b.png'), { store: 's3://photos', key: '2026/a b.png' });
  assert.deepEqual(splitObjectUrl('/data/in/x.png'), { store: 'file:///data/in', key: 'x.png' });
  assert.deepEqual(splitPrefixUrl('s3://photos/2026'), { store: 's3://photos', key: '2026/' });
  assert.deepEqual(splitPrefixUrl('/data/in/'), { store: 'file:///data', key: 'in/' });
  assert.throws(() => splitObjectUrl('s3://photos/dir/'), LocationError);
  assert.throws(() => splitObjectUrl('https://x/y.png'), /only s3:\/\/ and file:\/\//);
  assert.throws(() => splitPrefixUrl('s3://photos/'), /inside the bucket/);
});

test('DIFFC_CHECKPOINT_SECONDS caps a job\'s checkpoint interval', () => {
  assert.equal(checkpointSeconds(300, {}), 300);
  assert.equal(checkpointSeconds(300, { DIFFC_CHECKPOINT_SECONDS: '60' }), 60);
  assert.equal(checkpointSeconds(10, { DIFFC_CHECKPOINT_SECONDS: '60' }), 10);
  assert.throws(() => checkpointSeconds(10, { DIFFC_CHECKPOINT_SECONDS: 'soon' }), /positive/);
});

test('/metrics text: every series the dashboards and the ServiceMonitor expect', () => {
  metrics.steps = 7; metrics.payloadBits = 1234; metrics.rccBackend = 'cpu (native avx512, 1 threads)'; metrics.lastCheckpointAt = 1000;
  const text = prometheusText({ ready: true, draining: false, queues: ['gpu'] }, 3500);
  assert.match(text, /^diffc_steps_total 7$/m);
  assert.match(text, /^diffc_payload_bits_total 1234$/m);
  assert.match(text, /^diffc_checkpoint_age_seconds 2\.5$/m);
  assert.match(text, /^diffc_rcc_backend_info\{backend="cpu"\} 1$/m);
  assert.match(text, /^diffc_worker_ready 1$/m);
  assert.match(prometheusText({ ready: true, draining: true, queues: [] }), /^diffc_worker_ready 0$/m);
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[a-z_]+(\{[^}]*\})? -?[\d.]+$/);
});

test('job schemas: defaults filled, contradictions and bad values refused with the field named', () => {
  const j = CompressImageInput.parse({ store: 's3://b', source: 'a.png', output: 'a.dfc' });
  assert.deepEqual([j.seed, j.model, j.stepsPerActivity, j.checkpointSeconds, j.skipExisting, j.queues], [0, 'default', 16, 60, true, { io: 'io', gpu: 'gpu' }]);
  assert.throws(() => CompressImageInput.parse({ store: 's3://b', source: 'a.png', output: 'a.dfc', bpp: 0.1, steps: 3 }), /at most one of bpp, steps/);
  assert.throws(() => CompressImageInput.parse({ store: 's3://b', source: 'a.png', output: 'a.dfc', extra: 1 }), /extra|Unrecognized/);
  assert.throws(() => DecompressImageInput.parse({ store: 's3://b', source: 'a.dfc', output: 'a.bmp' }), /output must end/);
  assert.throws(() => BulkArchiveInput.parse({ store: 's3://b', outputPrefix: 'out', jobId: 'j' }), /end with \//);
  assert.throws(() => BulkArchiveInput.parse({ store: 's3://b', outputPrefix: 'out/', jobId: 'a b' }), /jobId/);
});
