/**
 * The worker's HTTP side for Kubernetes and Prometheus: /healthz (process alive), /readyz (models
 * loaded and polling; 503 while loading and while draining), /metrics (Prometheus text): diffc's
 * series, then the Temporal SDK's (temporal_*, and the bulk workflow's diffc_bulk_*), read from
 * the SDK's exporter on loopback, so one scrape of one port sees both.
 */
import { createServer, type Server } from 'node:http';
import { metrics } from './runtime.js';
import { registry, sdkMetricsUrl } from './metrics.js';

export interface HealthState {
  ready: boolean;
  draining: boolean;
  queues: readonly string[];
}

const started = Date.now();

export function prometheusText(state: HealthState, now = Date.now()): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number, labels = '') => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  };
  metric('diffc_steps_total', 'counter', 'Chain steps coded by this worker.', metrics.steps);
  metric('diffc_payload_bits_total', 'counter', 'Payload bits produced by the steps coded.', metrics.payloadBits);
  metric('diffc_checkpoints_total', 'counter', 'Chain checkpoints written.', metrics.checkpoints);
  metric('diffc_activities_total', 'counter', 'Activities started.', metrics.activitiesTotal);
  metric('diffc_activity_failures_total', 'counter', 'Activities that failed (retried or not).', metrics.activityFailures);
  metric('diffc_activities_in_flight', 'gauge', 'Activities running now.', metrics.activitiesInFlight);
  metric('diffc_checkpoint_age_seconds', 'gauge', 'Seconds since the last checkpoint (-1: none yet).',
    metrics.lastCheckpointAt === 0 ? -1 : (now - metrics.lastCheckpointAt) / 1000);
  metric('diffc_rcc_backend_info', 'gauge', 'The RCC backend in use (label).', 1, `{backend="${metrics.rccBackend.split(' ')[0]}"}`);
  metric('diffc_worker_ready', 'gauge', '1 when models are loaded and the worker polls.', state.ready && !state.draining ? 1 : 0);
  metric('diffc_worker_uptime_seconds', 'gauge', 'Seconds since the process started.', (now - started) / 1000);
  registry.render(lines);
  return lines.join('\n') + '\n';
}

/** How long a scrape waits for the SDK's exporter (Prometheus' own scrape timeout is 10 s). */
const SDK_TIMEOUT_MS = 3000;

/** The SDK exporter's text, or why it is missing (not installed, or it did not answer). */
export async function sdkMetricsText(url = sdkMetricsUrl()): Promise<{ text: string } | { missing: string }> {
  if (!url) return { missing: 'no Temporal runtime with a metrics exporter in this process' };
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(SDK_TIMEOUT_MS) });
    if (!r.ok) return { missing: `${url} answered ${r.status}` };
    return { text: await r.text() };
  } catch (e) {
    return { missing: `${url}: ${(e as Error).message}` };
  }
}

/** One scrape: diffc's series, whether the SDK's came, then the SDK's. */
export async function metricsText(state: HealthState, now = Date.now()): Promise<string> {
  const sdk = await sdkMetricsText();
  const up = 'text' in sdk ? 1 : 0;
  let out = prometheusText(state, now) +
    `# HELP diffc_sdk_metrics_up 1 when this scrape includes the Temporal SDK's metrics.\n# TYPE diffc_sdk_metrics_up gauge\ndiffc_sdk_metrics_up ${up}\n`;
  if ('text' in sdk) out += sdk.text.endsWith('\n') || sdk.text === '' ? sdk.text : `${sdk.text}\n`;
  else out += `# Temporal SDK metrics unavailable: ${sdk.missing.replace(/\n/g, ' ')}\n`;
  return out;
}

export function createHealthServer(state: HealthState): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = state.ready && !state.draining;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ready\n' : state.draining ? 'draining\n' : 'loading\n');
    } else if (path === '/metrics') {
      metricsText(state).then(
        (text) => res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(req.method === 'HEAD' ? undefined : text),
        (e: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(e as Error).message}\n`),
      );
    } else {
      res.writeHead(404).end();
    }
  });
}
