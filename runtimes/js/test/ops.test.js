// Every op on ordinary and edge values, on both kernel paths, bit for bit
// against vectors computed by the Python reference (exporter/strict_math.py
// and numpy float32).
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { load, wasmSupported, Model, OPS } from '../src/index.js';
import { checkModel } from '../src/check.js';
import { wasmBackend } from '../src/wasm.js';
import { HERE, runPython, diffBits, oneNodeModel } from './helpers.js';

const vectors = JSON.parse(runPython(path.join(HERE, 'gen_vectors.py'))).cases;
// 'wasm-nokernel': the wasm backend with every row's wasm set to null, so each
// op runs its plain-JS kernel on views of the wasm memory (the path of an op
// that has no wasm kernel)
const NO_WASM = Object.fromEntries(Object.entries(OPS).map(([op, row]) => [op, { ...row, wasm: null }]));
const PATHS = {
  js: (doc) => load(doc, { kernels: 'js' }),
  wasm: (doc) => load(doc, { kernels: 'wasm' }),
  'wasm-nokernel': async (doc) => new Model(checkModel(doc), await wasmBackend(NO_WASM)),
};

test('the reference produced vectors for every op of the table', () => {
  const ops = new Set(vectors.map((c) => c.op));
  for (const op of Object.keys(OPS)) assert.ok(ops.has(op), op);
});

test('wasm SIMD kernels are available in this Node', () => {
  assert.ok(wasmSupported(), 'WebAssembly SIMD kernels must load in Node 18+');
});

for (const [kernels, open] of Object.entries(PATHS)) {
  test(`ops bit-exact on the ${kernels} path`, async (t) => {
    for (const [n, c] of vectors.entries()) {
      await t.test(`${c.op} #${n} ${JSON.stringify(c.attrs)} ${c.inputs.map((x) => JSON.stringify(x.shape)).join(' ')}`, async () => {
        const doc = oneNodeModel(c.op, c.inputs.map((x) => x.shape), c.expected.shape, c.attrs,
          c.inputs.map((x) => x.dtype), c.expected.dtype, OPS[c.op].since);
        const model = await open(doc);
        assert.equal(model.kernels, kernels.replace('-nokernel', ''));
        const feeds = {};
        c.inputs.forEach((x, i) => {
          const words = new Uint32Array(x.bits).buffer;
          feeds[`x${i}`] = { shape: x.shape, data: x.dtype === 'int32' ? new Int32Array(words) : new Float32Array(words) };
        });
        const out = model.run(feeds).y;
        assert.deepEqual(out.shape, c.expected.shape);
        if (c.expected.dtype === 'int32') {
          assert.ok(out.data instanceof Int32Array, 'an int32 output is an Int32Array');
          assert.deepEqual(Array.from(out.data), Array.from(new Int32Array(new Uint32Array(c.expected.bits).buffer)));
        } else {
          assert.ok(out.data instanceof Float32Array, 'a float32 output is a Float32Array');
          const d = diffBits(out.data, c.expected.bits);
          assert.equal(d, null, d);
        }
      });
    }
  });
}
