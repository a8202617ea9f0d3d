/**
 * `diffc worker`: a long-running Temporal worker on the io and/or gpu queue. Models load once,
 * before the worker reports ready, and stay loaded across activities. SIGTERM (or SIGINT) drains:
 * polling stops, step ranges in flight checkpoint at the next step and hand back, then it exits.
 */
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createWorkers, whenIdle, type QueueRole, type WorkerDeployment } from '../orchestration/worker.js';
import { createHealthServer, type HealthState } from '../orchestration/health.js';
import { beginDrain, log, workerBackend, workerModel } from '../orchestration/runtime.js';
import { parseOrUsage, type Print } from './args.js';
import { UsageError } from './errors.js';
import { commandFlags, SERVICE_HELP, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';

/** The SDK's drain wait when --grace is not given: below the shipped pods' grace (io 120 s, gpu 180 s). */
export const DEFAULT_GRACE_SECONDS = 90;

export const WORKER_HELP = `diffc worker [options]

Runs a Temporal worker for diffc's workflows until SIGTERM/SIGINT, which drains it: no new tasks,
step ranges in flight checkpoint at their next step and hand the rest back, then it exits 0.

  --queues LIST         roles to serve: gpu, io or gpu,io (default gpu,io). io runs the workflows
                        and image I/O; gpu runs the model and the RCC.
  --models LIST         models to load before reporting ready (default 'default'); others load
                        on first use and stay loaded
  --gpu-concurrency N   step-range activities at once on the gpu queue (default 1)
  --io-concurrency N    activities at once on the io queue (default 16)
  --health-port P       serve /healthz, /readyz and /metrics on this port (default 9464; 0: any
                        free port, printed; -1: none)
  --health-host H       address for it (default 0.0.0.0)
  --grace S             seconds a drain waits for activities before cancelling them (default
                        ${DEFAULT_GRACE_SECONDS}); keep it under the pod's terminationGracePeriodSeconds
  --exit-when-idle S    exit 0 once no activity has run for S seconds (since the last one ended,
                        or since start): for gpu workers run as Jobs (KEDA ScaledJob), which end
                        when idle instead of being scaled away while they work. Counts activities
                        only, not workflow tasks. Default: run until signalled
  --build-id B          Worker Versioning: serve version B of the Worker Deployment
                        (default $DIFFC_BUILD_ID). Such a worker takes only the tasks Temporal
                        routes to B: new workflows once B is the deployment's current version
                        (diffc worker-deployment set-current), and those pinned to B. Without it
                        the worker is unversioned
  --deployment-name N   the Worker Deployment (default $DIFFC_DEPLOYMENT_NAME or diffc); only with
                        --build-id
${SERVICE_HELP}
Also: DIFFC_RCC_BACKEND (auto|cuda|cpu|ts), DIFFC_RCC_THREADS, DIFFC_MODELS (model cache dir),
DIFFC_CHECKPOINT_SECONDS (caps every job's checkpoint interval: size the termination grace period
from it), DIFFC_LOG_LEVEL (debug|info|warn|error). Logs are JSON lines on stderr.
`;

/** Temporal joins them as name:build in visibility (TemporalWorkerDeploymentVersion), which KEDA queries. */
const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const Args = z.object({
  queues: z.string().default('gpu,io').transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['gpu', 'io'])).min(1, 'give gpu, io or gpu,io')),
  models: z.string().default('default').transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
  'gpu-concurrency': z.coerce.number().int().min(1).max(64).default(1),
  'io-concurrency': z.coerce.number().int().min(1).max(1000).default(16),
  'health-port': z.coerce.number().int().min(-1).max(65535).default(9464),
  'health-host': z.string().default('0.0.0.0'),
  grace: z.coerce.number().positive().max(86_400).default(DEFAULT_GRACE_SECONDS),
  'exit-when-idle': z.coerce.number().positive().max(86_400).optional(),
  'build-id': z.string().regex(BUILD_ID, 'letters, digits, . _ - (at most 100)').optional(),
  'deployment-name': z.string().regex(DEPLOYMENT_NAME, 'letters, digits, _ - (at most 100)').optional(),
}).strict();

