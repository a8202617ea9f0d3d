/**
 * Rate-distortion output with no dependencies: a self-contained SVG plot (axes, ticks, labels,
 * legend, one polyline with markers per series) and CSV text (RFC 4180 quoting).
 */
export interface RdPoint {
  readonly bpp: number;
  /** The quality value on the plot's metric (named psnr for its first use: PSNR in dB). */
  readonly psnr: number;
}

export interface Series {
  readonly name: string;
  readonly points: readonly RdPoint[];
}

export interface RdPlotOptions {
  readonly title?: string;
  readonly width?: number;
  readonly height?: number;
  /** The y axis: PSNR (dB), MS-SSIM (capped at 1), or any other metric by its label. */
  readonly metric?: 'PSNR' | 'MS-SSIM' | 'SSIMULACRA 2' | 'Butteraugli' | 'LPIPS' | 'DISTS';
  /** Lower values are better (a distance): said on the axis. */
  readonly lowerIsBetter?: boolean;
  /** Logarithmic bpp axis (1-2-5 ticks); points with bpp <= 0 are left out. */
  readonly logX?: boolean;
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const MARKERS = ['circle', 'square', 'diamond', 'triangle'] as const;

/** Text and attribute values: the five XML special characters escaped. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const num = (v: number) => +v.toFixed(2);
const label = (v: number) => String(+v.toPrecision(6));

/** About n 'nice' ticks (1, 2, 5 x 10^k steps) covering [lo, hi]. */
function linearTicks(lo: number, hi: number, n = 6): { ticks: number[]; lo: number; hi: number } {
  const span = hi - lo || Math.abs(hi) || 1;
  const mag = 10 ** Math.floor(Math.log10(span / n));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) ?? 10 * mag;
  const a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; a + i * step <= b + step * 1e-9; i++) ticks.push(+(a + i * step).toPrecision(12));
  return { ticks, lo: a, hi: b === a ? a + step : b };
}

/** 1-2-5 ticks per decade, from the last one at or below lo to the first one at or above hi. */
function logTicks(lo: number, hi: number): { ticks: number[]; lo: number; hi: number } {
  const all: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) all.push(+(m * 10 ** e).toPrecision(12));
  const a = all.filter((t) => t <= lo).pop() ?? all[0];
  const b = all.find((t) => t >= hi) ?? all[all.length - 1];
  const ticks = all.filter((t) => t >= a && t <= b);
  return { ticks, lo: a, hi: b > a ? b : ticks[1] ?? a * 2 };
}

function marker(shape: (typeof MARKERS)[number], x: number, y: number, colour: string, tip: string): string {
  const t = `<title>${escapeXml(tip)}</title>`;
  switch (shape) {
    case 'circle': return `<circle cx="${num(x)}" cy="${num(y)}" r="3.5" fill="${colour}">${t}</circle>`;
    case 'square': return `<rect x="${num(x - 3.5)}" y="${num(y - 3.5)}" width="7" height="7" fill="${colour}">${t}</rect>`;
    case 'diamond': return `<polygon points="${num(x)},${num(y - 4.5)} ${num(x + 4.5)},${num(y)} ${num(x)},${num(y + 4.5)} ${num(x - 4.5)},${num(y)}" fill="${colour}">${t}</polygon>`;
    case 'triangle': return `<polygon points="${num(x)},${num(y - 4.5)} ${num(x + 4.5)},${num(y + 3.5)} ${num(x - 4.5)},${num(y + 3.5)}" fill="${colour}">${t}</polygon>`;
  }
}

