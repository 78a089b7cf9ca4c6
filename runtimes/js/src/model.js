// A checked model: binds inputs (SPEC.md section 5 #10-11) and runs the
// graph with a backend (ops.js jsBackend: plain JS; wasm.js: wasm SIMD).
import { fail } from './errors.js';
import { MAX_ELEMENTS } from './limits.js';
import { count } from './kernels.js';
import { jsBackend, shapeStr } from './ops.js';
import { isInt32 } from './check.js';

const has = Object.hasOwn;
const NONFINITE = new Map([['inf', Infinity], ['-inf', -Infinity], ['nan', NaN]]); // a Map: no inherited keys like "toString"

export class Model {
  constructor(checked, backend) {
    this.version = checked.version;
    this.inputs = checked.inputs;
    this.outputs = checked.outputs;
    this.kernels = backend.name;
    this._backend = backend;
    this._nodes = checked.nodes;
    this._shapes = checked.shapes; // symbolic shapes of every value
    this._dtypes = checked.dtypes; // 'float32' | 'int32' of every value
    this._consts = new Map(checked.initializers.map((t) => [t.name, t.data]));
    backend.prepare?.(this);
  }

  run(feeds) {
    if (feeds === null || typeof feeds !== 'object') fail('E_INPUT', 'inputs must be an object of tensors');
    for (const k of Object.keys(feeds)) {
      if (!this.inputs.some((v) => v.name === k)) fail('E_INPUT', `unknown input ${JSON.stringify(k)}`);
    }
    const binding = new Map(); // symbol -> [size, the input that bound it]
    const values = new Map();
    for (const decl of this.inputs) {
      const who = `input ${decl.name}`;
      if (!has(feeds, decl.name)) fail('E_INPUT', `missing ${who}`);
      const t = feed(feeds[decl.name], decl, who);
      const want = shapeStr(decl.shape);
      if (t.shape.length !== decl.shape.length) fail('E_INPUT', `${who}: shape ${shapeStr(t.shape)}, expected ${want} (rank ${t.shape.length}, not ${decl.shape.length})`);
      const bad = t.shape.find((got) => !(Number.isInteger(got) && got >= 1));
      if (bad !== undefined) fail('E_INPUT', `${who}: shape ${shapeStr(t.shape)}: dimension ${JSON.stringify(bad)} is not an integer >= 1 (expected ${want})`);
      decl.shape.forEach((d, i) => {
        const got = t.shape[i];
        if (typeof d === 'number') {
          if (got !== d) fail('E_INPUT', `${who}: shape ${shapeStr(t.shape)}, expected ${want} (dimension ${i} is ${got}, not ${d})`);
        } else if (!binding.has(d)) binding.set(d, [got, decl.name]);
        else if (got !== binding.get(d)[0]) {
          const [n, from] = binding.get(d);
          fail('E_INPUT', `${who}: shape ${shapeStr(t.shape)}, expected ${want} with ${JSON.stringify(d)} = ${n} (from ${from === decl.name ? 'its dimension ' + decl.shape.indexOf(d) : 'input ' + from})`);
        }
      });
      if (t.data.length !== count(t.shape)) fail('E_INPUT', `${who}: ${t.data.length} values, expected ${count(t.shape)} (shape ${shapeStr(t.shape)})`);
      values.set(decl.name, t);
    }
    // concrete shapes of every value (section 5 #11)
    const shapes = new Map();
    for (const [name, s] of this._shapes) {
      const c = s.map((d) => (typeof d === 'string' ? binding.get(d)?.[0] : d));
      if (count(c) > MAX_ELEMENTS) fail('E_LIMIT', `tensor ${name}: shape ${shapeStr(c)} has more than 2^26 elements`);
      shapes.set(name, c);
    }
    let out;
    try {
      out = this._backend.execute(this, values, shapes);
    } catch (e) {
      if (!(e instanceof RangeError) || this._backend === jsBackend) throw e;
      out = jsBackend.execute(this, values, shapes); // wasm memory exhausted: same bits in JS
    }
    const result = {};
    for (const o of this.outputs) {
      const data = out.get(o.name)?.data ?? this._consts.get(o.name);
      // never hand out an array the caller passed in or a model constant
      result[o.name] = { shape: shapes.get(o.name).slice(), data: has(feeds, o.name) || this._consts.has(o.name) ? data.slice() : data };
    }
    return result;
  }
}

/**
 * Accept a typed array / array, {shape, data}, or the sparse {shape, indices}
 * (float32 only). A float32 input takes a Float32Array or numbers and
 * "inf"/"-inf"/"nan"; an int32 input an Int32Array or integers in int32 range.
 */
function feed(v, decl, who) {
  const int = decl.dtype === 'int32';
  const Want = int ? Int32Array : Float32Array;
  const values = (d) => {
    if (d instanceof Want) return d;
    const want = int ? 'an Int32Array or an array of integers' : 'a Float32Array or an array of numbers';
    if (ArrayBuffer.isView(d)) fail('E_INPUT', `${who} is ${decl.dtype}: got ${d.constructor.name}, expected ${want}`);
    if (!Array.isArray(d)) fail('E_INPUT', `${who}: "data" must be ${want}`);
    const data = new Want(d.length);
    for (let i = 0; i < d.length; i++) {
      const x = typeof d[i] === 'number' && !int ? d[i] : int ? (isInt32(d[i]) ? d[i] : undefined) : NONFINITE.get(d[i]);
      if (x === undefined && d[i] !== null && typeof d[i] === 'object') fail('E_INPUT', `${who}: data must be a flat row-major list (value #${i} is ${Array.isArray(d[i]) ? 'an array' : 'an object'})`);
      if (x === undefined) fail('E_INPUT', `${who}: value #${i} (${JSON.stringify(d[i])}) is not ${int ? 'an integer in int32 range' : 'a number, "inf", "-inf" or "nan"'}`);
      data[i] = x;
    }
    return data;
  };
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    // the declared shape, its symbol (one at most) taken from the length
    const data = values(v);
    const syms = decl.shape.filter((d) => typeof d === 'string').length;
    const fixed = count(decl.shape.filter((d) => typeof d === 'number'));
    const n = data.length;
    const want = `(shape ${shapeStr(decl.shape)})`;
    if (syms > 1) fail('E_INPUT', `${who}: ${n} values for a shape with ${syms} symbolic dimensions ${want}: pass {shape, data}`);
    if (syms === 0 && n !== fixed) fail('E_INPUT', `${who}: ${n} values, expected ${fixed} ${want}`);
    if (syms === 1 && (n === 0 || n % fixed !== 0)) fail('E_INPUT', `${who}: ${n} values, expected a ${n === 0 ? 'nonzero ' : ''}multiple of ${fixed} ${want}`);
    return { shape: decl.shape.map((d) => (typeof d === 'string' ? n / fixed : d)), data: data === v ? data.slice() : data };
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.shape)) fail('E_INPUT', `${who}: expected ${int ? 'an Int32Array' : 'a Float32Array'} or {shape, data}`);
  const shape = v.shape.slice();
  if (has(v, 'indices') && !has(v, 'data')) {
    if (int) fail('E_INPUT', `${who}: the sparse {shape, indices} form is for float32 inputs only`);
    const n = count(shape);
    if (!(n <= MAX_ELEMENTS)) fail('E_INPUT', `${who}: bad shape ${shapeStr(shape)}`);
    const data = new Float32Array(n);
    for (const i of v.indices) {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) fail('E_INPUT', `${who}: index ${i} out of range`);
      data[i] = 1;
    }
    return { shape, data };
  }
  return { shape, data: values(v.data) };
}
