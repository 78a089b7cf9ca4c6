"""The package installs like any library: a wheel built from this checkout, installed into a fresh
virtual environment in a temporary folder outside the checkout, runs every command there with
nothing of the checkout on sys.path: `tessera check`, `tessera run` (the reference and the native
runtime, bits against a conformance case), `tessera train` on the bundled digits, `tessera export
--c` (and the result compiles with plain `cc` and gives the case's bits), `tessera conformance run
--runtime python-native` (every case), and the seed auto-encoder trained with the Theano API,
exported and run natively.

A second wheel, built where the C compiler fails (CC=/bin/false), installs too and runs on the
reference runtime.

The wheel is built from this venv's setuptools (--no-build-isolation: no network for the build);
numpy and jsonschema come from the package index or pip's cache. Each step's time is printed
(`pytest -s`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tessera.conformance.compare import compare, tensor_values
from tests.embedded.test_embedded_support import harness_source, run_exe
from tests.support import CASES_DIR, ROOT, same_bits

CASE = "model_seed_ae_digits_batch1"
CLASSIFIER = "model_digits_classifier_batch64"  # float32 and int32 outputs
# What the wheel is built from: setup.py's inputs (a copy, so that the build's folders stay out of
# the checkout and a stale build/ cannot leak into the wheel).
SOURCES = ["setup.py", "pyproject.toml", "README.md", "LICENSE", "tessera", "trainer", "exporter", "conformance",
           "schema", "runtimes/c/src", "runtimes/c/include", "runtimes/c/README.md", "runtimes/c/EMBEDDED.md"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "build", "*.egg-info")

SEED_SNIPPET = """
import numpy as np
from tessera import trainer as theano
import tessera.trainer.tensor as T
from tessera.trainer.datasets import load_digits
from tessera import exporter

X = load_digits()
rng = np.random.default_rng(0)
W = theano.shared((rng.standard_normal((64, 32)) * 0.1).astype("float32"), name="W")
bv = theano.shared(np.zeros(64, dtype="float32"), name="bv")
bh = theano.shared(np.zeros(32, dtype="float32"), name="bh")
x = T.matrix("x")
h = T.nnet.sigmoid(T.dot(x, W) + bh)
x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
x_hat.name = "x_hat"
loss = T.nnet.binary_crossentropy(x_hat, x).mean()
g_w, g_h, g_v = T.grad(loss, [W, bh, bv])
train = theano.function([x], loss, updates=[(W, W - 0.1 * g_w), (bv, bv - 0.1 * g_v), (bh, bh - 0.1 * g_h)])
losses = [float(train(X[i:i + 64])) for i in range(0, 640, 64)]
assert losses[-1] < losses[0], losses
exporter.export([x_hat], [x], "seed.json")
native = exporter.load("seed.json", runtime="native")
reference = exporter.load("seed.json", runtime="reference")
default = exporter.load("seed.json")
a = native.run({"x": X[:256]})["x_hat"]
b = reference.run({"x": X[:256]})["x_hat"]
assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (256, 64), (a.dtype, a.shape)
assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), "native and reference bits differ"
print(json.dumps({"native": repr(native), "reference": repr(reference), "default": default.runtime}))
"""

FALLBACK_SNIPPET = """
from tessera import exporter
from tessera.exporter import native
model = exporter.load("model.json")
try:
    exporter.load("model.json", runtime="native")
    refused = ""
except RuntimeError as exc:
    refused = str(exc)