export function rdPlotSvg(series: readonly Series[], opts: RdPlotOptions = {}): string {
  const W = opts.width ?? 720, H = opts.height ?? 480, metric = opts.metric ?? 'PSNR', logX = opts.logX ?? false;
  const usable = (p: RdPoint) => Number.isFinite(p.bpp) && Number.isFinite(p.psnr) && (!logX || p.bpp > 0);
  const clean = series.map((s) => ({ name: s.name, points: s.points.filter(usable).sort((a, b) => a.bpp - b.bpp) }));
  const all = clean.flatMap((s) => s.points);
  const legendW = Math.min(220, 48 + 7 * Math.max(0, ...clean.map((s) => s.name.length)));
  const m = { l: 64, r: legendW, t: opts.title ? 40 : 20, b: 52 };

  const xs = all.map((p) => p.bpp), ys = all.map((p) => p.psnr);
  const xr = logX
    ? logTicks(xs.length ? Math.min(...xs) / 1.05 : 0.01, xs.length ? Math.max(...xs) * 1.05 : 1)
    : linearTicks(0, xs.length ? Math.max(...xs) * 1.05 : 1);
  // The y axis spans the data (not from zero), with a little room above and below.
  const yMin = ys.length ? Math.min(...ys) : 0, yMax = ys.length ? Math.max(...ys) : 1;
  const pad = (yMax - yMin) * 0.05 || (metric === 'PSNR' ? 1 : 0.01);
  const yr = linearTicks(yMin - pad, metric === 'MS-SSIM' ? Math.min(1, yMax + pad) : yMax + pad);

  const px = (v: number) => logX
    ? m.l + ((Math.log10(v) - Math.log10(xr.lo)) / (Math.log10(xr.hi) - Math.log10(xr.lo))) * (W - m.l - m.r)
    : m.l + ((v - xr.lo) / (xr.hi - xr.lo)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - yr.lo) / (yr.hi - yr.lo)) * (H - m.t - m.b);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${num(W / 2)}" y="24" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`);
  out.push('<g class="grid" stroke="#e6e6e6">');
  for (const t of xr.ticks) out.push(`<line x1="${num(px(t))}" y1="${m.t}" x2="${num(px(t))}" y2="${H - m.b}"/>`);
  for (const t of yr.ticks) out.push(`<line x1="${m.l}" y1="${num(py(t))}" x2="${W - m.r}" y2="${num(py(t))}"/>`);
  out.push('</g>');
  out.push('<g class="ticks">');
  for (const t of xr.ticks) out.push(`<text x="${num(px(t))}" y="${H - m.b + 16}" text-anchor="middle">${label(t)}</text>`);
  for (const t of yr.ticks) out.push(`<text x="${m.l - 6}" y="${num(py(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  out.push('</g>');
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="black"/>`);
  out.push(`<text x="${num((m.l + W - m.r) / 2)}" y="${H - 12}" text-anchor="middle">bits per pixel${logX ? ' (log scale)' : ''}</text>`);
  const yLabel = metric === 'PSNR' ? 'PSNR (dB)' : metric === 'Butteraugli' || opts.lowerIsBetter ? `${metric} (lower is better)` : metric;
  out.push(`<text transform="translate(18 ${num((m.t + H - m.b) / 2)}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  if (!all.length) out.push(`<text x="${num((m.l + W - m.r) / 2)}" y="${num((m.t + H - m.b) / 2)}" text-anchor="middle" fill="#888">no data</text>`);
  clean.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length], shape = MARKERS[i % MARKERS.length];
    out.push(`<g class="series">`);
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map((p) => `${num(px(p.bpp))},${num(py(p.psnr))}`).join(' ')}"/>`);
    for (const p of s.points) out.push(marker(shape, px(p.bpp), py(p.psnr), c, `${s.name}: ${label(p.bpp)} bpp, ${label(p.psnr)}${metric === 'PSNR' ? ' dB' : ''}`));
    const ly = m.t + 14 + i * 20;
    out.push(`<line x1="${W - m.r + 12}" y1="${ly}" x2="${W - m.r + 36}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(marker(shape, W - m.r + 24, ly, c, s.name));
    out.push(`<text x="${W - m.r + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * Rows -> CSV (header = union of keys in first-seen order). Cells holding a comma, quote, CR or
 * LF, or leading/trailing spaces, are quoted with inner quotes doubled; missing values are empty.
 */
export function writeCsv(rows: readonly Record<string, string | number | undefined>[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => {
    if (v === undefined || v === null) return '';
    const s = String(v);
    return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.map(cell).join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
