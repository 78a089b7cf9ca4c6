// The npm package in a browser: the tarball installed into an empty project,
// a page there imports the package's browser build from node_modules (an
// import map from the bare name to the file the package's "browser" export
// condition names), loads conformance models by URL and runs them in headless
// Chromium on both kernel paths, bit-identical to expected.json; the page
// loads no other script, and an input error says what was expected.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serve } from '../../bin/serve.js';
import { ROOT } from '../helpers.js';
import { NAME, packAndInstall, expectedOf } from '../package/pack.js';
import { chromium } from './chromium.js';

const CASES = path.join(ROOT, 'conformance', 'cases');
const NAMES = ['model_seed_ae_digits_batch1', 'model_digits_classifier_batch64', 'model_embedding_bag', 'model_gated_where'];

const page = (entry) => `<!doctype html>
<meta charset="utf-8">
<title>${NAME} from node_modules</title>
<script type="importmap">${JSON.stringify({ imports: { [NAME]: entry } })}</script>
<script type="module">
import { load, TesseraError } from '${NAME}';
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const bits = (x) => { f32[0] = x; return x !== x ? 'nan' : u32[0]; };
const results = {};
try {
  for (const name of new URLSearchParams(location.search).get('cases').split(',')) {
    for (const kernels of ['js', 'wasm']) {
      const model = await load(new URL('cases/' + name + '/model.json', location.href), { kernels });
      const doc = await (await fetch('cases/' + name + '/inputs.json')).json();
      const feeds = {};
      for (const [k, t] of Object.entries(doc.inputs)) feeds[k] = { shape: t.shape, data: t.data };
      const out = model.run(feeds);
      const r = { kernels: model.kernels, outputs: {} };
      for (const o of model.outputs) {
        const t = out[o.name], int = t.data instanceof Int32Array;
        r.outputs[o.name] = { shape: t.shape, int, bits: Array.from(t.data, (v) => (int ? v : bits(v))) };
      }
      results[name + ' ' + kernels] = r;
      if (name === 'model_seed_ae_digits_batch1') {
        try { model.run({ x: new Float32Array(63) }); } catch (e) { results.message = (e instanceof TesseraError) + ' ' + e.message; }
      }
    }
  }
  document.body.dataset.results = JSON.stringify(results);
} catch (e) {
  document.body.dataset.error = String(e && e.stack || e);
}
document.body.dataset.done = '1';
</script>
`;

test('a page importing the installed package\'s browser build runs models in Chromium with the expected bits', async (t) => {
  const { project, installed } = packAndInstall(t);
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
  const browserFile = pkg.exports['.'].browser;
  assert.equal(browserFile, './dist/tessera.min.js');
  const entry = `/node_modules/${NAME}/${browserFile.slice(2)}`;
  writeFileSync(path.join(project, 'index.html'), page(entry));
  for (const name of NAMES) cpSync(path.join(CASES, name), path.join(project, 'cases', name), { recursive: true });

  const ctx = await chromium();
  const server = await serve(project, 0);
  t.after(async () => { await ctx.close(); server.close(); });
  const tab = ctx.pages()[0] || await ctx.newPage();
  const logs = [];
  const scripts = [];
  tab.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  tab.on('response', (r) => { if (r.status() >= 400) logs.push(`${r.status()} ${r.url()}`); });
  tab.on('request', (r) => { if (r.resourceType() === 'script' || /\.m?js$/.test(new URL(r.url()).pathname)) scripts.push(new URL(r.url()).pathname); });
  await tab.goto(`http://127.0.0.1:${server.address().port}/?cases=${NAMES.join(',')}`);
  await tab.waitForSelector('body[data-done="1"]', { state: 'attached', timeout: 20000 }).catch(() => { throw new Error(`page did not finish:\n${logs.join('\n')}\nscripts: ${scripts}`); });
  const error = await tab.locator('body').getAttribute('data-error');
  assert.equal(error, null, `${error}\n${logs.join('\n')}`);
  assert.deepEqual(scripts, [entry], 'the page loads the one bundle and nothing else');

  const results = JSON.parse(await tab.locator('body').getAttribute('data-results'));
  for (const name of NAMES) {
    const want = expectedOf(JSON.parse(readFileSync(path.join(CASES, name, 'expected.json'), 'utf8')));
    for (const kernels of ['js', 'wasm']) {
      const got = results[`${name} ${kernels}`];
      assert.equal(got.kernels, kernels, `${name}: Chromium runs wasm SIMD`);
      assert.deepEqual(got.outputs, want, `${name} on ${kernels}`);
    }
  }
  assert.equal(results.message, 'true E_INPUT: input x: 63 values, expected a multiple of 64 (shape ["batch", 64])');
});
