"""The one exception type of the exporter/runtime, the error codes and the limits (SPEC §5, §8)."""

from __future__ import annotations

FORMAT_VERSION = "1.2"
FORMAT_MAJOR = 1
FORMAT_MINOR = 2

CODES = (
    "E_PARSE",
    "E_SCHEMA",
    "E_VERSION",
    "E_UNKNOWN_OP",
    "E_GRAPH",
    "E_SHAPE",
    "E_DATA",
    "E_LIMIT",
    "E_INPUT",
)


class ModelError(Exception):
    """A rejected model or inputs file: `code` is one of CODES, the message names the culprit."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Limits:
    """SPEC §8, as attributes so that a typo is an AttributeError rather than a silent default."""

    FILE_BYTES = 256 * 1024 * 1024
    DEPTH = 64
    RANK = 8
    ELEMENTS = 2**26  # any dimension, and the element count of any tensor
    TOTAL_INIT_ELEMENTS = 2**26
    NODES = 65536
    INITIALIZERS = 65536
    GRAPH_INPUTS = 256
    GRAPH_OUTPUTS = 256
    NAME_BYTES = 256


LIMITS = _Limits()
