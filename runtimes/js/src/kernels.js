// Plain-JS strict kernels (SPEC.md sections 6-7) on Float32Arrays; the op
// table (ops.js) says which op runs which. A store into a Float32Array rounds
// to binary32, so `out[i] = a[i] + b[i]` is exactly fl(a + b); other
// intermediates are wrapped in Math.fround.
import * as S from './strict.js';

const fr = Math.fround;

export const count = (shape) => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape) {
  const st = new Array(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) { st[i] = s; s *= shape[i]; }
  return st;
}

/** Element strides of `shape` broadcast to `os` (0 along broadcast dims). */
export function broadcastStrides(shape, os) {
  const st = stridesOf(shape);
  const off = os.length - shape.length;
  return os.map((d, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
}

/** out[idx] = src[sum idx[d] * strides[d]] over `shape` (row-major). */
export function gather(src, shape, strides) {
  const n = count(shape);
  const out = new Float32Array(n);
  const r = shape.length;
  if (n === 0) return out;
  if (r === 0) { out[0] = src[0]; return out; }
  const last = shape[r - 1], ls = strides[r - 1];
  const idx = new Array(r).fill(0);
  let base = 0;
  for (let o = 0; o < n; o += last) {
    for (let j = 0, p = base; j < last; j++, p += ls) out[o + j] = src[p];
    for (let d = r - 2; d >= 0; d--) { // odometer over dims 0..r-2
      idx[d]++;
      base += strides[d];
      if (idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

export function transpose(x, xs, perm) {
  const st = stridesOf(xs);
  return gather(x, perm.map((p) => xs[p]), perm.map((p) => st[p]));
}

/** True when `small` broadcast to `big` repeats its data (a suffix shape). */
function isSuffix(small, big) {
  let i = small.length - 1;
  for (let j = big.length - 1; i >= 0 && j >= 0; i--, j--) if (small[i] !== big[j]) break;
  for (; i >= 0; i--) if (small[i] !== 1) return false;
  return true;
}

/** out = f(a, b) broadcast to `os`; each result rounded by the store. */
export function binary(f, a, as, b, bs, os) {
  const n = count(os);
  const out = new Float32Array(n);
  const ea = a.length === n ? a : gather(a, os, broadcastStrides(as, os));
  const rep = b.length === 1 || isSuffix(bs, os); // b repeats along the leading dims
  const eb = rep ? b : gather(b, os, broadcastStrides(bs, os));
  const bn = rep ? b.length : n;
  for (let i = 0; i < n; i++) out[i] = f(ea[i], eb[i % bn]);
  return out;
}

/** out[i] = f(x[i]), rounded by the store. */
export function map(x, f) {
  const n = x.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
  return out;
}

/** MatMul (SPEC 7.1): C = A (M x K) B (K x N), row-major, already transposed;
 * i-k-j order, zero left terms skipped, each product rounded. */
export function matmul(A, B, M, K, N) {
  const C = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    const crow = i * N;
    const arow = i * K;
    for (let k = 0; k < K; k++) {
      const a = A[arow + k];
      if (a === 0) continue;
      const brow = k * N;
      for (let j = 0; j < N; j++) C[crow + j] += fr(a * B[brow + j]);
    }
  }
  return C;
}

/** Softmax (SPEC 7.4). */
export function softmax(x, xs, axis) {
  const out = new Float32Array(x.length);
  const n = xs[axis];
  const inner = count(xs.slice(axis + 1));
  const outer = count(xs.slice(0, axis));
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const base = o * n * inner + q;
      let m = -Infinity;
      for (let i = 0; i < n; i++) m = Math.max(m, x[base + i * inner]);
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = base + i * inner;
        const e = S.exp(fr(x[p] - m));
        out[p] = e;
        s = fr(s + e);
      }
      for (let i = 0; i < n; i++) {
        const p = base + i * inner;
        out[p] = out[p] / s;
      }
    }
  }
  return out;
}

/** ReduceSum/Mean/Max (SPEC 7.5, kind 'sum' | 'mean' | 'max') over the dims where red[i]. */
export function reduce(kind, x, xs, red) {
  const kept = [], reduced = [];
  xs.forEach((_, i) => (red[i] ? reduced : kept).push(i));
  const perm = kept.concat(reduced);
  const identity = perm.every((p, i) => p === i);
  const src = identity ? x : transpose(x, xs, perm);
  const R = count(reduced.map((i) => xs[i]));
  const nOut = count(kept.map((i) => xs[i]));
  const out = new Float32Array(nOut);
  const fc = fr(R);
  for (let o = 0; o < nOut; o++) {
    const base = o * R;
    if (kind === 'max') {
      let acc = -Infinity;
      for (let k = 0; k < R; k++) acc = Math.max(acc, src[base + k]);
      out[o] = acc;
    } else {
      let acc = 0;
      for (let k = 0; k < R; k++) acc = fr(acc + src[base + k]);
      out[o] = kind === 'mean' ? acc / fc : acc;
    }
  }
  return out;
}

const T2 = new WeakMap(); // transposed constant MatMul operands, made once
/** The transpose of a rank-2 kernel input {data, shape, constant}. */
export function t2({ data, shape, constant }) {
  if (constant && T2.has(data)) return T2.get(data);
  const t = transpose(data, shape, [1, 0]);
  if (constant) T2.set(data, t);
  return t;
}
