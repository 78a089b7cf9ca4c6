// Tessera JS runtime: load a format-1 model and run it, bit-exact.
import { TesseraError, fail } from './errors.js';
import { parseJSONBytes, parseJSONText, checkTextSize } from './json.js';
import { checkModel, RUNTIME_VERSION } from './check.js';
import { Model } from './model.js';
import { jsBackend } from './kernels.js';
import { MAX_DEPTH, MAX_FILE_BYTES } from './limits.js';
import { wasmBackend, wasmSupported } from './wasm.js';

export { TesseraError, Model, RUNTIME_VERSION, wasmSupported };
export { parseJSONBytes, parseJSONText };

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

/** Parse a model source to a document (E_LIMIT / E_PARSE on bad text). */
export async function readSource(source, label = 'model') {
  if (typeof source === 'string') {
    const t = source.trimStart();
    if (t.startsWith('{') || t.startsWith('[') || !isNode) {
      checkTextSize(source, label);
      return parseJSONText(source, label);
    }
    return parseJSONBytes(await readFileNode(source, label), label);
  }
  if (source instanceof Uint8Array) return parseJSONBytes(source, label);
  if (source instanceof ArrayBuffer) return parseJSONBytes(new Uint8Array(source), label);
  if (ArrayBuffer.isView(source)) return parseJSONBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), label);
  if (typeof URL !== 'undefined' && source instanceof URL) {
    return isNode && source.protocol === 'file:' ? parseJSONBytes(await readFileNode(source, label), label) : readSource(await fetch(source), label);
  }
  // Response, Blob, File (an HTTP error page fails to parse: E_PARSE)
  if (typeof source?.arrayBuffer === 'function') return parseJSONBytes(new Uint8Array(await source.arrayBuffer()), label);
  if (source !== null && typeof source === 'object') {
    checkDepth(source);
    return source;
  }
  return fail('E_PARSE', `${label}: unsupported source type ${typeof source}`);
}

function checkDepth(v) {
  // a parsed object: only the nesting limit of section 8 can still apply
  // (a cyclic object nests without end, so it fails here too)
  const stack = [[v, 1]];
  const depthOf = new Map();
  while (stack.length) {
    const [x, d] = stack.pop();
    if (d > MAX_DEPTH) fail('E_LIMIT', `nesting deeper than ${MAX_DEPTH}`);
    if ((depthOf.get(x) || 0) >= d) continue;
    depthOf.set(x, d);
    if (ArrayBuffer.isView(x)) continue;
    for (const k of Object.keys(x)) {
      const c = x[k];
      if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
    }
  }
}

async function readFileNode(path, label) {
  const fs = await import('node:fs/promises');
  let st;
  try {
    st = await fs.stat(path);
  } catch (e) {
    fail('E_PARSE', `${label}: cannot read ${path}: ${e.code || e.message}`);
  }
  if (st.isFile() && st.size > MAX_FILE_BYTES) fail('E_LIMIT', `${label} ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  try {
    return await fs.readFile(path);
  } catch (e) {
    return fail('E_PARSE', `${label}: cannot read ${path}: ${e.code || e.message}`);
  }
}

/**
 * Load and check a model. options.kernels: 'auto' (wasm SIMD when the engine
 * supports it, else JS), 'js', or 'wasm'.
 */
export async function load(source, options = {}) {
  const doc = await readSource(source, 'model');
  const checked = checkModel(doc);
  const kind = options.kernels || 'auto';
  let backend = jsBackend;
  if (kind === 'wasm') {
    if (!wasmSupported()) throw new Error('wasm SIMD kernels are not supported by this engine');
    backend = await wasmBackend();
  } else if (kind === 'auto') {
    if (wasmSupported()) backend = await wasmBackend().catch(() => jsBackend);
  } else if (kind !== 'js') throw new TypeError(`kernels must be 'auto', 'js' or 'wasm', not ${JSON.stringify(kind)}`);
  return new Model(checked, backend);
}
