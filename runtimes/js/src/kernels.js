// Plain-JS strict kernels (SPEC.md sections 6-7) on Float32Arrays (float32)
// and Int32Arrays (int32); the op table (ops.js) says which op runs which. A
// store into a Float32Array rounds to binary32, so `out[i] = a[i] + b[i]` is
// exactly fl(a + b); other intermediates are wrapped in Math.fround. Kernels
// that only move elements copy them through Int32Array views, so a float32
// NaN keeps its payload (a float load and store may quiet a signalling NaN).
import * as S from './strict.js';
import { fail } from './errors.js';

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

/** The 4-byte words of a Float32Array or Int32Array, as an Int32Array (no copy). */
export const bits = (x) => (x instanceof Int32Array ? x : new Int32Array(x.buffer, x.byteOffset, x.length));
/** Int32Array words `w` typed as `like`'s class (no copy). */
export const as = (like, w) => (like instanceof Int32Array ? w : new Float32Array(w.buffer, w.byteOffset, w.length));

/** out[idx] = src[base + sum idx[d] * strides[d]] over `shape` (row-major), bits copied. */
export function gather(x, shape, strides, base = 0) {
  const n = count(shape);
  const src = bits(x);
  const out = as(x, new Int32Array(n));
  const w = bits(out);
  const r = shape.length;
  if (r === 0) { w[0] = src[base]; return out; }
  const last = shape[r - 1], ls = strides[r - 1];
  const idx = new Array(r).fill(0);
  for (let o = 0; o < n; o += last) {
    for (let j = 0, p = base; j < last; j++, p += ls) w[o + j] = src[p];
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

/** out = f(a, b) broadcast to `os`; each result rounded by the store (Out: the output class). */
export function binary(f, a, as, b, bs, os, Out = Float32Array) {
  const n = count(os);
  const out = new Out(n);
  const ea = a.length === n ? a : gather(a, os, broadcastStrides(as, os));
  const rep = b.length === 1 || isSuffix(bs, os); // b repeats along the leading dims
  const eb = rep ? b : gather(b, os, broadcastStrides(bs, os));
  const bn = rep ? b.length : n;
  for (let i = 0; i < n; i++) out[i] = f(ea[i], eb[i % bn]);
  return out;
}

/** out[i] = f(x[i]), rounded by the store. */
export function map(x, f, Out = Float32Array) {
  const n = x.length;
  const out = new Out(n);
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

/** The (outer, len, inner) view of `xs` around `axis`. */
export const around = (xs, axis) => [count(xs.slice(0, axis)), xs[axis], count(xs.slice(axis + 1))];

/** Softmax (SPEC 7.4), or LogSoftmax when `log`: y = fl(fl(x - m) - Log(s)). */
export function softmax(x, xs, axis, log) {
  const out = new Float32Array(x.length);
  const [outer, n, inner] = around(xs, axis);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const base = o * n * inner + q;
      let m = -Infinity;
      for (let i = 0; i < n; i++) m = Math.max(m, x[base + i * inner]);
      let s = 0;
      for (let i = 0; i < n; i++) {
        const p = base + i * inner;
        const d = fr(x[p] - m);
        const e = S.exp(d);
        out[p] = log ? d : e;
        s = fr(s + e);
      }
      const ls = log && S.log(s);
      for (let i = 0; i < n; i++) {
        const p = base + i * inner;
        out[p] = log ? out[p] - ls : out[p] / s;
      }
    }
  }
  return out;
}

const START = { max: -Infinity, min: Infinity, prod: 1 };

/** ReduceSum/Mean/Max/Min/Prod (SPEC 7.5, kind 'sum' | 'mean' | 'max' | 'min' | 'prod') over the dims where red[i]. */
export function reduce(kind, x, xs, red) {
  const kept = [], reduced = [];
  xs.forEach((_, i) => (red[i] ? reduced : kept).push(i));
  const R = count(reduced.map((i) => xs[i]));
  const n = count(kept.map((i) => xs[i]));
  const out = new Float32Array(n).fill(START[kind] ?? 0);
  // leading axes reduced: row k of (R, n) holds the k-th term of every output,
  // so a pass per row keeps each output's visiting order (no transpose);
  // else the reduced axes are moved last and each output's terms are contiguous
  const lead = reduced.every((d, i) => d === i);
  const perm = kept.concat(reduced);
  const src = lead || perm.every((p, i) => p === i) ? x : transpose(x, xs, perm);
  const op = kind === 'max' ? 0 : kind === 'min' ? 1 : kind === 'prod' ? 2 : 3;
  const ko = lead ? n : 1, oo = lead ? 1 : R; // strides of term k and output o in src
  for (let k = 0; k < R; k++) {
    for (let o = 0; o < n; o++) {
      const a = out[o], v = src[k * ko + o * oo];
      out[o] = op === 3 ? a + v : op === 2 ? a * v : op === 0 ? Math.max(a, v) : Math.min(a, v); // the store rounds
    }
  }
  if (kind === 'mean') for (let o = 0; o < n; o++) out[o] /= fr(R);
  return out;
}

/** ArgMax (max) / ArgMin along `axis`, the scan of SPEC 6: the first NaN wins, ties keep the first index. */
export function argext(max, x, xs, axis) {
  const [outer, n, inner] = around(xs, axis);
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const base = o * n * inner + q;
      let best = 0, bv = x[base];
      for (let i = 1; i < n && bv === bv; i++) {
        const v = x[base + i * inner];
        if (v !== v || (max ? v > bv : v < bv)) { best = i; bv = v; }
      }
      out[o * inner + q] = best;
    }
  }
  return out;
}

