/** Learned entropy coding with cross-device determinism (docs/learned-entropy.md). */
export { EntropyError, type EntropyErrorCode } from './errors.js';
export { cdfTable, quantizeTable, encodeSymbol, decodeSymbol, PRECISION, TOTAL, type CdfTable } from './tables.js';
export { SCALES, BOUNDS, TAIL, scaleIndex, gaussianTable, gaussianTables } from './gaussian-tables.js';
export { GUARD_DEFAULT, GUARD_MIN, GUARD_MAX, guardedBoundary, nearestBoundary } from './guard.js';
export { encodeGaussian, decodeGaussian, type GaussianStats } from './gaussian.js';
export { symbolsCrc } from './symbols.js';
export { encodeFactorized, decodeFactorized, factorizedTables, type FactorizedSpec } from './factorized.js';
export { detExp, detErfc, detPhi } from './det-math.js';
