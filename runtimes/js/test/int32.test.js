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
    assert.throws(() => m.run({ ids: new Float32Array([1]), x }), (e) => e.code === 'E_INPUT' && /input ids is int32: got Float32Array, expected an Int32Array or an array of integers/.test(e.message));
    assert.throws(() => m.run({ ids: new Int32Array([1]), x: new Int32Array(3) }), (e) => e.code === 'E_INPUT' && /input x is float32: got Int32Array, expected a Float32Array/.test(e.message));
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

test('data movement keeps float32 NaN payloads and -0 bit for bit (every path)', async () => {
  const words = new Uint32Array([0x7f800001, 0xffc00123, 0x80000000, 0x7fbfffff, 0x3f800000, 0xff800001]);
  const x = new Float32Array(words.buffer);
  const node = (op, inputs, attrs = {}) => ({ op, inputs, outputs: [op.toLowerCase()], attrs });
  const doc = {
    format: 'tessera', format_version: '1.1', producer: { name: 't', version: '0' },
    graph: {
      inputs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }],
      outputs: ['where', 'gather', 'concat', 'slice', 'transpose', 'cast'].map((n, i) => ({ name: n, dtype: 'float32', shape: [[2, 3], [2, 3], [4, 3], [2, 3], [3, 2], [2, 3]][i] })),
      initializers: [{ name: 'c', dtype: 'int32', shape: [3], data: [1, 0, 5] }, { name: 'i', dtype: 'int32', shape: [2], data: [-1, 0] }],
      nodes: [
        node('Where', ['c', 'x', 'x']), node('Gather', ['x', 'i']), node('Concat', ['x', 'x'], { axis: 0 }),
        node('Slice', ['x'], { starts: [-1], ends: [-100], steps: [-1], axes: [1] }), node('Transpose', ['x']), node('Cast', ['x'], { to: 'float32' }),
      ],
    },
  };
  const u = (a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const w = u(x);
  const want = {
    where: w, gather: [...w.slice(3), ...w.slice(0, 3)], concat: [...w, ...w],
    slice: [w[2], w[1], w[0], w[5], w[4], w[3]], transpose: [w[0], w[3], w[1], w[4], w[2], w[5]], cast: w,
  };
  const { wasmBackend } = await import('../src/wasm.js');
  const { checkModel } = await import('../src/check.js');
  const { Model, OPS } = await import('../src/index.js');
  const NO_WASM = Object.fromEntries(Object.entries(OPS).map(([op, row]) => [op, { ...row, wasm: null }]));
  const models = [await load(doc, { kernels: 'js' }), await load(doc, { kernels: 'wasm' }), new Model(checkModel(doc), await wasmBackend(NO_WASM))];
  for (const [k, m] of models.entries()) {
    const out = m.run({ x: { shape: [2, 3], data: x } });
    for (const [name, bits] of Object.entries(want)) assert.deepEqual(u(out[name].data), bits, `${name} on path ${k}`);
  }
});

test('Gather along a symbolic axis checks indices against the bound size; the CLI prints no partial output', async () => {
  const doc = {
    format: 'tessera', format_version: '1.1', producer: { name: 't', version: '0' },
    graph: {
      inputs: [{ name: 'd', dtype: 'float32', shape: ['n', 2] }, { name: 'i', dtype: 'int32', shape: ['k'] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['k', 2] }],
      initializers: [],
      nodes: [{ op: 'Gather', inputs: ['d', 'i'], outputs: ['y'] }],
    },
  };
  for (const kernels of ['js', 'wasm']) {
    const m = await load(doc, { kernels });
    const d = { shape: [3, 2], data: [1, 2, 3, 4, 5, 6] };
    assert.deepEqual(Array.from(m.run({ d, i: [-3, 2] }).y.data), [1, 2, 5, 6]);
    assert.throws(() => m.run({ d, i: [0, 3] }), (e) => e.code === 'E_INPUT' && /index 3 is outside \[-3, 2\]/.test(e.message));
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-gather-'));
  const M = path.join(dir, 'm.json'), I = path.join(dir, 'i.json');
  writeFileSync(M, JSON.stringify(doc));
  writeFileSync(I, JSON.stringify({ inputs: { d: { shape: [1, 2], data: [1, 2] }, i: { shape: [2], data: [0, -2] } } }));
  for (const kernels of ['js', 'wasm']) {
    const r = spawnSync(process.execPath, [path.join(PKG, 'bin', 'tessera-run.js'), '--kernels', kernels, M, I], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(Object.keys(JSON.parse(r.stdout)), ['error']);
    assert.equal(JSON.parse(r.stdout).error.code, 'E_INPUT');
  }
});