print(json.dumps({"available": native.available(), "default": model.runtime, "refused": refused}))
"""


class Timer:
    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def run(self, label: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
        self.steps.append((label, time.perf_counter() - start))
        print(f"[wheel test] {label}: {self.steps[-1][1]:.1f} s")
        assert proc.returncode == 0, f"{label}: `{' '.join(map(str, cmd))}` exit {proc.returncode}\n" \
                                     f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc


def copy_sources(dest: Path) -> Path:
    for rel in SOURCES:
        src, dst = ROOT / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=IGNORE)
        else:
            shutil.copy2(src, dst)
    return dest


def build_wheel(timer: Timer, root: Path, label: str, env: dict[str, str] | None = None) -> Path:
    src = copy_sources(root / "src")
    dist = root / "dist"
    timer.run(label, [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                      "--quiet", "-w", str(dist)], env=env)
    (wheel,) = dist.glob("*.whl")
    return wheel


class Venv:
    """A fresh venv outside the checkout; commands run in `work` with only the venv on PATH first."""

    def __init__(self, timer: Timer, root: Path, wheel: Path) -> None:
        self.timer = timer
        self.bin = root / "venv" / "bin"
        self.work = root / "work"
        self.work.mkdir()
        timer.run("venv", [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")])
        # this venv's pip installs into the new one (--python): no pip bootstrap there
        timer.run("pip install wheel", [sys.executable, "-m", "pip", "--python", str(self.bin / "python"), "install",
                                        "--quiet", str(wheel)])
        drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "TESSERA_RUNTIME"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(self, label: str, *args: str) -> subprocess.CompletedProcess:
        return self.timer.run(label, list(args), cwd=self.work, env=self.env)

    def python(self, label: str, code: str) -> subprocess.CompletedProcess:
        return self.run(label, str(self.bin / "python"), "-I", "-c", "import json\n" + code)


@pytest.fixture(scope="module")
def timer() -> Timer:
    t = Timer()
    yield t
    print("[wheel test] total " + ", ".join(f"{k} {v:.1f} s" for k, v in t.steps)
          + f" = {sum(v for _, v in t.steps):.1f} s")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, timer: Timer) -> tuple[Venv, Path]:
    root = tmp_path_factory.mktemp("wheel")
    assert ROOT not in root.parents, "the temporary folder must be outside the checkout"
    wheel = build_wheel(timer, root, "pip wheel")
    venv = Venv(timer, root, wheel)
    for name in (CASE, CLASSIFIER):
        shutil.copytree(CASES_DIR / name, venv.work / name)
    return venv, wheel


def test_wheel_claims_only_the_tessera_namespace(installed) -> None:  # noqa: ANN001
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"tessera"} and len(dist_info) == 1, tops
    assert any(n.startswith("tessera/_native") and n.endswith(".so") for n in names), "no native runtime in the wheel"
    for data in ("tessera/schema/v1/model.schema.json", "tessera/runtimes/c/src/kernels.c",
                 "tessera/runtimes/c/src/kernels.h", "tessera/runtimes/c/include/tessera.h",
                 "tessera/conformance/cases/manifest.json", f"tessera/conformance/cases/{CASE}/model.json",
                 "tessera/trainer/datasets/digits.npz"):
        assert data in names, data


def test_installed_package_is_the_one_imported(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    out = venv.python("import path", """
import tessera, tessera._native
from tessera import resources
print(json.dumps({"path": list(tessera.__path__), "native": tessera._native.__file__,
                  "schema": str(resources.path("schema", "v1"))}))
