// Conv2D, MaxPool2D, AveragePool2D (format 1.2): both kernel paths bit for bit
// against straight loops written here from SPEC 7.11 and 7.12 (every window
// position visited, padding tested per position, Maximum of SPEC 7.2 spelled
// out), on special values; and the checker's must-reject attributes and shapes.
import test from 'node:test';
import assert from 'node:assert/strict';
import { load, wasmSupported } from '../src/index.js';
import { bitsOf, diffBits, oneNodeModel } from './helpers.js';

const fr = Math.fround;
const DEFAULTS = { strides: [1, 1], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1 };
const outSize = (d, p, q, k, dil, s) => Math.floor((d + p + q - (dil * (k - 1) + 1)) / s) + 1;

/** SPEC 7.11, as written there. */
function refConv(x, xs, w, ws, b, attrs) {
  const { strides: [sh, sw], pads: [pt, pl, pb, pr], dilations: [dh, dw], group } = { ...DEFAULTS, ...attrs };
  const [N, C, H, W] = xs, [M, Cg, kH, kW] = ws, Mg = M / group;
  const Ho = outSize(H, pt, pb, kH, dh, sh), Wo = outSize(W, pl, pr, kW, dw, sw);
  const y = [];
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
    const g = Math.floor(m / Mg);
    let acc = 0;
    for (let c = 0; c < Cg; c++) for (let i = 0; i < kH; i++) for (let j = 0; j < kW; j++) {
      const ih = oh * sh - pt + i * dh, iw = ow * sw - pl + j * dw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const v = x[((n * C + g * Cg + c) * H + ih) * W + iw];
      if (v === 0) continue;
      acc = fr(acc + fr(v * w[((m * Cg + c) * kH + i) * kW + j]));
    }
    y.push(b ? fr(acc + b[m]) : acc);
  }
  return { shape: [N, M, Ho, Wo], data: Float32Array.from(y) };
}

/** SPEC 7.2 Maximum: NaN wins; of two equal values -0 only when both are -0. */
const maximum = (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b > a ? b : Object.is(a, -0) ? b : a);

/** SPEC 7.12, as written there. */
function refPool(op, x, xs, attrs) {
  const { kernel_shape: [kH, kW], strides: [sh, sw], pads: [pt, pl, pb, pr] } = { ...DEFAULTS, ...attrs };
  const [N, C, H, W] = xs, Ho = outSize(H, pt, pb, kH, 1, sh), Wo = outSize(W, pl, pr, kW, 1, sw);
  const y = [];
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
    let acc = op === 'MaxPool2D' ? -Infinity : 0, visited = 0;
    for (let i = 0; i < kH; i++) for (let j = 0; j < kW; j++) {
      const ih = oh * sh - pt + i, iw = ow * sw - pl + j;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const v = x[((n * C + c) * H + ih) * W + iw];
      acc = op === 'MaxPool2D' ? maximum(acc, v) : fr(acc + v);
      visited++;
    }
    y.push(op === 'MaxPool2D' ? acc : fr(acc / fr(attrs.count_include_pad ? kH * kW : visited)));
  }
  return { shape: [N, C, Ho, Wo], data: Float32Array.from(y) };
}

// deterministic data: a mix of zeros (both signs), small integers, random
// floats, and (with `special`) NaN, infinities and subnormals
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const SPECIAL = [NaN, Infinity, -Infinity, -0, 0, 1e-45, -3e38, 3e38];
function data(n, special = false) {
  return Float32Array.from({ length: n }, () => {
    const r = rand();
    if (special && r < 0.15) return SPECIAL[Math.floor(rand() * SPECIAL.length)];
    if (r < 0.3) return r < 0.2 ? 0 : -0;
    if (r < 0.5) return Math.round(rand() * 8 - 4);
    return fr(rand() * 6 - 3);
  });
}
const count = (s) => s.reduce((a, b) => a * b, 1);

