"""Reconstruction sampling of the sparse binary auto-encoder: unbiased loss and gradient, the full
ones when K covers every zero, work that follows the ones and K rather than the width, training
as good as the full method, the CLI option, refused K and optimisers, and the full model exported.

The reference for the full loss and gradient is the trainer's own graph (`model.loss`, `T.grad`),
not the sampled code."""

import argparse
import io
import json

import numpy as np
import pytest
import scipy.sparse as sp

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import cli, datasets
from tessera.trainer import reconstruction_sampling as rs
from tessera.trainer.models.autoencoder import AutoEncoder
from tessera.trainer.training import train_autoencoder


def _batch(n, d, per_row, seed):
    """n rows of width d with exactly per_row ones each."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, d), np.float32)
    for r in range(n):
        x[r, rng.choice(d, per_row, replace=False)] = 1
    return x


def _full(model, x):
    """Full mean BCE and its gradient from the trainer's graph, float64 for a clean reference."""
    f = trainer.function([model.x], [model.loss] + T.grad(model.loss, model.params))
    out = f(x)
    return float(out[0]), {p.name: np.asarray(g, np.float64) for p, g in zip(model.params, out[1:], strict=True)}


def _model(d, nh, k, tied=True, seed=0, proposal="partner"):
    m = AutoEncoder(d, nh, tied=tied, seed=seed, reconstruction_sampling=k, sampling_proposal=proposal)
    rng = np.random.default_rng(seed + 7)  # biases away from 0, so every term of the gradient matters
    m.bh.set_value(rng.normal(0, 0.5, nh).astype(np.float32))
    m.bv.set_value(rng.normal(-1, 0.5, d).astype(np.float32))
    return m


@pytest.mark.parametrize("control_variate", [True, False])
@pytest.mark.parametrize(("proposal", "k"), [("partner", 3), ("uniform", 3)])
@pytest.mark.parametrize("tied", [True, False])
def test_mean_of_sampled_loss_and_gradient_is_the_full_one(tied, proposal, k, control_variate):
    """Over M draws the mean of each sampled quantity is within 5 standard errors (its empirical
    standard deviation / sqrt(M), plus float32 rounding) of the full value. Unit weights for the
    sampled zeros (a biased estimator) miss the full loss by hundreds of standard errors here.
    Rows share some ones (as the partner proposal's data do) and one row has none."""
    d, nh, draws = 30, 4, 4000
    x = _batch(5, d, 6, seed=1)
    x[1, :4] = x[3, :4] = x[4, :4] = 1
    x[2] = 0
    model = _model(d, nh, k, tied=tied, proposal=proposal)
    full_loss, full_grad = _full(model, x)
    step = rs.SampledSGD(model, model.sampler, 0.1, control_variate=control_variate)
    losses, grads = [], {name: [] for name in full_grad}
    for _ in range(draws):
        g = step.gradient(x)
        losses.append(float(g.loss))
        for name, v in g.dense(d, tied).items():
            grads[name].append(v.astype(np.float64))

    def check(samples, full, what):
        samples = np.asarray(samples)
        mean, sd = samples.mean(axis=0), samples.std(axis=0)
        tol = 5 * sd / np.sqrt(draws) + 1e-6 * np.max(np.abs(full)) + 1e-9
        bad = np.abs(mean - full) > tol
        assert not bad.any(), f"{what}: mean {mean[bad][:3]} vs full {np.asarray(full)[bad][:3]} (tol {tol[bad][:3]})"
        return sd
    sd = check(losses, full_loss, "loss")
    assert sd > 0  # the draws do vary: the test is not comparing the full step with itself
    for name in full_grad:
        check(grads[name], full_grad[name], f"gradient of {name}")
    # the same check rejects an estimator without the importance weights
    ones = rs.binary_pattern(x)
    biased = []
    for _ in range(200):
        s = step.sampler.draw(ones)
        s.weight[:] = 1
        biased.append(float(rs.sampled_gradient(model, ones, s).loss))
    assert abs(np.mean(biased) - full_loss) > 50 * np.std(biased) / np.sqrt(200)


