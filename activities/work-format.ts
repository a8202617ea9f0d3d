/**
 * Versions of what one build hands another: the objects in a run's work folder (job info, chain
 * and decode checkpoints) and the activity inputs a workflow schedules. During a rollout an old
 * worker can meet a newer build's work folder or input (an unversioned deployment, or a pinned
 * run's activity retried after its build was scaled away): it must refuse it with a clear error,
 * never read it as its own format and write wrong bytes. The refusal is retryable, so the
 * attempt goes back to the queue where a worker of the newer build takes it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ACTIVITY_INPUT_FORMAT } from '../src/orchestration/types.js';

/** The newest format of each kind this build writes and reads (absent version in a stored object: 1). */
export const WORK_FORMATS = { job: 1, chain: 1, decode: 1, input: ACTIVITY_INPUT_FORMAT } as const;
export type WorkKind = keyof typeof WORK_FORMATS;

export const UNSUPPORTED_VERSION = 'UnsupportedVersion';

/** Throws the refusal when `version` (absent: 1) is not one this build understands. */
export function checkFormat(kind: WorkKind, version: unknown, where: string): void {
  const v = version ?? 1;
  if (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= WORK_FORMATS[kind]) return;
  throw ApplicationFailure.create({
    type: UNSUPPORTED_VERSION,
    message: `${where}: ${kind} format ${JSON.stringify(v)} is not one this worker understands (it reads ${kind} formats 1-${WORK_FORMATS[kind]}); `
      + 'a newer build wrote it, so a worker of that build must take this activity (see docs/deploy.md, "Rolling out a new build")',
  });
}

/** A stored work object parsed and its format checked. */
export function readWork<T extends { version?: number }>(kind: WorkKind, bytes: Uint8Array, key: string): T {
  let v: T;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw ApplicationFailure.nonRetryable(`${key}: the work object is not JSON (${(e as Error).message})`, 'CorruptWork');
  }
  checkFormat(kind, v.version, key);
  return v;
}

/** An activity input's format checked (inputs carry `format`; absent: scheduled by a build before formats). */
export function checkInput(input: { readonly format?: number }, activity: string): void {
  checkFormat('input', input.format, `${activity} input`);
}
