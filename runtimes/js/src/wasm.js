// placeholder until the wasm kernels are built
export function wasmSupported() { return false; }
export function wasmBackend() { throw new Error('wasm kernels not built'); }
