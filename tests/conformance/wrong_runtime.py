"""A deliberately wrong runtime: the Python reference with Exp and Sigmoid
built on the platform's exp (np.exp) instead of SPEC 7.3. The conformance
suite must catch it."""

import sys

import numpy as np

from exporter import strict_math


def native_exp(x):
    with np.errstate(all="ignore"):
        return np.exp(np.asarray(x, dtype=np.float32)).astype(np.float32)


def native_sigmoid(x):
    with np.errstate(all="ignore"):
        return (np.float32(1) / (np.float32(1) + native_exp(-np.asarray(x, dtype=np.float32)))).astype(np.float32)


strict_math.exp = native_exp
strict_math.sigmoid = native_sigmoid

from exporter import cli_run  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    cli_run.add_arguments(parser)
    sys.exit(cli_run.main(parser.parse_args()))
