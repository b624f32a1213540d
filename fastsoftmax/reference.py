"""Pure-NumPy reference of every public function, with identical signatures.

Used by the tests as the oracle for the compiled kernels, and as the whole
backend when FASTSOFTMAX_BACKEND=numpy.  It computes in float64 (long double
inputs keep long double) and rounds once to the result dtype, so it is more
accurate than the contract, not faster.  The algorithms are scipy.special's,
whose non-finite semantics fastsoftmax follows.
"""
import numpy as np

from . import _checks as ck

_finish = ck.finish_array



def _work(arr, compute):
    """float64 working copy (long double stays long double)."""
    wdt = compute if compute.itemsize > 8 else np.dtype(np.float64)
    return np.asarray(arr, dtype=wdt)


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


def _shift_and_rest(w, axis):
    """(m, r), both keepdims, with m = _shift(w, axis) and r = sum(exp(w - m)) - 1.

    r is summed without the term of the first maximum (exactly 1 where the max is
    finite), which is added back less 1: r keeps its relative accuracy however
    small it is, and log1p(r) is the log of the sum to that accuracy (a dominant
    entry's log-probability, a confident prediction's loss) -- the kernels' rule.
    Rows with a non-finite max (shifted by 0) get log1p(r) = log(sum) all the same.
    """
    m = _shift(w, axis)
    ax = -1 if axis is None else axis
    flat = w.reshape(-1) if axis is None else w
    mf = m.reshape(-1) if axis is None else m
    with np.errstate(all="ignore"):
        e = np.exp(flat - mf)
        if e.shape[ax] == 0:
            return m, _sum(e, axis) - 1.0
        first = np.expand_dims(np.argmax(flat, axis=ax), ax)
        e_first = np.take_along_axis(e, first, ax)
        np.put_along_axis(e, first, 0.0, ax)
        r = _sum(e, ax) + (e_first - 1.0)
    return m, r.reshape(m.shape)


def _log_softmax(w, axis):
    if w.size == 0:
        return np.empty_like(w)
    m, r = _shift_and_rest(w, axis)
    with np.errstate(all="ignore"):
        return (w - m) - np.log1p(r)


def _logsumexp(w, axis, keepdims):
    n = w.size if axis is None else w.shape[axis]
    shape = ck.reduced_shape(w.shape, axis, keepdims)
    if n == 0:
        return np.full(shape, -np.inf, dtype=w.dtype)
    m, r = _shift_and_rest(w, axis)
    with np.errstate(all="ignore"):
        return (np.log1p(r) + m).reshape(shape)