@pytest.mark.parametrize("tied", [True, False])
def test_k_covering_every_zero_gives_the_full_loss_and_gradient(tied):
    """K >= the number of zeros of every row: every position is reconstructed with weight 1, so the
    loss and gradient are the full ones, within float32 rounding (the same terms summed in another
    order: not bit for bit)."""
    d, nh = 40, 6
    x = _batch(8, d, 5, seed=2)
    model = _model(d, nh, k=d, tied=tied)
    full_loss, full_grad = _full(model, x)
    g = model.train_function("sgd", 0.1).gradient(x)
    assert g.loss == pytest.approx(full_loss, rel=1e-6)
    for name, v in g.dense(d, tied).items():
        scale = np.max(np.abs(full_grad[name]))
        np.testing.assert_allclose(v, full_grad[name], rtol=0, atol=1e-5 * scale, err_msg=name)


@pytest.mark.parametrize("control_variate", [True, False])
def test_native_step_with_k_covering_every_zero_is_the_full_sgd_step(monkeypatch, control_variate):
    """The C step at K >= every row's zeros (and partners): params - lr x the trainer graph's full
    gradient, within float32 rounding."""
    from tessera.trainer import _sampled
    monkeypatch.setattr(rs, "native_kernels", lambda: _sampled)
    d, lr = 40, np.float32(2.0)
    x = _batch(8, d, 5, seed=2)
    model = _model(d, 6, k=d)
    _, full_grad = _full(model, x)
    before = model.get_params()
    rs.SampledSGD(model, model.sampler, float(lr), control_variate=control_variate)(sp.csr_matrix(x))
    for name, v in model.get_params().items():
        step = lr * full_grad[name]
        np.testing.assert_allclose(v - before[name], -step, rtol=0, atol=1e-5 * np.max(np.abs(step)), err_msg=name)


@pytest.mark.parametrize("tied", [True, False])
def test_work_per_step_follows_the_ones_and_k_not_the_width(tied):
    """Same ones per row at widths 5,000 and 50,000 (scipy CSR batches: nothing is scanned by
    width): the same number of reconstructed positions, and without the control variate at most
    ones + positions rows of the weights touched, every other row of W, column of W2 and entry of
    bv left as it was (the control variate's exact part is a rank-one term over every row)."""
    n, per_row, k, nh = 16, 10, 20, 8
    seen = {}
    for d in (5_000, 50_000):
        model = AutoEncoder(d, nh, tied=tied, seed=0, reconstruction_sampling=k)
        step = rs.SampledSGD(model, model.sampler, 50.0, control_variate=False)
        xd = _batch(n, d, per_row, seed=3)
        xd[:, :3] = 1  # ones shared by every row: never a partner's zero
        nnz = xd.sum(axis=1)
        x = sp.csr_matrix(xd)
        before = {p.name: p.get_value() for p in model.params}
        step(x)
        st = dict(step.last_stats)
        # each row: its ones, K uniform zeros, its partners' ones that are zeros of the row
        partners = model.sampler.partners
        assert nnz.sum() + n * k <= st["pairs"] <= nnz.sum() + n * (k + partners * (nnz.max() - 3))
        assert st["ones"] == nnz.sum()
        after = model.get_params()
        touched_w = np.flatnonzero((after["W"] != before["W"]).any(axis=1))
        touched_bv = np.flatnonzero(after["bv"] != before["bv"])
        assert 0 < len(touched_w) <= st["ones"] + (st["pairs"] if tied else 0)
        assert 0 < len(touched_bv) <= st["pairs"]
        if not tied:
            assert 0 < len(np.flatnonzero((after["W2"] != before["W2"]).any(axis=0))) <= st["pairs"]
        seen[d] = st["pairs"]
    assert abs(seen[5_000] - seen[50_000]) <= n * 2 * model.sampler.partners  # only the partners' overlaps differ


