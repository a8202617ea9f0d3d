/**
 * Shared by the Temporal tests: a small synthetic image, and recording of workflow histories for
 * the replay test (DIFFC_RECORD_HISTORIES=<dir> writes each recorded history there).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { pathToFileURL } from 'node:url';
import proto from '@temporalio/proto';
import { createWorkers, type WorkerOptions } from '../../src/orchestration/worker.js';
import type { TemporalConfig } from '../../src/orchestration/config.js';
import { openStore } from '../../src/storage/index.js';

const { temporal } = proto;
import type { RgbImage } from '../../src/image/types.js';

/** A smooth synthetic image (odd sizes exercise padding); `salt` makes each one different. */
export function testImage(width = 64, height = 46, salt = 0): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = 3 * (y * width + x);
    data[i] = x / width; data[i + 1] = y / height; data[i + 2] = 0.5 + 0.4 * Math.sin((x + y + salt) / 5);
  }
  return { width, height, data, bitDepth: 8 };
}

/** Saves the handle's history as test/histories/<name>.pb when recording is on. */
export async function recordHistory(name: string, h: WorkflowHandle): Promise<void> {
  const dir = process.env.DIFFC_RECORD_HISTORIES;
  if (!dir) return;
  const history = await h.fetchHistory();
  await mkdir(dir, { recursive: true });
  // Binary protobuf: decodes to the History the replayer takes, with no JSON mapping in between.
  await writeFile(join(dir, `${name}.pb`), temporal.api.history.v1.History.encode(history).finish());
}

/**
 * In-process diffc workers for a test file, polling until stop(). A worker that stops polling
 * would only show as a hang, so its failure is printed and fails the run.
 */
export async function runWorkers(cfg: TemporalConfig, opts: WorkerOptions = {}): Promise<{ stop(): Promise<void> }> {
  const workers = await createWorkers(cfg, opts);
  const running = workers.run().catch((e: unknown) => {
    console.error('diffc workers stopped with an error:', e);
    throw e;
  });
  return {
    async stop() {
      workers.shutdown();
      await running;
    },
  };
}

/** Every object key in a local store (no temporary files or metadata sidecars). */
export async function keysIn(storeDir: string): Promise<string[]> {
  const s = openStore(pathToFileURL(storeDir).href);
  const keys: string[] = [];
  for await (const e of s.list('')) keys.push(e.key);
  s.close();
  return keys.sort();
}
