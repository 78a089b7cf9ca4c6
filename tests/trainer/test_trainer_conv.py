"""T.nnet.conv2d: Theano's semantics (border modes, subsample, filter_flip, filter_dilation,
num_groups) against PyTorch's conv2d in float64 (values and both gradients), verify_grad for
every option, float32 within a stated bound, and the build-time errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tessera.trainer.tensor as T
from tessera import trainer
from tessera.trainer import GraphError, ShapeError, verify_grad

# (input shape, filter shape, conv2d keyword arguments)
CASES = [
    ("valid", (2, 3, 7, 6), (4, 3, 3, 2), {}),
    ("full", (2, 3, 5, 6), (4, 3, 3, 2), {"border_mode": "full"}),
    ("half_odd", (2, 3, 6, 5), (4, 3, 3, 3), {"border_mode": "half"}),
    ("half_even", (1, 2, 6, 5), (3, 2, 2, 4), {"border_mode": "half"}),
    ("int", (2, 3, 5, 6), (2, 3, 3, 3), {"border_mode": 2}),
    ("tuple", (2, 3, 5, 6), (2, 3, 3, 3), {"border_mode": (1, 0)}),
    ("subsample", (2, 3, 7, 8), (4, 3, 3, 3), {"subsample": (2, 3)}),
    ("subsample_half", (2, 3, 7, 8), (4, 3, 3, 3), {"border_mode": "half", "subsample": (2, 2)}),
    ("dilation", (2, 2, 8, 7), (3, 2, 3, 2), {"filter_dilation": (2, 3)}),
    ("dilation_full", (1, 2, 6, 7), (3, 2, 3, 2), {"border_mode": "full", "filter_dilation": (2, 1)}),
    ("no_flip", (2, 3, 7, 6), (4, 3, 3, 2), {"filter_flip": False}),
    ("no_flip_all", (2, 3, 7, 8), (4, 3, 3, 3),
     {"filter_flip": False, "border_mode": (1, 2), "subsample": (2, 3), "filter_dilation": (2, 1)}),
    ("groups", (2, 4, 6, 5), (6, 2, 3, 3), {"border_mode": 1, "num_groups": 2}),
    ("depthwise", (2, 4, 6, 5), (8, 1, 3, 3), {"border_mode": "half", "num_groups": 4}),
    ("one_by_one", (3, 5, 4, 4), (2, 5, 1, 1), {}),
]


def torch_pads(kshape: tuple, kw: dict) -> tuple[int, int]:
    """Theano's border modes written out independently: full is the dilated extent - 1, half its half."""
    mode = kw.get("border_mode", "valid")
    dil = kw.get("filter_dilation", (1, 1))
    ext = [d * (k - 1) + 1 for k, d in zip(kshape[2:], dil, strict=True)]
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (ext[0] - 1, ext[1] - 1)
    if mode == "half":
        return (ext[0] // 2, ext[1] // 2)
    return (mode, mode) if isinstance(mode, int) else tuple(mode)


def torch_conv(x: torch.Tensor, w: torch.Tensor, kw: dict) -> torch.Tensor:
    # torch's conv2d is cross-correlation: Theano's default (filter_flip=True) flips the kernel
    wf = w.flip(2, 3) if kw.get("filter_flip", True) else w
    return torch.nn.functional.conv2d(x, wf, stride=kw.get("subsample", (1, 1)), padding=torch_pads(w.shape, kw),
                                      dilation=kw.get("filter_dilation", (1, 1)), groups=kw.get("num_groups", 1))


# Patch matrices wider than one block of the column-blocked products (see ops.conv.ColumnChunks):
# several blocks and a shorter last one, with groups and a stride too.
WIDE = [
    ("wide_blocks_tail", (5, 2, 12, 11), (3, 2, 3, 3), {"border_mode": "half"}),
    ("wide_groups_stride", (7, 4, 13, 12), (6, 2, 3, 3), {"border_mode": 1, "num_groups": 2, "subsample": (1, 2)}),
    ("wide_many_blocks", (9, 16, 6, 6), (32, 16, 3, 3), {"border_mode": "half"}),
    # few patch rows, many filters: one patch matrix per image (ops.conv.ImagePatches)
    ("by_image", (3, 1, 9, 10), (16, 1, 3, 3), {"border_mode": "half"}),
    ("by_image_groups", (2, 2, 7, 12), (8, 1, 3, 3), {"border_mode": "half", "num_groups": 2}),
    ("by_image_stride_dilation", (2, 1, 11, 20), (12, 1, 2, 3), {"subsample": (2, 1), "filter_dilation": (1, 2)}),
]


@pytest.mark.parametrize("name,xs,ws,kw", CASES + WIDE, ids=[c[0] for c in CASES + WIDE])
def test_values_and_gradients_equal_pytorch_in_float64(name, xs, ws, kw):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    a, b = rng.standard_normal(xs), rng.standard_normal(ws)
    x, w = T.tensor4("x", dtype="float64"), T.tensor4("w", dtype="float64")
    y = T.nnet.conv2d(x, w, **kw)
    proj = rng.standard_normal(torch_conv(torch.tensor(a), torch.tensor(b), kw).shape)
    cost = (y * proj).sum()
    got_y, got_gx, got_gw = trainer.function([x, w], [y, *T.grad(cost, [x, w])])(a, b)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ty = torch_conv(ta, tb, kw)
    (ty * torch.tensor(proj)).sum().backward()
    assert got_y.shape == tuple(ty.shape)
    np.testing.assert_allclose(got_y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_gx, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_gw, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_both_patch_layouts_are_exercised():
    from tessera.trainer.ops.conv import by_image, geometry

    def layout(xs, ws, kw):
        border = {"valid": (0, 0)}.get(kw.get("border_mode", "valid"), kw.get("border_mode"))
        attrs = {"border": (border, border) if isinstance(border, int) else border,
                 "subsample": kw.get("subsample", (1, 1)), "dilation": kw.get("filter_dilation", (1, 1)),
                 "groups": kw.get("num_groups", 1)}
        return by_image(geometry(attrs, xs, ws))
    used = {layout(xs, ws, kw) for _name, xs, ws, kw in CASES + WIDE}
    assert used == {True, False}


def test_static_shape_matches_the_computed_one():
    for _name, xs, ws, kw in CASES:
        y = T.nnet.conv2d(T.tensor4(shape=(None, *xs[1:])), trainer.shared(np.zeros(ws, np.float32)), **kw)
        want = torch_conv(torch.zeros(xs), torch.zeros(ws), kw).shape
        assert y.shape == (None, *want[1:])


@pytest.mark.parametrize("name,xs,ws,kw", CASES, ids=[c[0] for c in CASES])
def test_verify_grad(name, xs, ws, kw):
    rng = np.random.default_rng(7)
    small = lambda s: tuple(min(d, 3) if i == 0 else d for i, d in enumerate(s))  # noqa: E731
    verify_grad(lambda x, w: T.nnet.conv2d(x, w, **kw), [rng.standard_normal(small(xs)), rng.standard_normal(ws)],
                rng=np.random.default_rng(0))


def test_float32_within_the_summation_bound():
    """float32 throughout: each output within 2*gamma_K * sum|x*w| (K = the products summed, u = 2^-24) of the
    exact value, the bound of any summation order (BLAS's here)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((16, 8, 9, 9)).astype(np.float32)
    b = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    x = T.tensor4("x")
    w = trainer.shared(b)
    y = T.nnet.conv2d(x, w, border_mode="half")
    got = trainer.function([x], y)(a)
    assert got.dtype == np.float32
    kw = {"border_mode": "half"}
    exact = torch_conv(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), kw).numpy()
    mag = torch_conv(torch.tensor(np.abs(a), dtype=torch.float64), torch.tensor(np.abs(b), dtype=torch.float64),
                     kw).numpy()
    k = 8 * 3 * 3
    u = 2.0 ** -24
    assert np.all(np.abs(got - exact) <= 2 * (k * u / (1 - k * u)) * mag)


def test_a_symbolic_batch_plans_per_batch_size():
    w = trainer.shared(np.ones((2, 1, 2, 2), np.float32))
    x = T.tensor4("x")
    f = trainer.function([x], T.nnet.conv2d(x, w))
    for n in (1, 5, 3):
        assert f(np.ones((n, 1, 3, 3), np.float32)).shape == (n, 2, 2, 2)
    assert np.all(f(np.ones((2, 1, 3, 3), np.float32)) == 4)


def test_filter_flip_is_true_convolution():
    """A one-hot input at the centre returns the kernel itself with filter_flip (convolution of a delta),
    the kernel rotated by 180 degrees without it."""
    k = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    delta = np.zeros((1, 1, 3, 3), np.float32)
    delta[0, 0, 1, 1] = 1
    x = T.tensor4("x")
    conv = trainer.function([x], T.nnet.conv2d(x, trainer.shared(k), border_mode="half"))
    corr = trainer.function([x], T.nnet.conv2d(x, trainer.shared(k), border_mode="half", filter_flip=False))
    assert np.array_equal(conv(delta), k)
    assert np.array_equal(corr(delta), k[:, :, ::-1, ::-1])


def bad(fn, exc=GraphError):
    with pytest.raises(exc) as info:
        fn()
    assert "test_trainer_conv.py" in str(info.value), str(info.value)  # names the user's line
    return str(info.value)


def test_build_time_errors_name_the_line():
    x = T.tensor4("x", shape=(None, 3, 8, 8))
    w = trainer.shared(np.zeros((4, 3, 3, 3), np.float32))
    assert "expect 6" in bad(lambda: T.nnet.conv2d(x, trainer.shared(np.zeros((4, 6, 3, 3), np.float32))),
                             ShapeError)
    assert "num_groups=2" in bad(lambda: T.nnet.conv2d(x, w, num_groups=2), ShapeError)
    assert "larger than the padded input" in bad(
        lambda: T.nnet.conv2d(T.tensor4(shape=(1, 3, 2, 8)), w), ShapeError)
    assert "border_mode" in bad(lambda: T.nnet.conv2d(x, w, border_mode="same"))
    assert "subsample" in bad(lambda: T.nnet.conv2d(x, w, subsample=(0, 1)))
    assert "filter_dilation" in bad(lambda: T.nnet.conv2d(x, w, filter_dilation=2.0))
    assert "unshared" in bad(lambda: T.nnet.conv2d(x, w, unshared=True))
    assert "4-d" in bad(lambda: T.nnet.conv2d(T.matrix(), w), ShapeError)
    assert "filter_shape" in bad(lambda: T.nnet.conv2d(x, w, filter_shape=(4, 3, 5, 5)), ShapeError)
    assert "input_shape" in bad(lambda: T.nnet.conv2d(x, w, input_shape=(None, 2, 8, 8)), ShapeError)
    T.nnet.conv2d(x, w, input_shape=(None, 3, 8, 8), filter_shape=(4, 3, 3, 3))  # agreeing hints are fine


@pytest.mark.parametrize("xs,ws", [((4, 3, 6, 5), (5, 3, 3, 3)), ((4, 1, 9, 10), (16, 1, 3, 3))],
                         ids=["batch_last", "by_image"])
def test_filters_gradient_reuses_the_forward_patches_of_this_call(xs, ws, monkeypatch):
    """The filters' gradient takes the patch matrix the forward kernel built in the same call (one
    im2col per call), and still sees new values in an input array refilled in place, and keeps
    two layers of the same geometry apart."""
    from tessera.trainer.ops import conv as conv_ops

    calls = []
    for cls in (conv_ops.Patches, conv_ops.ImagePatches):
        monkeypatch.setattr(cls, "im2col", lambda self, x, f=cls.im2col: calls.append(1) or f(self, x))
    rng = np.random.default_rng(4)
    w1 = trainer.shared(rng.standard_normal(ws), name="w1")
    w2 = trainer.shared(rng.standard_normal(ws), name="w2")
    x1, x2 = T.tensor4("x1", dtype="float64"), T.tensor4("x2", dtype="float64")
    y1, y2 = T.nnet.conv2d(x1, w1, border_mode="half"), T.nnet.conv2d(x2, w2, border_mode="half")
    cost = (y1 * y1).sum() + (y2 * 3.0).sum()
    f = trainer.function([x1, x2], T.grad(cost, [w1, w2]))
    buf1, buf2 = rng.standard_normal(xs), rng.standard_normal(xs)
    for _ in range(2):
        calls.clear()
        got = f(buf1, buf2)
        assert len(calls) == 2  # one per layer: the gradients reused them
        t1, t2 = torch.tensor(buf1), torch.tensor(buf2)
        tw1, tw2 = (torch.tensor(v.get_value(), requires_grad=True) for v in (w1, w2))
        kw = {"border_mode": "half"}
        ((torch_conv(t1, tw1, kw) ** 2).sum() + (torch_conv(t2, tw2, kw) * 3.0).sum()).backward()
        np.testing.assert_allclose(got[0], tw1.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[1], tw2.grad.numpy(), rtol=1e-12, atol=1e-12)
        buf1[...] = rng.standard_normal(xs)  # refilled in place: the next call must see it
