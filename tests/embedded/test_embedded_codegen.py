"""Generated C gives the reference's bits: models, every op family, conformance cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.embedded.test_embedded_support import check_model, doc, seed_ae_doc, tensor, uniform
from tests.support import F32, same_bits

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "conformance" / "cases"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


def binary(rng: np.random.Generator, shape: tuple, p: float = 0.3) -> np.ndarray:
    return (rng.random(shape) < p).astype(F32)


@pytest.mark.parametrize("batch", [1, 3])
def test_seed_ae(build: Path, batch: int) -> None:
    rng = np.random.default_rng(1)
    report = check_model(seed_ae_doc(), {"x": binary(rng, (batch, 64))}, build, f"seed{batch}", batch)
    if batch == 1:  # the embedded target: activations <= 4*(64+32) bytes (plus alignment) at batch 1
        assert report.arena_bytes <= 4 * (64 + 32)
        assert report.arena_bytes == report.arena_lower_bound


def test_seed_ae_default_and_inline_kernels(build: Path) -> None:
    rng = np.random.default_rng(2)
    x = {"x": binary(rng, (1, 64))}
    check_model(seed_ae_doc(), x, build, "seed_incl", external=False)
    check_model(seed_ae_doc(), x, build, "seed_inline", inline=True)


def dense(rng: np.random.Generator, tag: str, x: str, n_in: int, n_out: int, act: str | None,
          transpose_b: bool = False) -> tuple[list[dict], list[tuple], str]:
    w = uniform(rng, (n_out, n_in) if transpose_b else (n_in, n_out), -0.3, 0.3)
    inits = [tensor(f"W{tag}", w), tensor(f"b{tag}", uniform(rng, (n_out,), -0.1, 0.1))]
    attrs = {"transpose_b": True} if transpose_b else {}
    nodes = [("MatMul", [x, f"W{tag}"], f"mm{tag}", attrs), ("Add", [f"mm{tag}", f"b{tag}"], f"z{tag}")]
    if act:
        nodes.append((act, [f"z{tag}"], f"h{tag}"))
    return inits, nodes, nodes[-1][2]


def deep_ae_doc(rng: np.random.Generator) -> dict:
    inits, nodes, x = [], [], "x"
    for tag, (a, b, act) in enumerate([(100, 48, "Tanh"), (48, 16, "Relu"), (16, 48, "Softplus"),
                                       (48, 100, "Sigmoid")]):
        i, n, x = dense(rng, str(tag), x, a, b, act)
        inits, nodes = inits + i, nodes + n
    return doc([("x", ["batch", 100])], [(x, ["batch", 100])], inits, nodes)


def mlp_softmax_doc(rng: np.random.Generator) -> dict:
    i1, n1, h = dense(rng, "1", "x", 64, 48, "Relu")
    i2, n2, z = dense(rng, "2", h, 48, 10, None, transpose_b=True)
    return doc([("x", ["batch", 64])], [("probs", ["batch", 10])], i1 + i2,
               n1 + n2 + [("Softmax", [z], "probs", {"axis": -1})])


def bce_score_doc(rng: np.random.Generator) -> dict:
    """Per-sample anomaly score: mean over features of softplus(z) - x*z (BCE of sigmoid(z) vs x)."""
    base = seed_ae_doc(seed=7)
    nodes = [(n["op"], n["inputs"], n["outputs"][0], n.get("attrs", {})) for n in base["graph"]["nodes"][:-1]]
    nodes += [("Softplus", ["zv"], "sp"), ("Mul", ["x", "zv"], "xz"), ("Sub", ["sp", "xz"], "bce"),
              ("ReduceMean", ["bce"], "score", {"axes": [1]})]
    return doc([("x", ["batch", 64])], [("score", ["batch"])], base["graph"]["initializers"], nodes)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("which", ["deep_ae", "mlp_softmax", "bce_score"])
def test_models(build: Path, which: str, batch: int) -> None:
    rng = np.random.default_rng(3)
    model = {"deep_ae": deep_ae_doc, "mlp_softmax": mlp_softmax_doc, "bce_score": bce_score_doc}[which](rng)
    x = uniform(rng, (batch, 64), 0, 1) if which == "mlp_softmax" else binary(rng, (batch, 100 if which ==
                                                                                     "deep_ae" else 64), 0.1)
    check_model(model, {"x": x}, build, f"{which}{batch}", batch)


def zoo_doc() -> dict:
    """Every op family and the awkward storage cases: general broadcasting, reductions over several
    axes, softmax on the middle axis, transposes (one a no-op alias), reshapes, clips with infinite
    bounds, an output that is an input, an initializer, or an alias of another output, an output
    also read later, and a node nothing depends on."""
    rng = np.random.default_rng(11)
    inits = [tensor("c31", uniform(rng, (3, 1), -2, 2)), tensor("k", uniform(rng, (4, 5), -1, 1)),
             tensor("s", np.array(1.5, F32)), tensor("unused", np.ones(3, F32))]
    nodes = [
        ("Mul", ["a", "c31"], "t0"),  # [B,3,4] * [3,1]
        ("Div", ["t0", "s"], "t1"),  # scalar operand
        ("Maximum", ["t1", "a"], "t2"), ("Minimum", ["t2", "c31"], "t3"),
        ("Neg", ["t3"], "t4"), ("Abs", ["t4"], "t5"), ("Sqrt", ["t5"], "t6"), ("Log", ["t6"], "t7"),
        ("Exp", ["t4"], "t8"), ("Tanh", ["t8"], "t9"), ("Clip", ["t7"], "t10", {"min": -1.5, "max": 0.75}),
        ("Clip", ["t10"], "t11", {"min": -0.5}), ("Clip", ["t11"], "t12", {"max": 0.5}), ("Clip", ["t12"], "t13"),
        ("Softmax", ["t9"], "t14", {"axis": 1}), ("Softmax", ["t13"], "t15", {"axis": 0}),
        ("Add", ["t14", "t15"], "t16"), ("ReduceSum", ["t16"], "r0", {"axes": [0, 2], "keepdims": True}),
        ("ReduceMax", ["t16"], "r1", {"axes": [-1]}), ("ReduceMean", ["t16"], "r2"),
        ("Transpose", ["t16"], "p0", {"perm": [2, 0, 1]}), ("Transpose", ["r0"], "p1", {"perm": [0, 2, 1]}),
        ("Reshape", ["p0"], "q0", {"shape": [-1, "batch", 3]}), ("Reshape", ["q0"], "q1", {"shape": ["batch", 12]}),
        ("MatMul", ["q1", "q1"], "mm", {"transpose_a": True}),  # [12,B] @ [B,12]
        ("Sub", ["r1", "b"], "d0"), ("Relu", ["d0"], "d1"), ("Sigmoid", ["d1"], "d2"), ("Softplus", ["d2"], "d3"),
        ("Add", ["d3", "r2"], "d4"), ("Reshape", ["d4"], "d5", {"shape": ["batch", 3]}),
        ("Exp", ["unused"], "dead"),
    ]
    outs = [("mm", [12, 12]), ("d5", ["batch", 3]), ("d4", ["batch", 3]), ("b", ["batch", 3]), ("k", [4, 5]),
            ("p1", [1, 1, 3]), ("t16", ["batch", 3, 4])]
    return doc([("a", ["batch", 3, 4]), ("b", ["batch", 3])], outs, inits, nodes)


@pytest.mark.parametrize("batch", [1, 2])
def test_op_zoo(build: Path, batch: int) -> None:
    rng = np.random.default_rng(12)
    a = uniform(rng, (batch, 3, 4), -3, 3)
    a.reshape(-1)[:4] = [0.0, -0.0, np.inf, np.nan]
    check_model(zoo_doc(), {"a": a, "b": uniform(rng, (batch, 3), -1, 1)}, build, f"zoo{batch}", batch)


UNARY = ["Neg", "Abs", "Relu", "Exp", "Sigmoid", "Tanh", "Softplus", "Sqrt", "Log"]
BINARY = ["Add", "Sub", "Mul", "Div", "Maximum", "Minimum"]


def random_graph(seed: int) -> tuple[dict, dict[str, np.ndarray]]:
    """A random chain/DAG of [B, n] tensors: elementwise, broadcast bias, MatMul; several outputs."""
    rng = np.random.default_rng(seed)
    batch = int(rng.integers(1, 4))
    values = [("x", int(rng.integers(2, 9)))]
    inits, nodes = [], []
    for i in range(int(rng.integers(3, 12))):
        name, width = values[int(rng.integers(len(values)))]
        kind = rng.integers(4)
        if kind == 0:
            out_w = int(rng.integers(2, 9))
            inits.append(tensor(f"w{i}", uniform(rng, (width, out_w), -1, 1)))
            nodes.append(("MatMul", [name, f"w{i}"], f"v{i}"))
            width = out_w
        elif kind == 1:
            nodes.append((UNARY[int(rng.integers(len(UNARY)))], [name], f"v{i}"))
        elif kind == 2:
            inits.append(tensor(f"c{i}", uniform(rng, (width,), -1, 1)))
            nodes.append((BINARY[int(rng.integers(len(BINARY)))], [name, f"c{i}"], f"v{i}"))
        else:
            same = [v for v in values if v[1] == width]
            other = same[int(rng.integers(len(same)))][0]
            nodes.append((BINARY[int(rng.integers(len(BINARY)))], [name, other], f"v{i}"))
        values.append((f"v{i}", width))
    chosen = sorted({values[-1]} | {values[int(j)] for j in rng.integers(1, len(values), size=2)})
    model = doc([("x", ["batch", values[0][1]])], [(n, ["batch", w]) for n, w in chosen], inits, nodes)
    return model, {"x": uniform(rng, (batch, values[0][1]), -2, 2)}


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs(build: Path, seed: int) -> None:
    model, inputs = random_graph(seed)
    batch = inputs["x"].shape[0]
    report = check_model(model, inputs, build, f"rand{seed}", batch, compilers=["gcc"])
    assert report.arena_bytes >= report.arena_lower_bound


def conformance_cases() -> list[Path]:
    return sorted(p for p in CASES.glob("*") if (p / "expected.json").exists()) if CASES.is_dir() else []


def test_conformance_cases_exist() -> None:
    """The suite's model cases are part of the embedded bar: their absence is a failure, not a skip."""
    names = [p.name for p in conformance_cases()]
    assert any(n.startswith("model_seed_ae") for n in names), f"no model cases under {CASES}"


