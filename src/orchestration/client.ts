/** Starting and awaiting diffc workflows; inputs are validated here, at the boundary. */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { compressImage } from '../../workflows/index.js';
import { CompressImageInput, type CompressImageResult } from './types.js';
import { temporalConfigFromEnv, type TemporalConfig } from './config.js';

export async function connectClient(cfg: TemporalConfig = temporalConfigFromEnv()): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.address });
  return new Client({ connection, namespace: cfg.namespace });
}

/** Validates the input (zod) and starts compressImage; the workflow id defaults to one per output. */
export async function startCompressImage(
  client: Client, input: unknown, opts: { taskQueue?: string; workflowId?: string } = {},
): Promise<WorkflowHandle<typeof compressImage>> {
  const job = CompressImageInput.parse(input);
  return client.workflow.start(compressImage, {
    args: [job],
    taskQueue: opts.taskQueue ?? temporalConfigFromEnv().taskQueue,
    workflowId: opts.workflowId ?? `compress-${job.output}`,
  });
}

export async function compressImageAndWait(client: Client, input: unknown, opts: { taskQueue?: string; workflowId?: string } = {}): Promise<CompressImageResult> {
  return (await startCompressImage(client, input, opts)).result();
}
