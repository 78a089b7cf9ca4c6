// Type declarations for tessera-runtime/protocol (src/protocol.js).
import type { ModelSource, Tensor } from './index.js';

/** Read and validate an inputs document {"inputs": {...}} (E_PARSE, E_LIMIT, E_INPUT). */
export function loadInputs(source: ModelSource): Promise<Record<string, Tensor>>;
export function readInputsDocument(doc: unknown): Record<string, Tensor>;
/** Shortest decimal giving back the same float32 through double; "inf"/"-inf"/"nan" as JSON strings. */
export function formatF32(v: number): string;
/** One tensor object of the CLI protocol as JSON text. */
export function formatTensor(shape: number[], data: Float32Array): string;
