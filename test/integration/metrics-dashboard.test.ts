/**
 * The Grafana dashboard (infra/grafana/diffc-dashboard.json) against a real scrape: in-process
 * diffc workers on a private Temporal dev server run a compressImage on the embedded default
 * model and a small bulkArchive (continuing as new once), while the worker's /metrics (the
 * health server, one port: diffc's series and the Temporal SDK's) is scraped every 100 ms. Every
 * metric name in every PromQL expression of the dashboard must be among the series seen, and
 * rate() must be over counters or histogram samples. Also: per-job gauges are gone once the jobs
 * end, the bulk totals and ETA are final, and log lines written inside activities carry the
 * workflow and run ids. Skips when the temporal binary is not built;
 * fails instead with DIFFC_REQUIRE_SERVICES=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { needs, testQueues, type Temporal } from '../helpers/dev-services.js';
import { temporalSuite } from '../helpers/temporal-suite.js';
import { testImage } from '../helpers/workflows.js';
import { dashboardExprs, exposedNames, metricNames, typeOfSample } from '../helpers/promql.js';
import { saveImage } from '../../src/image/io.js';
import { createWorkers } from '../../src/orchestration/worker.js';
import { createHealthServer, type HealthState } from '../../src/orchestration/health.js';
import { parseTemporalConfig } from '../../src/orchestration/config.js';
import { startBulkArchive, startCompressImage } from '../../src/orchestration/client.js';

const { missing, opts } = await needs('temporal');

let dir = '';
let server: Temporal | undefined;
let client: Client | undefined;
temporalSuite({ missing, opts }, 'diffc-metrics-', (t) => ({ dir, server, client } = t));

/** Every JSON log line on stderr while f runs, parsed; debug and SDK info chatter are not passed through. */
async function capturingLogs<T>(f: () => Promise<T>): Promise<{ result: T; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    let quiet = false;
    for (const line of s.split('\n').filter(Boolean)) {
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        logs.push(j);
        quiet ||= j.level === 'debug' || (j.source === 'temporal-sdk' && j.level === 'info');
      } catch {
        // not a log line
      }
    }
    return quiet ? true : (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { result: await f(), logs };
  } finally {
    process.stderr.write = write;
  }
}

test('dashboard queries name only series a real worker exposes after a real compressImage and bulkArchive', opts, async () => {
  const storeDir = join(dir, 'store');
  await mkdir(join(storeDir, 'bulk'), { recursive: true });
  await saveImage(testImage(192, 128, 1), join(storeDir, 'one.png'));
  for (let i = 0; i < 3; i++) await saveImage(testImage(64, 46, 10 + i), join(storeDir, 'bulk', `${i}.png`));
  const store = pathToFileURL(storeDir).href;
  const queues = testQueues('metrics');
  const cfg = parseTemporalConfig({ address: server!.address, queues });

  const state: HealthState = { ready: false, draining: false, queues: [queues.io, queues.gpu] };
  const health = createHealthServer(state);
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/metrics`;
  const seen = new Set<string>();
  const jobStepsSeen: string[] = [];
  let last = '';
  const scrape = async () => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    last = await res.text();
    for (const n of exposedNames(last).samples) seen.add(n);
    jobStepsSeen.push(...last.split('\n').filter((l) => l.startsWith('diffc_job_step{')));
  };
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await scrape();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const compressId = `metrics-one-${process.pid}`;
  const { logs } = await capturingLogs(async () => {
    const w = await createWorkers(cfg);
    state.ready = true;
    await w.runUntil(async () => {
      const h = await startCompressImage(client!, {
        store, source: 'one.png', output: 'out/one.dfc', bpp: 1, stepsPerActivity: 4, checkpointEvery: 2,
      }, { queues, workflowId: compressId });
      assert.ok((await h.result()).bytes > 0);
      const b = await startBulkArchive(client!, {
        store, prefix: 'bulk/', outputPrefix: 'bulkout/', bpp: 1, concurrency: 2, objectsPerRun: 2, jobId: 'metrics-bulk',
      }, { queues, workflowId: `metrics-bulk-${process.pid}` });
      const s = await b.result();
      assert.deepEqual([s.ok, s.failed, s.runs], [3, 0, 2]);
      await scrape(); // after both, before the workers stop
    });
  });
  scraping = false;
  await scraper;
  await new Promise((r) => health.close(r));

  // Every metric the dashboard asks for was exposed at some scrape.
  const dash = JSON.parse(await readFile(new URL('../../infra/grafana/diffc-dashboard.json', import.meta.url), 'utf8')) as unknown;
  const exprs = dashboardExprs(dash);
  const wanted = [...new Set(exprs.flatMap(metricNames))].sort();
  assert.ok(wanted.some((n) => n.startsWith('temporal_')) && wanted.some((n) => n.startsWith('diffc_')), wanted.join(' '));
  const absent = wanted.filter((n) => !seen.has(n));
  assert.deepEqual(absent, [], `dashboard metrics no scrape showed: ${absent.join(', ')}`);
  const { types } = exposedNames(last);
  for (const e of exprs) {
    for (const m of e.matchAll(/\b(?:rate|increase|irate)\(\s*([a-zA-Z_:][\w:]*)/g)) {
      assert.ok(['counter', 'histogram'].includes(typeOfSample(m[1], types) ?? ''), `rate() over ${m[1]} (${typeOfSample(m[1], types)}) in ${e}`);
    }
  }
  // The SDK's series the operator needs, from the same port as diffc's.
  assert.match(last, /^diffc_sdk_metrics_up 1$/m);
  assert.match(last, new RegExp(`^temporal_worker_task_slots_available\\{[^}]*task_queue="${queues.gpu}"[^}]*worker_type="ActivityWorker"[^}]*\\} 1$`, 'm'));
  assert.match(last, new RegExp(`^temporal_activity_schedule_to_start_latency_seconds_count\\{[^}]*task_queue="${queues.gpu}"[^}]*\\} [1-9]`, 'm'));

  // Per-job gauges existed while the jobs coded and are gone now; the bulk job's totals are final.
  assert.ok(jobStepsSeen.some((l) => l.includes(`workflow_id="${compressId}"`)), 'diffc_job_step for the compress job at some scrape');
  assert.equal(last.split('\n').filter((l) => l.startsWith('diffc_job_step{')).length, 0, 'no per-job series once the jobs ended');
  const bulk = (name: string, status?: string) => new RegExp(`^${name}\\{[^}]*job_id="metrics-bulk"${status ? `[^}]*status="${status}"` : ''}[^}]*\\} (\\S+)$`, 'm').exec(last)?.[1];
  assert.deepEqual([bulk('diffc_bulk_objects', 'ok'), bulk('diffc_bulk_objects', 'listed'), bulk('diffc_bulk_objects', 'in_flight')], ['3', '3', '0']);
  assert.deepEqual([bulk('diffc_bulk_eta_seconds'), bulk('diffc_bulk_listing_complete'), bulk('diffc_bulk_active')], ['0', '1', '0']);

  // Log lines from inside activities name their workflow, run, activity type and attempt.
  const steps = logs.filter((l) => l.msg === 'encode-steps' && l.workflowId === compressId);
  assert.ok(steps.length > 0, 'encode-steps lines of the compress job');
  for (const l of steps) {
    assert.equal(l.activityType, 'encodeSteps');
    assert.match(String(l.runId), /^[0-9a-f-]{36}$/);
    assert.equal(typeof l.attempt, 'number');
  }
});
