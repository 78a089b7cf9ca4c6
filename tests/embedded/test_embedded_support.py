"""Shared helpers of the embedded C tests (model builders, compile and run), plus their own checks.

Compilers: gcc always (a missing gcc fails the tests: they must be able to fail), clang-16 when
installed. Everything is built with the strict flags of the embedded profile (EMBEDDED.md).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tessera.exporter.c_codegen import KERNELS_DIR, CReport, generate_c, hex_f32
from tests.support import F32, same_bits

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-ffp-contract=off", "-fno-math-errno", "-O2"]
COMPILERS = ["gcc"] + [c for c in ("clang-16",) if shutil.which(c)]


# ------------------------------------------------------------------ model documents


def tensor(name: str, arr: np.ndarray) -> dict:
    """An initializer: int32 when `arr` has an integer dtype, else float32."""
    is_int = np.asarray(arr).dtype.kind in "iu"
    a = np.ascontiguousarray(arr, dtype="<i4" if is_int else "<f4")
    return {"name": name, "dtype": "int32" if is_int else "float32", "shape": list(a.shape),
            "data_b64": base64.b64encode(a.tobytes()).decode("ascii")}


def doc(inputs: list[tuple], outputs: list[tuple], inits: list[dict], nodes: list[tuple]) -> dict:
    """inputs/outputs: (name, shape) or (name, shape, dtype); nodes: (op, inputs, output) or (op,
    inputs, output, attrs). Stamped with the lowest version that covers the ops and dtypes."""
    from tessera.exporter.opset import covering_version

    body = []
    for i, n in enumerate(nodes):
        node = {"name": f"n{i}", "op": n[0], "inputs": list(n[1]), "outputs": [n[2]]}
        if len(n) > 3:
            node["attrs"] = n[3]
        body.append(node)
    values = [{"name": v[0], "dtype": v[2] if len(v) > 2 else "float32", "shape": v[1]} for v in (*inputs, *outputs)]
    uses_int = any(v["dtype"] == "int32" for v in (*values, *inits))
    version = "1.1" if uses_int else covering_version(n[0] for n in nodes)
    return {"format": "tessera", "format_version": version, "producer": {"name": "test", "version": "0"},
            "graph": {"inputs": values[:len(inputs)], "outputs": values[len(inputs):],
                      "initializers": inits, "nodes": body}}


def uniform(rng: np.random.Generator, shape: tuple, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, size=shape).astype(F32)


def seed_ae_doc(n_vis: int = 64, n_hid: int = 32, seed: int = 0) -> dict:
    """The seed's tied-weight auto-encoder with fixed weights: x_hat = sigmoid(sigmoid(xW+bh)W^T+bv)."""
    rng = np.random.default_rng(seed)
    inits = [tensor("W", uniform(rng, (n_vis, n_hid), -0.3, 0.3)), tensor("bh", uniform(rng, (n_hid,), -0.1, 0.1)),
             tensor("bv", uniform(rng, (n_vis,), -0.1, 0.1))]
    nodes = [("MatMul", ["x", "W"], "xw"), ("Add", ["xw", "bh"], "zh"), ("Sigmoid", ["zh"], "h"),
             ("MatMul", ["h", "W"], "hwt", {"transpose_b": True}), ("Add", ["hwt", "bv"], "zv"),
             ("Sigmoid", ["zv"], "x_hat")]
    return doc([("x", ["batch", n_vis])], [("x_hat", ["batch", n_vis])], inits, nodes)


# ------------------------------------------------------------------ compile and run


def harness_source(name: str, in_counts: list[int], out_counts: list[int]) -> str:
    """A host main: raw 4-byte-element files in and out (float32 or int32: the bytes are passed
    through), runs the model twice and checks the second run gives the same bits (the static arena
    carries no state between calls); exit 5 when NAME_run returns nonzero."""
    n_in, n_out = len(in_counts), len(out_counts)
    counts = in_counts + out_counts
    decls = "\n".join(f"static float b{i}[{n}];" for i, n in enumerate(counts + out_counts))
    bufs = ", ".join(f"b{i}" for i in range(len(counts) + n_out))
    args = ", ".join(f"(void *)b{i}" for i in range(n_in + n_out))
    return f"""
#include <stdio.h>
#include <string.h>
#include "{name}.h"
#define NI {n_in}
#define NO {n_out}
{decls}
static float *bufs[] = {{{bufs}}};
static const long counts[] = {{{", ".join(map(str, counts))}}};
static int io(const char *path, float *p, long n, int out)
{{
    FILE *f = fopen(path, out ? "wb" : "rb");
    size_t done;
    if (!f) return 1;
    done = out ? fwrite(p, 4, (size_t)n, f) : fread(p, 4, (size_t)n, f);
    fclose(f);
    return done != (size_t)n;
}}
int main(int argc, char **argv)
{{
    int i;
    if (argc != 1 + NI + NO) return 2;
    for (i = 0; i < NI; i++) if (io(argv[1 + i], bufs[i], counts[i], 0)) return 4;
    for (i = 0; i < NO; i++) memset(bufs[NI + i], 0xFF, (size_t)counts[NI + i] * 4);
    if ({name}_run({args}) != 0) return 5;
    for (i = 0; i < NO; i++) memcpy(bufs[NI + NO + i], bufs[NI + i], (size_t)counts[NI + i] * 4);
    if ({name}_run({args}) != 0) return 5;
    for (i = 0; i < NO; i++)
        if (memcmp(bufs[NI + NO + i], bufs[NI + i], (size_t)counts[NI + i] * 4)) return 6;
    for (i = 0; i < NO; i++) if (io(argv[1 + NI + i], bufs[NI + i], counts[NI + i], 1)) return 4;
    return 0;
}}
"""


