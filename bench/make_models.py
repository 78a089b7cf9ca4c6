"""Write the inference benchmark's models and inputs to bench/out (one set of weights for everyone).

For each seed auto-encoder size: `ae<nv>x<nh>.json` (decimal tensors), `.b64.json` (base64
tensors), `.onnx` (the `.json` model converted by exporter.onnx_export, as `tessera export --onnx`
does: MatMul, Add, Sigmoid, and Gemm with transB for the tied decoder weight), `.npz` (the raw
weights), and binary inputs `x<nv>_b<batch>.f32` (raw little-endian float32, 20% ones)."""

from __future__ import annotations

import os
import sys

import common
import numpy as np

sys.path.insert(0, common.ROOT)
from tessera import exporter  # noqa: E402
from tessera.exporter import onnx_export  # noqa: E402
from tessera.trainer.models.autoencoder import AutoEncoder  # noqa: E402

SIZES = [(784, 256), (64, 32)]
BATCHES = [1, 256]


def main() -> None:
    os.makedirs(common.OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    for nv, nh in SIZES:
        ae = AutoEncoder(nv, nh, seed=0)
        ae.bh.set_value((rng.standard_normal(nh) * 0.1).astype(np.float32))
        ae.bv.set_value((rng.standard_normal(nv) * 0.1).astype(np.float32))
        W, bh, bv = (p.get_value() for p in (ae.W, ae.bh, ae.bv))
        base = os.path.join(common.OUT, f"ae{nv}x{nh}")
        exporter.export([ae.x_hat], [ae.x], base + ".json")
        exporter.export([ae.x_hat], [ae.x], base + ".b64.json", encoding="base64")
        np.savez(base + ".npz", W=W, bh=bh, bv=bv)
        try:
            proto = onnx_export.to_onnx(base + ".json")  # the same converter as `tessera export --onnx`
        except ImportError as exc:
            print(f"{exc}: no .onnx file")
        else:
            onnx_export.save(proto, base + ".onnx")
        for batch in BATCHES:
            x = (rng.random((batch, nv)) < 0.2).astype("<f4")
            x.tofile(os.path.join(common.OUT, f"x{nv}_b{batch}.f32"))
    print("models and inputs written to", common.OUT)


if __name__ == "__main__":
    main()
