"""Backward passes and the cross-entropy gradient: central differences and PyTorch."""
import numpy as np
import pytest

import fastsoftmax as fs


def central_diff(f, x, eps=1e-6):
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((4, 3), 0), ((2, 3, 4), 1), ((6,), None)])
def test_softmax_backward_finite_differences(isa, shape, axis):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(shape)          # loss = sum(w * softmax(x))
    y = fs.softmax(x, axis=axis)
    got = fs.softmax_backward(w, y, axis=axis)
    want = central_diff(lambda v: np.sum(w * fs.softmax(v, axis=axis)), x.copy())
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8), f"isa={isa} shape={shape} axis={axis}"


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((4, 3), 0), ((2, 3, 4), 1), ((6,), None)])
def test_log_softmax_backward_finite_differences(isa, shape, axis):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(shape)
    lp = fs.log_softmax(x, axis=axis)
    got = fs.log_softmax_backward(w, lp, axis=axis)
    want = central_diff(lambda v: np.sum(w * fs.log_softmax(v, axis=axis)), x.copy())
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8), f"isa={isa} shape={shape} axis={axis}"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((3, 4, 2), 1), ((7,), 0)])
def test_cross_entropy_grad_finite_differences(isa, reduction, shape, axis):
    rng = np.random.default_rng(2)
    z = rng.standard_normal(shape) * 2
    sample_shape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    t = rng.integers(0, shape[axis], sample_shape)

    def total(v):   # "none": the gradient is that of the sum of per-sample losses
        return float(np.sum(fs.cross_entropy(v, t, axis=axis, reduction=reduction)))

    loss, grad = fs.cross_entropy_with_grad(z, t, axis=axis, reduction=reduction)
    assert np.allclose(np.sum(loss), total(z), rtol=1e-14)
    want = central_diff(total, z.copy())
    assert np.allclose(grad, want, rtol=1e-6, atol=1e-8), f"isa={isa} red={reduction} shape={shape}"
