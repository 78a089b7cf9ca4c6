"""A format document as trainer variables: `from_model(doc)` gives shared variables and a symbolic forward
graph, so that a model exported here or imported from ONNX can be trained further with the Theano API and
exported again.

Each format operator maps back to the trainer op that lowers to it: the registry's `lower=` rows
(exporter/opset.py) read backwards, one builder per `Lower.how`, plus explicit rows for the operators the
lowering writes from `op_*` methods (Conv2D, MaxPool2D, AveragePool2D). A node the trainer cannot express
raises `FromModelError` naming the node.

`ImportedModel.document()` exports the graph without the trainer's rewrites: the graph already holds
format operators, and a rewrite (log(softmax) -> log_softmax, ...) would change the model's bits.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tessera.trainer.graph import SharedVariable, Variable, apply, constant
from tessera.trainer.ops.pool import end_pad, pool_out_len

if TYPE_CHECKING:  # the exporter is imported when a model is read, not with the trainer
    from tessera.exporter.check import CheckedModel, Node

__all__ = ["FromModelError", "ImportedModel", "from_model"]


class FromModelError(ValueError):
    """A node of a valid document that the trainer's ops cannot compute; the message names the node."""


@dataclass
class ImportedModel:
    """The trainer's view of a model document.

    inputs: symbolic inputs named as the graph inputs, in order (a symbolic dimension is None);
    outputs: graph output name -> symbolic variable (the variable's name is the output's);
    params: the trainable initializers, name -> SharedVariable (update these in `function(updates=)`);
    initializers: every initializer, name -> its variable (frozen float32 ones are SharedVariables outside
    `params`, int32 ones are constants); metadata: the document's, written again by `document()`.
    """

    inputs: list[Variable]
    outputs: dict[str, Variable]
    params: dict[str, SharedVariable]
    initializers: dict[str, Variable]
    metadata: dict | None = field(default=None, repr=False)

    def document(self, path: str | os.PathLike | None = None, *, encoding: str = "decimal") -> dict:
        """The model as a format document with the parameters' current values (`exporter.export`, without
        the trainer's rewrites); written atomically to `path` if given."""
        from tessera.exporter.export import export

        return export(list(self.outputs.values()), self.inputs, path, encoding=encoding, metadata=self.metadata,
                      rewrite=False)


# ------------------------------------------------------------------ building one node



@dataclass
class _Graph:
    """What a builder may read besides its operands: the checked document's static shapes (symbols as str)."""

    checked: CheckedModel

    def shape(self, name: str) -> tuple:
        return tuple(self.checked.shapes[name])


def _refuse(node: Node, why: str) -> FromModelError:
    return FromModelError(f"{node.label}: {why}")


def _as_bool(x: Variable) -> Variable:
    """A truth value: the format's And/Or/Not read any nonzero int32 as true, the trainer's are bitwise."""
    return x if x.dtype == np.bool_ else apply("neq", x, 0)


def _elementwise(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, *xs)


def _logic(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, *[_as_bool(x) for x in xs])


