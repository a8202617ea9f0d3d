/**
 * The model a job names, as the .dfc header will record it, resolved on a gpu worker (the only
 * workers with the model cache). Workflows call it once per job and carry the hash, so io-side
 * skip checks never load a model.
 */
import { workerModel } from '../src/orchestration/runtime.js';
import { activity } from './failures.js';
import { hexOf } from './existing-output.js';

export async function resolveModelHash(model: string): Promise<{ id: string; hash: string }> {
  return activity(async () => {
    const { info } = (await workerModel(model)).model;
    return { id: info.id, hash: hexOf(info.hash) };
  });
}
