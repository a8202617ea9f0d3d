/**
 * `diffc eval --report` (src/eval/report.ts): the page is self-contained and escapes what it
 * shows; and in a real headless Chromium (Debian's chromium, driven by playwright-core) the page
 * of a real eval run loads with no console errors, every image decodes, and its screenshot shows
 * the plots. Without Chromium the browser test skips saying so, unless DIFFC_REQUIRE_BROWSER=1 (CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReport } from '../src/eval/report.js';
import { main } from '../src/cli/main.js';
import { encodeImage, loadImage, saveImage } from '../src/image/io.js';
import { resize } from '../src/image/geometry.js';

const png = await encodeImage({ width: 2, height: 2, data: new Float32Array(12).fill(0.5), bitDepth: 8 }, 'png');

test('the page: every section, no scripts or external files, names escaped', () => {
  const html = renderReport({
    model: 'm<1>', images: ['a&b.png'],
    summary: { diffc: [{ target_bpp: 0.1, bpp: 0.09, psnr: 20, msssim: 0.8 }, { target_bpp: 0.2, bpp: 0.19, psnr: 22, msssim: 0.9 }], jpeg: [{ target_bpp: 0.1, bpp: 0.1, psnr: 18, msssim: null }] },
    bdRate: { jpeg: { psnr: -12.5, msssim: null } },
    metrics: [{ key: 'psnr', label: 'PSNR', lowerIsBetter: false, digits: 2 }, { key: 'msssim', label: 'MS-SSIM', lowerIsBetter: false, digits: 4 }],
    crops: { image: 'a&b.png', region: '2x2 at (0, 0)', original: { label: 'original', png }, rows: [{ codec: 'diffc', cells: [{ label: 'diffc @ 0.1', bpp: 0.09, png }] }] },
    progressive: { image: 'a&b.png', frames: [{ label: '1 of 2 steps', bpp: 0.05, png }, { label: '2 of 2 steps', bpp: 0.09, png }] },
  });
  assert.equal((html.match(/<svg/g) ?? []).length, 2, 'one plot per metric');
  assert.match(html, /m&lt;1&gt;/);
  assert.match(html, /a&amp;b\.png/);
  assert.match(html, /-12\.50 %/);
  assert.doesNotMatch(html, /<script|src="http|href="http/);
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 4);
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', process.env.DIFFC_CHROMIUM ?? ''].find((p) => p && existsSync(p));
const skip = chromium || process.env.DIFFC_REQUIRE_BROWSER === '1' ? false : 'browser test skipped: no Chromium (Debian: apt-get install chromium; or DIFFC_CHROMIUM=path)';
const photo = new URL('../.cache/photos/coffee.png', import.meta.url).pathname;

test('a real eval report in headless Chromium: no console errors, images decode, plots drawn', { skip, timeout: 300_000 }, async () => {
  assert.ok(chromium, 'Chromium not found');
  const dir = mkdtempSync(join(tmpdir(), 'diffc-report-'));
  try {
    mkdirSync(join(dir, 'in'));
    await saveImage(resize(await loadImage(photo), 128, 96), join(dir, 'in', 'coffee.png'));
    const err: string[] = [];
    const code = await main(['eval', join(dir, 'in'), '--bpp', '0.2,0.5', '--codecs', 'diffc,jpeg,webp', '--out', join(dir, 'out'), '--report', '-q'], () => undefined, (s) => err.push(s));
    assert.equal(code, 0, err.join('\n'));
    const page = join(dir, 'out', 'report.html');
    assert.ok(readFileSync(page, 'utf8').includes('Progressive decode'));

    const { chromium: pw } = await import('playwright-core');
    const browser = await pw.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      tab.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
      tab.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url().slice(0, 80)}`));
      await tab.goto(pathToFileURL(page).href, { waitUntil: 'load' });
      const facts = await tab.evaluate(() => ({
        svgs: document.querySelectorAll('svg').length,
        lines: document.querySelectorAll('svg polyline').length,
        images: [...document.images].map((i) => i.complete && i.naturalWidth > 0),
      }));
      assert.deepEqual(problems, []);
      assert.ok(facts.svgs >= 2 && facts.lines >= 4, JSON.stringify(facts));
      assert.ok(facts.images.length >= 1 + 3 * 2 + 2 && facts.images.every(Boolean), `images: ${facts.images.join()}`);
      // The screenshot shows the first plot: its series colours are on the page's top part.
      const shot = await tab.screenshot({ path: join(dir, 'report.png'), fullPage: false });
      const img = await loadImage(new Uint8Array(shot));
      let red = 0, blue = 0;
      for (let i = 0; i < img.data.length; i += 3) {
        const [r, g, b] = [img.data[i] * 255, img.data[i + 1] * 255, img.data[i + 2] * 255];
        if (Math.abs(r - 0xd6) < 12 && Math.abs(g - 0x27) < 12 && Math.abs(b - 0x28) < 12) red++;
        if (Math.abs(r - 0x1f) < 12 && Math.abs(g - 0x77) < 12 && Math.abs(b - 0xb4) < 12) blue++;
      }
      assert.ok(red > 200 && blue > 200, `plot pixels in the screenshot: ${red} red (diffc), ${blue} blue (jpeg)`);
      console.log(`# report screenshot ${img.width}x${img.height}: ${red} diffc-red and ${blue} jpeg-blue pixels; ${facts.svgs} plots, ${facts.images.length} images`);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
