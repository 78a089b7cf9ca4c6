"""The strict reference runtime: SPEC §6 and §7 executed exactly, in numpy float32.

The kernels below are what the rows of `exporter.opset.OPS` call (`OpDef.kernel`); `run` executes
a checked model node by node through the row the checker gave each node.

Independent elements are computed together (vectorised); reductions and MatMul's k loop run in
the spec's order. Only float32 arrays and float32 scalars meet in arithmetic (NEP 50 would keep
them float32, but a float64 scalar would silently widen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tessera.exporter import strict_math
from tessera.exporter.errors import LIMITS, ModelError
from tessera.exporter.shapes import Shape, fmt

if TYPE_CHECKING:  # the checker imports the registry, which imports these kernels
    from tessera.exporter.check import CheckedModel, Node

F32 = np.float32
_SIGN = np.uint32(0x80000000)
_ZERO = F32(0.0)


def _bits(x: np.ndarray) -> np.ndarray:
    # .view keeps the shape (0-d included); same item size, so any strides are fine.
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SPEC §7.2: NaN wins; on equal values the bitwise AND picks +0 over -0."""
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    equal = (_bits(a) & _bits(b)).view(np.float32)
    out = np.where(a > b, a, np.where(b > a, b, equal))
    return np.where(np.isnan(a) | np.isnan(b), F32(np.nan), out).astype(F32)


def minimum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SPEC §7.2: NaN wins; on equal values the bitwise OR picks -0 over +0."""
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    equal = (_bits(a) | _bits(b)).view(np.float32)
    out = np.where(a < b, a, np.where(b < a, b, equal))
    return np.where(np.isnan(a) | np.isnan(b), F32(np.nan), out).astype(F32)


def matmul(a: np.ndarray, b: np.ndarray, transpose_a: bool = False, transpose_b: bool = False) -> np.ndarray:
    """SPEC §7.1: rank-1 updates in increasing k; a zero a[i,k] contributes nothing."""
    a = a.T if transpose_a else a
    b = b.T if transpose_b else b
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=F32)
    for k in range(a.shape[1]):
        col = a[:, k : k + 1]
        nonzero = col != 0
        if not nonzero.any():
            continue  # skipping is the definition, and fast for sparse inputs
        # Masked terms become +0: acc + (+0) == acc because acc is never -0 (it starts at +0).
        acc = acc + np.where(nonzero, col * b[k : k + 1, :], _ZERO)
    return acc


def _reduced_last(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Move the reduced axes (in increasing order) last and flatten them: row-major visiting order."""
    keep = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, keep + list(axes))
    return moved.reshape([x.shape[i] for i in keep] + [-1])


def sequential_sum(x: np.ndarray) -> np.ndarray:
    """acc = +0; acc = fl(acc + x_i) along the last axis, in index order.

    np.add.accumulate is a left-to-right float32 recurrence (unlike np.sum, which is pairwise).
    Starting from x_0 instead of +0 + x_0 differs only for -0, which adding +0 normalises.
    """
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1], dtype=F32)
    return np.add.accumulate(x, axis=-1, dtype=F32)[..., -1] + _ZERO


