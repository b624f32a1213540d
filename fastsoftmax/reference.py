"""Pure-NumPy reference of every public function, with identical signatures.

Used by the tests as the oracle for the compiled kernels, and as the whole
backend when FASTSOFTMAX_BACKEND=numpy.  It computes in float64 (long double
inputs keep long double) and rounds once to the result dtype, so it is more
accurate than the contract, not faster.  The algorithms are scipy.special's,
whose non-finite semantics fastsoftmax follows.
"""
import numpy as np

from . import _checks as ck
from ._docs import attach

__all__ = [
    "softmax", "log_softmax", "logsumexp", "softmax_backward",
    "log_softmax_backward", "cross_entropy", "cross_entropy_with_grad",
]


def _work(arr, compute):
    """float64 working copy (long double stays long double)."""
    wdt = compute if compute.itemsize > 8 else np.dtype(np.float64)
    return np.asarray(arr, dtype=wdt)


def _finish(result, out, result_dtype):
    if out is not None:
        np.copyto(out, result, casting="unsafe")
        return out
    return np.asarray(result).astype(result_dtype, copy=False)


def _sum(e, axis):
    """``np.sum(e, axis, keepdims=True)`` summed pairwise whatever the axis.

    NumPy sums pairwise (error ~log n) only along the contiguous inner loop;
    along another axis it adds one term at a time, and a 32000-long float64
    column then misses the 5e-14 contract.  So the axis goes last, contiguous.
    """
    if axis is None or axis == e.ndim - 1:
        return np.sum(e, axis=axis, keepdims=True)
    moved = np.ascontiguousarray(np.moveaxis(e, axis, -1))
    return np.expand_dims(moved.sum(axis=-1), axis)


def _softmax(w, axis):
    if w.size == 0:
        return np.empty_like(w)
    m = np.max(w, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        e = np.exp(w - m)
        return e / _sum(e, axis)


def _shift(w, axis):
    """The row max (keepdims) with non-finite maxima replaced by 0: scipy's
    shift, which makes +inf, -inf and NaN rows come out as scipy's."""
    m = np.max(w, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def _shift_and_sumexp(w, axis):
    """(m, sum(exp(w - m))), both keepdims, with m = _shift(w, axis)."""
    m = _shift(w, axis)
    with np.errstate(all="ignore"):
        return m, _sum(np.exp(w - m), axis)


def _log_softmax(w, axis):
    if w.size == 0:
        return np.empty_like(w)
    m = _shift(w, axis)
    with np.errstate(all="ignore"):
        shifted = w - m
        return shifted - np.log(_sum(np.exp(shifted), axis))


def _logsumexp(w, axis, keepdims):
    n = w.size if axis is None else w.shape[axis]
    shape = ck.reduced_shape(w.shape, axis, keepdims)
    if n == 0:
        return np.full(shape, -np.inf, dtype=w.dtype)
    m, s = _shift_and_sumexp(w, axis)
    with np.errstate(divide="ignore"):
        return (np.log(s) + m).reshape(shape)


def softmax(x, axis=-1, *, out=None, n_threads=None):
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    if out is not None:
        ck.check_out(out, a.shape, result)
    return _finish(_softmax(_work(a, compute), ax), out, result)


def log_softmax(x, axis=-1, *, out=None, n_threads=None):
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    if out is not None:
        ck.check_out(out, a.shape, result)
    return _finish(_log_softmax(_work(a, compute), ax), out, result)


def logsumexp(x, axis=-1, *, keepdims=False, out=None, n_threads=None):
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    shape = ck.reduced_shape(a.shape, ax, keepdims)
    if out is not None:
        ck.check_out(out, shape, result)
    r = _finish(_logsumexp(_work(a, compute), ax, keepdims), out, result)
    return r[()] if (out is None and r.ndim == 0) else r


def softmax_backward(grad, y, axis=-1, *, out=None, n_threads=None):
    ck.check_threads(n_threads)
    (g, yy), compute, result = ck.common_real_dtype([(grad, "grad"), (y, "y")])
    ck.check_same_shape(g, yy, "grad", "y")
    ax = ck.check_axis(axis, g.ndim)
    if out is not None:
        ck.check_out(out, g.shape, result)
    gw, yw = _work(g, compute), _work(yy, compute)
    if gw.size == 0:
        return _finish(np.empty_like(gw), out, result)
    dot = _sum(gw * yw, ax)
    return _finish(yw * (gw - dot), out, result)


def log_softmax_backward(grad, logp, axis=-1, *, out=None, n_threads=None):
    ck.check_threads(n_threads)
    (g, lp), compute, result = ck.common_real_dtype([(grad, "grad"), (logp, "logp")])
    ck.check_same_shape(g, lp, "grad", "logp")
    ax = ck.check_axis(axis, g.ndim)
    if out is not None:
        ck.check_out(out, g.shape, result)
    gw, lw = _work(g, compute), _work(lp, compute)
    if gw.size == 0:
        return _finish(np.empty_like(gw), out, result)
    with np.errstate(all="ignore"):
        r = gw - np.exp(lw) * _sum(gw, ax)
    return _finish(r, out, result)


def _ce_prepare(logits, target, axis, reduction):
    ck.check_reduction(reduction)
    a, compute, result = ck.as_real_array(logits, "logits")
    ax = ck.check_class_axis(a, axis)
    n_classes = a.shape[ax]
    sample_shape = a.shape[:ax] + a.shape[ax + 1:]
    t = ck.as_targets(target, sample_shape)
    bad = ck.first_bad_target(t, n_classes)
    if bad >= 0:
        raise ck.target_error(t, bad, n_classes)
    return a, _work(a, compute), t, ax, sample_shape, result


def _per_sample_loss(w, t, ax):
    """(m - z_t) + log(sum(exp(z - m))): no rounding at the logits' magnitude,
    and scipy's logsumexp semantics (+inf, -inf, NaN) through _shift."""
    idx = np.expand_dims(t.astype(np.intp), ax)
    zt = np.take_along_axis(w, idx, axis=ax).squeeze(ax)
    m, s = _shift_and_sumexp(w, ax)
    with np.errstate(all="ignore"):
        return (m.squeeze(ax) - zt) + np.log(s.squeeze(ax))


def cross_entropy(logits, target, *, axis=-1, reduction="mean", n_threads=None):
    ck.check_threads(n_threads)
    _, w, t, ax, sample_shape, result = _ce_prepare(logits, target, axis, reduction)
    loss = _per_sample_loss(w, t, ax)
    return ck.finish_loss(np.asarray(loss, np.float64).reshape(-1), reduction, sample_shape, result)


def cross_entropy_with_grad(logits, target, *, axis=-1, reduction="mean", grad_out=None, n_threads=None):
    ck.check_threads(n_threads)
    a, w, t, ax, sample_shape, result = _ce_prepare(logits, target, axis, reduction)
    if grad_out is not None:
        ck.check_out(grad_out, a.shape, result, name="grad_out")
    loss = _per_sample_loss(w, t, ax)
    grad = _softmax(w, ax)
    if grad.size:
        idx = np.expand_dims(t.astype(np.intp), ax)
        picked = np.take_along_axis(grad, idx, axis=ax)
        np.put_along_axis(grad, idx, picked - 1.0, axis=ax)
        grad *= ck.grad_scale(reduction, ck.prod(sample_shape))
    loss = ck.finish_loss(np.asarray(loss, np.float64).reshape(-1), reduction, sample_shape, result)
    return loss, _finish(grad, grad_out, result)


attach(globals())