def test_training_reaches_the_full_methods_held_out_cross_entropy():
    """Small and fast: 6 epochs of SGD on synthetic sparse data with latent structure; the held-out
    reconstruction cross-entropy of the sampled method at most 5% above the full method's (the 2%
    target is the benchmark's, bench/train_sampling.py), and both far below the untrained one."""
    x = datasets.synthetic_sparse(n_samples=1200, n_features=1000, density=0.02, n_latent=8, seed=3)
    train, held_out = x[:1000], x[1000:]
    ce = {}
    for k in (None, 40):
        model, hist = train_autoencoder(train, hidden=16, epochs=6, batch_size=50, lr=300.0, seed=0,
                                        progress=False, reconstruction_sampling=k, stream=io.StringIO())
        assert hist.stopped is None
        ce[k] = model.cross_entropy(held_out)
    untrained = AutoEncoder(1000, 16, seed=0).cross_entropy(held_out)
    assert ce[None] < 0.2 * untrained
    assert ce[40] <= 1.05 * ce[None], ce  # as good as the full method (better passes)


def test_sparse_data_resume_is_exact(tmp_path):
    """scipy sparse training data; 3 epochs straight equal 2 + resume 1, bit for bit (the sampler's
    generator state is in the checkpoint)."""
    x = sp.csr_matrix(datasets.synthetic_sparse(n_samples=120, n_features=300, density=0.03, seed=1))
    kw = dict(hidden=6, batch_size=40, lr=100.0, seed=4, progress=False, reconstruction_sampling=7,
              corruption=0.2, stream=io.StringIO())
    a, _ = train_autoencoder(x, epochs=3, checkpoint=str(tmp_path / "a.npz"), **kw)
    train_autoencoder(x, epochs=2, checkpoint=str(tmp_path / "b.npz"), **kw)
    b, _ = train_autoencoder(x, epochs=3, checkpoint=str(tmp_path / "b.npz"), resume=True, **kw)
    for name, v in a.get_params().items():
        assert np.array_equal(v, b.get_params()[name]), name


def test_same_seed_same_run_other_seed_other_run():
    x = _batch(10, 200, 8, seed=5)
    runs = []
    for seed in (1, 1, 2):
        m = AutoEncoder(200, 5, seed=0, reconstruction_sampling=9)
        m.sampler = rs.ZeroSampler(9, seed)
        step = rs.SampledSGD(m, m.sampler, 10.0)
        runs.append([float(step(x)) for _ in range(3)])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_exported_model_is_the_full_autoencoder(tmp_path):
    """After sampled training, the exported x -> x_hat is the ordinary full reconstruction: every
    feature of the output, equal (float32 rounding) to sigmoid(sigmoid(x W + bh) W^T + bv)."""
    from tessera import exporter
    from tessera.exporter import model as exported
    x = datasets.synthetic_sparse(n_samples=64, n_features=120, density=0.05, seed=2)
    model, _ = train_autoencoder(x, hidden=5, epochs=2, batch_size=32, lr=50.0, progress=False,
                                 reconstruction_sampling=6, stream=io.StringIO())
    path = tmp_path / "ae.json"
    exporter.export(outputs=[model.x_hat], inputs=[model.x], path=str(path))
    out = exported.load(str(path), runtime="reference").run({"x": x[:4]})
    (y,) = out.values()
    p = {k: v.astype(np.float64) for k, v in model.get_params().items()}
    h = 1 / (1 + np.exp(-(x[:4] @ p["W"] + p["bh"])))
    want = 1 / (1 + np.exp(-(h @ p["W"].T + p["bv"])))
    assert y.shape == (4, 120)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def _args(**kw):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    argv = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else [flag, str(v)]
    return p.parse_args(argv)


