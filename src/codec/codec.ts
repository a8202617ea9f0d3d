/**
 * The codec's public face: latents in, .dfc bytes out, and back. Everything a decoder needs
 * besides the model and the named schedule travels in the header (docs/format.md §3–§4).
 */
import { ByteReader, ByteWriter } from './format/bytes.js';
import { DfcError, readDfc, writeDfc, type DfcConditioning, type DfcHeader } from './format/index.js';
import { CodingParams, validatePlan, type ChunkPlan } from './chain/chunk-plan.js';
import { encodeChains, decodeChains, type StopRule, type StepEvent, type EncodedChain } from './chain/run.js';
import { alphaBarBefore } from './chain/chain-step.js';
import { assemblePayload, PayloadReader } from './chain/payload.js';
import { protocolPlan } from './chain/encoder.js';
import type { ChainConfig, StepRecord } from './chain/chain-config.js';
import type { CodingSchedule } from './schedule/timesteps.js';
import { latentSize, type NoisePredictor } from './model.js';
import type { RccBackend } from './rcc/select.js';
import { reconstructBatch, type ReconMethod } from './diffusion/reconstruct.js';

/** Version 1: plan deltas below 2^17; version 2: the same fields, plan deltas up to 2^32 (wideDeltas). */
const CODING_BLOB_VERSIONS = [1, 2];

/** Codec parameters as the header's coding blob: varints (docs/format.md §4.1). */
export function encodeCodingBlob(p: CodingParams, usesProtocol: boolean): Uint8Array {
  const w = new ByteWriter();
  w.varint(p.wideDeltas ? 2 : 1);
  w.varint(p.maxChunkBits);
  w.varint(p.paddingQuarterBits >= 0 ? 2 * p.paddingQuarterBits : -2 * p.paddingQuarterBits - 1);
  w.varint(p.chunkKlQuarterBits);
  w.varint((p.sideInfo === 'protocol' ? 1 : 0) | (usesProtocol ? 2 : 0));
  w.varint(p.targetStdPercent);
  return w.finish();
}

export function decodeCodingBlob(blob: Uint8Array): { params: CodingParams; usesProtocol: boolean } {
  const r = new ByteReader(blob);
  const version = r.varint('coding.version');
  if (!CODING_BLOB_VERSIONS.includes(version)) throw new DfcError('version', `coding parameters version ${version} is not supported (expected ${CODING_BLOB_VERSIONS.join(' or ')})`);
  const maxChunkBits = r.varint('coding.maxChunkBits');
  const z = r.varint('coding.padding');
  const chunkKlQuarterBits = r.varint('coding.chunkKl');
  const flags = r.varint('coding.flags');
  const targetStdPercent = r.varint('coding.targetStd');
  const parsed = CodingParams.safeParse({
    maxChunkBits, paddingQuarterBits: z & 1 ? -(z + 1) / 2 : z / 2, chunkKlQuarterBits,
    sideInfo: flags & 1 ? 'protocol' : 'coded', targetStdPercent, wideDeltas: version === 2,
  });
  if (!parsed.success || flags > 3) throw new DfcError('corrupt', `invalid coding parameters: ${parsed.success ? `flags ${flags}` : parsed.error.issues[0].message}`);
  return { params: parsed.data, usesProtocol: (flags & 2) !== 0 };
}

export interface CompressJob {
  readonly latent: Float32Array;
  readonly image: { width: number; height: number; channels: number };
  readonly seed: { lo: number; hi: number };
  readonly stop?: StopRule;
  readonly prompt?: string;
  /** A conditional model's coded condition, written to the header (docs/format.md §3.9). */
  readonly condition?: Uint8Array;
}

export interface CompressSettings {
  readonly schedule: CodingSchedule;
  readonly params: CodingParams;
  readonly recon: { method: ReconMethod; steps: number };
  /**
   * The guidance the model was bound to (written to the header, docs/format.md §3.8): the chain's
   * predictor must run with `guidance`, the reconstruction's with `denoiseGuidance`. The pipeline
   * always gives it; without it the header has no conditioning field and decoders use the
   * family's legacy values (what a predictor bound to no guidance computes).
   */
  readonly conditioning?: DfcConditioning;
  readonly backend: RccBackend;
  /** The model's protocol plans for this schedule (needed for sideInfo 'protocol'; improves 'coded'). */
  readonly protocol?: readonly ChunkPlan[];
  readonly onStep?: (e: StepEvent) => void;
}

