"""`tessera demo`: the main job, end to end.

Train the seed's tied-weight auto-encoder (written exactly as the seed writes
it, Theano style) on the bundled binarized digits, export it, run it in the
Python reference, the JS runtime (both kernel paths) and the C runtime, and
print whether every runtime gives the same bits. Writes a picture of digits
and their reconstructions, and beside each exported model the Python
reference's outputs for the browser page's bundled samples (MODEL.expected.json),
which the page compares with its own bits.

The demo's models are the rows of DEMO_MODELS: a file name, a title and a
function that trains the model and says what to export.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
C_RUN = REPO / "runtimes" / "c" / "build" / "tessera-run"
JS_RUN = REPO / "runtimes" / "js" / "bin" / "tessera-run.js"
# the browser page's bundled samples: the digits its buttons show and its bit-identity check runs
PAGE_SAMPLES = REPO / "runtimes" / "js" / "demo" / "samples.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)


def load_digits() -> np.ndarray:
    """The bundled digits, binarized: (1797, 64) float32 of 0/1 (trainer.datasets.load_digits)."""
    from tessera.trainer.datasets import load_digits as bundled

    return bundled()


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


@dataclass
class Trained:
    """What a demo model's training step hands to the rest of the demo."""

    outputs: list  # the symbolic outputs to export, named
    inputs: list  # the symbolic inputs (one: the digit images)
    forward: Callable[[np.ndarray], list[np.ndarray]]  # the trainer's own outputs for a batch
    batch: np.ndarray  # the batch every runtime runs (shaped as the model's input)
    description: str  # the model file's metadata description


@dataclass(frozen=True)
class DemoModel:
    """One row of the demo: out/<file>, what it is, how to train it, and an optional picture."""

    file: str
    title: str
    train: Callable[[np.ndarray, argparse.Namespace], Trained]
    picture: Callable[[Path, np.ndarray, np.ndarray], Path] | None = None


def train_autoencoder(data: np.ndarray, args: argparse.Namespace) -> Trained:
    print(f"   the seed auto-encoder {data.shape[1]}->{args.hidden} on {len(data)} binarized digits")
    x, x_hat, forward = train(data, args)
    return Trained([x_hat], [x], lambda batch: [forward(batch)], data[:256],
                   "seed tied-weight auto-encoder, digits")


def train_digits_cnn(data: np.ndarray, args: argparse.Namespace) -> Trained:
    """The digits CNN of tessera.demo_cnn; every runtime runs its held-out digits."""
    from tessera.demo_cnn import HELD_OUT, SPLIT_SEED, train_cnn

    print("   a CNN (conv 16 3x3, max pool 2, conv 32 3x3, max pool 2, dense 10, softmax) on the 8x8 digits' "
          "grey levels")
    start = time.perf_counter()
    cnn = train_cnn(seed=args.seed)
    print(f"  trained in {time.perf_counter() - start:.1f} s")
    print(f"   held-out accuracy {cnn.accuracy:.2%} ({HELD_OUT} digits: the first of a permutation seeded "
          f"{SPLIT_SEED}); {cnn.accuracy_binarized:.2%} on the same digits binarized, as the page draws")
    return Trained([cnn.p], [cnn.x], lambda batch: [cnn.infer(batch)], cnn.held_out,
                   "digits CNN: conv-relu-maxpool x2, dense, softmax; input 8x8 grey levels in [0, 1]")


def reconstructions_png(out: Path, batch: np.ndarray, reference: np.ndarray) -> Path:
    png = out / "reconstructions.png"
    write_png(png, picture(batch[:12], reference[:12]))
    return png


# ------------------------------------------------------------ the page's samples and their reference outputs

IMAGE_SIDE = 8  # the page draws 8x8 digits: 64 pixels


def load_page_samples() -> tuple[np.ndarray, list[int]]:
    """The browser page's bundled digits, (n, 64) float32 pixels, and their labels."""
    doc = json.loads(PAGE_SAMPLES.read_text())
    return np.array([s["pixels"] for s in doc["samples"]], dtype=np.float32), [s["label"] for s in doc["samples"]]