async function runBoth(op, inShapes, feeds, outShape, attrs, weights) {
  const doc = oneNodeModel(op, inShapes, outShape, attrs, [], 'float32', '1.2');
  if (weights) { // W (and B) as initializers: constants on the wasm path
    doc.graph.initializers = weights.map((t, i) => ({ name: `x${i + 1}`, dtype: 'float32', shape: inShapes[i + 1], data: Array.from(t) }));
    doc.graph.inputs = doc.graph.inputs.slice(0, 1);
  }
  const out = {};
  for (const kernels of ['js', 'wasm']) {
    const m = await load(doc, { kernels });
    const f = {};
    feeds.forEach((d, i) => { if (!weights || i === 0) f[`x${i}`] = { shape: inShapes[i].map((s, k) => (typeof s === 'string' ? feeds[0].length / count(inShapes[0].slice(1)) : s)), data: d }; });
    out[kernels] = m.run(f).y;
  }
  return out;
}

const CONV_CASES = [
  // [x shape, w shape, bias?, attrs]
  [[1, 1, 5, 5], [1, 1, 3, 3], false, {}],
  [[2, 3, 7, 6], [4, 3, 3, 2], true, { strides: [2, 1], pads: [1, 0, 2, 1] }],
  [[1, 4, 9, 9], [6, 2, 3, 3], true, { group: 2, dilations: [2, 3], pads: [2, 3, 2, 3] }],
  [[3, 4, 6, 5], [8, 1, 3, 3], true, { group: 4, pads: [1, 1, 1, 1] }], // depthwise, multiplier 2
  [[2, 5, 4, 4], [3, 5, 1, 1], false, { strides: [3, 3] }], // 1x1
  [[1, 2, 3, 3], [2, 2, 5, 5], true, { pads: [4, 4, 4, 4], strides: [2, 3] }], // mostly padding
  [[1, 1, 1, 1], [1, 1, 1, 1], true, {}],
  [[4, 3, 8, 8], [5, 3, 4, 4], true, { strides: [4, 4] }], // windows exactly tile the input
  // the vector paths' edges: channels past whole panels of 8, partial blocks of 4 positions, groups
  [[2, 3, 9, 11], [19, 3, 3, 3], true, { pads: [1, 1, 1, 1] }],
  [[2, 6, 14, 14], [16, 6, 5, 5], false, {}], // LeNet's second convolution, unpadded
  [[1, 4, 10, 7], [18, 2, 2, 3], true, { group: 2, strides: [1, 2], dilations: [2, 1], pads: [0, 2, 1, 0] }],
];

for (const [i, [xs, ws, bias, attrs]] of CONV_CASES.entries()) {
  for (const special of [false, true]) {
    test(`Conv2D #${i}${special ? ' special values' : ''}: plain and wasm equal SPEC 7.11`, async () => {
      const shapes = [xs, ws, ...(bias ? [[ws[0]]] : [])];
      for (const constant of [false, true]) { // constant weights are initializers, so finite
        const x = data(count(xs), special), w = data(count(ws), special && !constant);
        const b = bias ? data(ws[0], special && !constant) : null, wb = [w, b].filter(Boolean);
        const want = refConv(x, xs, w, ws, b, attrs);
        const got = await runBoth('Conv2D', shapes, [x, ...wb], want.shape, attrs, constant && wb);
        for (const [k, y] of Object.entries(got)) {
          assert.deepEqual(y.shape, want.shape, k);
          assert.equal(diffBits(y.data, Array.from(want.data, bitsOf)), null, `${k}, weights ${constant ? 'constant' : 'fed'}`);
        }
      }
    });
  }
}

