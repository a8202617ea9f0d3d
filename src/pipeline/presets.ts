/**
 * Named bundles of coding choices. `default` is the model's own defaults (its manifest); `paper`
 * reproduces the reference implementation's coding choices (Vonderfecht & Liu 2025, github
 * JeremyIV/diffc, configs/*-base.yaml): 16-bit chunks, each planned for 14 bits of KL with
 * 2 bits of padding (its get_chunk_sizes: C = ceil(KL / (16 - 2)), k ~ KL/C + 2), the exact
 * posterior as the RCC target (no shaping), a step's plan sent as side information, its 161-step
 * schedule (Flux: 152, see src/codec/schedule/paper.ts) and its guidance 0 for encoding and
 * denoising, which for its SD models means no CFG and the (empty) prompt's conditional
 * prediction — diffc's guidance 1 — and for Flux 0 fed to the distilled guidance input.
 * Explicit settings (--chunk-bits, --schedule, --guidance, ...) override a preset's.
 */
import { z } from 'zod';
import type { CodingParams } from '../codec/chain/chunk-plan.js';
import type { ModelFamily, ModelInfo } from '../models/types.js';

export const PresetName = z.enum(['default', 'paper']);
export type PresetName = z.infer<typeof PresetName>;

export interface Preset {
  readonly coding: Partial<Pick<CodingParams, 'maxChunkBits' | 'paddingQuarterBits' | 'chunkKlQuarterBits' | 'targetStdPercent' | 'sideInfo'>>;
  readonly schedule?: string;
  readonly guidance?: number;
  readonly denoiseGuidance?: number;
}

export function preset(name: PresetName, family: ModelFamily): Preset {
  if (name === 'default') return { coding: {} };
  return {
    coding: { maxChunkBits: 16, paddingQuarterBits: 8, chunkKlQuarterBits: 4 * 14, targetStdPercent: 100, sideInfo: 'coded' },
    schedule: family === 'flux-dev' ? 'paper-flow' : 'paper',
    ...(family === 'flux-dev' ? { guidance: 0, denoiseGuidance: 0 } : family === 'analytic-dct' ? {} : { guidance: 1, denoiseGuidance: 1 }),
  };
}

/** The coding schedule id of a compression: the one asked for, else the preset's, else the model's. */
export function codingScheduleId(info: Pick<ModelInfo, 'family' | 'defaults'>, name: PresetName | undefined, explicit?: string): string {
  return explicit ?? preset(name ?? 'default', info.family).schedule ?? info.defaults.schedule;
}
