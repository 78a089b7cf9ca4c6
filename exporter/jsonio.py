"""Strict JSON reading (SPEC §1, §5 items 1-2), float32 decimal formatting (SPEC §3) and atomic writes.

Python's json module is recursive and lenient (NaN literals, duplicate keys, lone surrogates), so
the strict rules are added around it. Nesting depth is found first by a flat scan, because the
json module would exhaust the stack on hostile nesting before it could report anything.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from tessera.exporter.errors import LIMITS, ModelError

# A complete string literal, or one structural bracket. Text inside strings never counts.
_STRUCT = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)  # strings unrolled: fast on long base64
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_MAX_INT_DIGITS = 4000  # Python refuses to convert longer integers; beyond double range anyway


class _StrictError(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _StrictError(f"{name} is not a JSON number")


def _parse_int(text: str) -> int | float:
    # Longer literals overflow a double: read them as the double they denote (inf), like C and JS.
    return int(text) if len(text) <= _MAX_INT_DIGITS else float(text)


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _StrictError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _depth_overflow(text: str) -> int | None:
    """Index of the first bracket that opens level DEPTH + 1, or None."""
    depth = 0
    for m in _STRUCT.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > LIMITS.DEPTH:
                return m.start()
        elif ch in "]}":
            depth -= 1
    return None


def _open_brackets(text: str) -> str:
    """The closing brackets that would balance the (already depth-checked) prefix `text`."""
    stack: list[str] = []
    for m in _STRUCT.finditer(text):
        ch = m.group()
        if ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    return "".join(reversed(stack))


def _check_strings(value: object) -> None:
    """Lone surrogates (from \\ud800-style escapes) are not Unicode text: E_PARSE."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                raise _StrictError("unpaired surrogate in a string")
        elif isinstance(v, dict):
            for k, item in v.items():
                stack.append(k)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def _loads(text: str) -> object:
    value = json.loads(
        text, object_pairs_hook=_pairs, parse_constant=_reject_constant, parse_int=_parse_int
    )
    if _SURROGATE.search(text) or _SURROGATE_ESCAPE.search(text):  # else no string can hold one
        _check_strings(value)
    return value


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        # Document order: a depth overflow before the bad byte wins.
        prefix = bytes(data[: exc.start]).decode("utf-8")
        if _depth_overflow(prefix) is not None:
            raise ModelError("E_LIMIT", f"JSON nesting deeper than {LIMITS.DEPTH}") from None
        raise ModelError("E_PARSE", f"invalid UTF-8 at byte {exc.start}") from None


def parse_json(data: bytes | str) -> object:
    """Parse one strict JSON text (SPEC §1). Raises ModelError E_PARSE or E_LIMIT."""
    text = _decode(data)
    overflow = _depth_overflow(text)
    if overflow is not None:
        # Parse the prefix with a harmless value at the overflow point: if that prefix is already
        # wrong, the syntax error comes first in document order.
        probe = text[:overflow] + "[]" + _open_brackets(text[:overflow])
        try:
            _loads(probe)
        except (ValueError, RecursionError) as exc:
            raise ModelError("E_PARSE", f"invalid JSON: {exc}") from None
        raise ModelError("E_LIMIT", f"JSON nesting deeper than {LIMITS.DEPTH} (at offset {overflow})")
    try:
        return _loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelError("E_PARSE", f"invalid JSON: {exc}") from None


def read_file_limited(path: str | os.PathLike, what: str = "file") -> bytes:
    """Read a model or inputs file; E_LIMIT above the size limit (before reading), E_PARSE if unreadable."""
    try:
        size = os.stat(path).st_size
        if size > LIMITS.FILE_BYTES:
            raise ModelError("E_LIMIT", f"{what} {path} is {size} bytes (limit {LIMITS.FILE_BYTES})")
        with open(path, "rb") as fh:
            data = fh.read(LIMITS.FILE_BYTES + 1)
    except OSError as exc:
        raise ModelError("E_PARSE", f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > LIMITS.FILE_BYTES:  # grew while reading, or a special file
        raise ModelError("E_LIMIT", f"{what} {path} is larger than {LIMITS.FILE_BYTES} bytes")
    return data


def read_json_file(path: str | os.PathLike, what: str = "file") -> object:
    return parse_json(read_file_limited(path, what))


def _round_trips(text: str, bits: np.uint32) -> bool:
    # The SPEC §3 reading path: decimal -> double (correctly rounded) -> float32 (nearest even).
    return np.array([float(text)], dtype=np.float64).astype(np.float32).view(np.uint32)[0] == bits


def format_float32(v: np.float32 | float) -> str:
    """Shortest decimal that gives back `v` through double-then-float32 rounding (finite v only)."""
    v = np.float32(v)
    if not np.isfinite(v):
        raise ValueError(f"format_float32 needs a finite value, got {v}")
    bits = np.array([v], dtype=np.float32).view(np.uint32)[0]
    text = str(v)
    if _round_trips(text, bits):
        return text
    # The float32-shortest decimal lies too close to a rounding boundary once read as a double:
    # more digits, up to the exact double (which always works).
    for digits in range(len(text.replace("-", "").replace(".", "")), 18):
        text = repr(float(f"{float(v):.{digits}g}"))
        if _round_trips(text, bits):
            return text
    return repr(float(v))


def format_float32_array(arr: np.ndarray) -> list[str]:
    """format_float32 for every (finite) element, vectorised for the common case."""
    flat = np.ascontiguousarray(arr, dtype=np.float32).ravel()
    texts = flat.astype(str)
    back = texts.astype(np.float64).astype(np.float32)
    bad = back.view(np.uint32) != flat.view(np.uint32)
    out = texts.tolist()
    for i in np.flatnonzero(bad):
        out[i] = format_float32(flat[i])
    return out


def _new_file_mode() -> int:
    """The mode open() would give a new file (mkstemp makes 0600 files, too private for a model)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write all of `data` or nothing: temp file in the same directory, fsync, rename over `path`."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), _new_file_mode())
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
