// A checked model: binds inputs (SPEC.md section 5 #10-11) and runs the
// graph with a kernel backend (pure JS, or wasm SIMD for the heavy ops).
import { fail } from './errors.js';
import { MAX_ELEMENTS } from './limits.js';
import * as K from './kernels.js';
import { shapeStr } from './ops.js';

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

export const jsBackend = {
  name: 'js',
  matmul: K.matmul,
  unary: K.unary,
  binary: K.binary,
  softmax: K.softmax,
  reduce: K.reduce,
};

export class Model {
  constructor(checked, backend) {
    this.version = checked.version;
    this.inputs = checked.inputs;
    this.outputs = checked.outputs;
    this.kernels = backend.name;
    this._backend = backend;
    this._nodes = checked.nodes;
    this._shapes = checked.shapes; // symbolic shapes of every value
    this._consts = new Map();
    for (const t of checked.initializers) this._consts.set(t.name, t.data);
    // Pre-transpose constant MatMul operands once (it is only data movement).
    this._pre = new Map();
    for (const node of this._nodes) {
      if (node.op !== 'MatMul') continue;
      const [a, b] = node.inputs;
      if (node.plan.ta && this._consts.has(a)) this._pre.set(`${node.output} A`, transposed(this._consts.get(a), this._shapes.get(a)));
      if (node.plan.tb && this._consts.has(b)) this._pre.set(`${node.output} B`, transposed(this._consts.get(b), this._shapes.get(b)));
    }
    if (backend.prepare) backend.prepare(this);
  }

  /** Bind the symbolic dims from the feeds; returns {values, binding}. */
  _bind(feeds) {
    if (feeds === null || typeof feeds !== 'object') fail('E_INPUT', 'inputs must be an object of tensors');
    const declared = new Set(this.inputs.map((v) => v.name));
    for (const k of Object.keys(feeds)) if (!declared.has(k)) fail('E_INPUT', `unknown input ${JSON.stringify(k)}`);
    const binding = new Map();
    const values = new Map();
    for (const decl of this.inputs) {
      if (!has(feeds, decl.name)) fail('E_INPUT', `missing input ${JSON.stringify(decl.name)}`);
      const t = normaliseFeed(feeds[decl.name], decl);
      const who = `input ${decl.name}`;
      if (t.shape.length !== decl.shape.length) fail('E_INPUT', `${who}: rank ${t.shape.length}, the model declares ${shapeStr(decl.shape)}`);
      decl.shape.forEach((d, i) => {
        const got = t.shape[i];
        if (!(Number.isInteger(got) && got >= 1)) fail('E_INPUT', `${who}: bad dimension ${got}`);
        if (typeof d === 'number') {
          if (got !== d) fail('E_INPUT', `${who}: dimension ${i} is ${got}, the model declares ${d}`);
        } else if (binding.has(d)) {
          if (binding.get(d) !== got) fail('E_INPUT', `${who}: symbol ${d} bound to ${binding.get(d)} and ${got}`);
        } else binding.set(d, got);
      });
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== n) {
        fail('E_INPUT', `${who}: ${t.data.length} values for shape ${shapeStr(t.shape)}`);
      }
      values.set(decl.name, { shape: t.shape, data: t.data });
    }
    return { values, binding };
  }

  /** Concrete shapes of every value for this binding (E_LIMIT when too big). */
  _concrete(binding) {
    const out = new Map();
    for (const [name, s] of this._shapes) {
      const c = s.map((d) => (typeof d === 'string' ? binding.get(d) : d));
      let n = 1;
      for (const d of c) n *= d;
      if (n > MAX_ELEMENTS) fail('E_LIMIT', `tensor ${name}: shape ${shapeStr(c)} has more than 2^26 elements`);
      out.set(name, c);
    }
    return out;
  }

  run(feeds) {
    const { values, binding } = this._bind(feeds);
    const shapes = this._concrete(binding);
    if (this._backend.execute) {
      try {
        return this._result(feeds, this._backend.execute(this, values, shapes), shapes);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e; // wasm memory exhausted: the JS path gives the same bits
      }
    }
    const B = jsBackend;
    const get = (n) => (values.has(n) ? values.get(n).data : this._consts.get(n));
    for (const node of this._nodes) {
      const ins = node.inputs;
      const os = shapes.get(node.output);
      let out;
      const op = node.op;
      switch (op) {
        case 'MatMul': {
          const as = shapes.get(ins[0]), bs = shapes.get(ins[1]);
          let A = this._pre.get(`${node.output} A`) || get(ins[0]);
          let Bm = this._pre.get(`${node.output} B`) || get(ins[1]);
          if (node.plan.ta && !this._pre.has(`${node.output} A`)) A = transposed(A, as);
          if (node.plan.tb && !this._pre.has(`${node.output} B`)) Bm = transposed(Bm, bs);
          const M = os[0], N = os[1];
          const Kd = node.plan.ta ? as[0] : as[1];
          out = B.matmul(A, Bm, M, Kd, N, node);
          break;
        }
        case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Maximum': case 'Minimum':
          out = B.binary(op, get(ins[0]), shapes.get(ins[0]), get(ins[1]), shapes.get(ins[1]), os);
          break;
        case 'Softmax':
          out = B.softmax(get(ins[0]), shapes.get(ins[0]), node.plan.axis);
          break;
        case 'ReduceSum': case 'ReduceMean': case 'ReduceMax':
          out = B.reduce(op, get(ins[0]), shapes.get(ins[0]), node.plan.red);
          break;
        case 'Transpose':
          out = K.transpose(get(ins[0]), shapes.get(ins[0]), node.plan.perm);
          break;
        case 'Reshape':
          out = get(ins[0]).slice();
          break;
        default:
          out = B.unary(op, get(ins[0]), node.attrs);
      }
      values.set(node.output, { shape: os, data: out });
    }
    return this._result(feeds, values, shapes);
  }

  _result(feeds, values, shapes) {
    const result = {};
    for (const o of this.outputs) {
      const v = values.get(o.name) || { shape: shapes.get(o.name), data: this._consts.get(o.name) };
      // never hand out an array the caller passed in or a model constant
      const data = (has(feeds, o.name) || this._consts.has(o.name)) ? v.data.slice() : v.data;
      result[o.name] = { shape: v.shape.slice(), data };
    }
    return result;
  }
}

