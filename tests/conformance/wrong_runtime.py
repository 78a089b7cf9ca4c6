"""A deliberately wrong runtime: the Python reference with Exp and Sigmoid
built on the platform's exp (np.exp) instead of SPEC 7.3, or (TESSERA_WRONG=int)
with a non-saturating Cast and a wrapping Gather instead of SPEC 7.8 and the
run-time E_INPUT. The conformance suite must catch it."""

import os
import sys

import numpy as np

from tessera.exporter import reference, strict_math


def native_exp(x):
    with np.errstate(all="ignore"):
        return np.exp(np.asarray(x, dtype=np.float32)).astype(np.float32)


def native_sigmoid(x):
    with np.errstate(all="ignore"):
        return (np.float32(1) / (np.float32(1) + native_exp(-np.asarray(x, dtype=np.float32)))).astype(np.float32)


def native_cast(x, to):
    """float32 -> int32 the way C's (int32_t) cast and numpy do it: no saturation, NaN undefined."""
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(np.int32 if to == "int32" else np.float32)


def wrapping_gather(data, indices, axis):
    """Gather that wraps out-of-range indices instead of rejecting them."""
    return np.take(data, np.asarray(indices, dtype=np.int64), axis=axis, mode="wrap")


if os.environ.get("TESSERA_WRONG") == "int":  # the integer ops of 1.1 wrong, the floats right
    reference.cast = native_cast
    reference.gather = wrapping_gather
else:
    strict_math.exp = native_exp
    strict_math.sigmoid = native_sigmoid

from tessera.exporter import cli_run  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    cli_run.add_arguments(parser)
    sys.exit(cli_run.main(parser.parse_args()))
