// The demo page in real headless Chromium: load a model over a localhost
// server, run it on bundled samples and on a digit drawn with the mouse, and
// check that the page shows exactly the Python reference's bits, adapts to
// the model (auto-encoder, classifier on (N, 64) or (N, 1, 8, 8), logits),
// proves its bits on the samples of MODEL.expected.json, and says so when it
// cannot show a model or when its bits differ.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve } from '../../bin/serve.js';
import { PKG, ROOT, HERE, python, runPython, oneNodeModel } from '../helpers.js';
import { chromium } from './chromium.js';

const ARTIFACTS = path.join(PKG, 'test', 'artifacts');
const MODELS = path.join(ARTIFACTS, 'demo-models'); // served: under the repo root
const MODELS_URL = '/runtimes/js/test/artifacts/demo-models';
const FIXTURE = path.join(PKG, 'test', 'fixtures', 'ae64.json');
const SAMPLES = JSON.parse(readFileSync(path.join(PKG, 'demo', 'samples.json'), 'utf8')).samples;
const TMP = mkdtempSync(path.join(tmpdir(), 'tessera-demo-'));

let ctx, server, page;
const logs = [];

before(async () => {
  // the classifier models and every MODEL.expected.json, written by the demo's own function
  const accuracy = Number(runPython(path.join(HERE, 'browser', 'make_demo_models.py'), [MODELS]).trim());
  assert.ok(accuracy >= 0.9, `the test classifier did not learn (held-out accuracy ${accuracy})`);
  ctx = await chromium();
  server = await serve(ROOT, 0);
  page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
});
after(async () => { await ctx?.close(); server?.close(); });

async function open(query) {
  await page.goto(`http://127.0.0.1:${server.address().port}/runtimes/js/demo/?${query}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 })
    .catch(() => { throw new Error(`page not ready:\n${logs.join('\n')}`); });
}
const modelQuery = (file, kernels = 'auto', extra = '') =>
  `model=${encodeURIComponent(`${MODELS_URL}/${file}`)}&kernels=${kernels}${extra}`;
const text = (sel) => page.locator(sel).textContent();
const attr = (sel, name) => page.locator(sel).getAttribute(name);

/** The Python reference CLI (`python -m tessera run`) on one image; outputs by name as {shape, data}. */
function pythonRun(model, pixels, shape) {
  const inputs = path.join(TMP, 'inputs.json');
  const name = JSON.parse(readFileSync(model, 'utf8')).graph.inputs[0].name;
  writeFileSync(inputs, JSON.stringify({ inputs: { [name]: { shape, data: pixels } } }));
  const r = spawnSync(python(), ['-m', 'tessera', 'run', model, inputs], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`tessera run failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout).outputs;
}
const f32Hex = (values) => Array.from(new Uint32Array(Float32Array.from(values, (v) => ({ nan: NaN, inf: Infinity, '-inf': -Infinity })[v] ?? v).buffer),
  (b) => b.toString(16).padStart(8, '0')).join(',');

/** Press the mouse on the first cell and drag through the others (adjacent cells, centre to centre). */
async function stroke(cells) {
  const centre = async (i) => {
    const b = await page.locator(`#input div[data-i="${i}"]`).boundingBox();
    return [b.x + b.width / 2, b.y + b.height / 2];
  };
  const [x0, y0] = await centre(cells[0]);
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (const i of cells.slice(1)) await page.mouse.move(...await centre(i), { steps: 3 });
  await page.mouse.up();
}
const SEVEN = [10, 11, 12, 13, 14, 21, 28, 35, 43, 51]; // a top bar and a diagonal down to the left

async function assertProof(kernels) {
  assert.equal(await attr('#proof', 'data-state'), 'ok', await text('#proof'));
  assert.equal(await attr('#proof', 'data-wasm'), '10/10');
  assert.equal(await attr('#proof', 'data-js'), '10/10');
  assert.match(await text('#proof'), /^bit-identical to Python: 10\/10 samples with the wasm kernels; 10\/10 samples with the plain JS kernels$/);
  const used = await text('#kernels');
  assert.equal(used, kernels === 'auto' ? 'wasm' : 'js', 'Chromium has wasm SIMD: auto should pick wasm');
  return used;
}

