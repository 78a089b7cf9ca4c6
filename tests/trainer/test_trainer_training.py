"""Training loop, checkpoints (atomic, exact resume, nan stop), datasets and the CLI."""

import argparse
import io
import os

import numpy as np
import pytest

from tessera.trainer import cli, datasets
from tessera.trainer.models.autoencoder import AutoEncoder
from tessera.trainer.training import load_checkpoint, train_autoencoder

X = datasets.load_digits()[:600]


def _train(**kw):
    kw.setdefault("stream", io.StringIO())
    return train_autoencoder(X, hidden=16, epochs=3, batch_size=64, lr=0.5, seed=7, progress=False, **kw)


@pytest.mark.parametrize("optimizer,extra", [("sgd", {}), ("adam", {"corruption": 0.3}), ("momentum", {})])
def test_resume_is_bit_identical(tmp_path, optimizer, extra):
    full, _ = _train(optimizer=optimizer, **extra)
    ck = str(tmp_path / "ck.npz")
    _, h1 = _train(optimizer=optimizer, checkpoint=ck, checkpoint_every=4, stop_after_steps=14, **extra)
    assert h1.stopped == "interrupted"
    meta, _, _ = load_checkpoint(ck)
    assert (meta["epoch"], meta["step"]) == (1, 2)  # mid-epoch: 10 steps per epoch, saved at step 12
    resumed, h2 = _train(optimizer=optimizer, checkpoint=ck, resume=True, **extra)
    assert h2.stopped is None and len(h2.epoch_loss) == 3
    for a, b in zip(full.params + full.opt_state, resumed.params + resumed.opt_state, strict=True):
        assert np.array_equal(a.get_value(), b.get_value())


def test_resume_refuses_other_settings(tmp_path):
    ck = str(tmp_path / "ck.npz")
    _train(checkpoint=ck)
    with pytest.raises(ValueError, match="hidden"):
        train_autoencoder(X, hidden=8, epochs=3, batch_size=64, lr=0.5, seed=7, progress=False,
                          checkpoint=ck, resume=True, stream=io.StringIO())


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    ck = str(tmp_path / "ck.npz")
    _train(checkpoint=ck)
    before = open(ck, "rb").read()
    out = io.StringIO()
    # finite data, a learning rate that diverges: the message says the data is not the cause
    _, hist = train_autoencoder(X * 1e18, hidden=16, epochs=2, batch_size=64, lr=1e30, seed=7, progress=False,
                                checkpoint=ck, stream=out)
    assert hist.stopped and "stopping" in out.getvalue() and "last good checkpoint kept" in out.getvalue()
    assert "the data is finite; try a smaller --lr" in out.getvalue()
    assert open(ck, "rb").read() == before
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_non_finite_data_is_refused_up_front():
    bad = X.copy()
    bad[5, 3] = np.inf
    with pytest.raises(ValueError, match=r"inf at row 5, column 3"):
        train_autoencoder(bad, hidden=16, epochs=1, progress=False, stream=io.StringIO())


def test_progress_is_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    train_autoencoder(X, hidden=16, epochs=2, batch_size=64, lr=0.5, seed=7, progress=True, stream=out)
    text = out.getvalue()
    assert "\r" not in text and text.count("epoch ") >= 2 and all(line for line in text.splitlines())


def test_loss_falls_and_reconstruct():
    model, hist = _train()
    assert hist.epoch_loss[-1] < hist.epoch_loss[0]
    r = model.reconstruct(X[:5])
    assert r.shape == (5, 64) and r.dtype == np.float32 and np.all((r > 0) & (r < 1))
    assert model.x.name == "x" and model.x_hat.name == "x_hat"


def test_untied_model():
    m = AutoEncoder(64, 8, tied=False)
    assert [p.name for p in m.params] == ["W", "bh", "bv", "W2"]
    f = m.train_function("sgd", 0.5)
    l0 = float(f(X[:64]))
    for _ in range(30):
        l1 = float(f(X[:64]))
    assert l1 < l0


def test_datasets(tmp_path):
    x, y = datasets.load_digits(with_labels=True)
    assert x.shape == (1797, 64) and set(np.unique(x)) == {0.0, 1.0} and len(y) == 1797
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "a.npz", x=a)
    np.savetxt(tmp_path / "a.csv", a, delimiter=",", header="p,q,r,s", comments="")
    for name in ("a.npy", "a.npz", "a.csv"):
        got = datasets.load(str(tmp_path / name))
        assert got.dtype == np.float32 and np.array_equal(got, a)
    s = datasets.synthetic_sparse(n_samples=300, n_features=5000, density=0.01, seed=1)
    assert s.shape == (300, 5000) and set(np.unique(s)) <= {0.0, 1.0}
    assert 0.005 < s.mean() < 0.02
    assert np.array_equal(s, datasets.synthetic_sparse(n_samples=300, n_features=5000, density=0.01, seed=1))
    batches = list(datasets.minibatches(a, 2, rng=np.random.default_rng(0)))
    assert [len(b) for b in batches] == [2, 1]
    assert sorted(np.concatenate(batches)[:, 0]) == [0, 4, 8]
    with pytest.raises(FileNotFoundError):
        datasets.load("no-such-file.npy")


