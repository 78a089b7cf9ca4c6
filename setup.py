"""Packages, package data and the native runtime.

The repository's top-level folders become subpackages of `tessera` (tessera.trainer is trainer/, ...);
the schema and the C runtime's sources go in as data at the same relative paths (tessera/schema/v1,
tessera/runtimes/c/src), which is what tessera.resources looks up. `tessera._native` is the C runtime
compiled in-process; where it cannot be built (no compiler) the package installs without it and
runs on the reference. `tessera.trainer._fused` (trainer/native/) is the trainer's one-pass float32
kernels, optional the same way (the trainer then runs its numpy kernels), and so is
`tessera.trainer._sampled` (trainer/native/sampled_*), reconstruction sampling's step.
"""

import glob
import os
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError

COMPONENTS = ("trainer", "exporter", "conformance")

packages = ["tessera"]
package_dir = {"tessera": "tessera"}
for top in COMPONENTS:
    package_dir[f"tessera.{top}"] = top
    packages += [f"tessera.{top}"] + [f"tessera.{top}.{sub}" for sub in find_packages(top)]

# Data-only folders, installed at the paths they have in the repository.
DATA = {
    "tessera.schema": ("schema", ["SPEC.md", "v1/*.json"]),
    "tessera.runtimes.c": ("runtimes/c", ["src/*.c", "src/*.h", "include/*.h", "EMBEDDED.md", "README.md"]),
}
package_data = {
    "tessera.trainer.datasets": ["*.npz", "*.md"],
    "tessera.conformance": ["cases/*.json", "cases/*/*.json", "sources/*.json"],
}
for name, (folder, patterns) in DATA.items():
    packages.append(name)
    package_dir[name] = folder
    package_data[name] = patterns

# The C runtime's library sources (every file but the CLI's, so a new op file needs no change here),
# with the flags of runtimes/c/Makefile: exact float32 (no contraction into FMA, never -ffast-math),
# the run-time AVX2/AVX-512 dispatch. The binding is compiled apart, with the compiler's default
# C standard, as Python.h expects.
C_SOURCES = sorted(f for f in glob.glob("runtimes/c/src/*.c") if os.path.basename(f) != "cli.c")
C_FLAGS = ["-std=c99", "-ffp-contract=off", "-fno-math-errno", "-O2"]
C_MACROS = [("TSR_K_DISPATCH", None)]
C_INCLUDE = ["runtimes/c/include", "runtimes/c/src"]


class BuildNative(build_ext):
    """Build tessera._native, or warn and leave it out: the reference runtime still works."""

    def build_extension(self, ext: Extension) -> None:
        try:
            if ext.name == "tessera._native":
                ext.extra_objects = self.compiler.compile(
                    C_SOURCES, output_dir=self.build_temp, macros=C_MACROS, include_dirs=C_INCLUDE,
                    extra_postargs=C_FLAGS,
                    depends=glob.glob("runtimes/c/src/*.h") + glob.glob("runtimes/c/include/*.h"))
            super().build_extension(ext)
        except (CCompilerError, BaseError, OSError) as exc:  # no compiler, a failing one, no linker
            print(f"warning: {ext.name} not built ({type(exc).__name__}: {exc}); tessera installs without it "
                  f"and runs {FALLBACK[ext.name]}", file=sys.stderr)


native = Extension("tessera._native", sources=["tessera/_native.c"], include_dirs=C_INCLUDE,
                   extra_compile_args=["-O2", "-ffp-contract=off"], depends=C_SOURCES,
                   optional=True)  # setuptools then skips the missing module when it copies the outputs

# The trainer's one-pass float32 kernels and its products with a 0/1 input (trainer/native): no
# contraction, so the AVX-512, AVX2 and baseline copies of each kernel round alike; no libm call
# (its own exp and log).
fused = Extension("tessera.trainer._fused",
                  sources=["trainer/native/fused_kernels.c", "trainer/native/binary_kernels.c",
                           "trainer/native/pool_kernels.c", "trainer/native/fused_module.c"],
                  depends=["trainer/native/fused_kernels.h", "trainer/native/fused_body.h", "trainer/native/fk_paths.h",
                           "trainer/native/binary_kernels.h", "trainer/native/binary_body.h",
                           "trainer/native/pool_kernels.h"],
                  extra_compile_args=["-O2", "-ffp-contract=off", "-fno-math-errno"], optional=True)
# Reconstruction sampling's step (trainer/native/sampled_*): the sample, gathers, decoder and SGD
# scatters in C; without it the step runs its numpy reference (trainer/reconstruction_sampling.py).
sampled = Extension("tessera.trainer._sampled",
                    sources=["trainer/native/sampled_kernels.c", "trainer/native/sampled_module.c"],
                    depends=["trainer/native/sampled_kernels.h"], libraries=["m"],
                    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"], optional=True)
FALLBACK = {"tessera._native": "models on the reference runtime",
            "tessera.trainer._fused": "the trainer's numpy kernels",
            "tessera.trainer._sampled": "reconstruction sampling's numpy step"}

setup(packages=packages, package_dir=package_dir, package_data=package_data, include_package_data=False,
      ext_modules=[native, fused, sampled],
      cmdclass={"build_ext": BuildNative})