function transposed(data, shape) {
  return K.transpose(data, shape, [1, 0]);
}

/** Accept Float32Array, {shape, data}, or the sparse {shape, indices}. */
function normaliseFeed(v, decl) {
  const who = `input ${decl.name}`;
  if (v instanceof Float32Array || Array.isArray(v)) {
    const data = v instanceof Float32Array ? v : Float32Array.from(v);
    // infer the one symbolic dim (if any) from the length
    const syms = decl.shape.filter((d) => typeof d === 'string');
    const fixed = decl.shape.reduce((a, d) => (typeof d === 'number' ? a * d : a), 1);
    if (new Set(syms).size > 1) fail('E_INPUT', `${who}: pass {shape, data}: the declared shape ${shapeStr(decl.shape)} has several symbols`);
    if (syms.length === 0) return { shape: decl.shape.slice(), data };
    const s = data.length / fixed;
    const per = Math.round(s ** (1 / syms.length));
    if (!Number.isInteger(s) || per < 1 || per ** syms.length !== s) fail('E_INPUT', `${who}: ${data.length} values do not fit ${shapeStr(decl.shape)}`);
    return { shape: decl.shape.map((d) => (typeof d === 'string' ? per : d)), data };
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.shape)) fail('E_INPUT', `${who}: expected a Float32Array or {shape, data}`);
  const shape = v.shape.slice();
  if (has(v, 'indices') && !has(v, 'data')) {
    let n = 1;
    for (const d of shape) {
      if (!(Number.isInteger(d) && d >= 1)) fail('E_INPUT', `${who}: bad dimension ${d}`);
      n *= d;
      if (n > MAX_ELEMENTS) fail('E_LIMIT', `${who}: shape ${shapeStr(shape)} has more than 2^26 elements`);
    }
    const data = new Float32Array(n);
    for (const i of v.indices) {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) fail('E_INPUT', `${who}: index ${i} out of range`);
      data[i] = 1;
    }
    return { shape, data };
  }
  const d = v.data;
  if (d instanceof Float32Array) return { shape, data: d };
  if (Array.isArray(d) || ArrayBuffer.isView(d)) {
    const data = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (typeof x === 'number') data[i] = x;
      else if (x === 'inf') data[i] = Infinity;
      else if (x === '-inf') data[i] = -Infinity;
      else if (x === 'nan') data[i] = NaN;
      else fail('E_INPUT', `${who}: value #${i} is neither a number nor "inf", "-inf", "nan"`);
    }
    return { shape, data };
  }
  return fail('E_INPUT', `${who}: "data" must be an array or Float32Array`);
}
