/**
 * Flux-dev on an ONNX export of FluxTransformer2DModel (rectified flow, velocity prediction).
 *
 * Latents: the 16-channel VAE latent z becomes (z - shift) * scale (0.1159, 0.3611 for Flux); the
 * transformer sees it packed in 2x2 patches, token (i, j) = row-major over the (h/2) x (w/2) grid,
 * feature c*4 + 2*di + dj (diffusers' _pack_latents), with img_ids (0, i, j) and txt_ids zeros.
 * A tiled latent's tiles start on even cells and each gets tile-local img_ids (as if it were a
 * whole image of the tile's size).
 *
 * Noise level: a request at alpha-bar ab is the flow state at sigma s = flowSigmaFromAlphaBar(ab)
 * (same SNR), whose latent is the DDPM-form one times flowInputScale(s); the transformer's
 * `timestep` input is s itself (FluxPipeline passes timestep / 1000; the model scales by 1000
 * inside). The predictor returns the velocity unpacked, prediction 'flow', which the codec core
 * turns into x0 (prediction.ts). `guidance` is Flux-dev's distilled guidance (default 3.5), fed
 * as is; there is no classifier-free second branch.
 *
 * Text: CLIP (text_encoder) pooler_output -> pooled_projections, T5 (text_encoder_2)
 * last_hidden_state -> encoder_hidden_states; T5 ids from tokenizer_2/tokenizer.json when the
 * bundle has it, else only the empty prompt; without encoders, zeros of the manifest's text sizes.
 */
import type { DenoiseRequest, LatentShape, NoisePredictor } from '../../codec/model.js';
import { flowInputScale, flowSigmaFromAlphaBar } from '../../codec/schedule/noise-level.js';
import { ModelError } from '../errors.js';
import type { Conditioning } from '../types.js';
import type { Bundle } from '../bundle.js';
import { OnnxModelBase, groupCalls, isScalar, repeat, stack, type OnnxModelOptions } from './base.js';
import { CLIP_EOS } from './clip-tokenizer.js';
import type { OnnxSession } from './session.js';
import { clipIds, declaredSeqLen, encodeText, t5Ids } from './text.js';

export const FLUX_DEFAULT_GUIDANCE = 3.5;

/** [C, h, w] -> [(h/2)(w/2), 4C]. */
export function packLatent(x: Float32Array, C: number, h: number, w: number, scale = 1): Float32Array {
  const h2 = h / 2, w2 = w / 2, out = new Float32Array(x.length);
  for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) {
    const base = (i * w2 + j) * 4 * C;
    for (let c = 0; c < C; c++) for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) {
      out[base + c * 4 + di * 2 + dj] = scale * x[(c * h + 2 * i + di) * w + 2 * j + dj];
    }
  }
  return out;
}

/** Inverse of packLatent. */
export function unpackLatent(p: ArrayLike<number>, C: number, h: number, w: number): Float32Array {
  const h2 = h / 2, w2 = w / 2, out = new Float32Array(C * h * w);
  for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) {
    const base = (i * w2 + j) * 4 * C;
    for (let c = 0; c < C; c++) for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) {
      out[(c * h + 2 * i + di) * w + 2 * j + dj] = p[base + c * 4 + di * 2 + dj];
    }
  }
  return out;
}

export function imageIds(h: number, w: number): Float32Array {
  const h2 = h / 2, w2 = w / 2, ids = new Float32Array(h2 * w2 * 3);
  for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) {
    ids[(i * w2 + j) * 3 + 1] = i;
    ids[(i * w2 + j) * 3 + 2] = j;
  }
  return ids;
}

interface FluxText {
  readonly pooled: Float32Array;
  readonly hidden: Float32Array;
  readonly seq: number;
}

export class FluxModel extends OnnxModelBase<FluxText> {
  constructor(bundle: Bundle, opts: OnnxModelOptions = {}) {
    super(bundle, 16, opts);
  }

