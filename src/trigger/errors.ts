import { CodedError } from '../errors.js';

/**
 * The one error type of the trigger receiver. `code` maps to what the HTTP sender is told:
 *   bad-event           the body is not an event we understand, or lacks the object version (400)
 *   sns-subscription    an SNS SubscriptionConfirmation: a person must visit its SubscribeURL (400);
 *                       we never fetch URLs named in a request body
 *   unauthorized        missing or wrong credentials (401)
 *   bucket-not-allowed  an event for a bucket not in the allow-list (403); nothing is started
 *   config              the receiver itself is misconfigured (no secret, no buckets, bad env); raised at startup
 */
export type TriggerErrorCode = 'bad-event' | 'sns-subscription' | 'unauthorized' | 'bucket-not-allowed' | 'config';

export class TriggerError extends CodedError<TriggerErrorCode> {
  override readonly name = 'TriggerError';
}

export function isTriggerError(e: unknown, code?: TriggerErrorCode): e is TriggerError {
  return e instanceof TriggerError && (code === undefined || e.code === code);
}
