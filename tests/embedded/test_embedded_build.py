"""Build properties of the generated C: no libc/libm/malloc, one static arena of the
planned size, flash near weights + kernel code, the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.exporter.c_codegen import C_FLAGS, KERNELS_DIR, generate_c, measure, toolchains
from tests.embedded.test_embedded_support import STRICT, seed_ae_doc

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def seed(tmp_path: Path):  # noqa: ANN201 - a CReport
    return generate_c(seed_ae_doc(), "seed_ae", 1, tmp_path)


def undefined_symbols(obj: Path) -> set[str]:
    out = subprocess.run(["nm", "-u", str(obj)], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_generated_files_and_header(seed) -> None:  # noqa: ANN001
    d = seed.source.parent
    assert sorted(p.name for p in d.iterdir()) == ["kernels.c", "kernels.h", "seed_ae.c", "seed_ae.h"]
    header = seed.header.read_text()
    defines = dict(re.findall(r"#define (SEED_AE_\w+) (\d+)", header))
    assert defines["SEED_AE_IN_X_ELEMS"] == "64" and defines["SEED_AE_OUT_X_HAT_ELEMS"] == "64"
    assert int(defines["SEED_AE_ARENA_BYTES"]) == seed.arena_bytes == 128
    assert "int seed_ae_run(const float *in_x, float *out_x_hat);" in header
    source = seed.source.read_text()
    assert "0x1" in source and "static float seed_ae_arena[32]" in source
    assert not re.search(r"\b(malloc|printf|expf|#include <math.h>|#include <stdio.h>)", source)


@pytest.mark.parametrize("inline", [False, True])
def test_no_libc_libm_or_malloc(seed, tmp_path: Path, inline: bool) -> None:  # noqa: ANN001
    report = generate_c(seed_ae_doc(), "seed_ae", 1, tmp_path / "i", inline_kernels=True) if inline else seed
    obj = tmp_path / "m.o"
    subprocess.run(["gcc", *STRICT, "-I", str(report.source.parent), "-c", str(report.source), "-o", str(obj)],
                   check=True)
    # gcc may lower a zeroing loop to memset/memcpy (compiler support routines, not a libc feature)
    assert undefined_symbols(obj) <= {"memset", "memcpy"}


def test_one_static_arena_of_the_planned_size(seed, tmp_path: Path) -> None:  # noqa: ANN001
    obj = tmp_path / "m.o"
    subprocess.run(["gcc", *STRICT, "-DTESSERA_KERNELS_EXTERNAL", "-I", str(KERNELS_DIR), "-c", str(seed.source),
                    "-o", str(obj)], check=True)
    assert undefined_symbols(obj) <= {f"tsr_k_{k}" for k in ("matmul", "binary_flat", "sigmoid")}
    bss = subprocess.run(["size", "-A", str(obj)], check=True, capture_output=True, text=True).stdout
    sizes = {f[0]: int(f[1]) for f in (line.split() for line in bss.splitlines()) if len(f) >= 2 and f[1].isdigit()}
    assert sum(v for k, v in sizes.items() if k.startswith(".bss")) == seed.arena_bytes


def kernel_code_bytes(cc: str, target: list[str], size_tool: str, tmp: Path) -> int:
    """All kernels, compiled -Os: what "kernel code" can cost at most."""
    obj = tmp / "k.o"
    subprocess.run([cc, *C_FLAGS, *target, "-Os", "-c", str(KERNELS_DIR / "kernels.c"), "-o", str(obj)], check=True)
    out = subprocess.run([size_tool, str(obj)], check=True, capture_output=True, text=True).stdout
    return int(out.splitlines()[1].split()[0])


@pytest.mark.parametrize("chain", toolchains(), ids=lambda t: t.label)
def test_flash_target(seed, tmp_path: Path, chain) -> None:  # noqa: ANN001
    """The embedded target: flash within 10% of the raw weight bytes plus the kernel code."""
    (fig,) = measure(seed, [chain])
    kernels = kernel_code_bytes(chain.cc, chain.target, f"{chain.prefix}size", tmp_path)
    assert seed.weight_bytes == 4 * (64 * 32 + 32 + 64)
    assert fig.text >= seed.weight_bytes  # the weights are really there, once
    assert fig.flash <= 1.1 * (seed.weight_bytes + kernels), (fig.flash, seed.weight_bytes, kernels)
    assert fig.bss == seed.arena_bytes and fig.data == 0


def test_host_toolchain_is_measured() -> None:
    assert any(t.prefix == "" for t in toolchains())


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tessera.exporter.cli_export_c", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_cli_export_and_check(tmp_path: Path) -> None:
    model = tmp_path / "seed.json"
    model.write_text(json.dumps(seed_ae_doc()))
    proc = cli("export", "--c", "seed", str(model), "-o", str(tmp_path / "out"), "--batch", "2")
    assert proc.returncode == 0, proc.stderr
    assert "RAM, activation arena" in proc.stdout and "host" in proc.stdout
    assert "#define SEED_BATCH 2" in (tmp_path / "out" / "seed.h").read_text()
    proc = cli("check", "--c-size", str(model))
    assert proc.returncode == 0 and "flash" in proc.stdout, proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**seed_ae_doc(), "format_version": "2.0"}))
    proc = cli("check", "--c-size", str(bad))
    assert proc.returncode == 1 and "E_VERSION" in proc.stderr
    assert cli("export", "--c", "not-an-identifier", str(model)).returncode == 2
    assert cli("check", "--c", "x", str(model)).returncode == 2
