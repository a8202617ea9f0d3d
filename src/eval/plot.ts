/**
 * A self-contained SVG rate–distortion plot (no dependencies) and CSV writing.
 */
export interface Series {
  readonly name: string;
  readonly points: readonly { bpp: number; psnr: number }[];
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function ticks(lo: number, hi: number, n = 6): number[] {
  const span = hi - lo || 1, raw = span / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(+v.toPrecision(6));
  return out;
}

export function rdPlotSvg(series: readonly Series[], opts: { title?: string; width?: number; height?: number; metric?: 'PSNR' | 'MS-SSIM' } = {}): string {
  const W = opts.width ?? 720, H = opts.height ?? 480, m = { l: 64, r: 140, t: 40, b: 52 };
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.bpp) && Number.isFinite(p.psnr));
  const x0 = 0, x1 = Math.max(...pts.map((p) => p.bpp), 0.01) * 1.05;
  const yLo = pts.length ? Math.min(...pts.map((p) => p.psnr)) : 0, yHi = pts.length ? Math.max(...pts.map((p) => p.psnr)) : 1;
  const y0 = Math.floor(yLo - 1), y1 = Math.ceil(yHi + 1);
  const sx = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  for (const t of ticks(x0, x1)) out.push(`<line x1="${sx(t)}" y1="${m.t}" x2="${sx(t)}" y2="${H - m.b}" stroke="#eee"/><text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  for (const t of ticks(y0, y1)) out.push(`<line x1="${m.l}" y1="${sy(t)}" x2="${W - m.r}" y2="${sy(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="black"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">bits per pixel</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.metric ?? 'PSNR')} (dB)</text>`);
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const ps = [...s.points].filter((p) => Number.isFinite(p.bpp) && Number.isFinite(p.psnr)).sort((a, b) => a.bpp - b.bpp);
    if (ps.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${ps.map((p) => `${sx(p.bpp).toFixed(1)},${sy(p.psnr).toFixed(1)}`).join(' ')}"/>`);
    for (const p of ps) out.push(`<circle cx="${sx(p.bpp).toFixed(1)}" cy="${sy(p.psnr).toFixed(1)}" r="3.5" fill="${c}"/>`);
    out.push(`<line x1="${W - m.r + 14}" y1="${m.t + 14 + i * 20}" x2="${W - m.r + 34}" y2="${m.t + 14 + i * 20}" stroke="${c}" stroke-width="2"/><text x="${W - m.r + 40}" y="${m.t + 18 + i * 20}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function writeCsv(rows: readonly Record<string, string | number | undefined>[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => {
    if (v === undefined) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
