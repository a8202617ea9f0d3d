// The RD plot is well-formed, self-contained SVG with what it promises; CSV quoting per RFC 4180.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rdPlotSvg, writeCsv, type Series } from '../src/eval/plot.js';

/**
 * A small XML well-formedness check: tags nest and close, attributes are quoted and unique,
 * text holds no raw '<' and only the predefined entities. Returns the element names in order.
 */
function checkXml(xml: string): string[] {
  const names: string[] = [], stack: string[] = [];
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi;
  const text = (s: string) => assert.ok(!s.replace(entity, '').includes('&') && !s.includes('>'), `bad text: ${s.slice(0, 40)}`);
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) { text(xml.slice(i)); break; }
    text(xml.slice(i, lt));
    const gt = xml.indexOf('>', lt);
    assert.ok(gt > lt, 'unclosed tag');
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      assert.equal(tag.slice(1).trim(), stack.pop(), 'mismatched close tag');
    } else {
      const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
      assert.ok(m, `malformed tag <${tag}>`);
      const attrs = [...m[2].matchAll(/([\w:-]+)="([^"]*)"/g)];
      assert.equal(new Set(attrs.map((a) => a[1])).size, attrs.length, `duplicate attribute in <${m[1]}>`);
      for (const a of attrs) text(a[2]);
      names.push(m[1]);
      if (!m[3]) stack.push(m[1]);
    }
    i = gt + 1;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return names;
}

const series: Series[] = [
  { name: 'diffc <sd1.5> & "friends"', points: [{ bpp: 0.2, psnr: 27 }, { bpp: 0.05, psnr: 22 }, { bpp: 0.1, psnr: 25 }] },
  { name: 'jpeg', points: [{ bpp: 0.15, psnr: 21 }, { bpp: 0.4, psnr: 28 }, { bpp: NaN, psnr: 30 }] },
  { name: 'avif', points: [{ bpp: 0.3, psnr: 31.5 }] },
];

test('RD plot: well-formed, one polyline per multi-point series, a marker per point, escaped names', () => {
  const svg = rdPlotSvg(series, { title: 'Kodak <24>', width: 640, height: 400 });
  const names = checkXml(svg);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="640" height="400" viewBox="0 0 640 400"/);
  assert.ok(!/href=|<script|<image/.test(svg), 'self-contained');
  assert.equal(names.filter((n) => n === 'polyline').length, 2);
  // Markers carry a <title>; legend markers too: 3 + 2 + 1 points + 3 legend entries.
  assert.equal(names.filter((n) => n === 'title').length, 9);
  assert.ok(svg.includes('diffc &lt;sd1.5&gt; &amp; &quot;friends&quot;') && svg.includes('Kodak &lt;24&gt;'));
  assert.ok(svg.includes('>PSNR (dB)<') && svg.includes('>bits per pixel<'));
  // Points are drawn in bpp order: the first polyline's x coordinates increase.
  const xs = /<polyline[^>]*points="([^"]+)"/.exec(svg)![1].split(' ').map((p) => +p.split(',')[0]);
  assert.deepEqual(xs, [...xs].sort((a, b) => a - b));
  // Every coordinate stays inside the canvas.
  for (const m of svg.matchAll(/\b(?:cx|x1|x2)="([-\d.]+)"/g)) assert.ok(+m[1] >= 0 && +m[1] <= 640);
  for (const m of svg.matchAll(/\b(?:cy|y1|y2)="([-\d.]+)"/g)) assert.ok(+m[1] >= 0 && +m[1] <= 400);
});

test('RD plot: log-x axis, MS-SSIM label and range, empty input', () => {
  const ms: Series[] = [{ name: 'a', points: [{ bpp: 0.03, psnr: 0.91 }, { bpp: 0.3, psnr: 0.97 }, { bpp: 0, psnr: 0.5 }] }];
  const svg = rdPlotSvg(ms, { metric: 'MS-SSIM', logX: true });
  checkXml(svg);
  assert.ok(svg.includes('>MS-SSIM<') && !svg.includes('(dB)') && svg.includes('(log scale)'));
  // 1-2-5 ticks just covering 0.03 .. 0.3 (with 5% room); the bpp = 0 point is left out on a log axis.
  for (const t of ['0.02', '0.05', '0.1', '0.2', '0.5']) assert.ok(svg.includes(`>${t}</text>`), `tick ${t}`);
  for (const t of ['0.01', '1']) assert.ok(!svg.includes(`>${t}</text>`), `no tick ${t}`);
  assert.equal((svg.match(/<circle/g) ?? []).length, 3); // 2 points + legend
  // y ticks fit MS-SSIM values (not whole dB steps).
  assert.ok(/>0\.9[0-9]*<\/text>/.test(svg));
  const empty = rdPlotSvg([]);
  checkXml(empty);
  assert.ok(empty.includes('no data'));
});

test('CSV: header is the union of keys, RFC 4180 quoting, empty cells for missing values', () => {
  const csv = writeCsv([
    { image: 'a.png', codec: 'jpeg', psnr: 28.5 },
    { image: 'b,c.png', codec: 'say "hi"', bpp: 0.25 },
    { image: 'multi\nline', codec: ' padded', psnr: NaN },
    { 'odd,"key"': 1 },
  ]);
  assert.equal(csv, [
    'image,codec,psnr,bpp,"odd,""key"""',
    'a.png,jpeg,28.5,,',
    '"b,c.png","say ""hi""",,0.25,',
    '"multi\nline"," padded",NaN,,',
    ',,,,1',
    '',
  ].join('\n'));
  assert.equal(writeCsv([]), '\n');
});