@pytest.mark.parametrize("case", conformance_cases(), ids=lambda p: p.name)
def test_conformance_case(build: Path, case: Path) -> None:
    from tessera import exporter
    from tessera.exporter.tensors import read_tensors

    model_doc = json.loads((case / "model.json").read_text())
    cm = exporter.load(model_doc).checked
    inputs = read_tensors(case / "inputs.json", "inputs", {n: cm.dtypes[n] for n, _ in cm.inputs})
    expected = read_tensors(case / "expected.json", "outputs")
    dims: dict[str, int] = {}
    for (name, shape) in exporter.load(model_doc).inputs:
        dims.update({d: n for d, n in zip(shape, inputs[name].shape, strict=True) if isinstance(d, str)})
    compilers = None if case.name.startswith("model_") else ["gcc"]
    report = check_model(model_doc, inputs, build, case.name.replace("-", "_"), dims=dims, compilers=compilers)
    got = exporter.load(model_doc).run(inputs)  # the reference agrees with the suite, so C does too
    assert all(same_bits(expected[n], got[n]) for n in expected)
    assert report.arena_bytes >= report.arena_lower_bound


def test_batch1_build_per_row_equals_batch_reference(build: Path) -> None:
    """The documented way to run a larger batch: a batch-1 build called once per row."""
    from tessera import exporter
    from tessera.exporter.c_codegen import generate_c
    from tests.embedded.test_embedded_support import compile_model, run_exe

    rng = np.random.default_rng(9)
    model = bce_score_doc(rng)
    x = binary(rng, (5, 64))
    want = exporter.load(model).run({"x": x})["score"]
    report = generate_c(model, "rows", 1, build / "rows")
    exe = compile_model(report, "gcc", build, [64], [1])
    got = np.concatenate([run_exe(exe, [x[i:i + 1]], [(1,)])[0] for i in range(5)])
    assert same_bits(want, got)


