"""Write the inference benchmark's models and inputs to bench/out (one set of weights for everyone).

For each seed auto-encoder size: `ae<nv>x<nh>.json` (decimal tensors), `.b64.json` (base64
tensors), `.onnx` (the same weights with MatMul, Add, Sigmoid, Transpose), `.npz` (the raw
weights), and binary inputs `x<nv>_b<batch>.f32` (raw little-endian float32, 20% ones).
"""

from __future__ import annotations

import os
import sys

import common
import numpy as np

sys.path.insert(0, common.ROOT)
import exporter  # noqa: E402
from trainer.models.autoencoder import AutoEncoder  # noqa: E402

SIZES = [(784, 256), (64, 32)]
BATCHES = [1, 256]


def onnx_model(W: np.ndarray, bh: np.ndarray, bv: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    nv = W.shape[0]
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["t0"]),
        helper.make_node("Add", ["t0", "bh"], ["t1"]),
        helper.make_node("Sigmoid", ["t1"], ["h"]),
        helper.make_node("Transpose", ["W"], ["Wt"], perm=[1, 0]),
        helper.make_node("MatMul", ["h", "Wt"], ["t2"]),
        helper.make_node("Add", ["t2", "bv"], ["t3"]),
        helper.make_node("Sigmoid", ["t3"], ["x_hat"]),
    ]
    graph = helper.make_graph(
        nodes, "seed_ae",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", nv])],
        [helper.make_tensor_value_info("x_hat", TensorProto.FLOAT, ["batch", nv])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(bh, "bh"), numpy_helper.from_array(bv, "bv")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


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
            import onnx
        except ImportError:
            print("onnx not installed: no .onnx file")
        else:
            onnx.save(onnx_model(W, bh, bv), base + ".onnx")
        for batch in BATCHES:
            x = (rng.random((batch, nv)) < 0.2).astype("<f4")
            x.tofile(os.path.join(common.OUT, f"x{nv}_b{batch}.f32"))
    print("models and inputs written to", common.OUT)


if __name__ == "__main__":
    main()
