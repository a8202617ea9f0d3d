/**
 * `diffc work gc <store>`: removes the work folders of compressImage runs that are closed.
 * Cancelled, failed and superseded runs clean up after themselves; a terminated run (or one
 * whose clean-up failed) cannot, and its folder stays under _diffc-work/. Each folder's run.json
 * names its run; Temporal says whether that run is still open. A bucket lifecycle rule on
 * _diffc-work/ does the same without Temporal, by age (docs/deploy.md).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { connectClient } from '../orchestration/client.js';
import { WORK_ROOT } from '../orchestration/types.js';
import { openStore, s3ConfigFromEnv, isStorageError, type ObjectStore } from '../storage/index.js';
import { deleteWorkFolder, type WorkRunInfo } from '../../activities/compress.js';
import { parseOrUsage, type Print } from './args.js';
import { commandFlags, SERVICE_HELP, SERVICE_OPTIONS, serviceConfig } from './service-flags.js';

export const WORK_HELP = `diffc work gc <store-url> [--dry-run] [--json]

Removes work folders (<store>/_diffc-work/<output hash>/<run id>/) whose compressImage run is
closed (completed, failed, cancelled, terminated, timed out, continued as new, or gone from
Temporal's retention). Folders of running runs are kept, and so are folders without a run.json
(being written, or not ours), which are listed as unknown. Give the store the outputs go to:
s3://bucket, s3://bucket/prefix, file:///dir or a local directory.

  --dry-run       list what would be removed; remove nothing
  --json          one JSON object on stdout: folders, removed, running, unknown
${SERVICE_HELP}
`;

const Args = z.object({
  positionals: z.tuple([z.literal('gc'), z.string().min(1)], { message: 'usage: diffc work gc <store-url>' }),
  'dry-run': z.boolean().default(false),
  json: z.boolean().default(false),
}).strict();

export interface WorkGcReport {
  readonly folders: number;
  readonly removed: string[];
  readonly running: string[];
  readonly unknown: string[];
}

/** Groups every key under WORK_ROOT by its run folder (`_diffc-work/<hash>/<run id>/`). */
async function runFolders(store: ObjectStore): Promise<Map<string, string[]>> {
  const folders = new Map<string, string[]>();
  for await (const e of store.list(WORK_ROOT)) {
    const m = /^(_diffc-work\/[^/]+\/[^/]+\/)/.exec(e.key);
    if (!m) continue;
    folders.set(m[1], [...(folders.get(m[1]) ?? []), e.key]);
  }
  return folders;
}

async function runIsOpen(client: Client, info: WorkRunInfo): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(info.workflowId, info.runId).describe();
    return d.status.name === 'RUNNING';
  } catch (e) {
    // Past the namespace's retention: closed long ago.
    if (e instanceof WorkflowNotFoundError) return false;
    throw e;
  }
}

const RunInfo = z.object({ version: z.literal(1), workflowId: z.string().min(1), runId: z.string().min(1) }).passthrough();

/** The collection itself (what the command runs; tests call it with their own store and client). */
export async function gcWork(store: ObjectStore, client: Client, opts: { dryRun?: boolean } = {}): Promise<WorkGcReport> {
  const all = await runFolders(store);
  const report: WorkGcReport = { folders: all.size, removed: [], running: [], unknown: [] };
  for (const [folder, keys] of all) {
    let info: WorkRunInfo | undefined;
    if (keys.includes(`${folder}run.json`)) {
      try {
        const parsed = RunInfo.safeParse(JSON.parse(new TextDecoder().decode(await store.get(`${folder}run.json`))));
        if (parsed.success) info = parsed.data as unknown as WorkRunInfo;
      } catch (e) {
        // Removed meanwhile by its own run's clean-up, or not JSON: not ours to judge.
        if (!isStorageError(e, 'not-found') && !(e instanceof SyntaxError)) throw e;
      }
    }
    if (!info || !folder.endsWith(`/${info.runId}/`)) {
      report.unknown.push(folder);
      continue;
    }
    if (await runIsOpen(client, info)) {
      report.running.push(folder);
      continue;
    }
    if (!opts.dryRun) await deleteWorkFolder(store, folder);
    report.removed.push(folder);
  }
  return report;
}

function storeUrl(s: string): string {
  return /^(s3|file):\/\//.test(s) ? s : pathToFileURL(resolve(s)).href;
}

export async function workCommand(argv: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, ...SERVICE_OPTIONS, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length === 0) {
    out(WORK_HELP);
    return 0;
  }
  const a = parseOrUsage(Args, { ...commandFlags(values), positionals });
  const cfg = serviceConfig(values);
  const store = openStore(storeUrl(a.positionals[1]), { s3: s3ConfigFromEnv() });
  const client = await connectClient(cfg);
  try {
    const r = await gcWork(store, client, { dryRun: a['dry-run'] });
    if (a.json) out(JSON.stringify(r));
    else {
      for (const f of r.removed) out(`${a['dry-run'] ? 'would remove' : 'removed'} ${f}`);
      err(`${r.folders} work folders: ${r.removed.length} ${a['dry-run'] ? 'to remove' : 'removed'}, ${r.running.length} of running runs, ${r.unknown.length} unknown`);
    }
    return 0;
  } finally {
    store.close();
    await client.connection.close();
  }
}
