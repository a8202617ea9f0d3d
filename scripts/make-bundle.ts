/**
 * Turns an optimum ONNX export directory into a diffc model bundle (writes manifest.json there).
 *
 *   npx tsx scripts/make-bundle.ts <export-dir> --family sd21 --id my-sd21 [--prediction v]
 *       [--chunk-bits 12] [--schedule even:32] [--refiner-from 0.8] [--source owner/repo@rev]
 *
 * Then: diffc models verify <export-dir>; diffc compress in.png -o out.dfc --model <export-dir>
 * (or move the directory to ~/.cache/diffc/models/<id> and use --model <id>). See docs/models.md.
 */
import { parseArgs } from 'node:util';
import { makeBundle, type OnnxFamily } from '../src/models/make-bundle.js';
import { loadBundle } from '../src/models/bundle.js';
import { ModelError } from '../src/models/errors.js';

const USAGE = 'usage: npx tsx scripts/make-bundle.ts <export-dir> --family sd15|sd21|sdxl|flux-dev --id <id> [--prediction eps|v|flow] [--chunk-bits N] [--schedule ID] [--refiner-from F] [--source owner/repo@rev]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true, strict: true,
    options: {
      family: { type: 'string' }, id: { type: 'string' }, prediction: { type: 'string' }, 'chunk-bits': { type: 'string' },
      schedule: { type: 'string' }, 'refiner-from': { type: 'string' }, source: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1 || !values.family || !values.id) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const source = values.source ? /^([^@]+)@(.+)$/.exec(values.source) : null;
  if (values.source && !source) {
    console.error('--source takes owner/repo@revision');
    return 2;
  }
  try {
    const m = await makeBundle(positionals[0], {
      family: values.family as OnnxFamily,
      id: values.id,
      prediction: values.prediction as 'eps' | 'v' | 'flow' | undefined,
      defaults: {
        ...(values['chunk-bits'] ? { maxChunkBits: Number(values['chunk-bits']) } : {}),
        ...(values.schedule ? { schedule: values.schedule } : {}),
      },
      refinerFrom: values['refiner-from'] ? Number(values['refiner-from']) : undefined,
      source: source ? { repo: source[1], revision: source[2] } : undefined,
      onFile: (p) => console.error(`hashing ${p}`),
    });
    const b = await loadBundle(positionals[0], { verify: false });
    console.log(`${positionals[0]}/manifest.json: ${m.id} (${m.family}, ${m.prediction}, ${m.files.length} files), model hash ${b.hashHex}`);
    return 0;
  } catch (e) {
    if (e instanceof ModelError) {
      console.error(`make-bundle: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main();
