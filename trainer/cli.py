"""`tessera train`: train the seed auto-encoder on a data set and export it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tessera.trainer import datasets
from tessera.trainer.optimizers import OPTIMIZERS
from tessera.trainer.training import train_autoencoder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="digits", help="'digits', 'sparse' (synthetic), a .npy/.npz/.csv file, or "
                   "shards: a directory or a quoted glob ('shards/*.npz') streamed out of core")
    p.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=64, help="minibatch size (default 64)")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corruption", type=float, default=0.0,
                   help="denoising auto-encoder (the dA tutorial's): probability of zeroing each input, "
                   "the mask drawn in the graph from a RandomStreams whose state checkpoints keep")
    p.add_argument("--untied", action="store_true", help="separate decoder weights")
    p.add_argument("--reconstruction-sampling", type=int, default=None, metavar="K",
                   help="sparse binary data: reconstruct each example on its ones and K of its zeros, "
                   "importance-weighted (unbiased); a step then costs O(ones + K), not O(features); SGD only; "
                   "the exported model is the full auto-encoder")
    p.add_argument("--checkpoint", default=None, help="checkpoint .npz, written atomically after each epoch")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps")
    p.add_argument("--resume", action="store_true", help="continue exactly from --checkpoint")
    p.add_argument("--out", default=None, help="write the trained model (format v1 JSON) here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="data-parallel on Dask: 'local:N' (N worker processes here) or tcp://scheduler:8786; "
                   "the parameters are bit-identical for any worker count (SCALE.md)")
    p.add_argument("--micro-batches", type=int, default=None, metavar="M",
                   help="cut each minibatch into M micro-batches whose gradients are summed in a fixed order "
                   "(default 8 with --dask or shards); the result depends on M, never on the worker count")
    p.add_argument("--buffer-rows", type=int, default=None, help="shards: shuffle buffer rows (default 16 batches)")


def export_model(model, path: str, metadata: dict | None = None) -> bool:
    """Export x -> x_hat with the exporter, imported lazily; False when it is unavailable."""
    try:
        mod = importlib.import_module("tessera.exporter.export")
        export = mod.export
    except (ImportError, AttributeError) as exc:
        print(f"tessera train: the exporter is unavailable ({exc}); model not written to {path}", file=sys.stderr)
        return False
    export(outputs=[model.x_hat], inputs=[model.x], path=path, metadata=metadata)
    return True


def plateau_hint(losses: list[float], optimizer: str, lr: float) -> str | None:
    """A hint when the loss barely moved (< 2% from the first to the last epoch), else None."""
    if len(losses) < 2 or not losses[0] > 0:
        return None
    drop = (losses[0] - losses[-1]) / losses[0]
    if drop >= 0.02:
        return None
    other = "--optimizer adam" if optimizer != "adam" else "a larger --lr"
    return (f"the loss barely moved ({losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} epochs, "
            f"optimizer {optimizer}, lr {lr:g}); try {other} or more --epochs")


def is_shard_set(data: str) -> bool:
    """A directory or a glob pattern names shards (streamed); anything else is one file or a name."""
    return os.path.isdir(data) or any(c in data for c in "*?[")


def main_data_parallel(args: argparse.Namespace) -> int:
    """Shards and/or --dask: the micro-batched trainer of tessera.trainer.distributed."""
    from tessera.trainer.datasets.shards import ShardSet
    from tessera.trainer.distributed import SchedulerLost, SchedulerUnreachable, train_data_parallel

    unsupported = [f for f, on in (("--corruption", args.corruption), ("--reconstruction-sampling",
                   args.reconstruction_sampling is not None)) if on]
    if unsupported:
        print(f"tessera train: {', '.join(unsupported)} is not supported with shards or --dask "
              "(the data-parallel step computes the full auto-encoder's gradient)", file=sys.stderr)
        return 2
    try:
        data = ShardSet(args.data) if is_shard_set(args.data) else datasets.load(args.data)
        print(f"data {data.describe() if hasattr(data, 'describe') else args.data}", file=sys.stderr)
        model, hist = train_data_parallel(
            data, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
            optimizer=args.optimizer, seed=args.seed, micro_batches=args.micro_batches or 8, tied=not args.untied,
            dask=args.dask, buffer_rows=args.buffer_rows, checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every, resume=args.resume, progress=not args.no_progress)
    except (SchedulerLost, SchedulerUnreachable) as exc:
        print(f"tessera train: {exc}", file=sys.stderr)
        return 3
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"tessera train: {exc}", file=sys.stderr)
        return 2
    if hist.stopped:
        return 1
    if args.out:
        meta = {"description": f"seed auto-encoder {model.n_visible}->{args.hidden} trained on {args.data}",
                "training": {"epochs": args.epochs, "batch": args.batch, "lr": args.lr, "optimizer": args.optimizer,
                             "seed": args.seed, "micro_batches": args.micro_batches or 8,
                             "final_loss": hist.epoch_loss[-1] if hist.epoch_loss else None}}
        if export_model(model, args.out, meta):
            print(f"wrote {args.out}", file=sys.stderr)
    return 0


def main(args: argparse.Namespace) -> int:
    if args.resume and not args.checkpoint:
        print("tessera train: --resume needs --checkpoint PATH", file=sys.stderr)
        return 2
    if args.dask or args.micro_batches or is_shard_set(args.data):
        return main_data_parallel(args)
    try:
        data = datasets.load(args.data)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"tessera train: {exc}", file=sys.stderr)
        return 2
    print(f"data {args.data}: {data.shape[0]} samples x {data.shape[1]} features, "
          f"density {float((data != 0).mean()):.3f}", file=sys.stderr)
    try:
        model, hist = train_autoencoder(
            data, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
            optimizer=args.optimizer, seed=args.seed, progress=not args.no_progress, tied=not args.untied,
            corruption=args.corruption, checkpoint=args.checkpoint, resume=args.resume,
            checkpoint_every=args.checkpoint_every, reconstruction_sampling=args.reconstruction_sampling)
    except (FileNotFoundError, ValueError) as exc:
        print(f"tessera train: {exc}", file=sys.stderr)
        return 2
    if hist.stopped:
        return 1
    plateau = plateau_hint(hist.epoch_loss, args.optimizer, args.lr)
    if plateau:
        print(f"tessera train: {plateau}", file=sys.stderr)
    if args.out:
        meta = {"description": f"seed auto-encoder {data.shape[1]}->{args.hidden} trained on {args.data}",
                "training": {"epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                             "optimizer": args.optimizer, "seed": args.seed,
                             "final_loss": hist.epoch_loss[-1] if hist.epoch_loss else None}}
        if args.reconstruction_sampling is not None:
            meta["training"]["reconstruction_sampling"] = args.reconstruction_sampling
        if export_model(model, args.out, meta):
            print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="tessera train")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
