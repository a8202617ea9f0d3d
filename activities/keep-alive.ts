/**
 * Heartbeats on a timer while an activity works, not only when it finishes a unit of work: one
 * chain step of a 4K photo can take minutes of RCC on a CPU worker and a model load longer (the
 * native RCC, ONNX Runtime and sharp run off the event loop, so the timer fires meanwhile), and a
 * heartbeat timeout longer than the slowest step would make a dead worker's hand-over that slow
 * too. The timer also measures how late it fired: the longest event-loop stall, which the
 * workflow uses to size the heartbeat timeout (src/orchestration/timeouts.ts).
 */
import type { Context } from '@temporalio/activity';

export interface KeepAlive {
  stop(): void;
  /** The longest the timer fired late so far, seconds (0: never late, or no timer). */
  stallSeconds(): number;
}

/** Starts heartbeating `details()` every quarter of the heartbeat timeout (1-15 s). */
export function keepAlive(ctx: Context, details: () => unknown): KeepAlive {
  const timeout = ctx.info.heartbeatTimeoutMs;
  if (!timeout) return { stop: () => undefined, stallSeconds: () => 0 };
  const every = Math.min(15_000, Math.max(1_000, timeout / 4));
  let last = Date.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    worst = Math.max(worst, now - last - every);
    last = now;
    ctx.heartbeat(details());
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer), stallSeconds: () => Math.max(0, worst) / 1000 };
}