def test_cli_option_trains_with_sampling_and_exports(tmp_path, capsys):
    data = tmp_path / "d.npy"
    np.save(data, datasets.synthetic_sparse(n_samples=100, n_features=400, density=0.02, seed=0))
    out = tmp_path / "m.json"
    args = _args(data=data, hidden=4, epochs=2, batch=50, lr=100.0, reconstruction_sampling=8,
                 out=out, no_progress=True)
    assert args.reconstruction_sampling == 8
    assert cli.main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["metadata"]["training"]["reconstruction_sampling"] == 8


@pytest.mark.parametrize("bad", [0, -3, 2.5, 3.0, "4", True])
def test_bad_k_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="reconstruction_sampling must be a positive integer"):
        AutoEncoder(50, 4, reconstruction_sampling=bad)


def test_unknown_proposal_or_bad_partner_count_is_refused_clearly():
    with pytest.raises(ValueError, match="proposal must be one of partner, uniform"):
        AutoEncoder(50, 4, reconstruction_sampling=3, sampling_proposal="smp")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="partners must be a positive integer"):
            rs.ZeroSampler(3, 0, "partner", partners=bad)


@pytest.mark.parametrize("bad", ["0", "-1"])
def test_cli_refuses_bad_k(tmp_path, capsys, bad):
    assert cli.main(_args(data="digits", hidden=4, epochs=1, reconstruction_sampling=bad)) == 2
    assert "reconstruction_sampling must be a positive integer" in capsys.readouterr().err


def test_cli_refuses_a_non_integer_k(capsys):
    with pytest.raises(SystemExit) as e:
        _args(reconstruction_sampling="2.5")
    assert e.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_momentum_and_adam_are_refused_sgd_works():
    m = AutoEncoder(50, 4, reconstruction_sampling=5)
    for opt in ("momentum", "nesterov", "adam"):
        with pytest.raises(ValueError, match="plain SGD"):
            m.train_function(opt, 0.1)
    assert np.isfinite(m.train_function("sgd", 0.1)(_batch(4, 50, 3, seed=0)))


def test_non_binary_or_misshapen_batches_are_refused():
    step = AutoEncoder(20, 3, reconstruction_sampling=2).train_function("sgd", 0.1)
    with pytest.raises(ValueError, match="binary"):
        step(np.full((2, 20), 0.5, np.float32))
    with pytest.raises(ValueError, match="binary"):
        step(sp.csr_matrix(np.full((2, 20), 2.0, np.float32)))
    with pytest.raises(ValueError, match="20"):
        step(np.zeros((2, 21), np.float32))


def test_sampled_zeros_are_zeros_of_their_row_drawn_uniformly():
    """Each row's pairs: its ones (target 1, weight 1) and K zeros of that row, drawn with
    replacement; over M draws every zero is drawn K / n0 times per draw on average (within 5
    standard errors of a Binomial(K, 1 / n0) count), with weight n0 / K. A row with no more than K
    zeros gets each of them once, weight 1."""
    d, k, draws = 25, 4, 3000
    x = _batch(3, d, 5, seed=9)
    x[2] = 0  # a row without ones
    x[2, [0, d - 1]] = 1  # ones at both ends
    x = np.vstack([x, np.ones((2, d), np.float32)])
    x[3, :6] = 0  # a few more zeros than K
    x[4, [3, 9, 20]] = 0  # no more zeros than K: all of them
    ones = rs.binary_pattern(x)
    sampler = rs.ZeroSampler(k, seed=0, proposal="uniform")
    counts = np.zeros_like(x)
    for _ in range(draws):
        s = sampler.draw(ones)
        for r in range(5):
            sl = slice(s.indptr[r], s.indptr[r + 1])
            c, t, w = s.cols[sl], s.target[sl], s.weight[sl]
            assert sorted(c[t == 1]) == list(np.flatnonzero(x[r])) and np.all(w[t == 1] == 1)
            z, wz = c[t == 0], w[t == 0]
            assert not x[r, z].any()
            if r == 4:
                assert sorted(z) == [3, 9, 20] and np.all(wz == 1)
                continue
            n0 = d - int(x[r].sum())
            assert len(z) == k
            np.testing.assert_allclose(wz, n0 / k, rtol=1e-7)
            np.add.at(counts[r], z, 1)
    p = 1 / (d - x[:4].sum(axis=1, keepdims=True))
    mean = counts[:4] / draws
    se = np.sqrt(k * p * (1 - p) / draws)
    zero = x[:4] == 0
    assert np.all(np.abs(mean - k * p)[zero] <= 5 * np.broadcast_to(se, mean.shape)[zero])


