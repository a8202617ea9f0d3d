/** Entropy coding for the .dfc payload: range coder and its models (docs/format.md §2). */
export { RangeEncoder, RangeDecoder, MAX_TOTAL_FREQ, MAX_RAW_BITS } from './range-coder.js';
export {
  StaticModel,
  AdaptiveModel,
  AdaptiveIntCoder,
  intBucket,
  ADAPTIVE_DEFAULT_INCREMENT,
  ADAPTIVE_DEFAULT_LIMIT,
  type AdaptiveModelOptions,
} from './models.js';
