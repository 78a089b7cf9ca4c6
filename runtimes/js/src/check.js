// Model checking, in the exact order of SPEC.md section 5 (steps 3-9; json.js
// did steps 1-2).
import { fail } from './errors.js';
import * as L from './limits.js';
import { OPS, shapeStr, typesOf, withDefaults } from './ops.js';
import { B64_RE, decodeBase64, crc32Hex, leBytes, fromLE } from './tensors.js';

export const RUNTIME_VERSION = '1.2';
const minorOf = (v) => +(v || '1.0').slice(2); // no `since`: 1.0
const DTYPES = ['float32', 'int32'];
const VERSION_RE = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
const SYMBOL_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OP_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
const CHECKSUM_RE = /^crc32:[0-9a-f]{8}$/;

const has = Object.hasOwn;
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
const isInt = Number.isInteger;
const isStr = (v) => typeof v === 'string';
const isCount = (d) => isInt(d) && d >= 1;
const isDim = (d) => isCount(d) || (isStr(d) && SYMBOL_RE.test(d));

/** E_VERSION, optionally naming what a newer minor version added. */
function versionError(text, unknown) {
  fail('E_VERSION', `file is format ${text}; this runtime implements ${RUNTIME_VERSION}${unknown ? ` and does not know ${unknown}` : ''}`);
}

function nodeLabel(node, i) {
  if (isObj(node) && isStr(node.name) && has(node, 'name')) return `node ${JSON.stringify(node.name)}`;
  const op = isObj(node) && isStr(node.op) ? ` (${node.op})` : '';
  return `node #${i}${op}`;
}

/** Step 3. Returns {newer, minor, text} or null when the field is unusable. */
function checkVersion(doc) {
  if (!isObj(doc) || !has(doc, 'format_version') || !isStr(doc.format_version)) return null;
  const m = VERSION_RE.exec(doc.format_version);
  if (!m) return null;
  if (m[1] !== '1') versionError(doc.format_version);
  const minor = Number(m[2]);
  return { newer: minor > minorOf(RUNTIME_VERSION), minor, text: doc.format_version };
}

/** Used in a file stamped before `since`: E_VERSION. */
function tooNew(ver, what, since) {
  if (ver && ver.minor < minorOf(since)) fail('E_VERSION', `${what} needs format ${since}; the file is stamped ${ver.text}`);
}

/** The op's row if the file's version has it (else unknown until step 6). */
const rowOf = (op, ver) => (has(OPS, op) && ver.minor >= minorOf(OPS[op].since) ? OPS[op] : null);

