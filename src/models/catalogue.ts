/**
 * Models `diffc models pull <id>` knows by name. Each entry is a bundle manifest minus the
 * checksums: the hub repo, revision and file paths (optimum's ONNX layout), and what diffc needs
 * to know about the family. The pull takes each file's sha256 from the hub (LFS ETag), checks the
 * download against it, and writes the manifest with those checksums; pin `revision` to a commit
 * to make the resulting model hash reproducible.
 *
 * Not checked from this repository's CI (no network): that the repos still hold these paths.
 * Flux-dev has no entry: its official ONNX repo is laid out for TensorRT, not optimum; export it
 * with optimum and bundle it (docs/models.md).
 * `diffc models pull hf:<owner>/<repo>[@revision]` takes any repo that has a diffc manifest.json
 * at its root instead, and docs/models.md shows how to export and bundle a model yourself.
 */
import type { Manifest } from './bundle.js';
import type { FileRole } from './bundle.js';
import { SD_SCHEDULE } from '../codec/schedule/ddpm.js';

export interface CatalogueEntry {
  readonly id: string;
  readonly description: string;
  readonly repo: string;
  readonly revision: string;
  /** Rough download size, for `models list`. */
  readonly approxBytes: number;
  readonly files: readonly { readonly role: FileRole; readonly path: string }[];
  readonly manifest: Pick<Manifest, 'family' | 'prediction' | 'schedule' | 'latent' | 'defaults' | 'text' | 'refiner' | 'schedules'>;
}

/** Coding defaults of the pulled ONNX bundles: as make-bundle's (chunk bits by RCC backend, the reference's schedule). */
const SD_DEFAULTS = { maxChunkBits: 'auto', schedule: 'paper', reconMethod: 'flow', reconSteps: 16 } as const;

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    id: 'sd15-onnx',
    description: 'Stable Diffusion 1.5, ONNX (fp32) from the repo\'s onnx branch',
    repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
    revision: 'onnx',
    approxBytes: 4.3e9,
    files: [
      { role: 'text_encoder', path: 'text_encoder/model.onnx' },
      { role: 'unet', path: 'unet/model.onnx' },
      { role: 'unet', path: 'unet/weights.pb' },
      { role: 'vae_encoder', path: 'vae_encoder/model.onnx' },
      { role: 'vae_decoder', path: 'vae_decoder/model.onnx' },
      { role: 'tokenizer', path: 'tokenizer/vocab.json' },
      { role: 'tokenizer', path: 'tokenizer/merges.txt' },
    ],
    manifest: {
      family: 'sd15', prediction: 'eps', schedule: { kind: 'ddpm', config: SD_SCHEDULE },
      latent: { channels: 4, downsample: 8, scale: 0.18215, shift: 0 }, defaults: SD_DEFAULTS,
      text: { maxLength: 77, hiddenSize: 768 },
    },
  },
  {
    id: 'sdxl-base-onnx',
    description: 'Stable Diffusion XL base 1.0, ONNX (fp32, external weights)',
    repo: 'stabilityai/stable-diffusion-xl-base-1.0',
    revision: 'main',
    approxBytes: 13.9e9,
    files: [
      { role: 'text_encoder', path: 'text_encoder/model.onnx' },
      { role: 'text_encoder_2', path: 'text_encoder_2/model.onnx' },
      { role: 'text_encoder_2', path: 'text_encoder_2/model.onnx_data' },
      { role: 'unet', path: 'unet/model.onnx' },
      { role: 'unet', path: 'unet/model.onnx_data' },
      { role: 'vae_encoder', path: 'vae_encoder/model.onnx' },
      { role: 'vae_decoder', path: 'vae_decoder/model.onnx' },
      { role: 'tokenizer', path: 'tokenizer/vocab.json' },
      { role: 'tokenizer', path: 'tokenizer/merges.txt' },
    ],
    manifest: {
      family: 'sdxl', prediction: 'eps', schedule: { kind: 'ddpm', config: SD_SCHEDULE },
      latent: { channels: 4, downsample: 8, scale: 0.13025, shift: 0 }, defaults: SD_DEFAULTS,
      text: { maxLength: 77, hiddenSize: 2048, pooled: 1280 },
    },
  },
];

export function catalogueEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.find((e) => e.id === id);
}
