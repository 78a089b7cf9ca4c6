// Tensor documents (SPEC.md section 9, tensors.schema.json), base64, CRC-32
// and float32 formatting.
import { fail } from './errors.js';
import { MAX_RANK } from './limits.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INV[B64.charCodeAt(i)] = i;

/** RFC 4648 base64 with required padding; null when malformed. */
export function decodeBase64(s) {
  if (!B64_RE.test(s) || s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const n = (s.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const a = B64_INV[s.charCodeAt(i)], b = B64_INV[s.charCodeAt(i + 1)];
    const c = s.charCodeAt(i + 2) === 61 ? 0 : B64_INV[s.charCodeAt(i + 2)];
    const d = s.charCodeAt(i + 3) === 61 ? 0 : B64_INV[s.charCodeAt(i + 3)];
    if (a < 0 || b < 0 || c < 0 || d < 0) return null; // '=' in the middle
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    if (o < n) out[o++] = (v >>> 8) & 255;
    if (o < n) out[o++] = v & 255;
  }
  // '=' may only stand at the end; a lone "x===" style is excluded by the regex.
  if (pad === 2 && s.charCodeAt(s.length - 3) === 61) return null;
  return out;
}

export function encodeBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i], b = bytes[i + 1], c = bytes[i + 2];
    const v = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    s += B64[v >>> 18] + B64[(v >>> 12) & 63] + (b === undefined ? '=' : B64[(v >>> 6) & 63]) + (c === undefined ? '=' : B64[v & 63]);
  }
  return s;
}

let CRC_TABLE = null;
export function crc32(bytes) {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export const crc32Hex = (bytes) => crc32(bytes).toString(16).padStart(8, '0');

const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Little-endian bytes of a Float32Array. */
export function f32Bytes(data) {
  const b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE) return b;
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += 4) { out[i] = b[i + 3]; out[i + 1] = b[i + 2]; out[i + 2] = b[i + 1]; out[i + 3] = b[i]; }
  return out;
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
    if (Math.fround(d) === v) return jsonNumber(String(d));
  }
  return jsonNumber(String(v)); // exact double: always round-trips
}

function jsonNumber(s) {
  // String(number) is valid JSON except that it may omit a fraction; keep as is.
  return s;
}

export function formatTensor(shape, data) {
  const parts = new Array(data.length);
  for (let i = 0; i < data.length; i++) parts[i] = formatF32(data[i]);
  return `{"shape": [${shape.join(', ')}], "data": [${parts.join(', ')}]}`;
}

/** Validate a parsed inputs document ({"inputs": {...}}); E_INPUT otherwise. */
export function readInputsDocument(doc) {
  const bad = (msg) => fail('E_INPUT', `inputs file: ${msg}`);
  if (!isObj(doc)) bad('not a JSON object');
  const keys = Object.keys(doc);
  if (keys.length !== 1 || keys[0] !== 'inputs') bad('must be {"inputs": {...}}');
  const map = doc.inputs;
  if (!isObj(map)) bad('"inputs" must be an object');
  const out = Object.create(null);
  for (const name of Object.keys(map)) {
    if (!NAME_RE.test(name)) bad(`bad tensor name ${JSON.stringify(name)}`);
    out[name] = readTensor(map[name], `tensor ${name}`, bad);
  }
  return out;
}

function readTensor(t, who, bad) {
  if (!isObj(t)) bad(`${who} must be an object`);
  for (const k of Object.keys(t)) {
    if (k !== 'shape' && k !== 'dtype' && k !== 'data' && k !== 'data_b64') bad(`${who}: unknown field ${JSON.stringify(k)}`);
  }
  if (!has(t, 'shape') || !Array.isArray(t.shape)) bad(`${who}: "shape" must be an array`);
  for (const d of t.shape) if (!(Number.isInteger(d) && d >= 1)) bad(`${who}: bad dimension ${JSON.stringify(d)}`);
  if (has(t, 'dtype') && t.dtype !== 'float32') bad(`${who}: dtype must be "float32"`);
  if (has(t, 'data') === has(t, 'data_b64')) bad(`${who}: needs exactly one of "data" and "data_b64"`);
  let data;
  if (has(t, 'data')) {
    if (!Array.isArray(t.data)) bad(`${who}: "data" must be an array`);
    const src = t.data;
    data = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (typeof v === 'number') data[i] = v;
      else if (v === 'inf') data[i] = Infinity;
      else if (v === '-inf') data[i] = -Infinity;
      else if (v === 'nan') data[i] = NaN;
      else bad(`${who}: value #${i} is neither a number nor "inf", "-inf", "nan"`);
    }
  } else {
    if (typeof t.data_b64 !== 'string') bad(`${who}: "data_b64" must be a string`);
    const bytes = decodeBase64(t.data_b64);
    if (bytes === null || bytes.length % 4 !== 0) bad(`${who}: malformed base64`);
    data = new Float32Array(bytes.length / 4);
    if (LITTLE) new Uint8Array(data.buffer).set(bytes);
    else { const dv = new DataView(bytes.buffer); for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, true); }
  }
  if (t.shape.length > MAX_RANK) bad(`${who}: rank ${t.shape.length} is more than ${MAX_RANK}`);
  return { shape: t.shape.slice(), data };
}
