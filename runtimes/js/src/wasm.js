// Wasm SIMD backend: runs every op with the C runtime's kernels
// (runtimes/c/src/kernels.c compiled to wasm32, embedded in kernels.wasm.js).
// Weights live in linear memory from prepare(); a run lays out all of its
// tensors up front (so memory grows at most once), then calls the kernels.
import WASM_B64 from './kernels.wasm.js';
import { decodeBase64 } from './tensors.js';
import { stridesOf, transpose } from './kernels.js';

// a minimal module using v128: validates only where wasm SIMD is supported
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
let supported = null;
let module = null;

export function wasmSupported() {
  if (supported === null) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE) &&
        typeof DecompressionStream === 'function';
    } catch { supported = false; }
  }
  return supported;
}

async function compile() {
  const gz = decodeBase64(WASM_B64);
  const stream = new Blob([gz]).stream().pipeThrough(new DecompressionStream('gzip'));
  return WebAssembly.compile(await new Response(stream).arrayBuffer());
}

const BIN = { Add: 0, Sub: 1, Mul: 2, Div: 3, Maximum: 4, Minimum: 5 };
const RED = { ReduceSum: 0, ReduceMean: 1, ReduceMax: 2 };
const UN = { Neg: 'neg', Abs: 'abs', Sqrt: 'sqrt', Relu: 'relu', Exp: 'exp', Log: 'log',
  Sigmoid: 'sigmoid', Tanh: 'tanh', Softplus: 'softplus' };
const align = (b) => (b + 15) & ~15;
const count = (s) => s.reduce((a, b) => a * b, 1);

/** A fresh instance (own memory) per model. */
export async function wasmBackend() {
  module ??= compile();
  const inst = await WebAssembly.instantiate(await module, {});
  const k = inst.exports;
  const mem = k.memory;
  let base = align(k.__heap_base.value);
  const SCRATCH = 64 * 4; // int32 shape / stride / perm arrays
  const scratch = base;
  base += SCRATCH;
  let f32 = new Float32Array(mem.buffer);
  let i32 = new Int32Array(mem.buffer);
  let top = base;

  const ensure = (end) => {
    if (end > mem.buffer.byteLength) {
      const pages = Math.ceil((end - mem.buffer.byteLength) / 65536);
      mem.grow(pages); // throws RangeError beyond 4 GiB
    }
    if (f32.buffer !== mem.buffer) { f32 = new Float32Array(mem.buffer); i32 = new Int32Array(mem.buffer); }
  };
  const ints = (arrs) => { // write int32 arrays into scratch, return their byte offsets
    let p = scratch;
    return arrs.map((a) => { const at = p; i32.set(a, p >> 2); p += 4 * a.length; return at; });
  };

  const be = {
    name: 'wasm',
    consts: new Map(), // name (or 'node-output operand#' when pre-transposed) -> byte offset
    prepare(model) {
      let need = top;
      const place = [];
      for (const [name, data] of model._consts) { place.push([name, data]); need += align(data.byteLength); }
      for (const node of model._nodes) { // constant MatMul operands pre-transposed once
        node.inputs.forEach((n, i) => {
          if (node.op === 'MatMul' && model._consts.has(n) && (i ? node.plan.tb : node.plan.ta)) {
            const t = transpose(model._consts.get(n), model._shapes.get(n), [1, 0]);
            place.push([`${node.output} ${i}`, t]);
            need += align(t.byteLength);
          }
        });
      }
      ensure(need);
      for (const [name, data] of place) {
        f32.set(data, top >> 2);
        be.consts.set(name, top);
        top += align(data.byteLength);
      }
      base = top;
    },
    /** Run the nodes; values: name -> {shape, data} for the inputs. */
    execute(model, values, shapes) {
      // layout: inputs, then every node output
      const off = new Map(be.consts);
      let end = base;
      const inputs = [];
      for (const [name, v] of values) { off.set(name, end); inputs.push([end, v.data]); end += align(v.data.byteLength); }
      for (const node of model._nodes) { off.set(node.output, end); end += align(4 * count(shapes.get(node.output))); }
      ensure(end);
      for (const [at, data] of inputs) f32.set(data, at >> 2);
      for (const node of model._nodes) {
        const op = node.op;
        const ins = node.inputs;
        const y = off.get(node.output);
        const x = off.get(ins[0]);
        const xs = shapes.get(ins[0]);
        const os = shapes.get(node.output);
        if (op === 'MatMul') {
          const pa = be.consts.get(`${node.output} 0`), pb = be.consts.get(`${node.output} 1`);
          const ta = node.plan.ta && pa === undefined, tb = node.plan.tb && pb === undefined;
          const K = node.plan.ta ? xs[0] : xs[1];
          k.tsr_k_matmul(pa ?? x, pb ?? off.get(ins[1]), y, os[0], K, os[1], ta ? 1 : 0, tb ? 1 : 0);
        } else if (op in BIN) {
          const bsh = shapes.get(ins[1]);
          const b = off.get(ins[1]);
          const n = count(os), na = count(xs), nb = count(bsh);
          if ((na === n || na === 1) && (nb === n || nb === 1)) { // dense or a single value
            k.tsr_k_binary_flat(BIN[op], x, b, y, n, na === n ? 1 : 0, nb === n ? 1 : 0);
          } else {
            const r = os.length;
            const [p0, p1, p2] = ints([os, bstrides(xs, os), bstrides(bsh, os)]);
            k.tsr_k_binary(BIN[op], x, b, y, r, p0, p1, p2);
          }
        } else if (op in UN) {
          k[`tsr_k_${UN[op]}`](x, y, count(xs));
        } else if (op === 'Clip') {
          const a = node.attrs;
          k.tsr_k_clip(x, y, count(xs), a.min === undefined ? -Infinity : Math.fround(a.min),
            a.max === undefined ? Infinity : Math.fround(a.max));
        } else if (op === 'Softmax') {
          const ax = node.plan.axis;
          k.tsr_k_softmax(x, y, count(xs.slice(0, ax)), xs[ax], count(xs.slice(ax + 1)));
        } else if (op in RED) {
          const [p0, p1] = ints([xs, node.plan.red.map((r) => (r ? 1 : 0))]);
          k.tsr_k_reduce(RED[op], x, y, xs.length, p0, p1);
        } else if (op === 'Transpose') {
          const [p0, p1] = ints([xs, node.plan.perm]);
          k.tsr_k_transpose(x, y, xs.length, p0, p1);
        } else { // Reshape
          k.tsr_k_copy(x, y, count(xs));
        }
      }
      const out = new Map();
      for (const o of model.outputs) {
        const at = off.get(o.name);
        const s = shapes.get(o.name);
        out.set(o.name, { shape: s, data: f32.slice(at >> 2, (at >> 2) + count(s)) });
      }
      return out;
    },
  };
  return be;
}

/** Element strides of `s` broadcast to `os` (0 along broadcast dims). */
function bstrides(s, os) {
  const st = stridesOf(s);
  const off = os.length - s.length;
  return os.map((d, i) => (i < off || s[i - off] === 1 ? 0 : st[i - off]));
}
