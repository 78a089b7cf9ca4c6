"""CNN inference: the C runtime (in-process timing, bench_c) against onnxruntime on the same model.

Two networks, batch 1 and 256, one thread each:
- the demo's digits CNN (tessera.demo_cnn, trained as `make demo` trains it): input (N, 1, 8, 8),
  conv 16 3x3, max pool, conv 32 3x3, max pool, dense 10, softmax;
- a LeNet-5-sized network on (N, 1, 28, 28), random weights: conv 6 5x5 pad 2, relu, max pool,
  conv 16 5x5, relu, max pool, dense 120, relu, dense 84, relu, dense 10, softmax.
Both written with the trainer, exported as format 1.2, and converted by `tessera export --onnx`.
The C output is checked bit for bit against the Python reference; onnxruntime's difference from it
is printed. Needs the bench_c build (bench/Makefile):
    THREADS=1 python bench/infer_cnn.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np
from infer_py import CHarness, bits_equal, ort_session

sys.path.insert(0, common.ROOT)
from tessera import exporter  # noqa: E402

BATCHES = [1, 256]
# The shipped library only: bench_c_native is built from source without TSR_K_DISPATCH, so its
# Conv2D is the scalar SPEC loop, not the library's vectorised path.
C_BUILDS = {"C (libtessera.a, -O2)": "bench_c"}
MODELS = {"digits CNN": ("cnn_digits", (1, 8, 8)), "LeNet-5 size": ("lenet5", (1, 28, 28))}


def lenet5(path: str) -> None:
    """LeNet-5's layer sizes (relu and max pooling), Glorot-uniform random weights."""
    import tessera.trainer.tensor as T
    from tessera import trainer
    from tessera.trainer.tensor.signal.pool import pool_2d

    rng = np.random.default_rng(5)

    def glorot(*shape: int):
        fan = np.prod(shape[1:]) + shape[0] * np.prod(shape[2:])
        return trainer.shared(rng.uniform(-1, 1, shape).astype(np.float32) * np.float32(np.sqrt(6.0 / fan)))

    def bias(n: int):
        return trainer.shared((rng.standard_normal(n) * 0.1).astype(np.float32))

    w1, b1, w2, b2 = glorot(6, 1, 5, 5), bias(6), glorot(16, 6, 5, 5), bias(16)
    w3, b3, w4, b4, w5, b5 = glorot(400, 120), bias(120), glorot(120, 84), bias(84), glorot(84, 10), bias(10)
    x = T.tensor4("x", shape=(None, 1, 28, 28))
    h = pool_2d(T.nnet.relu(T.nnet.conv2d(x, w1, border_mode=2) + b1.dimshuffle("x", 0, "x", "x")), (2, 2))
    h = pool_2d(T.nnet.relu(T.nnet.conv2d(h, w2) + b2.dimshuffle("x", 0, "x", "x")), (2, 2))
    h = T.nnet.relu(T.dot(h.flatten(2), w3) + b3)
    p = T.nnet.softmax(T.dot(T.nnet.relu(T.dot(h, w4) + b4), w5) + b5)
    p.name = "p"
    exporter.export([p], [x], path)


def digits_cnn(path: str) -> None:
    from tessera.demo_cnn import train_cnn

    cnn = train_cnn(log=lambda line: None)
    exporter.export([cnn.p], [cnn.x], path)


def write_models() -> None:
    """The models, their ONNX conversions and inputs in bench/out (kept between runs)."""
    rng = np.random.default_rng(0)
    for make, (stem, dims) in zip((digits_cnn, lenet5), MODELS.values(), strict=True):
        base = os.path.join(common.OUT, stem)
        if not os.path.exists(base + ".json"):
            make(base + ".json")
        if not os.path.exists(base + ".onnx"):
            subprocess.run([sys.executable, "-m", "tessera", "export", "--onnx", base + ".json", "-o", base + ".onnx"],
                           cwd=common.ROOT, check=True)
        for batch in BATCHES:
            x_path = f"{base}_b{batch}.f32"
            if not os.path.exists(x_path):
                rng.random((batch, *dims), dtype=np.float32).astype("<f4").tofile(x_path)


def speed(stem: str, dims: tuple[int, ...], batch: int, rounds: int, notes: set[str]) -> dict[str, float]:
    base = os.path.join(common.OUT, stem)
    x_path = f"{base}_b{batch}.f32"
    x = np.fromfile(x_path, "<f4").reshape(batch, *dims)
    ref = exporter.load(base + ".json", runtime="reference").run({"x": x})["p"]
    fns, harnesses = {}, []
    for label, exe in C_BUILDS.items():
        exe = os.path.join(common.OUT, exe)
        if not os.path.exists(exe):
            notes.add(f"{label}: not run ({exe} not built)")
            continue
        h = CHarness(exe, base + ".json", x_path, batch, dims)
        harnesses.append(h)
        fns[label] = h
        notes.add(f"{label} output bit-identical to the Python reference, {stem} batch {batch}: "
                  f"{bits_equal(h.output(ref.shape), ref)}")
    sess = ort_session(base + ".onnx")
    fns["onnxruntime"] = lambda: sess.run(None, {"x": x})
    diff = np.max(np.abs(sess.run(None, {"x": x})[0] - ref))
    notes.add(f"onnxruntime max |difference| from the reference, {stem} batch {batch}: {diff:.1e} "
              "(not bit-exact by design)")
    t = common.round_robin(fns, rounds=rounds)
    for h in harnesses:
        h.close()
    return t


def main() -> None:
    rounds = 5 if "--quick" in sys.argv else 15
    os.makedirs(common.OUT, exist_ok=True)
    write_models()
    print("\n## CNN inference (C runtime, onnxruntime)\n")
    print(common.machine_line() + "\n")
    print(common.versions("onnxruntime", "onnx"))
    notes: set[str] = set()
    results = {(name, b): speed(stem, dims, b, rounds, notes) for name, (stem, dims) in MODELS.items()
               for b in BATCHES}
    names = list(next(iter(results.values())))
    print("\n### CNN inference: median per call\n")
    print(common.table(["model", "batch", *names],
                       [[m, b] + [common.fmt_time(t[n]) for n in names] for (m, b), t in results.items()]))
    print("\n### C runtime targets (time ratio C / onnxruntime; below 1 = C faster)\n")
    rows = []
    for (m, b), t in results.items():
        bound, what = (1.0, "faster than onnxruntime") if b == 1 else (1 / 0.7, "throughput >= 0.7x onnxruntime")
        for c in C_BUILDS:
            if c not in t:
                rows.append([m, b, c, what, "-", "not run"])
                continue
            r = t[c] / t["onnxruntime"]
            rows.append([m, b, c, what, f"{r:.2f}", common.verdict(r < bound if b == 1 else r <= bound)])
    print(common.table(["model", "batch", "build", "target", "C / onnxruntime", "status"], rows))
    print("\n" + "\n".join(f"- {n}" for n in sorted(notes)))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(infer_cnn took {time.perf_counter() - t0:.0f} s)")