export interface Compressed {
  readonly bytes: Uint8Array;
  readonly header: DfcHeader;
  readonly chain: EncodedChain;
}

/** What a .dfc header is made of; dfcHeader fills in the rest the same way for every writer. */
export interface HeaderFields {
  readonly model: { readonly id: string; readonly hash: Uint8Array; readonly latent: { channels: number; height: number; width: number } };
  readonly image: { width: number; height: number; channels: number };
  readonly seed: { lo: number; hi: number };
  readonly schedule: { readonly id: string; readonly hash: Uint8Array };
  readonly recon: { method: ReconMethod; steps: number };
  readonly coding: Uint8Array;
  readonly stepsCoded: number;
  /** An empty prompt is no prompt (the model conditions on '' either way). */
  readonly prompt?: string;
  readonly conditioning?: DfcConditioning;
  readonly condition?: Uint8Array;
}

/** The header of a new file: compressLatents, the compressImage activities and the bpp budget all build it here. */
export function dfcHeader(f: HeaderFields): DfcHeader {
  return {
    version: 1,
    model: { id: f.model.id, hash: f.model.hash },
    image: f.image,
    latent: { channels: f.model.latent.channels, height: f.model.latent.height, width: f.model.latent.width },
    schedule: { id: f.schedule.id, hash: f.schedule.hash },
    seed: { lo: f.seed.lo >>> 0, hi: f.seed.hi >>> 0 },
    recon: f.recon,
    coding: f.coding,
    stepsCoded: f.stepsCoded,
    ...(f.prompt ? { prompt: f.prompt } : {}),
    ...(f.conditioning ? { conditioning: { guidance: f.conditioning.guidance, denoiseGuidance: f.conditioning.denoiseGuidance } } : {}),
    ...(f.condition ? { condition: f.condition } : {}),
  };
}

export function chainConfig(s: Pick<CompressSettings, 'schedule' | 'params' | 'protocol'>, seed: { lo: number; hi: number }): ChainConfig {
  return { schedule: s.schedule, params: s.params, key: { seedLo: seed.lo >>> 0, seedHi: seed.hi >>> 0 }, protocol: s.protocol };
}

/**
 * Where an encode stands, resumable from here with the same latent and settings: the steps coded
 * so far and the chain's latent after them. `complete`: nothing more will be coded under the
 * job's stop rule (schedule end, step count, timestep, or the next step did not fit the budget).
 */
export interface EncodeState {
  readonly step: number;
  readonly records: readonly StepRecord[];
  readonly state: Float32Array | null;
  readonly complete: boolean;
}

export interface EncodeRange {
  /** Code no further than this step index in this call (the job's stop rule still applies). */
  readonly to?: number;
  /** Asked between steps: true pauses where the chain is (a checkpoint due, a drain, a cancel). */
  readonly pause?: () => boolean;
  readonly onStep?: (e: StepEvent) => void;
}

/** The start of every encode: no steps, the prior. */
export const ENCODE_START: EncodeState = { step: 0, records: [], state: null, complete: false };

function checkJobs(model: NoisePredictor, jobs: readonly { latent: Float32Array }[], s: Pick<CompressSettings, 'params' | 'protocol'>): void {
  const dims = latentSize(model.latent);
  for (const j of jobs) if (j.latent.length !== dims) throw new RangeError(`latent has ${j.latent.length} values, model expects ${dims}`);
  if (s.params.sideInfo === 'protocol' && !s.protocol) throw new RangeError("sideInfo 'protocol' needs the model's protocol plans");
}

/** Whether a chain at `step` is over under its stop rule (the budget is judged by the driver). */
function stopRuleReached(schedule: CodingSchedule, step: number, stop: StopRule | undefined): boolean {
  if (step >= schedule.timesteps.length) return true;
  if (stop?.steps !== undefined && step >= stop.steps) return true;
  return stop?.timestep !== undefined && step > 0 && schedule.timesteps[step - 1] <= stop.timestep;
}

/**
 * Codes each job's chain from its state (default: the start) until its stop rule, `range.to`, or
 * `range.pause`. Resuming a state gives exactly the steps one uninterrupted call would have coded,
 * so a chain coded in any split of ranges makes the same file (finishEncode).
 */
