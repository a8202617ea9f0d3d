/**
 * Stable Diffusion 1.5 / 2.1 (eps or v prediction) and SDXL (+ optional refiner) on ONNX exports.
 *
 * Timestep convention: the UNet gets the continuous timestep whose alpha-bar equals the request's
 * (timestepFromAlphaBar: log-SNR interpolation in the 1000-step training table), as float32 /
 * float16 when the graph's `timestep` is a float, rounded to the nearest integer when it is
 * int64 / int32. Graphs with a scalar timestep get one call per distinct timestep.
 *
 * Conditioning: SD 1.5 / 2.1 use the text encoder's last_hidden_state. SDXL concatenates the
 * penultimate hidden states of both encoders, with text_encoder_2's text_embeds as the pooled
 * embedding and time_ids (H, W, 0, 0, H, W) for the size the UNet sees: the padded image, or its
 * tile (H, W = the tile's pixels, crop 0, 0) when the latent is tiled. With guidance > 1 each call
 * also runs the unconditional branch and returns u + g (c - u); SD's unconditional embedding is
 * the empty prompt's, SDXL's is zeros (diffusers' force_zeros_for_empty_prompt).
 *
 * Refiner: with refiner_unet and manifest refiner.fromFraction = f, requests whose timestep is
 * below (1 - f) T go to the refiner (diffusers' denoising_end = f on the base, denoising_start = f
 * on the refiner). It conditions on text_encoder_2 alone, with time_ids (H, W, 0, 0, aesthetic 6)
 * (2.5 for the unconditional branch, whose text is the empty prompt's, as diffusers' refiner
 * pipeline does).
 */
import type { DenoiseRequest, LatentShape, NoisePredictor } from '../../codec/model.js';
import type { PredictionKind } from '../../codec/diffusion/prediction.js';
import { timestepFromAlphaBar } from '../../codec/schedule/noise-level.js';
import { ModelError } from '../errors.js';
import type { Conditioning } from '../types.js';
import type { Bundle } from '../bundle.js';
import { OnnxModelBase, groupCalls, isScalar, repeat, stack, type OnnxModelOptions } from './base.js';
import { CLIP_EOS } from './clip-tokenizer.js';
import type { OnnxSession } from './session.js';
import { clipIds, declaredSeqLen, encodeText } from './text.js';

const CLIP_LEN = 77;

/** What one UNet is fed besides sample and timestep, for the conditional and unconditional branch. */
interface UnetCond {
  readonly session: OnnxSession;
  readonly ehs: Float32Array;
  readonly ehsDims: readonly number[];
  readonly pooled?: Float32Array;
  readonly timeIds?: Float32Array;
  readonly uncond?: { readonly ehs: Float32Array; readonly pooled?: Float32Array; readonly timeIds?: Float32Array };
}

/** The text side of a UNet's conditioning (time_ids are per tile size, added by tileNetwork). */
type UnetText = Omit<UnetCond, 'timeIds' | 'uncond'> & { readonly uncond?: Omit<NonNullable<UnetCond['uncond']>, 'timeIds'> };

interface SdText {
  readonly base: UnetText;
  readonly refiner?: UnetText;
}

export class SdModel extends OnnxModelBase<SdText> {
  constructor(bundle: Bundle, opts: OnnxModelOptions = {}) {
    super(bundle, 64, opts);
  }

  private get isXl(): boolean {
    return this.info.family === 'sdxl';
  }

  /** Padding ids: SD 1.x and SDXL's first tokenizer pad with EOS, SD 2.x and SDXL's second with '!' (0). */
  private pad(second: boolean): number {
    if (second) return this.padId('padId2', 0);
    return this.padId('padId', this.info.family === 'sd21' ? 0 : CLIP_EOS);
  }

  private async clipText(role: 'text_encoder' | 'text_encoder_2', prompt: string, hidden: 'last' | 'penultimate') {
    const s = await this.session(role);
    const tok = role === 'text_encoder_2' ? (await this.clipTokenizer('tokenizer_2')) ?? (await this.clipTokenizer()) : await this.clipTokenizer();
    const ids = clipIds(prompt, tok, declaredSeqLen(s, CLIP_LEN), this.pad(role === 'text_encoder_2'));
    return encodeText(s, ids, hidden);
  }

  private zerosCond(hidden: number | undefined, what: string): Float32Array {
    if (!hidden) throw new ModelError('family', `${this.info.id}: no ${what} and no text.hiddenSize in the manifest to make an empty conditioning from`);
    return new Float32Array(CLIP_LEN * hidden);
  }

