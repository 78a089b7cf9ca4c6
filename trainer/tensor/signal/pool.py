"""`pool_2d` (Theano's `theano.tensor.signal.pool.pool_2d`): pooling over the last two axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.trainer.graph import GraphError, Variable, apply, as_variable, user_frame
from tessera.trainer.ops.pool import MODES


def _here() -> str:
    fn, ln = user_frame()
    return f"{fn}:{ln}"


def _pair(value: Any, what: str, lowest: int) -> tuple[int, int]:
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= lowest for v in pair):
        raise GraphError(f"{_here()}: pool_2d: {what} must be two ints >= {lowest}, got {value!r}")
    return int(pair[0]), int(pair[1])


def pool_2d(input: Any, ws: Any = None, ignore_border: bool = True, stride: Any = None,  # noqa: A002
            pad: Any = (0, 0), mode: str = "max") -> Variable:
    """Pool windows of size ws over the last two axes of input (rank >= 2, NCHW for CNNs).

    stride None is ws (windows side by side); pad (ph, pw) pads both sides of each axis, below
    ws, with ignore_border True only (Theano's rule); ignore_border False keeps a last partial
    window. mode: "max", "sum" (both skip the padding), "average_inc_pad" (divides by the
    window's size, padding included), "average_exc_pad" (by the number of input elements in
    it). Theano's default for ignore_border was None (a warning, then False); here it is True.
    """
    x = as_variable(input)
    if ws is None:
        raise GraphError(f"{_here()}: pool_2d: give the window size ws=(kh, kw)")
    if mode == "max_deterministic":
        mode = "max"
    if mode not in MODES:
        raise GraphError(f"{_here()}: pool_2d: mode {mode!r} is not one of {', '.join(MODES)}")
    ws2 = _pair(ws, "ws", 1)
    st2 = ws2 if stride is None else _pair(stride, "stride", 1)
    pad2 = _pair(pad, "pad", 0)
    if pad2 != (0, 0) and not ignore_border:
        raise GraphError(f"{_here()}: pool_2d: padding works only with ignore_border=True (Theano's rule)")
    if pad2[0] >= ws2[0] or pad2[1] >= ws2[1]:
        raise GraphError(f"{_here()}: pool_2d: pad {pad2} must be smaller than the window {ws2}")
    return apply("pool_2d", x, ws=ws2, stride=st2, pad=pad2, ignore_border=bool(ignore_border), mode=mode)


__all__ = ["pool_2d"]
