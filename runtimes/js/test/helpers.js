// Shared helpers for the node tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PKG = path.resolve(HERE, '..');
export const ROOT = path.resolve(PKG, '..', '..');

/** The Python with numpy to compute reference vectors; throws (never skips). */
export function python() {
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  const candidates = [process.env.TESSERA_PYTHON, existsSync(venv) ? venv : null, 'python3'].filter(Boolean);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  throw new Error(`these tests need python3 with numpy to compute the reference vectors; tried ${candidates.join(', ')}`);
}

export function runPython(script, args = []) {
  const py = python();
  const r = spawnSync(py, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, cwd: ROOT });
  if (r.status !== 0) throw new Error(`${py} ${script} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export const bitsOf = (x) => { f32[0] = x; return u32[0]; };
export const fromBits = (b) => { u32[0] = b; return f32[0]; };
export const isNaNBits = (b) => (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;

/** Compare float32 data to expected bits; any NaN equals any NaN. */
export function diffBits(data, expected) {
  if (data.length !== expected.length) return `length ${data.length} vs ${expected.length}`;
  for (let i = 0; i < data.length; i++) {
    const b = bitsOf(data[i]);
    const e = expected[i] >>> 0;
    if (b === e || (isNaNBits(b) && isNaNBits(e))) continue;
    return `element ${i}: got ${data[i]} (0x${b.toString(16)}), expected ${fromBits(e)} (0x${e.toString(16)})`;
  }
  return null;
}

/** A minimal model document around one node; stamped 1.1 when it uses int32 or `version` says. */
export function oneNodeModel(op, inShapes, outShape, attrs = {}, inTypes = [], outType = 'float32', version) {
  const names = inShapes.map((_, i) => `x${i}`);
  const types = inShapes.map((_, i) => inTypes[i] ?? 'float32');
  return {
    format: 'tessera', format_version: version ?? ([...types, outType].includes('int32') ? '1.1' : '1.0'),
    producer: { name: 'test', version: '0' },
    graph: {
      inputs: inShapes.map((s, i) => ({ name: names[i], dtype: types[i], shape: s })),
      outputs: [{ name: 'y', dtype: outType, shape: outShape }],
      initializers: [],
      nodes: [{ op, inputs: names, outputs: ['y'], attrs }],
    },
  };
}
