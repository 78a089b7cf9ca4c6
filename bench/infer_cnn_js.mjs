// CNN inference in Node: our JS runtime (wasm SIMD and plain JS kernels) vs onnxruntime-web (wasm
// backend) and TensorFlow.js (wasm backend), on the two networks of infer_cnn.py (the demo's digits
// CNN and a LeNet-5-sized network on 28x28, bench/out/{cnn_digits,lenet5}.{json,onnx}, written by
// infer_cnn.py), batch 1 and 256, one thread each, contenders alternated round-robin, medians and
// ratios. TensorFlow.js runs the same network built with tf.layers (NHWC, its native layout) and
// the same weights, transposed; its input is the same images in NHWC order.
//   THREADS=1 node bench/infer_cnn_js.mjs [--quick]
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { load } from '../runtimes/js/src/index.js';
import { peers, roundRobinAsync, fmt, table, verdict } from './infer_js.mjs';

const OUT = new URL('./out/', import.meta.url).pathname;
const THREADS = Number(process.env.THREADS || 1);
const quick = process.argv.includes('--quick');
const MODELS = [['digits CNN', 'cnn_digits', [1, 8, 8]], ['LeNet-5 size', 'lenet5', [1, 28, 28]]];
const BATCHES = [1, 256];
const notes = new Set();

function input(stem, batch) {
  const b = readFileSync(`${OUT}${stem}_b${batch}.f32`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** NCHW -> NHWC of a dense (N, C, H, W) array. */
function nhwc(x, [N, C, H, W]) {
  const y = new Float32Array(x.length);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) y[(n * H * W + i) * C + c] = x[(n * C + c) * H * W + i];
  return y;
}

/**
 * The tessera graph as a tf.layers model: Conv2D (bias input or bias Add) [+ Relu] -> conv2d,
 * MaxPool2D -> maxPooling2d, Relu -> activation, Reshape (N, F) -> flatten,
 * MatMul [+ Add] [+ Relu | Softmax] -> dense. Conv
 * weights (M, C, kH, kW) become (kH, kW, C, M); the first dense layer after a flatten gets its
 * rows permuted from NCHW's (c, h, w) order to NHWC's (h, w, c).
 */
function tfModel(tf, doc) {
  const g = doc.graph, init = new Map(g.initializers.map((t) => [t.name, t]));
  const data = (n) => Float32Array.from(init.get(n).data);
  let shape = g.inputs[0].shape.slice(1); // C, H, W
  const m = tf.sequential();
  const first = () => (m.layers.length ? {} : { inputShape: [shape[1], shape[2], shape[0]] });
  let flat = null; // (C, H, W) at the flatten
  const nodes = g.nodes.filter((n) => !(n.op === 'Reshape' && init.has(n.inputs[0]))); // bias reshapes
  const biasOf = (name) => g.nodes.find((n) => n.output?.[0] === name || n.outputs?.[0] === name)?.inputs[0] ?? name;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i], a = n.attrs ?? {};
    const next = (op) => (nodes[i + 1]?.op === op ? nodes[++i] : null);
    if (n.op === 'Conv2D') {
      const w = init.get(n.inputs[1]), [M, C, kH, kW] = w.shape, pads = a.pads ?? [0, 0, 0, 0];
      const same = pads.every((p, j) => p === ((j % 2 ? kW : kH) - 1) / 2);
      if (!same && pads.some((p) => p)) throw new Error('tfModel: only valid or same padding');
      const add = n.inputs.length > 2 ? null : next('Add'), relu = next('Relu'); // a bias input, or a bias Add
      const k = new Float32Array(w.data.length);
      for (let o = 0; o < M; o++) for (let c = 0; c < C; c++) for (let r = 0; r < kH * kW; r++) k[(r * C + c) * M + o] = w.data[(o * C + c) * kH * kW + r];
      const b = n.inputs.length > 2 ? data(n.inputs[2]) : add ? data(biasOf(add.inputs[1])) : new Float32Array(M);
      m.add(tf.layers.conv2d({ ...first(), filters: M, kernelSize: [kH, kW], padding: same ? 'same' : 'valid', activation: relu ? 'relu' : 'linear',
        weights: [tf.tensor4d(k, [kH, kW, C, M]), tf.tensor1d(b)] }));
      shape = [M, same ? shape[1] : shape[1] - kH + 1, same ? shape[2] : shape[2] - kW + 1];
    } else if (n.op === 'MaxPool2D') {
      const [kH, kW] = a.kernel_shape, [sh, sw] = a.strides ?? [1, 1];
      m.add(tf.layers.maxPooling2d({ poolSize: [kH, kW], strides: [sh, sw] }));
      shape = [shape[0], Math.floor((shape[1] - kH) / sh) + 1, Math.floor((shape[2] - kW) / sw) + 1];
    } else if (n.op === 'Relu') { // after a MaxPool2D (the exporter pools before the Relu)
      m.add(tf.layers.activation({ activation: 'relu' }));
    } else if (n.op === 'Reshape') {
      m.add(tf.layers.flatten());
      flat = shape;
    } else if (n.op === 'MatMul') {
      const w = init.get(n.inputs[1]), [K, N] = w.shape;
      let k = data(n.inputs[1]);
      if (flat) { // row c*H*W + h*W + x of ours is row (h*W + x)*C + c of theirs
        const [C, H, W] = flat, p = new Float32Array(k.length);
        for (let c = 0; c < C; c++) for (let r = 0; r < H * W; r++) p.set(k.subarray((c * H * W + r) * N, (c * H * W + r + 1) * N), (r * C + c) * N);
        k = p;
        flat = null;
      }
      const add = next('Add'), act = next('Relu') ?? next('Softmax');
      m.add(tf.layers.dense({ units: N, activation: act ? act.op.toLowerCase() : 'linear',
        weights: [tf.tensor2d(k, [K, N]), add ? tf.tensor1d(data(add.inputs[1])) : tf.zeros([N])] }));
    } else throw new Error(`tfModel: ${n.op} not mapped`);
  }
  return m;
}

