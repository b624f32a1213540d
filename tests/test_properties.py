"""Hypothesis properties: rows sum to 1, shift invariance, lse/log_softmax identities."""
import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import fastsoftmax as fs

dtypes = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40)


@st.composite
def arrays_and_axis(draw, lo=-50.0, hi=50.0):
    dtype = draw(dtypes)
    shape = draw(shapes)
    x = draw(hnp.arrays(dtype, shape, elements=st.floats(lo, hi, width=32)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return x, axis


@given(arrays_and_axis())
def test_rows_sum_to_one(case):
    x, axis = case
    y = fs.softmax(x, axis=axis)
    assert np.all(y >= 0) and np.all(y <= 1)
    tol = 1e-6 if x.dtype == np.float32 else 5e-14
    sums = y.astype(np.float64).sum(axis=axis)
    assert np.all(np.abs(sums - 1) <= tol), (x.shape, axis, np.abs(sums - 1).max())


@given(arrays_and_axis(), st.floats(-1000, 1000))
def test_shift_invariance(case, c):
    x, axis = case
    c = x.dtype.type(c)
    shifted = x + c
    # exactly representable shifts only: otherwise the input itself changes
    if not np.array_equal(shifted - c, x):
        return
    y, y2 = fs.softmax(x, axis=axis), fs.softmax(shifted, axis=axis)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert np.allclose(y, y2, rtol=tol, atol=tol * 1e-6)
    lse, lse2 = fs.logsumexp(x, axis=axis), fs.logsumexp(shifted, axis=axis)
    assert np.allclose(lse2 - lse, c, rtol=tol, atol=tol * max(1.0, abs(float(c))))


@given(arrays_and_axis())
def test_log_softmax_is_x_minus_logsumexp(case):
    x, axis = case
    lp = fs.log_softmax(x, axis=axis)
    lse = fs.logsumexp(x, axis=axis, keepdims=True)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert np.allclose(lp, x - lse, rtol=tol, atol=tol * 100)
    assert np.allclose(np.exp(lp.astype(np.float64)), fs.softmax(x, axis=axis), rtol=tol * 10,
                       atol=1e-30)


@given(arrays_and_axis(lo=-20, hi=20), st.data())
def test_cross_entropy_equals_minus_log_softmax_at_target(case, data):
    x, axis = case
    n_classes = x.shape[axis]
    sample_shape = tuple(s for i, s in enumerate(x.shape) if i != axis % x.ndim)
    t = data.draw(hnp.arrays(np.int64, sample_shape, elements=st.integers(0, n_classes - 1)))
    loss = fs.cross_entropy(x, t, axis=axis, reduction="none")
    lp = fs.log_softmax(x, axis=axis)
    picked = np.take_along_axis(lp, np.expand_dims(t, axis % x.ndim), axis=axis).squeeze(axis)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert np.allclose(loss, -picked, rtol=tol, atol=tol * 10)
    l2, g = fs.cross_entropy_with_grad(x, t, axis=axis, reduction="sum")
    assert np.allclose(g.sum(axis=axis), 0, atol=1e-5 if x.dtype == np.float32 else 1e-12)
