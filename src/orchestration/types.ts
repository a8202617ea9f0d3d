/**
 * What crosses the Temporal boundary: plain, JSON-serialisable objects only. The zod schemas
 * validate at the edges (client, trigger, bulk planning); workflows and activities import the
 * parsed types.
 */
import { z } from 'zod';
import { PresetName } from '../pipeline/presets.js';
import { QualityTargetField, type QualityReport } from '../pipeline/quality-target.js';
// Not node:crypto: workflow code imports this module, and the workflow bundle cannot load node: modules.
import { sha256Hex } from './sha256.js';

/**
 * The activity-input format the workflows of this build schedule (`format` on each input;
 * activities/work-format.ts refuses a newer one). Bump it with any change an older worker would
 * misread, together with that activity's reader.
 */
export const ACTIVITY_INPUT_FORMAT = 1;

export const StoreUrl = z.string().regex(/^(file|s3):/, 'a store must be a file:///dir or s3://bucket/prefix URL');

/** Task queue names. Workflow tasks and light I/O run on `io`; the model and the RCC on `gpu`. */
export const TaskQueues = z.object({
  io: z.string().min(1).default('io'),
  gpu: z.string().min(1).default('gpu'),
}).strict();
export type TaskQueues = z.infer<typeof TaskQueues>;

/** The rate and randomness of one encode: the same meaning as `diffc compress` flags. */
export const RateParams = z.object({
  /** Stop at the longest prefix whose whole file fits this many bits per pixel (--bpp). */
  bpp: z.number().positive().max(64).optional(),
  /** Code at most this many steps (--steps). */
  steps: z.number().int().positive().optional(),
  /**
   * Keep the shortest prefix whose decode reaches this quality (--target-quality): 'ssimulacra2=60'
   * or { metric, value }. bpp or steps, when given, cap the chain it is chosen from (default 1 bpp).
   */
  targetQuality: QualityTargetField.optional(),
  /** Shared-randomness seed, 0..2^53 (--seed). */
  seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
}).strict();

/** UTF-8 length of a string, without Buffer or TextEncoder (workflow code imports this module). */
function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** A guidance scale as a .dfc header holds it (docs/format.md §3.8). */
const Guidance = z.number().min(0).max(100);

/** How each image is encoded and checkpointed: the same for one job and for every child of a bulk job. */
export const EncodeSettings = z.object({
  /** 'default' (embedded model), a bundle directory or a pulled model id, as the worker resolves it. */
  model: z.string().min(1).default('default'),
  /** Refuse images with more pixels than this (checked from the header, before decoding). */
  maxPixels: z.number().int().positive().max(2 ** 31).default(64 * 1024 * 1024),
  /**
   * Largest RCC chunk in bits (--chunk-bits; default the model's). The encoder's RCC work grows
   * as 2^bits per latent value, so CPU-only workers on large photos want fewer bits (10: 16x less
   * work for a few % more rate). A coding choice, not a rate: an existing output within the
   * job's budget is kept whatever chunk size made it.
   */
  chunkBits: z.number().int().min(1).max(24).optional(),
  /** Named coding choices (--preset: default | paper; src/pipeline/presets.ts), below chunkBits and the guidance. A coding choice like chunkBits. */
  preset: PresetName.optional(),
  /** Text conditioning (--prompt), stored in the .dfc: at most 4096 bytes of UTF-8. Absent or '': none. */
  prompt: z.string().refine((p) => utf8Length(p) <= 4096, 'prompt: at most 4096 bytes of UTF-8').optional(),
  /** Guidance of the coded chain's denoiser (--guidance), stored in the .dfc; default the model's (SD 1, Flux 3.5). */
  guidance: Guidance.optional(),
  /** Guidance of the final denoising (--denoise-guidance), stored in the .dfc; default the model's (SD 1, or 5 with a prompt; Flux 3.5). */
  denoiseGuidance: Guidance.optional(),
  /** Chain steps per encodeSteps activity. */
  stepsPerActivity: z.number().int().positive().default(16),
  /** encodeSteps writes a checkpoint every this many steps ... */
  checkpointEvery: z.number().int().positive().default(4),
  /** ... or every this many seconds, whichever comes first. */
  checkpointSeconds: z.number().positive().default(60),
  /** A step range whose worker stops heartbeating this long is retried elsewhere (from its checkpoint). */
  heartbeatTimeoutSeconds: z.number().min(1).max(3600).default(120),
  queues: TaskQueues.default({}),
}).strict();
export type EncodeSettings = z.infer<typeof EncodeSettings>;

