// Type declarations for tessera-exact: src/index.js (Node) and dist/tessera.min.js (the browser build, the same exports).

export type ErrorCode = 'E_PARSE' | 'E_SCHEMA' | 'E_VERSION' | 'E_UNKNOWN_OP' | 'E_GRAPH'
  | 'E_SHAPE' | 'E_DATA' | 'E_LIMIT' | 'E_INPUT';

/** Every rejection of a model or of inputs (SPEC.md section 5). */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  /** The message without the code prefix. */
  readonly detail: string;
}

/** A dimension: an integer, or a symbolic name bound at run time. */
export type Dim = number | string;

/** A tensor's element type (int32 since format 1.1; booleans are int32 0/1). */
export type DType = 'float32' | 'int32';

export interface ValueInfo {
  name: string;
  shape: Dim[];
  dtype: DType;
}

/** An output: a Float32Array for a float32 output, an Int32Array for an int32 one. */
export interface Tensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A feed of a float32 input: a Float32Array (shape from the declaration, one
 * symbol inferred), {shape, data} (data may hold numbers or "inf" / "-inf" /
 * "nan"), or the sparse binary form {shape, indices} with the flat indices of
 * the ones. An int32 input takes an Int32Array or integers in int32 range
 * instead (no sparse form). Any other typed array, a Float32Array for an int32
 * input or an Int32Array for a float32 one is E_INPUT. */
export type Feed = Float32Array | Int32Array | number[]
  | { shape: number[]; data: Float32Array | Int32Array | ArrayLike<number | 'inf' | '-inf' | 'nan'> }
  | { shape: number[]; indices: ArrayLike<number> };

export type Kernels = 'auto' | 'js' | 'wasm';

export interface Model {
  /** format_version of the file */
  readonly version: string;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** the kernels in use: 'wasm' (SIMD) or 'js' (plain, strict) */
  readonly kernels: 'js' | 'wasm';
  /** Run the graph; bit-identical on both kernel paths. Throws TesseraError (E_INPUT, E_LIMIT;
   * E_INPUT also for a Gather index out of range, with no output). */
  run(feeds: Record<string, Feed>): Record<string, Tensor>;
}

/** A parsed object, JSON text, bytes, a fetch Response / Blob, a URL, or (Node) a file path. */
export type ModelSource = object | string | ArrayBuffer | ArrayBufferView | Response | Blob | URL;

export interface LoadOptions {
  /** 'auto' (default): wasm SIMD when the engine supports it, else plain JS. */
  kernels?: Kernels;
}

/** Load and check a model (SPEC.md section 5 order); rejects with TesseraError. */
export function load(source: ModelSource, options?: LoadOptions): Promise<Model>;

/** True when this engine runs the wasm SIMD kernels. */
export function wasmSupported(): boolean;

/** An attribute kind, checked at load: 'f32' is a number finite as float32,
 * 'axes' 1 to 8 distinct ints, 'ints' 1 to 8 ints, 'perm' distinct ints >= 0,
 * 'rshape' Reshape entries, 'dtype' "float32" or "int32", 'size' an int in
 * [1, 65535] (group), 'size2' 2 of them (strides, dilations, kernel_shape),
 * 'pads4' 4 ints in [0, 65535] (SPEC.md section 6). */
export type AttrKind = 'bool' | 'f32' | 'int' | 'axes' | 'ints' | 'perm' | 'rshape' | 'dtype' | 'size' | 'size2' | 'pads4';

export interface OpAttr {
  readonly kind: AttrKind;
  readonly required: boolean;
  /** The value when absent (optional attributes only); null: derived from
   * the operand's shape (all axes, the reversed permutation). */
  readonly default?: boolean | number | null;
}

/** A node's output shape (symbols kept) and dtype, and its attributes resolved against the ranks. */
export interface OpPlan {
  shape: Dim[];
  dtype: DType;
  [attribute: string]: unknown;
}

/** One operand of a plain-JS kernel; `constant`: a model initializer. */
export interface KernelInput {
  data: Float32Array | Int32Array;
  shape: number[];
  constant: boolean;
}

/** One row of the op table. */
export interface OpRow {
  /** The input count, or [min, max] (Concat: [1, 64]). */
  readonly arity: number | readonly [number, number];
  /** The format version that added the op; absent: 1.0. */
  readonly since?: '1.1' | '1.2';
  /** Operand and output dtypes, "ins:out": 'f' float32, 'i' int32, 'T' the
   * dtype of the first T operand; the last operand letter repeats; no output
   * letter: the plan's dtype (Cast). Absent: float32 only. */
  readonly types?: string;
  readonly attrs: Readonly<Record<string, OpAttr>>;
  /** Attribute rules beyond the kinds (E_SCHEMA); attrs have their defaults. */
  check?(attrs: Record<string, unknown>, bad: (what: string) => never): unknown;
  /** The shape rule: operand shapes and attributes (defaults filled in) to the plan; throws E_SHAPE. */
  shape(inputShapes: Dim[][], attrs: Record<string, unknown>, who: string): OpPlan;
  /** The plain-JS strict kernel; its result's class is the plan's dtype. */
  js(inputs: KernelInput[], plan: OpPlan, outShape: number[]): Float32Array | Int32Array;
  /** The wasm export it calls (a tsr_k_* function of runtimes/c/src/kernels.h)
   * and the op code passed to a shared kernel (`symbol`: the TSR_K_* name of
   * `code`); null: the plain-JS kernel runs under the wasm backend too. */
  readonly wasm: { readonly fn: string; readonly code?: number; readonly symbol?: string } | null;
}

/** The op set, one frozen row per operator, in the order of SPEC.md section 6. */
export const OPS: Readonly<Record<string, OpRow>>;

/** The format version this runtime implements ("1.2"). */
export const RUNTIME_VERSION: string;

/** Read a source to a JSON document with the strict bounded reader. */
export function readSource(source: ModelSource, label?: string): Promise<unknown>;
export function parseJSONText(text: string, label?: string): unknown;
export function parseJSONBytes(bytes: Uint8Array, label?: string): unknown;
