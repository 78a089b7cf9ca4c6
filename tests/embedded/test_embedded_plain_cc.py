"""The generated C builds as its own header says: `cc -std=c99 -ffp-contract=off main.c NAME.c`, in
the output directory of `tessera export --c`, with no other flag (no -fno-math-errno, no -lm, no -I),
at -O0 and -O2, with gcc and clang-16; for a model without Sqrt and with one. The programs must
link (no libm: the generated source carries a correctly rounded integer square root) and give the
reference's bits. Also: the CLI's message names that command and no longer invites compiling
kernels.c separately, and -DTESSERA_SQRT_BUILTIN (the compiler's sqrt) gives the same bits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tessera.exporter.tensors import read_tensors
from tests.embedded.test_embedded_support import doc, harness_source, run_exe, seed_ae_doc
from tests.support import F32, same_bits

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / "conformance" / "cases" / "op_sqrt_edge"
PLAIN = ["-std=c99", "-ffp-contract=off"]
COMPILERS = ["gcc", "clang-16"]


def sqrt_bits_doc(n: int) -> tuple[dict, np.ndarray]:
    """y = Sqrt(x) on n inputs: every special, the edges of the subnormal and normal ranges, all
    exponents with odd and even parity, and random bit patterns over all 2^32."""
    rng = np.random.default_rng(7)
    special = np.array([0, 0x80000000, 1, 2, 3, 0x007FFFFF, 0x00800000, 0x00800001, 0x3F800000, 0x3F800001,
                        0x3F7FFFFF, 0x40000000, 0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
                        0xFFC00001, 0xBF800000, 0x80000001], dtype=np.uint32)
    exps = (np.arange(0, 255, dtype=np.uint32) << 23) | rng.integers(0, 1 << 23, 255, dtype=np.uint32)
    rest = rng.integers(0, 1 << 32, n - special.size - exps.size, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate([special, exps, rest]).view(F32)
    return doc([("x", [n])], [("y", [n])], [], [("Sqrt", ["x"], "y")]), x


def models() -> dict[str, tuple[dict, dict[str, np.ndarray]]]:
    seed = seed_ae_doc()
    x = (np.random.default_rng(1).random((1, 64)) < 0.3).astype(F32)
    case_doc = json.loads((CASE / "model.json").read_text())
    case_feed = read_tensors(CASE / "inputs.json", "inputs", {"x": "float32"})
    sq_doc, sq_x = sqrt_bits_doc(65536)
    return {"seed_ae": (seed, {"x": x}), "sqrt_edge": (case_doc, case_feed), "sqrt_bits": (sq_doc, {"x": sq_x})}


MODELS = models()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict, list]]:
    """Each model exported by the CLI, plus main.c, and its reference outputs."""
    from tessera import exporter

    root = tmp_path_factory.mktemp("plain")
    out = {}
    for name, (model_doc, feed) in MODELS.items():
        model_path = root / f"{name}.json"
        model_path.write_text(json.dumps(model_doc))
        d = root / name
        proc = subprocess.run([sys.executable, "-m", "tessera", "export", "--c", name, str(model_path),
                               "-o", str(d), "--no-measure"], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "(+ kernels.c, kernels.h)" not in proc.stdout
        assert f"build: cc -std=c99 -ffp-contract=off main.c {name}.c" in proc.stdout, proc.stdout
        assert f"Build: `cc -std=c99 -ffp-contract=off main.c {name}.c`" in (d / f"{name}.c").read_text()
        model = exporter.load(model_doc)
        expected = model.run(feed)
        inputs = [np.asarray(feed[n], F32) for n, _ in model.inputs]
        (d / "main.c").write_text(harness_source(name, [a.size for a in inputs],
                                                 [np.asarray(o).size for o in expected.values()]))
        out[name] = (d, inputs, list(expected.values()))
    return out


def build_and_check(d: Path, name: str, cmd: list[str], inputs: list, expected: list) -> None:
    proc = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"`{' '.join(cmd)}` failed:\n{proc.stderr}"
    got = run_exe(d / cmd[-1], inputs, [np.asarray(o).shape for o in expected])
    for want, have in zip(expected, got, strict=True):
        assert same_bits(np.asarray(want, F32), have), f"{name}: `{' '.join(cmd)}` differs from the reference"


def test_the_test_compilers_are_installed() -> None:
    for cc in COMPILERS:
        assert shutil.which(cc), f"{cc} is not installed"


def test_models_with_and_without_sqrt() -> None:
    ops = {name: {n["op"] for n in d["graph"]["nodes"]} for name, (d, _) in MODELS.items()}
    assert "Sqrt" not in ops["seed_ae"] and "Sqrt" in ops["sqrt_edge"] and "Sqrt" in ops["sqrt_bits"]


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("cc", COMPILERS)
@pytest.mark.parametrize("name", list(MODELS))
def test_plain_cc_main_and_model(exported, name: str, cc: str, opt: str) -> None:  # noqa: ANN001
    d, inputs, expected = exported[name]
    exe = f"prog-{cc}{opt}"
    build_and_check(d, name, [cc, *PLAIN, opt, "main.c", f"{name}.c", "-o", exe], inputs, expected)


@pytest.mark.parametrize("cc", COMPILERS)
def test_sqrt_builtin_macro_same_bits(exported, cc: str) -> None:  # noqa: ANN001
    """The documented hardware option: the compiler's sqrt (with -fno-math-errno: no libm either)."""
    d, inputs, expected = exported["sqrt_bits"]
    cmd = [cc, *PLAIN, "-O2", "-fno-math-errno", "-DTESSERA_SQRT_BUILTIN", "main.c", "sqrt_bits.c", "-o",
           f"prog-builtin-{cc}"]
    build_and_check(d, "sqrt_bits", cmd, inputs, expected)
    src = (d / "sqrt_bits.c").read_text()
    assert "tsr_sqrtf_soft" in src and "#include <math.h>" not in src


def test_generated_source_is_warning_clean_without_no_math_errno(exported) -> None:  # noqa: ANN001
    d, _, _ = exported["sqrt_bits"]
    for cc in COMPILERS:
        proc = subprocess.run([cc, *PLAIN, "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2", "-c", "sqrt_bits.c",
                               "-o", f"strict-{cc}.o"], cwd=d, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        undefined = subprocess.run(["nm", "-u", f"strict-{cc}.o"], cwd=d, capture_output=True, text=True,
                                   check=True).stdout.split()
        assert "sqrtf" not in undefined and "sqrt" not in undefined, undefined
