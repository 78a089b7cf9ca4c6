"""Shared by the benchmarks: thread settings, machine facts, round-robin timing, tables.

Import this module before numpy (it sets the BLAS thread variables). THREADS=N (default 1)
sets the thread count of every contender.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

THREADS = int(os.environ.get("THREADS", "1"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

# ISA=avx2 (`make bench ISA=avx2`): on an AVX-512 machine, every contender that can be told to
# runs its AVX2 code instead, a stand-in for an AVX2-only machine's software (not its hardware:
# caches, clocks and pipes stay this CPU's). numpy's own SIMD loops stop at x86-64-v3 (AVX2,
# FMA3), OpenBLAS takes its Haswell kernels, PyTorch its AVX2 kernels (ATen, MKL, oneDNN), our
# C runtime (bench_c) and trainer kernels their AVX2 paths. Not restricted: onnxruntime and
# onnxruntime-web (no switch exists), our native runtime from Python (tessera._native) and the
# C build with -march=native (the compiler's choice).
ISA = os.environ.get("ISA", "") or ""
ISA_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell",
           "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
           "TESSERA_TRAINER_KERNEL_PATH": "avx2"}
if ISA not in ("", "avx2"):
    raise SystemExit(f"ISA={ISA!r}: only ISA=avx2 (or none) is supported")
if ISA:
    os.environ.update(ISA_ENV)

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")


def cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_class() -> str:
    """The SIMD class the figures depend on: ARM, x86-64 with AVX-512, with AVX2, or neither."""
    arch = platform.machine()
    if arch in ("aarch64", "arm64") or arch.startswith("arm"):
        return f"ARM ({arch})"
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(ln.split(":", 1)[1].split()) for ln in f if ln.startswith("flags")), set())
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2" if flags else "unknown"
    if ISA == "avx2":
        if "avx2" not in flags:
            raise SystemExit("ISA=avx2 needs a CPU with AVX2")
        simd += " running AVX2 code paths (ISA=avx2: see bench/README.md)"
    return f"{arch}, {simd}"


def blas_info() -> str:
    """Which BLAS kernel numpy runs, as threadpoolctl reports it (or why it cannot)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    libs = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(libs) or "no BLAS found"


def c_runtime_path() -> str:
    """The kernel path the shipped C library dispatches to on this CPU, as out/c_path (built by
    `make -C bench c` against libtessera.a) reports it."""
    import subprocess

    exe = os.path.join(OUT, "c_path")
    if not os.path.exists(exe):
        return "unknown (out/c_path not built: make -C bench c)"
    done = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    found = done.stdout.strip() or f"unknown (c_path exited {done.returncode})"
    return f"AVX2 in bench_c (ISA=avx2; the library would take {found})" if ISA else found


# bench_c's `path N` command: the C runtime path ISA names (TSR_K_PATH_AVX2 in kernels.h).
C_PATH_OF_ISA = {"avx2": 2}


def numpy_simd() -> str:
    """The SIMD groups numpy's own loops dispatch to here (after NPY_DISABLE_CPU_FEATURES)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return "unknown"
    return " ".join(g for g in __cpu_dispatch__ if __cpu_features__.get(g)) or "baseline only"


def machine_line() -> str:
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return (f"machine: {cpu_model()} ({cpu_class()}), {os.cpu_count()} cores; "
            f"C runtime path: {c_runtime_path()}; threads per contender: {THREADS}; "
            f"numpy {np.__version__} (SIMD loops: {numpy_simd()}) BLAS: {blas_info()}; "
            f"OPENBLAS_CORETYPE/L2_SIZE set: {env or 'no'}; "
            f"load average at start: {os.getloadavg()[0]:.2f}")


def versions(*modules: str) -> str:
    """'name version' of each importable module, 'name missing' otherwise."""
    import importlib

    out = []
    for m in modules:
        try:
            out.append(f"{m} {importlib.import_module(m).__version__}")
        except ImportError:
            out.append(f"{m} missing")
    return "peers: " + ", ".join(out)


def round_robin(contenders: dict[str, Callable[[], object]], rounds: int, reps: int | None = None,
                warmup: int = 3, block_seconds: float = 0.03) -> dict[str, float]:
    """Median seconds per call of each contender.

    Each round times a block of `reps` calls of every contender in turn (the order rotates
    every round), so slow drift of the machine affects them all alike. reps=None picks, per
    contender, enough calls for a block of about `block_seconds`. A contender may instead be an
    object with `per_call(n) -> seconds` that times its own block (an out-of-process runtime).
    """
    names = list(contenders)

    def block(name: str, n: int) -> float:
        fn = contenders[name]
        if hasattr(fn, "per_call"):
            return fn.per_call(n)
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / n

    counts = {}
    for name in names:
        one = min(block(name, 1) for _ in range(warmup))
        counts[name] = reps or max(1, min(100000, int(block_seconds / max(one, 1e-7))))
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(block(name, counts[name]))
    return {n: float(np.median(s)) for n, s in samples.items()}


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def sgemm_gflops(n: int = 1024, rounds: int = 7) -> float:
    """This machine's float32 matmul rate through numpy (GFLOP/s), with the current thread setting."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    t = round_robin({"sgemm": lambda: np.matmul(a, b, out=c)}, rounds=rounds, reps=3)["sgemm"]
    return 2.0 * n ** 3 / t / 1e9


def torch_sgd(loss, params: list, lr: float, opt=None) -> float:
    """One PyTorch SGD step from `loss`, in either of its usual eager forms: with `opt` (a
    torch.optim.SGD) zero_grad / backward / step, else autograd.grad and an in-place sub_."""
    if opt is not None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    else:
        import torch

        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(lr * g)
    return loss.item()
