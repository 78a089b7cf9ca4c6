// Tessera JS runtime: load a format-1 model and run it, bit-exact.
import { TesseraError, fail } from './errors.js';
import { parseJSONBytes, parseJSONText, checkTextSize, tooLarge } from './json.js';
import { checkModel, RUNTIME_VERSION } from './check.js';
import { Model } from './model.js';
import { OPS, jsBackend } from './ops.js';
import { MAX_DEPTH, MAX_FILE_BYTES } from './limits.js';
import { wasmBackend, wasmSupported } from './wasm.js';

export { TesseraError, Model, OPS, RUNTIME_VERSION, wasmSupported };
export { parseJSONBytes, parseJSONText };

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

/** Parse a model source to a document (E_LIMIT / E_PARSE on bad text). */
export async function readSource(source, label = 'model') {
  if (typeof source === 'string') {
    if (isNode && !/^\s*[[{]/.test(source)) return parseJSONBytes(await readFileNode(source, label), label); // a path
    checkTextSize(source, label);
    return parseJSONText(source, label);
  }
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
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

/** A parsed object: only the nesting limit still applies (a cyclic object fails it too). */
function checkDepth(v) {
  const stack = [[v, 1]];
  const depthOf = new Map();
  while (stack.length) {
    const [x, d] = stack.pop();
    if (d > MAX_DEPTH) fail('E_LIMIT', `nesting deeper than ${MAX_DEPTH}`);
    if ((depthOf.get(x) || 0) >= d) continue;
    depthOf.set(x, d);
    if (ArrayBuffer.isView(x)) continue;
    for (const c of Object.values(x)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
}

async function readFileNode(path, label) {
  const fs = await import('node:fs/promises');
  const unreadable = (e) => fail('E_PARSE', `${label}: cannot read ${path}: ${e.code || e.message}`);
  const st = await fs.stat(path).catch(unreadable);
  if (st.isFile() && st.size > MAX_FILE_BYTES) tooLarge(`${label} ${path}`);
  return fs.readFile(path).catch(unreadable);
}

/** Load and check a model; options.kernels: 'auto' (wasm SIMD if supported, else JS), 'js' or 'wasm'. */
export async function load(source, options = {}) {
  const checked = checkModel(await readSource(source, 'model'));
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
