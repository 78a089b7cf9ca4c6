"""2-D convolution on NCHW (Theano's `conv2d`) and its two gradient-only ops.

`conv2d(x, w)` attrs: {"border": (ph, pw) | "full" | "half", "subsample": (sh, sw),
"dilation": (dh, dw), "flip": bool, "groups": int}. x is (N, C, H, W), w is (M, C/groups, kH, kW);
the padding is symmetric (Theano's), "full" and "half" resolve against the dilated kernel extent
`dh (kH - 1) + 1` when the filter shape is known. `flip` True is true convolution (the kernel
flipped on both spatial axes, Theano's default), False is cross-correlation.

The kernels are im2col + matmul. The patch matrix is batch-last (Patches: (g, Cg*kH*kW,
Hout*Wout*N), filled by one strided copy with long runs; the products then need 2-d transposes
from and to NCHW), or one per image (ImagePatches, when there are few patch rows per output row:
no transposes). The products run in blocks of columns (ColumnChunks). The filters' gradient
reuses the patch matrix its forward kernel built in the same call; the input's gradient is
`w^T @ G` summed back onto the input positions (a gather of shifted views at stride 1, col2im
otherwise). Every buffer is allocated once per plan.
"""

from __future__ import annotations

import weakref
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
    """im2col and col2im for one geometry, in a batch-last layout: the input is copied once,
    transposed, into a zero-padded (C, Hp, Wp, N) buffer, so the patches of one (channel,
    kernel position) are runs of Wout*N contiguous values and the whole patch matrix
    (g, Cg*kH*kW, Hout*Wout*N) is one strided copy with long inner loops (NCHW patches would be
    runs of Wout, a few values each). Conversions between NCHW (N, R) and batch-last (R, N)
    are 2-d transposes; the one read along N goes through a staging copy whose row stride is not
    a multiple of the page size (rows 4 KiB apart evict each other from the cache)."""

    def __init__(self, geo: Geometry, dt: np.dtype) -> None:
        self.geo = geo
        g = geo
        self.padded = np.zeros((g.c, g.h + 2 * g.ph, g.w + 2 * g.pw, g.n), dt)
        self.cols = np.empty((g.c, g.kh, g.kw, g.ho, g.wo, g.n), dt)
        s_c, s_h, s_w, s_n = self.padded.strides
        self._patch_view = np.lib.stride_tricks.as_strided(
            self.padded, (g.c, g.kh, g.kw, g.ho, g.wo, g.n),
            (s_c, g.dh * s_h, g.dw * s_w, g.sh * s_h, g.sw * s_w, s_n), writeable=False)

    def interior(self) -> np.ndarray:
        """The (C, H, W, N) view of the input inside the padding."""
        g = self.geo
        return self.padded[:, g.ph:g.ph + g.h, g.pw:g.pw + g.w]

    def _tap(self, i: int, j: int) -> np.ndarray:
        """The (C, Hout, Wout, N) view of the padded buffer at kernel position (i, j)."""
        g = self.geo
        return self.padded[:, i * g.dh:i * g.dh + g.sh * (g.ho - 1) + 1:g.sh,
                           j * g.dw:j * g.dw + g.sw * (g.wo - 1) + 1:g.sw]

    def im2col(self, x: np.ndarray) -> np.ndarray:
        """The patch matrix (g, Cg*kH*kW, Hout*Wout*N) of x (N, C, H, W)."""
        g = self.geo
        np.copyto(self.interior(), x.reshape(g.n, g.c, g.h, g.w).transpose(1, 2, 3, 0))
        np.copyto(self.cols, self._patch_view)
        return self.matrix()

    def matrix(self) -> np.ndarray:
        """The patch matrix im2col filled last."""
        g = self.geo
        return self.cols.reshape(g.g, g.k, g.ho * g.wo * g.n)

    def col2im(self, dcols: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Sum the patch gradients dcols (g, Cg*kH*kW, Hout*Wout*N) back onto the input positions,
        into out (N, C, H, W)."""
        g = self.geo
        d = dcols.reshape(g.c, g.kh, g.kw, g.ho, g.wo, g.n)
        self.padded.fill(0)
        for i in range(g.kh):
            for j in range(g.kw):
                tgt = self._tap(i, j)
                np.add(tgt, d[:, i, j], out=tgt)
        np.copyto(out.transpose(1, 2, 3, 0), self.interior())
        return out


class ImagePatches:
    """im2col in NCHW order, one patch matrix per image: (N, g, Cg*kH*kW, Hout*Wout), copied from
    a zero-padded (N, C, Hp, Wp) copy of the input. Its runs are Wout values long, so it suits
    geometries with few patch rows per output row (a first layer on 1-channel images); in
    exchange the products need no transpose: image n's output (M, Hout*Wout) is already NCHW."""

    def __init__(self, geo: Geometry, dt: np.dtype) -> None:
        g = geo
        self.geo = geo
        self.padded = np.zeros((g.n, g.c, g.h + 2 * g.ph, g.w + 2 * g.pw), dt)
        self.cols = np.empty((g.n, g.c, g.kh, g.kw, g.ho, g.wo), dt)
        s_n, s_c, s_h, s_w = self.padded.strides
        self._patch_view = np.lib.stride_tricks.as_strided(
            self.padded, self.cols.shape, (s_n, s_c, g.dh * s_h, g.dw * s_w, g.sh * s_h, g.sw * s_w),
            writeable=False)

    def im2col(self, x: np.ndarray) -> np.ndarray:
        g = self.geo
        np.copyto(self.padded[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w], x)
        np.copyto(self.cols, self._patch_view)
        return self.matrix()

    def matrix(self) -> np.ndarray:
        """The patch matrices im2col filled last."""
        g = self.geo
        return self.cols.reshape(g.n, g.g, g.k, g.ho * g.wo)


def by_image(geo: Geometry) -> bool:
    """Whether the forward product and the filters' gradient take ImagePatches: when its copy, one
    run of Wout values per patch row and output row, costs less than the two transposes of the
    batch-last layout, about 2 * M * Wout values per output row; a run costs about as much as
    transposing 8 values (measured: numpy on an AVX-512 Zen 4)."""
    return geo.k * 8 <= geo.m * geo.wo


# The patches each forward conv2d kernel built last, by the id of its output buffer: (that buffer,
# the input, the patches), both arrays held weakly. The filters' gradient takes the forward node as
# an operand, so in a call the forward kernel has run before it, on the same input array: if the
# entry names that output buffer and input, its patch matrix is this call's and is not rebuilt.
_LAST_PATCHES: dict[int, tuple] = {}


def _remember_patches(out: np.ndarray, x: np.ndarray, patches: Patches | ImagePatches) -> None:
    key = id(out)
    entry = _LAST_PATCHES.get(key)
    if entry is None or entry[0]() is not out:
        weakref.finalize(out, _LAST_PATCHES.pop, key, None)
    _LAST_PATCHES[key] = (weakref.ref(out), weakref.ref(x), patches)


def _forward_patches(y: np.ndarray, x: np.ndarray, kind: type, geo: Geometry) -> np.ndarray | None:
    """The patch matrix of x the forward kernel writing y built in this call, or None."""
    entry = _LAST_PATCHES.get(id(y))
    if entry is None or entry[0]() is not y or entry[1]() is not x:
        return None
    patches = entry[2]
    return patches.matrix() if type(patches) is kind and patches.geo == geo else None


def _filters_matrix(w: np.ndarray, flip: bool, buf: np.ndarray, geo: Geometry) -> np.ndarray:
    """The filters as (g, Mg, Cg*kH*kW), flipped on both spatial axes for true convolution."""
    np.copyto(buf, w[:, :, ::-1, ::-1] if flip else w)
    return buf.reshape(geo.g, geo.mg, geo.k)


def _staging(rows: int, cols: int, dt: np.dtype) -> np.ndarray:
    """A (rows, cols) view into a buffer whose row stride is not a multiple of 1 KiB, for a
    transposed copy that reads down its columns (rows 4 KiB apart evict each other from the cache)."""
    pad = 16
    while ((cols + pad) * np.dtype(dt).itemsize) % 1024 == 0:
        pad += 16
    return np.empty((rows, cols + pad), dt)[:, :cols]


class OutGrad:
    """The output gradient (N, M, Hout, Wout) in the patch matrix's column order, in the layout
    each product runs fastest with (measured with OpenBLAS): `by_channel` (g, Mg, Hout*Wout*N),
    a 2-d transpose of (N, M*Hout*Wout) through a staging copy, for the input's gradient; else
    `by_column` (g, Hout*Wout*N, Mg), a 2-d transpose of (N*M, Hout*Wout), for the filters'."""

    def __init__(self, geo: Geometry, dt: np.dtype, by_channel: bool) -> None:
        self.geo, self.by_channel = geo, by_channel
        r = geo.m * geo.ho * geo.wo
        self.stage = _staging(geo.n, r, dt) if by_channel else None
        self.buf = np.empty((r, geo.n) if by_channel else (geo.ho * geo.wo, geo.n * geo.m), dt)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        geo = self.geo
        if self.by_channel:
            np.copyto(self.stage, g.reshape(self.stage.shape))
            np.copyto(self.buf, self.stage.T)
            return self.buf.reshape(geo.g, geo.mg, -1)
        np.copyto(self.buf, g.reshape(geo.n * geo.m, geo.ho * geo.wo).T)
        return self.buf.reshape(-1, geo.g, geo.mg).transpose(1, 0, 2)


class ColumnChunks:
    """Products along the patch matrix's columns (L = Hout*Wout*N) taken a block of `c` columns at
    a time, as one batched numpy matmul over the blocks (views, no copies). OpenBLAS runs such
    small products up to twice as fast as one wide one at these shapes (its small-matrix path;
    measured with its SkylakeX kernels on an AVX-512 Zen 4): `c` is the largest power of two in
    [64, 512] keeping a block's rows * inner * c within 2^19 multiply-adds."""

    def __init__(self, rows: int, inner: int, length: int) -> None:
        c = 64
        while c < 512 and 2 * c * rows * inner <= 1 << 19:
            c *= 2
        self.c = min(c, length)
        self.n, self.main, self.length = length // self.c, length // self.c * self.c, length

    def _blocks(self, a: np.ndarray) -> np.ndarray:
        """(g, r, L) -> the (g, blocks, r, c) view of its first n*c columns."""
        g, r, _ = a.shape
        return a[..., :self.main].reshape(g, r, self.n, self.c).transpose(0, 2, 1, 3)

    def matmul(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (g, r, L) = a (g, r, k) @ b (g, k, L)."""
        np.matmul(a[:, None], self._blocks(b), out=self._blocks(out))
        if self.main < self.length:
            np.matmul(a, b[..., self.main:], out=out[..., self.main:])
        return out

    def matmul_summed(self, a: np.ndarray, b: np.ndarray, out: np.ndarray, partial: np.ndarray) -> np.ndarray:
        """out (g, r, k) = a (g, r, L) @ b (g, L, k), the block products summed (partial is
        (g, blocks, r, k) scratch)."""
        g, length, k = b.shape
        blocks_b = b[:, :self.main].reshape(g, self.n, self.c, k)
        np.sum(np.matmul(self._blocks(a), blocks_b, out=partial), axis=1, out=out)
        if self.main < self.length:
            out += np.matmul(a[..., self.main:], b[:, self.main:])
        return out


def _conv(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    wbuf = np.empty(ins[1], dt)
    flip = attrs["flip"]
    if by_image(geo):
        ip = ImagePatches(geo, dt)

        def per_image(out, x, w):
            # image n's (g, Mg, Hout*Wout) product lands in its own NCHW output
            np.matmul(_filters_matrix(w, flip, wbuf, geo), ip.im2col(x),
                      out=out.reshape(geo.n, geo.g, geo.mg, geo.ho * geo.wo))
            _remember_patches(out, x, ip)
            return out
        return per_image, True
    p = Patches(geo, dt)
    res = np.empty((geo.g, geo.mg, geo.ho * geo.wo * geo.n), dt)
    chunks = ColumnChunks(geo.mg, geo.k, res.shape[-1])

    def fn(out, x, w):
        chunks.matmul(_filters_matrix(w, flip, wbuf, geo), p.im2col(x), res)
        # res is (M, Hout*Wout, N): NCHW is its 2-d transpose
        np.copyto(out.reshape(geo.n, -1), res.reshape(-1, geo.n).T)
        _remember_patches(out, x, p)
        return out
    return fn, True


class GatheredPatchGradients:
    """col2im at stride 1 as a gather: the patch gradients are written (by the product itself, one
    output position's N columns at a time) into a (C, kH, kW, Hq, Wq, N) buffer with zero
    margins, where each kernel position's contributions to the input are one (C, H, W, N) view;
    the input's gradient is the sum of those kH*kW views into a contiguous buffer (numpy adds
    into a contiguous target about twice as fast as into the scattered windows of col2im), in
    the same order as col2im."""

    def __init__(self, geo: Geometry, dt: np.dtype) -> None:
        g = geo
        self.geo = geo
        top, left = max(0, (g.kh - 1) * g.dh - g.ph), max(0, (g.kw - 1) * g.dw - g.pw)
        hq = top + g.ho + max(0, g.h + g.ph - g.ho)
        wq = left + g.wo + max(0, g.w + g.pw - g.wo)
        self.padded = np.zeros((g.g, g.k, hq, wq, g.n), dt)
        # (g, Hout, Wout, Cg*kH*kW, N): one output position's block of the patch gradients
        self.blocks = self.padded[:, :, top:top + g.ho, left:left + g.wo].transpose(0, 2, 3, 1, 4)
        taps = self.padded.reshape(g.c, g.kh, g.kw, hq, wq, g.n)
        self.taps = [taps[:, i, j, top + g.ph - i * g.dh:top + g.ph - i * g.dh + g.h,
                          left + g.pw - j * g.dw:left + g.pw - j * g.dw + g.w]
                     for i in range(g.kh) for j in range(g.kw)]
        self.acc = np.empty((g.c, g.h, g.w, g.n), dt)

    @staticmethod
    def applies(geo: Geometry) -> bool:
        return geo.sh == geo.sw == 1

    def __call__(self, wm_t: np.ndarray, gm: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (N, C, H, W) = the input's gradient from the filters wm_t (g, Cg*kH*kW, Mg) and the
        output gradient gm (g, Mg, Hout*Wout*N)."""
        g = self.geo
        by_position = gm.reshape(g.g, g.mg, g.ho, g.wo, g.n).transpose(0, 2, 3, 1, 4)
        np.matmul(wm_t[:, None, None], by_position, out=self.blocks)
        acc, taps = self.acc, self.taps
        if len(taps) == 1:
            np.copyto(acc, taps[0])
        else:
            np.add(taps[0], taps[1], out=acc)
        for t in taps[2:]:
            np.add(acc, t, out=acc)
        np.copyto(out.transpose(1, 2, 3, 0), acc)
        return out


def _conv_grad_input(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    wbuf = np.empty(ins[1], dt)
    out_grad = OutGrad(geo, dt, by_channel=True)
    flip = attrs["flip"]
    if GatheredPatchGradients.applies(geo):
        gather = GatheredPatchGradients(geo, dt)

        def gathered(out, x_ref, w, g):
            return gather(_filters_matrix(w, flip, wbuf, geo).transpose(0, 2, 1), out_grad(g), out)
        return gathered, True
    p = Patches(geo, dt)
    dcols = np.empty((geo.g, geo.k, geo.ho * geo.wo * geo.n), dt)
    chunks = ColumnChunks(geo.k, geo.mg, dcols.shape[-1])

    def fn(out, x_ref, w, g):
        wm = _filters_matrix(w, flip, wbuf, geo)
        chunks.matmul(wm.transpose(0, 2, 1), out_grad(g), dcols)
        return p.col2im(dcols, out)
    return fn, True


def _conv_grad_filters(attrs, ins, oshape, dt):
    geo = geometry(attrs, ins[0], ins[1])
    dwt = np.empty((geo.g, geo.k, geo.mg), dt)
    flip = attrs["flip"]
    patches = ImagePatches(geo, dt) if by_image(geo) else Patches(geo, dt)
    kind = type(patches)

    def cols_of(x, y):
        shared = _forward_patches(y, x, kind, geo)
        return patches.im2col(x) if shared is None else shared
    if kind is ImagePatches:
        partial = np.empty((geo.n, geo.g, geo.k, geo.mg), dt)

        def product(x, g, y):
            # per image: its patches (g, Cg*kH*kW, Hout*Wout) times its NCHW output gradient, transposed
            g4 = g.reshape(geo.n, geo.g, geo.mg, geo.ho * geo.wo)
            return np.sum(np.matmul(cols_of(x, y), g4.transpose(0, 1, 3, 2), out=partial), axis=0, out=dwt)
    else:
        out_grad = OutGrad(geo, dt, by_channel=False)
        chunks = ColumnChunks(geo.k, geo.mg, geo.ho * geo.wo * geo.n)
        blocks = np.empty((geo.g, chunks.n, geo.k, geo.mg), dt)

        def product(x, g, y):
            return chunks.matmul_summed(cols_of(x, y), out_grad(g), dwt, blocks)

    def fn(out, x, w_ref, g, y):
        # the filters' gradient transposed, (g, Cg*kH*kW, Mg): OpenBLAS runs this orientation faster
        product(x, g, y)
        d4 = dwt.reshape(geo.g, geo.cg, geo.kh, geo.kw, geo.mg).transpose(0, 4, 1, 2, 3).reshape(oshape)
        np.copyto(out, d4[:, :, ::-1, ::-1] if flip else d4)
        return out
    return fn, True


def _g_conv(n: Variable, g: Variable) -> list:
    x, w = n.inputs
    return [apply("conv2d_grad_input", x, w, g, **n.attrs), apply("conv2d_grad_filters", x, w, g, n, **n.attrs)]


register(
    OpDef("conv2d", 2, _conv_shape, _conv, _g_conv),
    # (x for its shape, w, output gradient) -> gradient w.r.t. x
    OpDef("conv2d_grad_input", 3, shape_of(0), _conv_grad_input, forward=False, shape_operands=(0,)),
    # (x, w for its shape, output gradient, the forward output: its kernel's patches of x are reused)
    # -> gradient w.r.t. w
    OpDef("conv2d_grad_filters", 4, shape_of(1), _conv_grad_filters, forward=False, shape_operands=(1, 3)),
)