export async function encodeRange(
  model: NoisePredictor, jobs: readonly (CompressJob & { readonly from?: EncodeState })[], s: CompressSettings, range: EncodeRange = {},
): Promise<EncodeState[]> {
  checkJobs(model, jobs, s);
  const todo = jobs.map((j) => ({ j, from: j.from ?? ENCODE_START }));
  const chains = await encodeChains(model, todo.map(({ j, from }) => ({
    x0: j.latent, cfg: chainConfig(s, j.seed),
    resume: from.step > 0 ? { step: from.step, records: from.records, state: from.state } : undefined,
    // A complete chain codes nothing more: its stop is where it is.
    stop: { ...j.stop, steps: from.complete ? from.step : Math.min(j.stop?.steps ?? Infinity, range.to ?? Infinity), pause: range.pause },
  })), s.backend, range.onStep ?? s.onStep);
  return chains.map((c, i) => ({
    step: c.records.length, records: c.records, state: c.state,
    complete: todo[i].from.complete || c.budgetSpent || stopRuleReached(s.schedule, c.records.length, jobs[i].stop),
  }));
}

/** The .dfc of an encode's steps so far (complete or not: every prefix is a valid file). */
export function finishEncode(model: NoisePredictor, job: Omit<CompressJob, 'latent' | 'stop'>, s: Omit<CompressSettings, 'backend' | 'onStep'>, st: EncodeState): Compressed {
  const dims = latentSize(model.latent);
  const { bytes: payload, bitsPerStep } = assemblePayload(s.params, dims, st.records, s.protocol);
  const header = dfcHeader({
    model, image: job.image, seed: job.seed, schedule: s.schedule, recon: s.recon,
    coding: encodeCodingBlob(s.params, s.protocol !== undefined), stepsCoded: st.records.length,
    prompt: job.prompt, conditioning: s.conditioning, condition: job.condition,
  });
  const n = st.records.length;
  const chain: EncodedChain = {
    records: st.records, payload, bitsPerStep, state: st.state, alphaBar: n === 0 ? 0 : s.schedule.alphaBars[n - 1], budgetSpent: st.complete,
  };
  return { bytes: writeDfc({ header, payload }), header, chain };
}

/** One pass: encodeRange from the start to each job's stop rule, then finishEncode. */
export async function compressLatents(model: NoisePredictor, jobs: readonly CompressJob[], s: CompressSettings): Promise<Compressed[]> {
  const states = await encodeRange(model, jobs, s);
  return states.map((st, i) => finishEncode(model, jobs[i], s, st));
}

export interface DecodeContext {
  /** The coding schedule named in the header (throw if unknown). */
  readonly schedule: (id: string) => CodingSchedule;
  /** The model's protocol plans for a schedule, when the file says it used them. */
  readonly protocol?: (schedule: CodingSchedule, params: CodingParams) => readonly ChunkPlan[];
  /** The model's alpha-bar table, for flow/ancestral reconstruction. */
  readonly table: Float64Array;
}

export interface DecompressOptions {
  /** Decode only the first N coded steps (progressive). */
  readonly uptoSteps?: number;
  readonly method?: ReconMethod;
  readonly denoiseSteps?: number;
  /**
   * The final reconstruction's denoiser (same latent, hash and table as the chain's model, bound
   * to the file's denoise guidance); default: the chain's model.
   */
  readonly denoiser?: NoisePredictor;
}

export interface Decompressed {
  readonly header: DfcHeader;
  readonly latent: Float32Array;
  readonly stepsDecoded: number;
}

/** Parses and checks a .dfc against the model and context; returns what decoding needs. */
export function openDfc(bytes: Uint8Array, model: NoisePredictor, ctx: DecodeContext) {
  const file = readDfc(bytes, { expectModelHash: model.hash });
  const h = file.header;
  const l = model.latent;
  if (h.latent.channels !== l.channels || h.latent.height !== l.height || h.latent.width !== l.width) {
    throw new DfcError('model-mismatch', `file latent ${h.latent.channels}x${h.latent.height}x${h.latent.width} does not match model ${l.channels}x${l.height}x${l.width}`);
  }
  let schedule: CodingSchedule;
  try {
    schedule = ctx.schedule(h.schedule.id);
  } catch (e) {
    throw new DfcError('corrupt', `unknown coding schedule '${h.schedule.id}': ${(e as Error).message}`);
  }
  if (!bytesEqual(schedule.hash, h.schedule.hash)) throw new DfcError('corrupt', `schedule '${h.schedule.id}' hash differs from the file's`);
  if (h.stepsCoded > schedule.timesteps.length) throw new DfcError('corrupt', `${h.stepsCoded} steps coded but schedule has ${schedule.timesteps.length}`);
  const { params, usesProtocol } = decodeCodingBlob(h.coding);
  let protocol: readonly ChunkPlan[] | undefined;
  if (usesProtocol || params.sideInfo === 'protocol') {
    if (!ctx.protocol) throw new DfcError('model-mismatch', 'file uses protocol plans but the model provides none');
    protocol = ctx.protocol(schedule, params);
  }
  const cfg = chainConfig({ schedule, params, protocol }, h.seed);
  return { file, cfg, dims: latentSize(l) };
}