test('Conv2D skips zero inputs and padding even against inf and NaN weights; a NaN input meets every weight', async () => {
  const x = new Float32Array([0, -0, 2, NaN]), xs = [1, 1, 2, 2];
  const w = new Float32Array([Infinity, NaN, 1, -1, 3, Infinity, NaN, 0, 0]), ws = [1, 1, 3, 3];
  const attrs = { pads: [1, 1, 1, 1] };
  const want = refConv(x, xs, w, ws, null, attrs);
  // y[0,0] (oh = ow = 0) sees x[0,0] = 0 at w[1,1], -0 at w[1,2], 2 at w[2,1], NaN at w[2,2]: NaN
  assert.ok(Number.isNaN(want.data[0]));
  const zeros = new Float32Array([0, -0, 0, -0]);
  const wantZero = refConv(zeros, xs, w, ws, null, attrs);
  assert.deepEqual(Array.from(wantZero.data, bitsOf), [0, 0, 0, 0], 'all inputs zero: +0 everywhere, inf/NaN weights unused');
  for (const [xd, wnt] of [[x, want], [zeros, wantZero]]) {
    const got = await runBoth('Conv2D', [xs, ws], [xd, w], wnt.shape, attrs);
    for (const [k, y] of Object.entries(got)) assert.equal(diffBits(y.data, Array.from(wnt.data, bitsOf)), null, k);
  }
});

test('Conv2D with a symbolic batch binds N at run time', async () => {
  const ws = [2, 3, 3, 3], w = data(count(ws)), b = data(2);
  for (const N of [1, 5]) {
    const xs = [N, 3, 6, 6], x = data(count(xs), true);
    const want = refConv(x, xs, w, ws, b, { pads: [1, 1, 1, 1] });
    const got = await runBoth('Conv2D', [['batch', 3, 6, 6], ws, [2]], [x, w, b], ['batch', 2, 6, 6], { pads: [1, 1, 1, 1] }, [w, b]);
    for (const [k, y] of Object.entries(got)) {
      assert.deepEqual(y.shape, [N, 2, 6, 6], k);
      assert.equal(diffBits(y.data, Array.from(want.data, bitsOf)), null, k);
    }
  }
});

