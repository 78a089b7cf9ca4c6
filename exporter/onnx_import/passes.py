"""Rewrites of the imported graph into the format's own operators: each is exact (the rewritten graph gives
the same bits on every input, by SPEC §6/§7), and each undoes a composition that ONNX needs and the format
does not, so that tessera -> ONNX -> tessera gives the graph back.
"""

from __future__ import annotations

import numpy as np

from tessera.exporter.onnx_import.graph import Graph

_BELOW_2_31 = float(np.nextafter(np.float32(2.0**31), np.float32(0)))


def _scalar(g: Graph, name: str, value: float) -> bool:
    arr = g.initializers.get(name)
    return arr is not None and arr.size == 1 and float(arr.ravel()[0]) == value


def matmul_transposes(g: Graph) -> None:
    """MatMul of Transpose(perm [1, 0]) of v is MatMul of v with transpose_a/transpose_b (the same products)."""
    made = g.producer()
    for n in g.nodes:
        if n["op"] != "MatMul":
            continue
        for i, flag in enumerate(("transpose_a", "transpose_b")):
            t = made.get(n["inputs"][i])
            if t is not None and t["op"] == "Transpose" and list(t.get("attrs", {}).get("perm", [])) == [1, 0]:
                n["inputs"][i] = t["inputs"][0]
                attrs = n.setdefault("attrs", {})
                attrs[flag] = not attrs.get(flag, False)
                if not attrs[flag]:
                    del attrs[flag]


def not_equal(g: Graph) -> None:
    """Not(Equal(a, b)) with the Equal used once is NotEqual(a, b) (SPEC §7.7: NotEqual is `not (a == b)`)."""
    made, uses = g.producer(), g.uses()
    for n in g.nodes:
        e = made.get(n["inputs"][0]) if n["op"] == "Not" else None
        if e is not None and e["op"] == "Equal" and uses[e["outputs"][0]] == 1:
            n["op"], n["inputs"] = "NotEqual", list(e["inputs"])


def _is(made: dict, name: str, op: str) -> dict | None:
    n = made.get(name)
    return n if n is not None and n["op"] == op else None


def saturating_cast(g: Graph) -> None:
    """Where(NotEqual(x, x), 0, Where(GreaterOrEqual(x, 2^31), INT32_MAX, Cast(Clip(x, -2^31, 2^31 - 128))))
    is SPEC §7.8's float32 -> int32 Cast, term by term: the ONNX exporter's composition of it."""
    made = g.producer()
    for n in g.nodes:
        if n["op"] != "Where":
            continue
        nan, zero, rest = n["inputs"]
        ne, inner = _is(made, nan, "NotEqual"), _is(made, rest, "Where")
        if ne is None or inner is None or ne["inputs"][0] != ne["inputs"][1] or not _scalar(g, zero, 0):
            continue
        x = ne["inputs"][0]
        ge, big, trunc = inner["inputs"]
        ge_n, cast = _is(made, ge, "GreaterOrEqual"), _is(made, trunc, "Cast")
        clip = _is(made, cast["inputs"][0], "Clip") if cast is not None else None
        if (ge_n is None or clip is None or ge_n["inputs"][0] != x or not _scalar(g, ge_n["inputs"][1], 2.0**31)
                or not _scalar(g, big, 2**31 - 1) or clip["inputs"][0] != x
                or clip.get("attrs") != {"min": -(2.0**31), "max": _BELOW_2_31}):
            continue
        n["op"], n["inputs"], n["attrs"] = "Cast", [x], {"to": "int32"}


def first_nan_argmax(g: Graph) -> None:
    """Where(Cast(ReduceMax(Cast(NotEqual(x, x))), axis), ArgMax(NotEqual(x, x)), ArgMax(x)) is ArgMax(x) (also
    ArgMin): SPEC §7.9 already makes the first NaN of a slice the answer; the ONNX exporter spells it out."""
    made = g.producer()
    for n in g.nodes:
        if n["op"] != "Where":
            continue
        cond, first, index = n["inputs"]
        arg, first_n = made.get(index), _is(made, first, "ArgMax")
        if arg is None or arg["op"] not in ("ArgMax", "ArgMin") or first_n is None:
            continue
        nan = _is(made, first_n["inputs"][0], "NotEqual")
        back = _is(made, cond, "Cast")
        red = _is(made, back["inputs"][0], "ReduceMax") if back is not None else None
        fwd = _is(made, red["inputs"][0], "Cast") if red is not None else None
        x = arg["inputs"][0]
        if (nan is None or fwd is None or nan["inputs"] != [x, x] or fwd["inputs"][0] != nan["outputs"][0]
                or first_n.get("attrs") != arg.get("attrs")):
            continue
        n["op"], n["inputs"], n["attrs"] = arg["op"], [x], dict(arg.get("attrs", {}))


def dead_code(g: Graph) -> None:
    """Drop nodes and initializers nothing reads (folded constants, the parts of undone compositions)."""
    while True:
        uses = g.uses()
        keep = [n for n in g.nodes if uses.get(n["outputs"][0], 0)]
        if len(keep) == len(g.nodes):
            break
        g.nodes = keep
    uses = g.uses()
    g.initializers = {k: v for k, v in g.initializers.items() if uses.get(k, 0)}


PASSES = (matmul_transposes, not_equal, saturating_cast, first_nan_argmax, dead_code)
