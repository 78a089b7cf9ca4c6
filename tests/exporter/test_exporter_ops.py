"""Every op of SPEC §6 in the reference runtime: vs float64 numpy within stated ulp bounds, and edge values."""

from __future__ import annotations

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import reference, strict_math
from tessera.exporter.opset import OPS, family
from tests.exporter.exporter_testlib import EDGE, binary_doc, ulp_diff, unary_doc
from tests.support import F32, doc_for, same_bits

RNG = np.random.default_rng(1234)


def run1(doc: dict, **inputs) -> np.ndarray:
    (out,) = exporter.load(doc).run({k: np.asarray(v, F32) for k, v in inputs.items()}).values()
    return out


def wide(n: int = 20000) -> np.ndarray:
    """Random float32 over many magnitudes, both signs."""
    mant = RNG.uniform(-1, 1, n)
    return (mant * 10.0 ** RNG.uniform(-6, 2, n)).astype(F32)


# ---------------------------------------------------------------- correctly rounded ops: 0 ulp


# The broadcasting ops SPEC §6 defines as fl(a op b): their kernel on float64 operands is exact, rounded once.
ROUNDED_ONCE = [d.name for d in family("broadcast") if d.spec == "6"]


@pytest.mark.parametrize("op", ROUNDED_ONCE)
def test_binary_arith_is_correctly_rounded(op: str) -> None:
    a, b = wide(), wide()
    got = run1(binary_doc(op, [20000], [20000], [20000]), a=a, b=b)
    want = OPS[op].kernel([a.astype(np.float64), b.astype(np.float64)], {})  # one rounding of the exact result
    assert ulp_diff(got, want).max() == 0


def test_sqrt_correctly_rounded_and_special() -> None:
    x = np.abs(wide())
    got = run1(unary_doc("Sqrt", [20000]), x=x)
    assert ulp_diff(got, np.sqrt(x.astype(np.float64))).max() == 0
    got = run1(unary_doc("Sqrt", [4]), x=np.array([-0.0, -1.0, np.inf, 1e-45], F32))
    assert np.signbit(got[0]) and got[0] == 0 and np.isnan(got[1]) and got[2] == np.inf and got[3] > 0


SIGN = np.uint32(0x80000000)


def test_neg_flips_the_sign_bit() -> None:
    got = run1(unary_doc("Neg", [EDGE.size]), x=EDGE)
    assert np.array_equal(got.view(np.uint32), EDGE.view(np.uint32) ^ SIGN)


def test_abs_clears_the_sign_bit() -> None:
    got = run1(unary_doc("Abs", [EDGE.size]), x=EDGE)
    assert np.array_equal(got.view(np.uint32), EDGE.view(np.uint32) & ~SIGN)


# ---------------------------------------------------------------- transcendental: stated bounds

# Ops whose bits approximate a real function: the registry states the bound (exporter/README.md).
# (Pow, the one with two operands, has its own tests: test_exporter_pow.py.)
APPROXIMATE = [d.name for d in OPS.values() if d.accuracy is not None and d.arity == 1]


def test_every_transcendental_states_its_accuracy() -> None:
    assert APPROXIMATE == [d.name for d in OPS.values() if d.spec == "7.3"]
    assert [d.name for d in OPS.values() if d.accuracy is not None and d.arity != 1] == ["Pow"]


