"""The active backend against fastsoftmax.reference, over dtype x shape x axis x layout x ISA."""
import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from conftest import WIDTHS, layouts
from _util import EQUIV, assert_close

UNARY = ["softmax", "log_softmax", "logsumexp"]


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 4).astype(dtype)


def _compare(name, got, want, dtype, what):
    rtol = EQUIV[dtype]
    if name == "softmax":
        tiny = np.finfo(dtype).tiny * 1e3
        assert_close(got, want, rtol, atol=tiny, what=what)
    else:
        assert_close(got, want, rtol, scale=np.maximum(1.0, np.abs(want)), what=what)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("width", WIDTHS)
def test_unary_widths(isa, dtype, name, width):
    x = _data((3, width), dtype, width)
    what = f"{name} isa={isa} dtype={dtype} shape={x.shape}"
    got = getattr(fs, name)(x)
    want = getattr(ref, name)(x)
    assert got.dtype == dtype, what
    _compare(name, got, want, dtype, what)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape,axis", [
    ((0, 5), -1), ((5, 0), 0), ((1, 1), -1), ((7,), 0), ((7,), None),
    ((4, 5, 6), 0), ((4, 5, 6), 1), ((4, 5, 6), 2), ((4, 5, 6), -2), ((4, 5, 6), None),
    ((2, 3, 4, 5), 2), ((6, 33), 0), ((33, 6), None),
])
def test_unary_axes_layouts(isa, dtype, name, shape, axis):
    base = _data(shape, dtype, 7)
    want = getattr(ref, name)(base, axis=axis)
    for lname, x in layouts(base):
        what = f"{name} isa={isa} dtype={dtype} shape={shape} axis={axis} layout={lname}"
        got = getattr(fs, name)(x, axis=axis)
        assert np.shape(got) == np.shape(want), what
        _compare(name, got, want, dtype, what)


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@pytest.mark.parametrize("shape,axis", [
    ((3, 1), -1), ((3, 7), -1), ((3, 16), -1), ((3, 33), -1), ((2, 1000), -1),
    ((1, 32000), -1), ((4, 5, 6), 1), ((4, 5, 6), None), ((0, 4), -1),
])
def test_backward(isa, dtype, name, shape, axis):
    g = _data(shape, dtype, 1)
    x = _data(shape, dtype, 2)
    y = (fs.softmax if name == "softmax_backward" else fs.log_softmax)(x, axis=axis)
    want = getattr(ref, name)(g, y, axis=axis)
    scale = np.max(np.abs(want)) if want.size else 1.0
    for (lg, gl), (ly, yl) in zip(layouts(g), layouts(y)):
        what = f"{name} isa={isa} dtype={dtype} shape={shape} axis={axis} layouts={lg},{ly}"
        got = getattr(fs, name)(gl, yl, axis=axis)
        assert got.dtype == dtype, what
        assert_close(got, want, EQUIV[dtype], atol=EQUIV[dtype] * scale, what=what)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,axis", [
    ((5, 1), -1), ((5, 3), -1), ((3, 17), -1), ((4, 33), 1), ((3, 1000), -1),
    ((2, 32000), -1), ((2, 5, 3), 1), ((2, 5, 3), 0), ((6,), 0), ((0, 4), -1),
])
def test_cross_entropy(isa, dtype, reduction, shape, axis):
    base = _data(shape, dtype, 3)
    n_classes = shape[axis]
    sample_shape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    rng = np.random.default_rng(4)
    target = rng.integers(0, n_classes, size=sample_shape)
    want = ref.cross_entropy(base, target, axis=axis, reduction=reduction)
    want_l, want_g = ref.cross_entropy_with_grad(base, target, axis=axis, reduction=reduction)
    factor = 1.0 / max(1, target.size) if reduction == "mean" else 1.0
    g_scale = np.maximum(np.abs(want_g), factor * ref.softmax(base, axis=axis))
    for lname, x in layouts(base):
        what = f"CE isa={isa} dtype={dtype} shape={shape} axis={axis} red={reduction} layout={lname}"
        got = fs.cross_entropy(x, target, axis=axis, reduction=reduction)
        assert np.asarray(got).dtype == dtype, what
        assert_close(got, want, EQUIV[dtype], scale=np.maximum(1, np.abs(want)), what=what)
        got_l, got_g = fs.cross_entropy_with_grad(x, target, axis=axis, reduction=reduction)
        assert_close(got_l, want_l, EQUIV[dtype], scale=np.maximum(1, np.abs(want_l)), what=what)
        assert got_g.dtype == dtype and got_g.shape == shape, what
        # the contract's bound: error / max(p, |p - onehot|), times the row's factor
        # (the target entry p_t - 1 is held to EQUIV of |p_t - 1| + p_t, not of itself)
        assert_close(got_g, want_g, EQUIV[dtype], atol=1e-30, scale=g_scale, what=what + " grad")


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@pytest.mark.parametrize("n", [7, 100, 70_000])
@pytest.mark.parametrize("axis", [-1, 0])
def test_backward_sum_infinite_or_past_the_float_max(isa, dtype, name, n, axis):
    """A gradient sum that is inf or past the dtype's max: exp(logp) underflows to 0 in
    float32 (exp(-745)), and 0 * inf would be NaN where the reference (in float64) has
    -inf; a float32 sum past FLT_MAX must not round to inf before it is scaled.  Rows
    short, long, and long enough to be split between threads; and columns."""
    big = np.finfo(dtype).max
    lp = np.array([-745.0, -200.0, -120.0, -103.0, -50.0, -1.0, 0.0, -np.inf], dtype)
    rows = []
    for fill in (np.inf, -np.inf, big):
        g = np.zeros(n, dtype)
        g[n // 2], g[-1] = fill, (fill if fill == big else 0)
        rows.append(g)
    g = np.stack(rows)
    if name == "softmax_backward":
        b = np.resize(np.array([0.0, 0.25, 1e-30, 1.0, 0.5], dtype), g.shape)
    else:
        b = np.resize(lp, g.shape)
    if axis == 0:
        g, b = np.ascontiguousarray(g.T), np.ascontiguousarray(b.T)
    for nt in (1, 2):
        got = getattr(fs, name)(g, b, axis=axis, n_threads=nt)
        want = getattr(ref, name)(g, b, axis=axis)
        assert_close(got, want, EQUIV[dtype], atol=1e-30, what=f"{name} n={n} axis={axis} nt={nt}")


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
def test_backward_columns_with_an_infinite_grad(isa, dtype, name):
    """A column whose sum is inf: the TwoSum error of an infinite lane sum is NaN and must
    not make the whole column NaN where the reference has -inf."""
    g = np.zeros((5, 5, 16), dtype)
    g[4, 4, 5] = np.inf
    g[1, 2, 3] = -np.inf
    y = np.zeros_like(g) if name == "log_softmax_backward" else np.full_like(g, 0.25)
    got = getattr(fs, name)(g, y, axis=0)
    want = getattr(ref, name)(g, y, axis=0)
    assert np.array_equal(got, want, equal_nan=True), (got[:, 4, 5], want[:, 4, 5])
