// Strict binary32 scalar functions, SPEC.md section 7.3, exactly.
// Every + - * / is wrapped in Math.fround; never Math.exp/log/tanh.
const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function fromBits(b) { u32[0] = b >>> 0; return f32[0]; }

const EXP_LO = fromBits(0xc2d00000); // -104
const EXP_HI = fromBits(0x42b20000); // 89
const LOG2E = fromBits(0x3fb8aa3b);
const MAGIC = fromBits(0x4b400000); // 1.5 * 2^23
const EXP_LN2_HI = fromBits(0x3f317200);
const EXP_LN2_LO = fromBits(0x35bfbe8e);
const P = [0x394f8450, 0x3ab6c682, 0x3c088938, 0x3d2aaa47, 0x3e2aaaaa, 0x3f000000].map(fromBits);
const LOG_SQRT2 = fromBits(0x3fb504f3);
const LOG_LN2_HI = fromBits(0x3f318000);
const LOG_LN2_LO = fromBits(0xb95e8083);
const Q = [0x3d8a2ba8, 0xbdef1e0c, 0x3df3784b, 0xbdfe1105, 0x3e119bb3,
  0xbe2aae27, 0x3e4cd25b, 0xbe800003, 0x3eaaaaa4].map(fromBits);
const TWO_POW_23 = fromBits(0x4b000000);
const MIN_NORMAL = fromBits(0x00800000);
const TANH_SMALL = fromBits(0x3f0ccccd);
const T = [0x3b1d032a, 0xbc09daae, 0x3cb271e5, 0xbd5d04cb, 0x3e08886e, 0xbeaaaaaa].map(fromBits);

// SPEC 7.3 horner(c0..cd, t): acc = c0; acc = fl(fl(acc * t) + ci)
function horner(c, t) {
  let acc = c[0];
  for (let i = 1; i < c.length; i++) acc = fr(fr(acc * t) + c[i]);
  return acc;
}

// pow2(n) for -126 <= n <= 127 from exponent bits; POW2[n + 126]
const POW2 = new Float64Array(254);
for (let n = -126; n <= 127; n++) POW2[n + 126] = fromBits((n + 127) << 23);

// e^r - 1 - r for |r| <= ln2/2: r^2 * horner(P; r), shared by Exp and Sigmoid
function expTail(r) {
  return fr(fr(r * r) * horner(P, r));
}

export function exp(x) {
  if (x !== x) return x;
  const xc = Math.min(Math.max(x, EXP_LO), EXP_HI);
  const nf = fr(fr(fr(xc * LOG2E) + MAGIC) - MAGIC);
  let r = fr(xc - fr(nf * EXP_LN2_HI));
  r = fr(r - fr(nf * EXP_LN2_LO));
  let p = expTail(r);
  p = fr(r + p);
  p = fr(1 + p);
  const n = nf | 0;
  const n1 = n >> 1;
  return fr(fr(p * POW2[n1 + 126]) * POW2[n - n1 + 126]);
}

