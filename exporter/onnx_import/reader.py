"""Reading an ONNX file: bytes to a checked ModelProto, TensorProtos to numpy, declared types to the format's.

Errors follow SPEC §5 for our own files: a file above the size limit is E_LIMIT, bytes that are not an
ONNX protobuf are E_PARSE, a ModelProto that onnx.checker rejects is E_SCHEMA, a default-domain opset
outside the range this importer reads is E_VERSION. Tensor data is read from any ONNX storage (raw_data,
the typed fields float_data/int32_data/int64_data/double_data, external data beside the file) by
onnx.numpy_helper and converted to the format's two dtypes only where that is exact (`to_format`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from tessera.exporter.errors import LIMITS, ModelError

OPSET_MIN = 13
OPSET_MAX = 21

MISSING_ONNX = "importing ONNX needs the onnx package: pip install onnx"

_INT32 = (-(2**31), 2**31 - 1)


def import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(MISSING_ONNX) from exc
    return onnx


def read_model(source: str | os.PathLike | bytes | bytearray) -> tuple[Any, Path | None]:
    """The checked ModelProto and the directory external data is read from (None for bytes)."""
    onnx = import_onnx()
    base: Path | None = None
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if len(data) > LIMITS.FILE_BYTES:
            raise ModelError("E_LIMIT", f"the ONNX model is {len(data)} bytes (limit {LIMITS.FILE_BYTES})")
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > LIMITS.FILE_BYTES:
                raise ModelError("E_LIMIT", f"{path} is {size} bytes (limit {LIMITS.FILE_BYTES})")
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError("E_PARSE", f"cannot read {path}: {exc.strerror or exc}") from None
        base = path.resolve().parent
    try:
        proto = onnx.ModelProto()
        proto.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise ModelError("E_PARSE", f"not an ONNX model (protobuf): {exc}") from None
    if not proto.HasField("graph"):
        raise ModelError("E_PARSE", "not an ONNX model: no graph (an empty or foreign protobuf)")
    from onnx import external_data_helper

    external = [t.name for t in proto.graph.initializer if external_data_helper.uses_external_data(t)]
    if external and base is None:
        raise ModelError("E_DATA", f"tensor {external[0]!r} is stored outside the model (external data): "
                                   "import from the file's path, not from bytes")
    try:
        # a path lets the checker find external data beside the file
        onnx.checker.check_model(str(source) if external else proto)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError("E_SCHEMA", f"onnx.checker rejects the model: {first}") from None
    return proto, base


def default_opset(proto: Any) -> int:
    """The default-domain opset; E_VERSION outside OPSET_MIN..OPSET_MAX."""
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ModelError("E_VERSION", "the model imports no default-domain ONNX opset")
    opset = versions[0]
    if not OPSET_MIN <= opset <= OPSET_MAX:
        raise ModelError("E_VERSION", f"ONNX opset {opset}; this importer reads opsets {OPSET_MIN} to {OPSET_MAX}")
    return opset


def tensor_array(proto_tensor: Any, base: Path | None) -> np.ndarray:
    """A TensorProto's values (its own numpy dtype), from raw_data, typed fields or external data."""
    onnx = import_onnx()
    from onnx import external_data_helper, numpy_helper

    name = proto_tensor.name or "(unnamed)"
    if external_data_helper.uses_external_data(proto_tensor):
        if base is None:
            raise ModelError("E_DATA", f"tensor {name!r} is stored outside the model (external data): "
                                       "import from the file's path, not from bytes")
        info = external_data_helper.ExternalDataInfo(proto_tensor)
        location = Path(info.location)
        target = (base / location).resolve()
        if location.is_absolute() or base not in target.parents:
            raise ModelError("E_DATA", f"tensor {name!r}: external data location {info.location!r} is outside "
                                       f"the model's directory")
        if not target.is_file():
            raise ModelError("E_DATA", f"tensor {name!r}: external data file {target} not found")
    try:
        arr = numpy_helper.to_array(proto_tensor, str(base) if base else "")
    except (ValueError, TypeError, OSError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:
        raise ModelError("E_DATA", f"tensor {name!r}: cannot read its data: {exc}") from None
    return np.asarray(arr)


def to_format(arr: np.ndarray, what: str, round_float64: bool = False) -> np.ndarray:
    """The array as float32 or int32, or E_DATA naming `what` where the conversion would change a value.

    float16 is exact in float32; float64 is exact where every value is a float32 (else refused, or rounded to
    nearest even with round_float64); int64 and the smaller integer types are exact within int32; bool is 0/1.
    Float values must be finite (SPEC §3)."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.int32)
    if kind in "iu":
        if arr.size and (int(arr.min()) < _INT32[0] or int(arr.max()) > _INT32[1]):
            bad = arr[(arr < _INT32[0]) | (arr > _INT32[1])].ravel()[0]
            raise ModelError("E_DATA", f"{what} is {arr.dtype} with the value {int(bad)}, beyond int32 "
                                       "(the format's only integer dtype)")
        return arr.astype(np.int32)
    if kind == "f" and arr.dtype.itemsize <= 8:
        with np.errstate(over="ignore"):
            out = arr.astype(np.float32)
        if arr.dtype == np.float64 and not round_float64:
            inexact = (out.astype(np.float64) != arr) & ~np.isnan(arr)
            if inexact.any():
                i = int(np.flatnonzero(inexact.ravel())[0])
                raise ModelError("E_DATA", f"{what} is float64 and its value {arr.ravel()[i]!r} (element {i}) is "
                                           "not a float32; pass round_float64=True (--round-float64) to round "
                                           "to nearest even")
        if not np.isfinite(out).all():
            i = int(np.flatnonzero(~np.isfinite(out.ravel()))[0])
            raise ModelError("E_DATA", f"{what}: element {i} is {arr.ravel()[i]!r} as float32; the format's "
                                       "tensors hold finite values only")
        return out
    raise ModelError("E_DATA", f"{what} has the element type {arr.dtype}, which the format cannot hold")


# TensorProto element types of declared values -> the format's dtype, or None (refused).
def declared_dtype(elem_type: int) -> str | None:
    onnx = import_onnx()
    t = onnx.TensorProto
    if elem_type == t.FLOAT:
        return "float32"
    if elem_type in (t.INT32, t.INT64, t.BOOL):
        return "int32"
    return None


def elem_name(elem_type: int) -> str:
    onnx = import_onnx()
    return onnx.TensorProto.DataType.Name(elem_type)


_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def symbol(text: str) -> str:
    """A dim_param as a format symbol (SPEC §3): invalid characters become '_'."""
    if _SYMBOL.match(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return cleaned if _SYMBOL.match(cleaned) else f"_{cleaned}"
