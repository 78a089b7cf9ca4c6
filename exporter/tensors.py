"""Tensor data: decimal and base64 decoding/encoding, and the tensor documents of SPEC §9."""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import zlib
from pathlib import Path

import numpy as np

from tessera.exporter.errors import ModelError
from tessera.exporter.jsonio import format_float32_array, parse_json, read_json_file

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
_NONFINITE_TEXT = {"inf": '"inf"', "-inf": '"-inf"', "nan": '"nan"'}


def is_number(x: object) -> bool:
    """A JSON number as parsed by jsonio (bool is not a number)."""
    return type(x) is float or type(x) is int


def _to_double(x: int | float) -> float:
    if type(x) is int:
        try:
            return float(x)  # correctly rounded
        except OverflowError:
            return math.copysign(math.inf, x)
    return x


def numbers_to_float32(values: list) -> np.ndarray:
    """SPEC §3 reading path: each number as a double, then rounded to float32 (nearest even)."""
    if set(map(type, values)) <= {float}:  # the usual case: no integers to round, numpy converts
        doubles = np.array(values, dtype=np.float64)
    else:
        doubles = np.array([_to_double(v) for v in values], dtype=np.float64)
    with np.errstate(over="ignore"):
        return doubles.astype(np.float32)


_INT32_RANGE = (-2147483648.0, 2147483647.0)


def numbers_to_int32(values: list) -> tuple[np.ndarray, int | None]:
    """SPEC §3 int32 reading: each number's double value must be an integer in int32's range.
    Returns the array and None, or an empty array and the index of the first value that is not."""
    if set(map(type, values)) <= {int}:
        doubles = np.array([_to_double(v) for v in values], dtype=np.float64) if values else np.zeros(0)
    else:
        doubles = np.array([_to_double(v) if is_number(v) else math.nan for v in values], dtype=np.float64)
    lo, hi = _INT32_RANGE
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(doubles) & (doubles == np.trunc(doubles)) & (doubles >= lo) & (doubles <= hi)
    bad = np.flatnonzero(~ok)
    if bad.size:
        return np.zeros(0, np.int32), int(bad[0])
    return doubles.astype(np.int32), None


# The little-endian 4-byte encoding of each dtype (SPEC §3: data_b64 and the checksum).
_WIRE = {"float32": "<f4", "int32": "<i4"}
_NATIVE = {"float32": np.float32, "int32": np.int32}


def dtype_name(arr: np.ndarray) -> str:
    """"int32" for an int32 array, else "float32" (the only two dtypes; SPEC §3)."""
    return "int32" if np.asarray(arr).dtype == np.int32 else "float32"


def decode_b64(text: str, dtype: str = "float32") -> np.ndarray | None:
    """Little-endian float32 or int32 from strict base64 (padding required), or None when malformed.
    A length that is not a multiple of 4 gives the raw uint8 bytes (the caller reports it)."""
    if len(text) % 4:
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if len(raw) % 4:
        return np.frombuffer(raw, dtype=np.uint8)  # caller reports the length mismatch
    return np.frombuffer(raw, dtype=_WIRE[dtype]).astype(_NATIVE[dtype])


def _wire_bytes(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr, dtype=_WIRE[dtype_name(arr)]).tobytes()


def encode_b64(arr: np.ndarray) -> str:
    return base64.b64encode(_wire_bytes(arr)).decode("ascii")


def crc32_of(arr: np.ndarray) -> str:
    """SPEC §3 checksum: CRC-32 (zlib) of the little-endian bytes (binary32, or int32 two's complement)."""
    return f"crc32:{zlib.crc32(_wire_bytes(arr)):08x}"


def element_count(shape: list | tuple) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


# ---------------------------------------------------------------- tensor documents (SPEC §9)


def _bad(message: str) -> ModelError:
    return ModelError("E_INPUT", message)


def _is_dim(d: object) -> bool:
    return is_number(d) and math.isfinite(d) and d == int(d) and d >= 1


