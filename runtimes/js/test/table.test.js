// The op table (src/ops.js OPS) and what depends on it: the op codes against
// runtimes/c/src/kernels.h, the wasm module's exports, the CLI's --ops, the
// plain-JS fallback under the wasm backend, and index.d.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as api from '../src/index.js';
import { OPS, WASM_HELPERS } from '../src/ops.js';
import { checkModel } from '../src/check.js';
import { wasmBackend } from '../src/wasm.js';
import { PKG, ROOT, diffBits, bitsOf } from './helpers.js';

const node = (args) => spawnSync(process.execPath, args, { cwd: PKG, encoding: 'utf8' });
const KERNELS_H = readFileSync(path.join(ROOT, 'runtimes', 'c', 'src', 'kernels.h'), 'utf8');
const KINDS = ['bool', 'f32', 'int', 'axes', 'perm', 'rshape', 'ints', 'dtype', 'size', 'size2', 'pads4'];

test('every row has the fields the checker and the backends read', () => {
  for (const [op, row] of Object.entries(OPS)) {
    const [lo, hi] = [row.arity].flat();
    assert.ok(Number.isInteger(row.arity) ? row.arity >= 1 : lo >= 1 && hi > lo, op);
    assert.ok(row.since === undefined || ['1.1', '1.2'].includes(row.since), `${op}: since ${row.since}`);
    assert.match(row.types ?? 'f:f', /^[fiT]+:[fiT]?$/, op);
    for (const [name, a] of Object.entries(row.attrs)) {
      assert.ok(KINDS.includes(a.kind), `${op}.${name}: kind ${a.kind}`);
      assert.equal(typeof a.required, 'boolean', `${op}.${name}`);
      assert.ok(a.required ? a.default === undefined : a.default !== undefined, `${op}.${name}: a default exactly when optional`);
    }
    assert.equal(typeof row.shape, 'function', op);
    assert.equal(typeof row.js, 'function', op);
    assert.ok(row.wasm === null || typeof row.wasm.fn === 'string', op);
    assert.ok(Object.isFrozen(row), op);
  }
  assert.ok(Object.isFrozen(OPS));
});

