// API manners: an input the model cannot take is E_INPUT with a message that
// says what was expected (values, shape, the declared shape with its symbols),
// through the API and through the CLI; a nested `data` list is one clear
// message, "data must be a flat row-major list".
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load, TesseraError } from '../../src/index.js';
import { PKG, ROOT } from '../helpers.js';

const SEED = path.join(ROOT, 'conformance', 'cases', 'model_seed_ae_digits_batch1'); // x: ["batch", 64]
const CLI = path.join(PKG, 'bin', 'tessera-run.js');

const addModel = (a, b) => ({
  format: 'tessera', format_version: '1.0', producer: { name: 'test', version: '0' },
  graph: {
    inputs: [{ name: 'x', dtype: 'float32', shape: a }, { name: 'y', dtype: 'float32', shape: b }],
    outputs: [{ name: 'z', dtype: 'float32', shape: a }], initializers: [],
    nodes: [{ op: 'Add', inputs: ['x', 'y'], outputs: ['z'] }],
  },
});

function rejects(fn, message) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TesseraError);
    assert.equal(e.code, 'E_INPUT');
    assert.equal(e.detail, message);
    return true;
  });
}

test('API: input errors say what was expected', async () => {
  const seed = await load(path.join(SEED, 'model.json'), { kernels: 'js' });
  const f = (n) => new Float32Array(n);
  rejects(() => seed.run({ x: f(63) }), 'input x: 63 values, expected a multiple of 64 (shape ["batch", 64])');
  rejects(() => seed.run({ x: f(0) }), 'input x: 0 values, expected a nonzero multiple of 64 (shape ["batch", 64])');
  rejects(() => seed.run({ x: { shape: [1, 64], data: f(63) } }), 'input x: 63 values, expected 64 (shape [1, 64])');
  rejects(() => seed.run({ x: { shape: [1, 63], data: f(63) } }), 'input x: shape [1, 63], expected ["batch", 64] (dimension 1 is 63, not 64)');
  rejects(() => seed.run({ x: { shape: [64], data: f(64) } }), 'input x: shape [64], expected ["batch", 64] (rank 1, not 2)');
  rejects(() => seed.run({ x: { shape: [0.5, 64], data: f(32) } }), 'input x: shape [0.5, 64]: dimension 0.5 is not an integer >= 1 (expected ["batch", 64])');
  rejects(() => seed.run({ x: { shape: [1, 64], data: [[0, 1], [1, 0]] } }), 'input x: data must be a flat row-major list (value #0 is an array)');
  rejects(() => seed.run({ x: [[...f(64)]] }), 'input x: data must be a flat row-major list (value #0 is an array)');
  assert.equal(seed.run({ x: f(128) }).x_hat.shape.join(), '2,64'); // a whole multiple binds the batch

  const fixed = await load(addModel([1, 64], [1, 64]), { kernels: 'js' });
  rejects(() => fixed.run({ x: f(63), y: f(64) }), 'input x: 63 values, expected 64 (shape [1, 64])');
  rejects(() => fixed.run({ x: f(64), y: { shape: [2, 64], data: f(128) } }), 'input y: shape [2, 64], expected [1, 64] (dimension 0 is 2, not 1)');
  const sym = await load(addModel(['batch', 64], ['batch', 64]), { kernels: 'js' });
  rejects(() => sym.run({ x: f(128), y: f(64) }), 'input y: shape [1, 64], expected ["batch", 64] with "batch" = 2 (from input x)');
  const square = await load(addModel(['n', 'n'], ['n', 'n']), { kernels: 'js' });
  rejects(() => square.run({ x: { shape: [2, 3], data: f(6) }, y: f(4) }), 'input x: shape [2, 3], expected ["n", "n"] with "n" = 2 (from its dimension 0)');
  rejects(() => square.run({ x: f(4), y: f(4) }), 'input x: 4 values for a shape with 2 symbolic dimensions (shape ["n", "n"]): pass {shape, data}');
});

test('CLI: the same messages for an inputs file; a nested data list is one clear E_INPUT', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-inputs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = JSON.parse(readFileSync(path.join(SEED, 'inputs.json'), 'utf8')).inputs.x.data;
  const rows = Array.from({ length: 8 }, (_, i) => data.slice(8 * i, 8 * i + 8));
  const cases = [
    [{ shape: [1, 64], data: rows }, 'inputs file: tensor x: data must be a flat row-major list (value #0 is an array)'],
    [{ shape: [1, 64], data: [data] }, 'inputs file: tensor x: data must be a flat row-major list (value #0 is an array)'],
    [{ shape: [1, 64], dtype: 'float32', data: [1, [2]] }, 'inputs file: tensor x: data must be a flat row-major list (value #1 is an array)'],
    [{ shape: [1, 63], data: data.slice(0, 63) }, 'input x: shape [1, 63], expected ["batch", 64] (dimension 1 is 63, not 64)'],
    [{ shape: [1, 64], data: data.slice(0, 63) }, 'input x: 63 values, expected 64 (shape [1, 64])'],
  ];
  for (const [i, [tensor, message]] of cases.entries()) {
    const file = path.join(dir, `inputs${i}.json`);
    writeFileSync(file, JSON.stringify({ inputs: { x: tensor } }));
    for (const kernels of ['js', 'wasm']) {
      const r = spawnSync(process.execPath, [CLI, '--kernels', kernels, path.join(SEED, 'model.json'), file], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'E_INPUT', message } });
    }
  }
});
