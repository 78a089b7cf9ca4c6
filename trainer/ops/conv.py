"""2-D convolution on NCHW (Theano's `conv2d`) and its two gradient-only ops.

`conv2d(x, w)` attrs: {"border": (ph, pw) | "full" | "half", "subsample": (sh, sw),
"dilation": (dh, dw), "flip": bool, "groups": int}. x is (N, C, H, W), w is (M, C/groups, kH, kW);
the padding is symmetric (Theano's), "full" and "half" resolve against the dilated kernel extent
`dh (kH - 1) + 1` when the filter shape is known. `flip` True is true convolution (the kernel
flipped on both spatial axes, Theano's default), False is cross-correlation.

The kernels are im2col + one batched matmul over the groups: the patches of every output
position become a column of `cols` (g, Cg*kH*kW, N*Hout*Wout), the filters reshaped to
(g, Mg, Cg*kH*kW) times `cols` is the output. The gradients reuse the same patch layout: the
filters' gradient is `G @ cols^T`, the input's is `w^T @ G` scattered back (col2im, one strided
add per kernel position). Every buffer is allocated once per plan.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tessera.trainer.graph import Variable, apply
from tessera.trainer.opdef import OpDef, OpShapeError, fmt, register, shape_of


def conv_pads(border, kh: int | None, kw: int | None, dh: int, dw: int) -> tuple[int | None, int | None]:
    """(ph, pw) of a border mode: explicit ints, or "full"/"half" of the dilated kernel (None if unknown)."""
    if isinstance(border, tuple):
        return border
    ext = [None if k is None else d * (k - 1) + 1 for k, d in ((kh, dh), (kw, dw))]
    if border == "full":
        return tuple(None if e is None else e - 1 for e in ext)
    return tuple(None if e is None else e // 2 for e in ext)  # "half"


def conv_out_len(n: int | None, k: int | None, pad: int | None, stride: int, dil: int, axis: str) -> int | None:
    if n is None or k is None or pad is None:
        return None
    ext = dil * (k - 1) + 1
    if n + 2 * pad < ext:
        raise OpShapeError(f"the {axis} kernel extent {ext} (dilated) is larger than the padded input "
                           f"{axis} {n} + 2*{pad}")
    return (n + 2 * pad - ext) // stride + 1


def _conv_shape(shapes, attrs):
    x, w = shapes
    if len(x) != 4 or len(w) != 4:
        raise OpShapeError(f"conv2d needs a 4-d input (N, C, H, W) and 4-d filters (M, C/groups, kH, kW), "
                           f"got {fmt(x)} and {fmt(w)}")
    g = attrs["groups"]
    n, c, h, wd = x
    m, cg, kh, kw = w
    if c is not None and c % g:
        raise OpShapeError(f"the input's {c} channels are not divisible by num_groups={g}")
    if m is not None and m % g:
        raise OpShapeError(f"the {m} filters are not divisible by num_groups={g}")
    if c is not None and cg is not None and c != cg * g:
        raise OpShapeError(f"the input has {c} channels, the filters {fmt(w)} expect {cg * g} "
                           f"({cg} per group x {g} groups)")
    (dh, dw), (sh, sw) = attrs["dilation"], attrs["subsample"]
    ph, pw = conv_pads(attrs["border"], kh, kw, dh, dw)
    return (n, m, conv_out_len(h, kh, ph, sh, dh, "height"), conv_out_len(wd, kw, pw, sw, dw, "width"))


class Geometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    m: int
    kh: int
    kw: int
    g: int
    ph: int
    pw: int
    sh: int
    sw: int
    dh: int
    dw: int
    ho: int
    wo: int

    @property
    def cg(self) -> int:
        return self.c // self.g

    @property
    def mg(self) -> int:
        return self.m // self.g

    @property
    def k(self) -> int:
        return self.cg * self.kh * self.kw

    @property
    def rows(self) -> int:
        return self.n * self.ho * self.wo


def geometry(attrs: dict, xshape: tuple, wshape: tuple) -> Geometry:
    n, c, h, w = xshape
    m, _, kh, kw = wshape
    (dh, dw), (sh, sw) = attrs["dilation"], attrs["subsample"]
    ph, pw = conv_pads(attrs["border"], kh, kw, dh, dw)
    return Geometry(n, c, h, w, m, kh, kw, attrs["groups"], ph, pw, sh, sw, dh, dw,
                    conv_out_len(h, kh, ph, sh, dh, "height"), conv_out_len(w, kw, pw, sw, dw, "width"))


class Patches:
    """im2col and col2im for one geometry: the zero-padded input copy and the patch matrix, stored
    transposed, (g, Cg*kH*kW, N*Hout*Wout): one contiguous row per (channel, kernel position),
    filled by one strided copy per kernel position."""

    def __init__(self, geo: Geometry, dt: np.dtype) -> None:
        self.geo = geo
        self.padded = np.zeros((geo.n, geo.c, geo.h + 2 * geo.ph, geo.w + 2 * geo.pw), dt)
        self.cols = np.empty((geo.g, geo.cg, geo.kh, geo.kw, geo.n, geo.ho, geo.wo), dt)

    def interior(self) -> np.ndarray:
        g = self.geo
        return self.padded[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w]

    def _tap(self, a5: np.ndarray, i: int, j: int) -> np.ndarray:
        """The (N, g, Cg, Hout, Wout) view of the padded (N, g, Cg, Hp, Wp) array at kernel position (i, j)."""
        g = self.geo
        return a5[:, :, :, i * g.dh:i * g.dh + g.sh * (g.ho - 1) + 1:g.sh,
                  j * g.dw:j * g.dw + g.sw * (g.wo - 1) + 1:g.sw]

    def im2col(self, x: np.ndarray) -> np.ndarray:
        """The transposed patch matrix (g, Cg*kH*kW, N*Hout*Wout) of x."""
        g = self.geo
        if g.ph or g.pw:
            np.copyto(self.interior(), x)
            src = self.padded
        else:
            src = x
        src5 = src.reshape(g.n, g.g, g.cg, *src.shape[2:])
        for i in range(g.kh):
            for j in range(g.kw):
                np.copyto(self.cols[:, :, i, j], self._tap(src5, i, j).transpose(1, 2, 0, 3, 4))
        return self.cols.reshape(g.g, g.k, g.rows)

    def col2im(self, dcols: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Sum the patch gradients dcols (g, Cg*kH*kW, N*Hout*Wout) back onto the input positions."""
        g = self.geo
        d = dcols.reshape(g.g, g.cg, g.kh, g.kw, g.n, g.ho, g.wo)
        acc = self.padded
        acc.fill(0)
        acc5 = acc.reshape(g.n, g.g, g.cg, *acc.shape[2:])
        for i in range(g.kh):
            for j in range(g.kw):
                tgt = self._tap(acc5, i, j)
                np.add(tgt, d[:, :, i, j].transpose(2, 0, 1, 3, 4), out=tgt)
        np.copyto(out, self.interior())
        return out