test('op codes are the TSR_K_* values of runtimes/c/src/kernels.h', () => {
  const defined = new Map([...KERNELS_H.matchAll(/\b(TSR_K_[A-Z0-9_]+)\s*=\s*(-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
  assert.ok(defined.has('TSR_K_ADD') && defined.has('TSR_K_RSUM'), 'the enums of kernels.h were read');
  const used = new Map(); // fn -> codes
  for (const [op, { wasm }] of Object.entries(OPS)) {
    if (!wasm) continue;
    assert.match(KERNELS_H, new RegExp(`\\b${wasm.fn}\\s*\\(`), `${op}: ${wasm.fn} is declared in kernels.h`);
    if (wasm.code === undefined) { assert.equal(wasm.symbol, undefined, op); continue; }
    assert.ok(defined.has(wasm.symbol), `${op}: ${wasm.symbol} is in kernels.h`);
    assert.equal(wasm.code, defined.get(wasm.symbol), `${op}: code ${wasm.code} is ${wasm.symbol}`);
    const codes = used.get(wasm.fn) ?? new Set();
    assert.ok(!codes.has(wasm.code), `${op}: code ${wasm.code} of ${wasm.fn} used twice`);
    used.set(wasm.fn, codes.add(wasm.code));
  }
  assert.deepEqual([...used.keys()].sort(), ['tsr_k_binary', 'tsr_k_reduce']);
});

test('the wasm module exports what the rows name (tools/wasm-exports.js)', () => {
  const list = node(['tools/wasm-exports.js']);
  assert.equal(list.status, 0, list.stderr);
  const want = list.stdout.trim().split(' ');
  const rows = Object.values(OPS).filter((r) => r.wasm).map((r) => r.wasm.fn);
  assert.deepEqual(want, [...new Set([...rows, ...WASM_HELPERS])].sort());
  const mod = node(['tools/wasm-exports.js', '--module']);
  assert.equal(mod.status, 0, mod.stderr);
  const got = JSON.parse(mod.stdout).exports;
  for (const name of want) assert.ok(got.includes(name), `the committed module exports ${name}`);
  assert.ok(got.includes('memory'));
  const mk = spawnSync('make', ['-s', '-C', PKG, 'exports'], { encoding: 'utf8' });
  if (mk.status === 0) assert.deepEqual(mk.stdout.trim().split(' '), want); // the Makefile's list (when make exists)
});

test('tessera-run.js --ops prints the table', () => {
  const r = node(['bin/tessera-run.js', '--ops']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').length, 2, 'one line');
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ['ops']);
  assert.deepEqual(doc.ops.map((o) => o.name), Object.keys(OPS));
  for (const o of doc.ops) {
    assert.deepEqual(Object.keys(o), ['name', 'arity', 'attrs']);
    assert.deepEqual(o.arity, OPS[o.name].arity);
    assert.deepEqual(o.attrs, Object.keys(OPS[o.name].attrs).sort());
  }
  assert.ok(r.stdout.startsWith('{"ops": [{"name": "MatMul", "arity": 2, "attrs": ["transpose_a", "transpose_b"]}, {"name": "Add", '));
  assert.ok(r.stdout.includes('{"name": "Concat", "arity": [1, 64], "attrs": ["axis"]}'), 'a range of arities prints as [min, max]');
  assert.equal(node(['bin/tessera-run.js', '--ops', 'extra']).status, 2);
});

test('a row without a wasm kernel runs its plain-JS kernel under the wasm backend, constants included', async () => {
  const NO_WASM = Object.fromEntries(Object.entries(OPS).map(([op, row]) => [op, { ...row, wasm: null }]));
  const W = Array.from({ length: 12 }, (_, i) => Math.fround(Math.sin(i + 1) * 3));
  const doc = {
    format: 'tessera', format_version: '1.0', producer: { name: 't', version: '0' },
    graph: {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }, { name: 's', dtype: 'float32', shape: ['batch'] }],
      initializers: [{ name: 'W', dtype: 'float32', shape: [3, 4], data: W }, { name: 'b', dtype: 'float32', shape: [3], data: [0.5, -1, 2] }],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'], attrs: { transpose_b: true } },
        { op: 'Add', inputs: ['h', 'b'], outputs: ['hb'] },
        { op: 'Sigmoid', inputs: ['hb'], outputs: ['z'] },
        { op: 'MatMul', inputs: ['z', 'W'], outputs: ['y'] },
        { op: 'ReduceSum', inputs: ['y'], outputs: ['s'], attrs: { axes: [1] } },
      ],
    },
  };
  const x = { shape: [2, 4], data: new Float32Array([1, 0, -2.5, 3, 0, 0.25, 1e-3, -7]) };
  const ref = (await api.load(doc, { kernels: 'js' })).run({ x });
  for (const backend of [await wasmBackend(), await wasmBackend(NO_WASM)]) {
    const m = new api.Model(checkModel(doc), backend);
    for (let r = 0; r < 2; r++) { // the second run reuses the laid-out memory
      const out = m.run({ x });
      for (const k of ['y', 's']) assert.equal(diffBits(out[k].data, Array.from(ref[k].data, bitsOf)), null, k);
    }
  }
});

test('index.d.ts declares what src/index.js exports', () => {
  const dts = readFileSync(path.join(PKG, 'index.d.ts'), 'utf8');
  const values = new Set([...dts.matchAll(/^export (?:declare )?(?:function|const|class) (\w+)/gm)].map((m) => m[1]));
  const types = new Set([...dts.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]));
  for (const name of Object.keys(api)) assert.ok(values.has(name) || types.has(name), `index.d.ts declares ${name}`);
  for (const name of values) assert.ok(name in api, `src/index.js exports ${name}`);
  assert.match(dts, /export const OPS: /);
});
