/**
 * One backend pass for the chunks of several images' steps. The batch encoder advances every
 * image of a batch at once (chain/run.ts), each asking for its step's chunks in the same tick; a
 * coalescing backend gathers the requests made before the next microtask into one selectBatch
 * (one SIMD pass over all their (chunk, block) items, one kernel launch on a GPU) and hands each
 * caller its own selections. Results are the same as calling the backend per image: selection is
 * per chunk (docs/rcc.md §9).
 */
import type { ChunkRequest, RccBackend, Selection } from './select.js';

interface Waiting {
  readonly requests: readonly ChunkRequest[];
  readonly resolve: (s: Selection[]) => void;
  readonly reject: (e: unknown) => void;
}

export function coalescingBackend(inner: RccBackend): RccBackend {
  let queue: Waiting[] = [];
  const flush = () => {
    const batch = queue;
    queue = [];
    const all = batch.flatMap((w) => w.requests);
    inner.selectBatch(all).then((sel) => {
      let off = 0;
      for (const w of batch) {
        w.resolve(sel.slice(off, off + w.requests.length));
        off += w.requests.length;
      }
    }, (e: unknown) => {
      // One bad request fails the pass: each caller retries alone, so only its own call fails.
      if (batch.length === 1) batch[0].reject(e);
      else for (const w of batch) inner.selectBatch(w.requests).then(w.resolve, w.reject);
    });
  };
  return {
    name: inner.name,
    selectBatch(requests) {
      if (requests.length === 0) return Promise.resolve([]);
      return new Promise<Selection[]>((resolve, reject) => {
        if (queue.length === 0) queueMicrotask(flush);
        queue.push({ requests, resolve, reject });
      });
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
