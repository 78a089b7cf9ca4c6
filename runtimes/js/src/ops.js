// The op set of format 1.2 (SPEC.md section 6), one row per op, and the
// plain-JS backend. Shapes are arrays of integers and symbols.
import { fail } from './errors.js';
import * as S from './strict.js';
import { argext, binary, concat, conv2d, count, gather, map, matmul, pool2d, reduce, softmax, stridesOf, t2, take, transpose, where } from './kernels.js';

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

/** Rank >= 1 and `axis` normalised (E_SHAPE otherwise). */
function axisOf(x, ax, who) {
  if (x.length < 1) fail('E_SHAPE', `${who}: needs rank >= 1`);
  return normAxis(ax, x.length, who);
}

// an optional / a required attribute; default null: depends on the input shape
const opt = (kind, dflt) => ({ kind, required: false, default: dflt });
const req = (kind) => ({ kind, required: true });
const same = ([x]) => ({ shape: x.slice() });
const axisShape = ([x], a, who) => ({ shape: x.slice(), axis: axisOf(x, a.axis, who) });

// types: the operands' dtypes and the output's, 'f' float32, 'i' int32, 'T'
// the dtype of the first 'T' operand; the last operand letter repeats
// (Concat); no output letter: the plan's dtype (Cast). Rows without
// types take float32 only.
const I = Int32Array;

/** y = f(x) per element; fn: its wasm kernel (x, y, n), or null: f runs under wasm too. */
const elementwise = (f, fn, types, Out) => ({ arity: 1, attrs: {}, types, shape: same, js: ([x]) => map(x.data, f, Out), wasm: fn && { fn } });

/** Broadcasting f(a, b); code: the value of `symbol` in kernels.h; types and Out for comparisons and logic. */
const broadcasting = (f, code, symbol, types, Out) => ({
  arity: 2, attrs: {}, types, since: types && '1.1',
  shape: ([a, b], _, who) => ({ shape: broadcast(a, b, who) }),
  js: ([a, b], _, os) => binary(f, a.data, a.shape, b.data, b.shape, os, Out),
  wasm: code === null ? null : { fn: 'tsr_k_binary', code, symbol },
});
/** A comparison: both operands float32 or both int32, int32 0/1 out (a boolean stored in an Int32Array is 0/1). */
const comparison = (f) => broadcasting(f, null, null, 'TT:i', I);

/** ArgMax / ArgMin. */
const argRow = (max) => ({
  arity: 1, attrs: { axis: req('int'), keepdims: opt('bool', false) }, types: 'T:i', since: '1.1',
  shape([x], a, who) {
    const axis = axisOf(x, a.axis, who);
    return { shape: x.flatMap((d, i) => (i !== axis ? [d] : a.keepdims ? [1] : [])), axis, max };
  },
  js: ([x], p) => argext(max, x.data, x.shape, p.axis),
  wasm: { fn: 'tsr_k_argmax' },
});

const reduction = (kind, code, symbol, since) => ({
  arity: 1, attrs: { axes: opt('axes', null), keepdims: opt('bool', false) }, since,
  shape([x], a, who) { // plan.red[i]: axis i is reduced
    const axes = a.axes === null ? x.map((_, i) => i) : a.axes.map((ax) => normAxis(ax, x.length, who));
    if (new Set(axes).size !== axes.length) fail('E_SHAPE', `${who}: axes ${JSON.stringify(a.axes)} name the same axis twice`);
    const red = x.map((_, i) => axes.includes(i));
    return { shape: x.flatMap((d, i) => (!red[i] ? [d] : a.keepdims ? [1] : [])), red };
  },
  js: ([x], p) => reduce(kind, x.data, x.shape, p.red),
  wasm: { fn: 'tsr_k_reduce', code, symbol },
});

/** E_SHAPE unless `s` has rank 4 and integer dims from `from` on (N may be a symbol). */
function rank4(s, from, what, who) {
  if (s.length !== 4) fail('E_SHAPE', `${who}: ${what} must have rank 4, got ${shapeStr(s)}`);
  if (s.some((d, i) => i >= from && typeof d !== 'number')) fail('E_SHAPE', `${who}: ${what} ${shapeStr(s)} must have integer dims after N`);
  return s;
}