def _reduce(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    axis = tuple(node.params["axes"]) if "axes" in node.attrs else None  # absent: all axes (the lowering's None)
    return apply(op, xs[0], axis=axis, keepdims=bool(node.params["keepdims"]))


def _argreduce(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, xs[0], axis=int(node.params["axis"]), keepdims=bool(node.params["keepdims"]))


def _matrix_transpose(x: Variable) -> Variable:
    return apply("transpose", x, perm=(1, 0))


def _dot(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    a, b = xs  # the lowering reads a 2-D transpose operand as MatMul's flag
    a = _matrix_transpose(a) if node.params["transpose_a"] else a
    b = _matrix_transpose(b) if node.params["transpose_b"] else b
    return apply(op, a, b)


def _transpose(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, xs[0], perm=tuple(int(p) for p in node.params["perm"]))


def _clip(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, xs[0], lo=float(node.params["min"]), hi=float(node.params["max"]))


def _softmax(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """The trainer's softmax and log_softmax (and their gradients) work along the last axis: another axis
    is moved there and back (two Transposes in the export: data movement, the same bits)."""
    (x,) = xs
    axis, last = int(node.params["axis"]), x.ndim - 1
    if axis == last:
        return apply(op, x, axis=-1)
    perm = tuple(i for i in range(x.ndim) if i != axis) + (axis,)
    back = tuple(perm.index(i) for i in range(x.ndim))
    return apply("transpose", apply(op, apply("transpose", x, perm=perm), axis=-1), perm=back)


def _reshape(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """The target's one symbol (the input's one unknown dim, moved whole) is the trainer's -1; the lowering
    writes it back as that symbol."""
    target = list(node.params["shape"])
    symbols = [i for i, d in enumerate(target) if isinstance(d, str)]
    if len(symbols) > 1:
        raise _refuse(node, f"Reshape to {target} keeps {len(symbols)} symbolic dims; the trainer's reshape has "
                            "one -1 (give the graph input concrete dims)")
    return apply(op, xs[0], shape=tuple(-1 if isinstance(d, str) else int(d) for d in target))


def _where(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, *xs)


def _cast(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    (x,) = xs
    to = np.dtype(node.params["to"])
    return x if x.dtype == to else apply(op, x, dtype=to.name)


def _gather(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """Gather on axis 0 is advanced indexing; another axis is moved to the front and the result's axes back."""
    data, idx = xs
    axis, r, q = int(node.params["axis"]), data.ndim, idx.ndim
    if axis == 0:
        return apply(op, data, idx)
    front = (axis,) + tuple(i for i in range(r) if i != axis)
    taken = apply(op, apply("transpose", data, perm=front), idx)  # idx dims, then data's other dims in order
    back = tuple(range(q, q + axis)) + tuple(range(q)) + tuple(range(q + axis, q + r - 1))
    return apply("transpose", taken, perm=back)


def _concat(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    return apply(op, *xs, axis=int(node.params["axis"]))


def _slice(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """Basic indexing: one ("slice", start, end, step) entry per named axis, the whole axis before them."""
    (x,) = xs
    attrs = node.attrs
    k = len(attrs["starts"])
    axes = [int(a) % x.ndim for a in attrs.get("axes", range(k))]
    steps = attrs.get("steps", [1] * k)
    entries = {a: ("slice", int(s), int(e), int(st)) for a, s, e, st in zip(axes, attrs["starts"], attrs["ends"],
                                                                                steps, strict=True)}
    idx = tuple(entries.get(a, ("slice", None, None, None)) for a in range(max(axes) + 1))
    return apply(op, x, idx=idx)


def _symmetric(node: Node, pads: tuple, what: str) -> tuple[int, int]:
    pt, pl, pb, pr = pads
    if (pt, pl) != (pb, pr):
        raise _refuse(node, f"{what} pads {list(pads)} are asymmetric; the trainer's {what} pads both sides "
                            "alike (pad the input explicitly, or export the model with symmetric padding)")
    return pt, pl


def _conv2d(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """Conv2D is cross-correlation of the weights as stored (filter_flip False); a bias is added after the
    sum, as SPEC 7.11's `fl(acc + B[m])`."""
    p = node.params
    border = _symmetric(node, p["pads"], "conv2d")
    y = apply("conv2d", xs[0], xs[1], border=border, subsample=tuple(p["strides"]), dilation=tuple(p["dilations"]),
              flip=False, groups=int(p["group"]))
    if len(xs) == 3:
        y = apply("add", y, apply("dimshuffle", xs[2], pattern=("x", 0, "x", "x")))
    return y


def _pool(op: str, node: Node, xs: list[Variable], g: _Graph) -> Variable:
    """pool_2d: symmetric pads are Theano's pad (ignore_border=True); more padding at the end than at the
    start is ignore_border=False's last partial window when it gives exactly those pads."""
    (x,) = xs
    p = node.params
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = p["kernel_shape"], p["strides"], p["pads"]
    include = bool(p.get("count_include_pad", False))
    mode = "max" if node.op == "MaxPool2D" else ("average_inc_pad" if include else "average_exc_pad")
    if (pt, pl) == (pb, pr):
        return apply(op, x, ws=(kh, kw), stride=(sh, sw), pad=(pt, pl), ignore_border=True, mode=mode)
    h, w = g.shape(node.inputs[0])[2:]
    ends = [end_pad(n, k, s, 0, pool_out_len(n, k, s, 0, False)) for n, k, s in ((h, kh, sh), (w, kw, sw))]
    if (pt, pl) != (0, 0) or ends != [pb, pr] or include:
        raise _refuse(node, f"{node.op} pads {list(p['pads'])}"
                            f"{' with count_include_pad' if include else ''}: the trainer's pool_2d pads both "
                            "sides alike, or only the end as its last partial window (ignore_border=False, "
                            f"end pads {ends} here, count_include_pad false)")
    return apply(op, x, ws=(kh, kw), stride=(sh, sw), pad=(0, 0), ignore_border=False, mode=mode)


# One builder per `Lower.how` of the registry: the inverse of `Lowering.lower_<how>`.
_BY_HOW: dict[str, Callable[..., Variable]] = {
    "elementwise": _elementwise, "broadcast": _elementwise, "compare": _elementwise, "logic": _logic,
    "reduce": _reduce, "argreduce": _argreduce, "dot": _dot, "transpose": _transpose, "clip": _clip,
    "softmax": _softmax, "reshape": _reshape, "where": _where, "cast": _cast, "gather": _gather,
    "concat": _concat, "slice": _slice,
}


@functools.cache
def inverse_table() -> dict[str, tuple[str, Callable[..., Variable]]]:
    """Format op -> (trainer op, builder): the registry's `lower=` rows read backwards, then the ops the
    lowering writes from its `op_*` methods."""
    from tessera.exporter.opset import OPS

    table = {name: (row.lower.trainer, _BY_HOW[row.lower.how]) for name, row in OPS.items() if row.lower is not None}
    table.update({"Conv2D": ("conv2d", _conv2d), "MaxPool2D": ("pool_2d", _pool),
                  "AveragePool2D": ("pool_2d", _pool)})
    return table


# ------------------------------------------------------------------ the document


def _initializers(checked: CheckedModel, trainable: Iterable[str] | None) -> tuple[dict, dict]:
    from tessera.trainer import shared

    floats = [n for n, a in checked.initializers.items() if a.dtype == np.float32]
    wanted = set(floats if trainable is None else trainable)
    unknown = sorted(wanted - set(floats))
    if unknown:
        raise ValueError(f"trainable names {unknown} are not float32 initializers of the model "
                         f"(those are {sorted(floats)})")
    variables: dict[str, Variable] = {}
    for name, arr in checked.initializers.items():
        # float32 ones stay shared variables under their names (the export keeps those names), trained or not
        variables[name] = shared(arr, name=name) if arr.dtype == np.float32 else constant(arr, name=name)
    return variables, {n: variables[n] for n in floats if n in wanted}


def _named(v: Variable, name: str) -> Variable:
    """`v` under the output's name. A no-op node (a Cast to its own dtype) leaves another value there (an
    input, a weight): an identity dimshuffle names it, which the export writes as a Reshape copy."""
    if v.name == name and v.kind == "apply":
        return v
    out = apply("dimshuffle", v, pattern=tuple(range(v.ndim)))
    out.name = name
    return out


def from_model(doc_or_path: dict | str | os.PathLike | bytes, trainable: Iterable[str] | None = None) -> ImportedModel:
    """A format document (a dict, JSON bytes or a path) as trainer variables.

    The document is checked first (`exporter.check`: a bad file raises `ModelError` with its SPEC code).
    `trainable` names the float32 initializers that become `params` (default: all of them). A node the
    trainer cannot compute raises `FromModelError` naming it.
    """
    from tessera.exporter.model import load
    from tessera.trainer import tensor

    checked = load(doc_or_path, runtime="reference").checked
    graph = _Graph(checked)
    values, params = _initializers(checked, trainable)
    inputs = []
    for name, shape in checked.inputs:
        dims = tuple(None if isinstance(d, str) else int(d) for d in shape)
        inputs.append(tensor.tensor(len(dims), name=name, dtype=checked.dtypes[name], shape=dims))
        values[name] = inputs[-1]
    for node in checked.nodes:
        if node.op not in inverse_table():
            raise _refuse(node, f"no trainer op computes {node.op}")
        trainer_op, build = inverse_table()[node.op]
        out = build(trainer_op, node, [values[x] for x in node.inputs], graph)
        if out.kind == "apply" and out.name is None:
            out.name = node.output
        values[node.output] = out
    outputs = {name: _named(values[name], name) for name, _ in checked.outputs}
    initializers = {n: values[n] for n in checked.initializers}
    return ImportedModel(inputs, outputs, params, initializers, checked.doc.get("metadata"))
