// The runtime CLI protocol (SPEC.md section 9).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PKG, bitsOf, diffBits } from './helpers.js';
import { load } from '../src/index.js';
import { formatF32 } from '../src/protocol.js';

const BIN = path.join(PKG, 'bin', 'tessera-run.js');
const dir = mkdtempSync(path.join(tmpdir(), 'tessera-cli-'));
const file = (name, content) => { const p = path.join(dir, name); writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content)); return p; };
const run = (args, env = {}) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

const model = {
  format: 'tessera', format_version: '1.0', producer: { name: 't', version: '0' },
  graph: {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }, { name: 'n', dtype: 'float32', shape: ['batch', 3] }],
    initializers: [{ name: 'W', dtype: 'float32', shape: [3, 3], data: [0.1, -1, 2, 0.25, 1e-3, 3, 7, 0.3, -0.7] }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['t'] },
      { op: 'Tanh', inputs: ['t'], outputs: ['y'] },
      { op: 'Neg', inputs: ['x'], outputs: ['n'] },
    ],
  },
};
const inputs = { inputs: { x: { shape: [2, 3], data: [1, 0, 0.5, 'inf', 'nan', -0.0] } } };
const M = file('model.json', model);
const I = file('inputs.json', inputs);

for (const kernels of ['js', 'wasm']) {
  test(`success: exit 0, every output in declaration order, exact bits (${kernels})`, async () => {
    for (const r of [run(['--kernels', kernels, M, I]), run([M, I], { TESSERA_KERNELS: kernels })]) {
      assert.equal(r.status, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(doc), ['outputs']);
      assert.deepEqual(Object.keys(doc.outputs), ['y', 'n']);
      const m = await load(model, { kernels: 'js' });
      const want = m.run({ x: { shape: [2, 3], data: JSON.parse(JSON.stringify(inputs.inputs.x.data)) } });
      for (const name of ['y', 'n']) {
        const got = doc.outputs[name];
        assert.deepEqual(got.shape, [2, 3]);
        const data = Float32Array.from(got.data.map((v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : v)));
        assert.equal(diffBits(data, Array.from(want[name].data, bitsOf)), null);
      }
      assert.match(r.stdout, /"-inf"/);
      assert.match(r.stdout, /"nan"/);
      assert.match(r.stdout, /-0\.0/); // Neg(+0) keeps its sign
    }
  });
}

test('float formatting: shortest decimal that round-trips through double then float32', () => {
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  let s = 7;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    u32[0] = s;
    const v = f32[0];
    const t = formatF32(v);
    if (v !== v) { assert.equal(t, '"nan"'); continue; }
    if (!Number.isFinite(v)) continue;
    assert.equal(Math.fround(Number(t)), v, `${v} -> ${t}`);
    assert.ok(Object.is(Math.fround(Number(t)), v));
  }
  assert.equal(formatF32(0.1), '0.1');
  assert.equal(formatF32(Math.fround(0.1)), '0.1');
  assert.equal(formatF32(-0), '-0.0');
  assert.equal(formatF32(1e-45), '1e-45');
});

test('rejections: exit 1 with one error document', () => {
  const cases = [
    [file('bad.json', '{"format": '), I, 'E_PARSE'],
    [path.join(dir, 'missing.json'), I, 'E_PARSE'],
    [file('v2.json', { ...model, format_version: '2.0' }), I, 'E_VERSION'],
    [M, file('bad-inputs.json', '{"inputs": '), 'E_PARSE'],
    [M, path.join(dir, 'missing-inputs.json'), 'E_PARSE'],
    [M, file('not-tensors.json', { outputs: inputs.inputs }), 'E_INPUT'],
    [M, file('wrong-shape.json', { inputs: { x: { shape: [2, 2], data: [1, 2, 3, 4] } } }), 'E_INPUT'],
    [M, file('bad-value.json', { inputs: { x: { shape: [1, 3], data: [1, 'Infinity', 3] } } }), 'E_INPUT'],
    [M, file('deep-inputs.json', '['.repeat(1000)), 'E_LIMIT'],
    // the model is checked before the inputs file is read
    [file('unk.json', { ...model, graph: { ...model.graph, nodes: [{ op: 'Gelu', inputs: ['x'], outputs: ['y'] }] } }), file('bad2.json', '{'), 'E_UNKNOWN_OP'],
  ];
  for (const [m, i, want] of cases) {
    const r = run([m, i]);
    assert.equal(r.status, 1, `${want}: ${r.stdout} ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), ['error']);
    assert.equal(doc.error.code, want, r.stdout);
    assert.equal(typeof doc.error.message, 'string');
  }
});

test('usage: exit 2 on a wrong number of arguments', () => {
  for (const args of [[], [M], [M, I, I], ['--kernels', 'gpu', M, I]]) {
    const r = run(args);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /usage/);
  }
});