/** Step 4: the hand-written equivalent of model.schema.json plus op attributes. */
function checkSchema(doc, ver) {
  const bad = (where, what) => {
    if (ver && ver.newer) versionError(ver.text, `${where}: ${what}`);
    fail('E_SCHEMA', `${where}: ${what}`);
  };
  const closed = (o, where, allowed, required = allowed) => {
    if (!isObj(o)) bad(where, 'must be an object');
    for (const k of required) if (!has(o, k)) bad(where, `missing field ${JSON.stringify(k)}`);
    for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(where, `unknown field ${JSON.stringify(k)}`);
  };
  const name = (v, where) => {
    if (!isStr(v) || !NAME_RE.test(v)) bad(where, `bad name ${JSON.stringify(v)}`);
  };
  const arr = (v, where, min = 0) => {
    if (!Array.isArray(v)) bad(where, 'must be an array');
    if (v.length < min) bad(where, `needs at least ${min} item(s)`);
  };
  // graph inputs / outputs (symbolic dims allowed) and initializers
  const tensor = (t, where, allowed, required, dimOk) => {
    closed(t, where, allowed, required);
    name(t.name, `${where}.name`);
    if (!DTYPES.includes(t.dtype)) bad(`${where}.dtype`, 'must be "float32" or "int32"');
    arr(t.shape, `${where}.shape`);
    for (const d of t.shape) if (!dimOk(d)) bad(`${where}.shape`, `bad dimension ${JSON.stringify(d)}`);
  };

  closed(doc, 'document', ['format', 'format_version', 'producer', 'metadata', 'graph'],
    ['format', 'format_version', 'producer', 'graph']);
  if (doc.format !== 'tessera') bad('format', 'must be "tessera"');
  if (!isStr(doc.format_version) || !VERSION_RE.test(doc.format_version)) bad('format_version', 'must be a string MAJOR.MINOR');
  closed(doc.producer, 'producer', ['name', 'version']);
  if (!isStr(doc.producer.name) || !isStr(doc.producer.version)) bad('producer', 'name and version must be strings');
  if (has(doc, 'metadata') && !isObj(doc.metadata)) bad('metadata', 'must be an object');
  const g = doc.graph;
  closed(g, 'graph', ['inputs', 'outputs', 'initializers', 'nodes']);
  for (const k of ['inputs', 'outputs']) {
    arr(g[k], `graph.${k}`, 1);
    const fields = ['name', 'dtype', 'shape'];
    g[k].forEach((v, i) => tensor(v, `graph.${k}[${i}]`, fields, fields, isDim));
  }
  arr(g.initializers, 'graph.initializers');
  g.initializers.forEach((t, i) => {
    const where = `initializer #${i}`;
    tensor(t, where, ['name', 'dtype', 'shape', 'data', 'data_b64', 'checksum'], ['name', 'dtype', 'shape'], isCount);
    if (has(t, 'data')) {
      arr(t.data, `${where}.data`);
      const k = t.data.findIndex((x) => typeof x !== 'number');
      if (k >= 0) bad(`${where}.data`, `item ${k} is not a number`);
    }
    if (has(t, 'data_b64') && !(isStr(t.data_b64) && B64_RE.test(t.data_b64))) bad(`${where}.data_b64`, 'not a base64 string');
    if (has(t, 'checksum') && !(isStr(t.checksum) && CHECKSUM_RE.test(t.checksum))) bad(`${where}.checksum`, 'must be "crc32:" and 8 lowercase hex digits');
    if (has(t, 'data') === has(t, 'data_b64')) bad(where, 'needs exactly one of "data" and "data_b64"');
  });
  arr(g.nodes, 'graph.nodes', 1);
  g.nodes.forEach((node, i) => {
    closed(node, `node #${i}`, ['name', 'op', 'inputs', 'outputs', 'attrs'], ['op', 'inputs', 'outputs']);
    const where = nodeLabel(node, i);
    if (has(node, 'name') && !isStr(node.name)) bad(where, '"name" must be a string');
    if (!isStr(node.op) || !OP_RE.test(node.op)) bad(where, `bad op ${JSON.stringify(node.op)}`);
    arr(node.inputs, `${where} inputs`);
    node.inputs.forEach((v) => name(v, `${where} inputs`));
    arr(node.outputs, `${where} outputs`, 1);
    if (node.outputs.length > 1) bad(`${where} outputs`, 'must have exactly one output');
    node.outputs.forEach((v) => name(v, `${where} outputs`));
    if (has(node, 'attrs') && !isObj(node.attrs)) bad(`${where} attrs`, 'must be an object');
    const row = rowOf(node.op, ver);
    if (!row) return; // unknown operators pass the schema (step 6)
    const [lo, hi] = Array.isArray(row.arity) ? row.arity : [row.arity, row.arity];
    if (node.inputs.length < lo || node.inputs.length > hi) bad(where, `${node.op} takes ${lo === hi ? lo : `${lo} to ${hi}`} input(s), got ${node.inputs.length}`);
    const attrs = node.attrs ?? {};
    for (const k of Object.keys(attrs)) {
      if (!has(row.attrs, k)) bad(where, `unknown attribute ${JSON.stringify(k)} of ${node.op}`);
      checkAttr(row.attrs[k].kind, attrs[k], (what) => bad(where, `attribute ${k}: ${what}`));
    }
    for (const [k, a] of Object.entries(row.attrs)) if (a.required && !has(attrs, k)) bad(where, `${node.op} needs attribute ${JSON.stringify(k)}`);
    row.check?.(withDefaults(row, attrs), (what) => bad(where, what));
  });
  // a dtype newer than the stamp: after the whole schema (SPEC 2)
  for (const t of [...g.inputs, ...g.outputs, ...g.initializers]) if (t.dtype === 'int32') tooNew(ver, `dtype int32 (tensor ${t.name})`, '1.1');
}

