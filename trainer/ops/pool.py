"""2-D pooling over the last two axes (Theano's `pool_2d`) and its gradient-only ops.

`pool_2d(x)` attrs: {"ws": (kh, kw), "stride": (sh, sw), "pad": (ph, pw), "ignore_border": bool,
"mode": "max" | "sum" | "average_inc_pad" | "average_exc_pad"}. Theano's semantics: windows
start at `o * s` in the input padded by `p` on both sides; with ignore_border False (pad 0) a
last partial window is kept. max and sum skip the padding, average_exc_pad divides by the number
of input elements in the window, average_inc_pad by the window's size inside the padded input
(kh * kw whenever ignore_border is True).

The kernels visit the window row-major (j fastest) with one strided numpy operation per window
position over all windows at once, in the order SPEC 7.12 gives MaxPool2D/AveragePool2D: the
max starts from the first element and takes the format's Maximum (7.2: -0 below +0), sums start
at +0. So in float32 the trainer's pooling equals the format's bit for bit. Windows side by side
(Tiles) take the max over each window's rows, then its columns: Maximum is associative and
commutative, so the result is the same bits (numpy's maximum is the format's unless a -0 meets
a +0, and an input holding a -0 takes the general path). In float32 the native kernels
(trainer/native/pool_kernels.c) compute the Maximum itself, -0 included, and its gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tessera.trainer import fused_native
from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import OpDef, OpShapeError, fmt, register, shape_of

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def pool_out_len(n: int | None, k: int, s: int, p: int, ignore_border: bool) -> int | None:
    """Theano's output length (Pool.out_shape) for one axis."""
    if n is None:
        return None
    v = n + 2 * p
    if ignore_border:
        out = (v - k) // s + 1 if v >= k else 0
    elif s >= k:
        out = (v - 1) // s + 1
    else:
        out = max(0, (v - 1 - k + s) // s) + 1
    if out <= 0:
        raise OpShapeError(f"the pooling window {k} is larger than the padded input {n} + 2*{p}")
    return out


def end_pad(n: int, k: int, s: int, p: int, out: int) -> int:
    """Padding after the input so that `out` windows of size k at stride s fit (>= p)."""
    return max(p, (out - 1) * s + k - n - p)


def _pool_shape(shapes, attrs):
    (x,) = shapes
    if len(x) < 2:
        raise OpShapeError(f"pool_2d needs an input of rank >= 2, got {fmt(x)}")
    (kh, kw), (sh, sw), (ph, pw) = attrs["ws"], attrs["stride"], attrs["pad"]
    ib = attrs["ignore_border"]
    return tuple(x[:-2]) + (pool_out_len(x[-2], kh, sh, ph, ib), pool_out_len(x[-1], kw, sw, pw, ib))


class Windows(NamedTuple):
    h: int
    w: int
    ho: int
    wo: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    hp: int  # padded height (top pad + input + end pad)
    wp: int

    def tap(self, a: np.ndarray, i: int, j: int) -> np.ndarray:
        """The (.., Hout, Wout) view of the padded array `a` at window position (i, j)."""
        return a[..., i:i + self.sh * (self.ho - 1) + 1:self.sh, j:j + self.sw * (self.wo - 1) + 1:self.sw]

    def interior(self, a: np.ndarray) -> np.ndarray:
        return a[..., self.ph:self.ph + self.h, self.pw:self.pw + self.w]

    def counts(self, include_pad: bool, dt: np.dtype) -> np.ndarray:
        """Theano's divisor per output position (Hout, Wout): elements of the window inside the
        input (exclude) or inside the input padded by `pad` on both sides (include)."""
        def per_axis(n, k, s, p, o):
            start = np.arange(o) * s
            end = np.minimum(start + k, n + 2 * p)
            if not include_pad:
                start, end = np.maximum(start, p), np.minimum(end, n + p)
            return end - start
        c = np.outer(per_axis(self.h, self.kh, self.sh, self.ph, self.ho),
                     per_axis(self.w, self.kw, self.sw, self.pw, self.wo))
        return c.astype(dt)


def windows(attrs: dict, xshape: tuple) -> Windows:
    (kh, kw), (sh, sw), (ph, pw) = attrs["ws"], attrs["stride"], attrs["pad"]
    h, w = xshape[-2:]
    ho = pool_out_len(h, kh, sh, ph, attrs["ignore_border"])
    wo = pool_out_len(w, kw, sw, pw, attrs["ignore_border"])
    return Windows(h, w, ho, wo, kh, kw, sh, sw, ph, pw,
                   ph + h + end_pad(h, kh, sh, ph, ho), pw + w + end_pad(w, kw, sw, pw, wo))


def spec_maximum(acc: np.ndarray, b: np.ndarray, tie: np.ndarray, differ: np.ndarray) -> np.ndarray:
    """acc = SPEC 7.2's Maximum(acc, b), in place: numpy's maximum where the values differ (NaN
    included), the AND of the bits where they are equal (+0 above -0; numpy keeps either one)."""
    np.equal(acc, b, out=tie)
    np.logical_not(tie, out=differ)
    ints = np.dtype(f"i{acc.dtype.itemsize}")
    np.bitwise_and(acc.view(ints), b.view(ints), out=acc.view(ints), where=tie)
    return np.maximum(acc, b, out=acc, where=differ)


def has_negative_zero(x: np.ndarray) -> bool:
    """Whether x holds a -0 (the only value whose ties numpy's maximum may resolve unlike SPEC 7.2):
    -0's bits, read as a signed integer, are the smallest integer."""
    ints = np.dtype(f"i{x.dtype.itemsize}")
    return x.size > 0 and int(np.min(x.view(ints))) == np.iinfo(ints).min


def tiled(win: Windows) -> bool:
    """Whether the windows cover the input exactly, side by side (stride = window, no padding):
    then every input element lies in exactly one window."""
    return ((win.sh, win.sw) == (win.kh, win.kw) and (win.ph, win.pw) == (0, 0)
            and win.ho * win.kh == win.h and win.wo * win.kw == win.w)


class Tiles:
    """Views of tiled windows for long numpy loops. With R = (leading dims) * Hout, the input is
    (R, kH, Wout, kW) and the pooled array (R, Wout); a window position (i, j) picks an (R, Wout)
    view whose rows lie apart. Each operation is given these views transposed, R last ((Wout, R),
    or (kH, kW, Wout, R) for every position at once), with an output laid out that way or written
    through a transposed view: the operands then disagree on which axis is innermost and numpy
    keeps the given order, so its inner loop runs over the R windows instead of the few Wout of
    one row."""

    def __init__(self, win: Windows, lead: tuple, dt: np.dtype) -> None:
        self.win = win
        self.r = int(np.prod(lead, dtype=np.int64)) * win.ho
        self.dt = dt
        self._rows: np.ndarray | None = None  # numpy's scratch, allocated when numpy first runs
        self._hit: np.ndarray | None = None
        # float32: the native kernels (trainer/native/pool_kernels.c): the same bits in one pass
        # (a window's NaN maximum is the quiet NaN)
        self.fused = fused_native.native(dt)
        self.dims = (self.r, win.kh, win.wo, win.kw)

    @property
    def rows(self) -> np.ndarray:
        """The maximum over each window's rows, transposed (Wout * kW, R)."""
        if self._rows is None:
            self._rows = np.empty((self.win.w, self.r), self.dt)
        return self._rows

    @property
    def hit(self) -> np.ndarray:
        """Where an input equals its window's maximum, as (kH, kW, Wout, R)."""
        if self._hit is None:
            w = self.win
            self._hit = np.empty((w.kh, w.kw, w.wo, self.r), np.bool_)
        return self._hit

    def split(self, a: np.ndarray) -> np.ndarray:
        w = self.win
        return a.reshape(self.r, w.kh, w.wo, w.kw)

    def pooled(self, a: np.ndarray) -> np.ndarray:
        """The transposed (Wout, R) view of an array of the pooled shape."""
        return a.reshape(self.r, self.win.wo).T

    def native_max(self, x: np.ndarray, out: np.ndarray) -> bool:
        """out = SPEC 7.2's maximum of each window (-0 below +0 included) by the native kernel;
        False when it did not run (not float32, the extension not built, a window wider
        than the kernel takes)."""
        return self.fused is not None and self.fused.pool_max(x, out, *self.dims)

    def max(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = the maximum of each window: over its rows, then over its columns (numpy's maximum:
        exact for every input without a -0, see spec_maximum)."""
        w, rows = self.win, self.rows
        x3 = x.reshape(self.r, w.kh, w.w)
        if w.kh == 1:
            np.copyto(rows, x3[:, 0].T)
        else:
            np.maximum(x3[:, 0].T, x3[:, 1].T, out=rows)
        for i in range(2, w.kh):
            np.maximum(rows, x3[:, i].T, out=rows)
        cols, o = rows.reshape(w.wo, w.kw, self.r), self.pooled(out)
        if w.kw == 1:
            np.copyto(o, cols[:, 0])
        else:
            np.maximum(cols[:, 0], cols[:, 1], out=o)
        for j in range(2, w.kw):
            np.maximum(o, cols[:, j], out=o)
        return out

    def max_grad(self, x: np.ndarray, pooled: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = g at every position equal to its window's maximum, g * 0 elsewhere (no window
        overlaps another, so nothing accumulates): in float32 by the native kernel where built,
        else one comparison and one product over all window positions, as (kH, kW, Wout, R)."""
        if self.fused is not None and self.fused.pool_max_grad(x, pooled, g, out, *self.dims):
            return out

        def by_position(a: np.ndarray) -> np.ndarray:
            return self.split(a).transpose(1, 3, 2, 0)
        np.equal(by_position(x), self.pooled(pooled), out=self.hit)
        np.multiply(self.pooled(g), self.hit, out=by_position(out))
        return out


def _pool(attrs, ins, oshape, dt):
    win = windows(attrs, ins[0])
    mode = attrs["mode"]
    lead = tuple(ins[0][:-2])
    padded = np.full(lead + (win.hp, win.wp), -np.inf if mode == "max" else 0, dt)
    tie, differ = np.empty(oshape, np.bool_), np.empty(oshape, np.bool_)
    div = None if mode in ("max", "sum") else win.counts(mode == "average_inc_pad", dt)
    same = win.hp == win.h and win.wp == win.w
    tiles = Tiles(win, lead, dt) if mode == "max" and tiled(win) else None

    def fn(out, x):
        if tiles is not None and tiles.native_max(x, out):
            return out
        if tiles is not None and not has_negative_zero(x):
            return tiles.max(x, out)
        src = x if same else padded
        if not same:
            np.copyto(win.interior(padded), x)
        if mode == "max":
            np.copyto(out, win.tap(src, 0, 0))
            exact_ties = has_negative_zero(x)  # else equal values have equal bits: numpy's maximum is SPEC's
        else:
            out.fill(0)
        for i in range(win.kh):
            for j in range(win.kw):
                if mode != "max":
                    np.add(out, win.tap(src, i, j), out=out)
                elif exact_ties and (i or j):
                    spec_maximum(out, win.tap(src, i, j), tie, differ)
                elif i or j:
                    np.maximum(out, win.tap(src, i, j), out=out)
        if div is not None:
            np.divide(out, div, out=out)
        return out
    return fn, True


def _max_pool_grad(attrs, ins, oshape, dt):
    """(x, pooled, g): each window's gradient goes to every position equal to its maximum
    (Theano's MaxPoolGrad; PyTorch picks the first one instead)."""
    win = windows(attrs, ins[0])
    lead = tuple(ins[0][:-2])
    padded = np.full(lead + (win.hp, win.wp), -np.inf, dt)
    acc = np.empty(lead + (win.hp, win.wp), dt)
    hit = np.empty(ins[1], np.bool_)
    part = np.empty(ins[1], dt)
    tiles = Tiles(win, lead, dt) if tiled(win) else None

    def fn(out, x, pooled, g):
        if tiles is not None:
            return tiles.max_grad(x, pooled, g, out)
        np.copyto(win.interior(padded), x)
        acc.fill(0)
        for i in range(win.kh):
            for j in range(win.kw):
                np.equal(win.tap(padded, i, j), pooled, out=hit)
                np.multiply(g, hit, out=part)
                tgt = win.tap(acc, i, j)
                np.add(tgt, part, out=tgt)
        np.copyto(out, win.interior(acc))
        return out
    return fn, True


def _avg_pool_grad(attrs, ins, oshape, dt):
    """(x for its shape, g): g (divided by the window's count) added to every window position."""
    win = windows(attrs, ins[0])
    mode = attrs["mode"]
    lead = tuple(ins[0][:-2])
    acc = np.empty(lead + (win.hp, win.wp), dt)
    div = None if mode == "sum" else win.counts(mode == "average_inc_pad", dt)
    share = np.empty(ins[1], dt)

    def fn(out, x_ref, g):
        src = g if div is None else np.divide(g, div, out=share)
        acc.fill(0)
        for i in range(win.kh):
            for j in range(win.kw):
                tgt = win.tap(acc, i, j)
                np.add(tgt, src, out=tgt)
        np.copyto(out, win.interior(acc))
        return out
    return fn, True


def _g_pool(n: Variable, g: Variable) -> list:
    (x,) = n.inputs
    if n.attrs["mode"] == "max":
        return [apply("max_pool_grad", x, n, g, **n.attrs)]
    return [apply("avg_pool_grad", x, g, **n.attrs)]


register(
    OpDef("pool_2d", 1, _pool_shape, _pool, _g_pool),
    OpDef("max_pool_grad", 3, shape_of(0), _max_pool_grad, forward=False),
    OpDef("avg_pool_grad", 2, shape_of(0), _avg_pool_grad, forward=False, shape_operands=(0,)),
)
