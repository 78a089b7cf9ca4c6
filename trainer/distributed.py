"""Deterministic data-parallel training of the seed auto-encoder on Dask.

A step: the global minibatch (B rows) is cut into `micro_batches` (M) contiguous micro-batches
by `np.array_split`, a split fixed by B and M alone, never by the number of workers. Each
micro-batch m of n_m rows gives the gradient of its mean loss from one compiled function (the
trainer's `function` of the model's loss and `grad`), scaled by w_m = float32(n_m / B). The
M scaled gradients are summed in float32 by a fixed pairwise tree over the micro-batch index
((0+1)+(2+3))+..., an odd last part carried up), and the driver applies the optimiser's update
(the trainer's update builders with `grads=`, compiled once). Each leaf and each sum is a pure
function of its inputs, so where it runs cannot change a bit: parameters are bit-identical with
1, 2 or N workers and equal to the single-process run with the same split (`dask=None`, which
calls the same functions in the same tree, in this process).

Parameters travel once per step: the driver scatters them to one worker (other workers fetch
them from it, worker to worker, when their first leaf needs them), the leaves of the step read
them, the tree's sums run on the workers and only the summed gradient comes back. A step that
fails because workers died is recomputed from the same inputs (Dask reruns lost tasks by itself;
when the scattered parameters die with their worker, or a scatter to a dying worker times out,
the driver resubmits the step), which gives the same bits. The driver checkpoints with the
trainer's atomic writer; `resume` continues exactly (the data stream of an epoch is a function
of (seed, epoch), so the first `step` batches are skipped).
A scheduler that goes away raises SchedulerLost naming the last checkpoint.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import optimizers
from tessera.trainer.compile import Function
from tessera.trainer.datasets.shards import InMemory, ShardSet
from tessera.trainer.models.autoencoder import AutoEncoder
from tessera.trainer.progress import Progress
from tessera.trainer.training import History, restore_checkpoint, save_checkpoint


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler could not be reached (or a local cluster not started)."""


class SchedulerLost(ConnectionError):
    """The Dask scheduler went away during training; `checkpoint` is the last one written (or None)."""

    def __init__(self, message: str, checkpoint: str | None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build the model whose gradient it computes (not the values)."""

    n_visible: int
    hidden: int
    tied: bool
    dtype: str


_COMPILED: dict[ModelSpec, tuple[AutoEncoder, Function]] = {}


def _gradient_function(spec: ModelSpec) -> tuple[AutoEncoder, Function]:
    """The model and its compiled f(x) -> [loss, *grads], built once per process."""
    if spec not in _COMPILED:
        model = AutoEncoder(spec.n_visible, spec.hidden, tied=spec.tied, dtype=spec.dtype)
        fn = trainer.function([model.x], [model.loss, *T.grad(model.loss, model.params)], name="micro_gradient")
        _COMPILED[spec] = (model, fn)
    return _COMPILED[spec]


def micro_gradient(spec: ModelSpec, params: Sequence[np.ndarray], xb: Any, weight: np.float32) -> list[np.ndarray]:
    """[w * loss, w * dloss/dp for each param] of one micro-batch (numpy or scipy sparse rows)."""
    model, fn = _gradient_function(spec)
    for p, v in zip(model.params, params, strict=True):
        p.set_value(v, borrow=True)  # read only: the gradient function has no updates
    x = xb.toarray() if hasattr(xb, "toarray") else xb
    out = fn(np.asarray(x, dtype=spec.dtype))
    return [np.asarray(weight * o, dtype=spec.dtype) for o in out]


def add_parts(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Elementwise float32 sum of two lists of partial sums (one node of the fixed tree)."""
    return [x + y for x, y in zip(a, b, strict=True)]


def tree_levels(n: int) -> list[list[tuple[int, int]]]:
    """The fixed pairwise tree over n leaves: per level, the (left, right) index pairs summed
    (an odd last element is carried to the next level as is)."""
    levels = []
    while n > 1:
        levels.append([(i, i + 1) for i in range(0, n - 1, 2)])
        n = (n + 1) // 2
    return levels


def split_rows(rows: int, micro_batches: int) -> list[tuple[int, int]]:
    """(start, stop) of each non-empty micro-batch: np.array_split's cut of `rows` into M parts."""
    bounds = np.cumsum([0] + [len(p) for p in np.array_split(np.arange(rows), micro_batches)])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


class LocalExecutor:
    """Runs the step's leaves and tree in this process (the single-process reference run)."""

    dashboard_link = None
    workers = 1

    def step(self, spec: ModelSpec, params: list[np.ndarray], parts: list[tuple[Any, np.float32]]) -> list:
        vals = [micro_gradient(spec, params, xb, w) for xb, w in parts]
        for level in tree_levels(len(vals)):
            vals = [add_parts(vals[i], vals[j]) for i, j in level] + ([vals[-1]] if len(vals) % 2 else [])
        return vals[0]

    def close(self) -> None:
        pass


class DaskExecutor:
    """Runs the step's leaves and tree as Dask tasks; the driver gathers the root only."""

    def __init__(self, client: Any, own_cluster: Any = None, retries: int = 3) -> None:
        self.client, self.own_cluster, self.retries = client, own_cluster, retries
        self.scatter_timeout = 30.0
        self.scatter_seconds = 0.0
        self.scatter_bytes = 0

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    @property
    def dashboard_link(self) -> str | None:
        services = self.client.scheduler_info().get("services", {})
        return self.client.dashboard_link if "dashboard" in services else None

    def _submit(self, spec: ModelSpec, params: list[np.ndarray], parts: list[tuple[Any, np.float32]]) -> Any:
        c = self.client
        t0 = time.perf_counter()
        pf = c.scatter(params, hash=False, timeout=self.scatter_timeout)
        self.scatter_seconds += time.perf_counter() - t0
        self.scatter_bytes += sum(p.nbytes for p in params)
        vals = [c.submit(micro_gradient, spec, pf, xb, w, pure=False) for xb, w in parts]
        for level in tree_levels(len(vals)):
            vals = [c.submit(add_parts, vals[i], vals[j], pure=False) for i, j in level] \
                + ([vals[-1]] if len(vals) % 2 else [])
        return vals[0]

    def step(self, spec: ModelSpec, params: list[np.ndarray], parts: list[tuple[Any, np.float32]]) -> list:
        from distributed import CancelledError, KilledWorker

        for attempt in range(self.retries + 1):
            try:
                return self._submit(spec, params, parts).result()
            except (KilledWorker, CancelledError, TimeoutError, OSError) as exc:
                # Futures lost with the workers that held them: the step's inputs are still
                # here, so it is recomputed whole (same inputs, same bits).
                if attempt == self.retries or self.client.status != "running":
                    raise
                print(f"distributed: step recomputed after {type(exc).__name__}: {exc}", file=sys.stderr)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.client.close()
        if self.own_cluster is not None:
            self.own_cluster.close()


def connect(address: str, timeout: float = 10.0) -> DaskExecutor:
    """`local:N`: a LocalCluster of N single-threaded worker processes on this machine (its
    dashboard on a free port when bokeh is installed); otherwise a scheduler address
    (tcp://host:8786), reached within `timeout` seconds or SchedulerUnreachable."""
    import logging

    from distributed import Client, LocalCluster

    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
            if n < 1:
                raise ValueError
        except ValueError:
            raise SchedulerUnreachable(f"--dask {address!r}: local:N needs a worker count N >= 1") from None
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        return DaskExecutor(Client(cluster), own_cluster=cluster)
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                                   f"({type(exc).__name__}: {exc}); start one with `dask scheduler` "
                                   "or use --dask local:N") from None
    return DaskExecutor(client)


