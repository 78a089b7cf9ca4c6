"""The native runtime from Python (`exporter.load(path, runtime="native")`: the C runtime compiled into
the package, called in-process) against the C runtime's own in-process time (bench_c, against
libtessera.a at -O2: the same sources and flags) and the Python reference, on the seed auto-encoder
784->256 at batch 256 (and 1). Targets: native within 1.2x of C, at least 10x faster than the
reference. The outputs must be bit-identical.

Needs `python bench/make_models.py` and the bench_c build (`make -C bench infer-native` does both).
    THREADS=1 python bench/infer_native.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time

import common  # sets the thread variables before numpy loads
import numpy as np
from infer_py import CHarness, bits_equal

sys.path.insert(0, common.ROOT)
from tessera import exporter  # noqa: E402

NV, NH = 784, 256
BATCHES = [256, 1]
NATIVE, C, REFERENCE = "python native (in-process)", "C (bench_c, libtessera.a -O2)", "python reference"


def speed(batch: int, rounds: int, notes: list[str]) -> dict[str, float]:
    base = os.path.join(common.OUT, f"ae{NV}x{NH}")
    x_path = os.path.join(common.OUT, f"x{NV}_b{batch}.f32")
    x = np.fromfile(x_path, "<f4").reshape(batch, NV)
    native = exporter.load(base + ".json", runtime="native")
    reference = exporter.load(base + ".json", runtime="reference")
    want = reference.run({"x": x})["x_hat"]
    notes.append(f"batch {batch}: native output bit-identical to the reference: "
                 f"{bits_equal(native.run({'x': x})['x_hat'], want)}")
    fns = {NATIVE: lambda: native.run({"x": x}), REFERENCE: lambda: reference.run({"x": x})}
    harness = None
    exe = os.path.join(common.OUT, "bench_c")
    if os.path.exists(exe):
        harness = CHarness(exe, base + ".json", x_path, batch)
        fns[C] = harness
        notes.append(f"batch {batch}: C output bit-identical to the reference: "
                     f"{bits_equal(harness.output(x.shape), want)}")
    else:
        notes.append(f"C: not run ({exe} not built: make -C bench c)")
    try:
        return common.round_robin(fns, rounds=rounds)
    finally:
        if harness:
            harness.close()


def main() -> None:
    rounds = 5 if "--quick" in sys.argv else 15
    print(f"\n## The native runtime from Python (seed AE {NV}->{NH})\n")
    print(common.machine_line() + "\n")
    notes: list[str] = []
    results = {b: speed(b, rounds, notes) for b in BATCHES}
    names = [NATIVE, C, REFERENCE]
    rows = [[b] + [common.fmt_time(t[n]) if n in t else "-" for n in names] for b, t in results.items()]
    print(common.table(["batch"] + names, rows))
    print("\n" + "\n".join(f"- {n}" for n in notes))
    t = results[256]
    rows = []
    if C in t:
        r = t[NATIVE] / t[C]
        rows.append(["native within 1.2x of C in-process (batch 256)", f"native / C = {r:.2f}",
                     common.verdict(r <= 1.2)])
    else:
        rows.append(["native within 1.2x of C in-process (batch 256)", "C not run", "not measured"])
    r = t[REFERENCE] / t[NATIVE]
    rows.append(["native at least 10x faster than the reference (batch 256)", f"reference / native = {r:.1f}",
                 common.verdict(r >= 10)])
    print("\n### Targets\n")
    print(common.table(["target", "measured", "status"], rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(infer_native took {time.perf_counter() - t0:.0f} s)")
