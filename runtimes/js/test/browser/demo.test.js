// The demo page in real headless Chromium: load a model over a localhost
// server, run it on a bundled sample and on a drawn digit, and check that the
// page shows the reconstruction with exactly the Python reference's bits.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve } from '../../bin/serve.js';
import { PKG, ROOT, HERE, runPython } from '../helpers.js';
import { chromium } from './chromium.js';

const ARTIFACTS = path.join(PKG, 'test', 'artifacts');
const FIXTURE = path.join(PKG, 'test', 'fixtures', 'ae64.json');

test('demo page: reconstruction equals the Python reference bit for bit', async (t) => {
  const ctx = await chromium();
  // serve the repo root; the model comes from a temp dir mounted via ?model=
  const server = await serve(ROOT, 0);
  t.after(async () => { await ctx.close(); server.close(); });
  const tmp = mkdtempSync(path.join(tmpdir(), 'tessera-demo-'));
  void tmp;
  const port = server.address().port;
  const page = ctx.pages()[0] || await ctx.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const modelUrl = '/runtimes/js/test/fixtures/ae64.json';
  for (const kernels of ['auto', 'js']) {
    await page.goto(`http://127.0.0.1:${port}/runtimes/js/demo/?model=${encodeURIComponent(modelUrl)}&kernels=${kernels}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 }).catch(() => { throw new Error(`page not ready:\n${logs.join('\n')}`); });
    assert.equal(await page.locator('#status').getAttribute('class'), '', await page.locator('#status').textContent());
    const used = await page.locator('#kernels').textContent();
    if (kernels === 'auto') assert.equal(used, 'wasm', 'Chromium has wasm SIMD: auto should pick wasm');
    else assert.equal(used, 'js');

    const samples = JSON.parse(readFileSync(path.join(PKG, 'demo', 'samples.json'), 'utf8')).samples;
    for (const k of [3, 7]) {
      await page.click(`#sample-${k}`);
      const input = await page.locator('#values').getAttribute('data-input');
      assert.equal(input, samples[k].pixels.join(','));
      const bits = await page.locator('#values').getAttribute('data-bits');
      const want = runPython(path.join(HERE, 'browser', 'expected_ae.py'), [FIXTURE, input]).trim();
      assert.equal(bits, want, `sample ${k} on ${used}`);
      // the printed decimals are those bits, too
      const shown = (await page.locator('#values').textContent()).trim().split(/\s+/).map(Number);
      const f = new Float32Array(shown);
      assert.equal(Array.from(new Uint32Array(f.buffer), (b) => b.toString(16).padStart(8, '0')).join(','), want);
      assert.match(await page.locator('#bce').textContent(), /^\d+\.\d{4}$/);
    }
    // draw: toggle two pixels, the reconstruction follows
    await page.click('#input div[data-i="0"]');
    await page.click('#input div[data-i="9"]');
    const drawn = await page.locator('#values').getAttribute('data-input');
    assert.equal(drawn.split(',').slice(0, 10).join(','), (() => { const p = samples[7].pixels.slice(0, 10); p[0] = 1 - p[0]; p[9] = 1 - p[9]; return p.join(','); })());
    const want = runPython(path.join(HERE, 'browser', 'expected_ae.py'), [FIXTURE, drawn]).trim();
    assert.equal(await page.locator('#values').getAttribute('data-bits'), want);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true });
});

test('demo page without a model explains how to get one', async (t) => {
  const ctx = await chromium();
  const server = await serve(ROOT, 0);
  t.after(async () => { await ctx.close(); server.close(); });
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/runtimes/js/demo/?model=/nonexistent/model.json`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 20000 });
  assert.match(await page.locator('#status').textContent(), /E_PARSE/);
});
