"""Bulk scoring: one atomic file per shard, bit-identical whether run here or on 2 Dask workers,
by the reference or the native runtime, and to the C runtime's CLI on the same rows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from tessera import exporter
from tessera.exporter.score import score
from tessera.exporter.tensors import read_tensors
from tessera.trainer.datasets.synth_shards import synth
from tessera.trainer.training import train_autoencoder
from tests.support import same_bits


@pytest.fixture(scope="module")
def scored_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    tmp = tmp_path_factory.mktemp("score")
    paths = synth(str(tmp / "shards"), rows=700, n_features=400, density=0.03, rows_per_shard=200, seed=7)
    rows = sp.vstack([sp.load_npz(p) for p in paths]).toarray()
    np.save(tmp / "shards" / "part-00004.npy", rows[:50])  # a dense shard too
    model, _ = train_autoencoder(rows, hidden=10, epochs=1, batch_size=64, lr=0.5, progress=False,
                                 log=lambda msg: None)
    exporter.export(outputs=[model.x_hat], inputs=[model.x], path=str(tmp / "model.json"))
    return tmp, tmp / "model.json", rows


def outputs(out_dir: Path) -> dict[str, np.ndarray]:
    found = {}
    for name in sorted(os.listdir(out_dir)):
        with np.load(out_dir / name) as z:
            found[name] = z["x_hat"]
    return found


def test_every_way_of_scoring_gives_the_same_bits(scored_setup, dask_client, c_runtime: list[str]) -> None:
    tmp, model, rows = scored_setup
    data = str(tmp / "shards")
    runs = {}
    for label, kw in {"reference": {"runtime": "reference"}, "native": {"runtime": "native"},
                      "dask": {"runtime": "native", "dask": dask_client},
                      "small chunks": {"runtime": "reference", "chunk_rows": 7}}.items():
        res = score(str(model), data, str(tmp / label), log=lambda msg: None, **kw)
        assert len(res["scored"]) == 5 and res["rows"] == 750
        runs[label] = outputs(tmp / label)
    assert sorted(runs["reference"]) == [f"part-0000{i}.npz" for i in range(5)]
    for label, got in runs.items():
        for name, arr in got.items():
            assert same_bits(arr, runs["reference"][name]), (label, name)
    # the shards in file order are the data's rows; one run of the model over all of them agrees
    whole = exporter.load(str(model), runtime="reference").run({"x": rows})["x_hat"]
    stacked = np.concatenate([runs["reference"][f"part-0000{i}.npz"] for i in range(4)])
    assert same_bits(stacked, whole) and same_bits(runs["reference"]["part-00004.npz"], whole[:50])
    # and the C runtime's command line on a few rows
    inputs = tmp / "inputs.json"
    pick = rows[195:205]
    inputs.write_text(json.dumps({"inputs": {"x": {"shape": list(pick.shape), "data": pick.ravel().tolist()}}}))
    done = subprocess.run([*c_runtime, str(model), str(inputs)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[:300] + done.stderr[:300]
    (tmp / "c.json").write_text(done.stdout)
    c_out = read_tensors(tmp / "c.json", key="outputs")["x_hat"]
    assert same_bits(c_out, stacked[195:205])


def test_a_rerun_skips_finished_shards(scored_setup) -> None:
    tmp, model, _ = scored_setup
    out = tmp / "rerun"
    first = score(str(model), str(tmp / "shards"), str(out), runtime="reference", log=lambda msg: None)
    assert len(first["scored"]) == 5
    before = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    (out / "part-00002.npz").unlink()
    again = score(str(model), str(tmp / "shards"), str(out), runtime="reference", log=lambda msg: None)
    assert [os.path.basename(p) for p in again["scored"]] == ["part-00002.npz"] and len(again["skipped"]) == 4
    after = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    assert sorted(after) == sorted(before)  # no temporary file left behind
    assert all(after[n] == before[n] for n in before if n != "part-00002.npz")


def test_scoring_errors_are_clear(scored_setup, tmp_path: Path) -> None:
    tmp, model, _ = scored_setup
    from tessera.exporter.errors import ModelError
    from tessera.trainer.datasets.shards import ShardError

    with pytest.raises(ShardError, match="E_INPUT: no .npz or .npy shard matches"):
        score(str(model), str(tmp_path / "none-*.npz"), str(tmp_path / "o"), log=lambda msg: None)
    np.save(tmp_path / "wide.npy", np.zeros((3, 401), np.float32))
    with pytest.raises(ModelError, match=r"E_SHAPE: the model's input 'x' has shape"):
        score(str(model), str(tmp_path / "wide.npy"), str(tmp_path / "o"), log=lambda msg: None)
    assert not os.path.exists(tmp_path / "o" / "wide.npz")
