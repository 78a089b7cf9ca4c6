"""`tessera demo`: the main job, end to end.

Train the seed's tied-weight auto-encoder (written exactly as the seed writes
it, Theano style) on the bundled binarized digits, export it, run it in the
Python reference, the JS runtime (both kernel paths) and the C runtime, and
print whether every runtime gives the same bits. Writes a picture of digits
and their reconstructions.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
C_RUN = REPO / "runtimes" / "c" / "build" / "tessera-run"
JS_RUN = REPO / "runtimes" / "js" / "bin" / "tessera-run.js"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)


def load_digits() -> np.ndarray:
    images = np.load(REPO / "trainer" / "datasets" / "digits.npz")["images"]
    return (images.reshape(len(images), -1) > 7).astype(np.float32)


def train(data: np.ndarray, args: argparse.Namespace):
    """The seed program, verbatim but for its imports and sizes."""
    import tessera.trainer.tensor as T
    from tessera import trainer as theano

    rng = np.random.default_rng(args.seed)
    n_visible, n_hidden = data.shape[1], args.hidden
    W = theano.shared((rng.standard_normal((n_visible, n_hidden)) * 0.1).astype(np.float32), name="W")
    bv = theano.shared(np.zeros(n_visible, dtype=np.float32), name="bv")  # visible
    bh = theano.shared(np.zeros(n_hidden, dtype=np.float32), name="bh")  # hidden

    x = T.matrix("x")
    h = T.nnet.sigmoid(T.dot(x, W) + bh)
    x_hat = T.nnet.sigmoid(T.dot(h, W.T) + bv)
    x_hat.name = "x_hat"
    loss = T.nnet.binary_crossentropy(x_hat, x).mean()

    g_w, g_h, g_v = T.grad(loss, [W, bh, bv])
    lr = np.float32(args.lr)
    train_step = theano.function([x], loss, updates=[(W, W - lr * g_w), (bv, bv - lr * g_v), (bh, bh - lr * g_h)])
    forward = theano.function([x], x_hat)

    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(data))
        losses = [float(train_step(data[order[i:i + args.batch]])) for i in range(0, len(data), args.batch)]
        if epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            print(f"  epoch {epoch + 1:3d}/{args.epochs}  loss {np.mean(losses):.4f}")
    print(f"  trained in {time.perf_counter() - start:.1f} s")
    return x, x_hat, forward


REPEAT = 20
MEDIAN_RE = re.compile(r"run median ([0-9.]+) us")


def run_cli(command: list[str], model: Path, inputs: Path) -> tuple[np.ndarray | str, float]:
    """Run one runtime's CLI (SPEC section 9) with `--repeat`; returns x_hat or an error text,
    and the median in-process run time in seconds that the CLI reports on stderr."""
    proc = subprocess.run(command + ["--repeat", str(REPEAT), str(model), str(inputs)],
                          capture_output=True, text=True)
    timing = MEDIAN_RE.search(proc.stderr)
    if proc.returncode != 0 or timing is None:
        return f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip()[:200]}", float("nan")
    from tessera.conformance.compare import tensor_values

    shape, data = tensor_values(json.loads(proc.stdout)["outputs"]["x_hat"])
    return data.reshape(shape), float(timing.group(1)) / 1e6


def runtimes() -> list[tuple[str, list[str] | None, str]]:
    """(name, command or None, why missing)."""
    node = shutil.which("node")
    js_ok = node is not None and JS_RUN.exists()
    js_why = "node not found" if node is None else f"{JS_RUN} missing"
    return [
        ("C", [str(C_RUN)] if C_RUN.exists() else None, f"{C_RUN} not built (make -C runtimes/c)"),
        ("JS (wasm)", ["env", "TESSERA_KERNELS=wasm", "node", str(JS_RUN)] if js_ok else None, js_why),
        ("JS (plain)", ["env", "TESSERA_KERNELS=js", "node", str(JS_RUN)] if js_ok else None, js_why),
    ]


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a.view(np.uint32) == b.view(np.uint32))
                                              | (np.isnan(a) & np.isnan(b))))


def write_png(path: Path, pixels: np.ndarray) -> None:
    """A greyscale PNG from a 2-D array in [0, 1] (zlib + struct, no imaging library)."""
    img = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in img)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", img.shape[1], img.shape[0], 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                     + chunk(b"IEND", b""))


def picture(originals: np.ndarray, recon: np.ndarray, scale: int = 6) -> np.ndarray:
    """Top row: inputs; bottom row: reconstructions (8x8 digits, 1-pixel gaps)."""
    n = len(originals)
    cell = 8 * scale + 2
    canvas = np.ones((2 * cell, n * cell), dtype=np.float32)
    for row, images in enumerate((originals, recon)):
        for i, img in enumerate(images):
            big = np.kron(1.0 - img.reshape(8, 8), np.ones((scale, scale)))  # dark ink on white
            canvas[row * cell + 1:row * cell + 1 + 8 * scale, i * cell + 1:i * cell + 1 + 8 * scale] = big
    return canvas


def main(args: argparse.Namespace) -> int:
    from tessera import exporter

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = load_digits()
    print(f"1. Training the seed auto-encoder {data.shape[1]}->{args.hidden} on {len(data)} binarized digits")
    x, x_hat, forward = train(data, args)

    model_path = out / "model.json"
    exporter.export([x_hat], [x], model_path, metadata={"description": "seed tied-weight auto-encoder, digits"})
    print(f"2. Exported {model_path} ({model_path.stat().st_size:,} bytes)")

    batch = data[:256]
    inputs_path = out / "inputs.json"
    inputs_path.write_text(json.dumps({"inputs": {"x": {"shape": list(batch.shape),
                                                         "data": batch.reshape(-1).tolist()}}}))
    trainer_out = np.asarray(forward(batch), dtype=np.float32)
    model = exporter.load(model_path)
    reference = model.run({"x": batch})["x_hat"]
    ref_seconds = _median_seconds(lambda: model.run({"x": batch}))

    print(f"3. Running a batch of {len(batch)} digits in every runtime")
    rows = [("Python reference", "reference", _maxdiff(reference, trainer_out), _ms(ref_seconds))]
    missing = []
    for name, command, why in runtimes():
        if command is None:
            rows.append((name, "MISSING", "-", "-"))
            missing.append(f"{name}: {why}")
            continue
        result, seconds = run_cli(command, model_path, inputs_path)
        if isinstance(result, str):
            rows.append((name, "ERROR", "-", "-"))
            missing.append(f"{name}: {result}")
            continue
        same = "yes" if bits_equal(result, reference) else "NO"
        rows.append((name, same, _maxdiff(result, trainer_out), _ms(seconds)))
    _print_table(rows)
    print(f"   time: median of {REPEAT} in-process runs on the batch (no process start or model load)")
    for line in missing:
        print("   missing: " + line)

    png = out / "reconstructions.png"
    write_png(png, picture(batch[:12], reference[:12]))
    print(f"4. Wrote {png} (top: digits, bottom: reconstructions)")
    print("   Browser demo: node runtimes/js/bin/serve.js, then open http://localhost:8000/runtimes/js/demo/")
    ok = all(r[1] in ("yes", "reference") for r in rows)
    print("All runtimes agree bit for bit." if ok else "Runtimes DISAGREE or are missing: see above.")
    return 0 if ok else 1


def _median_seconds(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _maxdiff(a: np.ndarray, b: np.ndarray) -> str:
    return f"{float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))):.2e}"


def _print_table(rows: list[tuple[str, str, str, str]]) -> None:
    head = ("runtime", "bit-identical to reference", "max |diff| vs trainer", "time per batch")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(4)]
    for row in [head, *rows]:
        print("   " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
