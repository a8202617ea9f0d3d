/**
 * Which activity errors are worth retrying. A bad input (not an image, too large, missing object,
 * corrupt .dfc, bad model, invalid parameters, a quality target's tool missing) fails the same way every time: it becomes a
 * non-retryable ApplicationFailure whose type names the error and code, so the workflow (and a
 * bulk job's manifest) records it at once instead of after every retry. Everything else (the
 * store unavailable, a worker crash, ONNX runtime trouble) is retried by Temporal.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { ZodError } from 'zod';
import { ImageError } from '../src/image/errors.js';
import { StorageError } from '../src/storage/index.js';
import { DfcError } from '../src/codec/format/errors.js';
import { ModelError } from '../src/models/errors.js';
import { EntropyError } from '../src/codec/entropy/learned/index.js';
import { ToolUnavailableError } from '../src/eval/tools.js';
import { metrics } from '../src/orchestration/runtime.js';
import { activityStarted, type ActivityResult } from '../src/orchestration/metrics.js';
import { currentActivity } from '../src/orchestration/activity-context.js';

const PERMANENT_STORAGE = new Set(['not-found', 'invalid', 'auth', 'exists', 'changed']);
// non-finite: the same graph gives the same NaN on every retry.
const PERMANENT_MODEL = new Set(['not-found', 'manifest', 'checksum', 'family', 'non-finite']);

export function permanentFailure(e: unknown): ApplicationFailure | undefined {
  const fail = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true, cause: e as Error });
  if (e instanceof ImageError) return fail(`ImageError:${e.code}`, e.message);
  if (e instanceof DfcError) return fail(`DfcError:${e.code}`, e.message);
  // A coded condition that does not decode (corrupt, or outside the stream's tolerance) decodes the same way on a retry.
  if (e instanceof EntropyError) return fail(`EntropyError:${e.code}`, e.message);
  if (e instanceof StorageError && PERMANENT_STORAGE.has(e.code)) return fail(`StorageError:${e.code}`, e.message);
  if (e instanceof ModelError && PERMANENT_MODEL.has(e.code)) return fail(`ModelError:${e.code}`, e.message);
  // Workers of one deployment share an image: another attempt would find the tool missing too.
  if (e instanceof ToolUnavailableError) return fail('ToolUnavailable', e.message);
  if (e instanceof ZodError) return fail('InvalidInput', e.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; '));
  return undefined;
}

/**
 * Runs an activity body with in-flight accounting (worker totals, and by activity type), its
 * duration and result, and the permanent/transient split above. Per-job gauges the body set are
 * removed when it ends.
 */
export async function activity<T>(f: () => Promise<T>): Promise<T> {
  metrics.activitiesInFlight++;
  metrics.activitiesTotal++;
  const ended = activityStarted(currentActivity()?.activityType ?? 'unknown');
  let result: ActivityResult = 'ok';
  try {
    return await f();
  } catch (e) {
    metrics.activityFailures++;
    const permanent = permanentFailure(e);
    const nonRetryable = permanent ?? (e instanceof ApplicationFailure && e.nonRetryable ? e : undefined);
    result = e instanceof CancelledFailure ? 'cancelled' : nonRetryable ? 'permanent' : 'retryable';
    throw permanent ?? e;
  } finally {
    metrics.activitiesInFlight--;
    ended(result);
  }
}