  protected async makeText(cond: Conditioning): Promise<SdText> {
    const prompt = cond.prompt ?? '';
    const cfg = (cond.guidance ?? 1) > 1;
    const text = this.bundle.manifest.text;
    const unet = await this.session('unet');
    if (!this.isXl) {
      const embed = async (p: string) => this.has('text_encoder') ? (await this.clipText('text_encoder', p, 'last')).hidden.data : this.zerosCond(text?.hiddenSize, 'text_encoder');
      const c = await embed(prompt);
      return { base: { session: unet, ehs: c, ehsDims: [CLIP_LEN, c.length / CLIP_LEN], uncond: cfg ? { ehs: prompt === '' ? c : await embed('') } : undefined } };
    }
    const both = this.has('text_encoder') && this.has('text_encoder_2');
    const e1 = both ? await this.clipText('text_encoder', prompt, 'penultimate') : undefined;
    const e2 = both ? await this.clipText('text_encoder_2', prompt, 'penultimate') : undefined;
    let ehs: Float32Array;
    if (e1 && e2) {
      const h1 = e1.hidden.dims[2], h2 = e2.hidden.dims[2];
      ehs = new Float32Array(CLIP_LEN * (h1 + h2));
      for (let s = 0; s < CLIP_LEN; s++) {
        ehs.set(e1.hidden.data.subarray(s * h1, (s + 1) * h1), s * (h1 + h2));
        ehs.set(e2.hidden.data.subarray(s * h2, (s + 1) * h2), s * (h1 + h2) + h1);
      }
    } else {
      ehs = this.zerosCond(text?.hiddenSize, 'text encoders');
    }
    const pooled = e2?.pooled ?? new Float32Array(text?.pooled ?? 0);
    if (pooled.length === 0) throw new ModelError('family', `${this.info.id}: SDXL needs text_encoder_2's text_embeds or text.pooled in the manifest`);
    const base: UnetText = {
      session: unet, ehs, ehsDims: [CLIP_LEN, ehs.length / CLIP_LEN], pooled,
      uncond: cfg ? { ehs: new Float32Array(ehs.length), pooled: new Float32Array(pooled.length) } : undefined,
    };
    if (!this.has('refiner_unet')) return { base };
    const r = await this.session('refiner_unet');
    const rEhs = e2?.hidden.data ?? new Float32Array(CLIP_LEN * dimOf(r, 'encoder_hidden_states', 2, 'the refiner'));
    // The refiner's pipeline has force_zeros_for_empty_prompt = false: its unconditional branch
    // is text_encoder_2 run on the empty prompt, not zeros (zeros only without text encoders).
    let rUncond: UnetText['uncond'];
    if (cfg) {
      const u2 = both ? (prompt === '' ? e2 : await this.clipText('text_encoder_2', '', 'penultimate')) : undefined;
      rUncond = { ehs: u2?.hidden.data ?? new Float32Array(rEhs.length), pooled: u2?.pooled ?? new Float32Array(pooled.length) };
    }
    return { base, refiner: { session: r, ehs: rEhs, ehsDims: [CLIP_LEN, rEhs.length / CLIP_LEN], pooled, uncond: rUncond } };
  }

  protected async tileNetwork(tile: LatentShape, t: SdText, cond: Conditioning): Promise<NoisePredictor> {
    // SDXL's micro-conditioning describes what the UNet sees: the tile, uncropped.
    const H = tile.height * this.info.downsample, W = tile.width * this.info.downsample;
    const base: UnetCond = this.isXl ? { ...t.base, timeIds: fitTimeIds(t.base.session, Float32Array.from([H, W, 0, 0, H, W])) } : t.base;
    let refiner: UnetCond | undefined;
    if (t.refiner) {
      const r = t.refiner.session;
      refiner = {
        ...t.refiner,
        timeIds: fitTimeIds(r, Float32Array.from([H, W, 0, 0, 6])),
        uncond: t.refiner.uncond ? { ...t.refiner.uncond, timeIds: fitTimeIds(r, Float32Array.from([H, W, 0, 0, 2.5])) } : undefined,
      };
    }
    const refinerBelow = refiner ? (1 - (this.bundle.manifest.refiner?.fromFraction ?? 0.8)) * this.table.length : -1;
    return new SdPredictor(this, tile, base, refiner, refinerBelow, cond.guidance ?? 1, this.maxBatch);
  }
}

