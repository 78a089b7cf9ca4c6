"""Out-of-core shards: every row once per epoch, a seeded reproducible order, bounded memory, clear errors."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tessera.trainer.datasets.shards import ShardError, ShardSet, write_sparse_shard
from tessera.trainer.datasets.synth_shards import synth


def dense_shards(tmp: Path, n_shards: int, rows: int, width: int) -> np.ndarray:
    """.npy shards whose column 0 is the global row id (to follow rows through the stream)."""
    all_rows = []
    for s in range(n_shards):
        x = np.random.default_rng(s).random((rows, width), dtype=np.float32)
        x[:, 0] = np.arange(s * rows, (s + 1) * rows)
        np.save(tmp / f"d-{s:02d}.npy", x)
        all_rows.append(x)
    return np.concatenate(all_rows)


def ids(batches) -> list[np.ndarray]:
    return [np.asarray(b[:, 0]).astype(np.int64).ravel() for b in batches]


def test_every_row_once_per_epoch_in_a_seeded_order(tmp_path: Path) -> None:
    data = dense_shards(tmp_path, 5, 300, 8)
    shards = ShardSet(str(tmp_path / "*.npy"))
    assert (shards.rows, shards.n_features) == (1500, 8)
    first = ids(shards.batches(64, seed=3, epoch=0, buffer_rows=256, chunk_rows=100))
    again = ids(shards.batches(64, seed=3, epoch=0, buffer_rows=256, chunk_rows=100))
    other_epoch = ids(shards.batches(64, seed=3, epoch=1, buffer_rows=256, chunk_rows=100))
    flat = np.concatenate(first)
    assert sorted(flat.tolist()) == list(range(1500))
    assert [len(b) for b in first[:-1]] == [64] * (len(first) - 1) and len(first) == -(-1500 // 64)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(flat, np.concatenate(other_epoch))
    # rows are shuffled, not read in file order, and whole rows travel together
    assert not np.array_equal(flat, np.sort(flat))
    batch = next(shards.batches(64, seed=3, epoch=0, buffer_rows=256, chunk_rows=100))
    assert np.array_equal(batch, data[batch[:, 0].astype(np.int64)])
    # resume: skipping k batches gives the rest of the same stream
    rest = ids(shards.batches(64, seed=3, epoch=0, buffer_rows=256, chunk_rows=100, skip=7))
    assert all(np.array_equal(a, b) for a, b in zip(first[7:], rest, strict=True))


def test_stream_memory_is_bounded_by_the_buffer_not_the_data(tmp_path: Path) -> None:
    dense_shards(tmp_path, 8, 2000, 500)  # 32 MB of float32 rows
    data_bytes = 8 * 2000 * 500 * 4
    shards = ShardSet(str(tmp_path))
    tracemalloc.start()
    try:
        n = 0
        for b in shards.batches(64, seed=0, epoch=0, buffer_rows=512, chunk_rows=256):
            n += len(b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 16000
    # the buffer (512 rows) and one chunk (256 rows) of 2,000-byte rows, held at most a few times
    # over (the pool, its permuted copy, the kept half): independent of the 16,000 rows streamed
    assert peak < 4 * (512 + 256) * 2000 < data_bytes / 5, f"peak {peak} bytes for {data_bytes} bytes of data"


def test_sparse_shards_and_the_synthetic_writer(tmp_path: Path) -> None:
    paths = synth(str(tmp_path), rows=2500, n_features=3000, density=0.01, rows_per_shard=1000, seed=5)
    assert [os.path.basename(p) for p in paths] == ["part-00000.npz", "part-00001.npz", "part-00002.npz"]
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths)  # no temporary left
    again = synth(str(tmp_path / "again"), rows=2500, n_features=3000, density=0.01, rows_per_shard=1000, seed=5)
    for a, b in zip(paths, again, strict=True):
        assert (sp.load_npz(a) != sp.load_npz(b)).nnz == 0
    m = sp.vstack([sp.load_npz(p) for p in paths])
    assert m.shape == (2500, 3000) and set(np.unique(m.data).tolist()) == {1.0}
    assert 0.005 < m.nnz / (2500 * 3000) < 0.02
    shards = ShardSet(str(tmp_path / "part-*.npz"))
    batches = list(shards.batches(100, seed=0, epoch=0))
    assert all(sp.issparse(b) for b in batches) and sum(b.shape[0] for b in batches) == 2500
    assert sum(b.nnz for b in batches) == m.nnz


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ShardError, match="E_INPUT: no .npz or .npy shard matches the pattern"):
        ShardSet(str(tmp_path / "nothing-*.npz"))
    with pytest.raises(ShardError, match="E_INPUT: no .npz or .npy shard matches the directory"):
        ShardSet(str(tmp_path))
    write_sparse_shard(str(tmp_path / "a.npz"), sp.random(10, 20, density=0.2, format="csr", dtype=np.float32))
    good = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "b.npz").write_bytes(good[: len(good) // 2])  # truncated: corrupt
    with pytest.raises(ShardError, match=r"E_DATA: shard .*b\.npz cannot be read"):
        ShardSet(str(tmp_path / "*.npz"))
    (tmp_path / "b.npz").unlink()
    np.save(tmp_path / "c.npy", np.zeros((4, 21), np.float32))
    with pytest.raises(ShardError, match="E_INPUT: shards differ in width"):
        ShardSet(str(tmp_path))
    (tmp_path / "c.npy").unlink()
    bad = np.zeros((4, 20), np.float32)
    bad[2, 5] = np.nan
    np.save(tmp_path / "d.npy", bad)
    with pytest.raises(ShardError, match=r"E_DATA: shard .*d\.npy holds nan in row 2"):
        list(ShardSet(str(tmp_path)).batches(4, seed=0, epoch=0))
