"""The operator registry of format 1.2: one row per operator of SPEC §6, in the order of its table.

`OPS` is the only list of operator names in the exporter and the conformance generator: the
checker, shape inference, the reference runtime, the lowering of trainer graphs, the C generator,
the ONNX converter and the conformance cases all read these rows, and the tests check that the
SPEC table and `schema/v1/model.schema.json` name the same operators and attributes.

Data flow: a model file is parsed, then `check` validates it (schema, then `check_attrs`, then
`shape`) and hands each node its row (`Node.opdef`) with the attributes resolved (`params`);
the C generator plans memory from `c`; `reference.run` calls `kernel`.

Row fields (`OpDef`):

- `name`: the operator name in files (the key of `OPS`); `arity`: its number of inputs, or
  `(min, max)` for a variadic op (Concat; the C and JS `--ops` print it as `[min, max]`);
  `since`: the format version that added it.
- `dtype`: the dtype rule `(operand dtypes, attrs with defaults) -> output dtype`
  (exporter/shapes.py); a rejected operand dtype raises ShapeProblem (E_SHAPE, SPEC §5 step 9).
  `example_dtypes`: the operand dtypes of the attribute examples (default: float32 each).
- `family`: "matmul", "broadcast" (two operands, numpy broadcasting), "elementwise" (one
  operand, same shape), "softmax", "reduce", "transpose" or "reshape"; since 1.1 also "compare"
  (two operands of one dtype, int32 0/1 out), "logic" (int32 operands), "where", "cast", "gather",
  "concat", "slice", "argreduce"; since 1.2 "conv" and "pool" (NCHW windows). Families group ops that
  share schema branches, conformance case builders and tests.
- `spec`: the SPEC section that defines the result bits ("6" when the §6 table row does).
- `attributes`: `Attr` rows (`attrs`: their names): `name`; `kind` (its JSON Schema fragment is `ATTR_SCHEMA[kind]`);
  `default` (None: none, or "derived from the operand rank" as SPEC §6 says); `required`;
  `bad`: samples of rejected values `(label, value, code)` for a node whose operands all have
  the shape `example_shape` (the conformance generator turns each into a must-reject case).
- `example`: valid attributes for operands of that shape (the base of those reject cases);
  `example_shape`: [2, 2], or [2, 2, 2, 2] for the NCHW ops (which need rank 4).
- `shape`: the shape rule `(operand shapes, attrs with defaults) -> (output shape, params)`
  (exporter/shapes.py); `params` are the attributes resolved against the ranks, what runs.
- `check_attrs`: attribute checks the schema cannot express and that do not depend on shapes
  (E_SCHEMA), `attrs -> problem or None`; None when the schema says it all.
- `kernel`: the reference kernel `(operands, params) -> float32 array` (exporter/reference.py,
  exporter/strict_math.py); `bind`: `(params, symbol values) -> params` for an op whose
  attributes name symbolic dimensions, resolved at run time (Reshape), else None.
- `accuracy`: for ops whose bits approximate a real function (SPEC §7.3): `Accuracy(real, ulp,
  lo, hi)`, the function in float64 numpy, the largest distance in ulps between a normal result
  and the rounded real value (measured, exporter/README.md), and the range tests sample (for
  Pow: the bases; tests/exporter/test_exporter_pow.py picks the exponents).
- `lower`: how a trainer op becomes this op (exporter/lowering.py): `Lower(trainer, how)`,
  `how` naming the `Lowering.lower_<how>` method; None if no trainer op maps to it one to one.
- `onnx`: `Onnx(how, op_type)`: the converter's emitter `onnx_export.EMITTERS[how]` and the
  ONNX operator it writes; None while the converter has no mapping (it reports the op as unsupported).
- `c`: `CGen(how, kernel, in_place, alias)` or None while the generator has none: the generator's
  `_Emitter._op_<how>` method, the C
  kernel it calls (a function or a `TSR_K_*` selector of runtimes/c/src/kernels.h), whether the
  kernel may write over an operand of the same size, and `alias(params, operand shape)`: true
  when the output is the operand's bytes unchanged (no code, no buffer).

Adding an elementwise op is one `_elementwise(...)` row here (at the end of its family, so that
the conformance cases of the ops before it keep their values), its SPEC §6 row and its name in
the schema's elementwise branch; `tessera conformance generate` writes its cases, and the tests
find it through `OPS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tessera.exporter import reference, shapes, strict_math
from tessera.exporter.shapes import Shape
from tessera.exporter.tensors import is_number

Kernel = Callable[[list[np.ndarray], dict], np.ndarray]
ShapeRule = Callable[[list[Shape], dict], tuple[Shape, dict]]
DtypeRule = Callable[[list[str], dict], str]
AttrCheck = Callable[[dict], str | None]
Bind = Callable[[dict, dict[str, int]], dict]
AliasRule = Callable[[dict, Shape], bool]

_SYMBOL = "^[A-Za-z_][A-Za-z0-9_]*$"

# The JSON Schema of each attribute kind: what schema/v1/model.schema.json says for it (tested).
ATTR_SCHEMA: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "axes": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "integer"}, "maxItems": 8},
    "perm": {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 0}, "maxItems": 8},
    "shape": {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1},
                                                   {"type": "string", "pattern": _SYMBOL}, {"const": -1}]}},
    "ints": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "integer"}},
    "dtype": {"enum": ["float32", "int32"]},
    # since 1.2, the window attributes of the NCHW ops (SPEC §6): sizes, strides and dilations, pads, group
    "size2": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 1,
                                                                      "maximum": 65535}},
    "pads4": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "integer", "minimum": 0,
                                                                      "maximum": 65535}},
    "size": {"type": "integer", "minimum": 1, "maximum": 65535},
}


@dataclass(frozen=True)
class Attr:
    name: str
    kind: str  # a key of ATTR_SCHEMA
    default: Any = None
    required: bool = False
    bad: tuple[tuple[str, Any, str], ...] = ()  # (label, value, expected code) on `example_shape` operands


@dataclass(frozen=True)
class Accuracy:
    real: Callable[..., np.ndarray]  # float64 in (one array per operand), float64 out
    ulp: int
    lo: float  # tests sample [lo, hi]: uniformly, or log-uniformly when lo > 0
    hi: float


@dataclass(frozen=True)
class Lower:
    trainer: str  # the trainer op (trainer.graph `Variable.op`)
    how: str  # Lowering.lower_<how>


@dataclass(frozen=True)
class Onnx:
    how: str  # a key of onnx_export.EMITTERS
    op_type: str  # the ONNX operator written for the node


@dataclass(frozen=True)
class CGen:
    how: str  # c_codegen._Emitter._op_<how>
    kernel: str = ""  # C function or TSR_K_* selector
    in_place: bool = False
    alias: AliasRule | None = None


@dataclass(frozen=True)
class OpDef:
    name: str
    arity: int | tuple[int, int]
    family: str
    shape: ShapeRule = field(repr=False)
    kernel: Kernel = field(repr=False)
    onnx: Onnx | None
    c: CGen | None
    attributes: tuple[Attr, ...] = ()
    spec: str = "6"
    since: str = "1.0"
    accuracy: Accuracy | None = None
    lower: Lower | None = None
    check_attrs: AttrCheck | None = field(default=None, repr=False)
    bind: Bind | None = field(default=None, repr=False)
    example: dict = field(default_factory=dict)
    dtype: DtypeRule = field(default=shapes.float32_only, repr=False)
    example_dtypes: tuple[str, ...] = ()
    example_shape: Shape = (2, 2)

    @property
    def min_arity(self) -> int:
        return self.arity if isinstance(self.arity, int) else self.arity[0]

    @property
    def max_arity(self) -> int:
        return self.arity if isinstance(self.arity, int) else self.arity[1]

    @property
    def operand_dtypes(self) -> tuple[str, ...]:
        """The operand dtypes of the attribute examples (and of the must-reject cases built on them)."""
        return self.example_dtypes or ("float32",) * self.min_arity

    @property
    def attrs(self) -> tuple[str, ...]:
        """The attribute names, in SPEC order."""
        return tuple(a.name for a in self.attributes)

    def attr(self, name: str) -> Attr | None:
        return next((a for a in self.attributes if a.name == name), None)

    def with_defaults(self, attrs: dict) -> dict:
        """The node's attributes with every absent one at its default (None: derived from the rank)."""
        return {**{a.name: a.default for a in self.attributes}, **attrs}