export function log(x) {
  if (x !== x || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  let k = 0;
  if (x < MIN_NORMAL) { x = fr(x * TWO_POW_23); k = -23; }
  f32[0] = x;
  const bits = u32[0];
  let e = ((bits >>> 23) & 0xff) - 127 + k;
  u32[0] = (bits & 0x7fffff) | 0x3f800000;
  let m = f32[0];
  if (m > LOG_SQRT2) { m = fr(m * 0.5); e += 1; }
  const f = fr(m - 1);
  const z = fr(f * f);
  let y = fr(fr(horner(Q, f) * f) * z);
  const E = e; // small integer: exact in binary32
  y = fr(y + fr(E * LOG_LN2_LO));
  y = fr(y - fr(0.5 * z));
  let r = fr(f + y);
  r = fr(r + fr(E * LOG_LN2_HI));
  return r;
}

// Sigmoid keeps e^-|x| and the quotient as float32 pairs (hi + lo) so that
// the result is rounded once: max error 0.78 ulp (SPEC 7.3).
const VELTKAMP = 4097; // 2^12 + 1: splits a float32 into two 12-bit halves
let lo = 0; // the low part of the last twoSum / fastTwoSum / twoProd
function twoSum(a, b) {
  const s = fr(a + b), bb = fr(s - a);
  lo = fr(fr(a - fr(s - bb)) + fr(b - bb));
  return s;
}
function fastTwoSum(a, b) { // |a| >= |b|
  const s = fr(a + b);
  lo = fr(b - fr(s - a));
  return s;
}
function twoProd(a, b) { // Dekker, no FMA
  const p = fr(a * b), ga = fr(a * VELTKAMP), gb = fr(b * VELTKAMP);
  const ah = fr(ga - fr(ga - a)), al = fr(a - ah), bh = fr(gb - fr(gb - b)), bl = fr(b - bh);
  lo = fr(fr(fr(fr(fr(ah * bh) - p) + fr(ah * bl)) + fr(al * bh)) + fr(al * bl));
  return p;
}

export function sigmoid(x) {
  if (x !== x) return x;
  const pos = x >= 0;
  const t = Math.max(-Math.abs(x), EXP_LO);
  const nf = fr(fr(fr(t * LOG2E) + MAGIC) - MAGIC);
  const rh = twoSum(fr(t - fr(nf * EXP_LN2_HI)), -fr(nf * EXP_LN2_LO)), rl = lo;
  const p = expTail(rh);
  const ah = fastTwoSum(1, rh), al = lo;
  const bh = fastTwoSum(ah, p), bl = lo;
  const eh = fastTwoSum(bh, fr(fr(al + bl) + rl)), el = lo; // e^t = (eh + el) 2^n
  const n = nf | 0, n1 = n >> 1, s1 = POW2[n1 + 126], s2 = POW2[n - n1 + 126];
  const dh = fastTwoSum(1, fr(fr(eh * s1) * s2));
  const dl = fr(lo + fr(fr(el * s1) * s2)); // dh + dl = 1 + e^t
  const nh = pos ? 1 : eh, nl = pos ? 0 : el;
  const qh = fr(nh / dh);
  const ph = twoProd(qh, dh), pl = lo;
  const rem = fr(fr(fr(fr(nh - ph) - pl) + nl) - fr(qh * dl));
  const y = fr(qh + fr(rem / dh));
  return pos ? y : fr(fr(y * s1) * s2);
}

export function tanh(x) {
  if (x === 0) return x; // tanh(-0) = -0
  const a = Math.abs(x);
  if (a < TANH_SMALL) {
    const s = fr(x * x);
    const t = horner(T, s);
    return fr(x + fr(x * fr(s * t)));
  }
  const e = exp(fr(a * 2));
  const y = fr(1 - fr(2 / fr(e + 1)));
  return (x < 0 || Object.is(x, -0)) ? -y : y;
}

export function softplus(x) {
  if (x !== x) return x;
  const e = exp(-Math.abs(x));
  const u = fr(1 + e);
  const c = fr(e - fr(u - 1));
  const l = fr(log(u) + fr(c / u));
  return fr((x > 0 ? x : 0) + l);
}

// Pow (SPEC 7.10): log2 and exp2 in binary64 (plain JS numbers, rounded to
// binary32 once at the end), never Math.pow/exp/log.
const dv = new DataView(new ArrayBuffer(8));
const d64 = (h, l) => { dv.setUint32(0, h); dv.setUint32(4, l); return dv.getFloat64(0); };
// K/21, K/19, .., K/3 (K = 2/ln 2): high words, then low words
const POW_L = [0x3fc1964e, 0x3fc3703c, 0x3fc5b9ac, 0x3fc89f3b, 0x3fcc68f5, 0x3fd0c9a8, 0x3fd484b1, 0x3fda6176, 0x3fe2776c, 0x3feec709]
  .map((h, i) => d64(h, [0xc6fc9491, 0x1f4d0ffe, 0x9b743f0d, 0x1694cffe, 0x68d31760, 0x4994022d, 0x3d7c02a9, 0x2a7aded9, 0x50ef9bfe, 0xdc3a03fd][i]));
// (ln 2)^j / j!, j = 13 .. 0
const POW_E = [0x3d781619, 0x3dbc3bd6, 0x3dfe8cac, 0x3e3e4cf5, 0x3e7b5253, 0x3eb62c02, 0x3eeffcbf, 0x3f243091, 0x3f55d87f, 0x3f83b2ab, 0x3fac6b08, 0x3fcebfbd, 0x3fe62e42, 0x3ff00000]
  .map((h, i) => d64(h, [0x3166d0f9, 0x50fc2986, 0x7351bb25, 0x158b8eca, 0xd395e7c4, 0x23a5c824, 0xc588b0c7, 0x2f86c787, 0xe78a6731, 0x6fba4e77, 0xd704a0c0, 0xff82c58f, 0xfefa39ef, 0][i]));
const POW_K = d64(0x40071547, 0x652b82fe);
const POW_M = 6755399441055744; // 1.5 * 2^52

function horner64(c, t) {
  let acc = c[0];
  for (let i = 1; i < c.length; i++) acc = acc * t + c[i];
  return acc;
}

export function pow(x, y) {
  if (y === 0 || x === 1) return 1;
  if (x !== x || y !== y) return NaN;
  let a = Math.abs(x);
  if (Math.abs(y) === Infinity) return a === 1 ? 1 : (a < 1) === (y < 0) ? Infinity : 0;
  f32[0] = y;
  const uy = u32[0], ey = ((uy >>> 23) & 0xff) - 127;
  const integer = ey >= 23 || (ey >= 0 && (uy & (0x7fffff >>> ey)) === 0);
  const neg = (x < 0 || Object.is(x, -0)) && integer && ey <= 23 && ((uy >>> (23 - ey)) & 1) === 1; // odd y
  if (a === 0 || a === Infinity) return ((a === 0) === (y < 0) ? Infinity : 0) * (neg ? -1 : 1);
  if (x < 0 && !integer) return NaN;
  let k = 0;
  if (a < MIN_NORMAL) { a = fr(a * TWO_POW_23); k = -23; }
  f32[0] = a;
  const bits = u32[0];
  let e = ((bits >>> 23) & 0xff) - 127 + k;
  u32[0] = (bits & 0x7fffff) | 0x3f800000;
  let m = f32[0];
  if (m > LOG_SQRT2) { m = fr(m * 0.5); e += 1; }
  const S = (m - 1) / (m + 1), Z = S * S;
  let T = y * (e + (S * POW_K + (S * Z) * horner64(POW_L, Z)));
  T = T < -200 ? -200 : T > 200 ? 200 : T;
  const N = (T + POW_M) - POW_M;
  const r = fr(horner64(POW_E, T - N) * d64((N + 1023) << 20, 0));
  return neg ? -r : r;
}
