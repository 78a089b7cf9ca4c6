"""Compare a runtime's output document with a case's expectation, bit for bit.

NaN equals NaN (any payload); +0 and -0 differ; every other float32 must have
the same bit pattern. An int32 output (SPEC 9: it carries "dtype": "int32") must
come back as int32 with the same integers. A failure message names the first
differing element.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

NON_FINITE = {"inf": np.inf, "-inf": -np.inf, "nan": np.nan}


def tensor_values(t: dict[str, Any]) -> tuple[list[int], np.ndarray]:
    """A tensor object's shape and data (decimal or base64): float32, or int32 when it says so.
    int32 decimals must be JSON integers (a runtime printing 3.0 or 1.5 fails)."""
    import base64

    shape = [int(d) for d in t["shape"]]
    dtype = t.get("dtype", "float32")
    if dtype == "int32":
        if "data_b64" in t:
            return shape, np.frombuffer(base64.b64decode(t["data_b64"], validate=True), dtype="<i4").astype(np.int32)
        if not all(type(v) is int for v in t["data"]):
            raise ValueError("int32 data must be JSON integers")
        return shape, np.array(t["data"], dtype=np.int64).astype(np.int32)
    if dtype != "float32":
        raise ValueError(f"unknown dtype {dtype!r}")
    if "data_b64" in t:
        data = np.frombuffer(base64.b64decode(t["data_b64"], validate=True), dtype="<f4").astype(np.float32)
    else:
        data = np.array([NON_FINITE[v] if isinstance(v, str) else float(v) for v in t["data"]],
                        dtype=np.float64).astype(np.float32)
    return shape, data


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32)


def first_difference(expected: np.ndarray, actual: np.ndarray) -> int | None:
    if expected.dtype == np.int32:
        same = expected == actual
    else:
        same = (_bits(expected) == _bits(actual)) | (np.isnan(expected) & np.isnan(actual))
    bad = np.flatnonzero(~same)
    return int(bad[0]) if bad.size else None


def compare(expect: dict[str, Any], stdout: str, returncode: int) -> tuple[str, str]:
    """('pass' | 'fail' | 'crash', detail) for one run of one case."""
    if returncode not in (0, 1):
        return "crash", f"exit status {returncode}"
    try:
        doc = json.loads(stdout)
    except ValueError:
        return "crash", "stdout is not one JSON document: " + stdout[:120].replace("\n", " ")
    if not isinstance(doc, dict):
        return "crash", "stdout is not a JSON object"
    if returncode == 1 and "error" not in doc or returncode == 0 and "outputs" not in doc:
        return "crash", f"exit status {returncode} does not match the document"
    if "error" in expect:
        want = expect["error"]["code"]
        got = doc.get("error", {}).get("code") if isinstance(doc.get("error"), dict) else None
        if got == want:
            return "pass", want
        return "fail", f"expected {want}, got " + (got or "outputs")
    if "error" in doc:
        err = doc["error"]
        return "fail", f"unexpected {err.get('code')}: {str(err.get('message'))[:100]}"
    return _compare_outputs(expect["outputs"], doc["outputs"])


def _compare_outputs(expected: dict[str, Any], actual: Any) -> tuple[str, str]:
    if not isinstance(actual, dict) or list(actual) != list(expected):
        names = list(actual) if isinstance(actual, dict) else actual
        return "fail", f"outputs {names} != expected {list(expected)}"
    for name, want in expected.items():
        try:
            shape_w, data_w = tensor_values(want)
            shape_a, data_a = tensor_values(actual[name])
        except (KeyError, TypeError, ValueError) as exc:
            return "fail", f"{name}: malformed tensor ({exc})"
        if data_w.dtype != data_a.dtype:
            return "fail", f"{name}: dtype {data_a.dtype}, expected {data_w.dtype}"
        if shape_w != shape_a or data_w.size != data_a.size:
            return "fail", f"{name}: shape {shape_a} (data {data_a.size}), expected {shape_w}"
        i = first_difference(data_w, data_a)
        if i is not None:
            index = tuple(int(v) for v in np.unravel_index(i, shape_w)) if shape_w else ()
            if data_w.dtype == np.int32:
                return "fail", f"{name}{list(index)}: got {int(data_a[i])}, expected {int(data_w[i])}"
            return "fail", (f"{name}{list(index)}: got 0x{_bits(data_a)[i]:08x} ({data_a[i]!r}), "
                            f"expected 0x{_bits(data_w)[i]:08x} ({data_w[i]!r})")
    return "pass", ""
