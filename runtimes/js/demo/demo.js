// The demo page: draw a digit, see what the model makes of it (a
// reconstruction or class probabilities), and see the page's own bits
// compared with the Python reference's on the bundled samples.
import { load, readSource, wasmSupported } from '../src/index.js';
import { formatF32 } from '../src/protocol.js';
import { PIXELS, argmax, describeModel, displayProbabilities, hexBits, imageFeed } from './view.js';
import { checkSamples, readExpected, sha256Hex } from './proof.js';

// Model location: ?model=URL, else out/model.json of the served repo root
// (what `make demo` writes). ../../../ is the repo root from runtimes/js/demo/.
// The reference outputs: ?expected=URL, else MODEL.expected.json beside the model.
const params = new URLSearchParams(location.search);
const DEFAULT_MODEL = '../../../out/model.json';
const MODEL_URL = params.get('model') || DEFAULT_MODEL;
const EXPECTED_URL = params.get('expected') || MODEL_URL.replace(/(\.json)?$/, '.expected.json');
const kernelsOpt = params.get('kernels') || 'auto';
const KERNEL_NAMES = { wasm: 'wasm', js: 'plain JS' };

const $ = (id) => document.getElementById(id);
const state = { model: null, view: null, pixels: new Float32Array(PIXELS), out: null };
window.tessera = state; // for tests and the console

function cells(grid, n = PIXELS) {
  grid.replaceChildren();
  const list = [];
  for (let i = 0; i < n; i++) { const d = document.createElement('div'); d.dataset.i = i; grid.append(d); list.push(d); }
  return list;
}
const inCells = cells($('input'));
const outCells = cells($('output'));
const shade = (v) => { const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v)))); return `rgb(${g},${g},${g})`; };

function status(text, error = false) { $('status').textContent = text; $('status').className = error ? 'error' : ''; }

function setProof(state_, text, counts = {}) {
  const el = $('proof');
  el.dataset.state = state_;
  for (const k of ['wasm', 'js']) { if (counts[k]) el.dataset[k] = counts[k]; else delete el.dataset[k]; }
  el.textContent = text;
}

function showView(view) {
  const kind = view ? view.kind : 'unsupported';
  $('ae-view').hidden = $('ae-stats').hidden = kind !== 'autoencoder';
  $('classifier-view').hidden = $('classifier-stats').hidden = kind !== 'classifier';
  $('kind').textContent = { autoencoder: 'auto-encoder', classifier: `classifier (${view?.scores})`, unsupported: 'not shown' }[kind];
  for (const el of document.querySelectorAll('.out-name')) el.textContent = view ? view.output : '';
  if (kind !== 'classifier') return;
  $('scores-kind').textContent = view.scores === 'probabilities' ? 'probabilities'
    : `probabilities (softmax of the ${view.scores}, display only)`;
  const k = state.model.outputs.find((o) => o.name === view.output).shape[1];
  $('bars').replaceChildren();
  $('bar-labels').replaceChildren();
  for (let c = 0; c < k; c++) {
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.dataset.class = c;
    bar.append(document.createElement('div'));
    bar.firstChild.className = 'fill';
    $('bars').append(bar);
    const lab = document.createElement('span');
    lab.textContent = String(c);
    $('bar-labels').append(lab);
  }
}

function draw() {
  inCells.forEach((c, i) => { c.style.background = shade(state.pixels[i]); });
  const { model, view } = state;
  if (!model) return;
  const t0 = performance.now();
  let res;
  try {
    res = model.run(imageFeed(view, state.pixels));
  } catch (e) {
    status(`run failed: ${e.code || ''} ${e.message}`, true);
    return;
  }
  const ms = performance.now() - t0;
  const y = res[view.output].data.slice();
  state.out = y;
  $('timing').textContent = `run: ${(ms * 1000).toFixed(0)} µs`;
  $('values').textContent = Array.from(y, formatF32).join(' ');
  $('values').dataset.bits = hexBits(y);
  $('values').dataset.input = Array.from(state.pixels).join(',');
  if (view.kind === 'autoencoder') drawReconstruction(y);
  else drawClasses(y, view.label ? res[view.label].data[0] : argmax(y));
  document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
}

function drawReconstruction(y) {
  outCells.forEach((c, i) => { c.style.background = shade(y[i]); });
  // reconstruction error, displayed only (double precision, not part of the strict profile)
  let bce = 0, mse = 0;
  const eps = 1e-7;
  for (let i = 0; i < PIXELS; i++) {
    const x = state.pixels[i], p = Math.min(1 - eps, Math.max(eps, y[i]));
    bce -= x * Math.log(p) + (1 - x) * Math.log(1 - p);
    mse += (x - y[i]) ** 2;
  }
  $('bce').textContent = (bce / PIXELS).toFixed(4);
  $('mse').textContent = (mse / PIXELS).toFixed(4);
}

function drawClasses(scores, predicted) {
  const p = displayProbabilities(scores, state.view.scores);
  Array.from($('bars').children).forEach((bar, c) => {
    bar.firstChild.style.height = `${(100 * Math.min(1, Math.max(0, p[c] || 0))).toFixed(2)}%`;
    bar.classList.toggle('top', c === predicted);
    bar.title = `class ${c}: ${formatF32(scores[c])}`;
  });
  $('predicted-class').textContent = String(predicted);
  $('predicted-class').dataset.class = String(predicted);
  $('predicted-p').textContent = `p = ${(p[predicted] ?? NaN).toFixed(4)}`;
}

