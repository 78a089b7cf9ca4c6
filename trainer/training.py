"""Training loop for the seed auto-encoder: minibatches, progress, atomic checkpoints, exact resume.

The shuffle is derived, not carried: epoch e uses default_rng([seed, e]). Draws inside the
graph (the denoising mask) come from the model's RandomStreams, whose generator states are
saved in the checkpoint's meta and restored on resume; with (seed, epoch, step), parameters and
optimiser state, that resumes bit-exactly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from tessera.trainer.models.autoencoder import AutoEncoder
from tessera.trainer.progress import Progress


class NonFiniteLoss(RuntimeError):
    """Training stopped because the loss became nan or inf."""


@dataclass
class History:
    epoch_loss: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    samples_per_second: float = 0.0
    stopped: str | None = None  # reason when training stopped early


def save_checkpoint(path: str, model: AutoEncoder, meta: dict) -> None:
    """Write params, optimiser state and progress to `path` atomically (temp file + os.replace)."""
    arrays = {f"param/{i}": p.get_value(borrow=True) for i, p in enumerate(model.params)}
    arrays.update({f"opt/{i}": s.get_value(borrow=True) for i, s in enumerate(model.opt_state)})
    meta = dict(meta, random_streams=[s.get_state() for s in getattr(model, "random_streams", [])])
    arrays["meta"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def restore_checkpoint(checkpoint: str | None, config: dict, keys: Sequence[str], params: list,
                       opt_state: list) -> dict:
    """`--resume`: load `checkpoint` into the parameters and the optimizer state, after checking it
    was made with the same settings (`keys` of `config`); returns its metadata."""
    if not checkpoint or not os.path.exists(checkpoint):
        raise FileNotFoundError(f"--resume: checkpoint {checkpoint!r} not found")
    meta, values, opt = load_checkpoint(checkpoint)
    diff = [k for k in keys if meta["config"].get(k) != config[k]]
    if diff:
        raise ValueError(f"--resume: checkpoint {checkpoint} was made with different settings: "
                         + ", ".join(f"{k}={meta['config'].get(k)!r} (now {config[k]!r})" for k in diff))
    for p, v in zip(params, values, strict=True):
        p.set_value(v)
    for s, v in zip(opt_state, opt, strict=True):
        s.set_value(v)
    return meta


def load_checkpoint(path: str) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        params = [z[f"param/{i}"] for i in range(meta["n_params"])]
        opt = [z[f"opt/{i}"] for i in range(meta["n_opt"])]
    return meta, params, opt


def check_finite(data: np.ndarray) -> None:
    """Refuse data holding nan/inf up front, naming the first bad row and column."""
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        r, c = (int(v) for v in bad[0][:2]) if data.ndim > 1 else (int(bad[0][0]), 0)
        raise ValueError(f"the data holds {data[tuple(bad[0])]} at row {r}, column {c} "
                         f"({len(bad)} non-finite value(s) in all); training needs finite data")


_CONFIG_KEYS = ("n_visible", "hidden", "tied", "corruption", "optimizer", "lr", "batch_size", "seed", "dtype",
                "reconstruction_sampling")


def train_autoencoder(data: np.ndarray, hidden: int = 32, epochs: int = 10, batch_size: int = 64,
                      lr: float = 0.1, optimizer: str = "sgd", seed: int = 0, progress: bool = True, *,
                      tied: bool = True, corruption: float = 0.0, checkpoint: str | None = None,
                      resume: bool = False, checkpoint_every: int = 0, dtype: str = "float32",
                      log: Any = None, stream: TextIO | None = None,
                      stop_after_steps: int | None = None,
                      reconstruction_sampling: int | None = None) -> tuple[AutoEncoder, History]:
    """Train the seed auto-encoder on `data` (n_samples, n_visible); returns (model, history).

    checkpoint: path of an .npz written after every epoch (and every `checkpoint_every`
    steps if > 0); resume: continue from it exactly. If the loss becomes nan/inf, training
    stops with history.stopped set, and the last good checkpoint is left untouched.
    stop_after_steps simulates an interruption (tests). reconstruction_sampling: K zeros per
    example (AutoEncoder's option); `data` may then also be a scipy sparse matrix.
    """
    stream = stream or sys.stderr
    log = log or (lambda msg: print(msg, file=stream, flush=True))
    is_sparse = hasattr(data, "tocsr") and hasattr(data, "nnz")
    data = data.tocsr().astype(dtype) if is_sparse else np.ascontiguousarray(data, dtype=dtype)
    check_finite(data.data if is_sparse else data)
    n, n_visible = data.shape
    model = AutoEncoder(n_visible, hidden, tied=tied, corruption=corruption, seed=seed, dtype=dtype,
                        reconstruction_sampling=reconstruction_sampling)
    step_fn = model.train_function(optimizer, lr)
    config = {"n_visible": n_visible, "hidden": hidden, "tied": tied, "corruption": corruption,
              "optimizer": optimizer, "lr": lr, "batch_size": batch_size, "seed": seed, "dtype": dtype,
              "reconstruction_sampling": reconstruction_sampling}
    hist = History()
    start_epoch, start_step = 0, 0
    if resume:
        meta = restore_checkpoint(checkpoint, config, _CONFIG_KEYS, model.params, model.opt_state)
        states = meta.get("random_streams", [])
        if len(states) != len(model.random_streams):
            raise ValueError(f"--resume: checkpoint {checkpoint} holds {len(states)} random stream state(s), "
                             f"the model draws from {len(model.random_streams)}")
        for rs, st in zip(model.random_streams, states, strict=True):
            rs.set_state(st)
        start_epoch, start_step = meta["epoch"], meta["step"]
        hist.epoch_loss = list(meta["epoch_loss"])
        hist.steps = meta["total_steps"]
        log(f"resumed from {checkpoint} at epoch {start_epoch + 1}, step {start_step}")
    n_batches = (n + batch_size - 1) // batch_size
    t0 = time.perf_counter()
    samples = 0

    def meta_for(epoch: int, step: int, partial: list[float]) -> dict:
        return {"config": config, "epoch": epoch, "step": step, "total_steps": hist.steps,
                "epoch_loss": hist.epoch_loss, "partial_losses": partial,
                "n_params": len(model.params), "n_opt": len(model.opt_state),
                "param_names": [p.name for p in model.params],
                "rng": {"scheme": "default_rng([seed, epoch]) shuffle; in-graph draws: random_streams",
                        "seed": seed, "epoch": epoch, "step": step}}

    partial: list[float] = []
    for epoch in range(start_epoch, epochs):
        order = np.random.default_rng([seed, epoch]).permutation(n)
        first = start_step if epoch == start_epoch else 0
        if epoch == start_epoch and resume and first:
            partial = list(meta.get("partial_losses", []))
        else:
            partial = []
        bar = Progress(n_batches, f"epoch {epoch + 1}/{epochs}", stream, progress)
        bar.done = first
        te = time.perf_counter()
        for step in range(first, n_batches):
            xb = data[order[step * batch_size:(step + 1) * batch_size]]
            if is_sparse and reconstruction_sampling is None:
                xb = xb.toarray()
            loss = float(step_fn(xb))
            if not np.isfinite(loss):
                bar.close()
                where = f"epoch {epoch + 1}, step {step + 1}"
                kept = f"; last good checkpoint kept: {checkpoint}" if checkpoint and os.path.exists(checkpoint) \
                    else "; no checkpoint was written"
                hist.stopped = f"loss became {loss} at {where}"
                log(f"stopping: the loss became {loss} at {where}; the data is finite; try a smaller --lr{kept}")
                hist.seconds = time.perf_counter() - t0
                return model, hist
            partial.append(loss)
            hist.steps += 1
            samples += xb.shape[0]
            bar.update(1, xb.shape[0], float(np.mean(partial)))
            if checkpoint and checkpoint_every and hist.steps % checkpoint_every == 0 and step + 1 < n_batches:
                save_checkpoint(checkpoint, model, meta_for(epoch, step + 1, partial))
            if stop_after_steps is not None and hist.steps >= stop_after_steps:
                bar.close()
                hist.stopped = "interrupted"
                return model, hist
        bar.close()
        hist.epoch_loss.append(float(np.mean(partial)))
        dt = time.perf_counter() - te
        log(f"epoch {epoch + 1}/{epochs} loss {hist.epoch_loss[-1]:.6f} "
            f"({dt:.2f} s, {(n_batches - first) and data.shape[0] / max(dt, 1e-9):,.0f} samples/s)")
        if checkpoint:
            save_checkpoint(checkpoint, model, meta_for(epoch + 1, 0, []))
    hist.seconds = time.perf_counter() - t0
    hist.samples_per_second = samples / max(hist.seconds, 1e-9)
    return model, hist
