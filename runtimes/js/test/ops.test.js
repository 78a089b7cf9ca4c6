// Every op on ordinary and edge values, on both kernel paths, bit for bit
// against vectors computed by the Python reference (exporter/strict_math.py
// and numpy float32).
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { load, wasmSupported } from '../src/index.js';
import { HERE, runPython, diffBits, oneNodeModel } from './helpers.js';

const vectors = JSON.parse(runPython(path.join(HERE, 'gen_vectors.py'))).cases;
const PATHS = ['js', 'wasm'];

test('the reference produced vectors for every op', () => {
  const ops = new Set(vectors.map((c) => c.op));
  for (const op of ['MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Maximum', 'Minimum', 'Neg', 'Abs', 'Sqrt', 'Relu',
    'Clip', 'Exp', 'Log', 'Sigmoid', 'Tanh', 'Softplus', 'Softmax', 'ReduceSum', 'ReduceMean', 'ReduceMax',
    'Transpose', 'Reshape']) assert.ok(ops.has(op), op);
});

test('wasm SIMD kernels are available in this Node', () => {
  assert.ok(wasmSupported(), 'WebAssembly SIMD kernels must load in Node 18+');
});

for (const kernels of PATHS) {
  test(`ops bit-exact on the ${kernels} path`, async (t) => {
    for (const [n, c] of vectors.entries()) {
      await t.test(`${c.op} #${n} ${JSON.stringify(c.attrs)} ${c.inputs.map((x) => JSON.stringify(x.shape)).join(' ')}`, async () => {
        const model = await load(oneNodeModel(c.op, c.inputs.map((x) => x.shape), c.expected.shape, c.attrs), { kernels });
        assert.equal(model.kernels, kernels);
        const feeds = {};
        c.inputs.forEach((x, i) => {
          feeds[`x${i}`] = { shape: x.shape, data: new Float32Array(new Uint32Array(x.bits).buffer) };
        });
        const out = model.run(feeds).y;
        assert.deepEqual(out.shape, c.expected.shape);
        const d = diffBits(out.data, c.expected.bits);
        assert.equal(d, null, d);
      });
    }
  });
}