def softmax(x, axis=-1, *, out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.softmax``: the same signature and semantics."""
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    if out is not None:
        ck.check_out(out, a.shape, result)
    return _finish(_softmax(_work(a, compute), ax), out, result)


def log_softmax(x, axis=-1, *, out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.log_softmax``: the same signature and semantics."""
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    if out is not None:
        ck.check_out(out, a.shape, result)
    return _finish(_log_softmax(_work(a, compute), ax), out, result)


def logsumexp(x, axis=-1, *, keepdims=False, out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.logsumexp``: the same signature and semantics."""
    ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    ax = ck.check_axis(axis, a.ndim)
    shape = ck.reduced_shape(a.shape, ax, keepdims)
    if out is not None:
        ck.check_out(out, shape, result)
    r = _finish(_logsumexp(_work(a, compute), ax, keepdims), out, result)
    return r[()] if (out is None and r.ndim == 0) else r


def softmax_backward(grad, y, axis=-1, *, out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.softmax_backward``: the same signature and semantics."""
    ck.check_threads(n_threads)
    (g, yy), compute, result = ck.common_real_dtype([(grad, "grad"), (y, "y")])
    ck.check_same_shape(g, yy, "grad", "y")
    ax = ck.check_axis(axis, g.ndim)
    if out is not None:
        ck.check_out(out, g.shape, result)
    gw, yw = _work(g, compute), _work(yy, compute)
    if gw.size == 0:
        return _finish(np.empty_like(gw), out, result)
    with np.errstate(all="ignore"):      # inf * 0 is NaN, silently, as in the kernels
        dot = _sum(gw * yw, ax)
        r = yw * (gw - dot)
    return _finish(r, out, result)


def log_softmax_backward(grad, logp, axis=-1, *, out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.log_softmax_backward``: the same signature and semantics."""
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


def _ce(with_grad, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
        z_loss, softcap, return_lse, grad_loss, grad_out):
    a, compute, result, ax, sample_shape, kind, t, o = ck.ce_inputs(
        logits, target, axis, reduction, weight, ignore_index, label_smoothing, z_loss, softcap)
    # the order of the checks is the compiled API's: grad_loss, grad_out, then the
    # targets (which its kernels check while they compute)
    scale, rows = ck.grad_loss_factors(grad_loss, reduction, sample_shape) if with_grad else (1.0, None)
    if grad_out is not None:
        ck.check_out(grad_out, a.shape, result, name="grad_out")
    n_classes = a.shape[ax]
    w = None if o.weight is None else o.weight.astype(compute).astype(np.float64)
    if kind == "class":
        valid, tc, wt, total = ck.target_weights(t, n_classes, w, o.ignore_index)
        valid, tc, wt = valid.reshape(-1), tc.reshape(-1), wt.reshape(-1)
    else:
        bad = ck.first_bad_probs(t, ax)
        if bad >= 0:
            raise ck.probs_error(t, bad, ax)

    x = np.moveaxis(_work(a, compute), ax, -1).reshape(-1, n_classes)
    n = x.shape[0]
    w = np.ones(n_classes, x.dtype) if w is None else w.astype(x.dtype)
    if kind == "probs":
        q = np.moveaxis(_work(t, compute), ax, -1).reshape(-1, n_classes)
        valid = np.ones(n, bool)
        total = float(n)
    u = x if o.softcap is None else o.softcap * np.tanh(x / o.softcap)
    eps, z = o.label_smoothing, o.z_loss
    with np.errstate(all="ignore"):
        if kind == "class" and not o.general:
            # scipy's semantics for non-finite rows, as the plain kernels
            m, rest = _shift_and_rest(u, -1)
            ssum = 1.0 + rest
            ut = u[np.arange(n), tc]
            logs = np.log1p(rest[:, 0])
            per = (m[:, 0] - ut) + logs
            lse = m[:, 0] + logs     # not per + ut: inf - inf at a non-finite ut
            loss = wt * per
            p = _softmax(u, -1)
            g = p.copy()
            # the target entry p_t - 1 as -(the other classes' sum) / s, which does
            # not cancel when p_t is near 1 (non-finite rows: p_t - 1, scipy's)
            e = np.exp(u - m)
            e[np.arange(n), tc] = 0.0
            gt = -_sum(e, -1)[:, 0] / ssum[:, 0]
            fine = np.isfinite(gt) & np.isfinite(ssum[:, 0])
            g[np.arange(n), tc] = np.where(fine, gt, p[np.arange(n), tc] - 1.0)
            g *= wt[:, None]
        else:
            # lse - u as (m - u) + log(s): lse itself rounds away the low bits of large logits
            m, rest = _shift_and_rest(u, -1)
            logs = np.log1p(rest)
            lse = m[:, 0] + logs[:, 0]
            logp = (u - m) - logs
            if kind == "class":
                amat = np.broadcast_to(w * (eps / n_classes), u.shape).copy()
                amat[np.arange(n), tc] += (1.0 - eps) * wt
            else:
                amat = w * ((1.0 - eps) * q + eps / n_classes)
            big_a = _sum(amat, -1)[:, 0]
            if kind == "class":   # no 0 * -inf where a class has no weight
                ut = u[np.arange(n), tc]
                loss = (1.0 - eps) * wt * ((m[:, 0] - ut) + logs[:, 0])
                if eps > 0:
                    loss = loss + eps / n_classes * _sum(w * ((m - u) + logs), -1)[:, 0]
            else:                 # torch: -(q * logp).sum(), NaN for q = 0 at logp = -inf
                loss = -_sum(amat * logp, -1)[:, 0]
            loss = loss + z * lse * lse
            p = np.exp(logp)
            g = (big_a + 2.0 * z * lse)[:, None] * p - amat
            if o.softcap is not None:
                g *= 1.0 - (u / o.softcap) ** 2
        loss = np.where(valid, loss, 0.0)
        lse = np.where(valid, lse, 0.0)
        if reduction == "mean":
            scale = scale / total if total > 0 else 0.0
        factor = np.full(n, scale) if rows is None else scale * rows
        g *= factor[:, None]
    g[~valid] = 0.0
    loss_out = ck.finish_loss(np.asarray(loss, np.float64), reduction, sample_shape, result, total)
    extra = (_finish(lse.reshape(sample_shape), None, ck.loss_dtype(result)),) if return_lse else ()
    if not with_grad:
        return (loss_out,) + extra if return_lse else loss_out
    moved_shape = tuple(np.delete(np.array(a.shape), ax)) + (n_classes,)
    grad = np.moveaxis(g.reshape(moved_shape), -1, ax)
    if grad_out is None:      # in the logits' (C) order, as the compiled kernels write it
        grad = np.ascontiguousarray(grad, dtype=result)
    return (loss_out, _finish(grad, grad_out, result)) + extra


def cross_entropy(logits, target, *, axis=-1, reduction="mean", weight=None, ignore_index=-100,
                  label_smoothing=0.0, z_loss=0.0, softcap=None, return_lse=False,
                  n_threads=None):
    """NumPy reference of ``fastsoftmax.cross_entropy``: the same signature and semantics."""
    ck.check_threads(n_threads)
    return _ce(False, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap, return_lse, None, None)


def cross_entropy_with_grad(logits, target, *, axis=-1, reduction="mean", weight=None,
                            ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None,
                            return_lse=False, grad_loss=None, grad_out=None, n_threads=None):
    """NumPy reference of ``fastsoftmax.cross_entropy_with_grad``: the same signature and semantics."""
    ck.check_threads(n_threads)
    return _ce(True, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap, return_lse, grad_loss, grad_out)


def nll_loss(logp, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
             n_threads=None):
    """NumPy reference of ``fastsoftmax.nll_loss``: the same signature and semantics."""
    ck.check_threads(n_threads)
    ck.check_reduction(reduction)
    a, compute, result = ck.as_real_array(logp, "logp")
    ax = ck.check_class_axis(a, axis)
    n_classes = a.shape[ax]
    sample_shape = a.shape[:ax] + a.shape[ax + 1:]
    t = ck.as_targets(target, sample_shape)
    o = ck.ce_options(n_classes, weight, ignore_index, 0.0, 0.0, None)
    valid, tc, wt, total = ck.target_weights(t, n_classes, o.weight, o.ignore_index)
    picked = np.take_along_axis(a, np.expand_dims(tc, ax), axis=ax).squeeze(ax)  # O(samples)
    with np.errstate(all="ignore"):
        loss = np.where(valid, -wt * picked.astype(np.float64), 0.0)
    return ck.finish_loss(loss.reshape(-1), reduction, sample_shape, result, total)


def _linear_ce(with_grad, h, W, target, bias, chunk_size, reduction, grad_loss, kw):
    with np.errstate(over="ignore"):   # results rounded to float32 / float16 may overflow
        return _linear_ce_f64(with_grad, h, W, target, bias, chunk_size, reduction, grad_loss, kw)


def _linear_ce_f64(with_grad, h, W, target, bias, chunk_size, reduction, grad_loss, kw):
    from . import _linear
    h, W, b, t, dt, _ = _linear.prepare(h, W, target, bias, chunk_size, reduction)
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    logits = h64 @ W64.T
    if b is not None:
        logits += b.astype(np.float64)
    if not with_grad:
        r = cross_entropy(logits, t, reduction=reduction, **kw)
        r = r if isinstance(r, tuple) else (r,)
        r = tuple(np.asarray(a).astype(dt)[()] for a in r)
        return r if len(r) > 1 else r[0]
    loss, g, *lse = cross_entropy_with_grad(logits, t, reduction=reduction, grad_loss=grad_loss, **kw)
    db = None if b is None else g.sum(axis=0).astype(dt)
    res = (np.asarray(loss).astype(dt)[()], (g @ W64).astype(dt), (g.T @ h64).astype(dt), db)
    return res + tuple(a.astype(dt) for a in lse)


def linear_cross_entropy(h, W, target, *, bias=None, chunk_size=None, reduction="mean",
                         weight=None, ignore_index=-100, label_smoothing=0.0, z_loss=0.0,
                         softcap=None, return_lse=False, n_threads=None):
    """NumPy reference of ``fastsoftmax.linear_cross_entropy``: the same signature and semantics."""
    ck.check_threads(n_threads)
    return _linear_ce(False, h, W, target, bias, chunk_size, reduction, None,
                      dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                           z_loss=z_loss, softcap=softcap, return_lse=return_lse))


def linear_cross_entropy_with_grad(h, W, target, *, bias=None, chunk_size=None, reduction="mean",
                                   weight=None, ignore_index=-100, label_smoothing=0.0,
                                   z_loss=0.0, softcap=None, return_lse=False, grad_loss=None,
                                   n_threads=None):
    """NumPy reference of ``fastsoftmax.linear_cross_entropy_with_grad``: the same signature and semantics."""
    ck.check_threads(n_threads)
    return _linear_ce(True, h, W, target, bias, chunk_size, reduction, grad_loss,
                      dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                           z_loss=z_loss, softcap=softcap, return_lse=return_lse))

