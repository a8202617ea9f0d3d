/**
 * The stablecodec adapter against the original StableCodec (github.com/LuizScarlet/StableCodec)
 * on the same weights: models/test/stablecodec/ and test/parity/stablecodec.json are written by
 * `scripts/stablecodec/export-bundle.py --test-fixtures` from the repository's own classes (tiny
 * widths, random weights), which also records what its compress / decompress compute on
 * photo-256x512.png: an untiled 256x256 crop and the whole image, whose 32x64 latent the one-step
 * UNet runs in tiles. Symbols must be equal; float tensors within max|a - b| / max|b| <= 1e-4;
 * the decoded image within 2 levels of 255.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadDiffusionModel } from '../src/models/load.js';
import type { StableCodecModel } from '../src/models/onnx/stablecodec.js';
import { decodeImage } from '../src/image/decode.js';
import { cropTo } from '../src/image/geometry.js';
import type { RgbImage } from '../src/image/types.js';
import { oneStepGrid } from '../src/models/stablecodec/tiles.js';

const BUNDLE = fileURLToPath(new URL('../models/test/stablecodec/', import.meta.url));
const DATA = fileURLToPath(new URL('./parity/', import.meta.url));
const TOL = 1e-4;

interface Tensor { readonly dtype: 'float32' | 'int32' | 'uint8'; readonly shape: readonly number[]; readonly b64: string }
interface Case {
  size: [number, number];
  latent: Tensor; z_symbols: Tensor; y_hat: Tensor; x_hat4: Tensor; res: Tensor; x0: Tensor; image_u8_every4: Tensor;
  groups: { symbols: Tensor; means: Tensor; scales: Tensor }[];
  original_bytes: { y: number; z: number };
}
const data = JSON.parse(readFileSync(`${DATA}stablecodec.json`, 'utf8')) as { cases: Case[]; alphas_cumprod_999: number };

function arr(t: Tensor): Float64Array {
  const b = Buffer.from(t.b64, 'base64');
  const src = t.dtype === 'int32' ? new Int32Array(b.buffer, b.byteOffset, b.length / 4) : t.dtype === 'uint8' ? new Uint8Array(b) : new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  assert.equal(src.length, t.shape.reduce((a, d) => a * d, 1));
  return Float64Array.from(src);
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

const errors: Record<string, number> = {};
function close(name: string, a: ArrayLike<number>, b: Tensor): void {
  const e = relErr(a, arr(b));
  errors[name] = e;
  assert.ok(e <= TOL, `${name}: relative error ${e.toExponential(2)} > ${TOL}`);
}

let model: StableCodecModel;
let photo: RgbImage;

before(async () => {
  model = (await loadDiffusionModel(BUNDLE)).model as StableCodecModel;
  photo = await decodeImage(readFileSync(`${DATA}photo-256x512.png`));
});
after(async () => {
  await model?.close();
  console.log('stablecodec parity (max rel. error):', JSON.stringify(errors));
});

describe('stablecodec adapter = the original StableCodec', () => {
  test('alpha-bar at the one-step timestep', () => {
    assert.ok(Math.abs(model.table[999] - data.alphas_cumprod_999) / data.alphas_cumprod_999 < 1e-5);
  });

  for (const [ci, c] of data.cases.entries()) {
    const [W, H] = c.size;
    test(`${W}x${H}${oneStepGrid(H / 8, W / 8, 32, 8) ? ' (tiled one-step UNet)' : ''}: latents, symbols, entropy parameters, one-step latent, image`, async () => {
      const img = W === photo.width ? photo : cropTo(photo, W, H);
      const [latent] = await model.encode([img]);
      close(`${ci}.latent`, latent, c.latent);
      const { bytes, features } = await model.condition.encode(img);
      const dec = await model.decodeLatentCodec(bytes, W, H);
      assert.deepEqual([...dec.zSymbols], [...arr(c.z_symbols)], 'hyper-latent symbols');
      dec.groups.forEach((g, k) => {
        assert.deepEqual([...g.symbols], [...arr(c.groups[k].symbols)], `group ${k} symbols`);
        close(`${ci}.means${k}`, g.means, c.groups[k].means);
        close(`${ci}.scales${k}`, g.scales, c.groups[k].scales);
      });
      close(`${ci}.y_hat`, dec.yHat, c.y_hat);
      assert.deepEqual(dec.features, features, "the encoder's features are the decoder's");
      const plane = (H / 8) * (W / 8), cin = features.length / plane - 4;
      close(`${ci}.x_hat4`, features.subarray(0, 4 * plane), c.x_hat4);
      close(`${ci}.res`, features.subarray(cin * plane), c.res);
      const x0 = await model.oneStepLatent(features, W, H);
      close(`${ci}.x0`, x0, c.x0);
      const [rgb] = await model.decode([x0], W, H);
      const ref = arr(c.image_u8_every4);
      let worst = 0;
      for (let r = 0, i = 0; r < H; r += 4) {
        for (let q = 0; q < W; q += 4) {
          for (let ch = 0; ch < 3; ch++, i++) worst = Math.max(worst, Math.abs(Math.round(rgb.data[(r * W + q) * 3 + ch] * 255) - ref[i]));
        }
      }
      errors[`${ci}.image_levels`] = worst;
      assert.ok(worst <= 2, `decoded image differs by ${worst} levels`);
      errors[`${ci}.bytes_diffc`] = bytes.length;
      errors[`${ci}.bytes_original`] = c.original_bytes.y + c.original_bytes.z;
    });
  }
});
