"""Per-step time of training an embedding table: the gathered-rows update (fusion
`row_sparse_update`) against the dense scatter-add path, for SGD, momentum and adam.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m trainer.scripts.time_embedding [--quick]

Model: a 50,000 x 64 table W, batch of 128 ids, mean softmax cross-entropy of dot(W[idx], V)
over 10 classes. Prints the median step time of each path and the speed-up; both paths end
with the same bits (checked here after the timed steps too).
"""

from __future__ import annotations

import os
import platform
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tessera.trainer.tensor as T  # noqa: E402
from tessera import trainer  # noqa: E402
from tessera.trainer import optimizers, sparse  # noqa: E402

ROWS, WIDTH, BATCH, CLASSES = 50_000, 64, 128, 10


def cpu_line() -> str:
    name, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        name = next(ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name"))
        flags = "AVX-512" if " avx512f" in info else "AVX2" if " avx2" in info else "no AVX2"
    except (OSError, StopIteration):
        pass
    return f"{name} ({flags}), numpy {np.__version__}, 1 thread"


def build(opt: str, dense: bool):
    rng = np.random.default_rng(0)
    W = trainer.shared((rng.standard_normal((ROWS, WIDTH)) * 0.1).astype(np.float32), name="W")
    V = trainer.shared((rng.standard_normal((WIDTH, CLASSES)) * 0.1).astype(np.float32), name="V")
    idx, y = T.ivector("idx"), T.ivector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(W[idx], V)), y).mean()
    ups = optimizers.OPTIMIZERS[opt](loss, [W, V], lr=0.05)
    saved = sparse.MAX_ROW_SHARE
    sparse.MAX_ROW_SHARE = 0.0 if dense else saved
    try:
        f = trainer.function([idx, y], loss, updates=ups)
        batches = [(rng.integers(0, ROWS, BATCH).astype(np.int32), rng.integers(0, CLASSES, BATCH).astype(np.int32))
                   for _ in range(16)]
        f(*batches[0])  # plans while the threshold is set
    finally:
        sparse.MAX_ROW_SHARE = saved
    return f, batches, W


def median_step(f, batches, steps: int) -> float:
    ts = []
    for i in range(steps):
        b = batches[i % len(batches)]
        t = time.perf_counter()
        f(*b)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main() -> None:
    steps = 30 if "--quick" in sys.argv else 200
    print(f"embedding {ROWS} x {WIDTH}, batch {BATCH} ids; {cpu_line()}")
    for opt in ("sgd", "momentum", "adam"):
        (fs, bs, Ws), (fd, bd, Wd) = build(opt, dense=False), build(opt, dense=True)
        ts = td = float("inf")
        for _ in range(3):  # alternate, keep the best median of each
            ts = min(ts, median_step(fs, bs, steps))
            td = min(td, median_step(fd, bd, steps))
        same = Ws.get_value(borrow=True).tobytes() == Wd.get_value(borrow=True).tobytes()
        print(f"{opt:9s} gathered rows {ts * 1e6:9.1f} us   dense {td * 1e6:9.1f} us   speed-up {td / ts:6.1f}x"
              f"   same bits: {same}")


if __name__ == "__main__":
    main()