/** Where: c != 0 ? a : b, three-way broadcast to `os`, the selected element's bits copied. */
export function where(c, a, b, os) {
  const n = count(os);
  const full = (t) => bits(t.data.length === n ? t.data : gather(t.data, os, broadcastStrides(t.shape, os)));
  const [ec, ea, eb] = [c, a, b].map(full);
  const w = new Int32Array(n);
  for (let i = 0; i < n; i++) w[i] = ec[i] !== 0 ? ea[i] : eb[i];
  return as(a.data, w);
}

export const badIndex = (who, i, d) => fail('E_INPUT', `${who}: index ${i} is outside [${-d}, ${d - 1}]`);

/** Gather along `axis`; every index is checked first (E_INPUT naming `who`), so nothing is read outside x. */
export function take(x, xs, idx, axis, who) {
  const [outer, d, inner] = around(xs, axis);
  for (const i of idx) if (i < -d || i >= d) badIndex(who, i, d);
  const src = bits(x), m = idx.length;
  const w = new Int32Array(outer * m * inner);
  for (let o = 0, at = 0; o < outer; o++) {
    for (let j = 0; j < m; j++, at += inner) {
      const r = (o * d + (idx[j] < 0 ? idx[j] + d : idx[j])) * inner;
      if (inner === 1) w[at] = src[r];
      else w.set(src.subarray(r, r + inner), at);
    }
  }
  return as(x, w);
}

/** Concat along `axis` of [{data, shape}] into `os`. */
export function concat(xs, axis, os) {
  const [outer, , inner] = around(os, axis);
  const w = new Int32Array(count(os));
  for (let o = 0, at = 0; o < outer; o++) {
    for (const x of xs) {
      const len = x.shape[axis] * inner;
      w.set(bits(x.data).subarray(o * len, o * len + len), at);
      at += len;
    }
  }
  return as(xs[0].data, w);
}

const T2 = new WeakMap(); // transposed constant MatMul operands, made once
/** The transpose of a rank-2 kernel input {data, shape, constant}. */
export function t2({ data, shape, constant }) {
  if (constant && T2.has(data)) return T2.get(data);
  const t = transpose(data, shape, [1, 0]);
  if (constant) T2.set(data, t);
  return t;
}

/** Conv2D (SPEC 7.11) with the C kernel's geometry g = [N, C, H, W, M, kH, kW, sh, sw,
 * dh, dw, pt, pl, pb, pr, group, Hout, Wout]; b: the bias or null. For each output
 * element k = (c, i, j) increases; padding and zero inputs are skipped; the bias last. */
export function conv2d(x, w, b, g) {
  const [N, C, H, W, M, kH, kW, sh, sw, dh, dw, pt, pl, , , group, Ho, Wo] = g;
  const Cg = C / group, Mg = M / group, K = Cg * kH * kW;
  const y = new Float32Array(N * M * Ho * Wo);
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const x0 = (n * C + Math.floor(m / Mg) * Cg) * H; // row of channel c = 0 of m's group
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++) {
          let acc = 0;
          for (let c = 0, k = m * K; c < Cg; c++) {
            for (let i = 0; i < kH; i++, k += kW) {
              const ih = oh * sh - pt + i * dh;
              if (ih < 0 || ih >= H) continue;
              const row = (x0 + c * H + ih) * W;
              for (let j = 0; j < kW; j++) {
                const iw = ow * sw - pl + j * dw;
                const v = iw >= 0 && iw < W ? x[row + iw] : 0;
                if (v !== 0) acc = fr(acc + fr(v * w[k + j]));
              }
            }
          }
          y[o++] = b ? acc + b[m] : acc; // the store rounds
        }
      }
    }
  }
  return y;
}

/** MaxPool2D (max) or AveragePool2D (SPEC 7.12) with the C kernel's geometry g = [N, C,
 * H, W, kH, kW, sh, sw, pt, pl, pb, pr, Hout, Wout]. The window is clipped to the input
 * (padding is skipped; a pad is below its kernel size, so it is never empty). */
export function pool2d(max, x, g, countPad) {
  const [N, C, H, W, kH, kW, sh, sw, pt, pl, , , Ho, Wo] = g;
  const y = new Float32Array(N * C * Ho * Wo);
  let o = 0;
  for (let p = 0; p < N * C; p++) {
    for (let oh = 0; oh < Ho; oh++) {
      const h0 = oh * sh - pt, i0 = Math.max(h0, 0), i1 = Math.min(h0 + kH, H);
      for (let ow = 0; ow < Wo; ow++) {
        const w0 = ow * sw - pl, j0 = Math.max(w0, 0), j1 = Math.min(w0 + kW, W);
        let acc = max ? -Infinity : 0;
        for (let ih = i0; ih < i1; ih++) {
          for (let iw = j0, q = (p * H + ih) * W; iw < j1; iw++) acc = max ? Math.max(acc, x[q + iw]) : fr(acc + x[q + iw]);
        }
        y[o++] = max ? acc : acc / fr(countPad ? kH * kW : (i1 - i0) * (j1 - j0));
      }
    }
  }
  return y;
}