def reduce(x: np.ndarray, params: dict, kind: str) -> np.ndarray:
    """SPEC §7.5; kind is "sum", "mean", "max", "min" or "prod"."""
    axes, keep = params["axes"], params["keepdims"]
    flat = _reduced_last(x, axes)
    count = flat.shape[-1]
    if kind in ("max", "min"):
        acc = np.full(flat.shape[:-1], -np.inf if kind == "max" else np.inf, dtype=F32)
        pick = maximum if kind == "max" else minimum
        for i in range(count):
            acc = pick(acc, flat[..., i])
    elif kind == "prod":
        acc = np.full(flat.shape[:-1], 1.0, dtype=F32)
        for i in range(count):  # sequential: a float32 product is not associative
            acc = (acc * flat[..., i]).astype(F32)
    else:
        acc = sequential_sum(flat)
        if kind == "mean":
            acc = acc / F32(count)
    if keep:
        acc = acc.reshape([1 if i in axes else d for i, d in enumerate(x.shape)])
    return np.asarray(acc, dtype=F32)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """SPEC §7.4, one slice per position of the other axes, sequential along `axis`."""
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    m = np.full(moved.shape[:-1], -np.inf, dtype=F32)
    for i in range(n):
        m = maximum(m, moved[..., i])
    e = np.stack([strict_math.exp(moved[..., i] - m) for i in range(n)], axis=-1).astype(F32)
    s = sequential_sum(e)
    return np.moveaxis((e / s[..., None]).astype(F32), -1, axis)


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """SPEC §7.4 LogSoftmax: m by Maximum, s = sum of Exp(x - m) in index order, y = (x - m) - Log(s)."""
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    m = np.full(moved.shape[:-1], -np.inf, dtype=F32)
    for i in range(n):
        m = maximum(m, moved[..., i])
    shifted = (moved - m[..., None]).astype(F32)
    s = sequential_sum(np.stack([strict_math.exp(shifted[..., i]) for i in range(n)], axis=-1).astype(F32))
    return np.moveaxis((shifted - strict_math.log(s)[..., None]).astype(F32), -1, axis)


# ------------------------------------------------------------------ format 1.1: int32 and selection

I32 = np.int32
_INT_MAX = 2147483647


def as_flag(x: np.ndarray) -> np.ndarray:
    """A boolean array as int32 0/1 (SPEC §3: booleans are int32)."""
    return np.asarray(x).astype(I32)


def cast(x: np.ndarray, to: str) -> np.ndarray:
    """SPEC §7.8: float32 -> int32 saturates (NaN -> 0) and truncates; int32 -> float32 rounds to nearest even."""
    if to == "float32":
        return x.astype(F32)  # int32 -> float32 rounds to nearest even; float32 -> float32 copies
    if x.dtype == I32:
        return x.copy()
    x = np.asarray(x, F32)
    high, low = x >= F32(2147483648.0), x < F32(-2147483648.0)
    inside = np.where(np.isnan(x) | high | low, F32(0.0), x)  # every value left converts exactly
    out = np.trunc(inside).astype(I32)
    out[high] = _INT_MAX
    out[low] = -_INT_MAX - 1
    return out


def arg_index(x: np.ndarray, axis: int, keepdims: bool, largest: bool) -> np.ndarray:
    """SPEC §7.9: scan in index order; the first NaN wins; otherwise a strictly better value moves `best`."""
    moved = np.moveaxis(x, axis, -1)
    best = np.zeros(moved.shape[:-1], dtype=np.int64)
    value = moved[..., 0].copy()
    for i in range(1, moved.shape[-1]):
        cur = moved[..., i]
        better = cur > value if largest else cur < value
        if x.dtype != I32:
            better = ~np.isnan(value) & (np.isnan(cur) | better)
        best = np.where(better, i, best)
        value = np.where(better, cur, value)
    out = best.astype(I32)
    return np.expand_dims(out, axis) if keepdims else out


def gather(data: np.ndarray, indices: np.ndarray, axis: int) -> np.ndarray:
    """SPEC §6 Gather; an index outside [-d, d-1] is E_INPUT (checked before anything is read)."""
    d = data.shape[axis]
    idx = np.asarray(indices, dtype=np.int64)
    bad = np.flatnonzero((idx < -d) | (idx >= d))
    if bad.size:
        raise ModelError("E_INPUT", f"index {int(idx.ravel()[bad[0]])} (indices element #{int(bad[0])}) is "
                                    f"outside [{-d}, {d - 1}] for axis {axis} of size {d}")
    return np.take(data, np.where(idx < 0, idx + d, idx), axis=axis)


def slice_(x: np.ndarray, slices: tuple) -> np.ndarray:
    """The (start, end, step) each sliced axis resolved to at check time (Python's slice.indices)."""
    out = x
    for axis, sl in enumerate(slices):
        if sl is not None:
            out = np.take(out, np.arange(*sl), axis=axis)
    return out.copy()