def image_feed(shape: Sequence[int | str], pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """The page's images fed to an input declared with `shape`: (n, 64) or (n, 1, 8, 8) (a CNN),
    the same pixels row-major. Also says whether the samples run one at a time (batch fixed at 1).
    ValueError for an input the page cannot feed (its own words say why)."""
    n = len(pixels)
    side = IMAGE_SIDE
    if list(shape[1:]) == [side * side]:
        feed = pixels.reshape(n, side * side)
    elif list(shape[1:]) == [1, side, side]:
        feed = pixels.reshape(n, 1, side, side)
    else:
        raise ValueError(f"input shape {list(shape)} is not an 8x8 image: the page feeds (N, 64) or (N, 1, 8, 8)")
    batch = shape[0]
    if isinstance(batch, int) and batch != 1 and batch != n:
        raise ValueError(f"input batch is fixed at {batch}: the page runs one image (batch 1 or a symbol)")
    return feed, batch == 1 and n != 1


def reference_outputs(model, pixels: np.ndarray) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """The Python reference's outputs for the page's images: (input name, the feed, outputs by name)."""
    if len(model.inputs) != 1:
        raise ValueError(f"the model has {len(model.inputs)} inputs: the page feeds one 8x8 image")
    (name, shape), = model.inputs
    if model.dtype(name) != "float32":
        raise ValueError(f"input {name!r} is {model.dtype(name)}: the page feeds float32 pixels")
    feed, one_at_a_time = image_feed(shape, pixels)
    if not one_at_a_time:
        return name, feed, model.run({name: feed})
    rows = [model.run({name: feed[i:i + 1]}) for i in range(len(feed))]
    return name, feed, {out: np.concatenate([r[out] for r in rows]) for out in rows[0]}


def expected_path(model_path: Path) -> Path:
    """MODEL.json -> MODEL.expected.json, where the page looks for the reference outputs."""
    return model_path.with_name(model_path.name.removesuffix(".json") + ".expected.json")


def write_expected(model_path: Path, pixels: np.ndarray | None = None, labels: list[int] | None = None) -> Path:
    """Write MODEL.expected.json beside MODEL.json: the page's samples (or `pixels`, (n, 64)) as the
    model's input and the Python reference's outputs for them, as SPEC section 9 tensor objects
    (shortest float32 decimals: exact bits), plus the SHA-256 of the model file, so that the page
    can say whether its own bits equal Python's and for which file. ValueError for a model the page
    cannot show. `{"inputs": doc["inputs"]}` is an inputs document; `{"outputs": ...}` is what
    `tessera run MODEL INPUTS` prints for it."""
    from tessera import exporter
    from tessera.exporter.tensors import tensor_to_json

    if pixels is None:
        pixels, labels = load_page_samples()
    raw = model_path.read_bytes()
    reference = exporter.load(raw, runtime="reference")
    name, feed, outputs = reference_outputs(reference, np.asarray(pixels, dtype=np.float32))
    head = {
        "about": "Python reference outputs of the model for the demo page's samples; "
                 "the page runs the same inputs and compares the bits",
        "model": model_path.name,
        "model_sha256": hashlib.sha256(raw).hexdigest(),
        "labels": list(labels) if labels is not None else None,
    }
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in head.items())
    inputs = f'{{{json.dumps(name)}: {tensor_to_json(feed)}}}'
    outs = ", ".join(f"{json.dumps(k)}: {tensor_to_json(v)}" for k, v in outputs.items())
    path = expected_path(model_path)
    tmp = path.with_name(path.name + ".tmp")  # no partial file on failure
    tmp.write_text(f'{{{body}, "inputs": {inputs}, "outputs": {{{outs}}}}}\n')
    tmp.replace(path)
    return path


# The demo's models, in the order `make demo` trains them; a new one is one row.
DEMO_MODELS = [
    DemoModel("model.json", "the seed auto-encoder", train_autoencoder, reconstructions_png),
    DemoModel("cnn.json", "the digits CNN", train_digits_cnn),
]


REPEAT = 7  # timed runs per runtime: a median, and the CNN batch in plain JS stays near 2 s
MEDIAN_RE = re.compile(r"run median ([0-9.]+) us")


def run_cli(command: list[str], model: Path, inputs: Path) -> tuple[dict[str, np.ndarray] | str, float]:
    """Run one runtime's CLI (SPEC section 9) with `--repeat`; returns the outputs by name or an
    error text, and the median in-process run time in seconds that the CLI reports on stderr."""
    proc = subprocess.run(command + ["--repeat", str(REPEAT), str(model), str(inputs)],
                          capture_output=True, text=True)
    timing = MEDIAN_RE.search(proc.stderr)
    if proc.returncode != 0 or timing is None:
        return f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip()[:200]}", float("nan")
    from tessera.conformance.compare import tensor_values

    outputs = {}
    for name, tensor in json.loads(proc.stdout)["outputs"].items():
        shape, data = tensor_values(tensor)
        outputs[name] = data.reshape(shape)
    return outputs, float(timing.group(1)) / 1e6


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
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.all((a.view(np.uint32) == b.view(np.uint32))
                                                                  | (np.isnan(a) & np.isnan(b))))


