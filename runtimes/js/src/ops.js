// The op set of format 1.0 (SPEC.md section 6), one row per op, and the
// plain-JS backend. Shapes are arrays of integers and symbols.
import { fail } from './errors.js';
import * as S from './strict.js';
import { binary, map, matmul, reduce, softmax, t2, transpose } from './kernels.js';

const fr = Math.fround;

export const shapeStr = (s) => `[${s.map((d) => (typeof d === 'string' ? JSON.stringify(d) : d)).join(', ')}]`;

function broadcast(a, b, who) {
  const r = Math.max(a.length, b.length);
  const out = new Array(r);
  for (let i = 1; i <= r; i++) {
    const da = i <= a.length ? a[a.length - i] : 1;
    const db = i <= b.length ? b[b.length - i] : 1;
    if (da === db || db === 1) out[r - i] = da;
    else if (da === 1) out[r - i] = db;
    else fail('E_SHAPE', `${who}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
  }
  return out;
}

function normAxis(ax, r, who) {
  if (ax < -r || ax > r - 1) fail('E_SHAPE', `${who}: axis ${ax} out of range for rank ${r}`);
  return ax < 0 ? ax + r : ax;
}

// an optional attribute; default null: depends on the input shape
const opt = (kind, dflt) => ({ kind, required: false, default: dflt });
const same = ([x]) => ({ shape: x.slice() });

/** y = f(x) per element; fn: its wasm kernel (x, y, n), or null: f runs under wasm too. */
const elementwise = (f, fn) => ({ arity: 1, attrs: {}, shape: same, js: ([x]) => map(x.data, f), wasm: fn && { fn } });

/** Broadcasting f(a, b); code: the value of `symbol` in kernels.h. */
const broadcasting = (f, code, symbol) => ({
  arity: 2, attrs: {},
  shape: ([a, b], _, who) => ({ shape: broadcast(a, b, who) }),
  js: ([a, b], _, os) => binary(f, a.data, a.shape, b.data, b.shape, os),
  wasm: { fn: 'tsr_k_binary', code, symbol },
});

const reduction = (kind, code, symbol) => ({
  arity: 1, attrs: { axes: opt('axes', null), keepdims: opt('bool', false) },
  shape([x], a, who) { // plan.red[i]: axis i is reduced
    const axes = a.axes === null ? x.map((_, i) => i) : a.axes.map((ax) => normAxis(ax, x.length, who));
    if (new Set(axes).size !== axes.length) fail('E_SHAPE', `${who}: axes ${JSON.stringify(a.axes)} name the same axis twice`);
    const red = x.map((_, i) => axes.includes(i));
    return { shape: x.flatMap((d, i) => (!red[i] ? [d] : a.keepdims ? [1] : [])), red };
  },
  js: ([x], p) => reduce(kind, x.data, x.shape, p.red),
  wasm: { fn: 'tsr_k_reduce', code, symbol },
});

/**
 * op -> row, in the order of the SPEC section 6 table. arity; attrs {name:
 * {kind, required, default}}; check(attrs, bad): more E_SCHEMA rules;
 * shape(input shapes, attrs with defaults, who) -> plan {shape, ...};
 * js([{data, shape, constant}], plan, outShape) -> Float32Array; wasm: {fn,
 * code?, symbol?} (called as wasm.js CALL says) or null (js on wasm memory).
 */
export const OPS = {
  MatMul: {
    arity: 2, attrs: { transpose_a: opt('bool', false), transpose_b: opt('bool', false) },
    shape([a, b], at, who) {
      if (a.length !== 2 || b.length !== 2) fail('E_SHAPE', `${who}: MatMul needs rank-2 operands, got ${shapeStr(a)} and ${shapeStr(b)}`);
      const ta = at.transpose_a, tb = at.transpose_b;
      const [M, Ka] = ta ? [a[1], a[0]] : a;
      const [Kb, N] = tb ? [b[1], b[0]] : b;
      if (Ka !== Kb) fail('E_SHAPE', `${who}: MatMul inner dimensions differ (${JSON.stringify(Ka)} vs ${JSON.stringify(Kb)})`);
      return { shape: [M, N], ta, tb };
    },
    js: ([a, b], p, os) => matmul(p.ta ? t2(a) : a.data, p.tb ? t2(b) : b.data, os[0], a.shape[p.ta ? 0 : 1], os[1]),
    wasm: { fn: 'tsr_k_matmul' },
  },
  Add: broadcasting((a, b) => a + b, 0, 'TSR_K_ADD'),
  Sub: broadcasting((a, b) => a - b, 1, 'TSR_K_SUB'),
  Mul: broadcasting((a, b) => a * b, 2, 'TSR_K_MUL'),
  Div: broadcasting((a, b) => a / b, 3, 'TSR_K_DIV'),
  Maximum: broadcasting(Math.max, 4, 'TSR_K_MAX'),
  Minimum: broadcasting(Math.min, 5, 'TSR_K_MIN'),
  Neg: elementwise((v) => -v, 'tsr_k_neg'),
  Abs: elementwise(Math.abs, 'tsr_k_abs'),
  Sqrt: elementwise(Math.sqrt, 'tsr_k_sqrt'),
  Relu: elementwise((v) => Math.max(v, 0), 'tsr_k_relu'),
  Clip: {
    arity: 1, attrs: { min: opt('f32', -Infinity), max: opt('f32', Infinity) },
    check: (a, bad) => fr(a.min) > fr(a.max) && bad('Clip min > max'),
    shape: ([x], a) => ({ shape: x.slice(), lo: fr(a.min), hi: fr(a.max) }),
    js: ([x], p) => map(x.data, (v) => Math.min(Math.max(v, p.lo), p.hi)),
    wasm: { fn: 'tsr_k_clip' },
  },
  Exp: elementwise(S.exp, 'tsr_k_exp'),
  Log: elementwise(S.log, 'tsr_k_log'),
  Sigmoid: elementwise(S.sigmoid, 'tsr_k_sigmoid'),
  Tanh: elementwise(S.tanh, 'tsr_k_tanh'),
  Softplus: elementwise(S.softplus, 'tsr_k_softplus'),
  Softmax: {
    arity: 1, attrs: { axis: opt('int', -1) },
    shape([x], a, who) {
      if (x.length < 1) fail('E_SHAPE', `${who}: Softmax needs rank >= 1`);
      return { shape: x.slice(), axis: normAxis(a.axis, x.length, who) };
    },
    js: ([x], p) => softmax(x.data, x.shape, p.axis),
    wasm: { fn: 'tsr_k_softmax' },
  },
  ReduceSum: reduction('sum', 0, 'TSR_K_RSUM'),
  ReduceMean: reduction('mean', 1, 'TSR_K_RMEAN'),
  ReduceMax: reduction('max', 2, 'TSR_K_RMAX'),
  Transpose: {
    arity: 1, attrs: { perm: opt('perm', null) }, // null: reversed
    shape([x], a, who) { // the schema made perm distinct integers >= 0
      const r = x.length;
      const perm = a.perm ?? x.map((_, i) => r - 1 - i);
      if (perm.length !== r || perm.some((p) => p >= r)) fail('E_SHAPE', `${who}: perm ${JSON.stringify(perm)} is not a permutation of 0..${r - 1}`);
      return { shape: perm.map((p) => x[p]), perm };
    },
    js: ([x], p) => transpose(x.data, x.shape, p.perm),
    wasm: { fn: 'tsr_k_transpose' },
  },
  Reshape: {
    arity: 1, attrs: { shape: { kind: 'rshape', required: true } },
    shape([x], { shape: target }, who) {
      // symbols (no commas in them) must match as a multiset
      const symbols = (s) => s.filter((d) => typeof d === 'string').sort().join();
      if (symbols(x) !== symbols(target)) fail('E_SHAPE', `${who}: symbols of ${shapeStr(target)} do not match input ${shapeStr(x)}`);
      const product = (s) => s.reduce((p, d) => (typeof d === 'number' && d !== -1 ? p * d : p), 1);
      const P = product(x), Q = product(target);
      const minus = target.indexOf(-1);
      if (minus >= 0 ? P % Q !== 0 : P !== Q) fail('E_SHAPE', `${who}: cannot reshape ${shapeStr(x)} to ${shapeStr(target)}`);
      const shape = target.slice();
      if (minus >= 0) shape[minus] = P / Q;
      return { shape };
    },
    js: ([x]) => x.data.slice(),
    wasm: { fn: 'tsr_k_copy' },
  },
};
for (const row of Object.values(OPS)) Object.freeze(row);
Object.freeze(OPS);

/** Exports wasm.js uses besides the rows' wasm.fn (the Makefile's list: tools/wasm-exports.js). */
export const WASM_HELPERS = ['__heap_base', 'tsr_k_binary_flat'];

/** A node's attributes with the row's defaults filled in (kinds already checked). */
export function withDefaults(row, attrs) {
  const a = {};
  for (const [k, d] of Object.entries(row.attrs)) a[k] = Object.hasOwn(attrs, k) ? attrs[k] : d.default;
  return a;
}

/** The plain-JS backend: each node through its row's kernel. */
export const jsBackend = {
  name: 'js',
  execute(model, values, shapes) {
    const out = new Map(values);
    const input = (n) => ({ data: out.get(n)?.data ?? model._consts.get(n), shape: shapes.get(n), constant: model._consts.has(n) });
    for (const { op, inputs, output, plan } of model._nodes) {
      const os = shapes.get(output);
      out.set(output, { shape: os, data: OPS[op].js(inputs.map(input), plan, os) });
    }
    return out;
  },
};