function checkAttr(kind, v, bad) {
  switch (kind) {
    case 'bool': if (typeof v !== 'boolean') bad('must be a boolean'); break;
    case 'f32':
      if (typeof v !== 'number') bad('must be a number');
      if (!Number.isFinite(Math.fround(v))) bad('must be finite as float32');
      break;
    case 'int': if (!isInt(v)) bad('must be an integer'); break;
    case 'axes': case 'ints':
      if (!Array.isArray(v) || v.length < 1 || v.length > 8) bad('must be 1 to 8 integers');
      if (!v.every(isInt)) bad('must hold integers');
      if (kind === 'axes' && new Set(v).size !== v.length) bad('repeated axis');
      break;
    case 'size': case 'size2': case 'pads4': { // window attributes: 1 or 2 ints in [1, 65535], 4 pads in [0, 65535]
      const n = kind === 'pads4' ? 4 : 2, lo = kind === 'pads4' ? 0 : 1;
      const ok = (d) => isInt(d) && d >= lo && d <= 65535;
      if (kind === 'size' ? !ok(v) : !(Array.isArray(v) && v.length === n && v.every(ok))) bad(`must be ${kind === 'size' ? 'an integer' : `${n} integers`} in [${lo}, 65535]`);
      break;
    }
    case 'dtype': if (!DTYPES.includes(v)) bad('must be "float32" or "int32"'); break;
    case 'perm':
      if (!Array.isArray(v) || v.length > 8 || !v.every((p) => isInt(p) && p >= 0)) bad('must be <= 8 integers >= 0');
      if (new Set(v).size !== v.length) bad('repeated entry');
      break;
    case 'rshape':
      if (!Array.isArray(v)) bad('must be an array');
      for (const d of v) if (!isDim(d) && d !== -1) bad(`bad entry ${JSON.stringify(d)}`);
      if (v.indexOf(-1) !== v.lastIndexOf(-1)) bad('-1 may appear at most once');
      break;
    default: bad('unknown');
  }
}

/** Product of the integer dims, or Infinity once above the element limit. */
function boundedCount(shape) {
  let c = 1;
  for (const d of shape) {
    if (typeof d !== 'number') continue;
    c *= d;
    if (c > L.MAX_ELEMENTS) return Infinity;
  }
  return c;
}

/** Step 5. */
function checkLimits(g, labels) {
  const lim = (msg) => fail('E_LIMIT', msg);
  for (const [k, max] of [['inputs', L.MAX_GRAPH_IO], ['outputs', L.MAX_GRAPH_IO], ['initializers', L.MAX_INITIALIZERS], ['nodes', L.MAX_NODES]]) {
    if (g[k].length > max) lim(`more than ${max} graph ${k}`);
  }
  const nameLen = (n) => {
    if (n.length > L.MAX_NAME_BYTES) lim(`name ${JSON.stringify(n.slice(0, 32))}... is longer than ${L.MAX_NAME_BYTES} bytes`);
  };
  const shape = (s, who) => {
    if (s.length > L.MAX_RANK) lim(`${who}: rank ${s.length} is more than ${L.MAX_RANK}`);
    if (boundedCount(s) === Infinity) lim(`${who}: a dimension or the element count of ${shapeStr(s)} is above 2^26`);
  };
  for (const v of g.inputs) { nameLen(v.name); shape(v.shape, `input ${v.name}`); }
  for (const v of g.outputs) { nameLen(v.name); shape(v.shape, `output ${v.name}`); }
  let total = 0;
  for (const t of g.initializers) {
    nameLen(t.name);
    shape(t.shape, `initializer ${t.name}`);
    total += boundedCount(t.shape);
    if (total > L.MAX_TOTAL_INIT_ELEMENTS) lim(`initializers hold more than 2^26 elements in total (at ${t.name})`);
  }
  g.nodes.forEach((node, i) => {
    node.inputs.forEach(nameLen);
    node.outputs.forEach(nameLen);
    if (node.op === 'Reshape' && node.attrs && Array.isArray(node.attrs.shape)) {
      shape(node.attrs.shape.filter((d) => d !== -1), labels[i]);
      if (node.attrs.shape.length > L.MAX_RANK) lim(`${labels[i]}: Reshape target rank is more than ${L.MAX_RANK}`);
    }
  });
}

/** Step 7: decode every initializer to a Float32Array or an Int32Array. */
function checkData(g) {
  return g.initializers.map((t) => {
    const count = boundedCount(t.shape);
    const who = `initializer ${t.name}`;
    const int = t.dtype === 'int32';
    let data;
    if (has(t, 'data')) {
      if (t.data.length !== count) fail('E_DATA', `${who}: ${t.data.length} values for ${count} elements`);
      const k = int ? t.data.findIndex((v) => !isInt32(v)) : -1;
      if (k >= 0) fail('E_DATA', `${who}: value #${k} (${t.data[k]}) is not an int32 integer`);
      data = (int ? Int32Array : Float32Array).from(t.data);
    } else {
      const bytes = decodeBase64(t.data_b64);
      if (bytes === null) fail('E_DATA', `${who}: malformed base64`);
      if (bytes.length !== 4 * count) fail('E_DATA', `${who}: base64 holds ${bytes.length} bytes for ${count} elements`);
      data = fromLE(bytes, int);
    }
    const k = data.findIndex((v) => !Number.isFinite(v));
    if (k >= 0) fail('E_DATA', `${who}: value #${k} is not finite as float32`);
    if (has(t, 'checksum')) {
      const got = `crc32:${crc32Hex(leBytes(data))}`;
      if (got !== t.checksum) fail('E_DATA', `${who}: checksum mismatch (file says ${t.checksum}, data gives ${got})`);
    }
    return { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data };
  });
}

