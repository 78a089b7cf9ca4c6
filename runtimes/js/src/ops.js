// The op set of format 1.0 (SPEC.md section 6) and shape inference at check
// time. Shapes are arrays of integers and symbols (strings).
import { fail } from './errors.js';

// In the order of the C kernels' op codes (wasm.js passes the index).
export const BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Maximum', 'Minimum'];
export const REDUCE = ['ReduceSum', 'ReduceMean', 'ReduceMax'];
// Each has a kernel tsr_k_<lower-case name>; Clip (bounds) is separate.
export const UNARY = ['Neg', 'Abs', 'Sqrt', 'Relu', 'Exp', 'Log', 'Sigmoid', 'Tanh', 'Softplus'];

/** op -> {n: input count, attrs: {name: kind}, required: [attr]} */
export const OPS = {
  MatMul: { n: 2, attrs: { transpose_a: 'bool', transpose_b: 'bool' } },
  Clip: { n: 1, attrs: { min: 'number', max: 'number' } },
  Softmax: { n: 1, attrs: { axis: 'int' } },
  Transpose: { n: 1, attrs: { perm: 'perm' } },
  Reshape: { n: 1, attrs: { shape: 'rshape' }, required: ['shape'] },
};
for (const op of BINARY) OPS[op] = { n: 2, attrs: {} };
for (const op of UNARY) OPS[op] = { n: 1, attrs: {} };
for (const op of REDUCE) OPS[op] = { n: 1, attrs: { axes: 'axes', keepdims: 'bool' } };

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

/**
 * The output shape of one node plus its normalised attributes (the node's
 * `plan`: ta/tb, axis, red, perm, Clip bounds). `shapes`: the input shapes.
 */
export function inferShape(node, shapes, who) {
  const { op, attrs } = node;
  if (BINARY.includes(op)) return { shape: broadcast(shapes[0], shapes[1], who) };
  const x = shapes[0];
  const r = x.length;
  if (UNARY.includes(op)) return { shape: x.slice() };
  switch (op) {
    case 'Clip':
      return { shape: x.slice(), lo: attrs.min === undefined ? -Infinity : Math.fround(attrs.min),
        hi: attrs.max === undefined ? Infinity : Math.fround(attrs.max) };
    case 'MatMul': {
      const [a, b] = shapes;
      if (a.length !== 2 || b.length !== 2) fail('E_SHAPE', `${who}: MatMul needs rank-2 operands, got ${shapeStr(a)} and ${shapeStr(b)}`);
      const ta = attrs.transpose_a === true, tb = attrs.transpose_b === true;
      const [M, Ka] = ta ? [a[1], a[0]] : a;
      const [Kb, N] = tb ? [b[1], b[0]] : b;
      if (Ka !== Kb) fail('E_SHAPE', `${who}: MatMul inner dimensions differ (${JSON.stringify(Ka)} vs ${JSON.stringify(Kb)})`);
      return { shape: [M, N], ta, tb };
    }
    case 'Softmax':
      if (r < 1) fail('E_SHAPE', `${who}: Softmax needs rank >= 1`);
      return { shape: x.slice(), axis: normAxis(attrs.axis ?? -1, r, who) };
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax': {
      const axes = attrs.axes === undefined ? x.map((_, i) => i) : attrs.axes.map((a) => normAxis(a, r, who));
      if (new Set(axes).size !== axes.length) fail('E_SHAPE', `${who}: axes ${JSON.stringify(attrs.axes)} name the same axis twice`);
      const red = x.map((_, i) => axes.includes(i));
      const shape = [];
      x.forEach((d, i) => {
        if (!red[i]) shape.push(d);
        else if (attrs.keepdims === true) shape.push(1);
      });
      return { shape, red };
    }
    case 'Transpose': {
      // the schema made perm distinct integers >= 0
      const perm = attrs.perm ?? x.map((_, i) => r - 1 - i);
      if (perm.length !== r || perm.some((p) => p >= r)) fail('E_SHAPE', `${who}: perm ${JSON.stringify(perm)} is not a permutation of 0..${r - 1}`);
      return { shape: perm.map((p) => x[p]), perm };
    }
    case 'Reshape': {
      const target = attrs.shape;
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
    }
    default:
      return fail('E_UNKNOWN_OP', `${who}: unknown operator ${op}`);
  }
}
