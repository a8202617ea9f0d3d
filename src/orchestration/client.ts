/**
 * Starting diffc workflows. Inputs are validated here, at the boundary (zod); the job carries
 * the task queue names so its activities go where this deployment's workers poll.
 */
import { Client, Connection, WorkflowIdReusePolicy, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { z } from 'zod';
import { bulkArchive, compressImage, decompressImage } from '../../workflows/index.js';
import { CompressImageInput, DecompressImageInput } from './types.js';
import { BulkArchiveInput } from './bulk-types.js';
import { compressWorkflowId } from './output-key.js';
import { connectionOptions, temporalConfigFromEnv, type TemporalConfig } from './config.js';

export async function connectClient(cfg: TemporalConfig = temporalConfigFromEnv()): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(cfg));
  return new Client({ connection, namespace: cfg.namespace });
}

export interface StartOptions {
  /** Default: one id per output (compress: compressWorkflowId, the id every path into the pipeline
   *  uses, so a second compression of an output is refused while one runs) or per job (bulk). */
  workflowId?: string;
  /** Queue names when the input gives none; default: the environment's (temporalConfigFromEnv). */
  queues?: TemporalConfig['queues'];
  /** REJECT_DUPLICATE makes a second start of a finished id fail (trigger dedupe). */
  reuse?: 'allow' | 'reject';
}

function parseJob<S extends z.ZodTypeAny>(schema: S, input: unknown, queues: TemporalConfig['queues']): z.infer<S> {
  const withQueues = input && typeof input === 'object' && !('queues' in input) ? { ...input, queues } : input;
  return schema.parse(withQueues);
}

const reusePolicy = (o: StartOptions) => (o.reuse === 'reject' ? WorkflowIdReusePolicy.REJECT_DUPLICATE : WorkflowIdReusePolicy.ALLOW_DUPLICATE);

export async function startCompressImage(client: Client, input: unknown, o: StartOptions = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof compressImage>> {
  const job: CompressImageInput = parseJob(CompressImageInput, input, o.queues ?? temporalConfigFromEnv().queues);
  return client.workflow.start(compressImage, {
    args: [job], taskQueue: job.queues.io, workflowId: o.workflowId ?? compressWorkflowId(job.outputStore ?? job.store, job.output),
    workflowIdReusePolicy: reusePolicy(o),
  });
}

export async function startDecompressImage(client: Client, input: unknown, o: StartOptions = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof decompressImage>> {
  const job: DecompressImageInput = parseJob(DecompressImageInput, input, o.queues ?? temporalConfigFromEnv().queues);
  return client.workflow.start(decompressImage, {
    args: [job], taskQueue: job.queues.io, workflowId: o.workflowId ?? `decompress-${job.outputStore ?? job.store}/${job.output}`,
    workflowIdReusePolicy: reusePolicy(o),
  });
}

export async function startBulkArchive(client: Client, input: unknown, o: StartOptions = {}): Promise<WorkflowHandleWithFirstExecutionRunId<typeof bulkArchive>> {
  const job: BulkArchiveInput = parseJob(BulkArchiveInput, input, o.queues ?? temporalConfigFromEnv().queues);
  return client.workflow.start(bulkArchive, {
    args: [job], taskQueue: job.queues.io, workflowId: o.workflowId ?? `bulk-${job.jobId}`,
    workflowIdReusePolicy: reusePolicy(o),
  });
}