# ------------------------------------------------------------------ small pieces shared by rows


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Kernel:
    return lambda a, p: fn(a[0])


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Kernel:
    return lambda a, p: fn(a[0], a[1])


def _clip_attrs(attrs: dict) -> str | None:
    with np.errstate(over="ignore"):
        lo, hi = (np.float32(attrs.get(k, d)) for k, d in (("min", -np.inf), ("max", np.inf)))
    if ("min" in attrs and not np.isfinite(lo)) or ("max" in attrs and not np.isfinite(hi)):
        return "Clip bounds must be finite as float32"
    if lo > hi:
        return f"Clip min {attrs.get('min')} > max {attrs.get('max')}"
    return None


def _reshape_attrs(attrs: dict) -> str | None:
    if sum(1 for d in attrs["shape"] if d == -1 and is_number(d)) > 1:
        return "Reshape shape has more than one -1"
    return None


def _reshape_bind(params: dict, env: dict[str, int]) -> dict:
    return {**params, "concrete": reference.concrete(params["shape"], env)}


def _always(params: dict, shape: Shape) -> bool:
    return True


def _moves_nothing(params: dict, shape: Shape) -> bool:
    """A permutation that keeps the order of the dims other than 1 moves no element."""
    moved = [p for p in params["perm"] if shape[p] != 1]
    return moved == sorted(moved)


