/**
 * A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered
 * in the text exposition format (0.0.4). Every family caps its series (label sets): past the cap
 * a new label set is dropped and counted, so a label fed from job data can never grow a worker's
 * memory or a scrape without bound.
 */

type Labels<L extends string> = Readonly<Record<L, string>>;

/** Values as plain decimals (the exposition format reads exponents too, but some tools do not). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const s = String(v);
  if (!s.includes('e')) return s;
  return Math.abs(v) < 1 ? v.toFixed(20).replace(/\.?0+$/, '') : BigInt(Math.round(v)).toString();
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Family<L extends string, S> {
  protected readonly series = new Map<string, { values: string[]; s: S }>();
  constructor(
    readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram',
    readonly labelNames: readonly L[], private readonly maxSeries: number, private readonly onDrop: (name: string) => void,
  ) {}

  protected abstract fresh(): S;
  protected abstract renderSeries(lines: string[], values: readonly string[], s: S): void;

  /** The series for these labels, created on first use; undefined past the cap. */
  protected get(labels: Labels<L>): S | undefined {
    const values = this.labelNames.map((n) => String(labels[n] ?? ''));
    const key = JSON.stringify(values);
    let e = this.series.get(key);
    if (!e) {
      if (this.series.size >= this.maxSeries) {
        this.onDrop(this.name);
        return undefined;
      }
      e = { values, s: this.fresh() };
      this.series.set(key, e);
    }
    return e.s;
  }

  /** Drops one label set (a job that ended); the next use starts it again. */
  remove(labels: Labels<L>): void {
    this.series.delete(JSON.stringify(this.labelNames.map((n) => String(labels[n] ?? ''))));
  }

  /** Drops every series whose labels match all of `match` (e.g. every series of one workflow id). */
  removeMatching(match: Partial<Labels<L>>): void {
    const want = Object.entries(match) as [L, string][];
    for (const [key, e] of this.series) {
      if (want.every(([n, v]) => e.values[this.labelNames.indexOf(n)] === v)) this.series.delete(key);
    }
  }

  get size(): number {
    return this.series.size;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, s } of this.series.values()) this.renderSeries(lines, values, s);
  }
}

export class Counter<L extends string = never> extends Family<L, { v: number }> {
  protected fresh() {
    return { v: 0 };
  }
  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    const s = this.get(labels);
    if (s) s.v += by;
  }
  protected renderSeries(lines: string[], values: readonly string[], s: { v: number }): void {
    lines.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`);
  }
}

export class Gauge<L extends string = never> extends Family<L, { v: number }> {
  protected fresh() {
    return { v: 0 };
  }
  set(labels: Labels<L>, v: number): void {
    const s = this.get(labels);
    if (s) s.v = v;
  }
  inc(labels: Labels<L>, by = 1): void {
    const s = this.get(labels);
    if (s) s.v += by;
  }
  protected renderSeries(lines: string[], values: readonly string[], s: { v: number }): void {
    lines.push(`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`);
  }
}

interface HistogramSeries {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends Family<L, HistogramSeries> {
  constructor(
    name: string, help: string, labelNames: readonly L[], readonly buckets: readonly number[], maxSeries: number, onDrop: (name: string) => void,
  ) {
    super(name, help, 'histogram', labelNames, maxSeries, onDrop);
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1])) throw new Error(`${name}: buckets must increase`);
  }
  protected fresh(): HistogramSeries {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels<L>, v: number): void {
    if (!Number.isFinite(v)) return;
    const s = this.get(labels);
    if (!s) return;
    // Per-bucket counts, made cumulative when rendered.
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) s.counts[i]++;
    s.sum += v;
    s.count++;
  }
  protected renderSeries(lines: string[], values: readonly string[], s: HistogramSeries): void {
    let cum = 0;
    this.buckets.forEach((b, i) => {
      cum += s.counts[i];
      lines.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${formatValue(b)}"`)} ${cum}`);
    });
    lines.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${s.count}`);
    lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(s.sum)}`);
    lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class Registry {
  private readonly families: Family<string, unknown>[] = [];
  private readonly dropped = new Map<string, number>();

  private add<F extends Family<string, unknown>>(f: F): F {
    if (!NAME.test(f.name) || f.labelNames.some((l) => !LABEL.test(l) || l === 'le')) throw new Error(`bad metric or label name in ${f.name}`);
    if (this.families.some((g) => g.name === f.name)) throw new Error(`${f.name} is registered twice`);
    this.families.push(f);
    return f;
  }
  private readonly drop = (name: string) => this.dropped.set(name, (this.dropped.get(name) ?? 0) + 1);

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], maxSeries = 1000): Counter<L> {
    return this.add(new Counter<L>(name, help, 'counter', labelNames, maxSeries, this.drop));
  }
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], maxSeries = 1000): Gauge<L> {
    return this.add(new Gauge<L>(name, help, 'gauge', labelNames, maxSeries, this.drop));
  }
  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[], maxSeries = 200): Histogram<L> {
    return this.add(new Histogram<L>(name, help, labelNames, buckets, maxSeries, this.drop));
  }

  /** Every family in registration order, and the label sets dropped at a cap. */
  render(lines: string[] = []): string[] {
    for (const f of this.families) f.render(lines);
    if (this.dropped.size) {
      lines.push('# HELP diffc_metrics_series_dropped_total Label sets refused because a family reached its series cap.',
        '# TYPE diffc_metrics_series_dropped_total counter');
      for (const [name, n] of this.dropped) lines.push(`diffc_metrics_series_dropped_total{metric="${name}"} ${n}`);
    }
    return lines;
  }
}
