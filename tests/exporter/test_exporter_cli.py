"""`tessera run` / `check` / `export` through subprocesses: the SPEC §9 protocol and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.exporter.exporter_testlib import mlp_doc
from tests.support import F32

ROOT = Path(__file__).resolve().parents[2]


def tessera(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tessera", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture()
def files(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(mlp_doc()))
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": [2, 3], "data": [1, 0, -1, "inf", "nan", -0.0]}}}))
    return model, inputs, tmp_path


def test_run_success(files) -> None:
    model, inputs, _ = files
    r = tessera("run", model, inputs)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == ["outputs"] and out["outputs"]["y"]["shape"] == [2, 2]
    data = out["outputs"]["y"]["data"]
    assert data[2:] == ["nan", "nan"] and all(isinstance(v, float) for v in data[:2])


@pytest.mark.parametrize("model_text,inputs_text,code", [
    ("{", None, "E_PARSE"),
    ('{"format": "tessera"}', None, "E_SCHEMA"),
    (None, '{"inputs": {"x": {"shape": [2, 4], "data": [0, 0, 0, 0, 0, 0, 0, 0]}}}', "E_INPUT"),
    (None, '{"inputs": {"x": ', "E_PARSE"),
    (None, '{"outputs": {}}', "E_INPUT"),
    (None, '{"inputs": {"x": {"shape": [1, 3], "data": [0, 0, "x"]}}}', "E_INPUT"),
    ("[" * 100000, None, "E_LIMIT"),
    (b"\xff\xfe", None, "E_PARSE"),
])
def test_run_rejections(files, model_text, inputs_text, code) -> None:
    model, inputs, tmp = files
    if model_text is not None:
        model = tmp / "bad_model.json"
        model.write_bytes(model_text if isinstance(model_text, bytes) else model_text.encode())
    if inputs_text is not None:
        inputs = tmp / "bad_inputs.json"
        inputs.write_text(inputs_text)
    r = tessera("run", model, inputs)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["error"]["code"] == code and "Traceback" not in r.stderr


def test_run_unreadable_files_and_usage(files) -> None:
    model, inputs, tmp = files
    r = tessera("run", tmp / "nope.json", inputs)
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] == "E_PARSE"
    r = tessera("run", model, tmp)  # a directory
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] == "E_PARSE"
    r = tessera("run", model)
    assert r.returncode == 2 and "usage" in r.stderr and r.stdout == ""


def test_check_valid_and_invalid(files) -> None:
    model, _, tmp = files
    r = tessera("check", model)
    assert r.returncode == 0 and "valid" in r.stdout and "parameters 8" in r.stdout and "1.0" in r.stdout
    bad = tmp / "bad.json"
    doc = mlp_doc()
    doc["graph"]["nodes"][2]["op"] = "Gelu"
    bad.write_text(json.dumps(doc))
    r = tessera("check", bad)
    assert r.returncode == 1 and "E_UNKNOWN_OP" in r.stderr and "Gelu" in r.stderr


def test_export_from_checkpoint_then_run(tmp_path) -> None:
    from tessera.trainer.models.autoencoder import AutoEncoder
    from tessera.trainer.training import save_checkpoint

    model = AutoEncoder(64, 8, seed=2)
    ckpt = tmp_path / "ck.npz"
    save_checkpoint(str(ckpt), model, {"config": {"tied": True}, "n_params": 3, "n_opt": 0})
    out = tmp_path / "m.json"
    r = tessera("export", ckpt, "-o", out, "--encoding", "base64")
    assert r.returncode == 0, r.stderr
    X = (np.random.default_rng(0).random((3, 64)) < 0.2).astype(F32)
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": [3, 64], "data": X.ravel().tolist()}}}))
    r = tessera("run", out, inputs)
    assert r.returncode == 0, r.stdout
    got = np.array(json.loads(r.stdout)["outputs"]["x_hat"]["data"], F32).reshape(3, 64)
    assert np.abs(got - model.reconstruct(X)).max() < 1e-6
    r = tessera("export", tmp_path / "missing.npz", "-o", out)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    import os

    from tessera.exporter.jsonio import atomic_write

    target = tmp_path / "model.json"
    atomic_write(target, "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