def _draw_inputs(seed):
    """A batch with an empty row, a row of all ones but 3 (fewer zeros than K) and shared ones,
    and the random numbers of one draw."""
    rng = np.random.default_rng(seed)
    d, k = 40, 5
    x = _batch(7, d, 6, seed=seed)
    x[1:4, :4] = 1
    x[2] = 0
    x[5] = 1
    x[5, [1, 7, 30]] = 0
    ones = rs.binary_pattern(x)
    n0 = d - np.diff(ones.indptr)
    ranks = rng.integers(0, np.maximum(n0, 1)[:, None], size=(len(x), k))
    return ones, k, ranks


@pytest.mark.parametrize("shifts", [[], [1], [3, 6], [1, 2, 5]])
def test_native_and_numpy_draw_the_same_sample(shifts):
    """The C draw and the numpy reference give the same pairs, targets and weights bit for bit,
    from the same random numbers (no shifts: the uniform proposal; else one partner per shift)."""
    from tessera.trainer import _sampled  # no skip: `make setup` builds it, its absence is a failure
    ones, k, ranks = _draw_inputs(seed=len(shifts))
    shifts = np.array(shifts, np.int64)
    a = rs.build_sample(ones, k, shifts, ranks, _sampled)
    b = rs.build_sample(ones, k, shifts, ranks, None)
    for name in ("indptr", "cols", "target", "weight"):
        va, vb = getattr(a, name), getattr(b, name)
        assert va.dtype == vb.dtype and np.array_equal(va, vb), name
    row5 = a.cols[a.indptr[5]:a.indptr[6]]  # 3 zeros, fewer than K: every position once
    assert sorted(row5) == list(range(40))


def _step_once(monkeypatch, native, control_variate, proposal, x, lr=20.0):
    monkeypatch.setattr(rs, "native_kernels", (lambda: native))
    model = _model(60, 5, k=7, proposal=proposal)
    step = rs.SampledSGD(model, model.sampler, lr, control_variate=control_variate)
    loss = step(x)
    return float(loss), model.get_params()


@pytest.mark.parametrize("control_variate", [True, False])
@pytest.mark.parametrize("proposal", ["partner", "uniform"])
def test_native_step_equals_the_numpy_step(monkeypatch, control_variate, proposal):
    """Same start, same draw: the C step and the numpy step give the same loss and parameters
    within float32 rounding (their dot products are summed in other orders), and both move the
    parameters far more than that."""
    from tessera.trainer import _sampled
    x = sp.csr_matrix(_batch(6, 60, 4, seed=4))
    loss_c, p_c = _step_once(monkeypatch, _sampled, control_variate, proposal, x)
    loss_n, p_n = _step_once(monkeypatch, None, control_variate, proposal, x)
    start = _model(60, 5, k=7).get_params()
    assert loss_c == pytest.approx(loss_n, rel=1e-5)
    for name in p_n:
        moved = np.max(np.abs(p_n[name] - start[name]))
        assert moved > 1e-3, name
        np.testing.assert_allclose(p_c[name], p_n[name], rtol=0, atol=1e-5 * moved, err_msg=name)


