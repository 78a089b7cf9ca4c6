// The runtime CLI protocol's tensor documents (SPEC.md section 9,
// tensors.schema.json) and float32 formatting. Not needed for inference:
// import it as 'tessera-exact/protocol'.
import { fail } from './errors.js';
import { decodeBase64, fromLE } from './tensors.js';
import { readSource } from './index.js';
import { isInt32 } from './check.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Parse and validate an inputs document (section 9) to {name: {shape, data}};
 * `decls` (a model's inputs): a tensor without "dtype" has its input's dtype
 * (float32 without decls), and a "dtype" other than the declared one is E_INPUT.
 */
export async function loadInputs(source, decls) {
  return readInputsDocument(await readSource(source, 'inputs'), decls);
}

/**
 * A float32 value as the shortest decimal that gives back the same float32
 * through the double-then-float32 path; non-finite as "inf"/"-inf"/"nan"
 * strings (returned as JSON text, i.e. with quotes).
 */
export function formatF32(v) {
  if (v !== v) return '"nan"';
  if (v === Infinity) return '"inf"';
  if (v === -Infinity) return '"-inf"';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    const d = Number(s);
    if (Math.fround(d) === v) return String(d);
  }
  return String(v); // the exact double: always round-trips
}

/** A tensor object as JSON text: an Int32Array carries "dtype": "int32" and JSON integers. */
export function formatTensor(shape, data) {
  const int = data instanceof Int32Array;
  const parts = new Array(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = int ? String(data[i]) : formatF32(data[i]);
  return `{"shape": [${shape.join(', ')}], ${int ? '"dtype": "int32", ' : ''}"data": [${parts.join(', ')}]}`;
}

/** Validate a parsed inputs document ({"inputs": {...}}); E_INPUT otherwise. */
export function readInputsDocument(doc, decls = []) {
  const bad = (msg) => fail('E_INPUT', `inputs file: ${msg}`);
  if (!isObj(doc)) bad('not a JSON object');
  const keys = Object.keys(doc);
  if (keys.length !== 1 || keys[0] !== 'inputs') bad('must be {"inputs": {...}}');
  const map = doc.inputs;
  if (!isObj(map)) bad('"inputs" must be an object');
  const out = Object.create(null);
  for (const name of Object.keys(map)) {
    if (!NAME_RE.test(name)) bad(`bad tensor name ${JSON.stringify(name)}`);
    out[name] = readTensor(map[name], `tensor ${name}`, bad, decls.find((d) => d.name === name)?.dtype);
  }
  return out;
}

function readTensor(t, who, bad, declared) {
  if (!isObj(t)) bad(`${who} must be an object`);
  for (const k of Object.keys(t)) {
    if (k !== 'shape' && k !== 'dtype' && k !== 'data' && k !== 'data_b64') bad(`${who}: unknown field ${JSON.stringify(k)}`);
  }
  if (!has(t, 'shape') || !Array.isArray(t.shape)) bad(`${who}: "shape" must be an array`);
  for (const d of t.shape) if (!(Number.isInteger(d) && d >= 1)) bad(`${who}: bad dimension ${JSON.stringify(d)}`);
  if (has(t, 'dtype') && t.dtype !== 'float32' && t.dtype !== 'int32') bad(`${who}: dtype must be "float32" or "int32"`);
  if (has(t, 'dtype') && declared && t.dtype !== declared) bad(`${who}: dtype ${t.dtype}, the model declares ${declared}`);
  const int = (t.dtype ?? declared) === 'int32';
  if (has(t, 'data') === has(t, 'data_b64')) bad(`${who}: needs exactly one of "data" and "data_b64"`);
  let data;
  if (has(t, 'data')) {
    if (!Array.isArray(t.data)) bad(`${who}: "data" must be an array`);
    const src = t.data;
    data = new (int ? Int32Array : Float32Array)(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (v !== null && typeof v === 'object') bad(`${who}: data must be a flat row-major list (value #${i} is ${Array.isArray(v) ? 'an array' : 'an object'})`);
      if (int) {
        if (!isInt32(v)) bad(`${who}: value #${i} (${JSON.stringify(v)}) is not an integer in int32 range`);
        data[i] = v;
      } else if (typeof v === 'number') data[i] = v;
      else if (v === 'inf') data[i] = Infinity;
      else if (v === '-inf') data[i] = -Infinity;
      else if (v === 'nan') data[i] = NaN;
      else bad(`${who}: value #${i} is neither a number nor "inf", "-inf", "nan"`);
    }
  } else {
    if (typeof t.data_b64 !== 'string') bad(`${who}: "data_b64" must be a string`);
    const bytes = decodeBase64(t.data_b64);
    if (bytes === null || bytes.length % 4 !== 0) bad(`${who}: malformed base64`);
    data = fromLE(bytes, int);
  }
  return { shape: t.shape.slice(), data };
}
