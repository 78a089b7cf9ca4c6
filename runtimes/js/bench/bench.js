#!/usr/bin/env node
// Seed auto-encoder 784 -> 256 (tied weights), per-call time on both kernel
// paths at batch 1 and 256; then a sparse first layer (5,000 features, 1% of
// them 1, 256 units) at batch 1 as ids -> Gather -> ReduceSum against the
// dense MatMul (same bits: the ids ascending): node bench/bench.js [--quick]
import { load } from '../src/index.js';

export function seedAE(nv = 784, nh = 256, seed = 1) {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const W = Array.from({ length: nv * nh }, () => Math.fround((rnd() - 0.5) * 0.1));
  const bh = Array.from({ length: nh }, () => Math.fround((rnd() - 0.5) * 0.1));
  const bv = Array.from({ length: nv }, () => Math.fround((rnd() - 0.5) * 0.1));
  return {
    format: 'tessera', format_version: '1.0', producer: { name: 'bench', version: '0' },
    graph: {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', nv] }],
      outputs: [{ name: 'x_hat', dtype: 'float32', shape: ['batch', nv] }],
      initializers: [
        { name: 'W', dtype: 'float32', shape: [nv, nh], data: W },
        { name: 'bh', dtype: 'float32', shape: [nh], data: bh },
        { name: 'bv', dtype: 'float32', shape: [nv], data: bv },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['a'] },
        { op: 'Add', inputs: ['a', 'bh'], outputs: ['b'] },
        { op: 'Sigmoid', inputs: ['b'], outputs: ['h'] },
        { op: 'MatMul', inputs: ['h', 'W'], outputs: ['c'], attrs: { transpose_b: true } },
        { op: 'Add', inputs: ['c', 'bv'], outputs: ['d'] },
        { op: 'Sigmoid', inputs: ['d'], outputs: ['x_hat'] },
      ],
    },
  };
}

function input(batch, nv, density = 0.19) {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const d = new Float32Array(batch * nv);
  for (let i = 0; i < d.length; i++) d[i] = rnd() < density ? 1 : 0;
  return { shape: [batch, nv], data: d };
}

function time(fn, minMs) {
  for (let i = 0; i < 5; i++) fn();
  const samples = [];
  const t0 = performance.now();
  while (performance.now() - t0 < minMs || samples.length < 7) {
    const a = performance.now();
    fn();
    samples.push(performance.now() - a);
  }
  samples.sort((x, y) => x - y);
  return samples[samples.length >> 1];
}

async function main() {
  const quick = process.argv.includes('--quick');
  const doc = seedAE();
  const rows = [];
  for (const kernels of ['wasm', 'js']) {
    const model = await load(doc, { kernels });
    for (const batch of [1, 256]) {
      const x = input(batch, 784);
      // batch 1 needs many calls for a stable median
      const ms = time(() => model.run({ x }), quick ? 200 : batch === 1 ? 1500 : 3000);
      rows.push({ kernels, batch, ms });
    }
  }
  const ref = { 1: [0.046, 0.225], 256: [8.3, 48] }; // onnxruntime-web wasm, tfjs wasm (1 thread), ms
  console.log('seed AE 784->256, per call (median), Node', process.version);
  for (const r of rows) {
    const [ort, tfjs] = ref[r.batch];
    const per = r.batch === 1 ? `${(r.ms * 1000).toFixed(1)} us` : `${r.ms.toFixed(2)} ms`;
    console.log(`${r.kernels.padEnd(5)} batch ${String(r.batch).padStart(3)}: ${per.padStart(10)}   ` +
      `vs onnxruntime-web x${(ort / r.ms).toFixed(2)}, vs tfjs-wasm x${(tfjs / r.ms).toFixed(2)} (>1 = faster)`);
  }
  await sparseBench(quick);
}

/** The first layer h = x W for a binary x with the ids of its ones, dense (MatMul) or sparse (Gather rows, summed). */
export function firstLayer(sparse, nv = 5000, nh = 256) {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const W = { name: 'W', dtype: 'float32', shape: [nv, nh], data: Array.from({ length: nv * nh }, () => Math.fround((rnd() - 0.5) * 0.1)) };
  return {
    format: 'tessera', format_version: sparse ? '1.1' : '1.0', producer: { name: 'bench', version: '0' },
    graph: sparse ? {
      inputs: [{ name: 'ids', dtype: 'int32', shape: ['k'] }],
      outputs: [{ name: 'h', dtype: 'float32', shape: [nh] }],
      initializers: [W],
      nodes: [
        { op: 'Gather', inputs: ['W', 'ids'], outputs: ['rows'] },
        { op: 'ReduceSum', inputs: ['rows'], outputs: ['h'], attrs: { axes: [0] } },
      ],
    } : {
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, nv] }],
      outputs: [{ name: 'h', dtype: 'float32', shape: [1, nh] }],
      initializers: [W],
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'] }],
    },
  };
}

async function sparseBench(quick) {
  const nv = 5000, k = 50; // 1% dense
  const ids = new Int32Array(k).map((_, i) => i * (nv / k) + ((i * 37) % (nv / k))); // ascending
  const x = new Float32Array(nv);
  for (const i of ids) x[i] = 1;
  const dense = firstLayer(false), sparse = firstLayer(true);
  console.log(`first layer ${nv} -> 256, batch 1, ${k} ones (1%), per call (median):`);
  for (const kernels of ['wasm', 'js']) {
    const md = await load(dense, { kernels }), ms = await load(sparse, { kernels });
    const a = md.run({ x }).h.data, b = ms.run({ ids }).h.data;
    if (!a.every((v, i) => Object.is(v, b[i]))) throw new Error('the Gather layer differs from the MatMul layer');
    const td = time(() => md.run({ x }), quick ? 200 : 1500), tg = time(() => ms.run({ ids }), quick ? 200 : 1500);
    console.log(`${kernels.padEnd(5)} dense MatMul ${(td * 1000).toFixed(1).padStart(7)} us, Gather+ReduceSum ${(tg * 1000).toFixed(1).padStart(6)} us: x${(td / tg).toFixed(1)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