function dimOf(s: OnnxSession, input: string, axis: number, what: string): number {
  const d = s.input(input).shape[axis];
  if (typeof d !== 'number') throw new ModelError('family', `${s.path}: cannot tell ${what}'s ${input} size; give text encoders in the bundle`);
  return d;
}

/** time_ids as long as the graph wants them (6 for SDXL base, 5 for the refiner's aesthetic form). */
function fitTimeIds(s: OnnxSession, six: Float32Array): Float32Array | undefined {
  const info = s.inputs.get('time_ids');
  if (!info) return undefined;
  const n = typeof info.shape[1] === 'number' ? info.shape[1] : six.length;
  if (n === six.length) return six;
  if (n === 5 && six.length === 6) return Float32Array.from([six[0], six[1], six[2], six[3], 6]);
  if (n === 6 && six.length === 5) return Float32Array.from([six[0], six[1], six[2], six[3], six[0], six[1]]);
  throw new ModelError('family', `${s.path}: time_ids of size ${n} are not supported`);
}

class SdPredictor implements NoisePredictor {
  readonly id: string;
  readonly hash: Uint8Array;
  readonly prediction: PredictionKind;

  constructor(
    private readonly model: SdModel, readonly latent: LatentShape, private readonly base: UnetCond,
    private readonly refiner: UnetCond | undefined, private readonly refinerBelow: number,
    private readonly guidance: number, readonly maxBatch: number,
  ) {
    this.id = model.info.id;
    this.hash = model.info.hash;
    this.prediction = model.info.prediction;
  }

  async predict(batch: readonly DenoiseRequest[]): Promise<Float32Array[]> {
    const plans = batch.map((r) => {
      const t = timestepFromAlphaBar(this.model.table, r.alphaBar);
      const u = this.refiner && t < this.refinerBelow ? this.refiner : this.base;
      const tIn = u.session.input('timestep');
      const value = tIn.type.startsWith('int') ? Math.round(t) : t;
      return { u, value, key: `${u === this.base ? 'b' : 'r'}:${isScalar(tIn.shape) ? value : ''}` };
    });
    const out: Float32Array[] = new Array(batch.length);
    for (const idx of groupCalls(plans.map((p) => p.key), this.maxBatch)) {
      const preds = await this.call(plans[idx[0]].u, idx.map((i) => batch[i].x), idx.map((i) => plans[i].value));
      idx.forEach((i, j) => { out[i] = preds[j]; });
    }
    return out;
  }

  private async call(u: UnetCond, xs: readonly Float32Array[], ts: readonly number[]): Promise<Float32Array[]> {
    const n = xs.length, cfg = u.uncond !== undefined;
    const m = cfg ? 2 * n : n;
    const { channels: C, height: h, width: w } = this.latent;
    const both = (c: Float32Array, un: Float32Array | undefined) => cfg ? stack([repeat(un ?? c, n), repeat(c, n)]) : repeat(c, n);
    const feeds: Record<string, { data: ArrayLike<number>; dims: readonly number[] }> = {
      sample: { data: cfg ? stack([...xs, ...xs]) : stack(xs), dims: [m, C, h, w] },
      timestep: isScalar(u.session.input('timestep').shape) ? { data: [ts[0]], dims: [] } : { data: cfg ? [...ts, ...ts] : ts, dims: [m] },
      encoder_hidden_states: { data: both(u.ehs, u.uncond?.ehs), dims: [m, ...u.ehsDims] },
    };
    if (u.session.inputs.has('text_embeds') && u.pooled) feeds.text_embeds = { data: both(u.pooled, u.uncond?.pooled), dims: [m, u.pooled.length] };
    if (u.session.inputs.has('time_ids') && u.timeIds) feeds.time_ids = { data: both(u.timeIds, u.uncond?.timeIds), dims: [m, u.timeIds.length] };
    const r = await u.session.run(feeds, ['out_sample']);
    const y = r.out_sample;
    const size = C * h * w;
    if (!y || y.data.length !== m * size) throw new ModelError('family', `${u.session.path}: expected out_sample [${m}, ${C}, ${h}, ${w}], got [${y?.dims.join(', ')}]`);
    return xs.map((_, j) => {
      const c = y.data.slice((cfg ? n + j : j) * size, (cfg ? n + j + 1 : j + 1) * size);
      if (!cfg) return c;
      const un = y.data.subarray(j * size, (j + 1) * size);
      for (let k = 0; k < size; k++) c[k] = un[k] + this.guidance * (c[k] - un[k]);
      return c;
    });
  }
}