def test_native_kernels_refuse_bad_operands():
    """Indices outside the arrays, unsorted or out-of-range ranks, wrong dtypes: ValueError before
    any kernel runs (never a write out of bounds)."""
    from tessera.trainer import _sampled
    W = np.zeros((10, 4), np.float32)
    out = np.zeros((2, 4), np.float32)
    indptr = np.array([0, 1, 2], np.int64)
    with pytest.raises(ValueError, match="out of range"):
        _sampled.gather_sum(W, indptr, np.array([3, 10], np.int64), out, 4)
    with pytest.raises(ValueError, match="float32"):
        _sampled.gather_sum(W.astype(np.float64), indptr, np.array([3, 4], np.int64), out, 4)
    with pytest.raises(ValueError, match="out of range"):
        _sampled.scatter_values(np.zeros(10, np.float32), np.array([-1], np.int64), np.ones(1, np.float32))
    pairs = np.ones(2, np.float32)

    def decode_update(cols, entries=3 * 2 + 10):
        _sampled.decode_update(W, np.zeros(10, np.float32), None, None, out, indptr, cols, pairs, pairs, 1.0, -1.0,
                               np.zeros((2, 4), np.float32), np.zeros(4, np.float32), np.zeros(11, np.int64),
                               np.zeros(entries, np.int32))
    decode_update(np.array([3, 9], np.int64))  # valid operands pass
    with pytest.raises(ValueError, match="out of range"):
        decode_update(np.array([3, 10], np.int64))
    with pytest.raises(ValueError, match="inconsistent"):
        decode_update(np.array([3, 9], np.int64), entries=3 * 2 + 9)  # scratch too short
    ones, k, ranks = _draw_inputs(seed=0)
    n, d = ones.shape
    one = np.array([1], np.int64)
    bound = _sampled.draw_bound(ones.indptr, d, k, one)
    outs = (np.zeros(d, np.int32), np.empty(n + 1, np.int64), np.empty(bound, np.int64),
            np.empty(bound, np.float32), np.empty(bound, np.float32))
    bad = ranks.copy()
    bad[0, 0] = d
    with pytest.raises(ValueError, match="rank"):
        _sampled.draw(ones.indptr, ones.cols, d, k, one, bad, *outs)
    unsorted = ones.cols.copy()
    unsorted[[0, 1]] = unsorted[[1, 0]]
    with pytest.raises(ValueError, match="sorted"):
        _sampled.draw(ones.indptr, unsorted, d, k, one, ranks, *outs)
    with pytest.raises(ValueError, match="shorter"):
        _sampled.draw(ones.indptr, ones.cols, d, k, one, ranks, *outs[:2], outs[2][:3], *outs[3:])
    for shifts in ([0], [n], [2, 2]):
        with pytest.raises(ValueError, match="shifts"):
            _sampled.draw(ones.indptr, ones.cols, d, k, np.array(shifts, np.int64), ranks, *outs)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("tied", [True, False])
def test_sgd_step_applies_minus_lr_times_the_sampled_gradient(monkeypatch, tied, native):
    """The in-place step (rows scattered straight into W; tied with the C kernels, or numpy)
    equals params - lr * gradient (the numpy reference) for the same draw, within float32
    rounding."""
    from tessera.trainer import _sampled
    monkeypatch.setattr(rs, "native_kernels", (lambda: _sampled) if native else (lambda: None))
    d, lr = 60, np.float32(3.0)
    x = _batch(6, d, 4, seed=4)
    model = _model(d, 5, k=7, tied=tied)
    step = model.train_function("sgd", float(lr))
    state = step.sampler.get_state()
    g = step.gradient(x).dense(d, tied)
    before = model.get_params()
    step.sampler.set_state(state)
    step(x)
    for name, v in model.get_params().items():
        np.testing.assert_allclose(v, before[name] - lr * g[name], rtol=1e-6, atol=1e-6, err_msg=name)
