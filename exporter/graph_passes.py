"""Small named rewrites of the lowered format graph, each exact (the same bits for every input).

They run after lowering (trainer graph -> format nodes) and before the document is written. A pass
takes the `LoweredGraph` and edits it in place; PASSES lists them in the order they run.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from tessera.exporter.errors import ModelError
from tessera.exporter.lowering import LoweredGraph
from tessera.exporter.opset import OPS
from tessera.exporter.shapes import ShapeProblem
from tessera.exporter.symdims import DimVar


def _uses(g: LoweredGraph) -> Counter:
    """How many times each value name is read (node inputs and graph outputs)."""
    uses = Counter(name for node in g.nodes for name in node["inputs"])
    uses.update(v.name for v in g.outputs)
    return uses


def _known_shapes(g: LoweredGraph) -> dict[str, tuple]:
    """Shapes of the float32 values a pass can see without inference: initializers and graph inputs
    (a symbolic input dim is None)."""
    shapes = {n: a.shape for n, a in g.initializers if a.dtype == np.float32}
    shapes.update({v.name: tuple(d if isinstance(d, int) else None for d in v.shape)
                   for v in g.inputs if v.dtype == "float32"})
    return shapes


def _per_channel_bias(name: str, producers: dict, shapes: dict, uses: Counter, m: int
                      ) -> tuple[str, tuple | None, dict | None] | None:
    """When `name` adds one float32 value per channel to an (N, M, H, W) tensor: the value holding
    those M numbers, its stored shape when that is not (M,) (the caller reshapes an initializer), and
    the Reshape node that made it from an (M,) value when nothing else reads the Reshape (it can go).
    Per channel means an initializer of shape (M, 1, 1) or (1, M, 1, 1), or a Reshape of an (M,)
    initializer or graph input to one of those (a bare (M,) would broadcast along W)."""
    per_channel = ((m, 1, 1), (1, m, 1, 1))
    node = producers.get(name)
    if node is None:
        return (name, shapes[name], None) if shapes.get(name) in per_channel else None
    source = node["inputs"][0]
    if node["op"] != "Reshape" or source in producers or shapes.get(source) != (m,):
        return None
    target = tuple(d if isinstance(d, int | np.integer) else -2 for d in node.get("attrs", {}).get("shape", ()))
    if target not in per_channel:
        return None
    return source, None, (node if uses[name] == 1 else None)


def fold_conv_bias(g: LoweredGraph) -> None:
    """Conv2D(x, w) then Add of a per-channel bias b -> Conv2D(x, w, b).

    Exact: SPEC 7.11 adds the bias last, `fl(acc + B[m])`, which is the Add's `fl(acc + b)` (IEEE
    addition is commutative, so the operand order of the Add does not matter). Only when the
    convolution's output is read by that Add alone and the weights' shape is known (an initializer or
    a graph input: their first dimension is M)."""
    inits = dict(g.initializers)
    shapes = _known_shapes(g)
    uses = _uses(g)
    producers = {node["outputs"][0]: node for node in g.nodes}
    dropped: list[dict] = []
    for add in g.nodes:
        if add["op"] != "Add" or any(add is d for d in dropped):
            continue
        for conv_out, other in (add["inputs"], add["inputs"][::-1]):
            conv = producers.get(conv_out)
            if conv is None or conv["op"] != "Conv2D" or len(conv["inputs"]) != 2 or uses[conv_out] != 1:
                continue
            w_shape = shapes.get(conv["inputs"][1])
            if w_shape is None or len(w_shape) != 4 or w_shape[0] is None:
                continue
            found = _per_channel_bias(other, producers, shapes, uses, int(w_shape[0]))
            if found is None:
                continue
            bias_name, stored, reshape = found
            if stored is not None:  # an initializer stored as (1, M, 1, 1) or (M, 1, 1): the bias input is (M,)
                if bias_name not in inits:
                    continue
                bias = inits[bias_name].reshape(-1)
                bias_name = _add_initializer(g, bias_name + "_m", bias)
                inits[bias_name], shapes[bias_name] = bias, bias.shape
            conv["inputs"].append(bias_name)
            conv["outputs"] = list(add["outputs"])
            producers[add["outputs"][0]] = conv
            dropped.append(add)
            if reshape is not None:
                dropped.append(reshape)
            break
    if dropped:
        g.nodes[:] = [n for n in g.nodes if not any(n is d for d in dropped)]
        read = _uses(g)
        g.initializers[:] = [(n, a) for n, a in g.initializers if read[n]]


def fold_constants(g: LoweredGraph) -> None:
    """A node whose operands are all initializers becomes an initializer holding its result (batch
    normalisation's scale and shift from the running statistics, a reshaped bias, a computed filter).

    Exact: the result is computed by the node's reference kernel (its registry row), which is what
    every runtime would compute at run time. Not folded: a result that would not be a valid
    initializer (a non-finite float32), one larger than its operands together (a broadcast would grow
    the file), a kernel that raises (a run-time error such as a Gather index stays at run time), a
    graph output (it keeps its node), and attributes holding symbols."""
    inits = dict(g.initializers)
    outputs = {v.name for v in g.outputs}
    uses = _uses(g)
    renamed: dict[str, str] = {}
    kept: list[dict] = []
    for node in g.nodes:
        node["inputs"] = [renamed.get(name, name) for name in node["inputs"]]
        result = None
        if node["outputs"][0] not in outputs and all(name in inits for name in node["inputs"]):
            result = _evaluate(node, [inits[name] for name in node["inputs"]])
        if result is None:
            kept.append(node)
            continue
        name = node["outputs"][0]
        (only,) = node["inputs"] if len(node["inputs"]) == 1 else (None,)
        if only is not None and uses[only] == 1:  # a weight read only here: its result keeps its name
            renamed[name], name = only, only
            g.initializers[:] = [(n, a) for n, a in g.initializers if n != only]
        inits[name] = result
        g.initializers.append((name, result))
    if len(kept) < len(g.nodes):
        g.nodes[:] = kept
        read = _uses(g)
        g.initializers[:] = [(n, a) for n, a in g.initializers if read[n]]


def _evaluate(node: dict, args: list[np.ndarray]) -> np.ndarray | None:
    """The node's result by its reference kernel, or None when it should not become an initializer."""
    row = OPS[node["op"]]
    attrs = row.with_defaults(dict(node.get("attrs", {})))
    if any(isinstance(d, DimVar) for v in attrs.values() if isinstance(v, list | tuple) for d in v):
        return None
    try:
        dtype = row.dtype([str(a.dtype) for a in args], attrs)
        shape, params = row.shape([tuple(a.shape) for a in args], attrs)
        if row.bind is not None:
            params = row.bind(params, {})
        with np.errstate(all="ignore"):
            out = np.asarray(row.kernel(args, params), dtype=dtype)
    except (ModelError, ShapeProblem, KeyError, ValueError, TypeError):
        return None
    if out.shape != tuple(shape) or out.size > sum(a.size for a in args):
        return None
    if out.dtype == np.float32 and not np.isfinite(out).all():
        return None
    return np.array(out, order="C")


def pool_before_relu(g: LoweredGraph) -> None:
    """Relu then MaxPool2D -> MaxPool2D then Relu: the Relu then runs on the pooled tensor (a
    quarter of the data for 2x2 windows).

    Exact: with SPEC 7.2's Maximum (NaN wins; otherwise the total order with -0 below +0), Relu is
    Maximum(x, +0) and max-pooling a window takes its Maximum, so max over the window of
    max(x, +0) is max(max over the window of x, +0), NaN included (a NaN in the window gives NaN
    either way). Only when the Relu's output is read by that MaxPool2D alone."""
    uses = _uses(g)
    producers = {node["outputs"][0]: node for node in g.nodes}
    for pool in g.nodes:
        if pool["op"] != "MaxPool2D":
            continue
        relu = producers.get(pool["inputs"][0])
        if relu is None or relu["op"] != "Relu" or uses[relu["outputs"][0]] != 1:
            continue
        # Swap the two ops in place: the first node pools the Relu's input, the second applies Relu.
        relu["op"], pool["op"] = "MaxPool2D", "Relu"
        relu["attrs"], pool["attrs"] = pool.get("attrs", {}), {}
        if not relu["attrs"]:
            del relu["attrs"]
        del pool["attrs"]


def _add_initializer(g: LoweredGraph, name: str, arr: np.ndarray) -> str:
    taken = {n for n, _ in g.initializers} | {out for node in g.nodes for out in node["outputs"]}
    taken |= {v.name for v in (*g.inputs, *g.outputs)}
    base, k = name, 1
    while name in taken:
        name, k = f"{base}{k}", k + 1
    g.initializers.append((name, arr))
    return name


# The bias fold first (a bias Reshape of a weight is its pattern, and keeps the weight's name), then
# constants, then the bias fold again for convolutions whose weights only folding made known.
PASSES = (fold_conv_bias, fold_constants, fold_conv_bias, pool_before_relu)
