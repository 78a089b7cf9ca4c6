// int32 tensors (format 1.1) through the API and the CLI protocol, on both
// kernel paths: Int32Array in and out, type errors, the Gather index rule,
// "dtype" in tensor documents.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load, TesseraError } from '../src/index.js';
import { readInputsDocument, formatTensor } from '../src/protocol.js';
import { PKG } from './helpers.js';

// ids (int32) pick rows of E; the class of each row; a mask from a comparison
// with row 0 (an int32 scalar initializer in base64 picks it); ids where nonzero, else 2
const model = {
  format: 'tessera', format_version: '1.1', producer: { name: 't', version: '0' },
  graph: {
    inputs: [{ name: 'ids', dtype: 'int32', shape: ['n'] }, { name: 'x', dtype: 'float32', shape: [3] }],
    outputs: [
      { name: 'rows', dtype: 'float32', shape: ['n', 3] },
      { name: 'cls', dtype: 'int32', shape: ['n'] },
      { name: 'mask', dtype: 'int32', shape: [3] },
      { name: 'ids2', dtype: 'int32', shape: ['n'] },
    ],
    initializers: [
      { name: 'E', dtype: 'float32', shape: [4, 3], data: [0, 1, 2, 5, -1, 5, -0, 0, -3, 7, 7, 1] },
      { name: 'two', dtype: 'int32', shape: [], data: [2] },
      { name: 'zero', dtype: 'int32', shape: [], data_b64: 'AAAAAA==', checksum: 'crc32:2144df1c' },
    ],
    nodes: [
      { name: 'g', op: 'Gather', inputs: ['E', 'ids'], outputs: ['rows'] },
      { op: 'ArgMax', inputs: ['rows'], outputs: ['cls'], attrs: { axis: 1 } },
      { op: 'Gather', inputs: ['E', 'zero'], outputs: ['E0'] },
      { op: 'Greater', inputs: ['x', 'E0'], outputs: ['mask'] },
      { op: 'Where', inputs: ['ids', 'ids', 'two'], outputs: ['ids2'] },
    ],
  },
};

const code = (f) => { try { f(); return 'OK'; } catch (e) { if (e instanceof TesseraError) return e.code; throw e; } };

for (const kernels of ['js', 'wasm']) {
  test(`int32 inputs and outputs through the API (${kernels})`, async () => {
    const m = await load(model, { kernels });
    assert.deepEqual(m.inputs.map((v) => v.dtype), ['int32', 'float32']);
    assert.deepEqual(m.outputs.map((v) => v.dtype), ['float32', 'int32', 'int32', 'int32']);
    const x = new Float32Array([-1, 1, NaN]);
    const out = m.run({ ids: new Int32Array([3, -1, 0, -4, 1]), x });
    assert.ok(out.rows.data instanceof Float32Array);
    assert.deepEqual(Array.from(out.rows.data), [7, 7, 1, 7, 7, 1, 0, 1, 2, 0, 1, 2, 5, -1, 5]);
    assert.ok(out.cls.data instanceof Int32Array);
    assert.deepEqual(Array.from(out.cls.data), [0, 0, 2, 2, 0]);
    assert.deepEqual(Array.from(out.mask.data), [0, 0, 0]); // -1 > 0, 1 > 1, NaN > 2: all false
    assert.deepEqual(Array.from(out.ids2.data), [3, -1, 2, -4, 1]); // 0 is false: the Where takes 2
    // plain arrays of integers, {shape, data}
    assert.deepEqual(Array.from(m.run({ ids: [2], x }).cls.data), [0]); // -0 and +0 tie: the first
    assert.deepEqual(m.run({ ids: { shape: [2], data: [1, -2147483648 + 2147483648] }, x }).rows.shape, [2, 3]);
  });

  test(`int32 input type errors are E_INPUT naming what was expected (${kernels})`, async () => {
    const m = await load(model, { kernels });
    const x = new Float32Array(3);
    assert.throws(() => m.run({ ids: new Float32Array([1]), x }), (e) => e.code === 'E_INPUT' && /Float32Array for a int32 input; expected an Int32Array/.test(e.message));
    assert.throws(() => m.run({ ids: new Int32Array([1]), x: new Int32Array(3) }), (e) => e.code === 'E_INPUT' && /expected an Float32Array/.test(e.message));
    assert.equal(code(() => m.run({ ids: { shape: [1], data: new Float64Array([1]) }, x })), 'E_INPUT');
    for (const bad of [1.5, 2147483648, -2147483649, 1e10, 'nan', 'inf', NaN, null, '1']) {
      assert.equal(code(() => m.run({ ids: [bad], x })), 'E_INPUT', String(bad));
    }
    assert.equal(code(() => m.run({ ids: { shape: [4], indices: [1] }, x })), 'E_INPUT'); // sparse form: float32 only
    assert.equal(code(() => m.run({ ids: [2147483647, -2147483648].slice(0, 1), x })), 'E_INPUT'); // then the Gather index
  });

  test(`Gather: an index out of range is E_INPUT at run time, with no output (${kernels})`, async () => {
    const m = await load(model, { kernels });
    const x = new Float32Array(3);
    for (const [i, ok] of [[3, true], [-4, true], [4, false], [-5, false], [2147483647, false], [-2147483648, false]]) {
      let got;
      try { got = m.run({ ids: new Int32Array([0, i]), x }); } catch (e) { got = e; }
      if (ok) assert.ok(!(got instanceof Error), `index ${i}`);
      else {
        assert.ok(got instanceof TesseraError && got.code === 'E_INPUT', `index ${i}`);
        assert.match(got.message, new RegExp(`node "g": index ${i} is outside \\[-4, 3\\]`));
      }
    }
    // indices from an initializer: the same rule, when the node runs
    const doc = structuredClone(model);
    doc.graph.initializers.find((t) => t.name === 'zero').data_b64 = 'BAAAAA=='; // 4
    delete doc.graph.initializers.find((t) => t.name === 'zero').checksum;
    const m2 = await load(doc, { kernels });
    assert.throws(() => m2.run({ ids: new Int32Array([0]), x }), (e) => e.code === 'E_INPUT' && /index 4/.test(e.message));
  });
}