# ------------------------------------------------------------------ format 1.2: convolution and pooling (NCHW)


def _out_size(size: int, kernel_extent: int, pads: int, stride: int) -> int:
    return (size + pads - kernel_extent) // stride + 1


def _window_slice(start: int, count: int, stride: int) -> slice:
    """Rows start, start + stride, .. (count of them) of a padded axis."""
    return slice(start, start + stride * (count - 1) + 1, stride)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, params: dict) -> np.ndarray:
    """SPEC §7.11: per group, the patch matrix (one row per (n, oh, ow), one column per k = (c, i, j) in
    row-major order, +0 where the patch covers padding) times the weights as (Cg kH kW) x Mg, by `matmul`
    (its zero skip is the padding and zero-input skip), then the bias added once."""
    n, c, h, width = x.shape
    m, cg, kh, kw = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw), group = (params["strides"], params["pads"], params["dilations"],
                                                   params["group"])
    out_h = _out_size(h, dh * (kh - 1) + 1, pt + pb, sh)
    out_w = _out_size(width, dw * (kw - 1) + 1, pl + pr, sw)
    padded = np.zeros((n, c, h + pt + pb, width + pl + pr), dtype=F32)
    padded[:, :, pt:pt + h, pl:pl + width] = x
    mg = m // group
    out = np.empty((n, m, out_h, out_w), dtype=F32)
    for g in range(group):
        columns = [padded[:, g * cg + ci, _window_slice(i * dh, out_h, sh), _window_slice(j * dw, out_w, sw)]
                   for ci in range(cg) for i in range(kh) for j in range(kw)]
        patches = np.stack(columns, axis=-1).reshape(n * out_h * out_w, cg * kh * kw)
        weights = w[g * mg:(g + 1) * mg].reshape(mg, cg * kh * kw).T
        y = matmul(patches, weights).reshape(n, out_h, out_w, mg)
        out[:, g * mg:(g + 1) * mg] = y.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b.astype(F32).reshape(1, m, 1, 1)
    return out