def test_scipy_sparse_npz(tmp_path):
    sp = pytest.importorskip("scipy.sparse", reason="scipy not installed: sparse .npz loading skipped")
    m = sp.random(20, 50, density=0.05, format="csr", random_state=0)
    sp.save_npz(tmp_path / "s.npz", m)
    assert np.allclose(datasets.load(str(tmp_path / "s.npz")), m.toarray())


def _args(**kw):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    argv = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else [flag, str(v)]
    return p.parse_args(argv)


def test_cli_train_resume_and_export_fallback(tmp_path, capsys):
    ck = str(tmp_path / "ck.npz")
    out = str(tmp_path / "model.json")
    rc = cli.main(_args(epochs=2, hidden=8, checkpoint=ck, no_progress=True, out=out))
    assert rc == 0 and os.path.exists(ck)
    err = capsys.readouterr().err
    assert "epoch 2/2 loss" in err
    assert os.path.exists(out) or "exporter is unavailable" in err
    rc = cli.main(_args(epochs=3, hidden=8, checkpoint=ck, resume=True, no_progress=True))
    assert rc == 0 and "resumed" in capsys.readouterr().err
    assert cli.main(_args(resume=True)) == 2


def test_cli_refuses_non_finite_data_naming_the_row(tmp_path, capsys):
    bad = X[:100].copy()
    bad[42, 7] = np.nan
    path = str(tmp_path / "bad.npy")
    np.save(path, bad)
    assert cli.main(_args(data=path, epochs=1, hidden=4)) == 2
    err = capsys.readouterr().err
    assert "nan at row 42, column 7" in err and "\r" not in err


def test_cli_says_when_the_loss_plateaus(tmp_path, capsys):
    path = str(tmp_path / "d.npy")
    np.save(path, X[:200])
    assert cli.main(_args(data=path, epochs=2, hidden=4, lr=1e-6, no_progress=True)) == 0
    err = capsys.readouterr().err
    assert "the loss barely moved" in err and "--optimizer adam" in err
    assert cli.main(_args(data=path, epochs=3, hidden=8, lr=1.0, optimizer="adam", no_progress=True)) == 0
    assert "barely moved" not in capsys.readouterr().err


def _denoising(tmp_path, epochs, resume=False, **kw):
    return train_autoencoder(X, hidden=16, epochs=epochs, batch_size=64, lr=0.5, seed=3, progress=False,
                             corruption=0.3, checkpoint=str(tmp_path / "dA.npz"), resume=resume,
                             stream=io.StringIO(), **kw)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_denoising_resume_restores_the_random_stream(tmp_path, optimizer):
    """N epochs straight == N/2, then --resume for N/2, bit for bit: the mask's generator state
    is in the checkpoint."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    full, hf = _denoising(tmp_path / "a", 4, optimizer=optimizer)
    _denoising(tmp_path / "b", 2, optimizer=optimizer)
    meta, _, _ = load_checkpoint(str(tmp_path / "b" / "dA.npz"))
    assert len(meta["random_streams"]) == 1 and meta["random_streams"][0]["draws"]
    resumed, hr = _denoising(tmp_path / "b", 4, resume=True, optimizer=optimizer)
    assert hr.epoch_loss == hf.epoch_loss
    for a, b in zip(full.params + full.opt_state, resumed.params + resumed.opt_state, strict=True):
        assert a.get_value().tobytes() == b.get_value().tobytes()


def test_denoising_resume_without_the_stream_state_differs(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    full, _ = _denoising(tmp_path / "a", 4)
    _denoising(tmp_path / "b", 2)
    from tessera.trainer.tensor.shared_randomstreams import RandomStreams
    monkeypatch.setattr(RandomStreams, "set_state", lambda self, state: None)  # a fresh stream instead
    resumed, _ = _denoising(tmp_path / "b", 4, resume=True)
    assert not np.array_equal(full.W.get_value(), resumed.W.get_value())


def test_denoising_mask_is_drawn_in_the_graph():
    m = AutoEncoder(64, 8, corruption=0.25, seed=1)
    assert m.inputs == [m.x] and len(m.random_streams) == 1
    from tessera import trainer
    f = trainer.function([m.x], m.x_tilde)
    ones = np.ones((400, 64), np.float32)
    a, b = f(ones), f(ones)
    assert set(np.unique(a)) <= {0.0, 1.0} and abs(float((a == 0).mean()) - 0.25) < 0.02
    assert not np.array_equal(a, b)  # a new mask per call


def test_cli_denoising_resume_is_exact(tmp_path, capsys):
    ck_a, ck_b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    base = dict(hidden=8, corruption=0.2, no_progress=True)
    assert cli.main(_args(epochs=4, checkpoint=ck_a, **base)) == 0
    assert cli.main(_args(epochs=2, checkpoint=ck_b, **base)) == 0
    assert cli.main(_args(epochs=4, checkpoint=ck_b, resume=True, **base)) == 0
    _, pa, oa = load_checkpoint(ck_a)
    _, pb, ob = load_checkpoint(ck_b)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(pa + oa, pb + ob, strict=True))
