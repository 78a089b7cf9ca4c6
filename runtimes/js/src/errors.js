// One error class for every rejection; `code` is one of SPEC.md section 5:
// E_PARSE E_SCHEMA E_VERSION E_UNKNOWN_OP E_GRAPH E_SHAPE E_DATA E_LIMIT E_INPUT.
export class TesseraError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'TesseraError';
    this.code = code;
    this.detail = message;
  }
}

export function fail(code, message) {
  throw new TesseraError(code, message);
}
