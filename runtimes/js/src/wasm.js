// Wasm SIMD backend: each op runs the C runtime's kernel its OPS row names
// (kernels.c compiled to wasm32), or its plain-JS kernel on the wasm memory
// when the row has none. Weights stay in linear memory; a run lays out all
// its tensors up front, so memory grows at most once per run. Every element
// is 4 bytes; a tensor is read and written through the Float32Array or the
// Int32Array view of the memory by its dtype.
import WASM_B64 from './kernels.wasm.js';
import { decodeBase64 } from './tensors.js';
import { around, badIndex, broadcastStrides, count, transpose } from './kernels.js';
import { OPS, geom } from './ops.js';

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

/** A fresh instance (own memory) per model; `ops`: the op table (tests pass rows without wasm). */
export async function wasmBackend(ops = OPS) {
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
  const view = (int) => (int ? i32 : f32);
  const put = (data, at) => view(data instanceof Int32Array).set(data, at >> 2);
  let convWs = 0; // a run's Conv2D workspace (byte offset; 0: none), after its tensors
  const ints = (arrs) => { // write int32 arrays into scratch, return their byte offsets
    let p = scratch;
    return arrs.map((a) => { const at = p; i32.set(a, p >> 2); p += 4 * a.length; return at; });
  };

  // How each C kernel is called (kernels.h), by export name, with (row.wasm,
  // plan, input offsets, input shapes, output offset, output shape, output
  // name); any other export is y = f(x) over n elements (unary kernels, copy).
  const CALL = {
    tsr_k_matmul(w, p, [a, b], [as], y, os, out) {
      const pa = be.consts.get(`${out} 0`), pb = be.consts.get(`${out} 1`); // pre-transposed
      k.tsr_k_matmul(pa ?? a, pb ?? b, y, os[0], as[p.ta ? 0 : 1], os[1], p.ta && pa === undefined ? 1 : 0, p.tb && pb === undefined ? 1 : 0);
    },
    tsr_k_binary({ code }, p, [a, b], [as, bs], y, os) {
      const n = count(os), na = count(as), nb = count(bs);
      if ((na === n || na === 1) && (nb === n || nb === 1)) { // dense or a single value
        k.tsr_k_binary_flat(code, a, b, y, n, na === n ? 1 : 0, nb === n ? 1 : 0);
      } else k.tsr_k_binary(code, a, b, y, os.length, ...ints([os, broadcastStrides(as, os), broadcastStrides(bs, os)]));
    },
    tsr_k_clip: (w, p, [x], [xs], y) => k.tsr_k_clip(x, y, count(xs), p.lo, p.hi),
    tsr_k_softmax: (w, { axis }, [x], [xs], y) => k.tsr_k_softmax(x, y, ...around(xs, axis)),
    tsr_k_log_softmax: (w, { axis }, [x], [xs], y) => k.tsr_k_log_softmax(x, y, ...around(xs, axis)),
    tsr_k_argmax: (w, p, [x], [xs], y) => k.tsr_k_argmax(p.max ? 1 : 0, p.T === 'int32' ? 1 : 0, x, y, ...around(xs, p.axis)),
    tsr_k_gather(w, p, [x, idx], [xs, is], y) {
      const [outer, d, inner] = around(xs, p.axis);
      const j = k.tsr_k_gather(x, idx, y, outer, d, count(is), inner);
      if (j >= 0) badIndex(p.who, i32[(idx >> 2) + j], d);
    },
    tsr_k_reduce: ({ code }, p, [x], [xs], y) => k.tsr_k_reduce(code, x, y, xs.length, ...ints([xs, p.red.map(Number)])),
    tsr_k_transpose32: (w, p, [x], [xs], y) => k.tsr_k_transpose32(x, y, xs.length, ...ints([xs, p.perm])),
    tsr_k_conv2d: (w, p, [x, f, b = 0], [xs], y) => k.tsr_k_conv2d_ws(x, f, b, y, ...ints([geom(p, xs)]), convWs), // no bias, no workspace: NULL
    tsr_k_maxpool2d: (w, p, [x], [xs], y) => k.tsr_k_maxpool2d(x, y, ...ints([geom(p, xs)])),
    tsr_k_avgpool2d: (w, p, [x], [xs], y) => k.tsr_k_avgpool2d(x, y, ...ints([geom(p, xs)]), p.cip),
  };
  const elementwise = ({ fn }, p, [x], [xs], y) => k[fn](x, y, count(xs));
  for (const { wasm } of Object.values(ops)) if (wasm && !k[wasm.fn]) throw new Error(`the wasm module lacks ${wasm.fn}`); // stale artefact

  const be = {
    name: 'wasm',
    consts: new Map(), // name (or 'node-output operand#' when pre-transposed) -> byte offset
    prepare(model) {
      const place = [...model._consts];
      for (const node of model._nodes) { // constant MatMul operands pre-transposed once
        node.inputs.forEach((n, i) => {
          if (ops[node.op].wasm?.fn === 'tsr_k_matmul' && model._consts.has(n) && (i ? node.plan.tb : node.plan.ta)) {
            place.push([`${node.output} ${i}`, transpose(model._consts.get(n), model._shapes.get(n), [1, 0])]);
          }
        });
      }
      ensure(place.reduce((end, [, data]) => end + align(data.byteLength), top));
      for (const [name, data] of place) {
        put(data, top);
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
      let ws = 0; // floats: the largest workspace a Conv2D of this run asks for (kernels.h)
      for (const node of model._nodes) {
        off.set(node.output, end);
        end += align(4 * count(shapes.get(node.output)));
        if (ops[node.op].wasm?.fn === 'tsr_k_conv2d') ws = Math.max(ws, Number(k.tsr_k_conv2d_ws_floats(...ints([geom(node.plan, shapes.get(node.inputs[0]))]))));
      }
      convWs = ws ? end : 0;
      end += align(4 * ws);
      ensure(end);
      for (const [at, data] of inputs) put(data, at);
      const mem = (n, at, s) => view(model._dtypes.get(n) === 'int32').subarray(at >> 2, (at >> 2) + count(s));
      for (const node of model._nodes) {
        const { wasm, js } = ops[node.op];
        const at = node.inputs.map((n) => off.get(n)), shp = node.inputs.map((n) => shapes.get(n));
        const y = off.get(node.output), os = shapes.get(node.output);
        if (wasm) (CALL[wasm.fn] ?? elementwise)(wasm, node.plan, at, shp, y, os, node.output);
        else put(js(shp.map((s, i) => ({ data: mem(node.inputs[i], at[i], s), shape: s, constant: false })), node.plan, os), y); // plain JS on views of the memory (it does not grow during a run)
      }
      const out = new Map();
      for (const o of model.outputs) {
        const at = off.get(o.name);
        const s = shapes.get(o.name);
        out.set(o.name, { shape: s, data: mem(o.name, at, s).slice() });
      }
      return out;
    },
  };
  return be;
}