# ------------------------------------------------------------------ format 1.1: int32 and the new ops


def special_floats(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Ordinary values plus NaN, +-0, +-inf and values past the int32 range (Cast saturation)."""
    x = rng.uniform(-4, 4, size=shape).astype(F32).reshape(-1)
    specials = [np.nan, -0.0, 0.0, np.inf, -np.inf, 3e9, -3e9, 2147483520.0, -0.7, 2.9, 1.0, 1.0]
    x[:len(specials)] = np.array(specials, F32)[:x.size]
    return x.reshape(shape)


def compare_logic_doc() -> dict:
    """Every comparison on float32 and int32 (broadcast), And/Or/Not, Where of both dtypes."""
    inits = [tensor("zero", np.zeros((1,), F32)), tensor("k", np.array([0, -1, 2147483647, -2147483648, 3, 0],
                                                                       np.int32)),
             tensor("fill", np.array([-0.0, 1.5, np.float32(-2.0), 7.0, 0.25, -1.0], F32))]
    nodes = [("Greater", ["x", "zero"], "gt"), ("GreaterOrEqual", ["x", "zero"], "ge"), ("Less", ["t", "k"], "lt"),
             ("LessOrEqual", ["t", "k"], "le"), ("Equal", ["x", "x"], "eq"), ("NotEqual", ["x", "zero"], "ne"),
             ("And", ["gt", "lt"], "and"), ("Or", ["eq", "le"], "or"), ("Not", ["ne"], "not"),
             ("Where", ["and", "x", "fill"], "wf"), ("Where", ["or", "t", "k"], "wi"),
             ("Add", ["wf", "zero"], "wf2")]
    return doc([("x", ["batch", 6]), ("t", ["batch", 6], "int32")],
               [("ge", ["batch", 6], "int32"), ("not", ["batch", 6], "int32"), ("wf2", ["batch", 6]),
                ("wi", ["batch", 6], "int32")], inits, nodes)


def select_doc() -> dict:
    """Gather (both dtypes, negative indices, from an input and from an initializer), Concat, Slice,
    Cast both ways, ArgMax/ArgMin, ReduceMin/ReduceProd, LogSoftmax, Transpose/Reshape of int32."""
    rng = np.random.default_rng(11)
    inits = [tensor("E", uniform(rng, (10, 4), -1, 1)), tensor("cols", np.array([5, -1, 0], np.int32)),
             tensor("ids", np.array([[1, -2], [2, -3]], np.int32))]
    nodes = [("Gather", ["E", "idx"], "emb"),                                         # [b, 3, 4]
             ("Gather", ["x", "cols"], "xc", {"axis": 1}),                          # [b, 3]
             ("Gather", ["idx", "ids"], "ig", {"axis": -1}),                        # int32 [b, 2, 2]
             ("Reshape", ["emb"], "flat", {"shape": ["batch", 12]}),
             ("Concat", ["flat", "x", "xc"], "cat", {"axis": 1}),                   # [b, 21]
             ("Slice", ["cat"], "sl", {"starts": [-1], "ends": [-100], "axes": [1], "steps": [-3]}),  # [b, 7]
             ("Cast", ["x"], "xi", {"to": "int32"}), ("Cast", ["xi"], "xf", {"to": "float32"}),
             ("ArgMax", ["x"], "am", {"axis": 1}), ("ArgMin", ["xi"], "ami", {"axis": -1, "keepdims": True}),
             ("ReduceMin", ["x"], "rmin", {"axes": [1]}), ("ReduceProd", ["emb"], "rp", {"axes": [1]}),
             ("LogSoftmax", ["cat"], "ls"), ("Transpose", ["ig"], "igt", {"perm": [2, 1, 0]}),
             ("Concat", ["xi"], "xi1", {"axis": 1})]
    return doc([("x", ["batch", 6]), ("idx", ["batch", 3], "int32")],
               [("sl", ["batch", 7]), ("xf", ["batch", 6]), ("am", ["batch"], "int32"), ("ami", ["batch", 1], "int32"),
                ("rmin", ["batch"]), ("rp", ["batch", 4]), ("ls", ["batch", 21]), ("igt", [2, 2, "batch"], "int32"),
                ("xi1", ["batch", 6], "int32")], inits, nodes)


@pytest.mark.parametrize("batch", [1, 4])
def test_compare_logic_where(build: Path, batch: int) -> None:
    rng = np.random.default_rng(batch)
    x = special_floats(rng, (batch, 6))
    t = rng.integers(-3, 4, size=(batch, 6)).astype(np.int32)
    t.reshape(-1)[:2] = [-2147483648, 2147483647]
    check_model(compare_logic_doc(), {"x": x, "t": t}, build, f"cmp{batch}", batch)


@pytest.mark.parametrize("batch", [1, 3])
def test_select_ops(build: Path, batch: int) -> None:
    rng = np.random.default_rng(10 + batch)
    x = special_floats(rng, (batch, 6))
    x[:, 0] = np.abs(x[:, 0])  # LogSoftmax/ArgMax see NaN in some rows and finite rows in others
    idx = rng.integers(-10, 10, size=(batch, 3)).astype(np.int32)  # rows of E: [-10, 9]
    idx.reshape(-1)[:2] = [-10, 9]
    check_model(select_doc(), {"x": x, "idx": idx}, build, f"sel{batch}", batch)


def test_gather_index_out_of_range_returns_1(build: Path) -> None:
    """The generated run checks Gather indices when the node runs (SPEC: E_INPUT at run time)."""
    from tessera.exporter.c_codegen import generate_c
    from tests.embedded.test_embedded_support import compile_model, run_exe

    rng = np.random.default_rng(3)
    model = doc([("idx", [2], "int32")], [("g", [2, 4])], [tensor("E", uniform(rng, (5, 4), -1, 1))],
                [("Gather", ["E", "idx"], "g")])
    report = generate_c(model, "gidx", 1, build / "gidx")
    exe = compile_model(report, "gcc", build, [2], [8])
    ok = run_exe(exe, [np.array([4, -5], np.int32)], [(2, 4)])[0]
    assert same_bits(ok, exporter_run(model, {"idx": np.array([4, -5], np.int32)})["g"])
    for bad in ([5, 0], [0, -6]):
        run_exe(exe, [np.array(bad, np.int32)], [(2, 4)], expect_exit=5)


def exporter_run(model: dict, inputs: dict) -> dict:
    from tessera import exporter

    return exporter.load(model).run(inputs)


def test_int32_weights_and_io_are_typed(build: Path) -> None:
    """int32 initializers are int32_t arrays (INT32_MIN as an expression), int32 I/O int32_t pointers."""
    from tessera.exporter.c_codegen import generate_c

    model = doc([("t", [3], "int32")], [("y", [3], "int32")],
                [tensor("k", np.array([-2147483648, 0, 2147483647], np.int32))], [("Less", ["t", "k"], "y")])
    report = generate_c(model, "typed", 1, build / "typed")
    src, hdr = report.source.read_text(), report.header.read_text()
    assert "static const int32_t typed_w_k[3] = {" in src and "(-2147483647 - 1), 0, 2147483647" in src
    assert "int typed_run(const int32_t *in_t, int32_t *out_y);" in hdr
    check_model(model, {"t": np.array([-2147483648, 5, 2147483647], np.int32)}, build, "typed2")


def test_unsupported_op_is_a_clear_error(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry row without a C generator entry (`c=None`) is refused by name, before any file is written."""
    import dataclasses

    from tessera.exporter import opset
    from tessera.exporter.c_codegen import generate_c

    monkeypatch.setitem(opset.OPS, "Gather", dataclasses.replace(opset.OPS["Gather"], c=None))
    model = doc([("idx", [2], "int32")], [("g", [2, 4])], [tensor("E", np.zeros((5, 4), F32))],
                [("Gather", ["E", "idx"], "g")])
    with pytest.raises(NotImplementedError, match="op Gather is not supported by the C generator yet"):
        generate_c(model, "nogen", 1, build / "nogen")
    assert not (build / "nogen" / "nogen.c").exists()
