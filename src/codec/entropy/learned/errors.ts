import { CodedError } from '../../../errors.js';

/** corrupt: not a valid stream; desync: the decoder's entropy parameters are outside the stream's tolerance. */
export type EntropyErrorCode = 'corrupt' | 'desync' | 'invalid';

export class EntropyError extends CodedError<EntropyErrorCode> {
  override readonly name = 'EntropyError';
}