def _tensor_from_json(name: str, obj: object, declared: str | None = None) -> np.ndarray:
    """One tensor object as an array of its dtype: the declared one when given (a different "dtype"
    field is E_INPUT, SPEC §9), else its own "dtype" field, else float32."""
    if not isinstance(obj, dict) or "shape" not in obj:
        raise _bad(f"tensor {name!r}: not a tensor object with a shape")
    extra = set(obj) - {"shape", "dtype", "data", "data_b64"}
    if extra:
        raise _bad(f"tensor {name!r}: unknown field(s) {sorted(extra)}")
    if "dtype" in obj and obj["dtype"] not in _WIRE:
        raise _bad(f"tensor {name!r}: dtype must be \"float32\" or \"int32\"")
    if declared is not None and obj.get("dtype", declared) != declared:
        raise _bad(f"tensor {name!r}: dtype {obj['dtype']}, the model declares {declared}")
    dtype = declared or obj.get("dtype", "float32")
    shape = obj["shape"]
    if not isinstance(shape, list) or not all(_is_dim(d) for d in shape):
        raise _bad(f"tensor {name!r}: shape must be an array of integers >= 1")
    shape = [int(d) for d in shape]
    count = element_count(shape)
    if ("data" in obj) == ("data_b64" in obj):
        raise _bad(f"tensor {name!r}: exactly one of data and data_b64 is required")
    if "data_b64" in obj:
        arr = decode_b64(obj["data_b64"], dtype) if isinstance(obj["data_b64"], str) else None
        if arr is None:
            raise _bad(f"tensor {name!r}: data_b64 is not valid base64")
        if arr.dtype == np.uint8 or arr.size != count:
            raise _bad(f"tensor {name!r}: data_b64 holds {arr.nbytes} bytes, shape needs {4 * count}")
        return arr.reshape(shape)
    data = obj["data"]
    if not isinstance(data, list):
        raise _bad(f"tensor {name!r}: data must be an array")
    nested = next((i for i, x in enumerate(data) if isinstance(x, (list, dict))), None)
    if nested is not None:
        kind = "an array" if isinstance(data[nested], list) else "an object"
        raise _bad(f"tensor {name!r}: data must be a flat row-major list (value #{nested} is {kind})")
    if len(data) != count:
        raise _bad(f"tensor {name!r}: data has {len(data)} values, shape {shape} needs {count}")
    if dtype == "int32":
        ints, bad_at = numbers_to_int32(data)
        if bad_at is not None:
            raise _bad(f"tensor {name!r}: data[{bad_at}] is not an int32 integer ({data[bad_at]!r})")
        return ints.reshape(shape)
    values = []
    for i, x in enumerate(data):
        if is_number(x):
            values.append(x)
        elif isinstance(x, str) and x in _NONFINITE:
            values.append(_NONFINITE[x])
        else:
            raise _bad(f"tensor {name!r}: data[{i}] is neither a number nor \"inf\", \"-inf\", \"nan\"")
    return numbers_to_float32(values).reshape(shape)


def read_tensors(doc_or_path: object, key: str | None = None,
                 dtypes: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of an inputs/outputs document: a parsed dict, JSON bytes, or a file path.

    E_PARSE when the text is not JSON, E_INPUT when it is JSON but not a tensors document.
    `key` ("inputs" or "outputs") restricts which kind is accepted. `dtypes` (a model's declared
    input dtypes by name) makes each named tensor that dtype (SPEC §9).
    """
    if isinstance(doc_or_path, (str, os.PathLike)):
        doc = read_json_file(doc_or_path, "inputs file")
    elif isinstance(doc_or_path, (bytes, bytearray)):
        doc = parse_json(bytes(doc_or_path))
    else:
        doc = doc_or_path
    if not isinstance(doc, dict) or len(doc) != 1:
        raise _bad("not a tensors document: expected an object with one key, \"inputs\" or \"outputs\"")
    (found,) = doc
    if found not in ("inputs", "outputs") or (key is not None and found != key):
        raise _bad(f"not a tensors document: unexpected key {found!r}")
    tensors = doc[found]
    if not isinstance(tensors, dict):
        raise _bad(f"not a tensors document: {found!r} must be an object")
    dtypes = dtypes or {}
    return {name: _tensor_from_json(name, obj, dtypes.get(name)) for name, obj in tensors.items()}


def tensor_to_json(arr: np.ndarray, *, b64: bool = False) -> str:
    """One tensor object as JSON text; non-finite values as strings, -0 kept, shortest decimals.
    An int32 array carries "dtype": "int32" and prints JSON integers (SPEC §9)."""
    if np.asarray(arr).dtype == np.int32:
        arr = np.asarray(arr)
        shape = json.dumps([int(d) for d in arr.shape])
        if b64:
            return f'{{"shape": {shape}, "dtype": "int32", "data_b64": "{encode_b64(arr)}"}}'
        return f'{{"shape": {shape}, "dtype": "int32", "data": [{", ".join(map(str, arr.ravel().tolist()))}]}}'
    arr = np.asarray(arr, dtype=np.float32)
    shape = json.dumps([int(d) for d in arr.shape])
    if b64:
        return f'{{"shape": {shape}, "data_b64": "{encode_b64(arr)}"}}'
    flat = arr.ravel()
    texts = format_float32_array(np.where(np.isfinite(flat), flat, np.float32(0)))
    for i in np.flatnonzero(~np.isfinite(flat)):
        texts[i] = _NONFINITE_TEXT["nan" if np.isnan(flat[i]) else ("inf" if flat[i] > 0 else "-inf")]
    return f'{{"shape": {shape}, "data": [{", ".join(texts)}]}}'


def _tensor_map_json(key: str, tensors: dict[str, np.ndarray], b64: bool) -> str:
    body = ", ".join(f"{json.dumps(name)}: {tensor_to_json(arr, b64=b64)}" for name, arr in tensors.items())
    return f'{{"{key}": {{{body}}}}}'


def write_outputs(tensors: dict[str, np.ndarray], *, b64: bool = False) -> str:
    """The success document of the runtime CLI protocol, in the dict's order."""
    return _tensor_map_json("outputs", tensors, b64)


def write_inputs(tensors: dict[str, np.ndarray], *, b64: bool = False) -> str:
    """An inputs document (for `tessera run` and the conformance cases)."""
    return _tensor_map_json("inputs", tensors, b64)


def write_error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def save_tensors(path: str | Path, text: str) -> None:
    Path(path).write_text(text + "\n", encoding="utf-8")