def _filters_matrix(w: np.ndarray, flip: bool, buf: np.ndarray, geo: Geometry) -> np.ndarray:
    """The filters as (g, Mg, Cg*kH*kW), flipped on both spatial axes for true convolution."""
    np.copyto(buf, w[:, :, ::-1, ::-1] if flip else w)
    return buf.reshape(geo.g, geo.mg, geo.k)


def _conv(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    p = Patches(geo, dt)
    wbuf = np.empty(ins[1], dt)
    res = np.empty((geo.g, geo.mg, geo.rows), dt)
    flip = attrs["flip"]

    def fn(out, x, w):
        cols = p.im2col(x)
        np.matmul(_filters_matrix(w, flip, wbuf, geo), cols, out=res)
        np.copyto(out.reshape(geo.n, geo.g, geo.mg, geo.ho * geo.wo),
                  res.reshape(geo.g, geo.mg, geo.n, geo.ho * geo.wo).transpose(2, 0, 1, 3))
        return out
    return fn, True


def _out_grad_matrix(g: np.ndarray, buf: np.ndarray, geo: Geometry) -> np.ndarray:
    """The output gradient (N, M, Hout, Wout) as (g, Mg, N*Hout*Wout), the layout of the patch rows."""
    np.copyto(buf.reshape(geo.g, geo.mg, geo.n, geo.ho * geo.wo),
              g.reshape(geo.n, geo.g, geo.mg, geo.ho * geo.wo).transpose(1, 2, 0, 3))
    return buf


def _conv_grad_input(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    p = Patches(geo, dt)
    wbuf = np.empty(ins[1], dt)
    gbuf = np.empty((geo.g, geo.mg, geo.rows), dt)
    dcols = np.empty((geo.g, geo.k, geo.rows), dt)
    flip = attrs["flip"]

    def fn(out, x_ref, w, g):
        gm = _out_grad_matrix(g, gbuf, geo)
        wm = _filters_matrix(w, flip, wbuf, geo)
        np.matmul(wm.transpose(0, 2, 1), gm, out=dcols)
        return p.col2im(dcols, out)
    return fn, True


def _conv_grad_filters(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    p = Patches(geo, dt)
    gbuf = np.empty((geo.g, geo.mg, geo.rows), dt)
    dw = np.empty((geo.g, geo.mg, geo.k), dt)
    flip = attrs["flip"]

    def fn(out, x, w_ref, g):
        cols = p.im2col(x)
        gm = _out_grad_matrix(g, gbuf, geo)
        np.matmul(gm, cols.transpose(0, 2, 1), out=dw)
        d4 = dw.reshape(oshape)
        np.copyto(out, d4[:, :, ::-1, ::-1] if flip else d4)
        return out
    return fn, True


def _g_conv(n: Variable, g: Variable) -> list:
    x, w = n.inputs
    return [apply("conv2d_grad_input", x, w, g, **n.attrs), apply("conv2d_grad_filters", x, w, g, **n.attrs)]


register(
    OpDef("conv2d", 2, _conv_shape, _conv, _g_conv),
    # (x for its shape, w, output gradient) -> gradient w.r.t. x
    OpDef("conv2d_grad_input", 3, shape_of(0), _conv_grad_input, forward=False, shape_operands=(0,)),
    # (x, w for its shape, output gradient) -> gradient w.r.t. w
    OpDef("conv2d_grad_filters", 3, shape_of(1), _conv_grad_filters, forward=False, shape_operands=(1,)),
)