test('auto-encoder page: reconstruction equals the Python reference bit for bit', async () => {
  for (const kernels of ['auto', 'js']) {
    await open(modelQuery('ae64.json', kernels));
    assert.equal(await attr('#status', 'class'), '', await text('#status'));
    assert.equal(await text('#kind'), 'auto-encoder');
    assert.equal(await page.locator('#ae-view').isVisible(), true);
    assert.equal(await page.locator('#classifier-view').isVisible(), false);
    const used = await assertProof(kernels);

    for (const k of [3, 7]) {
      await page.click(`#sample-${k}`);
      const input = await attr('#values', 'data-input');
      assert.equal(input, SAMPLES[k].pixels.join(','));
      const bits = await attr('#values', 'data-bits');
      const want = runPython(path.join(HERE, 'browser', 'expected_ae.py'), [FIXTURE, input]).trim();
      assert.equal(bits, want, `sample ${k} on ${used}`);
      // the printed decimals are those bits, too
      const shown = (await text('#values')).trim().split(/\s+/).map(Number);
      assert.equal(f32Hex(shown), want);
      assert.match(await text('#bce'), /^\d+\.\d{4}$/);
    }
    // draw: toggle two pixels, the reconstruction follows
    await page.click('#input div[data-i="0"]');
    await page.click('#input div[data-i="9"]');
    const drawn = await attr('#values', 'data-input');
    const p = SAMPLES[7].pixels.slice();
    p[0] = 1 - p[0];
    p[9] = 1 - p[9];
    assert.equal(drawn, p.join(','));
    const want = runPython(path.join(HERE, 'browser', 'expected_ae.py'), [FIXTURE, drawn]).trim();
    assert.equal(await attr('#values', 'data-bits'), want);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true });
});

test('classifier page: a digit drawn with the mouse gets the Python reference probabilities and class', async () => {
  const model = path.join(MODELS, 'mlp.json');
  for (const kernels of ['auto', 'js']) {
    await open(modelQuery('mlp.json', kernels));
    assert.equal(await attr('#status', 'class'), '', await text('#status'));
    assert.equal(await text('#kind'), 'classifier (probabilities)');
    assert.equal(await page.locator('#classifier-view').isVisible(), true);
    assert.equal(await page.locator('#ae-view').isVisible(), false);
    assert.equal(await page.locator('#bars .bar').count(), 10);
    await assertProof(kernels);

    await page.click('#clear');
    await stroke(SEVEN);
    const drawn = await attr('#values', 'data-input');
    assert.equal(drawn, Array.from({ length: 64 }, (_, i) => (SEVEN.includes(i) ? 1 : 0)).join(','));
    const ref = pythonRun(model, drawn.split(',').map(Number), [1, 64]);
    assert.equal(await attr('#values', 'data-bits'), f32Hex(ref.p.data), `drawn digit on ${kernels}`);
    assert.equal(await attr('#predicted-class', 'data-class'), String(ref.label.data[0]));
    assert.equal(await page.locator('#bars .bar.top').getAttribute('data-class'), String(ref.label.data[0]));
    assert.doesNotMatch(await page.locator('body').innerText(), /NaN/);

    await page.click('#sample-4');
    const ref4 = pythonRun(model, SAMPLES[4].pixels, [1, 64]);
    assert.equal(await attr('#values', 'data-bits'), f32Hex(ref4.p.data));
    assert.equal(await attr('#predicted-class', 'data-class'), String(ref4.label.data[0]));
  }
  await page.click('#clear');
  await stroke(SEVEN);
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-classifier.png'), fullPage: true });
});

test('classifier page: a (N, 1, 8, 8) input takes the same pixels', async () => {
  const model = path.join(MODELS, 'mlp_image.json');
  await open(modelQuery('mlp_image.json'));
  assert.equal(await text('#kind'), 'classifier (probabilities)');
  await assertProof('auto');
  await page.click('#clear');
  await stroke([19, 27, 35, 43, 51]); // a vertical bar: a one
  const drawn = (await attr('#values', 'data-input')).split(',').map(Number);
  const ref = pythonRun(model, drawn, [1, 1, 8, 8]);
  assert.equal(await attr('#values', 'data-bits'), f32Hex(ref.p.data));
  const p = Float32Array.from(ref.p.data);
  assert.equal(await attr('#predicted-class', 'data-class'), String(p.indexOf(Math.max(...p))));
});

