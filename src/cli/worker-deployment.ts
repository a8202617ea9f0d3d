/**
 * `diffc worker-deployment`: the Worker Deployment's routing (Worker Versioning). Workers started
 * with `diffc worker --build-id B` serve version B; new workflows go to the deployment's current
 * version (and a ramp's share to the ramping one), while PINNED runs stay on the version they
 * started on. This moves the current version and shows which versions still have work.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { connectClient } from '../orchestration/client.js';
import { parseOrUsage, type Print } from './args.js';
import { CliError } from './errors.js';
import { commandFlags, SERVICE_HELP, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';

export const WORKER_DEPLOYMENT_HELP = `diffc worker-deployment <set-current|ramp|describe> [options]

  set-current --build-id B   make version B current: new workflows (and AUTO_UPGRADE ones at
                             their next task) go to B's workers; runs PINNED to another version
                             stay there, which drains once they end. Temporal refuses while B's
                             workers have not polled every task queue the current version polls
                             (io workflow + activity, gpu activity): start them first, or pass
                             --ignore-missing-task-queues. --build-id '' routes to unversioned
                             workers again
  ramp --build-id B --percent P
                             send P % of new workflows to B, the rest to the current version
                             (--percent 0 with --build-id '' removes the ramp)
  describe [--build-id B]    the deployment's current and ramping versions and each version's
                             status (CURRENT, RAMPING, DRAINING: pinned runs remain, DRAINED: none,
                             INACTIVE); with --build-id, that version's task queues and backlog

  --deployment-name N        the Worker Deployment (default $DIFFC_DEPLOYMENT_NAME or diffc)
  --ignore-missing-task-queues
  --json                     one JSON object on stdout
${SERVICE_HELP}
`;

const Args = z.object({
  positionals: z.tuple([z.enum(['set-current', 'ramp', 'describe'])], { message: 'usage: diffc worker-deployment <set-current|ramp|describe>' }),
  'build-id': z.string().regex(/^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, . _ - (at most 100)').optional(),
  'deployment-name': z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'letters, digits, _ - (at most 100)').optional(),
  percent: z.coerce.number().min(0).max(100).optional(),
  'ignore-missing-task-queues': z.boolean().default(false),
  json: z.boolean().default(false),
}).strict().superRefine((a, ctx) => {
  const verb = a.positionals[0];
  if ((verb === 'set-current' || verb === 'ramp') && a['build-id'] === undefined) ctx.addIssue({ code: 'custom', message: `${verb} needs --build-id` });
  if (verb === 'ramp' && a.percent === undefined) ctx.addIssue({ code: 'custom', message: 'ramp needs --percent' });
  if (verb !== 'ramp' && a.percent !== undefined) ctx.addIssue({ code: 'custom', message: '--percent is for ramp' });
});

const STATUS = ['UNSPECIFIED', 'INACTIVE', 'CURRENT', 'RAMPING', 'DRAINING', 'DRAINED'] as const;
const statusName = (s: number | null | undefined) => STATUS[s ?? 0] ?? String(s);
const QUEUE_TYPE = ['UNSPECIFIED', 'workflow', 'activity', 'nexus'] as const;

export interface DeploymentReport {
  deploymentName: string;
  currentBuildId: string | null;
  rampingBuildId: string | null;
  rampingPercent: number;
  versions: { buildId: string; status: string }[];
}

export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentReport> {
  const r = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName });
  const info = r.workerDeploymentInfo;
  const rc = info?.routingConfig;
  return {
    deploymentName,
    currentBuildId: rc?.currentDeploymentVersion?.buildId || null,
    rampingBuildId: rc?.rampingDeploymentVersion?.buildId || null,
    rampingPercent: rc?.rampingVersionPercentage ?? 0,
    versions: (info?.versionSummaries ?? []).map((v) => ({ buildId: v.deploymentVersion?.buildId ?? '', status: statusName(v.status) })),
  };
}

export interface VersionReport {
  buildId: string;
  status: string;
  taskQueues: { name: string; type: string; backlog: number }[];
}

export async function describeVersion(client: Client, deploymentName: string, buildId: string): Promise<VersionReport> {
  const r = await client.workflowService.describeWorkerDeploymentVersion({
    namespace: client.options.namespace, deploymentVersion: { deploymentName, buildId }, reportTaskQueueStats: true,
  });
  return {
    buildId,
    status: statusName(r.workerDeploymentVersionInfo?.status),
    taskQueues: (r.versionTaskQueues ?? []).map((q) => ({
      name: q.name ?? '', type: QUEUE_TYPE[q.type ?? 0] ?? String(q.type), backlog: Number(q.stats?.approximateBacklogCount ?? 0),
    })),
  };
}

/** Version B becomes current (buildId '' = unversioned workers). */
export async function setCurrentVersion(client: Client, deploymentName: string, buildId: string, ignoreMissingTaskQueues = false): Promise<void> {
  await client.workflowService.setWorkerDeploymentCurrentVersion({
    namespace: client.options.namespace, deploymentName, buildId, ignoreMissingTaskQueues, identity: 'diffc worker-deployment',
  });
}

export async function setRampingVersion(client: Client, deploymentName: string, buildId: string, percentage: number, ignoreMissingTaskQueues = false): Promise<void> {
  await client.workflowService.setWorkerDeploymentRampingVersion({
    namespace: client.options.namespace, deploymentName, buildId, percentage, ignoreMissingTaskQueues, identity: 'diffc worker-deployment',
  });
}

/** gRPC errors carry the server's reason in `details`; that is what the operator needs. */
function serverMessage(e: unknown): string {
  const x = e as { details?: string; message?: string };
  return x.details || x.message || String(e);
}

export async function workerDeploymentCommand(argv: string[], out: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      ...SERVICE_OPTIONS, 'build-id': { type: 'string' }, 'deployment-name': { type: 'string' }, percent: { type: 'string' },
      'ignore-missing-task-queues': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    out(WORKER_DEPLOYMENT_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...commandFlags(values), positionals });
  const name = a['deployment-name'] ?? (process.env.DIFFC_DEPLOYMENT_NAME || 'diffc');
  const client = await connectClient(serviceConfig(values));
  try {
    const verb = a.positionals[0];
    if (verb === 'set-current') await setCurrentVersion(client, name, a['build-id']!, a['ignore-missing-task-queues']);
    if (verb === 'ramp') await setRampingVersion(client, name, a['build-id']!, a.percent!, a['ignore-missing-task-queues']);
    const report: DeploymentReport & { version?: VersionReport } = await describeDeployment(client, name);
    if (verb === 'describe' && a['build-id']) report.version = await describeVersion(client, name, a['build-id']);
    if (a.json) {
      out(JSON.stringify(report));
    } else {
      out(`deployment ${name}: current ${report.currentBuildId ?? '(unversioned)'}` +
        (report.rampingBuildId ? `, ramping ${report.rampingBuildId} at ${report.rampingPercent} %` : ''));
      for (const v of report.versions) out(`  ${v.buildId}  ${v.status}`);
      for (const q of report.version?.taskQueues ?? []) out(`  ${report.version!.buildId} ${q.type} queue ${q.name}: backlog ${q.backlog}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof e.code === 'number') throw new CliError(`worker-deployment ${a.positionals[0]}: ${serverMessage(e)}`);
    throw e;
  } finally {
    await client.connection.close();
  }
}