/** Where a decode stands: `step` chain steps decoded, the latent after them (null: none yet). */
export interface DecodeState {
  readonly step: number;
  readonly state: Float32Array | null;
}

export interface DecodeRange {
  /** Decode only the first N coded steps of each file (progressive; default all). */
  readonly uptoSteps?: number;
  /** Decode no further than this step index in this call. */
  readonly to?: number;
  readonly pause?: () => boolean;
}

/** The number of steps a decode of `bytes` to `uptoSteps` goes through (parse checks included). */
export function decodeTarget(bytes: Uint8Array, model: NoisePredictor, ctx: DecodeContext, uptoSteps?: number): number {
  const { file } = openDfc(bytes, model, ctx);
  return Math.min(file.header.stepsCoded, uptoSteps ?? file.header.stepsCoded);
}

/**
 * Decodes each file's chain from its state (default: the start) to its target (all coded steps,
 * or `uptoSteps`), stopping early at `range.to` or `range.pause`. A decode split into any ranges
 * reaches the same state as one uninterrupted call.
 */
export async function decodeRange(
  model: NoisePredictor, files: readonly { readonly bytes: Uint8Array; readonly from?: DecodeState }[], ctx: DecodeContext, range: DecodeRange = {},
): Promise<DecodeState[]> {
  const opened = files.map((f) => openDfc(f.bytes, model, ctx));
  files.forEach(({ from }, i) => {
    // A checkpoint of another file or another prefix: the caller's error, not a corrupt payload.
    const target = Math.min(opened[i].file.header.stepsCoded, range.uptoSteps ?? Infinity);
    if (from && from.step > target) throw new RangeError(`cannot resume at step ${from.step}: only ${target} steps to decode`);
    if (from && from.step > 0 && from.state?.length !== opened[i].dims) throw new RangeError(`a resume state at step ${from.step} must hold ${opened[i].dims} values`);
  });
  const decoded = await withCorruptAsDfcError(() => decodeChains(model, opened.map((o, i) => ({
    payload: o.file.payload, cfg: o.cfg, dims: o.dims, stepsCoded: o.file.header.stepsCoded, upto: range.uptoSteps,
    resume: files[i].from, to: range.to, pause: range.pause,
  }))));
  decoded.forEach((d) => {
    if (d.overrun > 4) throw new DfcError('corrupt', `payload ended ${d.overrun} bytes early`);
  });
  return decoded.map((d) => ({ step: d.steps, state: d.state }));
}

/** The final reconstruction's denoiser is the chain model bound to other guidance: same hash and latent. */
function checkDenoiser(model: NoisePredictor, d: NoisePredictor | undefined): void {
  if (d && (latentSize(d.latent) !== latentSize(model.latent) || !bytesEqual(d.hash, model.hash))) throw new RangeError('the denoiser must be the chain model\'s (same model hash and latent)');
}

/** The final reconstruction of decoded chains: the latents a one-pass decode gives. */
export async function finishDecode(
  model: NoisePredictor, files: readonly { readonly bytes: Uint8Array; readonly at: DecodeState }[], ctx: DecodeContext,
  opts: Omit<DecompressOptions, 'uptoSteps'> = {},
): Promise<Decompressed[]> {
  checkDenoiser(model, opts.denoiser);
  const opened = files.map((f) => openDfc(f.bytes, model, ctx));
  const latents = await reconstructBatch(
    opts.denoiser ?? model,
    files.map((f, i) => ({ state: f.at.state, alphaBar: alphaBarBefore(opened[i].cfg.schedule, f.at.step), key: opened[i].cfg.key })),
    opened[0]?.dims ?? 0,
    {
      method: opts.method ?? opened[0]?.file.header.recon.method ?? 'flow',
      steps: Math.max(1, opts.denoiseSteps ?? opened[0]?.file.header.recon.steps ?? 1),
      table: ctx.table,
      key: { seedLo: 0, seedHi: 0 },
    },
  );
  return files.map((f, i) => ({ header: opened[i].file.header, latent: latents[i], stepsDecoded: f.at.step }));
}

