// Inference of the seed auto-encoder forward pass in Node: our JS runtime (wasm SIMD and plain
// JS kernels) vs onnxruntime-web (wasm backend) and TensorFlow.js (cpu and wasm backends).
// Same weights and inputs as infer_py.py (bench/out, written by make_models.py), same thread
// count (THREADS, default 1), contenders alternated round-robin, medians and ratios.
//   THREADS=1 node bench/infer_js.mjs [--quick]
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { load } from '../runtimes/js/src/index.js';

const OUT = new URL('./out/', import.meta.url).pathname;
const THREADS = Number(process.env.THREADS || 1);
const quick = process.argv.includes('--quick');
const SIZES = [[784, 256], [64, 32]];
const BATCHES = [1, 256];
const notes = new Set();

export const fmt = (s) => (s < 1e-3 ? `${(s * 1e6).toFixed(1)} us` : s < 1 ? `${(s * 1e3).toFixed(2)} ms` : `${s.toFixed(2)} s`);
export const table = (header, rows) => [`| ${header.join(' | ')} |`, `|${'---|'.repeat(header.length)}`,
  ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
export const verdict = (ok) => (ok ? '**met**' : '**NOT met**');

function weights(nv, nh) {
  const doc = JSON.parse(readFileSync(`${OUT}ae${nv}x${nh}.json`, 'utf8'));
  return Object.fromEntries(doc.graph.initializers.map((t) => [t.name, Float32Array.from(t.data)]));
}

function input(nv, batch) {
  const b = readFileSync(`${OUT}x${nv}_b${batch}.f32`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The peers that are installed (bench/node_modules), each with `threads` threads; notes: why one is missing. */
export async function peers(threads = THREADS, into = notes) {
  const p = {};
  try {
    p.ort = await import('onnxruntime-web');
    p.ort.env.wasm.numThreads = threads;
  } catch (e) { into.add(`onnxruntime-web: not run (${e.message.split('\n')[0]})`); }
  try {
    p.tf = await import('@tensorflow/tfjs');
    p.tf.enableProdMode(); // as a deployed app runs it (fewer checks; also no tfjs-node banner)
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(threads);
    p.tfWasm = await p.tf.setBackend('wasm');
    if (!p.tfWasm) into.add('tfjs wasm backend: failed to initialise');
  } catch (e) { into.add(`TensorFlow.js: not run (${e.message.split('\n')[0]})`); }
  return p;
}

async function speed(p, nv, nh, batch, rounds) {
  const x = input(nv, batch);
  const modelPath = `${OUT}ae${nv}x${nh}.json`;
  const fns = {};
  const outs = {};
  for (const kernels of ['wasm', 'js']) {
    const m = await load(modelPath, { kernels });
    fns[`ours ${kernels}`] = () => m.run({ x: { shape: [batch, nv], data: x } });
  }
  if (p.ort) {
    const sess = await p.ort.InferenceSession.create(readFileSync(`${OUT}ae${nv}x${nh}.onnx`),
      { executionProviders: ['wasm'], intraOpNumThreads: THREADS, interOpNumThreads: 1 });
    const feeds = { x: new p.ort.Tensor('float32', x, [batch, nv]) };
    // onnxruntime-web's run is async: awaiting each call is its public API's cost, so we time that
    fns['ort-web wasm'] = async () => (await sess.run(feeds)).x_hat.data;
    outs.ort = (await sess.run(feeds)).x_hat.data;
  }
  if (p.tf) {
    const w = weights(nv, nh);
    // tfjs uploads the weights on every call here; keep them as tensors instead, as a tfjs user would
    const W = {};
    for (const backend of ['cpu', ...(p.tfWasm ? ['wasm'] : [])]) {
      await p.tf.setBackend(backend);
      W[backend] = { W: p.tf.tensor2d(w.W, [nv, nh]), bh: p.tf.tensor1d(w.bh), bv: p.tf.tensor1d(w.bv) };
      const t = W[backend];
      fns[`tfjs ${backend}`] = () => {
        if (p.tf.getBackend() !== backend) p.tf.setBackend(backend);
        const out = p.tf.tidy(() => {
          const h = p.tf.sigmoid(p.tf.add(p.tf.matMul(p.tf.tensor2d(x, [batch, nv]), t.W), t.bh));
          return p.tf.sigmoid(p.tf.add(p.tf.matMul(h, t.W, false, true), t.bv));
        });
        const d = out.dataSync();
        out.dispose();
        return d;
      };
    }
  }
  const ours = fns['ours wasm']().x_hat.data;
  const oursJs = fns['ours js']().x_hat.data;
  const same = ours.length === oursJs.length && ours.every((v, i) => Object.is(v, oursJs[i]));
  notes.add(`ours wasm and ours js bit-identical (${nv}->${nh}, batch ${batch}): ${same}`);
  if (outs.ort) {
    let d = 0;
    for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - outs.ort[i]));
    notes.add(`ort-web max |difference| from ours (${nv}->${nh}, batch ${batch}): ${d.toExponential(1)}`);
  }
  return roundRobinAsync(fns, rounds);
}

// Round-robin timing (see common.py), awaiting every call (onnxruntime-web's run returns a promise; the others
// are synchronous and awaiting them costs all contenders the same microtask).
export async function roundRobinAsync(contenders, rounds, blockMs = 30, warmMs = 300) {
  const names = Object.keys(contenders);
  const counts = {};
  for (const n of names) {
    // warm up first (V8 optimises hot JS and tiers hot wasm up from its baseline compiler while
    // calls run: the first hundreds of calls of a small model are several times slower)
    for (const t0 = performance.now(); performance.now() - t0 < warmMs;) await contenders[n]();
    let one = Infinity;
    for (let i = 0; i < 3; i++) { const t = performance.now(); await contenders[n](); one = Math.min(one, performance.now() - t); }
    counts[n] = Math.max(1, Math.min(100000, Math.floor(blockMs / Math.max(one, 1e-4))));
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = names.slice(r % names.length).concat(names.slice(0, r % names.length));
    for (const n of order) {
      const t = performance.now();
      for (let i = 0; i < counts[n]; i++) await contenders[n]();
      samples[n].push((performance.now() - t) / counts[n] / 1000);
    }
  }
  const median = (a) => { a.sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

async function loadTimes(p, nv, nh, rounds) {
  const rows = [];
  const tasks = [['tessera JSON, decimal', `${OUT}ae${nv}x${nh}.json`], ['tessera JSON, base64', `${OUT}ae${nv}x${nh}.b64.json`],
    ['ONNX protobuf', `${OUT}ae${nv}x${nh}.onnx`]];
  for (const [label, path] of tasks) {
    const fns = {};
    if (path.endsWith('.onnx')) {
      if (!p.ort) continue;
      fns.ort = () => p.ort.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'] });
    } else {
      fns.wasm = () => load(path, { kernels: 'wasm' });
      fns.js = () => load(path, { kernels: 'js' });
    }
    const t = await roundRobinAsync(fns, rounds, 100, 0); // loads: no warm-up
    rows.push([`${nv}->${nh}`, label, ...['wasm', 'js', 'ort'].map((k) => (k in t ? fmt(t[k]) : '-'))]);
  }
  return rows;
}

async function main() {
  const rounds = quick ? 5 : 15;
  console.log('\n## Inference in Node (JS runtime, onnxruntime-web, TensorFlow.js)\n');
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores; Node ${process.version}; `
    + `threads per contender: ${THREADS}; load average at start: ${os.loadavg()[0].toFixed(2)}\n`);
  const p = await peers();
  console.log(`peers: onnxruntime-web ${p.ort ? p.ort.env.versions.web : 'missing'}, `
    + `@tensorflow/tfjs ${p.tf ? p.tf.version.tfjs : 'missing'} (wasm backend ${p.tfWasm ? 'ready' : 'missing'})`);
  const results = [];
  for (const [nv, nh] of SIZES) for (const batch of BATCHES) results.push([nv, nh, batch, await speed(p, nv, nh, batch, rounds)]);
  const names = Object.keys(results[0][3]);
  console.log('\n### Inference in Node: median per call\n');
  console.log(table(['model', 'batch', ...names], results.map(([nv, nh, b, t]) => [`${nv}->${nh}`, b, ...names.map((n) => fmt(t[n]))])));
  const peersCols = names.filter((n) => !n.startsWith('ours'));
  const rows = [];
  for (const [nv, nh, b, t] of results) {
    for (const o of ['ours wasm', 'ours js']) rows.push([`${nv}->${nh}`, b, o, ...peersCols.map((n) => (t[o] / t[n]).toFixed(2))]);
  }
  console.log('\n### Ratios (time ours / time theirs; below 1 = ours faster)\n');
  console.log(table(['model', 'batch', 'ours', ...peersCols.map((n) => `/ ${n}`)], rows));
  console.log(`\n${[...notes].sort().map((n) => `- ${n}`).join('\n')}`);
  const trows = [];
  for (const [nv, , b, t] of results) {
    if (nv !== 784) continue;
    for (const [peer, what] of [['ort-web wasm', 'at least as fast as onnxruntime-web wasm'], ['tfjs wasm', 'faster than TensorFlow.js wasm']]) {
      if (!(peer in t)) { trows.push([b, what, '-', 'not run']); continue; }
      const r = t['ours wasm'] / t[peer];
      trows.push([b, what, r.toFixed(2), verdict(peer === 'tfjs wasm' ? r < 1 : r <= 1)]);
    }
  }
  console.log('\n### JS runtime targets (seed AE 784->256, ours wasm kernels)\n');
  console.log(table(['batch', 'target', 'time ratio ours / peer', 'status'], trows));
  console.log('\n### Model load in Node (file to ready-to-run model)\n');
  const lrows = [];
  for (const [nv, nh] of SIZES) lrows.push(...await loadTimes(p, nv, nh, quick ? 3 : 7));
  console.log(table(['model', 'file', 'ours (wasm kernels)', 'ours (js kernels)', 'onnxruntime-web session'], lrows));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) { // run, not imported (infer_cnn_js.mjs)
  if (!existsSync(`${OUT}ae784x256.json`)) {
    console.error('run python bench/make_models.py first');
    process.exit(1);
  }
  await main();
}
