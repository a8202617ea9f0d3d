/**
 * What crosses the Temporal boundary for compressImage: plain, JSON-serialisable objects only.
 * The zod schema validates at the client (startCompressImage); the workflow and the activities
 * import the types.
 */
import { z } from 'zod';

export const CompressImageInput = z.object({
  /** Store URL as openStore() takes it: file:///abs/dir or s3://bucket/prefix. */
  store: z.string().regex(/^(file|s3):/, 'store must be a file:// or s3:// URL'),
  /** Key of the source image (PNG, JPEG, ...) in the store. */
  source: z.string().min(1),
  /** Key the .dfc is written to (atomically) in the same store. */
  output: z.string().min(1),
  /** Stop at the longest prefix whose whole file fits this many bits per pixel (as diffc compress --bpp). */
  bpp: z.number().positive().max(64).optional(),
  /** Code at most this many steps (as diffc compress --steps). */
  steps: z.number().int().positive().optional(),
  /** Shared-randomness seed, 0..2^53 (as diffc compress --seed). */
  seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(0),
  model: z.literal('default').default('default'),
  /** Chain steps per encodeSteps activity. */
  stepsPerActivity: z.number().int().positive().default(16),
  /** encodeSteps writes a checkpoint every this many steps. */
  checkpointEvery: z.number().int().positive().default(4),
}).strict().refine((a) => a.bpp === undefined || a.steps === undefined, { message: 'give at most one of bpp, steps' });

export type CompressImageInput = z.infer<typeof CompressImageInput>;

/** loadAndEncodeLatent's answer: what the workflow needs to plan the step ranges. */
export interface PreparedJob {
  /** Steps the chain may code at most (schedule length, or `steps` when smaller). */
  readonly stepsTarget: number;
  readonly width: number;
  readonly height: number;
}

export interface EncodeStepsInput {
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
}

export interface CompressImageResult {
  readonly output: string;
  readonly bytes: number;
  readonly bpp: number;
  readonly steps: number;
}

export interface CompressProgress {
  readonly phase: 'latent' | 'steps' | 'assemble' | 'done';
  readonly step: number;
  readonly stepsTarget: number;
}

/** The object prefix holding a job's checkpoints, next to its output. */
export function workPrefix(output: string): string {
  return `${output}.work/`;
}
