// Every error code on hostile files, in the order of SPEC.md section 5.
import test from 'node:test';
import assert from 'node:assert/strict';
import { load, TesseraError } from '../src/index.js';

const base = () => ({
  format: 'tessera', format_version: '1.0', producer: { name: 't', version: '0' },
  graph: {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
    initializers: [
      { name: 'W', dtype: 'float32', shape: [3, 2], data: [0.5, -1, 2, 0.25, 1e-3, 3] },
      { name: 'b', dtype: 'float32', shape: [2], data: [0.1, 0.2] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W'], outputs: ['t'] },
      { op: 'Add', inputs: ['t', 'b'], outputs: ['u'] },
      { name: 'sig', op: 'Sigmoid', inputs: ['u'], outputs: ['y'] },
    ],
  },
});
const mut = (f) => { const d = base(); f(d, d.graph); return d; };
/** A 1.1 file; graph output y (float32, ['batch', 2]) unless f changes it. */
const v11 = (f) => mut((d, g) => { d.format_version = '1.1'; f(g); });
const int32 = (data, shape = [data.length], name = 'k') => ({ name, dtype: 'int32', shape, data });
const slice = (attrs) => ({ op: 'Slice', inputs: ['u'], outputs: ['y'], attrs });
const text = (d) => JSON.stringify(d);

async function code(src) {
  try {
    await load(src, { kernels: 'js' });
  } catch (e) {
    if (e instanceof TesseraError) return e.code;
    throw e;
  }
  return 'OK';
}

const CASES = [
  ['valid model', text(base()), 'OK'],
  // 2: parse / depth, first violation wins
  ['truncated JSON', text(base()).slice(0, 100), 'E_PARSE'],
  ['empty file', '', 'E_PARSE'],
  ['100000 nested arrays', '['.repeat(100000) + ']'.repeat(100000), 'E_LIMIT'],
  ['depth 64 is fine (then schema)', '['.repeat(64) + ']'.repeat(64), 'E_SCHEMA'],
  ['depth 65 after a syntax error', '{"a": tru, "b": ' + '['.repeat(70), 'E_PARSE'],
  ['syntax error after depth 65', '['.repeat(70) + 'x', 'E_LIMIT'],
  ['duplicate key', text(base()).replace('{"format":"tessera",', '{"format":"tessera","format":"tessera",'), 'E_PARSE'],
  ['byte order mark', new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text(base()))]), 'E_PARSE'],
  ['invalid UTF-8', new Uint8Array([...new TextEncoder().encode('{"format": "'), 0xff, ...new TextEncoder().encode('"}')]), 'E_PARSE'],
  ['trailing comma', text(base()).replace(']}}', '],}}'), 'E_PARSE'],
  ['NaN literal', text(base()).replace('0.1', 'NaN'), 'E_PARSE'],
  ['comment', '// c\n' + text(base()), 'E_PARSE'],
  ['lone surrogate escape', text(mut((d) => { d.metadata = { s: 'X' }; })).replace('"X"', '"\\ud800"'), 'E_PARSE'],
  ['control char in string', text(mut((d) => { d.metadata = { s: 'X' }; })).replace('"X"', '"a\u0001b"'), 'E_PARSE'],
  ['leading zero number', text(base()).replace('0.1', '00.1'), 'E_PARSE'],
  // 3: version
  ['wrong major version', mut((d) => { d.format_version = '2.0'; }), 'E_VERSION'],
  ['wrong major beats schema', mut((d) => { d.format_version = '2.0'; d.extra = 1; }), 'E_VERSION'],
  ['bad version string', mut((d) => { d.format_version = '1.0.0'; }), 'E_SCHEMA'],
  ['newer minor, nothing unknown', mut((d) => { d.format_version = '1.7'; }), 'OK'],
  ['newer minor, unknown field', mut((d, g) => { d.format_version = '1.3'; g.nodes[0].attrs = { alpha: 1 }; }), 'E_VERSION'],
  ['newer minor, unknown op', mut((d, g) => { d.format_version = '1.3'; g.nodes[2].op = 'Gelu'; }), 'E_VERSION'],
  ['1.1 file, unknown op', mut((d, g) => { d.format_version = '1.1'; g.nodes[2].op = 'Gelu'; }), 'E_UNKNOWN_OP'],
  ['1.1 file, 1.0 ops only', mut((d) => { d.format_version = '1.1'; }), 'OK'],
  // a 1.0 stamp with what 1.1 added: the dtype after the schema step, the op at step 6
  ['1.0 file, int32 initializer', mut((d, g) => { g.initializers.push({ name: 'k', dtype: 'int32', shape: [1], data: [1] }); }), 'E_VERSION'],
  ['1.0 file, int32 output', mut((d, g) => { g.outputs[0].dtype = 'int32'; }), 'E_VERSION'],
  ['1.0 file, int32 after a schema error', mut((d, g) => { g.inputs[0].dtype = 'int32'; d.extra = 1; }), 'E_SCHEMA'],
  ['1.0 file, 1.1 op', mut((d, g) => { g.nodes[2].op = 'LogSoftmax'; }), 'E_VERSION'],
  ['1.0 file, 1.1 op with a bad attribute', mut((d, g) => { g.nodes[2].op = 'Cast'; g.nodes[2].attrs = { to: 'x' }; }), 'E_VERSION'],
  ['1.0 file, 1.1 op after limits', mut((d, g) => { g.nodes[2].op = 'Gather'; g.initializers[1].shape = [2 ** 30]; }), 'E_LIMIT'],
  ['1.0 file, int32 beats the 1.1 op', mut((d, g) => { g.nodes[2].op = 'Gather'; g.outputs[0].dtype = 'int32'; }), 'E_VERSION'],
  ['1.1 file, 1.1 op', mut((d, g) => { d.format_version = '1.1'; g.nodes[2].op = 'LogSoftmax'; }), 'OK'],
  // 4: schema
  ['unknown top-level field', mut((d) => { d.extra = 1; }), 'E_SCHEMA'],
  ['wrong format', mut((d) => { d.format = 'onnx'; }), 'E_SCHEMA'],
  ['missing producer', mut((d) => { delete d.producer; }), 'E_SCHEMA'],
  ['bad name', mut((d, g) => { g.inputs[0].name = '1x'; }), 'E_SCHEMA'],
  ['bad dtype', mut((d, g) => { g.initializers[0].dtype = 'float64'; }), 'E_SCHEMA'],
  ['bad dtype in a 1.1 file', mut((d, g) => { d.format_version = '1.1'; g.inputs[0].dtype = 'bool'; }), 'E_SCHEMA'],
  ['Concat with no input', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: [], outputs: ['y'], attrs: { axis: 0 } }; }), 'E_SCHEMA'],
  ['Concat with 65 inputs', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: Array(65).fill('u'), outputs: ['y'], attrs: { axis: 1 } }; }), 'E_SCHEMA'],
  ['Concat without axis', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: ['u'], outputs: ['y'] }; }), 'E_SCHEMA'],
  ['Cast to float64', v11((g) => { g.nodes[2] = { op: 'Cast', inputs: ['u'], outputs: ['y'], attrs: { to: 'float64' } }; }), 'E_SCHEMA'],
  ['Cast without to', v11((g) => { g.nodes[2] = { op: 'Cast', inputs: ['u'], outputs: ['y'] }; }), 'E_SCHEMA'],
  ['Slice zero step', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [1], steps: [0] }); }), 'E_SCHEMA'],
  ['Slice empty starts', v11((g) => { g.nodes[2] = slice({ starts: [], ends: [] }); }), 'E_SCHEMA'],
  ['Slice lengths differ', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [1, 2] }); }), 'E_SCHEMA'],
  ['Slice axes length differs', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [1], axes: [0, 1] }); }), 'E_SCHEMA'],
  ['Slice float start', v11((g) => { g.nodes[2] = slice({ starts: [0.5], ends: [1] }); }), 'E_SCHEMA'],
  ['Slice 9 starts', v11((g) => { g.nodes[2] = slice({ starts: Array(9).fill(0), ends: Array(9).fill(1) }); }), 'E_SCHEMA'],
  ['Slice repeated axis', v11((g) => { g.nodes[2] = slice({ starts: [0, 0], ends: [1, 1], axes: [1, 1] }); }), 'E_SCHEMA'],
  ['ArgMax without axis', v11((g) => { g.nodes[2] = { op: 'ArgMax', inputs: ['u'], outputs: ['y'] }; }), 'E_SCHEMA'],
  ['ArgMax keepdims 1', v11((g) => { g.nodes[2] = { op: 'ArgMax', inputs: ['u'], outputs: ['y'], attrs: { axis: 0, keepdims: 1 } }; }), 'E_SCHEMA'],
  ['Where with two inputs', v11((g) => { g.nodes[2] = { op: 'Where', inputs: ['u', 'u'], outputs: ['y'] }; }), 'E_SCHEMA'],
  ['both data and data_b64', mut((d, g) => { g.initializers[1].data_b64 = 'AAAAAAAAAAA='; }), 'E_SCHEMA'],
  ['neither data nor data_b64', mut((d, g) => { delete g.initializers[1].data; }), 'E_SCHEMA'],
  ['non-numeric data', mut((d, g) => { g.initializers[1].data = [0.1, '0.2']; }), 'E_SCHEMA'],
  ['non-finite string in model data', mut((d, g) => { g.initializers[1].data = [0.1, 'inf']; }), 'E_SCHEMA'],
  ['dim 0', mut((d, g) => { g.initializers[1].shape = [0]; }), 'E_SCHEMA'],
  ['dim 2.5', mut((d, g) => { g.inputs[0].shape = ['batch', 2.5]; }), 'E_SCHEMA'],
  ['wrong input count', mut((d, g) => { g.nodes[1].inputs = ['t']; }), 'E_SCHEMA'],
  ['two outputs', mut((d, g) => { g.nodes[1].outputs = ['u', 'v']; }), 'E_SCHEMA'],
  ['unknown attribute', mut((d, g) => { g.nodes[0].attrs = { alpha: 1 }; }), 'E_SCHEMA'],
  ['non-boolean transpose', mut((d, g) => { g.nodes[0].attrs = { transpose_b: 1 }; }), 'E_SCHEMA'],
  ['Clip min > max', mut((d, g) => { g.nodes[2].op = 'Clip'; g.nodes[2].attrs = { min: 1, max: 0 }; }), 'E_SCHEMA'],
  ['Clip min overflows float32', mut((d, g) => { g.nodes[2].op = 'Clip'; g.nodes[2].attrs = { min: 1e39 }; }), 'E_SCHEMA'],
  ['repeated axis', mut((d, g) => { g.nodes[2].op = 'ReduceSum'; g.nodes[2].attrs = { axes: [1, 1] }; }), 'E_SCHEMA'],
  ['Reshape without shape', mut((d, g) => { g.nodes[2].op = 'Reshape'; }), 'E_SCHEMA'],
  ['Reshape two -1', mut((d, g) => { g.nodes[2].op = 'Reshape'; g.nodes[2].attrs = { shape: [-1, -1] }; }), 'E_SCHEMA'],
  ['schema beats limits', mut((d, g) => { g.initializers[1].shape = [2 ** 62]; d.extra = 1; }), 'E_SCHEMA'],
  // 5: limits
  ['dim 2^62', mut((d, g) => { g.initializers[1].shape = [2 ** 62]; }), 'E_LIMIT'],
  ['element count overflow', mut((d, g) => { g.inputs[0].shape = ['batch', 65536, 65536, 65536, 65536]; }), 'E_LIMIT'],
  ['rank 9', mut((d, g) => { g.inputs[0].shape = [1, 1, 1, 1, 1, 1, 1, 1, 1]; }), 'E_LIMIT'],
  ['name of 257 bytes', mut((d, g) => { g.initializers[1].name = 'b'.repeat(257); }), 'E_LIMIT'],
  ['limits beat unknown op', mut((d, g) => { g.nodes[2].op = 'Gelu'; g.initializers[1].shape = [2 ** 30]; }), 'E_LIMIT'],
  // 6: unknown op
  ['unknown op', mut((d, g) => { g.nodes[2].op = 'Gelu'; }), 'E_UNKNOWN_OP'],
  ['unknown op beats bad data', mut((d, g) => { g.nodes[2].op = 'Gelu'; g.initializers[1].data = [1]; }), 'E_UNKNOWN_OP'],
  // 7: data
  ['data shorter', mut((d, g) => { g.initializers[1].data = [0.1]; }), 'E_DATA'],
  ['data longer', mut((d, g) => { g.initializers[1].data = [0.1, 0.2, 0.3]; }), 'E_DATA'],
  ['data overflows float32', mut((d, g) => { g.initializers[1].data = [0.1, 1e39]; }), 'E_DATA'],
  ['data 1e400 (inf as double)', text(base()).replace('0.2]', '1e400]'), 'E_DATA'],
  ['base64 wrong length', mut((d, g) => { delete g.initializers[1].data; g.initializers[1].data_b64 = 'AAAAAA=='; }), 'E_DATA'],
  ['base64 malformed', mut((d, g) => { delete g.initializers[1].data; g.initializers[1].data_b64 = 'AAAAAAAAAAA'; }), 'E_DATA'],
  ['base64 NaN', mut((d, g) => { delete g.initializers[1].data; g.initializers[1].data_b64 = 'AADAfwAAAAA='; }), 'E_DATA'],
  ['base64 ok', mut((d, g) => { delete g.initializers[1].data; g.initializers[1].data_b64 = 'AACAPwAAAEA='; }), 'OK'],
  ['checksum ok', mut((d, g) => { g.initializers[1].data = [1, 2]; g.initializers[1].checksum = 'crc32:2e3fa576'; }), 'OK'],
  ['checksum mismatch', mut((d, g) => { g.initializers[1].checksum = 'crc32:00000000'; }), 'E_DATA'],
  ['data beats graph', mut((d, g) => { g.initializers[1].data = [0.1]; g.nodes[1].inputs = ['t', 'nope']; }), 'E_DATA'],
  ['int32 data 1.5', v11((g) => { g.initializers.push(int32([1.5])); }), 'E_DATA'],
  ['int32 data 2^31', v11((g) => { g.initializers.push(int32([2147483648])); }), 'E_DATA'],
  ['int32 data -2^31 - 1', v11((g) => { g.initializers.push(int32([-2147483649])); }), 'E_DATA'],
  ['int32 data 1e10', v11((g) => { g.initializers.push(int32([1e10])); }), 'E_DATA'],
  ['int32 data 1e400', text(v11((g) => { g.initializers.push(int32([12345])); })).replace('12345', '1e400'), 'E_DATA'],
  ['int32 data "nan" (not a number: schema)', v11((g) => { g.initializers.push(int32(['nan'])); }), 'E_SCHEMA'],
  ['int32 data at the limits, 7.0, -0', v11((g) => { g.initializers.push(int32([-2147483648, 2147483647, 7.0, -0], [4])); }), 'OK'],
  ['int32 data shorter', v11((g) => { g.initializers.push(int32([1, 2], [3])); }), 'E_DATA'],
  ['int32 base64 ok', v11((g) => { g.initializers.push({ name: 'k', dtype: 'int32', shape: [2], data_b64: '/////wAAAIA=' }); }), 'OK'],
  ['int32 base64 wrong length', v11((g) => { g.initializers.push({ name: 'k', dtype: 'int32', shape: [3], data_b64: '/////wAAAIA=' }); }), 'E_DATA'],
  ['int32 base64 NaN bits are an integer', v11((g) => { g.initializers.push({ name: 'k', dtype: 'int32', shape: [1], data_b64: 'AADAfw==' }); }), 'OK'],
  ['int32 checksum ok', v11((g) => { g.initializers.push({ ...int32([-1, -2147483648], [2]), checksum: 'crc32:12477cdf' }); }), 'OK'],
  ['int32 checksum mismatch', v11((g) => { g.initializers.push({ ...int32([-1, -2147483648], [2]), checksum: 'crc32:2144df1c' }); }), 'E_DATA'],
  // 8: graph
  ['duplicate names', mut((d, g) => { g.initializers[1].name = 'W'; }), 'E_GRAPH'],
  ['node output shadows input', mut((d, g) => { g.nodes[0].outputs = ['x']; }), 'E_GRAPH'],
  ['undefined input', mut((d, g) => { g.nodes[1].inputs = ['t', 'nope']; }), 'E_GRAPH'],
  ['a cycle', mut((d, g) => { g.nodes[0].inputs = ['y', 'W']; }), 'E_GRAPH'],
  ['undefined graph output', mut((d, g) => { g.outputs[0].name = 'z'; }), 'E_GRAPH'],
  ['output listed twice', mut((d, g) => { g.outputs.push({ ...g.outputs[0] }); }), 'E_GRAPH'],
  ['graph beats shape', mut((d, g) => { g.initializers[0].shape = [2, 3]; g.nodes[2].inputs = ['nope']; }), 'E_GRAPH'],
  // 9: shape
  ['matmul inner mismatch', mut((d, g) => { g.initializers[0].shape = [2, 3]; }), 'E_SHAPE'],
  ['broadcast mismatch', mut((d, g) => { g.initializers[1].shape = [3]; g.initializers[1].data = [1, 2, 3]; }), 'E_SHAPE'],
  ['symbol vs integer', mut((d, g) => { g.outputs[0].shape = [4, 2]; }), 'E_SHAPE'],
  ['declared output shape differs', mut((d, g) => { g.outputs[0].shape = ['batch', 3]; }), 'E_SHAPE'],
  ['axis out of range', mut((d, g) => { g.nodes[2].op = 'Softmax'; g.nodes[2].attrs = { axis: 2 }; }), 'E_SHAPE'],
  ['bad perm', mut((d, g) => { g.nodes[2].op = 'Transpose'; g.nodes[2].attrs = { perm: [0, 2] }; }), 'E_SHAPE'],
  ['reshape count mismatch', mut((d, g) => { g.nodes[2].op = 'Reshape'; g.nodes[2].attrs = { shape: ['batch', 3] }; }), 'E_SHAPE'],
  ['reshape drops a symbol', mut((d, g) => { g.nodes[2].op = 'Reshape'; g.nodes[2].attrs = { shape: [-1] }; }), 'E_SHAPE'],
  ['reshape ok', mut((d, g) => { g.nodes[2].op = 'Reshape'; g.nodes[2].attrs = { shape: [2, 'batch'] }; g.outputs[0].shape = [2, 'batch']; }), 'OK'],
  // 9: dtypes (E_SHAPE), 1.1 shapes
  ['int32 operand of Add', v11((g) => { g.initializers[1] = int32([1, 2], [2], 'b'); }), 'E_SHAPE'],
  ['int32 operand of MatMul', v11((g) => { g.initializers[0] = int32([1, 2, 3, 4, 5, 6], [3, 2], 'W'); }), 'E_SHAPE'],
  ['Greater of float32 and int32', v11((g) => { g.initializers.push(int32([1])); g.nodes[2] = { op: 'Greater', inputs: ['u', 'k'], outputs: ['y'] }; g.outputs[0].dtype = 'int32'; }), 'E_SHAPE'],
  ['Greater ok', v11((g) => { g.nodes[2] = { op: 'Greater', inputs: ['u', 'b'], outputs: ['y'] }; g.outputs[0].dtype = 'int32'; }), 'OK'],
  ['declared output dtype differs', v11((g) => { g.nodes[2] = { op: 'Greater', inputs: ['u', 'b'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['And of float32', v11((g) => { g.nodes[2] = { op: 'And', inputs: ['u', 'b'], outputs: ['y'] }; g.outputs[0].dtype = 'int32'; }), 'E_SHAPE'],
  ['Not of float32', v11((g) => { g.nodes[2] = { op: 'Not', inputs: ['u'], outputs: ['y'] }; g.outputs[0].dtype = 'int32'; }), 'E_SHAPE'],
  ['Where float32 condition', v11((g) => { g.nodes[2] = { op: 'Where', inputs: ['u', 'u', 'b'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['Where mixed branches', v11((g) => { g.initializers.push(int32([1, 0], [2])); g.nodes[2] = { op: 'Where', inputs: ['k', 'u', 'k'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['Where 3-way broadcast mismatch', v11((g) => { g.initializers.push(int32([1, 0, 1], [3])); g.nodes[2] = { op: 'Where', inputs: ['k', 'u', 'b'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['Where ok', v11((g) => { g.initializers.push(int32([1, 0], [2])); g.nodes[2] = { op: 'Where', inputs: ['k', 'u', 'b'], outputs: ['y'] }; }), 'OK'],
  ['Gather float32 indices', v11((g) => { g.nodes[2] = { op: 'Gather', inputs: ['u', 'b'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['Gather axis out of range', v11((g) => { g.initializers.push(int32([1])); g.nodes[2] = { op: 'Gather', inputs: ['b', 'k'], outputs: ['y'], attrs: { axis: 1 } }; }), 'E_SHAPE'],
  ['Gather rank 9', v11((g) => { g.initializers.push(int32([0], [1, 1, 1, 1, 1, 1, 1, 1])); g.nodes[2] = { op: 'Gather', inputs: ['u', 'k'], outputs: ['y'], attrs: { axis: 1 } }; }), 'E_LIMIT'],
  ['Concat symbol on the axis', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: ['u', 'u'], outputs: ['y'], attrs: { axis: 0 } }; }), 'E_SHAPE'],
  ['Concat dims differ', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: ['u', 'W'], outputs: ['y'], attrs: { axis: 1 } }; }), 'E_SHAPE'],
  ['Concat ranks differ', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: ['u', 'b'], outputs: ['y'], attrs: { axis: 0 } }; }), 'E_SHAPE'],
  ['Concat dtypes differ', v11((g) => { g.initializers.push(int32([1, 2], [1, 2])); g.nodes[2] = { op: 'Concat', inputs: ['u', 'k'], outputs: ['y'], attrs: { axis: 1 } }; }), 'E_SHAPE'],
  ['Concat ok', v11((g) => { g.nodes[2] = { op: 'Concat', inputs: ['u', 'u'], outputs: ['y'], attrs: { axis: 1 } }; g.outputs[0].shape = ['batch', 4]; }), 'OK'],
  ['Slice symbolic axis', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [1] }); }), 'E_SHAPE'],
  ['Slice empty result', v11((g) => { g.nodes[2] = slice({ starts: [1], ends: [1], axes: [1] }); }), 'E_SHAPE'],
  ['Slice empty result, negative step', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [5], axes: [1], steps: [-1] }); }), 'E_SHAPE'],
  ['Slice axes repeat after normalising', v11((g) => { g.nodes[2] = slice({ starts: [0, 0], ends: [1, 1], axes: [1, -1] }); }), 'E_SHAPE'],
  ['Slice axis out of range', v11((g) => { g.nodes[2] = slice({ starts: [0], ends: [1], axes: [2] }); }), 'E_SHAPE'],
  ['Slice ok', v11((g) => { g.nodes[2] = slice({ starts: [-1], ends: [-3], axes: [1], steps: [-1] }); }), 'OK'],
  ['ArgMax axis out of range', v11((g) => { g.nodes[2] = { op: 'ArgMax', inputs: ['u'], outputs: ['y'], attrs: { axis: -3 } }; }), 'E_SHAPE'],
  ['ReduceProd of int32', v11((g) => { g.initializers.push(int32([1, 2], [2])); g.nodes[2] = { op: 'ReduceProd', inputs: ['k'], outputs: ['y'] }; }), 'E_SHAPE'],
  ['Transpose of int32 ok', v11((g) => { g.initializers.push(int32([1, 2], [1, 2])); g.nodes[2] = { op: 'Transpose', inputs: ['k'], outputs: ['y'] }; g.outputs[0] = { name: 'y', dtype: 'int32', shape: [2, 1] }; }), 'OK'],
];

for (const [name, src, want] of CASES) {
  test(`${want}: ${name}`, async () => {
    assert.equal(await code(typeof src === 'object' && !(src instanceof Uint8Array) ? text(src) : src), want);
  });
}

test('parsed objects are checked the same way', async () => {
  for (const [name, src, want] of CASES) {
    if (typeof src !== 'object' || src instanceof Uint8Array) continue;
    assert.equal(await code(src), want, name);
  }
});

test('file larger than 256 MiB is E_LIMIT before parsing', async () => {
  const { parseJSONBytes } = await import('../src/json.js');
  const big = new Uint8Array(268435457);
  assert.throws(() => parseJSONBytes(big), (e) => e.code === 'E_LIMIT');
});

test('messages name the node or tensor', async () => {
  await assert.rejects(load(text(mut((d, g) => { g.nodes[2].op = 'Gelu'; }))), /node "sig"/);
  await assert.rejects(load(text(mut((d, g) => { g.nodes[0].op = 'Gelu'; }))), /node #0/);
  await assert.rejects(load(text(mut((d, g) => { g.initializers[1].data = [1]; }))), /initializer b/);
});

for (const kernels of ['js', 'wasm']) {
  test(`run-time E_INPUT and E_LIMIT (${kernels})`, async () => {
    const m = await load(base(), { kernels });
    const run = (feeds) => { try { m.run(feeds); return 'OK'; } catch (e) { if (e instanceof TesseraError) return e.code; throw e; } };
    assert.equal(run({ x: { shape: [2, 3], data: [1, 0, 1, 0, 1, 0] } }), 'OK');
    assert.equal(run({}), 'E_INPUT');
    assert.equal(run({ x: { shape: [1, 3], data: [1, 2, 3] }, z: { shape: [1], data: [1] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [3], data: [1, 2, 3] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [1, 4], data: [1, 2, 3, 4] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [2, 3], data: [1, 2, 3] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [1, 3], data: [1, 'x', 3] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [1, 3], data: [1, 'inf', 'nan'] } }), 'OK');
    for (const v of ['constructor', 'toString', '__proto__', ['inf']]) assert.equal(run({ x: { shape: [1, 3], data: [1, v, 3] } }), 'E_INPUT');
    assert.equal(run({ x: { shape: [0, 3], data: [] } }), 'E_INPUT');
    // a bound shape over 2^26 elements
    const big = await load(mut((d, g) => { g.inputs[0].shape = ['n', 'm']; g.outputs[0].shape = ['n', 2]; g.initializers[0].shape = [3, 2]; }), { kernels }).catch((e) => e);
    assert.ok(big instanceof TesseraError && big.code === 'E_SHAPE'); // m is not 3
    const sym = await load(mut((d, g) => {
      g.inputs = [{ name: 'x', dtype: 'float32', shape: ['n', 1] }, { name: 'z', dtype: 'float32', shape: [1, 'm'] }];
      g.nodes = [{ op: 'Add', inputs: ['x', 'z'], outputs: ['y'] }];
      g.outputs[0].shape = ['n', 'm'];
    }), { kernels });
    const n = 1 << 14;
    const r = (() => { try { sym.run({ x: { shape: [n, 1], data: new Float32Array(n) }, z: { shape: [1, n], data: new Float32Array(n) } }); return 'OK'; } catch (e) { return e.code; } })();
    assert.equal(r, 'E_LIMIT');
    // inconsistent symbol binding
    const two = await load(mut((d, g) => {
      g.inputs = [{ name: 'x', dtype: 'float32', shape: ['n', 2] }, { name: 'z', dtype: 'float32', shape: ['n', 2] }];
      g.nodes = [{ op: 'Add', inputs: ['x', 'z'], outputs: ['y'] }];
      g.outputs[0].shape = ['n', 2];
    }), { kernels });
    assert.throws(() => two.run({ x: { shape: [1, 2], data: [1, 2] }, z: { shape: [2, 2], data: [1, 2, 3, 4] } }), (e) => e.code === 'E_INPUT');
  });
}
