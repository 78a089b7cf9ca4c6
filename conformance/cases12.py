"""The conformance cases of format 1.2: Conv2D, MaxPool2D and AveragePool2D (NCHW).

Kept apart from conformance/cases.py and cases11.py so that their cases keep their bytes: every
builder here draws from its own random stream. The ops come from the registry families "conv" and
"pool", so a new row of either family gets its family's cases. Output shapes are computed here from
SPEC §6's formula (not by the checker's rule), so a wrong rule shows as a rejected case. Sizes are
small: each case is one process start per runtime.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tessera.conformance.cases import DIGITS, SOURCES, Case
from tessera.conformance.documents import Graph
from tessera.conformance.values import XorShift32
from tessera.exporter.opset import OPS, family

F32 = np.float32
NAN, INF = np.float32(np.nan), np.float32(np.inf)


def _out(size: int, kernel: int, dilation: int, pad_begin: int, pad_end: int, stride: int) -> int:
    """SPEC §6: floor((size + pads - (dilation (kernel - 1) + 1)) / stride) + 1."""
    return (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


def _conv_op() -> str:
    return family("conv")[0].name


def _pool_ops() -> list[str]:
    return [d.name for d in family("pool")]


def _counts_padding(op: str) -> bool:
    return OPS[op].attr("count_include_pad") is not None


# --- Conv2D -------------------------------------------------------------------


def _conv_graph(x_shape: list, w: np.ndarray, b: np.ndarray | None, attrs: dict[str, Any],
                weights_as_inputs: bool) -> Graph:
    """Y = Conv2D(x, W[, B]); W and B are initializers (finite only, SPEC 3) or graph inputs."""
    m, _, kh, kw = w.shape
    sh, sw = attrs.get("strides", [1, 1])
    pt, pl, pb, pr = attrs.get("pads", [0, 0, 0, 0])
    dh, dw = attrs.get("dilations", [1, 1])
    out = [x_shape[0], m, _out(x_shape[2], kh, dh, pt, pb, sh), _out(x_shape[3], kw, dw, pl, pr, sw)]
    g = Graph()
    g.input("x", x_shape)
    if weights_as_inputs:
        operands = ["x", g.input("w", list(w.shape))] + ([g.input("b", list(b.shape))] if b is not None else [])
    else:
        operands = ["x", g.init("W", w)] + ([g.init("B", b)] if b is not None else [])
    g.node(_conv_op(), operands, "y", **attrs)
    g.output("y", out)
    return g


def _conv_case(name: str, tags: list[str], x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
               attrs: dict[str, Any], weights_as_inputs: bool = False, batch: str | None = None) -> Case:
    x_shape: list = list(x.shape)
    if batch is not None:
        x_shape[0] = batch
    g = _conv_graph(x_shape, w, b, attrs, weights_as_inputs)
    inputs = {"x": x}
    if weights_as_inputs:
        inputs["w"] = w
        if b is not None:
            inputs["b"] = b
    return Case(f"op_{_conv_op().lower()}_{name}", ["op", *tags], g.document(), inputs)


def conv_cases() -> list[Case]:
    rng = XorShift32(31)

    def u(*shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
        return rng.uniform(shape, lo, hi)

    cases = [
        _conv_case("valid", [], u(2, 3, 5, 5), u(4, 3, 3, 3), u(4), {}),
        _conv_case("pads_asymmetric", [], u(2, 2, 5, 6), u(3, 2, 3, 2), u(3), {"pads": [1, 0, 2, 1]}),
        _conv_case("same_odd_kernel", [], u(1, 3, 6, 5), u(2, 3, 3, 3), u(2), {"pads": [1, 1, 1, 1]}),
        _conv_case("same_even_kernel", [], u(1, 2, 5, 5), u(2, 2, 4, 4), u(2), {"pads": [1, 1, 2, 2]}),
        _conv_case("strides", [], u(2, 2, 7, 8), u(3, 2, 3, 3), u(3), {"strides": [2, 3], "pads": [1, 1, 1, 1]}),
        _conv_case("dilations", [], u(1, 2, 9, 8), u(2, 2, 3, 3), u(2), {"dilations": [2, 3]}),
        _conv_case("strides_dilations_pads", [], u(2, 3, 7, 7), u(4, 3, 2, 3), u(4),
                   {"strides": [2, 1], "pads": [2, 1, 0, 3], "dilations": [3, 2]}),
        _conv_case("kernel_1x1_no_bias", [], u(2, 5, 3, 4), u(3, 5, 1, 1), None, {}),
        _conv_case("kernel_1x1_strided", [], u(1, 3, 5, 5), u(2, 3, 1, 1), u(2), {"strides": [2, 2]}),
        _conv_case("grouped", [], u(2, 4, 5, 5), u(6, 2, 3, 3), u(6), {"group": 2, "pads": [1, 1, 1, 1]}),
        _conv_case("depthwise", [], u(2, 3, 5, 5), u(3, 1, 3, 3), u(3), {"group": 3, "pads": [1, 1, 1, 1]}),
        _conv_case("depthwise_multiplier2", [], u(1, 3, 6, 5), u(6, 1, 3, 2), None, {"group": 3, "strides": [2, 1]}),
        _conv_case("kernel_beyond_input_padded", ["edge"], u(1, 1, 2, 2), u(2, 1, 3, 3), u(2), {"pads": [1, 1, 1, 1]}),
        # Whole rows and columns of windows in padding only: +0 plus the bias.
        _conv_case("windows_all_padding", ["edge"], u(1, 2, 3, 3), u(2, 2, 2, 2), u(2), {"pads": [3, 0, 0, 4]}),
        # A long sum over k = (c, i, j): the order shows in the last bits.
        _conv_case("long_k", [], u(1, 16, 4, 4, lo=-100, hi=100), u(3, 16, 3, 3), u(3), {"pads": [1, 1, 1, 1]}),
        _conv_case("weights_as_inputs", [], u(2, 2, 4, 5), u(3, 2, 2, 2), u(3), {"pads": [0, 1, 1, 0]},
                   weights_as_inputs=True),
    ]
    # Batch 1 and 257 through one model with a symbolic batch.
    w, b = u(4, 1, 3, 3), u(4)
    for n in (1, 257):
        cases.append(_conv_case(f"symbolic_batch{n}", [], u(n, 1, 6, 6), w, b, {"pads": [1, 1, 1, 1]},
                                batch="batch"))
    return cases + _conv_edge_cases(rng)


def _conv_edge_cases(rng: XorShift32) -> list[Case]:
    cases = []
    # NaN, inf, -inf in the input meet every weight (zeros included: inf * 0 is NaN); zeros and -0 skip.
    x = rng.uniform((1, 2, 4, 4), -2, 2)
    x[0, 0, 0, :] = [NAN, 0.0, -0.0, 1.0]
    x[0, 1, 2, :] = [INF, -INF, 1e-45, -1e38]
    w = rng.uniform((3, 2, 2, 2), -2, 2)
    w[1, 0, 0, 1] = 0.0
    w[2, 1, 1, 0] = -0.0
    cases.append(_conv_case("nan_inf_input", ["edge"], x, w, rng.uniform((3,)), {"pads": [1, 0, 0, 1]},
                            weights_as_inputs=True))
    # inf and NaN weights: zero inputs and padding skip them (SPEC 7.11), nonzero inputs do not.
    x = np.array([[[[0.0, -0.0, 1.0], [0.0, 2.0, 0.0], [-0.0, 0.0, 0.0]]]], F32)
    w = np.array([[[[INF, 1.0], [2.0, NAN]]], [[[-INF, 0.5], [NAN, 3.0]]]], F32)
    cases.append(_conv_case("inf_weights_zero_inputs", ["edge"], x, w, np.array([0.25, -0.0], F32),
                            {"pads": [1, 1, 1, 1]}, weights_as_inputs=True))
    # Padding against inf weights only: every window whose inf weight lands on padding stays finite.
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], F32)
    w = np.array([[[[INF, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -INF]]]], F32)
    cases.append(_conv_case("padding_inf_weights", ["edge"], x, w, None, {"pads": [1, 1, 1, 1]},
                            weights_as_inputs=True))
    # -0: products that are -0 or underflow to -0, -0 inputs, a -0 bias: acc starts at +0.
    x = np.array([[[[-0.0, -1e-30, 1e-30], [-0.0, -0.0, -3e-39], [1e-45, -1e-45, -0.0]]]], F32)
    w = np.array([[[[1e-30, -1e-30], [-0.0, 1e-20]]], [[[-0.0, -0.0], [-0.0, -0.0]]]], F32)
    cases.append(_conv_case("negative_zero", ["edge"], x, w, np.array([-0.0, -0.0], F32), {},
                            weights_as_inputs=True))
    cases.append(_conv_case("negative_zero_no_bias", ["edge"], x, w, None, {"pads": [0, 0, 1, 1]},
                            weights_as_inputs=True))
    # Overflow to inf and cancellation in the accumulator; a bias that meets inf.
    x = np.array([[[[3e38, 3e38], [-3e38, 1.0]], [[1e38, -1e38], [1e-38, 2.0]]]], F32)
    w = np.array([[[[1.5, 1.0], [1.0, 1.0]], [[2.0, 2.0], [1.0, 1.0]]]], F32)
    cases.append(_conv_case("overflow", ["edge"], x, w, np.array([-3e38], F32), {"pads": [0, 0, 1, 1]}))
    return cases


# --- MaxPool2D, AveragePool2D --------------------------------------------------


def _pool_case(op: str, name: str, tags: list[str], x: np.ndarray, attrs: dict[str, Any],
               batch: str | None = None) -> Case:
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    pt, pl, pb, pr = attrs.get("pads", [0, 0, 0, 0])
    n, c, h, w = x.shape
    g = Graph()
    g.input("x", [batch or n, c, h, w])
    g.node(op, ["x"], "y", **attrs)
    g.output("y", [batch or n, c, _out(h, kh, 1, pt, pb, sh), _out(w, kw, 1, pl, pr, sw)])
    return Case(f"op_{op.lower()}_{name}", ["op", *tags], g.document(), {"x": x})


# (label, input shape, attributes): overlapping and disjoint windows, pads up to kernel - 1, odd sizes.
POOL_FORMS: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("k2_s2", (2, 3, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("k3_s1_same", (1, 2, 5, 6), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ("k3x2_asymmetric_pads_at_kernel_minus_1", (2, 2, 5, 7),
     {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [2, 0, 0, 1]}),
    ("k3_s2_pads_at_kernel_minus_1", (1, 2, 7, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [2, 2, 2, 2]}),
    ("k1x1_strided", (1, 3, 5, 4), {"kernel_shape": [1, 1], "strides": [2, 3]}),
    ("whole_input", (2, 3, 4, 5), {"kernel_shape": [4, 5]}),
]


def pool_cases() -> list[Case]:
    rng = XorShift32(32)
    cases = []
    for op in _pool_ops():
        variants = [{}]
        if _counts_padding(op):
            variants = [{"count_include_pad": False}, {"count_include_pad": True}]
        for label, shape, attrs in POOL_FORMS:
            x = rng.uniform(shape, -4, 4)
            padded = any(attrs.get("pads", [0]))
            for extra in variants if padded else [{}]:
                suffix = "" if not extra else ("_count_pad" if extra["count_include_pad"] else "_exclude_pad")
                cases.append(_pool_case(op, label + suffix, [], x, {**attrs, **extra}))
        cases.append(_pool_case(op, "symbolic_batch", [], rng.uniform((3, 2, 5, 5), -1, 1),
                                {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 1, 1]}, batch="batch"))
        # NaN, inf, -inf, signed zeros, subnormals: each window of 2x2 holds one pattern.
        x = np.array([[[[NAN, 1.0, -0.0, 0.0, -INF, -INF],
                        [2.0, 3.0, -0.0, -0.0, -INF, -INF],
                        [INF, -INF, 1e-45, -1e-45, 3e38, 3e38],
                        [0.0, 1.0, 0.0, -0.0, 3e38, 3e38],
                        [-0.0, -0.0, INF, 5.0, 7.0, NAN],
                        [-0.0, -0.0, INF, INF, -1.0, -2.0]]]], F32)
        for extra in variants:
            suffix = "" if not extra else ("_count_pad" if extra["count_include_pad"] else "_exclude_pad")
            cases.append(_pool_case(op, "edge" + suffix, ["edge"], x,
                                    {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], **extra}))
        cases.append(_pool_case(op, "edge_disjoint", ["edge"], x, {"kernel_shape": [2, 2], "strides": [2, 2]}))
    return cases


# --- a small CNN --------------------------------------------------------------


def model_cnn_cases() -> list[Case]:
    """Conv -> Relu -> MaxPool -> depthwise Conv -> AveragePool -> Reshape -> MatMul -> Softmax on 8x8 images."""
    rng = XorShift32(33)
    conv, (maxpool, avgpool) = _conv_op(), _pool_ops()
    g = Graph()
    g.input("x", ["batch", 1, 8, 8])
    t = g.node(conv, ["x", g.init("W1", rng.uniform((4, 1, 3, 3), -0.5, 0.5)),
                      g.init("B1", rng.uniform((4,), -0.1, 0.1))], "c1", pads=[1, 1, 1, 1])
    t = g.node("Relu", [t], "r1")
    t = g.node(maxpool, [t], "p1", kernel_shape=[2, 2], strides=[2, 2])
    t = g.node(conv, [t, g.init("W2", rng.uniform((8, 1, 3, 3), -0.5, 0.5))], "c2", group=4, pads=[1, 1, 1, 1])
    t = g.node(avgpool, [t], "p2", kernel_shape=[2, 2], strides=[2, 2])
    t = g.node("Reshape", [t], "flat", shape=["batch", -1])
    t = g.node("MatMul", [t, g.init("W3", rng.uniform((32, 10), -0.3, 0.3))], "logits")
    g.node("Softmax", [t], "probs")
    g.output("probs", ["batch", 10])
    doc = g.document()
    return [Case(f"model_small_cnn_batch{n}", ["model"], doc, {"x": rng.uniform((n, 1, 8, 8), 0, 1)})
            for n in (1, 5)]


def model_digits_cnn_cases() -> list[Case]:
    """The demo's trained digit CNN (conformance/sources/digits_cnn.json) on bundled digits' grey
    levels scaled to [0, 1], as `make demo` feeds it: batch 1 and 257."""
    doc = json.loads((SOURCES / "digits_cnn.json").read_text())
    grey = np.load(DIGITS)["images"].astype(F32) / F32(16)
    rng = XorShift32(34)
    cases = []
    for n in (1, 257):
        idx = [rng.next_u32() % grey.shape[0] for _ in range(n)]
        cases.append(Case(f"model_digits_cnn_batch{n}", ["model"], doc, {"x": grey[idx].reshape(n, 1, 8, 8)}))
    return cases


# --- must-reject files --------------------------------------------------------


def _reject(name: str, code: str, g: Graph, inputs: dict[str, np.ndarray], version: str | None = None) -> Case:
    return Case(f"reject_{name}", ["reject"], g.document(version=version), inputs, reject=code)


def _conv_reject(name: str, code: str, x_shape: list, w_shape: list, b_shape: list | None, out: list,
                 attrs: dict[str, Any], version: str | None = None, x_dtype: str = "float32") -> Case:
    g = Graph()
    g.input("x", x_shape, x_dtype)
    g.input("w", w_shape)
    operands = ["x", "w"]
    if b_shape is not None:
        operands.append(g.input("b", b_shape))
    g.node(_conv_op(), operands, "y", **attrs)
    g.output("y", out)
    concrete = [2 if isinstance(d, str) else d for d in x_shape]
    inputs = {"x": np.zeros(concrete, np.int32 if x_dtype == "int32" else F32), "w": np.zeros(w_shape, F32)}
    if b_shape is not None:
        inputs["b"] = np.zeros(b_shape, F32)
    return _reject(f"{_conv_op().lower()}_{name}", code, g, inputs, version)


def _pool_reject(op: str, name: str, code: str, x_shape: list, out: list, attrs: dict[str, Any],
                 version: str | None = None) -> Case:
    g = Graph()
    g.input("x", x_shape)
    g.node(op, ["x"], "y", **attrs)
    g.output("y", out)
    concrete = [2 if isinstance(d, str) else d for d in x_shape]
    return _reject(f"{op.lower()}_{name}", code, g, {"x": np.zeros(concrete, F32)}, version)


def reject_cases() -> list[Case]:
    n = "batch"
    cases = [
        _conv_reject("channel_mismatch", "E_SHAPE", [n, 3, 4, 4], [2, 2, 3, 3], None, [n, 2, 2, 2], {}),
        _conv_reject("group_not_dividing_channels", "E_SHAPE", [n, 3, 4, 4], [2, 1, 3, 3], None, [n, 2, 2, 2],
                     {"group": 2}),
        _conv_reject("group_not_dividing_outputs", "E_SHAPE", [n, 4, 4, 4], [3, 2, 3, 3], None, [n, 3, 2, 2],
                     {"group": 2}),
        _conv_reject("bias_length", "E_SHAPE", [n, 2, 4, 4], [3, 2, 3, 3], [4], [n, 3, 2, 2], {}),
        _conv_reject("bias_rank", "E_SHAPE", [n, 2, 4, 4], [3, 2, 3, 3], [1, 3], [n, 3, 2, 2], {}),
        _conv_reject("symbolic_channels", "E_SHAPE", [n, "c", 4, 4], [2, 2, 3, 3], None, [n, 2, 2, 2], {}),
        _conv_reject("symbolic_width", "E_SHAPE", [n, 2, 4, "w"], [2, 2, 3, 3], None, [n, 2, 2, "w"], {}),
        _conv_reject("kernel_beyond_padded_input", "E_SHAPE", [n, 1, 3, 3], [1, 1, 3, 3], None, [n, 1, 1, 1],
                     {"dilations": [2, 1], "pads": [1, 0, 0, 0]}),
        _conv_reject("input_rank3", "E_SHAPE", [n, 4, 4], [2, 1, 3, 3], None, [n, 2, 2, 2], {}),
        _conv_reject("weights_rank3", "E_SHAPE", [n, 1, 4, 4], [2, 3, 3], None, [n, 2, 2, 2], {}),
        _conv_reject("int32_input", "E_SHAPE", [n, 1, 4, 4], [2, 1, 3, 3], None, [n, 2, 2, 2], {}, x_dtype="int32"),
        _conv_reject("declared_output", "E_SHAPE", [n, 1, 4, 4], [2, 1, 3, 3], None, [n, 2, 4, 4], {}),
        _conv_reject("pads_beyond_range", "E_SCHEMA", [n, 1, 4, 4], [2, 1, 3, 3], None, [n, 2, 2, 2],
                     {"pads": [0, 0, 65536, 0]}),
        # A huge output from tiny operands is refused when the node's shape is inferred, before any allocation.
        _conv_reject("output_beyond_limit", "E_LIMIT", [1, 1, 1, 1], [1, 1, 1, 1], None, [1, 1, 1, 1],
                     {"pads": [0, 0, 65535, 65535]}),
        _conv_reject("stamped_1_1", "E_VERSION", [n, 1, 4, 4], [2, 1, 3, 3], None, [n, 2, 2, 2], {}, version="1.1"),
    ]
    # A fourth operand: the input count is checked with the schema (SPEC §4).
    four = _conv_reject("four_inputs", "E_SCHEMA", [n, 1, 4, 4], [2, 1, 3, 3], [2], [n, 2, 2, 2], {})
    four.model["graph"]["nodes"][0]["inputs"].append("b")
    cases.append(four)
    for op in _pool_ops():
        cases += [
            _pool_reject(op, "pad_equals_kernel_left", "E_SCHEMA", [n, 1, 4, 4], [n, 1, 4, 2],
                         {"kernel_shape": [2, 2], "pads": [0, 2, 0, 0]}),
            _pool_reject(op, "missing_kernel_shape", "E_SCHEMA", [n, 1, 4, 4], [n, 1, 4, 4], {}),
            _pool_reject(op, "symbolic_height", "E_SHAPE", [n, 1, "h", 4], [n, 1, "h", 3], {"kernel_shape": [2, 2]}),
            _pool_reject(op, "kernel_beyond_padded_input", "E_SHAPE", [n, 1, 3, 3], [n, 1, 1, 1],
                         {"kernel_shape": [5, 2], "pads": [1, 0, 0, 0]}),
            _pool_reject(op, "input_rank2", "E_SHAPE", [4, 4], [3, 3], {"kernel_shape": [2, 2]}),
            _pool_reject(op, "stamped_1_0", "E_VERSION", [n, 1, 4, 4], [n, 1, 3, 3], {"kernel_shape": [2, 2]},
                         version="1.0"),
        ]
    return cases


def all_cases_1_2() -> list[Case]:
    cases = conv_cases() + pool_cases() + model_cnn_cases() + model_digits_cnn_cases() + reject_cases()
    for case in cases:  # a reject case names no ops, but each of these is about something 1.2 defines
        case.needs = "1.2"
    return cases
