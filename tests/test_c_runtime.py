"""Cross-check the C runtime (runtimes/c, tessera-run) bit for bit against
the reference kernels (exporter/opset.py rows) and simple numpy computations. Builds with make; a
missing compiler is a failure, not a skip."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from tessera.exporter.opset import OPS
from tests.support import ROOT, equal_bits

RUN = ROOT / "runtimes" / "c" / "build" / "tessera-run"


@pytest.fixture(scope="module", autouse=True)
def build(c_runtime: list[str]) -> None:
    assert c_runtime == [str(RUN)]


def model(nodes, inputs, outputs, inits=()):
    return {"format": "tessera", "format_version": "1.0", "producer": {"name": "t", "version": "0"},
            "graph": {"inputs": inputs, "outputs": outputs, "initializers": list(inits), "nodes": nodes}}


def enc(a):
    return ["nan" if np.isnan(v) else "inf" if v == np.inf else "-inf" if v == -np.inf else float(v)
            for v in np.asarray(a, np.float32).ravel()]


def dec(lst):
    return np.array([float(v) for v in lst], dtype=np.float32)


def run(tmp_path, m, feeds):
    mp, ip = tmp_path / "m.json", tmp_path / "i.json"
    mp.write_text(json.dumps(m))
    ip.write_text(json.dumps({"inputs": {k: {"shape": list(v.shape), "data": enc(v)} for k, v in feeds.items()}}))
    p = subprocess.run([str(RUN), str(mp), str(ip)], capture_output=True, text=True)
    doc = json.loads(p.stdout)
    return p.returncode, doc


def same_bits(a, b):
    return bool(np.all(equal_bits(a, b)))


def grid():
    rng = np.random.default_rng(5)
    edges = [0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
             0x7F800000, 0xFF800000, 0x7FC00000, 0x42B20000, 0xC2D00000, 0x42B17218, 0xC2AEAC50,
             0xC2CFF1B5, 0x3F0CCCCD, 0x3FB504F3, 0x3F800000, 0xBF800000]
    bits = np.concatenate([np.array(edges, np.uint32), rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32),
                           np.linspace(-110, 100, 2000, dtype=np.float32).view(np.uint32)])
    return bits.view(np.float32)


@pytest.mark.parametrize("op", [d.name for d in OPS.values() if d.spec == "7.3"])  # the transcendentals
def test_transcendentals_bit_exact(tmp_path, op):
    x = grid()
    n = x.size
    m = model([{"op": op, "inputs": ["x"], "outputs": ["y"]}],
              [{"name": "x", "dtype": "float32", "shape": [n]}], [{"name": "y", "dtype": "float32", "shape": [n]}])
    rc, doc = run(tmp_path, m, {"x": x})
    assert rc == 0, doc
    with np.errstate(all="ignore"):
        want = OPS[op].kernel([x], {})
    assert same_bits(dec(doc["outputs"]["y"]["data"]), want)


def test_elementwise_and_broadcast(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    b[0] = 0.0
    ops = {"Add": a + b, "Sub": a - b, "Mul": a * b, "Div": a / b}
    for op, want in ops.items():
        m = model([{"op": op, "inputs": ["a", "b"], "outputs": ["y"]}],
                  [{"name": "a", "dtype": "float32", "shape": ["n", 4]},
                   {"name": "b", "dtype": "float32", "shape": [4]}],
                  [{"name": "y", "dtype": "float32", "shape": ["n", 4]}])
        rc, doc = run(tmp_path, m, {"a": a, "b": b})
        assert rc == 0 and same_bits(dec(doc["outputs"]["y"]["data"]), want.ravel()), op


def test_matmul_sequential_k(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 70)).astype(np.float32)
    a[rng.random(a.shape) < 0.3] = 0
    w = rng.standard_normal((70, 130)).astype(np.float32)
    want = np.zeros((5, 130), np.float32)
    for k in range(70):
        t = a[:, k:k + 1] * w[k:k + 1, :]
        want = want + np.where(a[:, k:k + 1] == 0, np.float32(0), t)
    init = {"name": "W", "dtype": "float32", "shape": [130, 70], "data": [float(v) for v in w.T.ravel()]}
    m = model([{"op": "MatMul", "inputs": ["x", "W"], "outputs": ["y"], "attrs": {"transpose_b": True}}],
              [{"name": "x", "dtype": "float32", "shape": ["b", 70]}],
              [{"name": "y", "dtype": "float32", "shape": ["b", 130]}],
              [init])
    rc, doc = run(tmp_path, m, {"x": a})
    assert rc == 0 and same_bits(dec(doc["outputs"]["y"]["data"]), want.ravel())


@pytest.mark.parametrize("text,code", [
    ("{", "E_PARSE"), ("[" * 100000, "E_LIMIT"),
    ('{"format":"tessera","format_version":"2.0"}', "E_VERSION"),
    ('{"format":"tessera","format_version":"1.0"}', "E_SCHEMA"),
])
def test_rejects(tmp_path, text, code):
    mp, ip = tmp_path / "m.json", tmp_path / "i.json"
    mp.write_text(text)
    ip.write_text('{"inputs": {}}')
    p = subprocess.run([str(RUN), str(mp), str(ip)], capture_output=True, text=True)
    assert p.returncode == 1 and json.loads(p.stdout)["error"]["code"] == code


def test_usage_exit_2():
    assert subprocess.run([str(RUN)], capture_output=True).returncode == 2


# ---- format 1.1 through the CLI: int32 inputs and outputs, run-time errors

def model11(nodes, inputs, outputs, inits=()):
    return {**model(nodes, inputs, outputs, inits), "format_version": "1.1"}


def run_docs(tmp_path, m, inputs_doc):
    mp, ip = tmp_path / "m.json", tmp_path / "i.json"
    mp.write_text(json.dumps(m))
    ip.write_text(json.dumps({"inputs": inputs_doc}))
    p = subprocess.run([str(RUN), str(mp), str(ip)], capture_output=True, text=True)
    return p.returncode, json.loads(p.stdout)


def gather_model():
    return model11([{"name": "lookup", "op": "Gather", "inputs": ["E", "ids"], "outputs": ["g"]},
                    {"op": "ArgMax", "inputs": ["g"], "outputs": ["best"], "attrs": {"axis": 1}},
                    {"op": "Cast", "inputs": ["ids"], "outputs": ["f"], "attrs": {"to": "float32"}}],
                   [{"name": "ids", "dtype": "int32", "shape": ["n"]}],
                   [{"name": "g", "dtype": "float32", "shape": ["n", 2]},
                    {"name": "best", "dtype": "int32", "shape": ["n"]},
                    {"name": "f", "dtype": "float32", "shape": ["n"]}],
                   [{"name": "E", "dtype": "float32", "shape": [3, 2], "data": [1, -2, 0.5, 0.25, -0.0, 0.0]}])


def test_int32_inputs_and_outputs(tmp_path):
    """int32 data as JSON integers in and out, "dtype": "int32" on int32 outputs only."""
    code, doc = run_docs(tmp_path, gather_model(), {"ids": {"shape": [3], "data": [2, -3, 1.0]}})
    assert code == 0, doc
    out = doc["outputs"]
    assert out["g"] == {"shape": [3, 2], "data": [-0.0, 0.0, 1.0, -2.0, 0.5, 0.25]}
    assert out["best"] == {"shape": [3], "dtype": "int32", "data": [0, 0, 0]}
    assert all(type(v) is int for v in out["best"]["data"])
    assert out["f"]["data"] == [2.0, -3.0, 1.0] and "dtype" not in out["f"]
    b64 = {"ids": {"shape": [2], "dtype": "int32", "data_b64": "/////wIAAAA="}}  # -1, 2 little-endian
    code, doc = run_docs(tmp_path, gather_model(), b64)
    assert code == 0 and doc["outputs"]["f"]["data"] == [-1.0, 2.0]


@pytest.mark.parametrize("feed,what", [
    ({"shape": [1], "data": [1.5]}, "non-integer"),
    ({"shape": [1], "data": [2147483648]}, "2^31"),
    ({"shape": [1], "data": ["nan"]}, "nan string"),
    ({"shape": [1], "dtype": "float32", "data": [1]}, "dtype differs from the declaration"),
    ({"shape": [1], "data": [3]}, "Gather index 3 of a 3-row table: run-time E_INPUT"),
    ({"shape": [2], "data": [0, -4]}, "Gather index -4"),
])
def test_int32_input_errors(tmp_path, feed, what):
    code, doc = run_docs(tmp_path, gather_model(), {"ids": feed})
    assert code == 1 and doc["error"]["code"] == "E_INPUT", (what, doc)
    assert "outputs" not in doc


def test_gather_error_names_node_index_and_range(tmp_path):
    code, doc = run_docs(tmp_path, gather_model(), {"ids": {"shape": [2], "data": [0, 7]}})
    msg = doc["error"]["message"]
    assert code == 1 and "lookup" in msg and "7" in msg and "[-3, 2]" in msg, msg


def test_int32_in_a_1_0_file_is_e_version(tmp_path):
    m = {**gather_model(), "format_version": "1.0"}
    code, doc = run_docs(tmp_path, m, {"ids": {"shape": [1], "data": [0]}})
    assert code == 1 and doc["error"]["code"] == "E_VERSION"


def test_conformance_cases_clean_under_sanitizers():
    """Every conformance case through the ASan+UBSan build of the CLI (built by `make`): no sanitizer
    report, and the same exit status and stdout as the plain build. (Leak checking is off: the CLI
    exits on an error without freeing its buffers.)"""
    import os

    san = RUN.with_name("tessera-run-san")
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    cases = sorted(p for p in (ROOT / "conformance" / "cases").iterdir() if (p / "model.json").exists())
    assert len(cases) > 100
    bad = []
    for case in cases:
        inputs = case / "inputs.json"
        argv = [str(case / "model.json"), str(inputs if inputs.exists() else os.devnull)]
        s = subprocess.run([str(san), *argv], capture_output=True, text=True, env=env, timeout=120)
        p = subprocess.run([str(RUN), *argv], capture_output=True, text=True, timeout=120)
        reported = "runtime error" in s.stderr or "Sanitizer" in s.stderr
        if reported or (s.returncode, s.stdout) != (p.returncode, p.stdout):
            bad.append(f"{case.name}: exit {s.returncode}, {s.stderr[:300]}")
    assert not bad, "\n".join(bad)