/** The keys of EncodeSettings, for copying a bulk job's settings into each child's job. */
export const ENCODE_SETTING_KEYS = Object.keys(EncodeSettings.shape) as (keyof EncodeSettings)[];

/**
 * Which version of the source a run compresses: the trigger takes it from the event, the bulk
 * planner from the listing. The source is read pinned to it, and it is recorded on the .dfc, so a
 * rerun can tell an output made from this version from one made from an older one.
 */
export const SourceVersion = z.object({
  etag: z.string().min(1).max(1024).optional(),
  versionId: z.string().min(1).max(1024).optional(),
  /** S3's per-key event order (hex): a larger sequencer is a later write of the key. */
  sequencer: z.string().regex(/^[0-9A-Fa-f]{1,64}$/).optional(),
}).strict();
export type SourceVersion = z.infer<typeof SourceVersion>;

/** The model's 8-byte hash as a .dfc header holds it, in hex. */
export const ModelHashHex = z.string().regex(/^[0-9a-f]{16}$/, 'modelHash: 16 lower-case hex digits');

const CompressFields = {
  /** Store URL of the source (openStore: file:///abs/dir or s3://bucket/prefix). */
  store: StoreUrl,
  /** Key of the source image (PNG, JPEG, ...) in `store`. Never modified. */
  source: z.string().min(1),
  /** Store the .dfc goes to; defaults to `store`. */
  outputStore: StoreUrl.optional(),
  /** Key the .dfc is written to, atomically. */
  output: z.string().min(1),
  ...RateParams.shape,
  ...EncodeSettings.shape,
  /** An existing output that decodes as a .dfc of this model, seed and rate is kept, not redone. */
  skipExisting: z.boolean().default(true),
  /** The version of `source` to compress (default: whatever is current when the run starts). */
  sourceVersion: SourceVersion.optional(),
  /** The hash of `model`, resolved once on a gpu worker (io workers hold no models); absent: the workflow resolves it. */
  modelHash: ModelHashHex.optional(),
  /** The activity-input format the scheduling workflow speaks (activities/work-format.ts); set by workflows, absent: 1. */
  format: z.number().int().positive().optional(),
};

const oneRate = (a: { bpp?: number; steps?: number }) => a.bpp === undefined || a.steps === undefined;
const RATE_MESSAGE = { message: 'give at most one of bpp, steps' };

export const CompressImageInput = z.object(CompressFields).strict().refine(oneRate, RATE_MESSAGE);
export type CompressImageInput = z.infer<typeof CompressImageInput>;

/** Why a run ended without writing: its source version is no longer the one to compress. */
export interface Superseded {
  readonly superseded: string;
}

/**
 * prepareSource's answer: the work is already done (`skipped`), the run's source version is gone
 * or replaced (`superseded`), or the source is validated (from its header) and pinned.
 */
export type PreparedSource =
  | { readonly skipped: CompressImageResult; readonly superseded?: undefined }
  | (Superseded & { readonly skipped?: undefined })
  | {
    readonly skipped?: undefined;
    readonly superseded?: undefined;
    readonly width: number;
    readonly height: number;
    /** The version every later read of the source is pinned to, and that the .dfc records. */
    readonly source: SourceVersion;
    /** The output's ETag when prepareSource looked (null: there was none): the final put's condition. */
    readonly outputEtag: string | null;
  };

/** encodeLatent's answer: what the workflow needs to plan the step ranges (or: the pinned source is gone). */
export type PreparedJob = Superseded | {
  readonly superseded?: undefined;
  /** Steps the chain may code at most (schedule length, or `steps` when smaller). */
  readonly stepsTarget: number;
  readonly width: number;
  readonly height: number;
  /** Seconds the latent took (model load included on a cold worker), and the worst event-loop stall seen. */
  readonly seconds?: number;
  readonly stallSeconds?: number;
};

/** What encodeLatent and assembleDfc need besides the job: prepareSource's pins. */
export interface PinnedJob {
  readonly format?: number;
  readonly job: CompressImageInput;
  readonly source: SourceVersion;
  readonly outputEtag: string | null;
}

export interface EncodeStepsInput {
  readonly format?: number;
  readonly job: CompressImageInput;
  /** Code up to this step index (exclusive), resuming from the checkpoint. */
  readonly to: number;
}

export interface EncodeStepsResult {
  /** Steps coded so far (the checkpoint's step index). */
  readonly step: number;
  /** The chain is finished: target reached, schedule ended or the bit budget is spent. */
  readonly done: boolean;
  readonly payloadBits: number;
  /** Mean seconds per step coded in this attempt, and the worst event-loop stall (timeouts.ts sizes from them). */
  readonly stepSeconds?: number;
  readonly stallSeconds?: number;
}