def all_bits_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> bool:
    return got.keys() == want.keys() and all(bits_equal(got[k], want[k]) for k in want)


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
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = load_digits()
    ok = True
    for number, entry in enumerate(DEMO_MODELS, 1):
        print(f"{number}. {entry.title[:1].upper() + entry.title[1:]}")
        ok = run_model(entry, data, args, out) and ok
    print("   Browser demo: node runtimes/js/bin/serve.js, then open http://localhost:8000/runtimes/js/demo/"
          + "".join(f"\n                 ?model=../../../{out.name}/{e.file}" for e in DEMO_MODELS[1:]))
    print("All runtimes agree bit for bit." if ok else "Runtimes DISAGREE or are missing: see above.")
    return 0 if ok else 1


def run_model(entry: DemoModel, data: np.ndarray, args: argparse.Namespace, out: Path) -> bool:
    """Train, export and check one demo model; True when every runtime gives the reference's bits."""
    from tessera import exporter
    from tessera.exporter import native

    trained = entry.train(data, args)
    model_path = out / entry.file
    exporter.export(trained.outputs, trained.inputs, model_path, metadata={"description": trained.description})
    print(f"   exported {model_path} ({model_path.stat().st_size:,} bytes)")
    expected = write_expected(model_path)
    print(f"   wrote {expected} (the Python reference's outputs for the browser page's samples)")

    batch = trained.batch
    stem = model_path.name.removesuffix(".json")
    inputs_path = out / ("inputs.json" if stem == "model" else f"{stem}.inputs.json")
    inputs_path.write_text(json.dumps({"inputs": {trained.inputs[0].name: {"shape": list(batch.shape),
                                                                            "data": batch.reshape(-1).tolist()}}}))
    model = exporter.load(model_path, runtime="reference")
    feed = {trained.inputs[0].name: batch}
    reference = model.run(feed)
    trainer_out = dict(zip(reference, trained.forward(batch), strict=True))
    ref_seconds = _median_seconds(lambda: model.run(feed))

    print(f"   running a batch of {len(batch)} digits in every runtime")
    rows = [("Python reference", "reference", _maxdiff(reference, trainer_out), _ms(ref_seconds))]
    missing = []
    if native.available():
        in_process = exporter.load(model_path, runtime="native")
        got = in_process.run(feed)
        same = "yes" if all_bits_equal(got, reference) else "NO"
        rows.append(("Python native (C in-process)", same, _maxdiff(got, trainer_out),
                     _ms(_median_seconds(lambda: in_process.run(feed)))))
    else:
        rows.append(("Python native (C in-process)", "MISSING", "-", "-"))
        missing.append("Python native: tessera._native not built (make setup)")
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
        same = "yes" if all_bits_equal(result, reference) else "NO"
        rows.append((name, same, _maxdiff(result, trainer_out), _ms(seconds)))
    _print_table(rows)
    print(f"   time: median of {REPEAT} in-process runs on the batch (no process start or model load)")
    for line in missing:
        print("   missing: " + line)
    if entry.picture is not None:
        first = next(iter(reference.values()))
        print(f"   wrote {entry.picture(out, batch, first)} (top: digits, bottom: the model's outputs)")
    return all(r[1] in ("yes", "reference") for r in rows)


def _median_seconds(fn, repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _maxdiff(got: dict[str, np.ndarray], trainer_out: dict[str, np.ndarray]) -> str:
    """The largest |difference| over the float32 outputs (int32 classes are compared by bits only)."""
    diffs = [np.max(np.abs(got[k].astype(np.float64) - np.asarray(v, dtype=np.float64)))
             for k, v in trainer_out.items() if got[k].dtype == np.float32]
    return f"{float(max(diffs)):.2e}" if diffs else "-"


def _print_table(rows: list[tuple[str, str, str, str]]) -> None:
    head = ("runtime", "bit-identical to reference", "max |diff| vs trainer", "time per batch")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(4)]
    for row in [head, *rows]:
        print("   " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
