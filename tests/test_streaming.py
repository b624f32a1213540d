"""Outputs of FS_STREAM_BYTES (32 MiB) or more are written with non-temporal stores
(csrc/body_simd.inc: softmax, log_softmax and the backward ops of rows that fit L2,
the cross-entropy gradient of long rows; the long-row path's writes).  The streamed
results must be bitwise those of the cached path, which smaller calls (the same
rows a slice at a time) take: in place, into an output whose rows start off the
vector alignment, and with non-finite rows among them."""
import numpy as np
import pytest

import fastsoftmax as fs

pytestmark = pytest.mark.skipif(fs.backend != "c", reason="kernel paths of the compiled backend")

STREAM_BYTES = 32 << 20     # of the compute type: a half type's output streams from 8 Mi elements
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
DTYPES = [pytest.param(np.dtype(np.float32), id="f32"), pytest.param(np.dtype(np.float64), id="f64"),
          pytest.param(np.dtype(np.float16), id="f16"),
          pytest.param(np.dtype(ml_dtypes.bfloat16) if ml_dtypes else None, id="bf16",
                       marks=pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes"))]


def _rows(cols, dtype, extra):
    return STREAM_BYTES // (cols * max(np.dtype(dtype).itemsize, 4)) + extra


def _long(dtype):
    """Columns past the in-cache limit (1 MiB of a row) for this dtype."""
    return 270000 if np.dtype(dtype).itemsize >= 4 else 600000


def _logits(rows, cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 4).astype(dtype)
    x[3, 5] = -np.inf          # a wide row (exp's whole-range path)
    x[7, :] = -6e4 if np.dtype(dtype) == np.float16 else -1e30   # all equal: uniform
    x[11, 2] = np.nan          # NaN among finite values: a NaN row
    return x


def _sliced(fn, x, step=64):
    return np.concatenate([fn(x[i:i + step]) for i in range(0, x.shape[0], step)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("cols", [1000, None], ids=["in_cache", "long_rows"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_output_is_the_cached_result(isa, dtype, cols, name):
    fn = getattr(fs, name)
    cols = cols or _long(dtype)
    rows = _rows(cols, dtype, 8)
    x = _logits(rows, cols, dtype)
    expected = _sliced(lambda a: fn(a, n_threads=1), x, step=rows // 4)
    got = fn(x, n_threads=1)
    np.testing.assert_array_equal(got, expected)
    # rows starting one element past the vector alignment, through out=
    buf = np.empty(rows * cols + 1, dtype=dtype)
    out = buf[1:].reshape(rows, cols)
    fn(x, out=out, n_threads=1)
    np.testing.assert_array_equal(out, expected)
    # in place
    y = x.copy()
    fn(y, out=y, n_threads=1)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("dtype", [DTYPES[0], DTYPES[2], DTYPES[3]])
def test_streamed_gradient_is_the_cached_result(isa, dtype):
    cols = 8192
    rows = _rows(cols, dtype, 2)
    x = _logits(rows, cols, dtype, seed=1)
    t = np.random.default_rng(2).integers(0, cols, rows)
    loss_parts, grad_parts = [], []
    for i in range(0, rows, 16):
        l, g = fs.cross_entropy_with_grad(x[i:i + 16], t[i:i + 16], reduction="none", n_threads=1)
        loss_parts.append(l)
        grad_parts.append(g)
    loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none", n_threads=1)
    np.testing.assert_array_equal(loss, np.concatenate(loss_parts))
    np.testing.assert_array_equal(grad, np.concatenate(grad_parts))
    y = x.copy()
    loss2, g2 = fs.cross_entropy_with_grad(y, t, reduction="none", grad_out=y, n_threads=1)
    assert g2 is y
    np.testing.assert_array_equal(y, grad)
    np.testing.assert_array_equal(loss2, loss)


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@pytest.mark.parametrize("cols", [1000, None], ids=["in_cache", "long_rows"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_backward_is_the_cached_result(isa, dtype, cols, name):
    fn = getattr(fs, name)
    cols = cols or _long(dtype)
    rows = _rows(cols, dtype, 8)
    x = _logits(rows, cols, dtype, seed=3)
    with np.errstate(invalid="ignore"):
        b = fs.softmax(x) if name == "softmax_backward" else fs.log_softmax(x)
    g = np.random.default_rng(4).standard_normal((rows, cols)).astype(dtype)
    step = rows // 4
    expected = np.concatenate([fn(g[i:i + step], b[i:i + step], n_threads=1)
                               for i in range(0, rows, step)])
    got = fn(g, b, n_threads=1)
    np.testing.assert_array_equal(got, expected)
    buf = np.empty(rows * cols + 1, dtype=dtype)
    out = buf[1:].reshape(rows, cols)
    fn(g, b, out=out, n_threads=1)
    np.testing.assert_array_equal(out, expected)
    # in place over the incoming gradient
    h = g.copy()
    fn(h, b, out=h, n_threads=1)
    np.testing.assert_array_equal(h, expected)