/** Hout and Wout of an NCHW window op (SPEC 6) over X (N, C, H, W). */
function outHW([, , H, W], [kH, kW], [pt, pl, pb, pr], [sh, sw], [dh, dw], who) {
  const extent = (d, p, q, k, dil, s) => {
    const e = dil * (k - 1) + 1;
    if (d + p + q < e) fail('E_SHAPE', `${who}: the padded input extent ${d + p + q} is below the kernel extent ${e}`);
    return Math.floor((d + p + q - e) / s) + 1;
  };
  return [extent(H, pt, pb, kH, dh, sh), extent(W, pl, pr, kW, dw, sw)];
}
/** The C kernels' int32 geometry of a window op: plan.g after N, which X's shape xs binds at run time. */
export const geom = (p, xs) => [xs[0], ...p.g];

const STRIDES = opt('size2', [1, 1]), PADS = opt('pads4', [0, 0, 0, 0]);
/** MaxPool2D (max) / AveragePool2D; a pad not below its kernel size is E_SCHEMA. */
const poolRow = (max, fn, attrs) => ({
  arity: 1, attrs: { kernel_shape: req('size2'), strides: STRIDES, pads: PADS, ...attrs }, since: '1.2',
  check: (a, bad) => a.pads.some((p, i) => p >= a.kernel_shape[i % 2]) && bad(`pads ${JSON.stringify(a.pads)} must be below kernel_shape ${JSON.stringify(a.kernel_shape)}`),
  shape([x], a, who) {
    const [N, C, H, W] = rank4(x, 1, 'X', who), k = a.kernel_shape;
    const [Ho, Wo] = outHW(x, k, a.pads, a.strides, [1, 1], who);
    return { shape: [N, C, Ho, Wo], g: [C, H, W, ...k, ...a.strides, ...a.pads, Ho, Wo], cip: a.count_include_pad ? 1 : 0 };
  },
  js: ([x], p) => pool2d(max, x.data, geom(p, x.shape), p.cip),
  wasm: { fn },
});

