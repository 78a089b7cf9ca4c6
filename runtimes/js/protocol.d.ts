// Type declarations for tessera-exact/protocol (src/protocol.js).
import type { ModelSource, Tensor, ValueInfo } from './index.js';

/** Read and validate an inputs document {"inputs": {...}} (E_PARSE, E_LIMIT, E_INPUT).
 * `decls` (a model's `inputs`): a tensor without "dtype" takes its input's
 * dtype (float32 without decls); a "dtype" that differs from it is E_INPUT;
 * int32 data must be integers in int32 range. */
export function loadInputs(source: ModelSource, decls?: readonly ValueInfo[]): Promise<Record<string, Tensor>>;
export function readInputsDocument(doc: unknown, decls?: readonly ValueInfo[]): Record<string, Tensor>;
/** Shortest decimal giving back the same float32 through double; "inf"/"-inf"/"nan" as JSON strings. */
export function formatF32(v: number): string;
/** One tensor object of the CLI protocol as JSON text; an Int32Array carries
 * "dtype": "int32" and prints JSON integers. */
export function formatTensor(shape: number[], data: Float32Array | Int32Array): string;
