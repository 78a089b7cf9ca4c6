"""Unknown trainer dimensions as unification variables, resolved to integers or named symbols.

A trainer input such as `T.matrix("x")` has shape (None, None). Its uses pin some dims (x W
fixes the second to W's rows); the rest become symbolic dims of format v1 ("batch", "d1", ...).
"""

from __future__ import annotations

from tessera.exporter.shapes import ShapeProblem

Dim = "int | DimVar"


class DimVar:
    """A dimension not known at build time; union-find with an optional integer binding."""

    def __init__(self, hint: str) -> None:
        self.hint = hint
        self.parent: DimVar = self
        self.value: int | None = None
        self.symbol: str | None = None

    def root(self) -> DimVar:
        r = self
        while r.parent is not r:
            r = r.parent
        return r


def resolve(d: object) -> object:
    """An int, or the root DimVar of a still-unknown dim."""
    if isinstance(d, DimVar):
        r = d.root()
        return r.value if r.value is not None else r
    return d


def unify(a: object, b: object) -> object:
    """Make two dims equal (MatMul's K, broadcasting of non-1 dims); returns the common dim."""
    a, b = resolve(a), resolve(b)
    if a is b or a == b:
        return a
    if isinstance(a, DimVar) and isinstance(b, DimVar):
        b.parent = a
        return a
    if isinstance(a, DimVar):
        a.value = b
        return b
    if isinstance(b, DimVar):
        b.value = a
        return a
    raise ShapeProblem(f"dimensions {a} and {b} differ")


def broadcast(a: tuple, b: tuple) -> tuple:
    rank = max(len(a), len(b))
    a2 = (1,) * (rank - len(a)) + tuple(resolve(d) for d in a)
    b2 = (1,) * (rank - len(b)) + tuple(resolve(d) for d in b)
    out = []
    for x, y in zip(a2, b2, strict=True):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        else:  # an unknown dim meeting a non-1 dim: take them as equal (the common case, a bias)
            out.append(unify(x, y))
    return tuple(out)


def name_symbols(input_shapes: list[tuple]) -> None:
    """Name the unknown dims still free: dim 0 "batch", dim i "d<i>", made unique in input order."""
    taken: set[str] = set()
    for shape in input_shapes:
        for i, d in enumerate(shape):
            r = resolve(d)
            if isinstance(r, DimVar) and r.symbol is None:
                base = "batch" if i == 0 else f"d{i}"
                name, k = base, 1
                while name in taken:
                    name, k = f"{base}{k}", k + 1
                r.symbol = name
                taken.add(name)


def final(d: object) -> int | str:
    r = resolve(d)
    if isinstance(r, DimVar):
        if r.symbol is None:
            raise ShapeProblem("an unknown dimension is not tied to any graph input")
        return r.symbol
    return int(r)
