"""Data-parallel training on Dask: the same bits with 1 or 2 workers, after a worker dies, and as
the single-process micro-batched run; exact resume; clear errors."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tessera.trainer.datasets import synthetic_sparse_csr
from tessera.trainer.datasets.shards import ShardSet
from tessera.trainer.datasets.synth_shards import synth
from tessera.trainer.distributed import (
    DaskExecutor,
    SchedulerUnreachable,
    connect,
    split_rows,
    train_data_parallel,
    tree_levels,
)
from tessera.trainer.training import train_autoencoder
from tests.support import same_bits

DATA = synthetic_sparse_csr(512, 1500, 0.01, n_latent=8, seed=2)
RUN = {"hidden": 12, "epochs": 1, "batch_size": 96, "lr": 0.5, "micro_batches": 4, "seed": 1,
       "log": lambda msg: None}


def params(model) -> list[np.ndarray]:
    return [p.get_value() for p in model.params]


def all_same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.dtype == y.dtype and same_bits(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def single_process() -> list[np.ndarray]:
    model, hist = train_data_parallel(DATA, dask=None, **RUN)
    assert hist.steps == 6
    return params(model)


def test_the_split_and_the_tree_are_fixed() -> None:
    assert split_rows(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert split_rows(2, 4) == [(0, 1), (1, 2)]  # a short last batch: empty micro-batches are dropped
    assert tree_levels(5) == [[(0, 1), (2, 3)], [(0, 1)], [(0, 1)]]
    assert tree_levels(1) == []


def test_one_and_two_workers_give_the_single_process_bits(dask_client, single_process) -> None:
    two = DaskExecutor(dask_client)
    assert two.workers == 2
    m2, _ = train_data_parallel(DATA, dask=two, **RUN)
    assert all_same(params(m2), single_process)
    one = next(iter(dask_client.scheduler_info()["workers"]))
    m1, _ = train_data_parallel(DATA, dask=PinnedExecutor(dask_client, one), **RUN)
    assert all_same(params(m1), single_process)
    # the comparison can fail: another micro-batch split changes the float32 sums
    other, _ = train_data_parallel(DATA, dask=None, **{**RUN, "micro_batches": 3})
    assert not all_same(params(other), single_process)


class PinnedExecutor(DaskExecutor):
    """Every task of the step on one worker: the 1-worker run on the same cluster."""

    def __init__(self, client, worker: str) -> None:
        super().__init__(client)
        self.worker = worker

    def _submit(self, spec, params, parts):
        c = self.client
        submit = c.submit
        try:
            c.submit = lambda *a, **k: submit(*a, workers=[self.worker], allow_other_workers=False, **k)
            return super()._submit(spec, params, parts)
        finally:
            c.submit = submit


def test_a_step_is_the_gradient_step_of_the_trainer(single_process) -> None:
    # independent of the micro-batch machinery: one micro-batch, one SGD step, against the
    # trainer's own fused step on the same first batch (the same permutation), to float32 rounding
    mine, _ = train_data_parallel(DATA, dask=None, stop_after_steps=1, **{**RUN, "micro_batches": 1})
    theirs, _ = train_autoencoder(DATA.toarray(), hidden=12, epochs=1, batch_size=96, lr=0.5, seed=1,
                                  progress=False, stop_after_steps=1, log=lambda msg: None)
    for a, b in zip(params(mine), params(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_worker_killed_during_the_run_changes_no_bit(dask_client, single_process) -> None:
    pids = dask_client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = threading.Event()

    def kill_soon(step: int) -> None:
        if step == 2 and not killed.is_set():
            killed.set()
            # lands while step 3's tasks are queued or running
            threading.Timer(0.01, os.kill, (victim, signal.SIGKILL)).start()

    model, hist = train_data_parallel(DATA, dask=DaskExecutor(dask_client), on_step=kill_soon, **RUN)
    assert killed.is_set() and hist.steps == 6
    deadline = time.monotonic() + 30
    while victim in dask_client.run(os.getpid).values() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert victim not in dask_client.run(os.getpid).values(), "the worker process was not killed"
    assert all_same(params(model), single_process)
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the next tests


def test_checkpoint_and_resume_continue_exactly(tmp_path: Path) -> None:
    synth(str(tmp_path / "shards"), rows=700, n_features=800, density=0.02, rows_per_shard=200, seed=4)
    shards = ShardSet(str(tmp_path / "shards"))
    run = {**RUN, "epochs": 2, "batch_size": 64, "buffer_rows": 128}
    whole, hist = train_data_parallel(shards, **run)
    assert hist.steps == 2 * 11
    ck = str(tmp_path / "ck.npz")
    _, cut = train_data_parallel(shards, checkpoint=ck, checkpoint_every=4, stop_after_steps=14, **run)
    assert cut.stopped == "interrupted"
    resumed, rest = train_data_parallel(shards, checkpoint=ck, resume=True, **run)
    assert rest.steps == 22
    assert all_same(params(resumed), params(whole))
    with pytest.raises(ValueError, match="different settings: micro_batches=4"):
        train_data_parallel(shards, checkpoint=ck, resume=True, **{**run, "micro_batches": 2})


def test_an_unreachable_scheduler_is_a_quick_clear_error() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(SchedulerUnreachable, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        connect(f"tcp://127.0.0.1:{port}", timeout=2)
    assert time.monotonic() - t0 < 15
    with pytest.raises(SchedulerUnreachable, match="local:N needs a worker count"):
        connect("local:zero")