def _broadcasting(name: str, trainer: str | None, kernel: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  onnx_type: str, c_kernel: str, spec: str = "6", since: str = "1.0") -> OpDef:
    """A two-operand broadcasting op: its kernel on two arrays, its `TSR_K_*` selector of the C
    `tsr_k_binary` kernels, the ONNX op with the same two operands."""
    return OpDef(name, 2, "broadcast", shapes.broadcasting, _binary(kernel), Onnx("same", onnx_type),
                 CGen("binary", c_kernel, in_place=True), spec=spec, since=since,
                 lower=Lower(trainer, "broadcast") if trainer else None)


def _elementwise(name: str, trainer: str | None, kernel: Callable[[np.ndarray], np.ndarray], c_kernel: str,
                 spec: str = "6", accuracy: Accuracy | None = None, onnx: str | None = None,
                 since: str = "1.0") -> OpDef:
    """A one-operand op without attributes: the trainer op lowered to it (if any), its kernel on one
    array, its C kernel `c_kernel(x, y, n)`, and the ONNX op of the same name unless `onnx` says."""
    return OpDef(name, 1, "elementwise", shapes.same, _unary(kernel), Onnx("same", onnx or name),
                 CGen("unary", c_kernel, in_place=True), spec=spec, accuracy=accuracy, since=since,
                 lower=Lower(trainer, "elementwise") if trainer else None)


_AXES = Attr("axes", "axes", bad=(("float", [0.5], "E_SCHEMA"), ("out_of_rank", [2], "E_SHAPE")))
_KEEPDIMS = Attr("keepdims", "bool", False, bad=(("string", "yes", "E_SCHEMA"),))
_REDUCE_EXAMPLE = {"axes": [1], "keepdims": True}


def _reduction(name: str, trainer: str, kind: str, onnx_how: str, c_kernel: str) -> OpDef:
    return OpDef(name, 1, "reduce", shapes.reduce, lambda a, p: reference.reduce(a[0], p, kind),
                 Onnx(onnx_how, name), CGen("reduce", c_kernel), attributes=(_AXES, _KEEPDIMS), spec="7.5",
                 lower=Lower(trainer, "reduce"), example=_REDUCE_EXAMPLE)


# The C generator's kernels of the 1.1 comparison and logic rows (runtimes/c/src/kernels.h).
_C_COMPARE = {"Greater": "TSR_K_GT", "GreaterOrEqual": "TSR_K_GE", "Less": "TSR_K_LT", "LessOrEqual": "TSR_K_LE",
              "Equal": "TSR_K_EQ", "NotEqual": "TSR_K_NE"}
_C_LOGIC = {"And": CGen("compare", "TSR_K_AND"), "Or": CGen("compare", "TSR_K_OR"),
            "Not": CGen("unary", "tsr_k_not", in_place=True)}


def _comparison(name: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], onnx: Onnx | None = None,
                trainer: str | None = None) -> OpDef:
    """A 1.1 comparison: numpy's IEEE (float32) or integer (int32) relation, as int32 0/1 (SPEC §7.7); the ONNX
    comparison of the same name unless `onnx` says."""
    return OpDef(name, 2, "compare", shapes.broadcasting, _binary(lambda a, b: reference.as_flag(fn(a, b))),
                 onnx or Onnx("compare", name), CGen("compare", _C_COMPARE[name]), spec="7.7", since="1.1",
                 dtype=shapes.comparison,
                 lower=Lower(trainer, "compare") if trainer else None)


