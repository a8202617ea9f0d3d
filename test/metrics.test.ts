/**
 * diffc's metrics without services: the registry's text format, the calls the activities make
 * (labelled series, worker totals, per-job gauges removed when the activity ends), activity ids
 * in log lines, the one-scrape /metrics with the SDK exporter's text appended, the PromQL name
 * extraction the dashboard test relies on, and that the dashboard names only series defined here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import { Registry, formatValue } from '../src/orchestration/prom.js';
import { activityStarted, jobEnded, jobProgress, observeCheckpoint, observeStep, setSdkMetricsUrl } from '../src/orchestration/metrics.js';
import { log, metrics } from '../src/orchestration/runtime.js';
import { createHealthServer, metricsText, prometheusText } from '../src/orchestration/health.js';
import { BULK_METRICS } from '../workflows/bulk-metrics.js';
import { dashboardExprs, exposedNames, metricNames, typeOfSample } from './helpers/promql.js';

const state = { ready: true, draining: false, queues: ['gpu'] };

/** Runs f as if inside an activity of this workflow (the SDK's own AsyncLocalStorage). */
function inActivity<T>(ids: { workflowId: string; activityType: string; activityId?: string; attempt?: number }, f: () => T): T {
  const info = { workflowExecution: { workflowId: ids.workflowId, runId: `run-${ids.workflowId}` }, activityType: ids.activityType, activityId: ids.activityId ?? '1', attempt: ids.attempt ?? 1 };
  return asyncLocalStorage.run({ info } as unknown as Context, f);
}

const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

test('registry: counters, gauges, cumulative histogram buckets, escaped labels, capped series', () => {
  const r = new Registry();
  const c = r.counter('t_c_total', 'a counter', ['k']);
  const g = r.gauge('t_g', 'a gauge', ['k'], 2);
  const h = r.histogram('t_h_seconds', 'a histogram', ['k'], [0.1, 1]);
  c.inc({ k: 'a"b\\c\nd' }, 2);
  c.inc({ k: 'a"b\\c\nd' });
  assert.throws(() => c.inc({ k: 'x' }, -1), /only goes up/);
  g.set({ k: 'x' }, 5);
  g.set({ k: 'y' }, 6);
  g.set({ k: 'z' }, 7); // past the cap of 2
  for (const v of [0.05, 0.5, 0.5, 3]) h.observe({ k: 'x' }, v);
  const text = r.render().join('\n');
  assert.match(text, /^t_c_total\{k="a\\"b\\\\c\\nd"\} 3$/m);
  assert.deepEqual(lines(text, 't_g'), ['t_g{k="x"} 5', 't_g{k="y"} 6']);
  assert.match(text, /^diffc_metrics_series_dropped_total\{metric="t_g"\} 1$/m);
  assert.deepEqual(lines(text, 't_h_seconds_bucket'), ['t_h_seconds_bucket{k="x",le="0.1"} 1', 't_h_seconds_bucket{k="x",le="1"} 3', 't_h_seconds_bucket{k="x",le="+Inf"} 4']);
  assert.match(text, /^t_h_seconds_sum\{k="x"\} 4\.05$/m);
  assert.match(text, /^t_h_seconds_count\{k="x"\} 4$/m);
  g.remove({ k: 'x' });
  assert.deepEqual(lines(r.render().join('\n'), 't_g'), ['t_g{k="y"} 6']);
  assert.throws(() => r.counter('t_c_total', 'again'), /twice/);
  assert.throws(() => r.gauge('bad-name', 'x'), /bad metric/);
  assert.equal(formatValue(1e-7), '0.0000001');
  assert.equal(formatValue(2.5), '2.5');
});

test('observeStep and observeCheckpoint: labelled series and the worker totals', () => {
  const steps0 = metrics.steps, bits0 = metrics.payloadBits, ck0 = metrics.checkpoints;
  inActivity({ workflowId: 'wf-a', activityType: 'encodeSteps' }, () => {
    observeStep({ model: 'm-steps' }, 0.02, 100);
    observeStep({ model: 'm-steps' }, 0.2, 50);
    observeCheckpoint({ model: 'm-steps' }, 0.003);
  });
  assert.deepEqual([metrics.steps - steps0, metrics.payloadBits - bits0, metrics.checkpoints - ck0], [2, 150, 1]);
  const text = prometheusText(state);
  assert.match(text, /^diffc_model_steps_total\{model="m-steps"\} 2$/m);
  assert.match(text, /^diffc_model_payload_bits_total\{model="m-steps"\} 150$/m);
  assert.match(text, /^diffc_step_duration_seconds_bucket\{model="m-steps",activity_type="encodeSteps",le="0.025"\} 1$/m);
  assert.match(text, /^diffc_step_duration_seconds_count\{model="m-steps",activity_type="encodeSteps"\} 2$/m);
  assert.match(text, /^diffc_checkpoint_duration_seconds_count\{model="m-steps",activity_type="encodeSteps"\} 1$/m);
  // The format the existing scrapers read: plain values on every sample line.
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^[a-z_]+(\{[^}]*\})? (-?[\d.]+|\+Inf)$/);
});

