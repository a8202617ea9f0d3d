/**
 * Metric names in PromQL expressions and in Prometheus text, for checking that a dashboard asks
 * only for series a real worker exposes. A small lexer, not a parser: strings, label matchers,
 * ranges and grouping clauses are removed, then every identifier that is not a function call, a
 * keyword or an aggregation is a metric name.
 */

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'atan2',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'inf', 'nan',
]);

/** Every metric name an expression selects (bare selectors and `{__name__="..."}`). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(m[1]);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' $1 ') // label lists
    .replace(/\$\{?\w+\}?/g, ' '); // Grafana variables
  for (const m of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Every PromQL expression in a Grafana dashboard: panel targets (rows' too) and query variables. */
export function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown, key = ''): void => {
    if (Array.isArray(v)) v.forEach((x) => visit(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(x, k);
    else if (typeof v === 'string' && key === 'expr') out.push(v);
    else if (typeof v === 'string' && key === 'query' && /label_values\s*\(/.test(v)) {
      const m = /label_values\s*\(\s*([^,)]+)/.exec(v);
      if (m) out.push(m[1]);
    }
  };
  visit(dashboard);
  return out;
}

/** Sample names in Prometheus text exposition, with each family's TYPE (histogram samples map to theirs). */
export function exposedNames(text: string): { samples: Set<string>; types: Map<string, string> } {
  const samples = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1], t[2]);
    else if (line && !line.startsWith('#')) samples.add(line.split(/[{\s]/)[0]);
  }
  return { samples, types };
}

/** The TYPE of the family a sample name belongs to (foo_bucket -> foo's histogram). */
export function typeOfSample(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return types.get(name);
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && types.get(base) === 'histogram' ? 'histogram' : undefined;
}
