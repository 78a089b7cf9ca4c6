// Type declarations for tessera-runtime (src/index.js).

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

export interface ValueInfo {
  name: string;
  shape: Dim[];
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** A feed: a Float32Array (shape from the declaration, one symbol inferred),
 * {shape, data} (data may hold numbers or "inf" / "-inf" / "nan"), or the
 * sparse binary form {shape, indices} with the flat indices of the ones. */
export type Feed = Float32Array | number[]
  | { shape: number[]; data: Float32Array | ArrayLike<number | 'inf' | '-inf' | 'nan'> }
  | { shape: number[]; indices: ArrayLike<number> };

export type Kernels = 'auto' | 'js' | 'wasm';

export interface Model {
  /** format_version of the file */
  readonly version: string;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** the kernels in use: 'wasm' (SIMD) or 'js' (plain, strict) */
  readonly kernels: 'js' | 'wasm';
  /** Run the graph; bit-identical on both kernel paths. Throws TesseraError (E_INPUT, E_LIMIT). */
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

/** The format version this runtime implements ("1.0"). */
export const RUNTIME_VERSION: string;

/** Read a source to a JSON document with the strict bounded reader. */
export function readSource(source: ModelSource, label?: string): Promise<unknown>;
export function parseJSONText(text: string, label?: string): unknown;
export function parseJSONBytes(bytes: Uint8Array, label?: string): unknown;