test('per-job gauges: set by jobProgress, removed by jobEnded or when the activity that set them ends', () => {
  const jobLines = () => lines(prometheusText(state), 'diffc_job_step').filter((l) => l.includes('"job-'));
  const endA = inActivity({ workflowId: 'job-a', activityType: 'encodeSteps', activityId: '7' }, () => {
    const end = activityStarted('encodeSteps');
    jobProgress({ model: 'default' }, 3, 10);
    jobProgress({ model: 'default' }, 4, 10);
    return end;
  });
  const endB = inActivity({ workflowId: 'job-b', activityType: 'encodeSteps', activityId: '9' }, () => {
    const end = activityStarted('encodeSteps');
    jobProgress({ model: 'default' }, 1, 5);
    return end;
  });
  assert.deepEqual(jobLines(), ['diffc_job_step{workflow_id="job-a",model="default"} 4', 'diffc_job_step{workflow_id="job-b",model="default"} 1']);
  assert.match(prometheusText(state), /^diffc_job_steps_target\{workflow_id="job-a",model="default"\} 10$/m);
  assert.match(prometheusText(state), /^diffc_activity_in_flight\{activity_type="encodeSteps"\} 2$/m);
  endA('retryable'); // it threw without jobEnded: its gauges go, job-b's stay
  assert.deepEqual(jobLines(), ['diffc_job_step{workflow_id="job-b",model="default"} 1']);
  jobEnded({ workflowId: 'job-b' });
  assert.deepEqual(jobLines(), []);
  endB('ok');
  const text = prometheusText(state);
  assert.match(text, /^diffc_activity_in_flight\{activity_type="encodeSteps"\} 0$/m);
  assert.match(text, /^diffc_activity_results_total\{activity_type="encodeSteps",result="retryable"\} 1$/m);
  assert.match(text, /^diffc_activity_duration_seconds_count\{activity_type="encodeSteps"\} 2$/m);
});

test('log(): inside an activity each line names its workflow, run, activity type and attempt', () => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
  try {
    inActivity({ workflowId: 'wf-log', activityType: 'encodeSteps', attempt: 3 }, () => log('info', 'checkpoint', { step: 4 }));
    log('info', 'outside', {});
  } finally {
    process.stderr.write = write;
  }
  const [inside, outside] = written.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([inside.msg, inside.workflowId, inside.runId, inside.activityType, inside.attempt, inside.step], ['checkpoint', 'wf-log', 'run-wf-log', 'encodeSteps', 3, 4]);
  assert.equal(outside.msg, 'outside');
  assert.equal('workflowId' in outside, false);
});

test('/metrics: diffc series, then the SDK exporter\'s text, in one scrape; up=0 with a note when it is missing', async () => {
  const sdk = createServer((req, res) => res.end(req.url === '/metrics' ? '# TYPE temporal_worker_task_slots_used gauge\ntemporal_worker_task_slots_used{task_queue="gpu"} 1\n' : ''));
  await new Promise<void>((r) => sdk.listen(0, '127.0.0.1', r));
  const health = createHealthServer(state);
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  try {
    setSdkMetricsUrl(`http://127.0.0.1:${(sdk.address() as AddressInfo).port}/metrics`);
    const res = await fetch(`http://127.0.0.1:${(health.address() as AddressInfo).port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^diffc_steps_total \d+$/m);
    assert.match(text, /^diffc_sdk_metrics_up 1$/m);
    assert.match(text, /^temporal_worker_task_slots_used\{task_queue="gpu"\} 1$/m);
    assert.ok(text.indexOf('diffc_worker_ready') < text.indexOf('temporal_worker_task_slots_used'));
    setSdkMetricsUrl(undefined);
    const none = await metricsText(state);
    assert.match(none, /^diffc_sdk_metrics_up 0$/m);
    assert.match(none, /^# Temporal SDK metrics unavailable: /m);
    setSdkMetricsUrl('http://127.0.0.1:1/metrics'); // nothing listens there
    assert.match(await metricsText(state), /^diffc_sdk_metrics_up 0$/m);
  } finally {
    setSdkMetricsUrl(undefined);
    await new Promise((r) => health.close(r));
    await new Promise((r) => sdk.close(r));
  }
});

test('PromQL names: selectors only, not functions, keywords, labels, strings, ranges or variables', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.9, sum by (le, model) (rate(diffc_step_duration_seconds_bucket{model!="x"}[$__rate_interval])))'), ['diffc_step_duration_seconds_bucket']);
  assert.deepEqual(metricNames('max by (job_id) (diffc_bulk_eta_seconds and on (instance, job_id) (diffc_bulk_active == 1))').sort(), ['diffc_bulk_active', 'diffc_bulk_eta_seconds']);
  assert.deepEqual(metricNames('sum(rate(a_total{x="b_total"}[5m] offset 1h)) * 60 / ignoring(k) group_left() c'), ['a_total', 'c']);
  assert.deepEqual(metricNames('{__name__="n_total"} + 1e3'), ['n_total']);
  const { samples, types } = exposedNames('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n# TYPE g gauge\ng 2\n');
  assert.deepEqual([...samples], ['h_bucket', 'h_sum', 'h_count', 'g']);
  assert.deepEqual([typeOfSample('h_bucket', types), typeOfSample('g', types), typeOfSample('g_count', types)], ['histogram', 'gauge', undefined]);
});

test('dashboard: every diffc series it names is one this code defines (the integration test checks a real scrape)', async () => {
  const dash = JSON.parse(await readFile(new URL('../infra/grafana/diffc-dashboard.json', import.meta.url), 'utf8')) as unknown;
  const exprs = dashboardExprs(dash);
  assert.ok(exprs.length >= 20, `${exprs.length} expressions`);
  const { samples, types } = exposedNames(await metricsText(state));
  const histograms = [...types].filter(([, t]) => t === 'histogram').map(([n]) => n);
  const defined = (n: string) => samples.has(n) || types.has(n) || (BULK_METRICS as readonly string[]).includes(n) ||
    histograms.some((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`].includes(n));
  const names = new Set(exprs.flatMap(metricNames));
  for (const n of names) {
    if (n.startsWith('temporal_')) continue;
    assert.ok(n.startsWith('diffc_') && defined(n), `dashboard names ${n}, which diffc does not define`);
  }
});
