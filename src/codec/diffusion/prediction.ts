/**
 * Converters from what a network predicts to x0-hat and eps-hat at DDPM noise level ab.
 *   eps:  x0 = (x - sqrt(1-ab) eps) / sqrt(ab)
 *   v:    v = sqrt(ab) eps - sqrt(1-ab) x0  =>  x0 = sqrt(ab) x - sqrt(1-ab) v     (Salimans & Ho 2022)
 *   x0:   as is
 *   flow: velocity v = eps - x0 of x_f = (1-s) x0 + s eps, with x_f = x * sqrt((1-s)^2 + s^2)
 *         =>  x0 = x_f - s v                                                     (appendix A.3)
 */
import { flowInputScale, flowSigmaFromAlphaBar } from '../schedule/noise-level.js';

export type PredictionKind = 'eps' | 'v' | 'x0' | 'flow';

export function x0FromPrediction(kind: PredictionKind, pred: Float32Array, x: Float32Array, ab: number, out = new Float32Array(x.length)): Float32Array {
  switch (kind) {
    case 'eps': {
      const a = 1 / Math.sqrt(ab), b = Math.sqrt(1 - ab) / Math.sqrt(ab);
      for (let i = 0; i < x.length; i++) out[i] = a * x[i] - b * pred[i];
      return out;
    }
    case 'v': {
      const a = Math.sqrt(ab), b = Math.sqrt(1 - ab);
      for (let i = 0; i < x.length; i++) out[i] = a * x[i] - b * pred[i];
      return out;
    }
    case 'x0':
      out.set(pred);
      return out;
    case 'flow': {
      const s = flowSigmaFromAlphaBar(ab), scale = flowInputScale(s);
      for (let i = 0; i < x.length; i++) out[i] = scale * x[i] - s * pred[i];
      return out;
    }
  }
}

/** eps-hat implied by x0-hat at level ab: eps = (x - sqrt(ab) x0) / sqrt(1-ab). */
export function epsFromX0(x0: Float32Array, x: Float32Array, ab: number, out = new Float32Array(x.length)): Float32Array {
  const a = Math.sqrt(ab), b = 1 / Math.sqrt(1 - ab);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - a * x0[i]) * b;
  return out;
}

/** The flow-model input (flow-form latent and flow time) for a DDPM-form latent at level ab. */
export function flowInput(x: Float32Array, ab: number): { x: Float32Array; sigma: number } {
  const s = flowSigmaFromAlphaBar(ab), scale = flowInputScale(s);
  return { x: x.map((v) => v * scale), sigma: s };
}
