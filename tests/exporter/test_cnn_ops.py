"""Conv2D, MaxPool2D, AveragePool2D (format 1.2) in the Python reference.

- bit for bit against SPEC §7.11 and §7.12 written here as the plain loops of the SPEC text, one
  np.float32 scalar operation per step (an implementation independent of exporter/reference.py's
  im2col and vectorised windows), on random values and on NaN, inf, zeros of both signs, padding;
- against PyTorch in float64 within the summation bound (a wrong geometry is off by O(1));
- the checker's rejects with their SPEC §5 codes, and the version each file needs (SPEC §2).

The reference is reached through the checker and `reference.run` (what `tessera run` executes), not
through `exporter.load`, which may pick the native runtime.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import tessera.trainer.nnet as nnet
import tessera.trainer.tensor as T
from tessera import trainer
from tessera.exporter import reference
from tessera.exporter.check import check
from tessera.exporter.errors import ModelError
from tessera.exporter.export import export
from tessera.exporter.opset import covering_version
from tests.support import equal_bits

F32 = np.float32
U = 2.0**-24  # the unit roundoff of binary32


# ------------------------------------------------------------------ SPEC §7.11 and §7.12 as loops


def spec_out(size: int, kernel: int, dilation: int, pad_begin: int, pad_end: int, stride: int) -> int:
    return (size + pad_begin + pad_end - (dilation * (kernel - 1) + 1)) // stride + 1


@np.errstate(all="ignore")  # inf and NaN arithmetic is the point here
def spec_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple = (1, 1),
              pads: tuple = (0, 0, 0, 0), dilations: tuple = (1, 1), group: int = 1) -> np.ndarray:
    n_, c_, h_, w_ = x.shape
    m_, cg, kh, kw = w.shape
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = strides, pads, dilations
    mg = m_ // group
    out = np.empty((n_, m_, spec_out(h_, kh, dh, pt, pb, sh), spec_out(w_, kw, dw, pl, pr, sw)), F32)
    for n in range(n_):
        for m in range(m_):
            g = m // mg
            for oh in range(out.shape[2]):
                for ow in range(out.shape[3]):
                    acc = F32(0.0)
                    for c in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                ih, iw = oh * sh - pt + i * dh, ow * sw - pl + j * dw
                                if ih < 0 or ih >= h_ or iw < 0 or iw >= w_:
                                    continue
                                xv = x[n, g * cg + c, ih, iw]
                                if xv == 0:
                                    continue
                                acc = F32(acc + F32(xv * w[m, c, i, j]))
                    out[n, m, oh, ow] = acc if b is None else F32(acc + b[m])
    return out


def spec_maximum(a: np.float32, b: np.float32) -> np.float32:
    """SPEC §7.2."""
    if np.isnan(a) or np.isnan(b):
        return F32(np.nan)
    if a > b:
        return a
    if b > a:
        return b
    return b if np.signbit(a) else a  # equal: -0 only when both are -0


@np.errstate(all="ignore")  # inf and NaN arithmetic is the point here
def spec_pool(x: np.ndarray, kind: str, kernel_shape: tuple, strides: tuple = (1, 1), pads: tuple = (0, 0, 0, 0),
              count_include_pad: bool = False) -> np.ndarray:
    n_, c_, h_, w_ = x.shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = kernel_shape, strides, pads
    out = np.empty((n_, c_, spec_out(h_, kh, 1, pt, pb, sh), spec_out(w_, kw, 1, pl, pr, sw)), F32)
    for n in range(n_):
        for c in range(c_):
            for oh in range(out.shape[2]):
                for ow in range(out.shape[3]):
                    acc, visited = F32(-np.inf) if kind == "max" else F32(0.0), 0
                    for i in range(kh):
                        for j in range(kw):
                            ih, iw = oh * sh - pt + i, ow * sw - pl + j
                            if ih < 0 or ih >= h_ or iw < 0 or iw >= w_:
                                continue
                            xv = x[n, c, ih, iw]
                            acc = spec_maximum(acc, xv) if kind == "max" else F32(acc + xv)
                            visited += 1
                    if kind == "average":
                        acc = F32(acc / F32(kh * kw if count_include_pad else visited))
                    out[n, c, oh, ow] = acc
    return out


# ------------------------------------------------------------------ documents


def node_doc(op: str, operands: list[tuple[str, list, str]], out_shape: list, attrs: dict[str, Any],
             version: str = "1.2") -> dict:
    """One node `op` whose operands are all graph inputs."""
    node: dict[str, Any] = {"name": "k", "op": op, "inputs": [n for n, _, _ in operands], "outputs": ["y"]}
    if attrs:
        node["attrs"] = attrs
    return {"format": "tessera", "format_version": version, "producer": {"name": "test", "version": "0"},
            "graph": {"inputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in operands],
                      "outputs": [{"name": "y", "dtype": "float32", "shape": out_shape}],
                      "initializers": [], "nodes": [node]}}


def conv_doc(x: list, w: list, b: list | None, attrs: dict[str, Any], out: list | None = None,
             version: str = "1.2") -> dict:
    if out is None:
        (sh, sw), (pt, pl, pb, pr) = attrs.get("strides", (1, 1)), attrs.get("pads", (0, 0, 0, 0))
        dh, dw = attrs.get("dilations", (1, 1))
        out = [x[0], w[0], spec_out(x[2], w[2], dh, pt, pb, sh), spec_out(x[3], w[3], dw, pl, pr, sw)]
    operands = [("x", x, "float32"), ("w", w, "float32")] + ([("b", b, "float32")] if b is not None else [])
    return node_doc("Conv2D", operands, out, attrs, version)


def pool_doc(op: str, x: list, attrs: dict[str, Any], out: list | None = None, version: str = "1.2") -> dict:
    if out is None:
        (kh, kw), (sh, sw) = attrs["kernel_shape"], attrs.get("strides", (1, 1))
        pt, pl, pb, pr = attrs.get("pads", (0, 0, 0, 0))
        out = [x[0], x[1], spec_out(x[2], kh, 1, pt, pb, sh), spec_out(x[3], kw, 1, pl, pr, sw)]
    return node_doc(op, [("x", x, "float32")], out, attrs, version)


def run_reference(doc: dict, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return reference.run(check(doc), feeds)["y"]


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == F32
    bad = ~equal_bits(got, want)
    assert not bad.any(), f"{int(bad.sum())} differ, first at {np.argwhere(bad)[0]}: {got[bad][:4]} vs {want[bad][:4]}"


# ------------------------------------------------------------------ bit equality with the SPEC loops

# (x shape, w shape, with bias, attributes)
CONV_FORMS = [
    ((2, 3, 5, 5), (4, 3, 3, 3), True, {}),
    ((1, 2, 5, 6), (3, 2, 3, 2), True, {"pads": [1, 0, 2, 1]}),
    ((2, 2, 7, 8), (3, 2, 3, 3), False, {"strides": [2, 3], "pads": [1, 1, 1, 1]}),
    ((1, 2, 9, 8), (2, 2, 3, 3), True, {"dilations": [2, 3], "pads": [0, 2, 1, 0]}),
    ((2, 4, 5, 5), (6, 2, 3, 3), True, {"group": 2, "pads": [1, 1, 1, 1]}),
    ((1, 3, 6, 5), (6, 1, 3, 2), False, {"group": 3, "strides": [2, 1]}),  # depthwise, multiplier 2
    ((1, 3, 4, 4), (3, 1, 3, 3), True, {"group": 3, "pads": [1, 1, 1, 1]}),  # depthwise
    ((1, 5, 3, 4), (3, 5, 1, 1), False, {}),  # 1x1
    ((1, 1, 2, 2), (2, 1, 3, 3), True, {"pads": [3, 0, 1, 4]}),  # windows all padding
    ((1, 16, 4, 4), (2, 16, 3, 3), True, {"pads": [1, 1, 1, 1]}),  # long k: the order shows
]


def _specials(rng: np.random.Generator, shape: tuple, p: float) -> np.ndarray:
    """Random values with a fraction p replaced by NaN, +-inf, +-0, subnormals and huge values."""
    x = rng.standard_normal(shape).astype(F32)
    pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-40, 3e38, -3e38], F32)
    mask = rng.random(shape) < p
    x[mask] = pool[rng.integers(0, pool.size, int(mask.sum()))]
    return x


@pytest.mark.parametrize("special", [0.0, 0.3], ids=["ordinary", "specials"])
@pytest.mark.parametrize("form", range(len(CONV_FORMS)))
def test_conv2d_equals_the_spec_loops(form: int, special: float) -> None:
    xs, ws, bias, attrs = CONV_FORMS[form]
    rng = np.random.default_rng(100 + form)
    x, w = _specials(rng, xs, special), _specials(rng, ws, special)
    b = _specials(rng, (ws[0],), special) if bias else None
    feeds = {"x": x, "w": w, **({"b": b} if bias else {})}
    got = run_reference(conv_doc(list(xs), list(ws), [ws[0]] if bias else None, attrs), feeds)
    assert_same_bits(got, spec_conv(x, w, b, **{k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}))


def test_conv2d_zero_inputs_and_padding_skip_inf_weights() -> None:
    """SPEC §7.11: a zero input (either sign) or a padding position adds nothing, even against inf or NaN."""
    x = np.array([[[[0.0, -0.0], [2.0, 0.0]]]], F32)
    w = np.array([[[[np.inf, np.nan, 5.0], [7.0, 1.0, np.inf], [np.nan, -np.inf, 3.0]]]], F32)
    got = run_reference(conv_doc([1, 1, 2, 2], [1, 1, 3, 3], None, {"pads": [1, 1, 1, 1]}), {"x": x, "w": w})
    # Output (oh, ow) meets the only nonzero input, x[1, 0] = 2, through w[2 - oh, 1 - ow]; every other term is
    # a zero input or padding, skipped although its weight is inf or NaN (without the skip all four are NaN).
    want = np.array([[[[2 * -np.inf, np.nan], [2 * 1.0, 2 * 7.0]]]], F32)
    assert_same_bits(got, want)
    assert_same_bits(spec_conv(x, w, None, pads=(1, 1, 1, 1)), want)


def test_conv2d_sums_of_negative_zeros_are_positive_zero() -> None:
    x = np.full((1, 1, 2, 2), -1e-30, F32)
    w = np.full((1, 1, 2, 2), 1e-30, F32)  # every product underflows to -0; acc starts at +0
    got = run_reference(conv_doc([1, 1, 2, 2], [1, 1, 2, 2], [1], {}), {"x": x, "w": w, "b": np.array([-0.0], F32)})
    assert got.tolist() == [[[[0.0]]]] and not np.signbit(got).any()


POOL_FORMS = [
    ((2, 3, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ((1, 2, 5, 6), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    ((2, 2, 5, 7), {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [2, 0, 0, 1]}),  # pads at kernel - 1
    ((1, 3, 5, 4), {"kernel_shape": [1, 1], "strides": [2, 3]}),
    ((1, 2, 4, 5), {"kernel_shape": [4, 5]}),
]


@pytest.mark.parametrize("special", [0.0, 0.3], ids=["ordinary", "specials"])
@pytest.mark.parametrize("form", range(len(POOL_FORMS)))
@pytest.mark.parametrize("op,kind,include", [("MaxPool2D", "max", None), ("AveragePool2D", "average", False),
                                             ("AveragePool2D", "average", True)])
def test_pooling_equals_the_spec_loops(op: str, kind: str, include: bool | None, form: int, special: float) -> None:
    shape, attrs = POOL_FORMS[form]
    x = _specials(np.random.default_rng(200 + form), shape, special)
    if include is not None:
        attrs = {**attrs, "count_include_pad": include}
    got = run_reference(pool_doc(op, list(shape), attrs), {"x": x})
    plain = {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}
    assert_same_bits(got, spec_pool(x, kind, **plain))


def test_maxpool_signed_zeros_and_infinities() -> None:
    x = np.array([[[[-0.0, -0.0, -0.0, 0.0], [-np.inf, -np.inf, np.nan, 1.0]]]], F32)
    got = run_reference(pool_doc("MaxPool2D", [1, 1, 2, 4], {"kernel_shape": [1, 2], "strides": [1, 2]}), {"x": x})
    assert got.ravel().view(np.uint32).tolist() == [0x80000000, 0x00000000, 0xFF800000, 0x7FC00000]


# ------------------------------------------------------------------ PyTorch (float64) within the bound


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        pytest.fail("the CNN cross-check needs PyTorch: pip install torch (CPU build)", pytrace=False)
    return torch


def _padded(torch: Any, x: np.ndarray, pads: tuple, value: float = 0.0) -> Any:
    pt, pl, pb, pr = pads
    return torch.nn.functional.pad(torch.tensor(x, dtype=torch.float64), (pl, pr, pt, pb), value=value)


@pytest.mark.parametrize("form", range(len(CONV_FORMS)))
def test_conv2d_agrees_with_pytorch_within_the_summation_bound(form: int) -> None:
    """|reference - exact| <= (K + 1) u (conv(|x|, |w|) + |b|) for K = C/group kH kW products summed in order and
    the bias added once (the standard bound for a recursive sum: each partial sum rounded once)."""
    torch, F = _torch(), _torch().nn.functional
    xs, ws, bias, attrs = CONV_FORMS[form]
    rng = np.random.default_rng(300 + form)
    x, w = rng.standard_normal(xs).astype(F32), rng.standard_normal(ws).astype(F32)
    b = rng.standard_normal(ws[0]).astype(F32) if bias else np.zeros(ws[0], F32)
    feeds = {"x": x, "w": w, **({"b": b} if bias else {})}
    got = run_reference(conv_doc(list(xs), list(ws), [ws[0]] if bias else None, attrs), feeds).astype(np.float64)
    pads, group = tuple(attrs.get("pads", (0, 0, 0, 0))), attrs.get("group", 1)
    geometry = {"stride": tuple(attrs.get("strides", (1, 1))), "dilation": tuple(attrs.get("dilations", (1, 1))),
                "groups": group}

    def conv(xv: np.ndarray, wv: np.ndarray, bv: np.ndarray) -> np.ndarray:
        return F.conv2d(_padded(torch, xv, pads), torch.tensor(wv, dtype=torch.float64),
                        torch.tensor(bv, dtype=torch.float64), **geometry).numpy()

    exact, scale = conv(x, w, b), conv(np.abs(x), np.abs(w), np.abs(b))
    k = ws[1] * ws[2] * ws[3]
    assert got.shape == exact.shape
    assert np.all(np.abs(got - exact) <= (k + 1) * U * scale + 1e-45)


@pytest.mark.parametrize("form", range(len(POOL_FORMS)))
@pytest.mark.parametrize("include", [False, True])
def test_pooling_agrees_with_pytorch(form: int, include: bool) -> None:
    """Max: exactly torch's max over the window (padding as -inf). Average: the window's sum (zeros padded in)
    over the count, within (count + 1) u of the mean of |x|."""
    torch, F = _torch(), _torch().nn.functional
    shape, attrs = POOL_FORMS[form]
    x = np.random.default_rng(400 + form).standard_normal(shape).astype(F32)
    pads, kernel = tuple(attrs.get("pads", (0, 0, 0, 0))), tuple(attrs["kernel_shape"])
    stride = tuple(attrs.get("strides", (1, 1)))
    got_max = run_reference(pool_doc("MaxPool2D", list(shape), attrs), {"x": x})
    want_max = F.max_pool2d(_padded(torch, x, pads, -np.inf), kernel, stride).numpy().astype(F32)
    assert_same_bits(got_max, want_max)

    def window_sum(v: np.ndarray) -> np.ndarray:
        return F.avg_pool2d(_padded(torch, v, pads), kernel, stride, divisor_override=1).numpy()

    count = np.full(got_max.shape, float(np.prod(kernel))) if include else window_sum(np.ones_like(x))
    exact, scale = window_sum(x) / count, window_sum(np.abs(x)) / count
    got = run_reference(pool_doc("AveragePool2D", list(shape), {**attrs, "count_include_pad": include}), {"x": x})
    n = np.prod(kernel)
    assert np.all(np.abs(got.astype(np.float64) - exact) <= (n + 1) * U * scale + 1e-45)


# ------------------------------------------------------------------ the checker

GOOD_CONV = conv_doc(["n", 4, 6, 5], [6, 2, 3, 3], [6], {"group": 2, "pads": [1, 0, 1, 0]})
GOOD_POOL = pool_doc("AveragePool2D", ["n", 2, 5, 5], {"kernel_shape": [3, 3], "pads": [2, 2, 2, 2]})


def test_symbolic_batch_binds_at_run_time() -> None:
    model = check(GOOD_CONV)
    assert model.shapes["y"] == ("n", 6, 6, 3)
    rng = np.random.default_rng(7)
    for n in (1, 257):
        feeds = {"x": rng.standard_normal((n, 4, 6, 5)).astype(F32), "w": rng.standard_normal((6, 2, 3, 3)).astype(F32),
                 "b": rng.standard_normal(6).astype(F32)}
        assert reference.run(model, feeds)["y"].shape == (n, 6, 6, 3)
    assert reference.run(check(GOOD_POOL), {"x": np.ones((3, 2, 5, 5), F32)})["y"].shape == (3, 2, 7, 7)


def _edit(doc: dict, **attrs: Any) -> dict:
    out = copy.deepcopy(doc)
    node = out["graph"]["nodes"][0]
    node["attrs"] = {**node.get("attrs", {}), **attrs}
    return out


REJECTS: list[tuple[str, dict, str]] = [
    # SPEC §6: attribute arrays of the wrong length, values outside their range, pooling pads at the kernel size.
    ("strides_length", _edit(GOOD_CONV, strides=[1]), "E_SCHEMA"),
    ("strides_zero", _edit(GOOD_CONV, strides=[1, 0]), "E_SCHEMA"),
    ("strides_above_65535", _edit(GOOD_CONV, strides=[65536, 1]), "E_SCHEMA"),
    ("pads_length", _edit(GOOD_CONV, pads=[1, 1]), "E_SCHEMA"),
    ("pads_negative", _edit(GOOD_CONV, pads=[0, 0, -1, 0]), "E_SCHEMA"),
    ("dilations_zero", _edit(GOOD_CONV, dilations=[0, 1]), "E_SCHEMA"),
    ("dilations_float", _edit(GOOD_CONV, dilations=[1.5, 1]), "E_SCHEMA"),
    ("group_zero", _edit(GOOD_CONV, group=0), "E_SCHEMA"),
    ("group_array", _edit(GOOD_CONV, group=[2]), "E_SCHEMA"),
    ("conv_kernel_shape_unknown", _edit(GOOD_CONV, kernel_shape=[3, 3]), "E_SCHEMA"),
    *[(f"pool_pad_at_kernel_{side}", _edit(GOOD_POOL, pads=[3 if k == i else 0 for k in range(4)]), "E_SCHEMA")
      for i, side in enumerate(("top", "left", "bottom", "right"))],
    ("pool_kernel_length", _edit(GOOD_POOL, kernel_shape=[3]), "E_SCHEMA"),
    ("pool_count_include_pad_number", _edit(GOOD_POOL, count_include_pad=1), "E_SCHEMA"),
    ("pool_without_kernel_shape", pool_doc("MaxPool2D", [1, 1, 4, 4], {"kernel_shape": [2, 2]}), "E_SCHEMA"),
    ("conv_one_input", conv_doc([1, 1, 4, 4], [1, 1, 3, 3], None, {}), "E_SCHEMA"),
    # SPEC §6 shapes: E_SHAPE.
    ("channels", conv_doc(["n", 4, 6, 5], [6, 4, 3, 3], [6], {"group": 2}), "E_SHAPE"),
    ("group_not_dividing_c", conv_doc(["n", 3, 6, 5], [4, 1, 3, 3], None, {"group": 2}), "E_SHAPE"),
    ("group_not_dividing_m", conv_doc(["n", 4, 6, 5], [3, 2, 3, 3], None, {"group": 2}), "E_SHAPE"),
    ("bias_length", conv_doc(["n", 4, 6, 5], [6, 2, 3, 3], [3], {"group": 2}), "E_SHAPE"),
    ("symbolic_c", conv_doc(["n", "c", 6, 5], [6, 4, 3, 3], None, {}, ["n", 6, 4, 3]), "E_SHAPE"),
    ("symbolic_h", conv_doc(["n", 4, "h", 5], [6, 4, 3, 3], None, {}, ["n", 6, "h", 3]), "E_SHAPE"),
    ("symbolic_w", pool_doc("MaxPool2D", ["n", 4, 5, "w"], {"kernel_shape": [2, 2]}, ["n", 4, 4, "w"]), "E_SHAPE"),
    ("conv_kernel_beyond_input", conv_doc([1, 1, 4, 4], [1, 1, 3, 3], None, {"dilations": [2, 1]},
                                          [1, 1, 1, 2]), "E_SHAPE"),
    ("pool_kernel_beyond_input", pool_doc("MaxPool2D", [1, 1, 4, 4], {"kernel_shape": [5, 1]}, [1, 1, 1, 4]),
     "E_SHAPE"),
    ("rank3", pool_doc("MaxPool2D", [1, 4, 4], {"kernel_shape": [2, 2]}, [1, 3, 3, 1]), "E_SHAPE"),
    ("int32_operand", node_doc("Conv2D", [("x", [1, 1, 4, 4], "int32"), ("w", [1, 1, 3, 3], "float32")],
                               [1, 1, 2, 2], {}), "E_SHAPE"),
    ("declared_output", conv_doc([1, 1, 4, 4], [1, 1, 3, 3], None, {}, [1, 1, 3, 3]), "E_SHAPE"),
    # Rank-4 output of 2^32 elements from one-element operands: refused at check time, before any allocation.
    ("output_limit", conv_doc([1, 1, 1, 1], [1, 1, 1, 1], None, {"pads": [0, 0, 65535, 65535]}, [1, 1, 1, 1]),
     "E_LIMIT"),
    # SPEC §2: a file stamped older than the operator.
    ("conv_in_1_1", conv_doc([1, 1, 4, 4], [1, 1, 3, 3], None, {}, version="1.1"), "E_VERSION"),
    ("pool_in_1_0", pool_doc("AveragePool2D", [1, 1, 4, 4], {"kernel_shape": [2, 2]}, version="1.0"), "E_VERSION"),
]
REJECTS[[r[0] for r in REJECTS].index("pool_without_kernel_shape")][1]["graph"]["nodes"][0].pop("attrs")
REJECTS[[r[0] for r in REJECTS].index("conv_one_input")][1]["graph"]["nodes"][0]["inputs"].pop()


@pytest.mark.parametrize("label,doc,code", REJECTS, ids=[r[0] for r in REJECTS])
def test_checker_rejects(label: str, doc: dict, code: str) -> None:
    with pytest.raises(ModelError) as info:
        check(doc)
    assert info.value.code == code, info.value
    if code != "E_VERSION":
        assert "'k'" in info.value.message or "output" in info.value.message, info.value.message


def test_the_reject_table_starts_from_valid_files() -> None:
    check(GOOD_CONV)
    check(GOOD_POOL)
    check(conv_doc([1, 1, 4, 4], [1, 1, 3, 3], None, {}, version="1.3"))  # a newer minor: known ops run


# ------------------------------------------------------------------ versions


def test_covering_version_is_1_2_only_with_the_new_ops() -> None:
    assert covering_version(["Conv2D"]) == "1.2"
    assert covering_version(["MatMul", "MaxPool2D", "Gather"]) == "1.2"
    assert covering_version(["MatMul", "Relu"]) == "1.0"
    assert covering_version(["Gather"]) == "1.1"
    assert covering_version(["Relu"], ["int32"]) == "1.1"


def test_export_stamps_1_2_for_a_cnn_and_1_0_without_one() -> None:
    rng = np.random.default_rng(9)
    x = T.tensor4("x", shape=(None, 1, 6, 6))
    w = trainer.shared(rng.standard_normal((2, 1, 3, 3)).astype(F32), name="W")
    doc = export([nnet.conv2d(x, w, filter_shape=(2, 1, 3, 3))], [x])
    assert doc["format_version"] == "1.2" and "Conv2D" in [n["op"] for n in doc["graph"]["nodes"]]
    m = T.matrix("m")
    v = trainer.shared(rng.standard_normal((3, 2)).astype(F32), name="V")
    assert export([nnet.relu(T.dot(m, v))], [m])["format_version"] == "1.0"
