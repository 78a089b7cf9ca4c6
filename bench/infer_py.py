"""Inference of the seed auto-encoder forward pass from Python's side of the machine: our C
runtime (in-process timing, bench_c) vs onnxruntime (Python API), our Python reference vs
plain numpy; then model load time and file size (JSON decimal vs base64 vs ONNX).

Needs `python bench/make_models.py` and the bench_c builds (bench/Makefile does both).
    THREADS=1 python bench/infer_py.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np

sys.path.insert(0, common.ROOT)
from tessera import exporter  # noqa: E402

SIZES = [(784, 256), (64, 32)]
BATCHES = [1, 256]
C_BUILDS = {"C (libtessera.a, -O2)": "bench_c", "C (-O2 -march=native)": "bench_c_native"}


class CHarness:
    """One bench_c process for one model and input; times blocks of calls in-process."""

    def __init__(self, exe: str, model: str, x_path: str, batch: int, dims: tuple[int, ...] = ()) -> None:
        """dims: the input's dimensions after the batch, when it is not (batch, rest)."""
        self.proc = subprocess.Popen([exe, model, x_path, str(batch), *map(str, dims)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        # ISA=avx2: the dispatching library takes the AVX2 path; the -march=native build has no
        # dispatch (the compiler chose its instructions) and stays as built
        if common.ISA and not exe.endswith("_native"):
            if self.ask(f"path {common.C_PATH_OF_ISA[common.ISA]}").strip() != "1":
                raise RuntimeError(f"{exe} cannot take the {common.ISA} path on this CPU")

    def ask(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"bench_c died on {line!r}")
        return answer

    def per_call(self, n: int) -> float:
        return float(self.ask(f"run {n}"))

    def output(self, shape) -> np.ndarray:
        path = os.path.join(common.OUT, "c_out.f32")
        self.ask(f"dump {path}")
        return np.fromfile(path, "<f4").reshape(shape)

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def ort_session(path: str):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = common.THREADS
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def numpy_forward(W, bh, bv):
    def run(x):
        h = 1.0 / (1.0 + np.exp(-(x @ W + bh)))
        return 1.0 / (1.0 + np.exp(-(h @ W.T + bv)))
    return run


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(a.view(np.uint32) == b.view(np.uint32)))


def speed(nv, nh, batch, rounds, notes):
    base = os.path.join(common.OUT, f"ae{nv}x{nh}")
    x_path = os.path.join(common.OUT, f"x{nv}_b{batch}.f32")
    x = np.fromfile(x_path, "<f4").reshape(batch, nv)
    w = np.load(base + ".npz")
    ref_model = exporter.load(base + ".json", runtime="reference")
    ref_out = ref_model.run({"x": x})["x_hat"]
    fns = {}
    harnesses = []
    for label, exe in C_BUILDS.items():
        exe = os.path.join(common.OUT, exe)
        if os.path.exists(exe):
            h = CHarness(exe, base + ".json", x_path, batch)
            harnesses.append(h)
            fns[label] = h
            notes.add(f"{label} output bit-identical to the Python reference: {bits_equal(h.output(x.shape), ref_out)}")
        else:
            notes.add(f"{label}: not run ({exe} not built)")
    if os.path.exists(base + ".onnx"):
        sess = ort_session(base + ".onnx")
        fns["onnxruntime"] = lambda: sess.run(None, {"x": x})
        diff = np.max(np.abs(sess.run(None, {"x": x})[0] - ref_out))
        notes.add(f"onnxruntime max |difference| from the reference, {nv}->{nh} batch {batch}: {diff:.1e} "
                  "(not bit-exact by design)")
    else:
        notes.add("onnxruntime: not run (onnx/onnxruntime not installed)")
    fns["python reference"] = lambda: ref_model.run({"x": x})
    forward = numpy_forward(w["W"], w["bh"], w["bv"])
    fns["numpy"] = lambda: forward(x)
    t = common.round_robin(fns, rounds=rounds)
    for h in harnesses:
        h.close()
    return t


def load_times(nv, nh, rounds):
    """Seconds to load each file into a ready-to-run model, per runtime, and file sizes."""
    base = os.path.join(common.OUT, f"ae{nv}x{nh}")
    x1 = os.path.join(common.OUT, f"x{nv}_b1.f32")
    rows = []
    for label, path in [("tessera JSON, decimal", base + ".json"), ("tessera JSON, base64", base + ".b64.json"),
                        ("ONNX protobuf", base + ".onnx")]:
        if not os.path.exists(path):
            continue
        fns = {}
        harness = None
        if path.endswith(".onnx"):
            fns["onnxruntime"] = lambda p=path: ort_session(p)
        else:
            fns["python reference"] = lambda p=path: exporter.load(p, runtime="reference")
            exe = os.path.join(common.OUT, "bench_c")
            if os.path.exists(exe):
                harness = CHarness(exe, path, x1, 1)
                fns["C"] = type("CLoad", (), {"per_call": lambda self, n, h=harness: float(h.ask(f"load {n}"))})()
        t = common.round_robin(fns, rounds=rounds, block_seconds=0.1)
        if harness:
            harness.close()
        rows.append([f"{nv}->{nh}", label, f"{os.path.getsize(path):,}"]
                    + [common.fmt_time(t[k]) if k in t else "-" for k in ("python reference", "C", "onnxruntime")])
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 5 if quick else 15
    print("\n## Inference from Python (C runtime, onnxruntime, Python reference, numpy)\n")
    print(common.machine_line() + "\n")
    print(common.versions("onnxruntime", "onnx"))
    notes: set[str] = set()
    results = {}
    for nv, nh in SIZES:
        for batch in BATCHES:
            results[nv, batch] = speed(nv, nh, batch, rounds, notes)
    names = list(next(iter(results.values())))
    header = ["model", "batch"] + [f"{n}" for n in names]
    rows = [[f"{nv}->{dict(SIZES)[nv]}", b] + [common.fmt_time(t[n]) for n in names] for (nv, b), t in results.items()]
    print("\n### Inference from Python: median per call\n")
    print(common.table(header, rows))
    ratio_rows = []
    for (nv, b), t in results.items():
        row = [f"{nv}->{dict(SIZES)[nv]}", b]
        for c in C_BUILDS:
            row.append(f"{t[c] / t['onnxruntime']:.2f}" if c in t and "onnxruntime" in t else "-")
        row.append(f"{t['python reference'] / t['numpy']:.2f}")
        ratio_rows.append(row)
    print("\n### Ratios (time ours / time theirs; below 1 = ours faster)\n")
    print(common.table(["model", "batch"] + [f"{c} / onnxruntime" for c in C_BUILDS] + ["python reference / numpy"],
                       ratio_rows))
    print("\n" + "\n".join(f"- {n}" for n in sorted(notes)))
    targets(results)
    print("\n### Model load (file to ready-to-run model; C parses text already in memory)\n")
    rows = [r for nv, nh in SIZES for r in load_times(nv, nh, 3 if quick else 7)]
    print(common.table(["model", "file", "bytes", "python reference load", "C load", "onnxruntime session"], rows))


def targets(results):
    print("\n### C runtime targets (seed AE 784->256)\n")
    rows = []
    for c in C_BUILDS:
        # (batch, bound, strict, target): strict means the ratio must be below the bound
        for batch, bound, strict, what in [(1, 1.0, True, "batch 1 faster than onnxruntime"),
                                           (256, 1 / 0.7, False, "batch 256 throughput >= 0.7x onnxruntime"),
                                           (256, 1.0, False, "batch 256 time ratio <= 1.0")]:
            t = results[784, batch]
            if c not in t or "onnxruntime" not in t:
                rows.append([c, what, "-", "not run"])
                continue
            r = t[c] / t["onnxruntime"]
            rows.append([c, what, f"{r:.2f}", common.verdict(r < bound if strict else r <= bound)])
    print(common.table(["build", "target", "time ratio C / ORT", "status"], rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(infer_py took {time.perf_counter() - t0:.0f} s)")
