import { CodedError } from '../errors.js';

/**
 * The one error type of the trigger receiver. `code` maps to what the HTTP sender is told:
 *   bad-event         the body is not an event we understand, or lacks what dedupe needs (400)
 *   sns-subscription  an SNS SubscriptionConfirmation: a person must visit its SubscribeURL (400);
 *                     we never fetch URLs named in a request body
 *   unauthorized      missing or wrong credentials (401)
 *   config            the receiver itself is misconfigured (no secret, bad env); raised at startup
 */
export type TriggerErrorCode = 'bad-event' | 'sns-subscription' | 'unauthorized' | 'config';

export class TriggerError extends CodedError<TriggerErrorCode> {
  override readonly name = 'TriggerError';
}

export function isTriggerError(e: unknown, code?: TriggerErrorCode): e is TriggerError {
  return e instanceof TriggerError && (code === undefined || e.code === code);
}
