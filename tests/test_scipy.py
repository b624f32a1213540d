"""fastsoftmax (either backend) and its reference against scipy.special."""
import numpy as np
import pytest

scipy_special = pytest.importorskip("scipy.special")

import fastsoftmax as fs  # noqa: E402
from fastsoftmax import reference as ref  # noqa: E402
from _util import EQUIV, assert_close, same_nonfinite  # noqa: E402

inf, nan = np.inf, np.nan
NONFINITE_ROWS = [
    [nan, 1.0, 2.0], [1.0, nan, nan], [inf, 1.0, 2.0], [inf, inf, 1.0], [inf, -inf, 0.0],
    [-inf, -inf, -inf], [-inf, 1.0, 2.0], [-inf, -inf, 3.0], [nan, inf, -inf], [nan, -inf, 0.0],
    [1e308, 1e308, 0.0], [-1e308, 1e308, 0.0], [1.0, 2.0, 3.0],
]
OPS = ["softmax", "log_softmax", "logsumexp"]


@pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])
@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_rows_match_scipy(impl, name, dtype):
    with np.errstate(all="ignore"):
        x = np.array(NONFINITE_ROWS, dtype=np.float64).astype(dtype)
        want = getattr(scipy_special, name)(x, axis=-1)
    got = getattr(impl, name)(x, axis=-1)
    what = f"{impl.__name__}.{name} dtype={np.dtype(dtype)}"
    assert same_nonfinite(got, want), f"{what}\ngot={got}\nwant={want}"
    assert_close(got, want, EQUIV[np.dtype(dtype)], atol=1e-30,
                 scale=None if name == "softmax" else np.maximum(1, np.abs(want)), what=what)
    # A non-finite row does not touch its neighbours
    clean = np.vstack([x[-1:], x, x[-1:]])
    got2 = getattr(impl, name)(clean, axis=-1)
    assert np.array_equal(got2[0], got2[-1], equal_nan=True), what


@pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])
@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("shape,axis", [((5,), None), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1),
                                        ((2, 3, 4), None), ((2, 3, 4), -1), ((1, 1), 0)])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.bool_, np.uint8])
def test_values_and_dtypes_match_scipy(impl, name, shape, axis, dtype):
    # scipy is the oracle for values (fed float64: it wraps uint8 arithmetic and
    # rejects bool); the result dtype follows fastsoftmax's own rule: float32,
    # float64 and float16 are kept, integers and bool give float64.
    rng = np.random.default_rng(0)
    raw = rng.standard_normal(shape) * 3
    if np.issubdtype(dtype, np.unsignedinteger):
        raw = np.abs(raw)      # a negative float cast to uint8 is undefined (NumPy on aarch64 warns)
    x = raw.astype(dtype)
    want = getattr(scipy_special, name)(x.astype(np.float64), axis=axis)
    got = getattr(impl, name)(x, axis=axis)
    what = f"{impl.__name__}.{name} shape={shape} axis={axis} dtype={np.dtype(dtype)}"
    expect_dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    assert np.asarray(got).dtype == expect_dtype, what
    assert np.shape(got) == np.shape(want), what
    tol = 2e-3 if dtype == np.float16 else 5e-6 if dtype == np.float32 else 1e-13
    assert_close(got, want.astype(expect_dtype), tol, atol=tol * 1e-3,
                 scale=None if name == "softmax" else np.maximum(1, np.abs(want)), what=what)


@pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])
def test_logsumexp_scalar_result_like_scipy(impl):
    x = np.array([1.0, 2.0, 3.0])
    got = impl.logsumexp(x, axis=None)
    want = scipy_special.logsumexp(x)
    assert type(got) is type(want)
    assert got == pytest.approx(want, rel=1e-15)
    got_k = impl.logsumexp(x.reshape(1, 3), axis=None, keepdims=True)
    assert got_k.shape == scipy_special.logsumexp(x.reshape(1, 3), keepdims=True).shape