const POOL_CASES = [
  // [x shape, attrs]
  [[1, 1, 4, 4], { kernel_shape: [2, 2], strides: [2, 2] }],
  [[2, 3, 7, 5], { kernel_shape: [3, 2], strides: [2, 1], pads: [2, 1, 1, 0] }],
  [[1, 2, 5, 5], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
  [[3, 1, 6, 7], { kernel_shape: [4, 3], strides: [3, 2], pads: [3, 2, 3, 2] }],
  [[1, 1, 1, 1], { kernel_shape: [1, 1] }],
  [[1, 1, 2, 3], { kernel_shape: [5, 4], pads: [4, 3, 0, 0] }], // windows mostly padding
  // rows with runs of 4 windows inside the input (the wasm vector path), strides 1, 2 and 3
  [[2, 3, 12, 17], { kernel_shape: [2, 2], strides: [2, 2] }],
  [[1, 2, 5, 13], { kernel_shape: [3, 2], pads: [1, 1, 1, 0] }],
  [[1, 2, 9, 23], { kernel_shape: [3, 3], strides: [3, 3], pads: [0, 1, 0, 1] }],
];

for (const op of ['MaxPool2D', 'AveragePool2D']) {
  for (const [i, [xs, attrs0]] of POOL_CASES.entries()) {
    for (const cip of op === 'MaxPool2D' ? [undefined] : [undefined, false, true]) {
      const attrs = cip === undefined ? attrs0 : { ...attrs0, count_include_pad: cip };
      test(`${op} #${i} ${JSON.stringify(attrs)}: plain and wasm equal SPEC 7.12`, async () => {
        for (const special of [false, true]) {
          const x = data(count(xs), special);
          const want = refPool(op, x, xs, attrs);
          const got = await runBoth(op, [xs], [x], want.shape, attrs);
          for (const [k, y] of Object.entries(got)) assert.equal(diffBits(y.data, Array.from(want.data, bitsOf)), null, `${k} special ${special}`);
        }
      });
    }
  }
}

test('MaxPool2D: NaN anywhere in the window wins, -0 is below +0, -inf survives', async () => {
  const x = new Float32Array([-0, 0, 0, -0, -0, -0, -0, -0, 1, NaN, -Infinity, -Infinity]);
  const got = await runBoth('MaxPool2D', [[1, 3, 2, 2]], [x], [1, 3, 1, 1], { kernel_shape: [2, 2] });
  for (const [k, y] of Object.entries(got)) {
    assert.deepEqual(Array.from(y.data.slice(0, 2), bitsOf), [0, 0x80000000], k); // +0 once present; all -0: -0
    assert.ok(Number.isNaN(y.data[2]), k);
  }
  const inf = await runBoth('MaxPool2D', [[1, 1, 1, 2]], [new Float32Array([-Infinity, -Infinity])], [1, 1, 1, 1], { kernel_shape: [1, 2] });
  for (const y of Object.values(inf)) assert.equal(y.data[0], -Infinity);
});

test('AveragePool2D: count_include_pad divides by kH*kW, else by the visited elements', async () => {
  const x = new Float32Array([3, 6]); // one row; a 1x3 window padded on the left sees [pad, 3, 6]
  for (const [cip, want] of [[true, 3], [false, 4.5]]) {
    const got = await runBoth('AveragePool2D', [[1, 1, 1, 2]], [x], [1, 1, 1, 1], { kernel_shape: [1, 3], pads: [0, 1, 0, 0], count_include_pad: cip });
    for (const [k, y] of Object.entries(got)) assert.equal(y.data[0], want, `${k} count_include_pad ${cip}`);
  }
});

const reject = async (op, shapes, out, attrs, code, version = '1.2') => {
  const doc = oneNodeModel(op, shapes, out, attrs, [], 'float32', version);
  await assert.rejects(load(doc, { kernels: 'js' }), (e) => e.code === code, `${op} ${JSON.stringify(attrs)} ${JSON.stringify(shapes)}: ${code}`);
};

test('must-reject attributes are E_SCHEMA', async () => {
  const X = [1, 1, 5, 5], W = [1, 1, 3, 3], Y = [1, 1, 3, 3];
  const bad = [
    { strides: [0, 1] }, { strides: [1] }, { strides: [1, 1, 1] }, { strides: [1, 65536] }, { strides: [1.5, 1] }, { strides: '1' },
    { pads: [0, 0, 0] }, { pads: [-1, 0, 0, 0] }, { pads: [0, 0, 0, 65536] }, { pads: [0, 0, 0, 0.5] },
    { dilations: [0, 1] }, { dilations: [1, 65536] }, { group: 0 }, { group: 65536 }, { group: 1.5 }, { group: [1] },
    { kernel_shape: [3, 3] }, { count_include_pad: false },
  ];
  for (const a of bad) await reject('Conv2D', [X, W], Y, a, 'E_SCHEMA');
  const K = { kernel_shape: [3, 3] };
  const badPool = [
    {}, { kernel_shape: [0, 3] }, { kernel_shape: [3] }, { kernel_shape: [3, 65536] }, { ...K, strides: [0, 1] },
    { ...K, pads: [3, 0, 0, 0] }, { ...K, pads: [0, 3, 0, 0] }, { ...K, pads: [0, 0, 3, 0] }, { ...K, pads: [0, 0, 0, 3] },
    { ...K, dilations: [1, 1] }, { ...K, group: 1 },
  ];
  for (const op of ['MaxPool2D', 'AveragePool2D']) for (const a of badPool) await reject(op, [X], Y, a, 'E_SCHEMA');
  await reject('MaxPool2D', [X], Y, { ...K, count_include_pad: true }, 'E_SCHEMA');
  await reject('AveragePool2D', [X], Y, { ...K, count_include_pad: 1 }, 'E_SCHEMA');
  await reject('Conv2D', [X], Y, {}, 'E_SCHEMA'); // arity 2 or 3
  await reject('Conv2D', [X, W, [1], [1]], Y, {}, 'E_SCHEMA');
  await reject('MaxPool2D', [X, X], Y, K, 'E_SCHEMA');
});

test('bad shapes are E_SHAPE, an output above 2^26 elements E_LIMIT, a 1.1 file E_VERSION', async () => {
  const K = { kernel_shape: [3, 3] };
  await reject('Conv2D', [[1, 5, 5], [1, 1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // X rank 3
  await reject('Conv2D', [[1, 1, 5, 5], [1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // W rank 3
  await reject('Conv2D', [[1, 2, 5, 5], [1, 1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // W.shape[1] != C / group
  await reject('Conv2D', [[1, 4, 5, 5], [3, 2, 3, 3]], [1, 3, 3, 3], { group: 2 }, 'E_SHAPE'); // group does not divide M
  await reject('Conv2D', [[1, 3, 5, 5], [2, 1, 3, 3]], [1, 2, 3, 3], { group: 2 }, 'E_SHAPE'); // nor C
  await reject('Conv2D', [[1, 1, 5, 5], [2, 1, 3, 3], [3]], [1, 2, 3, 3], {}, 'E_SHAPE'); // bias length
  await reject('Conv2D', [[1, 1, 5, 5], [2, 1, 3, 3], [2, 1]], [1, 2, 3, 3], {}, 'E_SHAPE'); // bias rank
  await reject('Conv2D', [[1, 'c', 5, 5], [1, 1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // symbolic C
  await reject('Conv2D', [[1, 1, 'h', 5], [1, 1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // symbolic H
  await reject('Conv2D', [[1, 1, 5, 5], ['m', 1, 3, 3]], [1, 1, 3, 3], {}, 'E_SHAPE'); // symbolic W dim
  await reject('Conv2D', [[1, 1, 5, 5], [1, 1, 3, 3], ['m']], [1, 1, 3, 3], {}, 'E_SHAPE'); // symbolic B dim
  await reject('Conv2D', [[1, 1, 2, 5], [1, 1, 3, 3]], [1, 1, 1, 3], {}, 'E_SHAPE'); // padded H below kernel
  await reject('Conv2D', [[1, 1, 5, 5], [1, 1, 3, 3]], [1, 1, 1, 1], { dilations: [3, 1] }, 'E_SHAPE'); // dilated extent 7 > 5
  await reject('Conv2D', [[1, 1, 5, 5], [1, 1, 3, 3]], [1, 1, 5, 5], {}, 'E_SHAPE'); // declared output differs
  await reject('MaxPool2D', [[1, 1, 2, 5]], [1, 1, 1, 3], K, 'E_SHAPE');
  await reject('AveragePool2D', [[1, 5, 5]], [1, 3, 3], K, 'E_SHAPE');
  await reject('MaxPool2D', [['n', 'c', 5, 5]], ['n', 'c', 3, 3], K, 'E_SHAPE');
  // the inferred output above 2^26 elements (the declared one has symbols, so step 5 passes)
  await reject('Conv2D', [[1, 1, 8192, 8192], [2, 1, 1, 1]], [1, 2, 'h', 'w'], {}, 'E_LIMIT');
  await reject('Conv2D', [[1, 1, 1, 1], [1, 1, 1, 1]], [1, 1, 'h', 'w'], { pads: [65535, 65535, 65535, 65535] }, 'E_LIMIT');
  await reject('MaxPool2D', [[1, 1, 5, 5]], [1, 1, 3, 3], K, 'E_VERSION', '1.1');
  await reject('Conv2D', [[1, 1, 5, 5], [1, 1, 3, 3]], [1, 1, 3, 3], {}, 'E_VERSION', '1.1');
});
