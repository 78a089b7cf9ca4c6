// The op set of format 1.0 (SPEC.md section 6): input counts, attribute
// types, and shape inference. Shapes are arrays of integers and symbols
// (strings); the same inference runs at check time (symbols kept) and at
// run time (all integers).
import { fail } from './errors.js';

const none = {};
const binary = { n: 2, attrs: none };
const unary = { n: 1, attrs: none };
const reduce = { n: 1, attrs: { axes: 'axes', keepdims: 'bool' } };

export const OPS = {
  MatMul: { n: 2, attrs: { transpose_a: 'bool', transpose_b: 'bool' } },
  Add: binary, Sub: binary, Mul: binary, Div: binary, Maximum: binary, Minimum: binary,
  Neg: unary, Abs: unary, Sqrt: unary, Relu: unary,
  Exp: unary, Log: unary, Sigmoid: unary, Tanh: unary, Softplus: unary,
  Clip: { n: 1, attrs: { min: 'number', max: 'number' } },
  Softmax: { n: 1, attrs: { axis: 'int' } },
  ReduceSum: reduce, ReduceMean: reduce, ReduceMax: reduce,
  Transpose: { n: 1, attrs: { perm: 'perm' } },
  Reshape: { n: 1, attrs: { shape: 'rshape' }, required: ['shape'] },
};

export const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Maximum', 'Minimum']);
export const UNARY = new Set(['Neg', 'Abs', 'Sqrt', 'Relu', 'Exp', 'Log', 'Sigmoid', 'Tanh', 'Softplus', 'Clip']);

const shapeStr = (s) => `[${s.map((d) => (typeof d === 'string' ? JSON.stringify(d) : d)).join(', ')}]`;

function broadcast(a, b, who) {
  const r = Math.max(a.length, b.length);
  const out = new Array(r);
  for (let i = 1; i <= r; i++) {
    const da = i <= a.length ? a[a.length - i] : 1;
    const db = i <= b.length ? b[b.length - i] : 1;
    if (da === db) out[r - i] = da;
    else if (da === 1) out[r - i] = db;
    else if (db === 1) out[r - i] = da;
    else fail('E_SHAPE', `${who}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
  }
  return out;
}

function normAxis(ax, r, who) {
  if (ax < -r || ax > r - 1) fail('E_SHAPE', `${who}: axis ${ax} out of range for rank ${r}`);
  return ax < 0 ? ax + r : ax;
}

/**
 * Infer the output shape of one node and normalise its attributes into
 * `node.plan` (axes, perm, reshape target...). `shapes` are the input shapes.
 */
export function inferShape(node, shapes, who) {
  const op = node.op;
  const attrs = node.attrs;
  if (BINARY.has(op)) return { shape: broadcast(shapes[0], shapes[1], who) };
  if (UNARY.has(op)) return { shape: shapes[0].slice() };
  const x = shapes[0];
  const r = x.length;
  switch (op) {
    case 'MatMul': {
      const [a, b] = shapes;
      if (a.length !== 2 || b.length !== 2) fail('E_SHAPE', `${who}: MatMul needs rank-2 operands, got ${shapeStr(a)} and ${shapeStr(b)}`);
      const ta = attrs.transpose_a === true, tb = attrs.transpose_b === true;
      const [M, Ka] = ta ? [a[1], a[0]] : a;
      const [Kb, N] = tb ? [b[1], b[0]] : b;
      if (Ka !== Kb) fail('E_SHAPE', `${who}: MatMul inner dimensions differ (${JSON.stringify(Ka)} vs ${JSON.stringify(Kb)})`);
      return { shape: [M, N], ta, tb };
    }
    case 'Softmax': {
      if (r < 1) fail('E_SHAPE', `${who}: Softmax needs rank >= 1`);
      const axis = normAxis(attrs.axis === undefined ? -1 : attrs.axis, r, who);
      return { shape: x.slice(), axis };
    }
    case 'ReduceSum': case 'ReduceMean': case 'ReduceMax': {
      let axes;
      if (attrs.axes === undefined) axes = x.map((_, i) => i);
      else {
        axes = attrs.axes.map((a) => normAxis(a, r, who));
        if (new Set(axes).size !== axes.length) fail('E_SHAPE', `${who}: axes ${JSON.stringify(attrs.axes)} name the same axis twice`);
      }
      const red = new Array(r).fill(false);
      for (const a of axes) red[a] = true;
      const keep = attrs.keepdims === true;
      const shape = [];
      for (let i = 0; i < r; i++) {
        if (!red[i]) shape.push(x[i]);
        else if (keep) shape.push(1);
      }
      return { shape, red };
    }
    case 'Transpose': {
      let perm;
      if (attrs.perm === undefined) perm = x.map((_, i) => r - 1 - i);
      else {
        perm = attrs.perm;
        const seen = new Array(r).fill(false);
        if (perm.length !== r) fail('E_SHAPE', `${who}: perm ${JSON.stringify(perm)} is not a permutation of 0..${r - 1}`);
        for (const p of perm) {
          if (p >= r || seen[p]) fail('E_SHAPE', `${who}: perm ${JSON.stringify(perm)} is not a permutation of 0..${r - 1}`);
          seen[p] = true;
        }
      }
      return { shape: perm.map((p) => x[p]), perm };
    }
    case 'Reshape': {
      const target = attrs.shape;
      const count = new Map();
      let P = 1;
      for (const d of x) {
        if (typeof d === 'string') count.set(d, (count.get(d) || 0) + 1);
        else P *= d;
      }
      let Q = 1;
      let minus = -1;
      for (let i = 0; i < target.length; i++) {
        const d = target[i];
        if (typeof d === 'string') {
          const c = count.get(d);
          if (!c) fail('E_SHAPE', `${who}: symbols of ${shapeStr(target)} do not match input ${shapeStr(x)}`);
          count.set(d, c - 1);
        } else if (d === -1) minus = i;
        else Q *= d;
      }
      for (const [s, c] of count) {
        if (c !== 0) fail('E_SHAPE', `${who}: symbols of ${shapeStr(target)} do not match input ${shapeStr(x)}`);
      }
      const shape = target.slice();
      if (minus >= 0) {
        if (P % Q !== 0) fail('E_SHAPE', `${who}: cannot reshape ${shapeStr(x)} to ${shapeStr(target)}`);
        shape[minus] = P / Q;
      } else if (P !== Q) fail('E_SHAPE', `${who}: cannot reshape ${shapeStr(x)} to ${shapeStr(target)}`);
      return { shape };
    }
    default:
      return fail('E_UNKNOWN_OP', `${who}: unknown operator ${op}`);
  }
}

export { shapeStr };