export interface CompressImageResult {
  readonly output: string;
  readonly bytes: number;
  readonly bpp: number;
  readonly steps: number;
  /** The output already existed and matched (skipExisting); nothing was computed. */
  readonly skipped?: boolean;
  /** With a quality target: the metric its kept prefix reached (from its metadata when skipped). */
  readonly target_quality?: QualityReport;
  /** Nothing was written: the source version this run was for is gone or replaced, or another
   *  writer's output for a current source is there (the reason says which). bytes/bpp/steps 0. */
  readonly superseded?: boolean;
  readonly reason?: string;
}

export interface CompressProgress {
  readonly phase: 'source' | 'latent' | 'steps' | 'assemble' | 'done' | 'cancelled' | 'superseded';
  readonly step: number;
  readonly stepsTarget: number;
}

export const DecompressImageInput = z.object({
  store: StoreUrl,
  /** Key of the .dfc in `store`. */
  source: z.string().min(1),
  outputStore: StoreUrl.optional(),
  /** Key of the image; its extension picks the format (png, jpg, webp, avif, tif). */
  output: z.string().min(1).regex(/\.(png|jpe?g|webp|avif|tiff?)$/i, 'output must end in .png, .jpg, .webp, .avif or .tif'),
  /** Decode the longest chain prefix within this many bits per pixel (progressive). */
  uptoBpp: z.number().positive().optional(),
  /** Decode only the first N coded steps. */
  uptoStep: z.number().int().nonnegative().optional(),
  /** Final denoising guidance instead of the file's (--denoise-guidance); the chain always uses the file's. */
  denoiseGuidance: Guidance.optional(),
  model: z.string().min(1).default('default'),
  queues: TaskQueues.default({}),
  /** Chain steps per decodeSteps activity (default 16), checkpointed every N steps or M seconds (default 4, 60), as encoding. */
  stepsPerActivity: z.number().int().positive().optional(),
  checkpointEvery: z.number().int().positive().optional(),
  checkpointSeconds: z.number().positive().optional(),
  heartbeatTimeoutSeconds: z.number().min(1).max(3600).optional(),
  format: z.number().int().positive().optional(),
}).strict().refine((a) => a.uptoBpp === undefined || a.uptoStep === undefined, { message: 'give at most one of uptoBpp, uptoStep' });
export type DecompressImageInput = z.infer<typeof DecompressImageInput>;

/** A decode's checkpointing, the defaults of EncodeSettings (workflows fill them in; older inputs lack them). */
export const DECODE_DEFAULTS = { stepsPerActivity: 16, checkpointEvery: 4, checkpointSeconds: 60, heartbeatTimeoutSeconds: 120 } as const;

export interface DecodeStepsInput {
  readonly format?: number;
  readonly job: DecompressImageInput;
  /** Decode up to this step index (exclusive), resuming from the checkpoint. */
  readonly to: number;
}

export interface DecodeStepsResult {
  readonly step: number;
  /** Chain steps this decode goes through (the file's, or the uptoStep/uptoBpp prefix). */
  readonly stepsTarget: number;
  readonly done: boolean;
  /** Reconstruction steps the finish runs (the header's). */
  readonly reconSteps: number;
  readonly width: number;
  readonly height: number;
  readonly stepSeconds?: number;
  readonly stallSeconds?: number;
}

export interface DecodeFinishInput {
  readonly format?: number;
  readonly job: DecompressImageInput;
}

export interface DecompressImageResult {
  readonly output: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly stepsCoded: number;
}

/**
 * Where runs keep their staged source and checkpoints, in the output store: one folder per run
 * (`<WORK_ROOT><hash of output>/<run id>/`), so two runs never share work objects, and all under
 * one top-level prefix, so a bucket lifecycle rule on WORK_ROOT expires what a terminated run
 * could not clean up (docs/deploy.md), and triggers never fire on it.
 */
export const WORK_ROOT = '_diffc-work/';

export function workPrefix(output: string, runId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(runId)) throw new Error(`workPrefix: run id ${JSON.stringify(runId)} is not a Temporal run id`);
  return `${WORK_ROOT}${sha256Hex(output).slice(0, 32)}/${runId}/`;
}

/** The folder of every run's work for one output (what a sweeper lists). */
export function workRootFor(output: string): string {
  return `${WORK_ROOT}${sha256Hex(output).slice(0, 32)}/`;
}