/** --build-id / --deployment-name over DIFFC_BUILD_ID / DIFFC_DEPLOYMENT_NAME; an empty variable is unset. */
function deploymentFlags(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const pick = (flag: string, name: string) => values[flag] ?? (env[name] ? env[name] : undefined);
  return { ...values, 'build-id': pick('build-id', 'DIFFC_BUILD_ID'), 'deployment-name': pick('deployment-name', 'DIFFC_DEPLOYMENT_NAME') };
}

export async function workerCommand(argv: string[], out: Print): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      ...SERVICE_OPTIONS, queues: { type: 'string' }, models: { type: 'string' },
      'gpu-concurrency': { type: 'string' }, 'io-concurrency': { type: 'string' }, 'health-port': { type: 'string' },
      'health-host': { type: 'string' }, grace: { type: 'string' }, 'exit-when-idle': { type: 'string' },
      'build-id': { type: 'string' }, 'deployment-name': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(WORKER_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, deploymentFlags(commandFlags(values), process.env));
  if (a['deployment-name'] !== undefined && a['build-id'] === undefined) {
    throw new UsageError('--deployment-name (DIFFC_DEPLOYMENT_NAME) needs --build-id (DIFFC_BUILD_ID)');
  }
  const deployment: WorkerDeployment | undefined = a['build-id'] === undefined
    ? undefined
    : { deploymentName: a['deployment-name'] ?? 'diffc', buildId: a['build-id'] };
  const cfg = serviceConfig(values);
  const roles = a.queues as QueueRole[];
  const state: HealthState = { ready: false, draining: false, queues: roles.map((r) => cfg.queues[r]) };

  const health = a['health-port'] >= 0 ? createHealthServer(state) : undefined;
  if (health) {
    await new Promise<void>((resolve, reject) => health.once('error', reject).listen(a['health-port'], a['health-host'], resolve));
    log('info', 'health-listening', { port: (health.address() as AddressInfo).port });
  }
  let workers: Awaited<ReturnType<typeof createWorkers>> | undefined;
  let stopping = false;
  const drain = (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    log('info', 'drain', { signal });
    beginDrain();
    workers?.shutdown();
  };
  let stopIdleWatch = () => {};
  const watchIdle = (w: NonNullable<typeof workers>, seconds: number) => {
    stopIdleWatch = whenIdle(w, seconds, () => {
      if (stopping) return;
      stopping = true;
      state.draining = true;
      log('info', 'idle-exit', { idleSeconds: seconds });
      // No beginDrain(): nothing is running; a task the last poll still hands over runs to
      // completion within --grace instead of checkpointing at once.
      w.shutdown();
    });
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  try {
    // Models and the RCC backend first: a worker that polls before it can compute would take
    // tasks it then holds while loading.
    if (roles.includes('gpu')) {
      for (const m of a.models) await workerModel(m);
      await workerBackend();
    }
    workers = await createWorkers(cfg, {
      roles, maxConcurrentActivities: { gpu: a['gpu-concurrency'], io: a['io-concurrency'] }, shutdownGraceTime: `${a.grace} seconds`,
      ...(deployment ? { deployment } : {}),
    });
    if (stopping) workers.shutdown();
    const running = workers.run();
    state.ready = true;
    if (a['exit-when-idle'] !== undefined) watchIdle(workers, a['exit-when-idle']);
    log('info', 'worker-ready', {
      address: cfg.address, namespace: cfg.namespace, queues: state.queues, models: a.models,
      ...(deployment ? { deploymentName: deployment.deploymentName, buildId: deployment.buildId } : {}),
      ...(a['exit-when-idle'] !== undefined ? { exitWhenIdleSeconds: a['exit-when-idle'] } : {}),
    });
    await running;
    log('info', 'worker-stopped', {});
    return 0;
  } finally {
    stopIdleWatch();
    state.ready = false;
    await new Promise<void>((r) => (health ? health.close(() => r()) : r()));
  }
}
