/**
 * `diffc eval --report`: one self-contained HTML page (no scripts, no external files): an RD
 * plot per metric, the per-codec table, diffc's BD-rate table, side-by-side crops of one image
 * (original, diffc at each rate, each baseline at the matched rate) and that image's progressive
 * decode as a strip of prefixes of one file. Pure: takes PNG bytes, returns the page.
 */
import { escapeXml, rdPlotSvg, type RdPlotOptions } from './plot.js';

export interface ReportPoint {
  readonly target_bpp: number;
  readonly bpp: number;
  readonly [metric: string]: number | null;
}

export interface ReportMetric {
  readonly key: string;
  readonly label: NonNullable<RdPlotOptions['metric']>;
  readonly lowerIsBetter: boolean;
  readonly digits: number;
}

export interface ReportImage {
  readonly label: string;
  readonly bpp?: number;
  readonly png: Uint8Array;
}

export interface ReportInput {
  readonly model: string;
  readonly images: readonly string[];
  readonly summary: Readonly<Record<string, readonly ReportPoint[]>>;
  readonly bdRate: Readonly<Record<string, Readonly<Record<string, number | null>>>> | null;
  readonly metrics: readonly ReportMetric[];
  /** Crops of one image: the original, then rows of one codec each (one cell per rate). */
  readonly crops?: { readonly image: string; readonly region: string; readonly original: ReportImage; readonly rows: readonly { readonly codec: string; readonly cells: readonly ReportImage[] }[] };
  /** Prefixes of one diffc file, in order. */
  readonly progressive?: { readonly image: string; readonly frames: readonly ReportImage[] };
  readonly notes?: readonly string[];
}

const h = escapeXml;
const pngUri = (b: Uint8Array) => `data:image/png;base64,${Buffer.from(b).toString('base64')}`;
const fmt = (v: number | null | undefined, digits: number) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function figure(img: ReportImage, cls = ''): string {
  const cap = img.bpp === undefined ? h(img.label) : `${h(img.label)}<br>${img.bpp.toFixed(4)} bpp`;
  return `<figure class="${cls}"><img src="${pngUri(img.png)}" alt="${h(img.label)}"><figcaption>${cap}</figcaption></figure>`;
}

export function renderReport(r: ReportInput): string {
  const codecs = Object.keys(r.summary);
  const plots = r.metrics.map((m) => {
    const series = codecs.map((c) => ({ name: c, points: r.summary[c].flatMap((p) => (typeof p[m.key] === 'number' ? [{ bpp: p.bpp, psnr: p[m.key] as number }] : [])) }));
    return `<div class="plot">${rdPlotSvg(series, { title: m.label, metric: m.label, lowerIsBetter: m.lowerIsBetter, width: 560, height: 380 })}</div>`;
  }).join('\n');

  const head = ['codec', 'target bpp', 'bpp', ...r.metrics.map((m) => `${m.label}${m.lowerIsBetter ? ' ↓' : ''}`)];
  const body = codecs.flatMap((c) => r.summary[c].map((p) => `<tr><td>${h(c)}</td><td>${p.target_bpp}</td><td>${p.bpp.toFixed(4)}</td>${r.metrics.map((m) => `<td>${fmt(p[m.key], m.digits)}</td>`).join('')}</tr>`));
  const table = `<table><thead><tr>${head.map((x) => `<th>${h(x)}</th>`).join('')}</tr></thead><tbody>${body.join('\n')}</tbody></table>`;

  const bd = r.bdRate && Object.keys(r.bdRate).length
    ? `<h2>BD-rate of diffc</h2><p>Average rate change of diffc against each baseline at equal quality (PCHIP over the mean points; negative: diffc needs fewer bits; – where the curves do not overlap).</p>
<table><thead><tr><th>against</th>${r.metrics.map((m) => `<th>${h(m.label)}</th>`).join('')}</tr></thead><tbody>${Object.entries(r.bdRate).map(([anchor, v]) => `<tr><td>${h(anchor)}</td>${r.metrics.map((m) => `<td>${v[m.key] === null || v[m.key] === undefined ? '–' : `${v[m.key]! > 0 ? '+' : ''}${v[m.key]!.toFixed(2)} %`}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`
    : '';

  const crops = r.crops
    ? `<h2>Crops of ${h(r.crops.image)} (${h(r.crops.region)})</h2><div class="row">${figure(r.crops.original)}</div>
${r.crops.rows.map((row) => `<div class="row"><div class="rowlabel">${h(row.codec)}</div>${row.cells.map((c) => figure(c)).join('')}</div>`).join('\n')}`
    : '';
  const strip = r.progressive
    ? `<h2>Progressive decode of ${h(r.progressive.image)}</h2><p>Prefixes of one diffc file: every frame is the same .dfc cut after fewer steps.</p><div class="row strip">${r.progressive.frames.map((f) => figure(f, 'small')).join('')}</div>`
    : '';
  const notes = r.notes?.length ? `<ul class="notes">${r.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diffc eval: ${h(r.model)}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.row { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; margin-bottom: 8px; }
.rowlabel { width: 56px; font-weight: bold; padding-top: 8px; }
figure { margin: 0; text-align: center; font-size: 12px; }
figure img { display: block; image-rendering: pixelated; }
figure.small img { width: 160px; }
.notes { color: #666; font-size: 12px; }
</style></head><body>
<h1>diffc eval: ${h(r.model)}</h1>
<p>${r.images.length} image${r.images.length === 1 ? '' : 's'}: ${r.images.map(h).join(', ')}. Baselines are encoded at the bpp diffc reached for each target.</p>
${notes}
<h2>Rate-quality curves</h2><div class="plots">${plots}</div>
<h2>Mean scores</h2>${table}
${bd}
${crops}
${strip}
</body></html>
`;
}
