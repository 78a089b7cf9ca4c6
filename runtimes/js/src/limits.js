// SPEC.md section 8.
export const MAX_FILE_BYTES = 268435456; // 256 MiB
export const MAX_DEPTH = 64;
export const MAX_RANK = 8;
export const MAX_ELEMENTS = 67108864; // 2^26, any dim and any tensor's element count
export const MAX_TOTAL_INIT_ELEMENTS = 67108864;
export const MAX_NODES = 65536;
export const MAX_INITIALIZERS = 65536;
export const MAX_GRAPH_IO = 256;
export const MAX_NAME_BYTES = 256;