def pool2d(x: np.ndarray, params: dict, kind: str) -> np.ndarray:
    """SPEC §7.12: the window visited row-major, padding skipped; kind is "max" or "average"."""
    n, c, h, width = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = params["kernel_shape"], params["strides"], params["pads"]
    out_h, out_w = _out_size(h, kh, pt + pb, sh), _out_size(width, kw, pl + pr, sw)
    padded = np.zeros((n, c, h + pt + pb, width + pl + pr), dtype=F32)
    padded[:, :, pt:pt + h, pl:pl + width] = x
    rows, cols = np.arange(out_h) * sh - pt, np.arange(out_w) * sw - pl  # each window's first position
    acc = np.full((n, c, out_h, out_w), -np.inf if kind == "max" else 0.0, dtype=F32)
    visited = np.zeros((out_h, out_w), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            inside = (((rows + i >= 0) & (rows + i < h))[:, None]) & (((cols + j >= 0) & (cols + j < width))[None, :])
            win = padded[:, :, _window_slice(i, out_h, sh), _window_slice(j, out_w, sw)]
            step = maximum(acc, win) if kind == "max" else (acc + win).astype(F32)
            acc = np.where(inside, step, acc)
            visited += inside
    if kind == "max":
        return acc
    count = np.full((out_h, out_w), kh * kw, dtype=np.int64) if params["count_include_pad"] else visited
    return (acc / count.astype(np.float64).astype(F32)).astype(F32)  # exact, then rounded once


def neg(x: np.ndarray) -> np.ndarray:
    return (_bits(x) ^ _SIGN).view(np.float32)


def absolute(x: np.ndarray) -> np.ndarray:
    return (_bits(x) & ~_SIGN).view(np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    return maximum(x, _ZERO)


def clip(x: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    return minimum(maximum(x, lo), hi)


def apply(node: Node, args: list[np.ndarray], params: dict | None = None) -> np.ndarray:
    """One node's kernel (its registry row's) on operands of the dtypes the checker inferred; a run-time
    error of the kernel (a Gather index, SPEC §5 step 12) names the node."""
    try:
        with np.errstate(all="ignore"):
            out = node.opdef.kernel(args, node.params if params is None else params)
    except ModelError as exc:
        raise ModelError(exc.code, f"{node.label}: {exc.message}") from None
    return np.asarray(out, dtype=DTYPES[node.dtype])


DTYPES = {"float32": np.dtype(np.float32), "int32": np.dtype(np.int32)}


# ------------------------------------------------------------------ binding (SPEC §5 items 10-11)


def _bind(model: CheckedModel, inputs: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    declared = [name for name, _ in model.inputs]
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise ModelError("E_INPUT", f"unknown input(s) {unknown}; the model takes {declared}")
    env: dict[str, int] = {}
    values: dict[str, np.ndarray] = {}
    for name, shape in model.inputs:
        if name not in inputs:
            raise ModelError("E_INPUT", f"missing input {name!r}")
        arr = as_input(name, inputs[name], model.dtypes[name])
        _bind_shape(name, shape, arr.shape, env)
        values[name] = arr
    return env, values


def as_input(name: str, value: object, dtype: str) -> np.ndarray:
    """An input as its declared dtype: float32 converts anything numeric; int32 takes only integral
    values in range (SPEC §9: anything else is E_INPUT), from an integer or a float array."""
    arr = np.asarray(value)
    if dtype == "float32":
        return arr if arr.dtype == F32 else arr.astype(F32)
    if arr.dtype == I32:
        return arr
    if arr.dtype.kind not in "iufb":
        raise ModelError("E_INPUT", f"input {name!r}: int32 values must be integers, got {arr.dtype} data")
    wide = arr.astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(wide) & (wide == np.trunc(wide)) & (wide >= -2147483648.0)
                           & (wide <= 2147483647.0)))
    if bad.size:
        raise ModelError("E_INPUT", f"input {name!r}: value #{int(bad[0])} ({arr.ravel()[bad[0]]}) is not an "
                                    "int32 integer")
    return wide.astype(I32)


def _bind_shape(name: str, shape: Shape, actual: tuple[int, ...], env: dict[str, int]) -> None:
    if len(actual) != len(shape):
        raise ModelError("E_INPUT", f"input {name!r}: rank {len(actual)}, the model declares {fmt(shape)}")
    for d, n in zip(shape, actual, strict=True):
        if isinstance(d, int):
            if d != n:
                raise ModelError("E_INPUT", f"input {name!r}: shape {list(actual)}, the model declares {fmt(shape)}")
        elif n < 1:
            raise ModelError("E_INPUT", f"input {name!r}: symbol {d!r} bound to {n}")
        elif env.setdefault(d, n) != n:
            raise ModelError("E_INPUT", f"input {name!r}: symbol {d!r} is {n} here but {env[d]} elsewhere")


def concrete(shape: Shape, env: dict[str, int]) -> tuple[int, ...]:
    return tuple(env[d] if isinstance(d, str) else d for d in shape)


def _check_sizes(model: CheckedModel, env: dict[str, int]) -> None:
    for name, shape in model.shapes.items():
        count = 1
        for d in concrete(shape, env):
            count *= d
        if count > LIMITS.ELEMENTS:
            bound = fmt(concrete(shape, env))
            raise ModelError("E_LIMIT", f"tensor {name!r}: {bound} exceeds {LIMITS.ELEMENTS} elements")


def run(model: CheckedModel, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a checked model on concrete inputs; outputs in declaration order."""
    env, values = _bind(model, inputs)
    _check_sizes(model, env)
    values.update(model.initializers)
    for node in model.nodes:
        params = node.params if node.opdef.bind is None else node.opdef.bind(node.params, env)
        values[node.output] = apply(node, [values[n] for n in node.inputs], params)
    return {name: np.array(values[name], dtype=DTYPES[model.dtypes[name]], copy=True) for name, _ in model.outputs}
