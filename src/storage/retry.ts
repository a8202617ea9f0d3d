/**
 * Bounded retries with exponential backoff and jitter. Only StorageError 'unavailable' (5xx,
 * throttling, refused or reset connections, timeouts) is retried; the loop stops after
 * retry.maxAttempts tries or once retry.maxElapsedMs has passed, whichever comes first.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryConfig } from './config.js';
import { StorageError } from './errors.js';

/** Delay before try `attempt + 1`: base * 2^(attempt-1), capped, then scaled by [0.5, 1). */
export function backoffMs(cfg: RetryConfig, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(cfg.maxDelayMs, cfg.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap * (0.5 + 0.5 * random()));
}

export async function withRetry<T>(
  cfg: RetryConfig,
  what: string,
  fn: (attempt: number) => Promise<T>,
  toStorageError: (e: unknown) => StorageError,
): Promise<T> {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const err = toStorageError(e);
      if (err.code !== 'unavailable') throw err;
      const elapsed = Date.now() - start;
      const delay = backoffMs(cfg, attempt);
      if (attempt >= cfg.maxAttempts || elapsed + delay > cfg.maxElapsedMs) {
        throw new StorageError('unavailable',
          `${what}: ${err.message} (gave up after ${attempt} tr${attempt === 1 ? 'y' : 'ies'} in ${(elapsed / 1000).toFixed(1)} s)`,
          { cause: err.cause ?? err });
      }
      await sleep(delay);
    }
  }
}