""").stdout
    found = json.loads(out)
    site = venv.bin.parent
    assert len(found["path"]) == 1 and Path(found["path"][0]).is_relative_to(site), found
    assert Path(found["native"]).is_relative_to(site) and Path(found["schema"]).is_relative_to(site), found


def test_check_and_run(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    model, inputs = f"{CASE}/model.json", f"{CASE}/inputs.json"
    summary = venv.run("tessera check", str(venv.bin / "tessera"), "check", model).stdout
    assert "x_hat" in summary, summary
    for name in (CASE, CLASSIFIER):
        expect = json.loads((CASES_DIR / name / "expected.json").read_text())
        for runtime in ("reference", "native"):
            proc = venv.run(f"tessera run --runtime {runtime} {name}", str(venv.bin / "tessera"), "run", "--runtime",
                            runtime, f"{name}/model.json", f"{name}/inputs.json")
            assert compare(expect, proc.stdout, proc.returncode) == ("pass", ""), (name, runtime)
    default = venv.run("tessera run", str(venv.bin / "tessera"), "run", model, inputs)
    assert compare(json.loads((CASES_DIR / CASE / "expected.json").read_text()), default.stdout, 0) == ("pass", "")


def test_train_on_the_bundled_digits(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    venv.run("tessera train", str(venv.bin / "tessera"), "train", "--data", "digits", "--hidden", "8", "--epochs", "1",
             "--no-progress", "--out", "trained.json")
    summary = venv.run("tessera check trained.json", str(venv.bin / "tessera"), "check", "trained.json").stdout
    assert summary.splitlines()[0].endswith(": valid") and "\noutput " in summary, summary


def test_export_c_compiles_with_plain_cc(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    out = venv.work / "firmware"
    venv.run("tessera export --c", str(venv.bin / "tessera"), "export", "--c", "seed_ae", f"{CASE}/model.json",
             "-o", str(out), "--no-measure")
    assert {p.name for p in out.iterdir()} == {"seed_ae.h", "seed_ae.c", "kernels.c", "kernels.h"}
    feed = json.loads((CASES_DIR / CASE / "inputs.json").read_text())["inputs"]["x"]
    x = np.asarray(feed["data"], np.float32).reshape(feed["shape"])
    shape, want = tensor_values(json.loads((CASES_DIR / CASE / "expected.json").read_text())["outputs"]["x_hat"])
    (out / "main.c").write_text(harness_source("seed_ae", [x.size], [want.size]))
    venv.timer.run("cc", ["cc", "-std=c99", "-ffp-contract=off", "main.c", "seed_ae.c", "-o", "prog"], cwd=out)
    (got,) = run_exe(out / "prog", [x], [tuple(shape)])
    assert same_bits(got.ravel(), want), "the generated C differs from the case's expected bits"


def test_conformance_python_native_passes_every_case(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    count = len(json.loads((CASES_DIR / "manifest.json").read_text())["cases"])
    proc = venv.run("tessera conformance run --runtime python-native", str(venv.bin / "tessera"), "conformance",
                    "run", "--runtime", "python-native")
    assert f"python-native: {count}/{count} passed" in proc.stdout, proc.stdout[-2000:]


def test_seed_autoencoder_trains_exports_and_runs_natively(installed) -> None:  # noqa: ANN001
    venv, _ = installed
    found = json.loads(venv.python("seed auto-encoder", SEED_SNIPPET).stdout.strip().splitlines()[-1])
    assert "runtime=native" in found["native"] and "runtime=reference" in found["reference"], found
    assert found["default"] == "native", found


def test_without_a_compiler_the_package_installs_and_runs_the_reference(tmp_path: Path, timer: Timer) -> None:
    env = {**os.environ, "CC": "/bin/false"}
    wheel = build_wheel(timer, tmp_path, "pip wheel, CC=/bin/false", env=env)
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("tessera/_native") and n.endswith(".so")], names
    assert "tessera/runtimes/c/src/kernels.c" in names
    venv = Venv(timer, tmp_path, wheel)
    shutil.copy(CASES_DIR / CASE / "model.json", venv.work / "model.json")
    shutil.copy(CASES_DIR / CASE / "inputs.json", venv.work / "inputs.json")
    found = json.loads(venv.python("fallback", FALLBACK_SNIPPET).stdout)
    assert found["available"] is False and found["default"] == "reference", found
    assert "not built" in found["refused"], found
    proc = venv.run("tessera run (reference)", str(venv.bin / "tessera"), "run", "model.json", "inputs.json")
    assert compare(json.loads((CASES_DIR / CASE / "expected.json").read_text()), proc.stdout, 0) == ("pass", "")
    native = subprocess.run([str(venv.bin / "tessera"), "run", "--runtime", "native", "model.json", "inputs.json"],
                            cwd=venv.work, env=venv.env, capture_output=True, text=True, timeout=120)
    assert native.returncode == 2 and "not built" in native.stderr, (native.returncode, native.stderr)
