"""PyTorch as the oracle for values and gradients; skipped when torch is not installed."""
import numpy as np
import pytest

import fastsoftmax as fs

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (8, 10), (33, 17), (4, 1000), (2, 32000)])
def test_cross_entropy_matches_torch(isa, reduction, dtype, shape):
    rng = np.random.default_rng(3)
    z = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    zt = torch.from_numpy(z.copy()).requires_grad_(True)
    tl = F.cross_entropy(zt, torch.from_numpy(t), reduction=reduction)
    tl.sum().backward()
    loss, grad = fs.cross_entropy_with_grad(z, t, reduction=reduction)
    loss_only = fs.cross_entropy(z, t, reduction=reduction)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    what = f"isa={isa} red={reduction} dtype={np.dtype(dtype)} shape={shape}"
    want = tl.detach().numpy()
    assert np.allclose(loss, want, rtol=rtol, atol=rtol), what
    assert np.allclose(loss_only, want, rtol=rtol, atol=rtol), what
    assert np.allclose(grad, zt.grad.numpy(), rtol=rtol, atol=rtol * 1e-3), what


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_cross_entropy_class_axis_matches_torch(isa, dim):
    """torch's (N, C, d1) layout is axis=1 here; other axes by moving the class axis."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((3, 4, 5))
    n_classes = z.shape[dim]
    sample_shape = tuple(s for i, s in enumerate(z.shape) if i != dim)
    t = rng.integers(0, n_classes, sample_shape)
    zt = torch.from_numpy(np.moveaxis(z, dim, 1).copy()).requires_grad_(True)
    tl = F.cross_entropy(zt, torch.from_numpy(t.copy()))
    tl.backward()
    loss, grad = fs.cross_entropy_with_grad(z, t, axis=dim)
    assert np.allclose(loss, tl.item(), rtol=1e-13)
    assert np.allclose(np.moveaxis(grad, dim, 1), zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_ops_match_torch(isa, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((16, 300)) * 4).astype(dtype)
    g = rng.standard_normal((16, 300)).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y = torch.softmax(xt, dim=-1)
    y.backward(torch.from_numpy(g))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(fs.softmax(x), y.detach().numpy(), rtol=rtol, atol=1e-30)
    got = fs.softmax_backward(g, fs.softmax(x))
    assert np.allclose(got, xt.grad.numpy(), rtol=rtol, atol=rtol * 1e-2)
    xt2 = torch.from_numpy(x.copy()).requires_grad_(True)
    lp = torch.log_softmax(xt2, dim=-1)
    lp.backward(torch.from_numpy(g))
    assert np.allclose(fs.log_softmax(x), lp.detach().numpy(), rtol=rtol, atol=rtol)
    got = fs.log_softmax_backward(g, fs.log_softmax(x))
    assert np.allclose(got, xt2.grad.numpy(), rtol=rtol, atol=rtol * 10)
    assert np.allclose(fs.logsumexp(x), torch.logsumexp(torch.from_numpy(x), -1).numpy(), rtol=rtol)
