/**
 * The Temporal activity this code runs in, if any: what log lines and per-job metrics are tagged
 * with. Read from the SDK's AsyncLocalStorage, so it costs nothing outside an activity (where
 * Context.current() would throw).
 */
import { asyncLocalStorage } from '@temporalio/activity';

export interface ActivityIds {
  readonly workflowId: string;
  readonly runId: string;
  readonly activityType: string;
  readonly activityId: string;
  readonly attempt: number;
}

export function currentActivity(): ActivityIds | undefined {
  const info = asyncLocalStorage.getStore()?.info;
  if (!info) return undefined;
  return {
    workflowId: info.workflowExecution?.workflowId ?? '',
    runId: info.workflowExecution?.runId ?? '',
    activityType: info.activityType,
    activityId: info.activityId,
    attempt: info.attempt,
  };
}
