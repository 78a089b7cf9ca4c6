// Wasm SIMD backend: every op runs in the C runtime's kernels (kernels.c
// compiled to wasm32). Weights stay in linear memory; a run lays out all its
// tensors up front, so memory grows at most once per run.
import WASM_B64 from './kernels.wasm.js';
import { decodeBase64 } from './tensors.js';
import { broadcastStrides, count, transpose } from './kernels.js';
import { BINARY, REDUCE, UNARY } from './ops.js';

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

const align = (b) => (b + 15) & ~15;

/** A fresh instance (own memory) per model. */
export async function wasmBackend() {
  module ??= compile();
  const k = (await WebAssembly.instantiate(await module, {})).exports;
  const mem = k.memory;
  const scratch = align(k.__heap_base.value); // int32 shape / stride / perm arrays
  let top = scratch + 64 * 4; // end of the constants; a run's tensors follow
  let f32 = new Float32Array(mem.buffer);
  let i32 = new Int32Array(mem.buffer);

  const ensure = (end) => {
    if (end > mem.buffer.byteLength) mem.grow(Math.ceil((end - mem.buffer.byteLength) / 65536)); // RangeError beyond 4 GiB
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
      const place = [...model._consts];
      for (const node of model._nodes) { // constant MatMul operands pre-transposed once
        node.inputs.forEach((n, i) => {
          if (node.op === 'MatMul' && model._consts.has(n) && (i ? node.plan.tb : node.plan.ta)) {
            place.push([`${node.output} ${i}`, transpose(model._consts.get(n), model._shapes.get(n), [1, 0])]);
          }
        });
      }
      ensure(place.reduce((end, [, data]) => end + align(data.byteLength), top));
      for (const [name, data] of place) {
        f32.set(data, top >> 2);
        be.consts.set(name, top);
        top += align(data.byteLength);
      }
    },
    /** Run the nodes; values: name -> {shape, data} for the inputs. */
    execute(model, values, shapes) {
      // layout: inputs, then every node output
      const off = new Map(be.consts);
      let end = top;
      const inputs = [];
      for (const [name, v] of values) { off.set(name, end); inputs.push([end, v.data]); end += align(v.data.byteLength); }
      for (const node of model._nodes) { off.set(node.output, end); end += align(4 * count(shapes.get(node.output))); }
      ensure(end);
      for (const [at, data] of inputs) f32.set(data, at >> 2);
      for (const { op, inputs: ins, output, plan } of model._nodes) {
        const y = off.get(output);
        const x = off.get(ins[0]);
        const xs = shapes.get(ins[0]);
        const os = shapes.get(output);
        if (op === 'MatMul') {
          const pa = be.consts.get(`${output} 0`), pb = be.consts.get(`${output} 1`);
          const ta = plan.ta && pa === undefined, tb = plan.tb && pb === undefined;
          const K = plan.ta ? xs[0] : xs[1];
          k.tsr_k_matmul(pa ?? x, pb ?? off.get(ins[1]), y, os[0], K, os[1], ta ? 1 : 0, tb ? 1 : 0);
        } else if (BINARY.includes(op)) {
          const bsh = shapes.get(ins[1]);
          const b = off.get(ins[1]);
          const n = count(os), na = count(xs), nb = count(bsh);
          if ((na === n || na === 1) && (nb === n || nb === 1)) { // dense or a single value
            k.tsr_k_binary_flat(BINARY.indexOf(op), x, b, y, n, na === n ? 1 : 0, nb === n ? 1 : 0);
          } else {
            const [p0, p1, p2] = ints([os, broadcastStrides(xs, os), broadcastStrides(bsh, os)]);
            k.tsr_k_binary(BINARY.indexOf(op), x, b, y, os.length, p0, p1, p2);
          }
        } else if (UNARY.includes(op)) {
          k[`tsr_k_${op.toLowerCase()}`](x, y, count(xs));
        } else if (op === 'Clip') {
          k.tsr_k_clip(x, y, count(xs), plan.lo, plan.hi);
        } else if (op === 'Softmax') {
          const ax = plan.axis;
          k.tsr_k_softmax(x, y, count(xs.slice(0, ax)), xs[ax], count(xs.slice(ax + 1)));
        } else if (REDUCE.includes(op)) {
          const [p0, p1] = ints([xs, plan.red.map((r) => (r ? 1 : 0))]);
          k.tsr_k_reduce(REDUCE.indexOf(op), x, y, xs.length, p0, p1);
        } else if (op === 'Transpose') {
          const [p0, p1] = ints([xs, plan.perm]);
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
