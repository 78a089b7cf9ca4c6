"""exporter.load(..., runtime=...): the native runtime (tessera._native, the C runtime in-process)
keeps the reference's contract: the same output names, dtypes, shapes and bits, the same input
conversions, the same error codes as ModelError; the default picks native when it is built, and
the reference otherwise. The conformance suite's python-native column covers every case's bits;
this covers the Python API around them. In the checkout the extension must be built (`make
setup` builds it): its absence fails here rather than skipping.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from tessera import exporter
from tessera.exporter import native
from tests.support import CASES_DIR, doc_for, same_bits

SEED = CASES_DIR / "model_seed_ae_digits_batch1" / "model.json"
CLASSIFIER = CASES_DIR / "model_digits_classifier_batch64" / "model.json"
EMBEDDING = CASES_DIR / "model_embedding_bag" / "model.json"  # an int32 input


def both(source, feed):  # noqa: ANN001
    """(reference result, native result): outputs by name or the ModelError code."""
    results = []
    for runtime in ("reference", "native"):
        try:
            results.append(exporter.load(source, runtime=runtime).run(feed))
        except exporter.ModelError as exc:
            results.append(exc.code)
    return results


def assert_same(ref, nat) -> None:  # noqa: ANN001
    if isinstance(ref, str):
        assert ref == nat
        return
    assert list(ref) == list(nat)
    for name in ref:
        assert ref[name].dtype == nat[name].dtype and ref[name].shape == nat[name].shape, name
        assert np.array_equal(ref[name].view(np.uint32), nat[name].view(np.uint32)), name


def test_the_native_runtime_is_built_here_and_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert native.available(), native.WHY_UNAVAILABLE
    monkeypatch.delenv("TESSERA_RUNTIME", raising=False)  # tests/conftest.py makes the reference the default
    model = exporter.load(SEED)
    assert model.runtime == "native" and repr(model).endswith("runtime=native>"), repr(model)
    assert exporter.load(SEED, runtime="reference").runtime == "reference"
    with pytest.raises(ValueError, match="runtime must be one of"):
        exporter.load(SEED, runtime="c")


def test_the_environment_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for runtime in ("native", "reference"):
        monkeypatch.setenv("TESSERA_RUNTIME", runtime)
        assert exporter.load(SEED).runtime == runtime
    monkeypatch.setenv("TESSERA_RUNTIME", "c")
    with pytest.raises(ValueError, match="TESSERA_RUNTIME must be one of"):
        exporter.load(SEED)


def test_without_the_extension_the_default_is_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_RUNTIME", raising=False)
    monkeypatch.setattr(native, "_native", None)
    monkeypatch.setattr(native, "WHY_UNAVAILABLE", "tessera._native is not built (test)")
    assert exporter.load(SEED).runtime == "reference"
    with pytest.raises(RuntimeError, match="not built"):
        exporter.load(SEED, runtime="native")


@pytest.mark.parametrize("source_kind", ["path", "bytes", "dict"])
def test_every_source_kind_runs_natively_with_the_reference_bits(source_kind: str) -> None:
    source = {"path": CLASSIFIER, "bytes": CLASSIFIER.read_bytes(),
              "dict": json.loads(CLASSIFIER.read_text())}[source_kind]
    x = (np.random.default_rng(3).random((7, 64)) < 0.4).astype(np.float32)
    ref, nat = both(source, {"x": x})
    assert {str(a.dtype) for a in ref.values()} == {"float32", "int32"}
    assert_same(ref, nat)


@pytest.mark.parametrize("make_x", [
    lambda x: x.astype(np.float64),             # converted to float32 as the reference does
    lambda x: x.tolist(),                       # a nested list
    lambda x: np.asfortranarray(x),             # not C-contiguous
    lambda x: np.repeat(x, 2, axis=1)[:, ::2],  # strided view
    lambda x: x.astype(">f4"),                  # big-endian
], ids=["float64", "list", "fortran", "strided", "big-endian"])
def test_inputs_convert_as_in_the_reference(make_x) -> None:  # noqa: ANN001
    x = np.random.default_rng(5).random((3, 64), dtype=np.float32)
    assert_same(*both(SEED, {"x": make_x(x)}))


@pytest.mark.parametrize("feed", [
    {},                                                     # missing input
    {"x": np.zeros((1, 64), np.float32), "y": 1.0},         # unknown input
    {"x": np.zeros((64,), np.float32)},                     # rank
    {"x": np.zeros((1, 63), np.float32)},                   # fixed dimension
    {"x": np.zeros((0, 64), np.float32)},                   # symbol bound to 0
    {"x": np.zeros((1, 1, 1, 1, 1, 1, 1, 1, 1), np.float32)},  # rank above the limit
], ids=["missing", "unknown", "rank", "dim", "zero", "rank9"])
def test_bad_inputs_give_the_reference_code(feed: dict) -> None:
    ref, nat = both(SEED, feed)
    assert ref == nat == "E_INPUT"


def test_rank0_and_symbol_mismatch() -> None:
    doc = doc_for([{"op": "Add", "inputs": ["a", "b"], "outputs": ["c"]}], [("a", ["n"]), ("b", ["n"])],
                  [("c", ["n"])])
    ref, nat = both(doc, {"a": np.ones(3, np.float32), "b": np.ones(4, np.float32)})
    assert ref == nat == "E_INPUT"
    scalar = doc_for([{"op": "Neg", "inputs": ["a"], "outputs": ["c"]}], [("a", [])], [("c", [])])
    assert_same(*both(scalar, {"a": np.float32(-0.0)}))


@pytest.mark.parametrize("ids, code", [
    (np.array([[1, 2, 3, 4, 5], [-5, 0, 9, 49, -49]], np.int32), None),
    (np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), None),      # integral floats convert
    (np.array([[1.5, 2.0, 3.0, 4.0, 5.0]]), "E_INPUT"),  # others are refused
    (np.array([[1, 2, 3, 4, 10**6]], np.int64), "E_INPUT"),  # an index out of range, found while running
], ids=["int32", "integral-float", "fraction", "out-of-range"])
def test_int32_inputs(ids: np.ndarray, code: str | None) -> None:
    ref, nat = both(EMBEDDING, {"ids": ids})
    if code is None:
        assert_same(ref, nat)
    else:
        assert ref == nat == code, (ref, nat)


def test_outputs_are_fresh_arrays_and_threads_agree() -> None:
    model = exporter.load(SEED, runtime="native")
    reference = exporter.load(SEED, runtime="reference")
    rng = np.random.default_rng(11)
    xs = [(rng.random((64, 64)) < 0.3).astype(np.float32) for _ in range(8)]
    want = [reference.run({"x": x})["x_hat"] for x in xs]
    first = model.run({"x": xs[0]})["x_hat"]
    first_copy = first.copy()
    model.run({"x": xs[1]})
    assert same_bits(first, first_copy), "a later run changed an earlier result"
    first[:] = 0  # writable, and not the runtime's memory
    assert same_bits(model.run({"x": xs[0]})["x_hat"], want[0])
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(5):
            got[i] = model.run({"x": xs[i]})["x_hat"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(len(xs)):
        assert same_bits(got[i], want[i]), i


def test_a_model_error_at_load_is_the_reference_one() -> None:
    doc = json.loads(SEED.read_text())
    doc["graph"]["nodes"][0]["op"] = "NoSuchOp"
    for runtime in ("reference", "native"):
        with pytest.raises(exporter.ModelError) as err:
            exporter.load(doc, runtime=runtime)
        assert err.value.code == "E_UNKNOWN_OP"
