"""The conformance suite itself: its comparison, its runner, its generator,
and that it catches a runtime that is wrong in the last bit."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from tessera.conformance import report
from tessera.conformance.compare import compare
from tessera.conformance.generate import CASES_DIR, differences
from tessera.conformance.runner import load_manifest, run_suite
from tessera.exporter.opset import OPS, UNKNOWN_ATTR

HERE = Path(__file__).resolve().parent


def _outputs(values: list) -> str:
    return json.dumps({"outputs": {"y": {"shape": [len(values)], "data": values}}})


EXPECT = {"outputs": {"y": {"shape": [3], "data": [1.5, "nan", -0.0]}}}


def test_compare_accepts_same_bits_and_any_nan() -> None:
    assert compare(EXPECT, _outputs([1.5, "nan", -0.0]), 0) == ("pass", "")


def test_compare_distinguishes_signed_zero() -> None:
    status, detail = compare(EXPECT, _outputs([1.5, "nan", 0.0]), 0)
    assert status == "fail"
    assert "y[2]" in detail and "0x00000000" in detail and "0x80000000" in detail


def test_compare_reports_one_ulp_in_hex() -> None:
    one_ulp_up = float(np.nextafter(np.float32(1.5), np.float32(2)))
    status, detail = compare(EXPECT, _outputs([one_ulp_up, "nan", -0.0]), 0)
    assert status == "fail" and "0x3fc00001" in detail and "0x3fc00000" in detail


def test_compare_error_codes_and_crashes() -> None:
    reject = {"error": {"code": "E_SHAPE"}}
    assert compare(reject, '{"error": {"code": "E_SHAPE", "message": "m"}}', 1)[0] == "pass"
    assert compare(reject, '{"error": {"code": "E_DATA", "message": "m"}}', 1)[0] == "fail"
    assert compare(reject, "Segmentation fault", 139)[0] == "crash"
    assert compare(EXPECT, "not json", 0)[0] == "crash"
    assert compare(EXPECT, '{"error": {"code": "E_SHAPE"}}', 0)[0] == "crash"  # status and document disagree


INT_EXPECT = {"outputs": {"y": {"shape": [3], "dtype": "int32", "data": [-2147483648, 0, 7]}}}


def test_compare_int32_exactly_with_the_dtype() -> None:
    ok = json.dumps(INT_EXPECT)
    assert compare(INT_EXPECT, ok, 0) == ("pass", "")
    b64 = {"shape": [3], "dtype": "int32",
           "data_b64": base64.b64encode(np.array([-2**31, 0, 7], "<i4").tobytes()).decode()}
    assert compare(INT_EXPECT, json.dumps({"outputs": {"y": b64}}), 0) == ("pass", "")
    off = json.dumps({"outputs": {"y": {**INT_EXPECT["outputs"]["y"], "data": [-2147483648, 0, 8]}}})
    status, detail = compare(INT_EXPECT, off, 0)
    assert status == "fail" and "y[2]: got 8, expected 7" in detail
    as_float = json.dumps({"outputs": {"y": {"shape": [3], "data": [-2147483648, 0, 7]}}})  # dtype missing
    assert compare(INT_EXPECT, as_float, 0)[0] == "fail"
    assert compare(EXPECT, json.dumps({"outputs": {"y": {**EXPECT["outputs"]["y"], "dtype": "int32"}}}), 0)[0] \
        == "fail"
    decimals = json.dumps({"outputs": {"y": {**INT_EXPECT["outputs"]["y"], "data": [-2147483648.0, 0, 7]}}})
    assert compare(INT_EXPECT, decimals, 0)[0] == "fail"  # SPEC 9: int32 values print as JSON integers


def test_committed_cases_match_the_generator() -> None:
    assert differences() == []


def test_generator_check_detects_a_stale_case(tmp_path: Path) -> None:
    stale = tmp_path / "cases"
    shutil.copytree(CASES_DIR, stale)
    expected = stale / "op_exp_ordinary" / "expected.json"
    expected.write_text(expected.read_text().replace("1", "2", 1))
    assert any("expected.json" in d for d in differences(stale))


def test_manifest_covers_every_op_and_error_code() -> None:
    cases = load_manifest()
    ran = {op for c in cases if c["expect"] == "expected.json" for op in c["ops"]}
    assert set(OPS) <= ran, set(OPS) - ran  # every registry op computes outputs in some case
    codes = {json.loads((CASES_DIR / c["name"] / "reject.json").read_text())["error"]["code"]
             for c in cases if c["expect"] == "reject.json"}
    assert codes == {"E_PARSE", "E_SCHEMA", "E_VERSION", "E_UNKNOWN_OP", "E_GRAPH", "E_SHAPE", "E_DATA",
                     "E_LIMIT", "E_INPUT"}


def test_every_op_has_must_reject_cases_for_bad_attributes() -> None:
    """An unknown attribute name for every op, and every bad value its registry row lists for each attribute."""
    attr_cases = {c["name"]: c for c in load_manifest() if "attr" in c["tags"]}
    for op in OPS.values():
        wanted = [UNKNOWN_ATTR[0]] + [f"{a.name}_{label}" for a in op.attributes for label, _, _ in a.bad]
        assert len(wanted) >= 1 + len(op.attrs)
        for suffix in wanted:
            case = attr_cases[f"reject_attr_{op.name.lower()}_{suffix}"]
            assert case["ops"] == [op.name] and case["expect"] == "reject.json"
    codes = {json.loads((CASES_DIR / n / "reject.json").read_text())["error"]["code"] for n in attr_cases}
    assert codes == {"E_SCHEMA", "E_SHAPE"}


def _select(names: list[str]) -> list[dict]:
    return [c for c in load_manifest() if c["name"] in names]


def test_suite_catches_a_runtime_using_native_exp() -> None:
    command = [sys.executable, str(HERE / "wrong_runtime.py")]
    cases = _select(["op_exp_sweep", "op_sigmoid_sweep", "op_neg_edge", "model_seed_ae_digits_batch257"])
    results = {r.case: r for r in run_suite("native-exp", command, cases)}
    assert results["op_neg_edge"].status == "pass", results["op_neg_edge"].detail  # untouched op still passes
    for name in ["op_exp_sweep", "op_sigmoid_sweep", "model_seed_ae_digits_batch257"]:
        assert results[name].status == "fail", name
        assert "expected 0x" in results[name].detail


def test_suite_catches_a_runtime_with_unchecked_integer_ops() -> None:
    command = ["env", "TESSERA_WRONG=int", sys.executable, str(HERE / "wrong_runtime.py")]
    names = ["op_cast_to_int32_edge", "reject_gather_index_high", "op_gather_rows", "op_cast_to_float32_edge"]
    results = {r.case: r for r in run_suite("wrong-int", command, _select(names))}
    assert results["op_gather_rows"].status == "pass", results["op_gather_rows"].detail
    assert results["op_cast_to_float32_edge"].status == "pass", results["op_cast_to_float32_edge"].detail
    assert results["op_cast_to_int32_edge"].status == "fail" and "expected" in results["op_cast_to_int32_edge"].detail
    assert results["reject_gather_index_high"].status == "fail"
    assert "expected E_INPUT, got outputs" in results["reject_gather_index_high"].detail


def test_runner_reports_crash_and_timeout(tmp_path: Path) -> None:
    crasher = tmp_path / "crash.py"
    crasher.write_text("import sys, time\nif 'exp' in sys.argv[1]: time.sleep(30)\nsys.exit(3)\n")
    cases = _select(["op_exp_ordinary", "op_neg_ordinary"])
    results = {r.case: r for r in run_suite("bad", [sys.executable, str(crasher)], cases, timeout=2)}
    assert results["op_exp_ordinary"].status == "timeout"
    assert results["op_neg_ordinary"].status == "crash"
    junit = tmp_path / "junit.xml"
    report.write_junit({"bad": list(results.values())}, junit)
    text = junit.read_text()
    assert 'errors="2"' in text and "op_exp_ordinary" in text
    assert report.failures({"bad": list(results.values())}) == 2