// drawing: the cell under the pointer (elementFromPoint also follows a captured touch pointer)
let painting = null;
const cellAt = (e) => {
  const el = document.elementFromPoint(e.clientX, e.clientY);
  return el && el.parentElement === $('input') ? el : null;
};
const paint = (cell) => {
  const i = Number(cell.dataset.i);
  if (state.pixels[i] === painting) return;
  state.pixels[i] = painting;
  draw();
};
$('input').addEventListener('pointerdown', (e) => {
  const cell = cellAt(e);
  if (!cell) return;
  e.preventDefault();
  painting = state.pixels[cell.dataset.i] > 0.5 ? 0 : 1;
  paint(cell);
});
addEventListener('pointermove', (e) => {
  if (painting === null) return;
  const cell = cellAt(e);
  if (cell) paint(cell);
});
addEventListener('pointerup', () => { painting = null; });
addEventListener('pointercancel', () => { painting = null; });
$('clear').onclick = () => { state.pixels.fill(0); draw(); };
$('invert').onclick = () => { state.pixels = state.pixels.map((v) => 1 - v); draw(); };

const errorText = (e) => `${e.code ? e.code + ' ' : ''}${e.detail || e.message}`;

/** Load model bytes, pick the view, draw, then prove the bits against `expected` (a source or null). */
async function useModel(bytes, label, expected, expectedLabel) {
  state.model = state.view = null;
  showView(null);
  setProof('pending', '');
  $('model-name').textContent = label;
  let doc, model;
  try {
    doc = await readSource(bytes, 'model');
    model = await load(doc, { kernels: kernelsOpt });
  } catch (e) {
    $('kernels').textContent = '?';
    status(`cannot use ${label}: ${errorText(e)}` +
      (label === DEFAULT_MODEL ? ' — run `make demo` to write out/model.json, or pick a file / pass ?model=URL' : ''), true);
    return;
  }
  $('kernels').textContent = model.kernels;
  const view = describeModel(model, doc);
  if (view.kind === 'unsupported') {
    status(`cannot show this model: ${view.why}`, true);
    return;
  }
  state.model = model;
  state.view = view;
  showView(view);
  status(`model loaded (format ${model.version})`);
  draw();
  await prove(doc, bytes, view, expected, expectedLabel);
}

async function prove(doc, bytes, view, source, label) {
  const hint = 'make demo writes MODEL.expected.json beside each model it exports';
  if (source === null) {
    setProof('missing', `no reference outputs to compare with (${label}): ${hint}`);
    return;
  }
  let expected;
  try {
    expected = readExpected(await readSource(source, 'reference outputs'), view);
  } catch (e) {
    setProof('missing', `cannot read the reference outputs ${label}: ${errorText(e)} (${hint})`);
    return;
  }
  const sha = await sha256Hex(bytes);
  if (expected.sha256 && sha && sha !== expected.sha256) {
    setProof('stale', `the reference outputs ${label} were written for another model file (its SHA-256 differs): run make demo again`);
    return;
  }
  const parts = [];
  const counts = {};
  let allSame = true;
  for (const kernels of wasmSupported() ? ['wasm', 'js'] : ['js']) {
    let r;
    try {
      const model = kernels === state.model.kernels ? state.model : await load(doc, { kernels });
      r = checkSamples(model, view, expected);
    } catch (e) {
      allSame = false;
      parts.push(`the ${KERNEL_NAMES[kernels]} kernels failed: ${errorText(e)}`);
      continue;
    }
    counts[kernels] = `${r.same}/${r.count}`;
    allSame &&= r.same === r.count;
    const d = r.differences[0];
    parts.push(`${r.same}/${r.count} samples with the ${KERNEL_NAMES[kernels]} kernels` +
      (d ? ` (sample ${d.sample} differs first: ${d.output}[${d.index}] is ${d.got} here, ${d.want} in Python)` : ''));
  }
  setProof(allSame ? 'ok' : 'differs', `bit-identical to Python: ${parts.join('; ')}` +
    (sha ? '' : ' (model file not fingerprinted: no WebCrypto on this page)'), counts);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch it: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

$('file').addEventListener('change', async () => {
  const files = Array.from($('file').files);
  const expected = files.find((f) => f.name.endsWith('.expected.json')) || null;
  const model = files.find((f) => f !== expected);
  if (!model) { status('pick the model file (and its .expected.json)', true); return; }
  await useModel(new Uint8Array(await model.arrayBuffer()), model.name, expected,
    expected ? expected.name : 'pick the .expected.json file together with the model');
});

const samples = await (await fetch('samples.json')).json();
samples.samples.forEach((s, k) => {
  const b = document.createElement('button');
  b.textContent = String(s.label);
  b.id = `sample-${k}`;
  b.onclick = () => { state.pixels = Float32Array.from(s.pixels); draw(); };
  $('samples').append(b);
});
state.pixels = Float32Array.from(samples.samples[0].pixels);
draw();
let bytes = null;
try {
  bytes = await fetchBytes(MODEL_URL);
} catch (e) {
  $('model-name').textContent = MODEL_URL;
  status(`cannot use ${MODEL_URL}: ${errorText(e)}` +
    (MODEL_URL === DEFAULT_MODEL ? ' — run `make demo` to write out/model.json, or pick a file / pass ?model=URL' : ''), true);
}
if (bytes) {
  const expected = await fetchBytes(EXPECTED_URL).catch(() => null);
  await useModel(bytes, MODEL_URL, expected, EXPECTED_URL);
}
document.body.dataset.ready = '1';
