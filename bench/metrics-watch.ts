/**
 * bench:bulk's view of the workers' /metrics: every worker's health port scraped every half
 * second while a job runs, and what was seen: the Temporal SDK's series names, per-job and bulk
 * series (distinct label sets), and a few values an operator reads (activity schedule-to-start,
 * gpu slots, job steps, bulk ETA).
 */
import type { ChildProcess } from 'node:child_process';

interface Sample {
  readonly name: string;
  readonly labels: string;
  readonly value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

const label = (labels: string, name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(labels)?.[1];

export class MetricsWatch {
  private readonly ports = new Map<ChildProcess, number>();
  /** Each worker's latest scrape, kept after it stops (its cumulative totals stay valid). */
  private readonly lastText = new Map<number, string>();
  private readonly sdkNames = new Set<string>();
  private readonly jobSeries = new Set<string>();
  private readonly bulkSeries = new Set<string>();
  private maxJob: { series: string; step: number; target?: number } | undefined;
  private readonly eta = new Map<string, { max: number; last: number }>();
  private maxGpuSlotsUsed = 0;
  private scrapes = 0;
  /** Failed scrapes by reason (a worker busy past the timeout, or gone). */
  private readonly failed = new Map<string, number>();

  constructor(private readonly queues: { io: string; gpu: string }) {}

  add = (p: ChildProcess, port: number): void => void this.ports.set(p, port);
  remove = (p: ChildProcess): void => void this.ports.delete(p);

  /** Runs f, scraping every worker every `everyMs` until it settles, then once more. */
  async during<T>(f: () => Promise<T>, everyMs = 500): Promise<T> {
    let done = false;
    const loop = (async () => {
      while (!done) {
        await this.scrapeAll();
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    try {
      return await f();
    } finally {
      done = true;
      await loop;
      await this.scrapeAll();
    }
  }

  private async scrapeAll(): Promise<void> {
    await Promise.all([...this.ports].map(async ([p, port]) => {
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        this.scrapes++;
        this.lastText.set(p.pid!, text);
        this.observe(text);
      } catch (e) {
        const why = ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
        this.failed.set(why, (this.failed.get(why) ?? 0) + 1);
      }
    }));
  }

  private observe(text: string): void {
    const targets = new Map<string, number>();
    for (const s of samples(text)) {
      if (s.name.startsWith('temporal_')) this.sdkNames.add(s.name);
      if (s.name.startsWith('diffc_job_')) this.jobSeries.add(`${s.name}${s.labels}`);
      if (s.name.startsWith('diffc_bulk_')) this.bulkSeries.add(`${s.name}${s.labels}`);
      if (s.name === 'diffc_job_steps_target') targets.set(label(s.labels, 'workflow_id') ?? '', s.value);
      if (s.name === 'temporal_worker_task_slots_used' && label(s.labels, 'task_queue') === this.queues.gpu && label(s.labels, 'worker_type') === 'ActivityWorker') {
        this.maxGpuSlotsUsed = Math.max(this.maxGpuSlotsUsed, s.value);
      }
      if (s.name === 'diffc_bulk_eta_seconds') {
        const job = label(s.labels, 'job_id') ?? '';
        const e = this.eta.get(job) ?? { max: 0, last: 0 };
        this.eta.set(job, { max: Math.max(e.max, s.value), last: s.value });
      }
    }
    for (const s of samples(text)) {
      if (s.name === 'diffc_job_step' && (!this.maxJob || s.value > this.maxJob.step)) {
        this.maxJob = { series: s.labels, step: s.value, target: targets.get(label(s.labels, 'workflow_id') ?? '') };
      }
    }
  }

  /** Summed over every worker's latest scrape: one cumulative series per worker and label set. */
  private total(name: string, where: (labels: string) => boolean): number {
    let t = 0;
    for (const text of this.lastText.values()) for (const s of samples(text)) if (s.name === name && where(s.labels)) t += s.value;
    return t;
  }

  private scheduleToStartMs(queue: string): number | undefined {
    const on = (l: string) => label(l, 'task_queue') === queue;
    const n = this.total('temporal_activity_schedule_to_start_latency_seconds_count', on);
    return n > 0 ? (1000 * this.total('temporal_activity_schedule_to_start_latency_seconds_sum', on)) / n : undefined;
  }

  private slots(kind: 'used' | 'available'): number {
    return this.total(`temporal_worker_task_slots_${kind}`, (l) => label(l, 'task_queue') === this.queues.gpu && label(l, 'worker_type') === 'ActivityWorker');
  }

  /** Lines for stderr: what the scrapes showed. */
  report(): string[] {
    const ms = (v: number | undefined) => (v === undefined ? 'none' : `${v.toFixed(1)} ms`);
    const failed = [...this.failed].map(([why, n]) => `${n} ${why}`).join('; ');
    const out = [`/metrics: ${this.scrapes} scrapes of ${this.lastText.size} workers${failed ? ` (failed: ${failed})` : ''}`];
    out.push(`  SDK series (${this.sdkNames.size}): ${[...this.sdkNames].sort().join(' ')}`);
    out.push(`  activity schedule-to-start, mean: gpu ${ms(this.scheduleToStartMs(this.queues.gpu))}, io ${ms(this.scheduleToStartMs(this.queues.io))}`);
    out.push(`  gpu activity slots (last scrapes, all workers): ${this.slots('used')} used, ${this.slots('available')} available; most used at one scrape of one worker ${this.maxGpuSlotsUsed}`);
    const jobNames = new Set([...this.jobSeries].map((s) => s.split('{')[0]));
    out.push(`  per-job series: ${this.jobSeries.size} label sets of ${[...jobNames].sort().join(', ') || 'none'}` +
      (this.maxJob ? `; highest step seen ${this.maxJob.step}${this.maxJob.target !== undefined ? ` of ${this.maxJob.target}` : ''} at ${this.maxJob.series}` : ''));
    out.push(`  bulk series: ${this.bulkSeries.size} label sets; eta_seconds ${[...this.eta].map(([j, e]) => `${j}: max ${e.max.toFixed(1)}, last ${e.last.toFixed(1)}`).join('; ') || 'none'}`);
    return out;
  }

  /** Keys for the last-line JSON. */
  summary(): Record<string, number | null> {
    const r = (v: number | undefined) => (v === undefined ? null : +v.toFixed(2));
    return {
      metrics_scrapes: this.scrapes,
      metrics_scrapes_failed: [...this.failed.values()].reduce((a, b) => a + b, 0),
      metrics_sdk_series: this.sdkNames.size,
      metrics_job_series: this.jobSeries.size,
      metrics_bulk_series: this.bulkSeries.size,
      metrics_schedule_to_start_ms: r(this.scheduleToStartMs(this.queues.gpu)),
      metrics_max_job_step: this.maxJob?.step ?? null,
      metrics_bulk_eta_max_s: this.eta.size ? r(Math.max(...[...this.eta.values()].map((e) => e.max))) : null,
    };
  }
}