/** One pass: decodeRange to the target, then finishDecode. */
export async function decompressLatents(model: NoisePredictor, files: readonly Uint8Array[], ctx: DecodeContext, opts: DecompressOptions = {}): Promise<Decompressed[]> {
  checkDenoiser(model, opts.denoiser);
  const states = await decodeRange(model, files.map((bytes) => ({ bytes })), ctx, { uptoSteps: opts.uptoSteps });
  return finishDecode(model, files.map((bytes, i) => ({ bytes, at: states[i] })), ctx, opts);
}

/** The coded symbols of the first `steps` steps, read without running the model. */
export function readStepSymbols(payload: Uint8Array, cfg: ChainConfig, dims: number, steps: number): StepRecord[] {
  const reader = new PayloadReader(payload, cfg.params, dims);
  const out: StepRecord[] = [];
  for (let j = 0; j < steps; j++) {
    const plan = reader.readPlan(cfg.protocol ? protocolPlan(cfg.protocol, j) : undefined);
    validatePlan(plan, dims, cfg.params);
    out.push({ plan, indices: reader.readIndices(plan), klBits: NaN });
  }
  if (reader.overrun > 4) throw new DfcError('corrupt', 'payload ended early');
  return out;
}

/**
 * A smaller .dfc holding only the first `steps` steps: the same chain prefix, re-entropy-coded.
 * Needs the model only for its hash/latent checks (no inference).
 */
export function truncateDfc(bytes: Uint8Array, steps: number, model: NoisePredictor, ctx: DecodeContext): Uint8Array {
  const { file, cfg, dims } = openDfc(bytes, model, ctx);
  const keep = Math.max(0, Math.min(steps, file.header.stepsCoded));
  const records = withCorruptAsDfcErrorSync(() => readStepSymbols(file.payload, cfg, dims, keep));
  const payload = assemblePayload(cfg.params, dims, records, cfg.protocol).bytes;
  return writeDfc({ header: { ...file.header, stepsCoded: keep }, payload });
}

/**
 * How many leading steps of a file fit a rate: the longest prefix whose bits, plus the file's
 * fixed bits (header, container, coder flush: the file's size minus its steps' bits), stay
 * within `bpp` over `pixels`. `bitsPerStep` is what stepBits returns for the file.
 */
export function stepsWithinBpp(fileBytes: number, bitsPerStep: readonly number[], pixels: number, bpp: number): number {
  let total = 8 * fileBytes - bitsPerStep.reduce((s, b) => s + b, 0);
  let steps = 0;
  for (const b of bitsPerStep) {
    if ((total + b) / pixels > bpp) break;
    total += b;
    steps++;
  }
  return steps;
}

/** Each coded step's ideal code length and chunk plan, from the symbols alone. */
export function stepCoding(bytes: Uint8Array, model: NoisePredictor, ctx: DecodeContext): { bits: number[]; plans: ChunkPlan[] } {
  const { file, cfg, dims } = openDfc(bytes, model, ctx);
  const records = withCorruptAsDfcErrorSync(() => readStepSymbols(file.payload, cfg, dims, file.header.stepsCoded));
  return { bits: assemblePayload(cfg.params, dims, records, cfg.protocol).bitsPerStep, plans: records.map((r) => r.plan) };
}

/** Ideal code length of each coded step, from the symbols alone. */
export function stepBits(bytes: Uint8Array, model: NoisePredictor, ctx: DecodeContext): number[] {
  return stepCoding(bytes, model, ctx).bits;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Garbage that passed the CRC (or a hostile file) surfaces as RangeErrors deep in the payload reader. */
async function withCorruptAsDfcError<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RangeError) throw new DfcError('corrupt', `payload does not decode: ${e.message}`);
    throw e;
  }
}

function withCorruptAsDfcErrorSync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) throw new DfcError('corrupt', `payload does not decode: ${e.message}`);
    throw e;
  }
}