const maxDiff = (a, b) => { let d = 0; for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i])); return d; };

async function speed(p, name, stem, dims, batch, rounds) {
  const x = input(stem, batch), xs = [batch, ...dims];
  const fns = {};
  const outs = {};
  for (const kernels of ['wasm', 'js']) {
    const m = await load(`${OUT}${stem}.json`, { kernels });
    fns[`ours ${kernels}`] = () => m.run({ x: { shape: xs, data: x } }).p.data;
  }
  if (p.ort) {
    const sess = await p.ort.InferenceSession.create(readFileSync(`${OUT}${stem}.onnx`),
      { executionProviders: ['wasm'], intraOpNumThreads: THREADS, interOpNumThreads: 1 });
    const feeds = { x: new p.ort.Tensor('float32', x, xs) };
    fns['ort-web wasm'] = async () => (await sess.run(feeds)).p.data;
    outs['ort-web wasm'] = (await sess.run(feeds)).p.data;
  }
  if (p.tfWasm) {
    await p.tf.setBackend('wasm');
    const model = tfModel(p.tf, JSON.parse(readFileSync(`${OUT}${stem}.json`, 'utf8')));
    const xt = nhwc(x, xs);
    fns['tfjs wasm'] = () => {
      const out = p.tf.tidy(() => model.predict(p.tf.tensor4d(xt, [batch, dims[1], dims[2], dims[0]]), { batchSize: batch }));
      const d = out.dataSync();
      out.dispose();
      return d;
    };
    outs['tfjs wasm'] = fns['tfjs wasm']();
  }
  const ours = fns['ours wasm'](), oursJs = fns['ours js']();
  notes.add(`ours wasm and ours js bit-identical (${name}, batch ${batch}): ${ours.length === oursJs.length && ours.every((v, i) => Object.is(v, oursJs[i]))}`);
  for (const [peer, o] of Object.entries(outs)) {
    const d = maxDiff(ours, o);
    if (!(d < 1e-4)) throw new Error(`${peer} disagrees with ours on ${name} batch ${batch}: max |difference| ${d}`);
    notes.add(`${peer} max |difference| of the probabilities from ours (${name}, batch ${batch}): ${d.toExponential(1)}`);
  }
  return roundRobinAsync(fns, rounds);
}

async function main() {
  const rounds = quick ? 5 : 15;
  console.log('\n## CNN inference in Node (JS runtime, onnxruntime-web, TensorFlow.js)\n');
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cores; Node ${process.version}; `
    + `threads per contender: ${THREADS}; load average at start: ${os.loadavg()[0].toFixed(2)}\n`);
  const p = await peers(THREADS, notes);
  console.log(`peers: onnxruntime-web ${p.ort ? p.ort.env.versions.web : 'missing'}, `
    + `@tensorflow/tfjs ${p.tf ? p.tf.version.tfjs : 'missing'} (wasm backend ${p.tfWasm ? 'ready' : 'missing'})`);
  const results = [];
  for (const [name, stem, dims] of MODELS) for (const b of BATCHES) results.push([name, b, await speed(p, name, stem, dims, b, rounds)]);
  const names = Object.keys(results[0][2]);
  console.log('\n### CNN inference in Node: median per call\n');
  console.log(table(['model', 'batch', ...names], results.map(([m, b, t]) => [m, b, ...names.map((n) => fmt(t[n]))])));
  const peerCols = names.filter((n) => !n.startsWith('ours'));
  console.log('\n### Ratios (time ours / time theirs; below 1 = ours faster)\n');
  console.log(table(['model', 'batch', 'ours', ...peerCols.map((n) => `/ ${n}`)],
    results.flatMap(([m, b, t]) => ['ours wasm', 'ours js'].map((o) => [m, b, o, ...peerCols.map((n) => (t[o] / t[n]).toFixed(2))]))));
  const trows = [];
  for (const [m, b, t] of results) {
    for (const [peer, what] of [['ort-web wasm', 'at least as fast as onnxruntime-web wasm'], ['tfjs wasm', 'faster than TensorFlow.js wasm']]) {
      if (!(peer in t)) { trows.push([m, b, what, '-', 'not run']); continue; }
      const r = t['ours wasm'] / t[peer];
      trows.push([m, b, what, r.toFixed(2), verdict(peer === 'tfjs wasm' ? r < 1 : r <= 1)]);
    }
  }
  console.log('\n### JS runtime targets (ours wasm kernels)\n');
  console.log(table(['model', 'batch', 'target', 'time ratio ours / peer', 'status'], trows));
  console.log(`\n${[...notes].sort().map((n) => `- ${n}`).join('\n')}`);
}

if (!MODELS.every(([, stem]) => existsSync(`${OUT}${stem}.onnx`) && existsSync(`${OUT}${stem}_b256.f32`))) {
  console.error('run python bench/infer_cnn.py first (it writes the CNN models and inputs to bench/out)');
  process.exit(1);
}
await main();