def _logic(name: str, arity: int, fn: Callable[..., np.ndarray], trainer: str | None = None) -> OpDef:
    """And, Or, Not on int32 truth values (nonzero is true), int32 0/1 out (SPEC §7.7)."""
    shape = shapes.broadcasting if arity == 2 else shapes.same
    return OpDef(name, arity, "logic", shape, lambda a, p: reference.as_flag(fn(*(x != 0 for x in a))),
                 Onnx("logical", name), _C_LOGIC[name], spec="7.7", since="1.1", dtype=shapes.int32_only,
                 example_dtypes=("int32",) * arity, lower=Lower(trainer, "logic") if trainer else None)


def _axis_attr(default: int | None = None, required: bool = False) -> Attr:
    return Attr("axis", "int", default, required=required,
                bad=(("float", 0.5, "E_SCHEMA"), ("out_of_rank", 2, "E_SHAPE")))


def _slice_attrs(attrs: dict) -> str | None:
    k = len(attrs["starts"])
    for key in ("ends", "axes", "steps"):
        if key in attrs and len(attrs[key]) != k:
            return f"Slice {key} has {len(attrs[key])} entries, starts has {k}"
    if 0 in attrs.get("steps", []):
        return "Slice steps must be nonzero"
    return None


def _reduction_1_1(name: str, kind: str, trainer: str) -> OpDef:
    return OpDef(name, 1, "reduce", shapes.reduce, lambda a, p: reference.reduce(a[0], p, kind),
                 Onnx("reduce_axes_attr", name), CGen("reduce", f"TSR_K_R{kind.upper()}"),
                 lower=Lower(trainer, "reduce"),
                 attributes=(_AXES, _KEEPDIMS), spec="7.5", since="1.1", example=_REDUCE_EXAMPLE)


def _argreduce(name: str, largest: bool, trainer: str) -> OpDef:
    return OpDef(name, 1, "argreduce", shapes.argreduce,
                 lambda a, p: reference.arg_index(a[0], p["axis"], p["keepdims"], largest), Onnx("arg", name),
                 CGen("argmax", "1" if largest else "0"),
                 lower=Lower(trainer, "argreduce"), attributes=(_axis_attr(required=True), _KEEPDIMS), spec="7.9",
                 since="1.1",
                 dtype=shapes.index_dtype, example={"axis": 1})


# The window attributes of the 1.2 NCHW ops; the bad samples are for [2, 2, 2, 2] operands (a 2x2 kernel).
_STRIDES = Attr("strides", "size2", (1, 1), bad=(("zero", [0, 1], "E_SCHEMA"), ("length", [1, 1, 1], "E_SCHEMA")))
_PADS = Attr("pads", "pads4", (0, 0, 0, 0), bad=(("negative", [0, -1, 0, 0], "E_SCHEMA"),
                                                ("length", [0, 0], "E_SCHEMA")))
_NCHW = (2, 2, 2, 2)


def _pool_attrs(attrs: dict) -> str | None:
    """SPEC §6: each pooling pad below the kernel size on its axis, so that no window is all padding."""
    kh, kw = attrs["kernel_shape"]
    pt, pl, pb, pr = attrs.get("pads", (0, 0, 0, 0))
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        return f"pads {list(attrs['pads'])} must be below the kernel size {list(attrs['kernel_shape'])} on each axis"
    return None


def _pooling(name: str, kind: str, onnx_type: str, extra: tuple[Attr, ...] = ()) -> OpDef:
    kernel = Attr("kernel_shape", "size2", required=True,
                  bad=(("zero", [0, 2], "E_SCHEMA"), ("length", [2], "E_SCHEMA"), ("beyond_input", [3, 2], "E_SHAPE")))
    pads = Attr("pads", "pads4", (0, 0, 0, 0), bad=(*_PADS.bad, ("at_kernel", [0, 0, 2, 0], "E_SCHEMA")))
    return OpDef(name, 1, "pool", shapes.pool2d, lambda a, p: reference.pool2d(a[0], p, kind),
                 Onnx("pool", onnx_type), CGen("pool", "tsr_k_maxpool2d" if kind == "max" else "tsr_k_avgpool2d"),
                 attributes=(kernel, _STRIDES, pads, *extra), spec="7.12",
                 since="1.2", check_attrs=_pool_attrs, example={"kernel_shape": [2, 2]}, example_shape=_NCHW)


