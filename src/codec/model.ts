/**
 * The codec's view of a diffusion model: an async, batched noise predictor in the DDPM
 * parameterisation. Adapters (src/models/) wrap real networks; test/analytic models implement it
 * directly. Nothing here knows about ONNX or GPUs.
 */
import { x0FromPrediction, type PredictionKind } from './diffusion/prediction.js';

export interface LatentShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface DenoiseRequest {
  /** DDPM-form noisy latent, flattened NCHW. */
  readonly x: Float32Array;
  /** Noise level alpha-bar in (0, 1). */
  readonly alphaBar: number;
}

export interface NoisePredictor {
  readonly id: string;
  /** First 8 bytes of the model's content sha256: encoder and decoder must agree on it. */
  readonly hash: Uint8Array;
  readonly latent: LatentShape;
  readonly prediction: PredictionKind;
  /** Largest batch one predict() call should receive. */
  readonly maxBatch: number;
  predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]>;
  /**
   * E[x0] under the model's prior, used at alpha-bar = 0 (defaults to zeros). May be computed on
   * demand (a one-step model's decode of its condition runs only when a reconstruction needs it).
   */
  priorMean?(): Float32Array | Promise<Float32Array>;
}

export function latentSize(s: LatentShape): number {
  return s.channels * s.height * s.width;
}

/** x0-hat for a batch, splitting into maxBatch-sized calls; ab = 0 gives the prior mean. */
export async function predictX0(model: NoisePredictor, batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
  const out: Float32Array[] = new Array(batch.length);
  const live: number[] = [];
  for (const [i, r] of batch.entries()) {
    if (r.alphaBar === 0) out[i] = model.priorMean ? await model.priorMean() : new Float32Array(r.x.length);
    else live.push(i);
  }
  for (let start = 0; start < live.length; start += model.maxBatch) {
    const idx = live.slice(start, start + model.maxBatch);
    const preds = await model.predict(idx.map((i) => batch[i]));
    idx.forEach((i, j) => {
      out[i] = x0FromPrediction(model.prediction, preds[j], batch[i].x, batch[i].alphaBar);
    });
  }
  return out;
}