/** An integer value in [-2^31, 2^31 - 1]. */
export const isInt32 = (v) => isInt(v) && v >= -2147483648 && v <= 2147483647;

/** The whole check of a parsed document. Returns the checked graph. */
export function checkModel(doc) {
  const ver = checkVersion(doc); // 3
  checkSchema(doc, ver); // 4
  const g = doc.graph;
  const labels = g.nodes.map(nodeLabel);
  checkLimits(g, labels); // 5
  g.nodes.forEach((node, i) => { // 6
    if (rowOf(node.op, ver)) return;
    if (has(OPS, node.op)) tooNew(ver, `op ${node.op} (${labels[i]})`, OPS[node.op].since);
    if (ver.newer) versionError(ver.text, `operator ${node.op} (${labels[i]})`);
    fail('E_UNKNOWN_OP', `${labels[i]}: unknown operator ${JSON.stringify(node.op)}`);
  });
  const inits = checkData(g); // 7

  // 8: names, single assignment, defined before use
  const defined = new Set();
  const define = (n, what) => {
    if (defined.has(n)) fail('E_GRAPH', `duplicate name ${JSON.stringify(n)} (${what})`);
    defined.add(n);
  };
  for (const v of g.inputs) define(v.name, 'graph input');
  for (const t of g.initializers) define(t.name, 'initializer');
  g.nodes.forEach((node, i) => {
    for (const n of node.inputs) {
      if (!defined.has(n)) fail('E_GRAPH', `${labels[i]}: input ${JSON.stringify(n)} is not defined before use`);
    }
    define(node.outputs[0], `output of ${labels[i]}`);
  });
  const seenOut = new Set();
  for (const v of g.outputs) {
    if (!defined.has(v.name)) fail('E_GRAPH', `graph output ${JSON.stringify(v.name)} is not defined`);
    if (seenOut.has(v.name)) fail('E_GRAPH', `graph output ${JSON.stringify(v.name)} is listed twice`);
    seenOut.add(v.name);
  }

  // 9: dtypes and shapes, symbols kept
  const shapes = new Map(), dtypes = new Map();
  for (const v of [...g.inputs, ...inits]) { shapes.set(v.name, v.shape.slice()); dtypes.set(v.name, v.dtype); }
  const nodes = g.nodes.map((node, i) => {
    const who = labels[i];
    const row = OPS[node.op];
    const [ins, out] = typesOf(row);
    let T;
    node.inputs.forEach((n, k) => {
      const dt = dtypes.get(n), c = ins[Math.min(k, ins.length - 1)];
      const want = c === 'f' ? 'float32' : c === 'i' ? 'int32' : (T ??= dt);
      if (dt !== want) fail('E_SHAPE', `${who}: operand ${k} of ${node.op} is ${dt}, expected ${want}`);
    });
    const plan = row.shape(node.inputs.map((n) => shapes.get(n)), withDefaults(row, node.attrs ?? {}), who);
    if (plan.shape.length > L.MAX_RANK) fail('E_LIMIT', `${who}: result rank ${plan.shape.length} is more than ${L.MAX_RANK}`);
    if (boundedCount(plan.shape) === Infinity) fail('E_LIMIT', `${who}: result ${shapeStr(plan.shape)} has more than 2^26 elements`);
    plan.dtype = out === 'f' ? 'float32' : out === 'i' ? 'int32' : out === 'T' ? T : plan.dtype;
    plan.T = T; // the dtype of the operands marked T (ArgMax's kernel reads it)
    shapes.set(node.outputs[0], plan.shape);
    dtypes.set(node.outputs[0], plan.dtype);
    return { op: node.op, inputs: node.inputs.slice(), output: node.outputs[0], plan };
  });
  for (const v of g.outputs) {
    // shapeStr is one-to-one (symbols quoted), so equal strings mean equal shapes
    const want = shapeStr(v.shape), gives = shapeStr(shapes.get(v.name));
    if (want !== gives) fail('E_SHAPE', `graph output ${v.name}: declared shape ${want} but the graph gives ${gives}`);
    if (v.dtype !== dtypes.get(v.name)) fail('E_SHAPE', `graph output ${v.name}: declared dtype ${v.dtype} but the graph gives ${dtypes.get(v.name)}`);
  }
  const info = (v) => ({ name: v.name, shape: v.shape.slice(), dtype: v.dtype });
  return { version: doc.format_version, inputs: g.inputs.map(info), outputs: g.outputs.map(info), initializers: inits, nodes, shapes, dtypes };
}
