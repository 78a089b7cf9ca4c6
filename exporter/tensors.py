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

from exporter.errors import ModelError
from exporter.jsonio import format_float32_array, parse_json, read_json_file

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


def decode_b64(text: str) -> np.ndarray | None:
    """Little-endian float32 from strict base64 (padding required), or None when malformed."""
    if len(text) % 4:
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if len(raw) % 4:
        return np.frombuffer(raw, dtype=np.uint8)  # caller reports the length mismatch
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def encode_b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def crc32_of(arr: np.ndarray) -> str:
    """SPEC §3 checksum: CRC-32 (zlib) of the little-endian binary32 bytes."""
    return f"crc32:{zlib.crc32(np.ascontiguousarray(arr, dtype='<f4').tobytes()):08x}"


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


def _tensor_from_json(name: str, obj: object) -> np.ndarray:
    if not isinstance(obj, dict) or "shape" not in obj:
        raise _bad(f"tensor {name!r}: not a tensor object with a shape")
    extra = set(obj) - {"shape", "dtype", "data", "data_b64"}
    if extra:
        raise _bad(f"tensor {name!r}: unknown field(s) {sorted(extra)}")
    if "dtype" in obj and obj["dtype"] != "float32":
        raise _bad(f"tensor {name!r}: dtype must be \"float32\"")
    shape = obj["shape"]
    if not isinstance(shape, list) or not all(_is_dim(d) for d in shape):
        raise _bad(f"tensor {name!r}: shape must be an array of integers >= 1")
    shape = [int(d) for d in shape]
    count = element_count(shape)
    if ("data" in obj) == ("data_b64" in obj):
        raise _bad(f"tensor {name!r}: exactly one of data and data_b64 is required")
    if "data_b64" in obj:
        arr = decode_b64(obj["data_b64"]) if isinstance(obj["data_b64"], str) else None
        if arr is None:
            raise _bad(f"tensor {name!r}: data_b64 is not valid base64")
        if arr.dtype != np.float32 or arr.size != count:
            raise _bad(f"tensor {name!r}: data_b64 holds {arr.nbytes} bytes, shape needs {4 * count}")
        return arr.reshape(shape)
    data = obj["data"]
    if not isinstance(data, list):
        raise _bad(f"tensor {name!r}: data must be an array")
    if len(data) != count:
        raise _bad(f"tensor {name!r}: data has {len(data)} values, shape {shape} needs {count}")
    values = []
    for i, x in enumerate(data):
        if is_number(x):
            values.append(x)
        elif isinstance(x, str) and x in _NONFINITE:
            values.append(_NONFINITE[x])
        else:
            raise _bad(f"tensor {name!r}: data[{i}] is neither a number nor \"inf\", \"-inf\", \"nan\"")
    return numbers_to_float32(values).reshape(shape)


def read_tensors(doc_or_path: object, key: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of an inputs/outputs document: a parsed dict, JSON bytes, or a file path.

    E_PARSE when the text is not JSON, E_INPUT when it is JSON but not a tensors document.
    `key` ("inputs" or "outputs") restricts which kind is accepted.
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
    return {name: _tensor_from_json(name, obj) for name, obj in tensors.items()}


def tensor_to_json(arr: np.ndarray, *, b64: bool = False) -> str:
    """One tensor object as JSON text; non-finite values as strings, -0 kept, shortest decimals."""
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
