"""Comparison helpers whose failure messages name every parameter."""
import numpy as np

# Tolerances of the accuracy contract (README, docstrings).
REL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 5e-14}
# Two implementations each within REL of the exact value are within 2*REL of
# each other; the backward ops add an inner sum: allow a little more.
EQUIV = {np.dtype(np.float32): 5e-6, np.dtype(np.float64): 2e-13}


def same_nonfinite(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (np.array_equal(np.isnan(a), np.isnan(b))
            and np.array_equal(np.isposinf(a), np.isposinf(b))
            and np.array_equal(np.isneginf(a), np.isneginf(b)))


def assert_close(actual, desired, rtol, atol=0.0, scale=None, what=""):
    """|actual - desired| <= rtol * scale + atol elementwise, non-finite values equal.

    ``scale`` defaults to |desired|; pass np.maximum(1, |desired|) for
    absolute-error contracts (log_softmax, logsumexp).
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    assert same_nonfinite(actual, desired), (
        f"{what}: non-finite entries differ\nactual={actual}\ndesired={desired}")
    fin = np.isfinite(desired)
    if not fin.any():
        return
    a = actual[fin].astype(np.float64) if actual.dtype.itemsize <= 8 else actual[fin]
    d = desired[fin].astype(a.dtype)
    s = np.abs(d) if scale is None else np.asarray(np.broadcast_to(scale, desired.shape))[fin]
    err = np.abs(a - d)
    bound = rtol * s + atol
    bad = err > bound
    if bad.any():
        i = int(np.argmax(err - bound))
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} entries exceed tolerance "
            f"(rtol={rtol}, atol={atol}); worst: actual={a[i]!r} desired={d[i]!r} "
            f"abs err={err[i]:.3e} bound={bound[i]:.3e}")