/**
 * op -> row, in the order of the SPEC section 6 table. arity (or [min, max]);
 * attrs {name: {kind, required, default}}; check(attrs, bad): more E_SCHEMA
 * rules; types (above); since: the format version that added it ('1.0' when
 * absent); shape(input shapes, attrs with defaults, who) -> plan {shape, ...};
 * js([{data, shape, constant}], plan, outShape) -> Float32Array or Int32Array;
 * wasm: {fn, code?, symbol?} (called as wasm.js CALL says) or null (js on wasm
 * memory).
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
    shape: axisShape,
    js: ([x], p) => softmax(x.data, x.shape, p.axis),
    wasm: { fn: 'tsr_k_softmax' },
  },
  ReduceSum: reduction('sum', 0, 'TSR_K_RSUM'),
  ReduceMean: reduction('mean', 1, 'TSR_K_RMEAN'),
  ReduceMax: reduction('max', 2, 'TSR_K_RMAX'),
  Transpose: {
    arity: 1, attrs: { perm: opt('perm', null) }, types: 'T:T', // perm null: reversed
    shape([x], a, who) { // the schema made perm distinct integers >= 0
      const r = x.length;
      const perm = a.perm ?? x.map((_, i) => r - 1 - i);
      if (perm.length !== r || perm.some((p) => p >= r)) fail('E_SHAPE', `${who}: perm ${JSON.stringify(perm)} is not a permutation of 0..${r - 1}`);
      return { shape: perm.map((p) => x[p]), perm };
    },
    js: ([x], p) => transpose(x.data, x.shape, p.perm),
    wasm: { fn: 'tsr_k_transpose32' }, // 4-byte words: either dtype, bits kept
  },
  Reshape: {
    arity: 1, attrs: { shape: req('rshape') }, types: 'T:T',
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
    wasm: { fn: 'tsr_k_copy32' },
  },
  // format 1.1
  Greater: comparison((a, b) => a > b),
  GreaterOrEqual: comparison((a, b) => a >= b),
  Less: comparison((a, b) => a < b),
  LessOrEqual: comparison((a, b) => a <= b),
  Equal: comparison((a, b) => a === b),
  NotEqual: comparison((a, b) => a !== b),
  And: broadcasting((a, b) => a !== 0 && b !== 0, null, null, 'ii:i', I),
  Or: broadcasting((a, b) => a !== 0 || b !== 0, null, null, 'ii:i', I),
  Not: { ...elementwise((v) => v === 0, null, 'i:i', I), since: '1.1' },
  Where: {
    arity: 3, attrs: {}, types: 'iTT:T', since: '1.1',
    shape: ([c, a, b], _, who) => ({ shape: broadcast(broadcast(c, a, who), b, who) }),
    js: ([c, a, b], _, os) => where(c, a, b, os),
    wasm: null,
  },
  Cast: {
    arity: 1, attrs: { to: req('dtype') }, types: 'T:', since: '1.1',
    shape: ([x], a) => ({ shape: x.slice(), dtype: a.to }),
    // a store into an Int32Array truncates toward zero and makes NaN 0; the
    // bounds saturate first. A store into a Float32Array rounds to nearest even.
    js: ([x], p) => (x.data instanceof I) === (p.dtype === 'int32') ? x.data.slice()
      : p.dtype === 'int32' ? map(x.data, (v) => (v >= 2147483648 ? 2147483647 : v < -2147483648 ? -2147483648 : v), I)
        : Float32Array.from(x.data),
    wasm: null,
  },
  Gather: {
    arity: 2, attrs: { axis: opt('int', 0) }, types: 'Ti:T', since: '1.1',
    shape([x, idx], a, who) {
      const axis = axisOf(x, a.axis, who);
      return { shape: [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)], axis, who };
    },
    js: ([x, idx], p) => take(x.data, x.shape, idx.data, p.axis, p.who),
    wasm: { fn: 'tsr_k_gather' },
  },
  Concat: {
    arity: [1, 64], attrs: { axis: req('int') }, types: 'T:T', since: '1.1',
    shape(xs, a, who) {
      const r = xs[0].length;
      const axis = axisOf(xs[0], a.axis, who);
      let sum = 0;
      xs.forEach((x, k) => {
        if (x.length !== r) fail('E_SHAPE', `${who}: input ${k} has rank ${x.length}, input 0 rank ${r}`);
        x.forEach((d, i) => {
          if (i !== axis && d !== xs[0][i]) fail('E_SHAPE', `${who}: input ${k} shape ${shapeStr(x)} differs from ${shapeStr(xs[0])} off axis ${axis}`);
        });
        if (typeof x[axis] !== 'number') fail('E_SHAPE', `${who}: input ${k} has the symbol ${JSON.stringify(x[axis])} on the concatenated axis`);
        sum += x[axis];
      });
      const shape = xs[0].slice();
      shape[axis] = sum;
      return { shape, axis };
    },
    js: (xs, p, os) => concat(xs, p.axis, os),
    wasm: null,
  },
  Slice: {
    arity: 1, attrs: { axes: opt('axes', null), ends: req('ints'), starts: req('ints'), steps: opt('ints', null) },
    types: 'T:T', since: '1.1',
    check(a, bad) {
      const k = a.starts.length;
      if (a.ends.length !== k || (a.axes ?? a.starts).length !== k || (a.steps ?? a.starts).length !== k) bad('starts, ends, axes and steps must have the same length');
      if (a.steps?.includes(0)) bad('a step is 0');
    },
    shape([x], a, who) {
      const r = x.length;
      const start = new Array(r).fill(0), step = new Array(r).fill(1), shape = x.slice(), seen = [];
      a.starts.forEach((s0, j) => {
        const ax = normAxis(a.axes ? a.axes[j] : j, r, who);
        if (seen[ax]) fail('E_SHAPE', `${who}: axes ${JSON.stringify(a.axes)} name axis ${ax} twice`);
        seen[ax] = 1;
        const d = x[ax];
        if (typeof d !== 'number') fail('E_SHAPE', `${who}: sliced axis ${ax} has the symbol ${JSON.stringify(d)}`);
        // Python's slice(start, end, step).indices(d)
        const st = a.steps ? a.steps[j] : 1, lo = st < 0 ? -1 : 0, hi = st < 0 ? d - 1 : d;
        const clamp = (v) => (v < 0 ? Math.max(v + d, lo) : Math.min(v, hi));
        const b = clamp(s0), e = clamp(a.ends[j]);
        const len = st > 0 ? Math.ceil((e - b) / st) : Math.ceil((b - e) / -st);
        if (!(len > 0)) fail('E_SHAPE', `${who}: the slice of axis ${ax} is empty`);
        start[ax] = b; step[ax] = st; shape[ax] = len;
      });
      return { shape, start, step };
    },
    js([x], p, os) {
      const st = stridesOf(x.shape);
      // a step only matters where more than one element is taken (then |step| < d, so no huge offsets)
      return gather(x.data, os, st.map((s, i) => (os[i] > 1 ? s * p.step[i] : 0)), p.start.reduce((o, b, i) => o + b * st[i], 0));
    },
    wasm: null,
  },
  ArgMax: argRow(true),
  ArgMin: argRow(false),
  ReduceMin: reduction('min', 3, 'TSR_K_RMIN', '1.1'),
  ReduceProd: reduction('prod', 4, 'TSR_K_RPROD', '1.1'),
  LogSoftmax: {
    arity: 1, attrs: { axis: opt('int', -1) }, since: '1.1',
    shape: axisShape,
    js: ([x], p) => softmax(x.data, x.shape, p.axis, true),
    wasm: { fn: 'tsr_k_log_softmax' },
  },
  Pow: { ...broadcasting(S.pow, null), since: '1.1' }, // no wasm kernel: the plain one under both backends
  // format 1.2
  Conv2D: {
    arity: [2, 3], attrs: { strides: STRIDES, pads: PADS, dilations: opt('size2', [1, 1]), group: opt('size', 1) }, since: '1.2',
    shape([x, w, b], a, who) {
      const [N, C, H, W] = rank4(x, 1, 'X', who), [M, Cg, kH, kW] = rank4(w, 0, 'W', who), G = a.group;
      if (C % G || M % G || Cg !== C / G) fail('E_SHAPE', `${who}: W ${shapeStr(w)} must be (M, C / group, kH, kW) with group ${G} dividing C = ${C} and M`);
      if (b && shapeStr(b) !== `[${M}]`) fail('E_SHAPE', `${who}: bias ${shapeStr(b)} must be [${M}]`);
      const [Ho, Wo] = outHW(x, [kH, kW], a.pads, a.strides, a.dilations, who);
      return { shape: [N, M, Ho, Wo], g: [C, H, W, M, kH, kW, ...a.strides, ...a.dilations, ...a.pads, G, Ho, Wo] };
    },
    js: ([x, w, b], p) => conv2d(x.data, w.data, b?.data, geom(p, x.shape)),
    wasm: { fn: 'tsr_k_conv2d' },
  },
  MaxPool2D: poolRow(true, 'tsr_k_maxpool2d'),
  AveragePool2D: poolRow(false, 'tsr_k_avgpool2d', { count_include_pad: opt('bool', false) }),
};
for (const row of Object.values(OPS)) Object.freeze(row);
Object.freeze(OPS);

/** The dtypes of a node's operands and output: row.types split ('f:f' when absent). */
export const typesOf = (row) => (row.types ?? 'f:f').split(':');

/** Exports wasm.js uses besides the rows' wasm.fn (the Makefile's list: tools/wasm-exports.js). */
export const WASM_HELPERS = ['__heap_base', 'tsr_k_binary_flat', 'tsr_k_conv2d_ws', 'tsr_k_conv2d_ws_floats'];

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
