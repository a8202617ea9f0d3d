/**
 * A bundle directory to a DiffusionModel: the family picks the adapter (the embedded analytic
 * model, or the ONNX adapters in onnx/), after the manifest is checked for fitting together.
 */
import { dctModelFromBundle, DctBundleError } from './analytic-dct/bundle.js';
import { loadBundle, type Bundle, type LoadBundleOptions } from './bundle.js';
import { ModelError } from './errors.js';
import type { DiffusionModel } from './types.js';
import type { OnnxModelOptions } from './onnx/base.js';
import { modelTiling } from './tiling.js';

export interface LoadModelOptions extends OnnxModelOptions, LoadBundleOptions {}

export interface LoadedBundle {
  readonly model: DiffusionModel;
  readonly bundle: Bundle;
  /** Named coding schedules the manifest defines. */
  readonly schedules: Readonly<Record<string, readonly number[]>>;
}

const NEEDS: Record<string, { prediction: readonly string[]; schedule: 'ddpm' | 'flow'; roles: readonly string[] }> = {
  sd15: { prediction: ['eps', 'v'], schedule: 'ddpm', roles: ['unet', 'vae_encoder', 'vae_decoder'] },
  sd21: { prediction: ['eps', 'v'], schedule: 'ddpm', roles: ['unet', 'vae_encoder', 'vae_decoder'] },
  sdxl: { prediction: ['eps', 'v'], schedule: 'ddpm', roles: ['unet', 'vae_encoder', 'vae_decoder'] },
  'flux-dev': { prediction: ['flow'], schedule: 'flow', roles: ['transformer', 'vae_encoder', 'vae_decoder'] },
  'analytic-dct': { prediction: ['x0'], schedule: 'ddpm', roles: ['params'] },
  cod: { prediction: ['eps', 'v'], schedule: 'ddpm', roles: ['unet', 'cond_encoder', 'cond_decoder', 'entropy'] },
  stablecodec: {
    prediction: ['x0'], schedule: 'ddpm',
    roles: ['vae_encoder', 'vae_decoder', 'aux_encoder', 'analysis', 'hyper_analysis', 'hyper_synthesis', 'context_in', 'context', 'context_out', 'lrp', 'synthesis', 'aux_decoder', 'unet', 'entropy'],
  },
};

/** StableCodec's per-group graphs: one file for each of the four groups. */
const GROUPED_ROLES = ['context_in', 'context_out', 'lrp'] as const;

/** Throws a 'family' ModelError when the manifest's parts do not fit its family. */
export function checkFamily(b: Bundle): void {
  const m = b.manifest, need = NEEDS[m.family];
  if (!need.prediction.includes(m.prediction)) throw new ModelError('family', `${m.id}: ${m.family} models predict ${need.prediction.join(' or ')}, not ${m.prediction}`);
  if (m.schedule.kind !== need.schedule) throw new ModelError('family', `${m.id}: ${m.family} needs a ${need.schedule} schedule, not ${m.schedule.kind}`);
  for (const r of need.roles) if (!m.files.some((f) => f.role === r)) throw new ModelError('family', `${m.id}: ${m.family} bundles need a ${r} file`);
  if (m.family === 'flux-dev' && m.latent.channels !== 16) throw new ModelError('family', `${m.id}: Flux latents have 16 channels, not ${m.latent.channels}`);
  if (m.family === 'cod' && !m.condition) throw new ModelError('family', `${m.id}: cod bundles need a condition section (downsample, channels, featureChannels)`);
  if (m.family === 'cod' && m.latent.downsample !== 1) throw new ModelError('family', `${m.id}: cod models here work in pixel space (latent.downsample 1), not ${m.latent.downsample}`);
  if (m.family === 'stablecodec') {
    if (!m.oneStep) throw new ModelError('family', `${m.id}: stablecodec bundles need a oneStep section (timestep, clipSample, tile, overlap)`);
    if (m.latent.channels !== 4 || m.latent.downsample !== 8) throw new ModelError('family', `${m.id}: StableCodec's SD-Turbo latents are 4 channels at /8, not ${m.latent.channels} at /${m.latent.downsample}`);
    for (const r of GROUPED_ROLES) {
      const groups = m.files.filter((f) => f.role === r).map((f) => f.group).sort();
      if (groups.join(',') !== '0,1,2,3') throw new ModelError('family', `${m.id}: stablecodec bundles need one ${r} graph for each group 0..3 (file field "group"), found groups [${groups.join(', ')}]`);
    }
  }
  if (m.refiner && !m.files.some((f) => f.role === 'refiner_unet')) throw new ModelError('family', `${m.id}: refiner settings without a refiner_unet file`);
}

export async function loadDiffusionModel(dir: string, opts: LoadModelOptions = {}): Promise<LoadedBundle> {
  const bundle = await loadBundle(dir, opts);
  checkFamily(bundle);
  const schedules = bundle.manifest.schedules ?? {};
  switch (bundle.manifest.family) {
    case 'analytic-dct': {
      try {
        const params = bundle.manifest.files.find((f) => f.role === 'params')!;
        const tiling = modelTiling('analytic-dct', bundle.manifest.tiling).predictor;
        const model = await dctModelFromBundle(bundle.dir, bundle.manifest.id, bundle.hash, params.path, bundle.manifest.defaults, tiling);
        return { model, bundle, schedules };
      } catch (e) {
        if (e instanceof DctBundleError) throw new ModelError('manifest', e.message, { cause: e });
        throw e;
      }
    }
    case 'sd15':
    case 'sd21':
    case 'sdxl': {
      const { SdModel } = await import('./onnx/sd.js');
      return { model: new SdModel(bundle, opts), bundle, schedules };
    }
    case 'flux-dev': {
      const { FluxModel } = await import('./onnx/flux.js');
      return { model: new FluxModel(bundle, opts), bundle, schedules };
    }
    case 'cod': {
      const { CodModel } = await import('./onnx/cod.js');
      return { model: await CodModel.open(bundle, opts), bundle, schedules };
    }
    case 'stablecodec': {
      const { StableCodecModel } = await import('./onnx/stablecodec.js');
      return { model: await StableCodecModel.open(bundle, opts), bundle, schedules };
    }
  }
}