test('inputs documents: dtype from the declaration, "dtype" checked, integers only', () => {
  const decls = [{ name: 'ids', dtype: 'int32', shape: ['n'] }, { name: 'x', dtype: 'float32', shape: [3] }];
  const doc = (t) => ({ inputs: { ids: t } });
  const ok = readInputsDocument(doc({ shape: [3], data: [1, -0, 7.0] }), decls).ids.data;
  assert.ok(ok instanceof Int32Array);
  assert.deepEqual(Array.from(ok), [1, 0, 7]);
  assert.deepEqual(Array.from(readInputsDocument(doc({ shape: [2], dtype: 'int32', data_b64: '/////wAAAIA=' }), decls).ids.data), [-1, -2147483648]);
  assert.ok(readInputsDocument(doc({ shape: [1], dtype: 'int32', data: [5] })).ids.data instanceof Int32Array);
  for (const t of [{ shape: [1], data: [1.5] }, { shape: [1], data: ['nan'] }, { shape: [1], data: [1e10] },
    { shape: [1], dtype: 'float32', data: [1] }, { shape: [1], dtype: 'int64', data: [1] }]) {
    assert.throws(() => readInputsDocument(doc(t), decls), (e) => e.code === 'E_INPUT', JSON.stringify(t));
  }
  assert.throws(() => readInputsDocument({ inputs: { x: { shape: [1], dtype: 'int32', data: [1] } } }, decls), (e) => e.code === 'E_INPUT');
  assert.equal(formatTensor([3], new Int32Array([-3, 0, 2147483647])), '{"shape": [3], "dtype": "int32", "data": [-3, 0, 2147483647]}');
});

test('the CLI: int32 inputs files and outputs (both paths)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-int32-'));
  const file = (name, content) => { const p = path.join(dir, name); writeFileSync(p, JSON.stringify(content)); return p; };
  const M = file('model.json', model);
  const run = (inputs, kernels) => spawnSync(process.execPath, [path.join(PKG, 'bin', 'tessera-run.js'), '--kernels', kernels, M, file('in.json', inputs)], { encoding: 'utf8' });
  for (const kernels of ['js', 'wasm']) {
    const r = run({ inputs: { ids: { shape: [2], data: [1, -1] }, x: { shape: [3], data: [0, 'nan', 1] } } }, kernels);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /"cls": \{"shape": \[2\], "dtype": "int32", "data": \[0, 0\]\}/);
    assert.match(r.stdout, /"rows": \{"shape": \[2, 3\], "data": \[5, -1, 5, 7, 7, 1\]\}/, "a float32 output carries no dtype");
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.outputs.mask, { shape: [3], dtype: 'int32', data: [0, 0, 0] });
    for (const bad of [{ shape: [1], dtype: 'float32', data: [1] }, { shape: [1], data: [0.5] }, { shape: [1], data: [9] }]) {
      const e = run({ inputs: { ids: bad, x: { shape: [3], data: [0, 0, 0] } } }, kernels);
      assert.equal(e.status, 1, e.stderr);
      assert.equal(JSON.parse(e.stdout).error.code, 'E_INPUT');
    }
  }
});