_CONFIG_KEYS = ("n_visible", "hidden", "tied", "optimizer", "lr", "batch_size", "micro_batches", "seed", "dtype",
                "data_rows")


def train_data_parallel(data: Any, hidden: int = 32, epochs: int = 10, batch_size: int = 64, lr: float = 0.1,
                        optimizer: str = "sgd", seed: int = 0, *, micro_batches: int = 8, tied: bool = True,
                        dask: Any = None, buffer_rows: int | None = None, checkpoint: str | None = None,
                        checkpoint_every: int = 0, resume: bool = False, dtype: str = "float32",
                        progress: bool = False, stream: TextIO | None = None, log: Any = None,
                        stop_after_steps: int | None = None,
                        on_step: Callable[[int], None] | None = None) -> tuple[AutoEncoder, History]:
    """Train the auto-encoder with the micro-batched step above; returns (model, history).

    data: a ShardSet (out-of-core), a glob/directory string, or an in-memory numpy/scipy matrix.
    dask: None (this process), "local:N", a scheduler address, a distributed.Client, or an
    executor from `connect`. micro_batches: M, fixed whatever the worker count. on_step(total
    steps) is called after every step. The model's initial parameters come from `seed`.
    """
    stream = stream or sys.stderr
    log = log or (lambda msg: print(msg, file=stream, flush=True))
    source = ShardSet(data) if isinstance(data, str) else data if hasattr(data, "batches") else InMemory(data, dtype)
    if micro_batches < 1 or batch_size < 1:
        raise ValueError(f"batch size and micro-batches must be >= 1, got {batch_size} and {micro_batches}")
    model = AutoEncoder(source.n_features, hidden, tied=tied, seed=seed, dtype=dtype)
    spec = ModelSpec(source.n_features, hidden, tied, str(np.dtype(dtype)))
    grads_in = [T.tensor(p.ndim, f"g_{p.name}", p.dtype) for p in model.params]
    ups = optimizers.OPTIMIZERS[optimizer](None, model.params, lr=lr, grads=grads_in)
    model.opt_state = list(ups.state)
    apply_update = trainer.function(grads_in, [], updates=ups, name="apply_update")
    config = {"n_visible": source.n_features, "hidden": hidden, "tied": tied, "optimizer": optimizer, "lr": lr,
              "batch_size": batch_size, "micro_batches": micro_batches, "seed": seed, "dtype": spec.dtype,
              "data_rows": source.rows}
    hist = History()
    start_epoch, start_step, partial = 0, 0, []
    if resume:
        meta = restore_checkpoint(checkpoint, config, _CONFIG_KEYS, model.params, model.opt_state)
        start_epoch, start_step = meta["epoch"], meta["step"]
        hist.epoch_loss, hist.steps = list(meta["epoch_loss"]), meta["total_steps"]
        partial = list(meta.get("partial_losses", []))
        log(f"resumed from {checkpoint} at epoch {start_epoch + 1}, step {start_step}")

    def meta_for(epoch: int, step: int) -> dict:
        return {"config": config, "epoch": epoch, "step": step, "total_steps": hist.steps,
                "epoch_loss": hist.epoch_loss, "partial_losses": partial, "n_params": len(model.params),
                "n_opt": len(model.opt_state), "param_names": [p.name for p in model.params],
                "rng": {"scheme": "epoch e's stream from default_rng([seed, e]); micro-batches np.array_split",
                        "seed": seed, "epoch": epoch, "step": step}}

    own = not (dask is None or hasattr(dask, "step"))
    if dask is None:
        executor: Any = LocalExecutor()
    elif hasattr(dask, "step"):
        executor = dask
    elif isinstance(dask, str):
        executor = connect(dask)
    else:
        executor = DaskExecutor(dask)
    if executor.dashboard_link:
        log(f"Dask dashboard: {executor.dashboard_link}")
    n_batches = (source.rows + batch_size - 1) // batch_size
    t0, samples = time.perf_counter(), 0
    try:
        for epoch in range(start_epoch, epochs):
            first = start_step if epoch == start_epoch else 0
            if epoch != start_epoch:
                partial = []
            bar = Progress(n_batches, f"epoch {epoch + 1}/{epochs}", stream, progress)
            bar.done = first
            te = time.perf_counter()
            for step, xb in enumerate(source.batches(batch_size, seed, epoch, buffer_rows, skip=first), first):
                rows = xb.shape[0]
                parts = [(xb[a:b], np.float32((b - a) / rows)) for a, b in split_rows(rows, micro_batches)]
                params = [p.get_value(borrow=True) for p in model.params]
                try:
                    total = executor.step(spec, params, parts)
                except Exception as exc:
                    if isinstance(executor, DaskExecutor) and _scheduler_gone(executor, exc):
                        kept = checkpoint if checkpoint and os.path.exists(checkpoint) else None
                        raise SchedulerLost(
                            f"the Dask scheduler went away at epoch {epoch + 1}, step {step + 1} "
                            f"({type(exc).__name__}: {exc}); "
                            + (f"last checkpoint: {kept} (continue with --resume)" if kept
                               else "no checkpoint was written"), kept) from None
                    raise
                apply_update(*total[1:])
                loss = float(total[0])
                partial.append(loss)
                hist.steps += 1
                samples += rows
                bar.update(1, rows, float(np.mean(partial)))
                if on_step is not None:
                    on_step(hist.steps)
                if checkpoint and checkpoint_every and hist.steps % checkpoint_every == 0 and step + 1 < n_batches:
                    save_checkpoint(checkpoint, model, meta_for(epoch, step + 1))
                if stop_after_steps is not None and hist.steps >= stop_after_steps:
                    bar.close()
                    hist.stopped = "interrupted"
                    return model, hist
                if not np.isfinite(loss):
                    bar.close()
                    hist.stopped = f"loss became {loss} at epoch {epoch + 1}, step {step + 1}"
                    log(f"stopping: the {hist.stopped}; try a smaller --lr")
                    return model, hist
            bar.close()
            hist.epoch_loss.append(float(np.mean(partial)) if partial else float("nan"))
            log(f"epoch {epoch + 1}/{epochs} loss {hist.epoch_loss[-1]:.6f} ({time.perf_counter() - te:.2f} s, "
                f"{executor.workers} worker(s), {micro_batches} micro-batches per step)")
            if checkpoint:
                partial = []
                save_checkpoint(checkpoint, model, meta_for(epoch + 1, 0))
    finally:
        if own:
            executor.close()
        hist.seconds = time.perf_counter() - t0
        hist.samples_per_second = samples / max(hist.seconds, 1e-9)
    return model, hist


def _scheduler_gone(executor: DaskExecutor, exc: BaseException) -> bool:
    if executor.client.status != "running":
        return True
    try:
        executor.client.scheduler_info()
        return isinstance(exc, OSError) and "scheduler" in str(exc).lower()
    except Exception:
        return True
