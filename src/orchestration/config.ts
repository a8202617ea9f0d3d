/** Where the worker and client connect: the same TEMPORAL_* names the Temporal CLI reads. */
export const TASK_QUEUE = 'diffc-compress';

export interface TemporalConfig {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.DIFFC_TASK_QUEUE ?? TASK_QUEUE,
  };
}