test('CNN page: a digit drawn with the mouse gets the Python reference probabilities, and the samples prove 10/10', async () => {
  const model = path.join(MODELS, 'cnn.json');
  for (const kernels of ['auto', 'js']) {
    await open(modelQuery('cnn.json', kernels));
    assert.equal(await attr('#status', 'class'), '', await text('#status'));
    assert.equal(await text('#kind'), 'classifier (probabilities)');
    assert.equal(await page.locator('#classifier-view').isVisible(), true);
    assert.equal(await page.locator('#bars .bar').count(), 10);
    await assertProof(kernels); // "bit-identical to Python: 10/10 samples ..." on both kernel paths

    await page.click('#clear');
    await stroke(SEVEN);
    const drawn = (await attr('#values', 'data-input')).split(',').map(Number);
    assert.equal(drawn.join(','), Array.from({ length: 64 }, (_, i) => (SEVEN.includes(i) ? 1 : 0)).join(','));
    const ref = pythonRun(model, drawn, [1, 1, 8, 8]);
    assert.deepEqual(ref.p.shape, [1, 10]);
    assert.equal(await attr('#values', 'data-bits'), f32Hex(ref.p.data), `drawn digit on ${kernels}`);
    const p = Float32Array.from(ref.p.data);
    assert.equal(await attr('#predicted-class', 'data-class'), String(p.indexOf(Math.max(...p))));
    assert.doesNotMatch(await page.locator('body').innerText(), /NaN/);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-cnn.png'), fullPage: true });
});

test('classifier page: logits are shown as softmax probabilities, the class is their argmax', async () => {
  const model = path.join(MODELS, 'mlp_logits.json');
  await open(modelQuery('mlp_logits.json', 'js'));
  assert.equal(await text('#kind'), 'classifier (logits)');
  assert.match(await text('#scores-kind'), /softmax of the logits, display only/);
  await assertProof('js');
  await page.click('#sample-2');
  const ref = pythonRun(model, SAMPLES[2].pixels, [1, 64]);
  assert.equal(await attr('#values', 'data-bits'), f32Hex(ref.logits.data));
  const z = Float32Array.from(ref.logits.data);
  assert.equal(await attr('#predicted-class', 'data-class'), String(z.indexOf(Math.max(...z))));
  assert.match(await text('#predicted-p'), /^p = 0\.\d{4}$/);
});

test('the proof reports differing bits and a reference written for another file', async () => {
  const expected = JSON.parse(readFileSync(path.join(MODELS, 'mlp.expected.json'), 'utf8'));
  const per = expected.outputs.p.data.length / 10;
  const flipped = structuredClone(expected);
  const f = new Float32Array([flipped.outputs.p.data[3 * per + 7]]);
  new Uint32Array(f.buffer)[0] ^= 1; // one ulp on sample 3, class 7
  flipped.outputs.p.data[3 * per + 7] = f[0];
  writeFileSync(path.join(MODELS, 'mlp.flipped.json'), JSON.stringify(flipped));
  await open(modelQuery('mlp.json', 'js', `&expected=${encodeURIComponent(`${MODELS_URL}/mlp.flipped.json`)}`));
  assert.equal(await attr('#proof', 'data-state'), 'differs');
  assert.equal(await attr('#proof', 'data-js'), '9/10');
  assert.equal(await attr('#proof', 'data-wasm'), '9/10');
  assert.match(await text('#proof'), /9\/10 samples with the plain JS kernels \(sample 3 differs first: p\[7\]/);

  writeFileSync(path.join(MODELS, 'mlp.stale.json'), JSON.stringify({ ...expected, model_sha256: '0'.repeat(64) }));
  await open(modelQuery('mlp.json', 'js', `&expected=${encodeURIComponent(`${MODELS_URL}/mlp.stale.json`)}`));
  assert.equal(await attr('#proof', 'data-state'), 'stale');
  assert.match(await text('#proof'), /written for another model file/);

  await open(modelQuery('mlp.json', 'js', `&expected=${encodeURIComponent(`${MODELS_URL}/none.expected.json`)}`));
  assert.equal(await attr('#proof', 'data-state'), 'missing');
  assert.match(await text('#proof'), /make demo writes MODEL\.expected\.json/);
});

test('a model the page cannot show says why, with no NaN', async () => {
  const cases = {
    'two_inputs.json': [oneNodeModel('Add', [['N', 64], ['N', 64]], ['N', 64]), /the model has 2 inputs \(x0, x1\); this page feeds one 8x8 image/],
    'int_input.json': [oneNodeModel('Cast', [['N', 64]], ['N', 64], { to: 'float32' }, ['int32']), /input x0 is int32; this page feeds float32 pixels/],
    'size49.json': [oneNodeModel('Sigmoid', [['N', 49]], ['N', 49]), /input x0 has shape \["N",49\]; this page feeds an 8x8 image as \(N, 64\) or \(N, 1, 8, 8\)/],
    'batch10.json': [oneNodeModel('Sigmoid', [[10, 64]], [10, 64]), /fixed batch of 10/],
    'scalar_out.json': [oneNodeModel('ReduceSum', [['N', 64]], ['N'], { axes: [1] }), /neither an 8x8 reconstruction nor \(N, K\) class scores/],
  };
  for (const [file, [doc, why]] of Object.entries(cases)) {
    writeFileSync(path.join(MODELS, file), JSON.stringify(doc));
    await open(modelQuery(file));
    assert.equal(await attr('#status', 'class'), 'error', file);
    assert.match(await text('#status'), /^cannot show this model: /, file);
    assert.match(await text('#status'), why, file);
    assert.equal(await text('#kind'), 'not shown');
    assert.equal(await page.locator('#ae-view').isVisible(), false);
    assert.equal(await page.locator('#classifier-view').isVisible(), false);
    assert.doesNotMatch(await page.locator('body').innerText(), /NaN/, file);
  }
});

test('demo page without a model explains how to get one', async () => {
  await open('model=/nonexistent/model.json');
  assert.equal(await attr('#status', 'class'), 'error');
  assert.match(await text('#status'), /cannot use \/nonexistent\/model\.json: cannot fetch it: HTTP 404/);
});
