/**
 * The worker's HTTP side for Kubernetes and Prometheus: /healthz (process alive), /readyz (models
 * loaded and polling; 503 while loading and while draining), /metrics (Prometheus text).
 */
import { createServer, type Server } from 'node:http';
import { metrics } from './runtime.js';

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
  return lines.join('\n') + '\n';
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
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(prometheusText(state));
    } else {
      res.writeHead(404).end();
    }
  });
}