def f64_ref(op: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return OPS[op].accuracy.real(x.astype(np.float64))


def sample(op: str, n: int) -> np.ndarray:
    """n float32 values over the op's test range: uniform, or log-uniform for a positive range."""
    acc = OPS[op].accuracy
    if acc.lo > 0:
        x = (10.0 ** RNG.uniform(np.log10(acc.lo), np.log10(acc.hi), n)).astype(F32)
        return x[np.isfinite(x) & (x > 0)]
    return RNG.uniform(acc.lo, acc.hi, n).astype(F32)


@pytest.mark.parametrize("op", APPROXIMATE)
def test_transcendental_within_ulp_bound(op: str) -> None:
    x = sample(op, 50000)
    got = run1(unary_doc(op, [x.size]), x=x)
    want = f64_ref(op, x)
    fine = np.abs(want) >= 1.1754944e-38  # normal results: ulp bound; subnormal ones: absolute
    assert ulp_diff(got[fine], want[fine]).max() <= OPS[op].accuracy.ulp


def test_sigmoid_error_is_below_one_ulp() -> None:
    """Real-valued error (not the distance to the rounded reference): SPEC 7.3's pair
    arithmetic rounds once, so every result is within 0.8 ulp (all 2^32 inputs: C README)."""
    x = np.concatenate([RNG.uniform(-105, 20, 200000), RNG.uniform(-88.5, -86.5, 50000)]).astype(F32)
    got = run1(unary_doc("Sigmoid", [x.size]), x=x).astype(np.float64)
    want = f64_ref("Sigmoid", x)
    binade = np.floor(np.log2(np.maximum(np.abs(want), 2.0**-126)))
    err = np.abs(got - want) / 2.0 ** (binade - 23)
    assert err.max() < 0.8, (err.max(), x[np.argmax(err)])


@pytest.mark.parametrize("op", APPROXIMATE)
def test_transcendental_edges(op: str) -> None:
    got = run1(unary_doc(op, [EDGE.size]), x=EDGE)
    with np.errstate(over="ignore"):  # exp of large edges overflows float32: inf is the expected value
        want = f64_ref(op, EDGE).astype(F32)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (op, EDGE[np.isnan(got) != np.isnan(want)])
    finite = np.isfinite(want) & ~np.isnan(got)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert ulp_diff(got[finite], want[finite].astype(np.float64)).max() <= max(OPS[op].accuracy.ulp, 1)


def test_exp_overflow_underflow_edges() -> None:
    x = np.array([88.72283, 88.72284, 89.0, 1000.0, np.inf, -103.97, -104.0, -104.1, -np.inf, -87.33654], F32)
    got = strict_math.exp(x)
    assert np.isfinite(got[0]) and got[0] > 3.4e38
    assert np.all(np.isinf(got[1:5]))
    assert got[5] == np.float32(1e-45)  # exp(-103.97) = 7.3e-46 rounds up to the smallest subnormal
    assert got[6] == 0 and not np.signbit(got[6]) and got[7] == 0 and got[8] == 0
    assert got[9] > 0  # around the smallest normal
    sub = np.linspace(-103.9, -87.4, 2000).astype(F32)  # results in the subnormal range
    err = np.abs(strict_math.exp(sub).astype(np.float64) - np.exp(sub.astype(np.float64)))
    assert err.max() <= 1.4e-45  # within one subnormal ulp


def test_log_specials() -> None:
    got = strict_math.log(np.array([0.0, -0.0, -1.0, np.inf, np.nan, 1.0, 1e-45], F32))
    assert got[0] == -np.inf and got[1] == -np.inf and np.isnan(got[2]) and got[3] == np.inf
    assert np.isnan(got[4]) and got[5] == 0 and abs(got[6] - np.log(float(F32(1e-45)))) < 1e-4


# ---------------------------------------------------------------- MatMul


def matmul_loop(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SPEC §7.1 literally, one element at a time."""
    out = np.zeros((a.shape[0], b.shape[1]), F32)
    with np.errstate(all="ignore"):
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                acc = F32(0.0)
                for k in range(a.shape[1]):
                    if a[i, k] == 0:
                        continue
                    acc = F32(acc + F32(a[i, k] * b[k, j]))
                out[i, j] = acc
    return out


def test_matmul_matches_the_literal_definition() -> None:
    a = wide(6 * 9).reshape(6, 9)
    a[a < 0.01] = 0
    b = wide(9 * 5).reshape(9, 5)
    assert same_bits(reference.matmul(a, b), matmul_loop(a, b))
    got = run1(doc_for([{"op": "MatMul", "inputs": ["a", "b"], "outputs": ["y"], "attrs": {"transpose_a": True,
                                                                                       "transpose_b": True}}],
                       [("a", [9, 6]), ("b", [5, 9])], [("y", [6, 5])]), a=a.T.copy(), b=b.T.copy())
    assert same_bits(got, matmul_loop(a, b))


def test_matmul_zero_skips_inf_and_nan() -> None:
    a = np.array([[0.0, 1.0], [-0.0, 0.0]], F32)
    b = np.array([[np.inf, 2.0], [3.0, np.nan]], F32)
    got = reference.matmul(a, b)
    assert got[0, 0] == 3.0 and np.isnan(got[0, 1])
    assert got[1, 0] == 0 and got[1, 1] == 0 and not np.signbit(got[1]).any()  # +0.0: nothing added


def test_matmul_sum_of_negative_zeros_is_positive_zero() -> None:
    got = reference.matmul(np.array([[-1.0, 1.0]], F32), np.array([[0.0], [-0.0]], F32))
    assert got[0, 0] == 0 and not np.signbit(got[0, 0])


def test_matmul_order_is_sequential_in_k() -> None:
    a = np.ones((1, 3), F32)
    b = np.array([[1e8], [1.0], [-1e8]], F32)
    assert reference.matmul(a, b)[0, 0] == 0.0  # (1e8 + 1) - 1e8 in float32; a pairwise/fma sum could differ


# ---------------------------------------------------------------- Maximum / Minimum / Relu / Clip


def test_maximum_minimum_signed_zero_and_nan() -> None:
    a = np.array([0.0, -0.0, -0.0, 0.0, np.nan, 1.0, -np.inf, 2.0], F32)
    b = np.array([-0.0, 0.0, -0.0, 0.0, 1.0, np.nan, np.inf, 2.0], F32)
    mx, mn = reference.maximum(a, b), reference.minimum(a, b)
    assert list(np.signbit(mx[:4])) == [False, False, True, False]
    assert list(np.signbit(mn[:4])) == [True, True, True, False]
    assert np.isnan(mx[4]) and np.isnan(mx[5]) and np.isnan(mn[4]) and np.isnan(mn[5])
    assert mx[6] == np.inf and mn[6] == -np.inf and mx[7] == 2 and mn[7] == 2


def test_relu_and_clip() -> None:
    x = np.array([-0.0, 0.0, -1.0, 3.0, np.nan, np.inf], F32)
    got = run1(unary_doc("Relu", [6]), x=x)
    assert not np.signbit(got[0]) and got[2] == 0 and got[3] == 3 and np.isnan(got[4]) and got[5] == np.inf
    got = run1(unary_doc("Clip", [6], {"min": -0.5, "max": 2}), x=x)
    assert same_bits(got, np.array([-0.0, 0.0, -0.5, 2.0, np.nan, 2.0], F32))
    got = run1(unary_doc("Clip", [6], {"max": 0}), x=x)  # min defaults to -inf
    assert same_bits(got, np.array([-0.0, 0.0, -1.0, 0.0, np.nan, 0.0], F32))


# ---------------------------------------------------------------- broadcasting


def test_broadcast_forms_match_numpy() -> None:
    a = wide(4 * 3).reshape(4, 3)
    for sb in ([3], [1, 3], [4, 1], [], [1]):
        b = wide(int(np.prod(sb))).reshape(sb)
        got = run1(binary_doc("Mul", [4, 3], sb, [4, 3]), a=a, b=b)
        assert same_bits(got, a * b)


# ---------------------------------------------------------------- Softmax and reductions


def test_softmax_definition_and_f64_bound() -> None:
    # fl(x - m) carries an absolute error ~ |x| 2^-24 that exp turns into a relative one: keep |x| <= 4.
    x = RNG.uniform(-4, 4, (8, 7)).astype(F32)
    for axis in (-1, 0):
        got = run1(unary_doc("Softmax", [8, 7], {"axis": axis}), x=x)
        e = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
        want = e / e.sum(axis=axis, keepdims=True)
        assert ulp_diff(got, want).max() <= 8
    got = reference.softmax(np.array([[-np.inf, -np.inf], [np.inf, 0.0], [1.0, np.nan]], F32), -1)
    assert np.isnan(got[0]).all() and np.isnan(got[2]).all()  # all -inf: -inf - -inf; NaN spreads
    assert np.isnan(got[1]).all()  # inf - inf is NaN, and s = NaN spreads to the whole slice


def sum_loop(x: np.ndarray) -> F32:
    acc = F32(0.0)
    for v in x:
        acc = F32(acc + v)
    return acc


def test_reduce_sum_is_sequential_from_plus_zero() -> None:
    x = wide(5 * 6 * 7).reshape(5, 6, 7)
    got = run1(doc_for([{"op": "ReduceSum", "inputs": ["x"], "outputs": ["y"], "attrs": {"axes": [0, 2]}}],
                       [("x", [5, 6, 7])], [("y", [6])]), x=x)
    want = np.array([sum_loop(x[:, j, :].ravel()) for j in range(6)], F32)
    assert same_bits(got, want)
    assert not np.signbit(reference.sequential_sum(np.array([[-0.0, -0.0]], F32))[0])


def test_reduce_mean_and_max() -> None:
    x = wide(4 * 6).reshape(4, 6)
    got = run1(doc_for([{"op": "ReduceMean", "inputs": ["x"], "outputs": ["y"], "attrs": {"axes": [-1],
                                                                                        "keepdims": True}}],
                       [("x", [4, 6])], [("y", [4, 1])]), x=x)
    want = np.array([[F32(sum_loop(r) / F32(6))] for r in x], F32)
    assert same_bits(got, want)
    doc = doc_for([{"op": "ReduceMax", "inputs": ["x"], "outputs": ["y"]}], [("x", [4, 6])], [("y", [])])
    assert run1(doc, x=x) == x.max()
    z = np.array([[-0.0, -0.0], [-0.0, 0.0]], F32)
    doc = doc_for([{"op": "ReduceMax", "inputs": ["x"], "outputs": ["y"], "attrs": {"axes": [1]}}],
                  [("x", [2, 2])], [("y", [2])])
    assert list(np.signbit(run1(doc, x=z))) == [True, False]
    assert np.isnan(run1(doc, x=np.array([[1, np.nan], [2, 3]], F32))[0])


# ---------------------------------------------------------------- Transpose and Reshape


def test_transpose_and_reshape_move_elements() -> None:
    x = wide(2 * 3 * 4).reshape(2, 3, 4)
    doc = doc_for([{"op": "Transpose", "inputs": ["x"], "outputs": ["y"], "attrs": {"perm": [1, 2, 0]}}],
                  [("x", [2, 3, 4])], [("y", [3, 4, 2])])
    assert same_bits(run1(doc, x=x), np.transpose(x, (1, 2, 0)))
    doc = doc_for([{"op": "Transpose", "inputs": ["x"], "outputs": ["y"]}], [("x", [2, 3, 4])], [("y", [4, 3, 2])])
    assert same_bits(run1(doc, x=x), x.T)
    doc = doc_for([{"op": "Reshape", "inputs": ["x"], "outputs": ["y"], "attrs": {"shape": ["n", -1]}}],
                  [("x", ["n", 3, 4])], [("y", ["n", 12])])
    assert same_bits(run1(doc, x=x), x.reshape(2, 12))
