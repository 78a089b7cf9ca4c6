"""`tessera export CHECKPOINT -o model.json`: a training checkpoint of the seed auto-encoder to format v1."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from tessera.exporter.export import ExportError, export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="training checkpoint (.npz written by `tessera train`)")
    parser.add_argument("-o", "--out", required=True, help="model file to write (format v1 JSON)")
    parser.add_argument("--encoding", choices=("decimal", "base64"), default="decimal",
                        help="initializer data as decimal numbers (default) or base64")


def _read_checkpoint(path: str) -> tuple[dict, dict[str, np.ndarray], list[np.ndarray]]:
    """(meta, arrays by name, params in order): trainer checkpoints hold param/<i> + a JSON meta."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {}
    n = meta.get("n_params", sum(1 for k in arrays if k.startswith("param/")))
    ordered = [arrays[f"param/{i}"] for i in range(n) if f"param/{i}" in arrays]
    return meta, arrays, ordered


def build_autoencoder(meta: dict, arrays: dict[str, np.ndarray], ordered: list[np.ndarray]) -> Any:
    from tessera.trainer.models.autoencoder import AutoEncoder

    config = meta.get("config", {})
    named = {k: v for k, v in arrays.items() if k in ("W", "bh", "bv", "W2")}
    W = named.get("W", ordered[0] if ordered else None)
    if W is None or W.ndim != 2:
        raise ValueError("checkpoint has no 2-D weight W (param/0)")
    tied = bool(config.get("tied", "W2" not in named and len(ordered) < 4))
    model = AutoEncoder(int(W.shape[0]), int(W.shape[1]), tied=tied, dtype=str(W.dtype))
    values = [named[p.name] for p in model.params] if set(named) >= {p.name for p in model.params} else ordered
    for param, value in zip(model.params, values, strict=True):
        param.set_value(value)
    return model


def main(args: argparse.Namespace) -> int:
    try:
        meta, arrays, ordered = _read_checkpoint(args.checkpoint)
        model = build_autoencoder(meta, arrays, ordered)
    except (OSError, ValueError, KeyError) as exc:
        print(f"tessera export: cannot read checkpoint {args.checkpoint}: {exc}", file=sys.stderr)
        return 1
    metadata = {"description": "seed auto-encoder exported from a training checkpoint",
                "training": {k: v for k, v in meta.items() if k in ("config", "epoch", "total_steps")}}
    try:
        export([model.x_hat], [model.x], args.out, encoding=args.encoding, metadata=metadata)
    except (ExportError, OSError) as exc:
        print(f"tessera export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
