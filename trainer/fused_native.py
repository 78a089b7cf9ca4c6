"""Which kernels run the trainer's float32 elementwise work: the native one-pass kernels or numpy.

`tessera.trainer._fused` (C, trainer/native/) computes sigmoid, the BCE-with-logits loss and
gradient, log-softmax and its cross-entropy gradient and the optimisers' updates in one pass
over memory each, and the sparse-input path's products with a 0/1 input (trainer/sparse.py),
on the AVX-512, AVX2 or baseline path chosen for the CPU; also max pooling and its gradient
over windows side by side (ops/pool.py). It is optional: the package installs
without it where it cannot be built, and then the numpy kernels run. float64
always runs numpy. The choice is made when a compiled function plans its schedule.

TESSERA_TRAINER_KERNELS: `auto` (default: native where built), `native` (the extension is
required: planning raises ImportError without it), `numpy` (the numpy kernels only).
TESSERA_TRAINER_KERNEL_PATH: `avx512`, `avx2` or `baseline` forces the native path (tests,
benchmarks; RuntimeError where the CPU lacks it); `set_path` does the same from Python.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

KERNELS_ENV = "TESSERA_TRAINER_KERNELS"
PATH_ENV = "TESSERA_TRAINER_KERNEL_PATH"
_FLOAT32 = np.dtype(np.float32)
_loaded: list[ModuleType | None] = []  # [the module or None] once tried


def _load() -> ModuleType | None:
    """The extension, or None when it was not built."""
    if not _loaded:
        try:
            from tessera.trainer import _fused
        except ImportError:
            _fused = None
        if _fused is not None and os.environ.get(PATH_ENV):
            _fused.set_path(os.environ[PATH_ENV])
        _loaded.append(_fused)
    return _loaded[0]


def mode() -> str:
    """The TESSERA_TRAINER_KERNELS setting: auto, native or numpy."""
    m = os.environ.get(KERNELS_ENV, "auto") or "auto"
    if m not in ("auto", "native", "numpy"):
        raise ValueError(f"{KERNELS_ENV}={m!r}: expected auto, native or numpy")
    return m


def native(dtype: np.dtype) -> ModuleType | None:
    """The native kernels' module for a plan computing in `dtype`, or None: run numpy."""
    m = mode()
    if m == "numpy" or np.dtype(dtype) != _FLOAT32:
        return None
    mod = _load()
    if mod is None and m == "native":
        raise ImportError(f"{KERNELS_ENV}=native but tessera.trainer._fused is not built (run `make setup`)")
    return mod


def path() -> str:
    """The native path in use ('avx512', 'avx2', 'baseline'), or 'numpy' when the kernels are not."""
    mod = native(_FLOAT32) if mode() != "numpy" else None
    return mod.path() if mod is not None else "numpy"


def set_path(name: str) -> None:
    """Force the native path for every kernel ('avx512', 'avx2', 'baseline')."""
    mod = _load()
    if mod is None:
        raise ImportError("tessera.trainer._fused is not built (run `make setup`)")
    mod.set_path(name)