def kernels_object(cc: str, build: Path) -> Path:
    obj = build / f"kernels-{cc}.o"
    if not obj.exists():
        subprocess.run([cc, *STRICT, "-c", str(KERNELS_DIR / "kernels.c"), "-o", str(obj)], check=True,
                       capture_output=True, text=True)
    return obj


def compile_model(report: CReport, cc: str, build: Path, in_counts: list[int], out_counts: list[int],
                  external: bool = True) -> Path:
    """Build the harness + generated source; external: link kernels.o compiled once."""
    d = report.source.parent
    (d / "harness.c").write_text(harness_source(report.name, in_counts, out_counts))
    exe = d / f"run-{cc}"
    srcs = [str(report.source), str(d / "harness.c")]
    flags = [*STRICT, "-I", str(d), "-I", str(KERNELS_DIR)]
    if external:
        flags.append("-DTESSERA_KERNELS_EXTERNAL")
        srcs.append(str(kernels_object(cc, build)))
    proc = subprocess.run([cc, *flags, *srcs, "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{cc} failed:\n{proc.stderr}"
    return exe


def _le(a: np.ndarray) -> str:
    return "<i4" if np.asarray(a).dtype.kind in "iu" else "<f4"


def run_exe(exe: Path, inputs: list[np.ndarray], out_shapes: list[tuple], out_dtypes: list[str] | None = None,
            expect_exit: int = 0) -> list[np.ndarray]:
    """Run the harness; out_dtypes: "<f4" (default) or "<i4" per output."""
    d = exe.parent
    in_files = []
    for i, a in enumerate(inputs):
        p = d / f"in{i}.bin"
        p.write_bytes(np.ascontiguousarray(a, dtype=_le(a)).tobytes())
        in_files.append(str(p))
    out_files = [str(d / f"out{i}.bin") for i in range(len(out_shapes))]
    proc = subprocess.run([str(exe), *in_files, *out_files], capture_output=True, text=True, timeout=120)
    assert proc.returncode == expect_exit, f"harness exit {proc.returncode}: {proc.stderr}"
    if expect_exit:
        return []
    kinds = out_dtypes or ["<f4"] * len(out_shapes)
    return [np.fromfile(p, dtype=k).reshape(s) for p, s, k in zip(out_files, out_shapes, kinds, strict=True)]


def check_model(model_doc: dict, inputs: dict[str, np.ndarray], build: Path, name: str = "m", batch: int = 1,
                dims: dict[str, int] | None = None, compilers: list[str] | None = None,
                external: bool = True, inline: bool = False) -> CReport:
    """Generate, compile with each compiler, run, and require the reference's bits exactly."""
    from tessera import exporter

    model = exporter.load(model_doc)
    expected = model.run(inputs)
    out_dir = build / name
    report = generate_c(model_doc, name, batch, out_dir, dims=dims, inline_kernels=inline)
    in_arrays = [np.asarray(inputs[n], np.int32 if np.asarray(inputs[n]).dtype.kind in "iu" else F32)
                 for n, _ in model.inputs]
    outs = list(expected.values())
    for cc in compilers or COMPILERS:
        exe = compile_model(report, cc, build, [a.size for a in in_arrays], [o.size for o in outs],
                            external=external and not inline)
        got = run_exe(exe, in_arrays, [o.shape for o in outs], [_le(o) for o in outs])
        for (oname, want), have in zip(expected.items(), got, strict=True):
            if np.asarray(want).dtype.kind in "iu":
                assert np.array_equal(want, have), f"{name} ({cc}): int32 output {oname!r} differs from the reference"
            else:
                assert same_bits(want, have), f"{name} ({cc}): output {oname!r} differs from the reference"
    return report


# ------------------------------------------------------------------ checks of the helpers themselves


def test_gcc_is_present() -> None:
    assert shutil.which("gcc"), "gcc is required by the embedded C tests"


def test_same_bits_distinguishes_signed_zero_and_equates_nans() -> None:
    assert not same_bits(np.array([0.0], F32), np.array([-0.0], F32))
    assert same_bits(np.array([np.nan], F32), np.array([-np.nan], F32))
    assert not same_bits(np.array([1.0], F32), np.array([np.nextafter(F32(1), F32(2))], F32))


@pytest.mark.parametrize("value,literal", [(0.1, "0x1.99999ap-4f"), (1.0, "0x1p+0f"), (-0.0, "-0x0p+0f"),
                                           (0.0, "0x0p+0f"), (2.0**-149, "0x1p-149f"), (-3.5, "-0x1.cp+1f")])
def test_hex_literals(value: float, literal: str) -> None:
    assert hex_f32(value) == literal