# ------------------------------------------------------------------ the table (SPEC §6 order)
# Kernels call strict_math through the module at run time (not a bound function), as
# reference.softmax does, so a test can substitute a function there (tests/conformance/wrong_runtime.py).

OPS: dict[str, OpDef] = {
    d.name: d
    for d in (
        OpDef("MatMul", 2, "matmul", shapes.matmul,
              lambda a, p: reference.matmul(a[0], a[1], p["transpose_a"], p["transpose_b"]),
              Onnx("matmul", "MatMul"), CGen("matmul", "tsr_k_matmul"), spec="7.1", lower=Lower("dot", "dot"),
              attributes=(Attr("transpose_a", "bool", False, bad=(("number", 1, "E_SCHEMA"),)),
                     Attr("transpose_b", "bool", False, bad=(("string", "true", "E_SCHEMA"),))),
              example={"transpose_b": True}),
        _broadcasting("Add", "add", np.add, "Add", "TSR_K_ADD"),
        _broadcasting("Sub", "sub", np.subtract, "Sub", "TSR_K_SUB"),
        _broadcasting("Mul", "mul", np.multiply, "Mul", "TSR_K_MUL"),
        _broadcasting("Div", "div", np.divide, "Div", "TSR_K_DIV"),
        _broadcasting("Maximum", "maximum", reference.maximum, "Max", "TSR_K_MAX", spec="7.2"),
        _broadcasting("Minimum", "minimum", reference.minimum, "Min", "TSR_K_MIN", spec="7.2"),
        _elementwise("Neg", "neg", reference.neg, "tsr_k_neg"),
        _elementwise("Abs", "abs", reference.absolute, "tsr_k_abs"),
        _elementwise("Sqrt", "sqrt", np.sqrt, "tsr_k_sqrt"),
        _elementwise("Relu", "relu", reference.relu, "tsr_k_relu"),
        OpDef("Clip", 1, "elementwise", shapes.clip, lambda a, p: reference.clip(a[0], p["min"], p["max"]),
              Onnx("clip", "Clip"), CGen("clip", "tsr_k_clip", in_place=True), lower=Lower("clip", "clip"),
              attributes=(Attr("min", "number", -np.inf, bad=(("string", "0", "E_SCHEMA"),
                                                         ("beyond_float32", 1e39, "E_SCHEMA"))),
                     Attr("max", "number", np.inf, bad=(("below_min", -2.0, "E_SCHEMA"),))),
              check_attrs=_clip_attrs, example={"min": -1.0, "max": 1.0}),
        _elementwise("Exp", "exp", lambda x: strict_math.exp(x), "tsr_k_exp", spec="7.3",
                     accuracy=Accuracy(np.exp, 1, -103.0, 88.7)),
        _elementwise("Log", "log", lambda x: strict_math.log(x), "tsr_k_log", spec="7.3",
                     accuracy=Accuracy(np.log, 1, 1e-30, 1e30)),
        _elementwise("Sigmoid", "sigmoid", lambda x: strict_math.sigmoid(x), "tsr_k_sigmoid", spec="7.3",
                     accuracy=Accuracy(lambda v: 1 / (1 + np.exp(-v)), 1, -105.0, 20.0)),  # down to subnormal
        _elementwise("Tanh", "tanh", lambda x: strict_math.tanh(x), "tsr_k_tanh", spec="7.3",
                     accuracy=Accuracy(np.tanh, 2, -30.0, 30.0)),
        _elementwise("Softplus", "softplus", lambda x: strict_math.softplus(x), "tsr_k_softplus", spec="7.3",
                     accuracy=Accuracy(lambda v: np.logaddexp(0, v), 2, -30.0, 30.0)),
        OpDef("Softmax", 1, "softmax", shapes.softmax, lambda a, p: reference.softmax(a[0], p["axis"]),
              Onnx("softmax", "Softmax"), CGen("softmax", "tsr_k_softmax", in_place=True), spec="7.4",
              lower=Lower("softmax", "softmax"),
              attributes=(Attr("axis", "int", -1, bad=(("float", 0.5, "E_SCHEMA"), ("out_of_rank", 2, "E_SHAPE"))),),
              example={"axis": 0}),
        _reduction("ReduceSum", "sum", "sum", "reduce_axes_input", "TSR_K_RSUM"),
        _reduction("ReduceMean", "mean", "mean", "reduce_axes_attr", "TSR_K_RMEAN"),
        _reduction("ReduceMax", "max", "max", "reduce_axes_attr", "TSR_K_RMAX"),
        OpDef("Transpose", 1, "transpose", shapes.transpose,
              lambda a, p: np.transpose(a[0], p["perm"]).copy(),  # not ascontiguousarray: keeps rank 0
              Onnx("transpose", "Transpose"), CGen("transpose", "tsr_k_transpose", alias=_moves_nothing),
              lower=Lower("transpose", "transpose"), dtype=shapes.same_dtype,
              attributes=(Attr("perm", "perm", bad=(("negative", [-1, 0], "E_SCHEMA"),
                                               ("out_of_rank", [0, 2], "E_SHAPE"))),),
              example={"perm": [1, 0]}),
        OpDef("Reshape", 1, "reshape", shapes.reshape, lambda a, p: np.reshape(a[0], p["concrete"]),
              Onnx("reshape", "Reshape"), CGen("alias", alias=_always), lower=Lower("reshape", "reshape"),
              dtype=shapes.same_dtype,
              attributes=(Attr("shape", "shape", required=True,
                          bad=(("zero", [0, 4], "E_SCHEMA"), ("two_minus_one", [-1, -1], "E_SCHEMA"),
                               ("element_count", [3], "E_SHAPE"))),),
              check_attrs=_reshape_attrs, bind=_reshape_bind, example={"shape": [4]}),
        # ---- since 1.1
        _comparison("Greater", np.greater, trainer="gt"),
        _comparison("GreaterOrEqual", np.greater_equal, trainer="ge"),
        _comparison("Less", np.less, trainer="lt"),
        _comparison("LessOrEqual", np.less_equal, trainer="le"),
        _comparison("Equal", np.equal, trainer="eq"),
        _comparison("NotEqual", np.not_equal, Onnx("compare_negated", "Equal"), "neq"),  # ONNX has no NotEqual
        _logic("And", 2, np.logical_and, "and_"),
        _logic("Or", 2, np.logical_or, "or_"),
        _logic("Not", 1, np.logical_not, "invert"),
        OpDef("Where", 3, "where", shapes.where, lambda a, p: np.where(a[0] != 0, a[1], a[2]),
              Onnx("where", "Where"), CGen("where"), lower=Lower("switch", "where"),
              spec="7.7", since="1.1", dtype=shapes.where_dtype, example_dtypes=("int32", "float32", "float32")),
        OpDef("Cast", 1, "cast", shapes.cast, lambda a, p: reference.cast(a[0], p["to"]), Onnx("cast", "Cast"),
              CGen("cast"),
              lower=Lower("cast", "cast"),
              attributes=(Attr("to", "dtype", required=True,
                               bad=(("unknown", "float64", "E_SCHEMA"), ("number", 6, "E_SCHEMA"))),),
              spec="7.8", since="1.1", dtype=shapes.cast_dtype, example={"to": "int32"}),
        OpDef("Gather", 2, "gather", shapes.gather, lambda a, p: reference.gather(a[0], a[1], p["axis"]),
              Onnx("gather", "Gather"), CGen("gather"), lower=Lower("advanced_subtensor", "gather"),
              attributes=(_axis_attr(0),), since="1.1", dtype=shapes.gather_dtype, example={"axis": 1},
              example_dtypes=("float32", "int32")),
        OpDef("Concat", (1, 64), "concat", shapes.concat, lambda a, p: np.concatenate(a, axis=p["axis"]),
              Onnx("concat", "Concat"), CGen("concat"), lower=Lower("concatenate", "concat"),
              attributes=(_axis_attr(required=True),), since="1.1", dtype=shapes.same_dtype, example={"axis": 0},
              example_dtypes=("float32", "float32")),
        OpDef("Slice", 1, "slice", shapes.slice_, lambda a, p: reference.slice_(a[0], p["slices"]),
              Onnx("slice", "Slice"), CGen("slice"),
              attributes=(Attr("starts", "ints", required=True,
                               bad=(("float", [0.5], "E_SCHEMA"), ("empty", [], "E_SCHEMA"),
                                    ("empty_result", [2], "E_SHAPE"))),
                          Attr("ends", "ints", required=True, bad=(("length", [2, 2], "E_SCHEMA"),)),
                          Attr("axes", "axes", bad=(("repeated", [1, 1], "E_SCHEMA"),
                                                    ("out_of_rank", [2], "E_SHAPE"))),
                          Attr("steps", "ints", bad=(("zero", [0], "E_SCHEMA"), ("string", ["1"], "E_SCHEMA")))),
              since="1.1", dtype=shapes.same_dtype, check_attrs=_slice_attrs, lower=Lower("subtensor", "slice"),
              example={"starts": [0], "ends": [-1], "axes": [1], "steps": [1]}),
        _argreduce("ArgMax", True, "argmax"),
        _argreduce("ArgMin", False, "argmin"),
        _reduction_1_1("ReduceMin", "min", "min"),
        _reduction_1_1("ReduceProd", "prod", "prod"),
        OpDef("LogSoftmax", 1, "softmax", shapes.softmax, lambda a, p: reference.log_softmax(a[0], p["axis"]),
              Onnx("softmax", "LogSoftmax"), CGen("softmax", "tsr_k_log_softmax", in_place=True), spec="7.4",
              since="1.1", lower=Lower("log_softmax", "softmax"),
              attributes=(Attr("axis", "int", -1, bad=(("float", 0.5, "E_SCHEMA"), ("out_of_rank", 2, "E_SHAPE"))),),
              example={"axis": 0}),
        # Last in the table, not with its family: the broadcasting cases of 1.0 keep their random values.
        OpDef("Pow", 2, "broadcast", shapes.broadcasting, _binary(lambda a, b: strict_math.pow_(a, b)),
              Onnx("same", "Pow"), CGen("binary", "TSR_K_POW", in_place=True), spec="7.10", since="1.1",
              lower=Lower("power", "broadcast"), accuracy=Accuracy(np.power, 1, 1e-30, 1e30)),
        # ---- since 1.2: exact compositions (SPEC §7.11, §7.12), no accuracy bound, as MatMul
        OpDef("Conv2D", (2, 3), "conv", shapes.conv2d,
              lambda a, p: reference.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, p),
              Onnx("conv", "Conv"), CGen("conv", "tsr_k_conv2d"), spec="7.11", since="1.2",
              attributes=(_STRIDES, _PADS,
                          Attr("dilations", "size2", (1, 1), bad=(("float", [1.5, 1], "E_SCHEMA"),
                                                                  ("beyond_input", [2, 1], "E_SHAPE"))),
                          Attr("group", "size", 1, bad=(("zero", 0, "E_SCHEMA"), ("too_large", 65536, "E_SCHEMA"),
                                                        ("channels", 2, "E_SHAPE")))),
              example={"strides": [1, 1], "group": 1}, example_shape=_NCHW),
        _pooling("MaxPool2D", "max", "MaxPool"),
        _pooling("AveragePool2D", "average", "AveragePool",
                 (Attr("count_include_pad", "bool", False, bad=(("number", 1, "E_SCHEMA"),)),)),
    )
}

# An attribute name no operator has: every op rejects it (SPEC §6, E_SCHEMA).
UNKNOWN_ATTR = ("unknown", "not_an_attr", True)

BY_TRAINER: dict[str, OpDef] = {d.lower.trainer: d for d in OPS.values() if d.lower is not None}


# The version that added each dtype (SPEC §3).
DTYPE_SINCE = {"float32": "1.0", "int32": "1.1"}


def version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def covering_version(ops: Iterable[str], dtypes: Iterable[str] = ()) -> str:
    """The lowest format version that has every one of these operators and dtypes (SPEC §2); "1.0" for
    none. Names that are not operators or dtypes count as 1.0 (a must-reject file may use one)."""
    since = [version_tuple(OPS[op].since) for op in ops if op in OPS]
    since += [version_tuple(DTYPE_SINCE[d]) for d in dtypes if d in DTYPE_SINCE]
    major, minor = max(since, default=(1, 0))
    return f"{major}.{minor}"


def family(name: str) -> list[OpDef]:
    """The rows of one family, in table order."""
    return [d for d in OPS.values() if d.family == name]