  protected async makeText(cond: Conditioning): Promise<FluxText> {
    const prompt = cond.prompt ?? '';
    const text = this.bundle.manifest.text;
    let pooled: Float32Array, hidden: Float32Array, seq: number;
    if (this.has('text_encoder')) {
      const s = await this.session('text_encoder');
      const ids = clipIds(prompt, await this.clipTokenizer(), declaredSeqLen(s, 77), this.padId('padId', CLIP_EOS));
      const e = await encodeText(s, ids, 'last');
      if (!e.pooled) throw new ModelError('family', `${s.path}: no pooler_output for Flux's pooled_projections`);
      pooled = e.pooled;
    } else {
      if (!text?.pooled) throw new ModelError('family', `${this.info.id}: no text_encoder and no text.pooled in the manifest`);
      pooled = new Float32Array(text.pooled);
    }
    if (this.has('text_encoder_2')) {
      const s = await this.session('text_encoder_2');
      const e = await encodeText(s, t5Ids(prompt, declaredSeqLen(s, text?.maxLength ?? 512), await this.t5Tokenizer()), 'last');
      hidden = e.hidden.data;
      seq = e.hidden.dims[1];
    } else {
      if (!text?.hiddenSize) throw new ModelError('family', `${this.info.id}: no text_encoder_2 and no text.hiddenSize in the manifest`);
      if (prompt !== '') throw new ModelError('family', `${this.info.id}: no text_encoder_2, so only the empty prompt is supported`);
      seq = text.maxLength;
      hidden = new Float32Array(seq * text.hiddenSize);
    }
    return { pooled, hidden, seq };
  }

  protected async tileNetwork(tile: LatentShape, text: FluxText, cond: Conditioning): Promise<NoisePredictor> {
    return new FluxPredictor(this, tile, await this.session('transformer'), text, cond.guidance ?? FLUX_DEFAULT_GUIDANCE, this.maxBatch);
  }
}

class FluxPredictor implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly prediction = 'flow' as const;
  private readonly imgIds: Float32Array;

  constructor(
    model: FluxModel, readonly latent: LatentShape, private readonly s: OnnxSession,
    private readonly text: FluxText,
    private readonly guidance: number, readonly maxBatch: number,
  ) {
    this.id = model.info.id;
    this.hash = model.info.hash;
    if (latent.height % 2 || latent.width % 2) throw new RangeError('Flux latents must have even height and width');
    this.imgIds = imageIds(latent.height, latent.width);
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    const sigmas = batch.map((r) => flowSigmaFromAlphaBar(r.alphaBar));
    const scalar = isScalar(this.s.input('timestep').shape);
    const out: Float32Array[] = new Array(batch.length);
    for (const idx of groupCalls(sigmas.map((s) => (scalar ? String(s) : '')), this.maxBatch)) {
      const preds = await this.call(idx.map((i) => batch[i].x), idx.map((i) => sigmas[i]));
      idx.forEach((i, j) => { out[i] = preds[j]; });
    }
    return out;
  }

  private async call(xs: readonly Float32Array[], sigmas: readonly number[]): Promise<Float32Array[]> {
    const { channels: C, height: h, width: w } = this.latent;
    const n = xs.length, tokens = (h / 2) * (w / 2), feat = 4 * C;
    const hiddenSize = this.text.hidden.length / this.text.seq;
    const feeds: Record<string, { data: ArrayLike<number>; dims: readonly number[] }> = {
      hidden_states: { data: stack(xs.map((x, j) => packLatent(x, C, h, w, flowInputScale(sigmas[j])))), dims: [n, tokens, feat] },
      encoder_hidden_states: { data: repeat(this.text.hidden, n), dims: [n, this.text.seq, hiddenSize] },
      pooled_projections: { data: repeat(this.text.pooled, n), dims: [n, this.text.pooled.length] },
      timestep: isScalar(this.s.input('timestep').shape) ? { data: [sigmas[0]], dims: [] } : { data: sigmas, dims: [n] },
      img_ids: { data: this.imgIds, dims: [tokens, 3] },
      txt_ids: { data: new Float32Array(this.text.seq * 3), dims: [this.text.seq, 3] },
    };
    // Older exports (diffusers < 0.31) carry a batch axis on the position ids.
    if (this.s.input('img_ids').shape.length === 3) {
      feeds.img_ids = { data: repeat(this.imgIds, n), dims: [n, tokens, 3] };
      feeds.txt_ids = { data: new Float32Array(n * this.text.seq * 3), dims: [n, this.text.seq, 3] };
    }
    if (this.s.inputs.has('guidance')) feeds.guidance = { data: new Array<number>(n).fill(this.guidance), dims: [n] };
    const r = await this.s.run(feeds);
    const y = r.out_hidden_states ?? Object.values(r)[0];
    if (!y || y.data.length !== n * tokens * feat) throw new ModelError('family', `${this.s.path}: expected out_hidden_states [${n}, ${tokens}, ${feat}], got [${y?.dims.join(', ')}]`);
    return xs.map((_, j) => unpackLatent(y.data.subarray(j * tokens * feat, (j + 1) * tokens * feat), C, h, w));
  }
}
