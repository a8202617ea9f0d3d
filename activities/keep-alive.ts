/**
 * Heartbeats on a timer while an activity works, not only when it finishes a unit of work: one
 * chain step of a 4K photo can take minutes of RCC on a CPU worker (the native RCC runs off the
 * event loop, so the timer fires meanwhile), and a heartbeat timeout longer than the slowest step
 * would make a dead worker's hand-over that slow too.
 */
import type { Context } from '@temporalio/activity';

/** Starts heartbeating `details()` every quarter of the heartbeat timeout (1-15 s); returns the stop. */
export function keepAlive(ctx: Context, details: () => unknown): () => void {
  const timeout = ctx.info.heartbeatTimeoutMs;
  if (!timeout) return () => undefined;
  const every = Math.min(15_000, Math.max(1_000, timeout / 4));
  const timer = setInterval(() => ctx.heartbeat(details()), every);
  timer.unref();
  return () => clearInterval(timer);
}
