"""softmax, log_softmax, logsumexp and cross-entropy on dask arrays, lazily.

    import dask.array as da, fastsoftmax.dask as fsd      # pip install "fastsoftmax[dask]"
    x = da.from_zarr(...)                                 # (N, C), chunked along N
    p = fsd.softmax(x, axis=-1)                           # a dask array; nothing runs yet
    loss, grad = fsd.cross_entropy_with_grad(x, target)   # loss: a 0-d dask array

When to use it: arrays larger than memory (chunks stream through), or a
cluster through dask.distributed.  For arrays that fit in memory, call
fastsoftmax directly: one call uses every core without dask's overhead.

Design:

- Class axis in ONE chunk (``x.rechunk({axis: -1})`` makes it so): each
  block goes through fastsoftmax's kernels as it is (``map_blocks``).  The
  cross-entropy "mean" is exact: the per-sample losses are summed over every
  block, and divided by the total weight of the non-ignored targets, summed
  from per-block partials; the gradient kernel gets ``1 / total`` as its
  upstream gradient, so the gradient is scaled in the same pass.
- Class axis split across chunks: a tree reduction (``da.reduction``) of
  per-chunk partials (max, r = sum of exp(x - max) - 1, summed without the
  max's own term so that log1p(r) keeps a dominant entry's accuracy, as the
  kernels do), merged associatively (max of the maxima; the first partial at
  the max adds its r, the others their whole sums rescaled by exp(max_i -
  max)), carried in float64 as one complex number per row (real: max,
  imaginary: r); then a blockwise normalisation exp(x - max) / (1 + r) or
  (x - max) - log1p(r), in float64 NumPy, cast to the result dtype.  Cross-entropy adds sums of the target logit and of the
  weighted logits (label smoothing) across the class chunks.  Non-finite
  rows follow the same rules as fastsoftmax (scipy's).
  Split class axes take class targets with ``weight``, ``ignore_index``,
  ``label_smoothing`` and ``z_loss``; probability targets and ``softcap``
  need the class axis in one chunk (ValueError says so).

Results equal the in-memory functions' within the accuracy contract (tested on
the synchronous and threaded schedulers, several chunkings, and a
dask.distributed LocalCluster).
"""
import numpy as np

import dask.array as da

import fastsoftmax as _fs
from fastsoftmax import _checks as ck

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad"]

_F64 = np.dtype(np.float64)


def _prepare(x, axis, name="x"):
    """(dask array with the class axis last, normalised axis, compute dtype, result dtype)."""
    x = da.asarray(x)
    _, compute, result = ck.as_real_array(np.empty(0, x.dtype), name)
    ax = ck.check_axis(axis, x.ndim, allow_none=False)
    return (x if ax == x.ndim - 1 else da.moveaxis(x, ax, -1)), ax, compute, result


def _restore(y, ax, ndim):
    return y if ax == ndim - 1 else da.moveaxis(y, -1, ax)


def _one_class_chunk(x):
    return len(x.chunks[-1]) <= 1

# --------------------------------------------------------------------------
# (max, sum of exp) partials over a split class axis
# --------------------------------------------------------------------------


def _first_at_max(v, m):
    """Per row (last axis): whether each entry is the row's first equal to m."""
    at = v == m
    return at & (np.cumsum(at, axis=-1) == 1)


def _partial_chunk(b, axis, keepdims):
    """One chunk's (max, r) per row, r = sum exp(x - max) - 1 without the max's term,
    as complex128 (real: max, imag: r); r = -1 (a zero sum) for an all -inf chunk."""
    w = np.asarray(b, _F64)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(w, axis=axis, keepdims=True) if w.shape[-1] else np.full(
            w.shape[:-1] + (1,), -np.inf)
        finite = np.isfinite(m)
        e = np.exp(w - np.where(finite, m, 0.0))
        e[_first_at_max(w, m) & finite] = 0.0     # exp(0) = 1 left out
        r = np.sum(e, axis=axis, keepdims=True)
    r = np.where(finite, r, np.where(np.isnan(m), np.nan, -1.0))
    return m + 1j * r


def _partial_combine(p, axis, keepdims):
    """Merge partials (concatenated along the class axis) into one per row: the first
    partial at the max adds its r, every other one its sum (1 + r) exp(m_i - m)."""
    m_i, r_i = p.real, p.imag
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(m_i, axis=axis, keepdims=True)
        finite = np.isfinite(m)
        scale = np.exp(m_i - np.where(finite, m, 0.0))
        terms = np.where(_first_at_max(m_i, m), r_i, (1.0 + r_i) * scale)
        r = np.sum(np.where(np.isneginf(m_i), 0.0, terms), axis=axis, keepdims=True)
    # (a max of -inf: no finite partial, a zero sum, r = -1, as for +inf)
    r = np.where(finite, r, np.where(np.isnan(m), np.nan, -1.0))
    return m + 1j * r


def _partials(x):
    """Dask array of per-row partials (class axis last, kept with length 1)."""
    return da.reduction(x, _partial_chunk, _partial_combine, combine=_partial_combine,
                        axis=-1, keepdims=True, dtype=np.complex128, concatenate=True,
                        name="fastsoftmax-partials")


def _row_lse(part):
    """logsumexp per row from a partial, with fastsoftmax's rules for non-finite rows."""
    m, r = part.real, part.imag
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(m), m + np.log1p(r), m)


def _normalise_block(b, part, log, result):
    w = np.asarray(b, _F64)
    m, r = part.real, part.imag
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = np.isfinite(m) & (r > -1)
        mm = np.where(finite, m, 0.0)
        if log:
            y = (w - mm) - np.log1p(np.where(finite, r, 0.0))
            # a row with +inf (no NaN): NaN at +inf, -inf elsewhere; NaN / all -inf rows: NaN
            y = np.where(finite, y, np.where(np.isposinf(m), np.where(np.isposinf(w), np.nan,
                                                                       -np.inf), np.nan))
        else:
            y = np.exp(w - mm) / np.where(finite, 1.0 + r, 1.0)
            y = np.where(finite, y, np.nan)
    return y.astype(result)

# --------------------------------------------------------------------------
# softmax, log_softmax, logsumexp
# --------------------------------------------------------------------------


def _normalise(x, axis, log):
    name = "log_softmax" if log else "softmax"
    ndim = da.asarray(x).ndim
    y, ax, _, result = _prepare(x, axis)
    if _one_class_chunk(y):
        out = y.map_blocks(getattr(_fs, name), axis=-1, dtype=result, name=f"fastsoftmax-{name}")
    else:
        out = da.map_blocks(_normalise_block, y, _partials(y), log=log, result=result,
                            dtype=result, name=f"fastsoftmax-{name}-split")
    return _restore(out, ax, ndim)


def softmax(x, axis=-1):
    """Lazy softmax along ``axis`` of a dask array (see the module docstring).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastsoftmax.dask as fsd
    >>> x = da.from_array(np.array([[5., 2., 1.], [0., 0., 0.]]), chunks=(1, 2))
    >>> fsd.softmax(x).compute().round(4)
    array([[0.9362, 0.0466, 0.0171],
           [0.3333, 0.3333, 0.3333]])
    """
    return _normalise(x, axis, False)


def log_softmax(x, axis=-1):
    """Lazy log-softmax along ``axis`` of a dask array (see the module docstring).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastsoftmax.dask as fsd
    >>> fsd.log_softmax(da.from_array(np.array([1000., 1.]), chunks=1)).compute()
    array([   0., -999.])
    """
    return _normalise(x, axis, True)


def logsumexp(x, axis=-1, keepdims=False):
    """Lazy logsumexp along ``axis`` of a dask array (see the module docstring).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastsoftmax.dask as fsd
    >>> float(fsd.logsumexp(da.arange(10.0, chunks=3)).compute())
    9.45862974442671
    """
    ndim = da.asarray(x).ndim
    y, ax, _, result = _prepare(x, axis)
    if _one_class_chunk(y) and y.shape[-1] > 0:
        out = y.map_blocks(_fs.logsumexp, axis=-1, keepdims=True, dtype=result,
                           chunks=y.chunks[:-1] + ((1,),), name="fastsoftmax-logsumexp")
    else:
        out = _partials(y).map_blocks(lambda p: _row_lse(p).astype(result), dtype=result)
    out = _restore(out, ax, ndim)
    return out if keepdims else out.squeeze(axis=ax)

# --------------------------------------------------------------------------
# cross-entropy
# --------------------------------------------------------------------------


def _targets(x, target, logits_shape, ax):
    """Targets as a dask array aligned with the moved logits' sample chunks; kind."""
    t = da.asarray(target)
    kind = ck.ce_target_kind(t.dtype, t.shape, logits_shape, ax)
    if kind == "probs":
        t = t if ax == len(logits_shape) - 1 else da.moveaxis(t, ax, -1)
        return t.rechunk(x.chunks), kind
    return t.rechunk(x.chunks[:-1]), "class"


def _weight_partial(t, n_classes, weight, ignore_index):
    """Sum of weight[target] over the non-ignored targets of one block (checks them)."""
    return np.asarray(ck.target_weights(t, n_classes, weight, ignore_index)[3]).reshape(
        (1,) * t.ndim)


def _total_weight(t, kind, n_classes, weight, ignore_index):
    """0-d dask array: the "mean" divisor (sample count for probability targets)."""
    if kind == "probs":
        return da.asarray(float(np.prod(t.shape[:-1])))
    parts = t.map_blocks(_weight_partial, n_classes, weight, ignore_index, dtype=_F64,
                         chunks=tuple((1,) * len(c) for c in t.chunks))
    return parts.sum()


def _grad_scale(reduction, total):
    """The gradient's upstream factor: 1 / total weight for "mean" (0 when that is 0), else 1."""
    return (1.0 / da.where(total > 0, total, np.inf)) if reduction == "mean" else da.asarray(1.0)


def _finish(per_sample, reduction, total, result):
    if reduction == "none":
        return per_sample.astype(result)
    s = per_sample.sum(dtype=_F64)
    if reduction == "mean":
        s = da.where(total > 0, s / da.where(total > 0, total, 1.0), 0.0)
    return s.astype(result)


def _ce(with_grad, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
        z_loss, softcap):
    ck.check_reduction(reduction)
    logits = da.asarray(logits)
    ndim = logits.ndim
    ck.as_real_array(np.empty(0, logits.dtype), "logits")
    ck.check_class_axis(logits, axis)
    x, ax, compute, result = _prepare(logits, axis, "logits")
    n_classes = x.shape[-1]
    t, kind = _targets(x, target, logits.shape, ax)
    o = ck.ce_options(n_classes, weight, ignore_index, label_smoothing, z_loss, softcap,
                      dtype=compute)
    w = o.weight
    opts = dict(weight=w, ignore_index=o.ignore_index, label_smoothing=o.label_smoothing,
                z_loss=o.z_loss, softcap=o.softcap)
    total = _total_weight(t, kind, n_classes, w, o.ignore_index)
    if _one_class_chunk(x):
        loss, grad = _ce_blocks(with_grad, x, t, kind, reduction, total, result, opts)
    else:
        if kind == "probs" or o.softcap is not None:
            raise ValueError("probability targets and softcap need the class axis in one chunk: "
                             f"logits.rechunk({{{ax}: -1}})")
        loss, grad = _ce_split(with_grad, x, t, n_classes, reduction, total, result, opts)
    out = _finish(loss, reduction, total, result)
    if not with_grad:
        return out
    return out, _restore(grad, ax, ndim)


def _ce_blocks(with_grad, x, t, kind, reduction, total, result, opts):
    """Class axis in one chunk: the kernels per block."""
    sample = "abcdefghijklmnopqrstuvwxyz"[:x.ndim - 1]
    t_index = sample + ("z" if kind == "probs" else "")

    def loss_block(b, tb):
        return np.asarray(_fs.cross_entropy(b, tb, reduction="none", **opts), _F64)

    loss = da.blockwise(loss_block, sample, x, sample + "z", t, t_index, dtype=_F64,
                        concatenate=True)
    if not with_grad:
        return loss, None
    scale = _grad_scale(reduction, total)

    def grad_block(b, tb, c):
        return _fs.cross_entropy_with_grad(b, tb, reduction="sum", grad_loss=float(c),
                                           **opts)[1]

    grad = da.blockwise(grad_block, sample + "z", x, sample + "z", t, t_index, scale, "",
                        dtype=result, concatenate=True)
    return loss, grad


def _gather_block(b, tb, block_info=None):
    """Per row of one class chunk: x[target] where the target falls in it, else 0."""
    lo, hi = block_info[0]["array-location"][-1]
    w = np.asarray(b, _F64)
    tb = tb[..., 0]
    inside = (tb >= lo) & (tb < hi)
    idx = np.where(inside, tb - lo, 0)
    picked = np.take_along_axis(w, idx[..., None].astype(np.intp), axis=-1)
    return np.where(inside[..., None], picked, 0.0)


def _ce_split(with_grad, x, t, n_classes, reduction, total, result, opts):
    """Class axis split: per-row lse, x[target] and sum_k w_k x_k summed over class chunks."""
    w = opts["weight"]
    eps, z, ignore = opts["label_smoothing"], opts["z_loss"], opts["ignore_index"]
    wvec = np.ones(n_classes) if w is None else w
    part = _partials(x)
    lse = part.map_blocks(_row_lse, dtype=_F64)[..., 0]
    pm, pr = part.real[..., 0], part.imag[..., 0]
    tt = t[..., None]
    ut = da.map_blocks(_gather_block, x, tt, dtype=_F64,
                       chunks=x.chunks[:-1] + ((1,) * len(x.chunks[-1]),)).sum(axis=-1)
    valid = (t != ignore) if ignore is not None else da.ones(t.shape, bool, chunks=t.chunks)
    # weight[t], 0 where ignored
    wt = t.map_blocks(lambda tb: ck.target_weights(tb, n_classes, w, ignore)[2], dtype=_F64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # (m - u_t) + log1p(r): two terms >= 0, the loss keeps their relative accuracy
        lmu = da.where(da.isfinite(pm), (pm - ut) + da.log1p(pr), lse - ut)
        loss = (1.0 - eps) * wt * lmu
        if eps > 0:
            wcol = da.from_array(wvec, chunks=(x.chunks[-1],))
            swu = (x.astype(_F64) * wcol).sum(axis=-1)
            loss = loss + eps / n_classes * (wvec.sum() * lse - swu)
        if z:
            loss = loss + z * lse * lse
    loss = da.where(valid, loss, 0.0)
    if not with_grad:
        return loss, None
    scale = _grad_scale(reduction, total)
    big_a = (1.0 - eps) * wt + eps / n_classes * wvec.sum() + 2.0 * z * lse
    factor = da.where(valid, scale, 0.0)

    def grad_block(b, p, a, f, tb, wt_b, block_info=None):
        lo, hi = block_info[0]["array-location"][-1]
        prob = _normalise_block(b, p, False, _F64)
        g = a * prob - eps / n_classes * wvec[lo:hi]
        tb, wt_b = tb[..., 0], wt_b[..., 0]
        rows = np.nonzero((tb >= lo) & (tb < hi))
        at = rows + (tb[rows] - lo,)
        g[at] -= (1.0 - eps) * wt_b[rows]
        # the target entry a p_t - b_t with p_t = 1 + q, q = (expm1(u_t - m) - r) / (1 + r)
        # (no cancellation): (a - b_t) + a q, where the kernels' rule gives finite values
        m_r, r_r, a_r = p.real[rows][..., 0], p.imag[rows][..., 0], a[rows][..., 0]
        with np.errstate(all="ignore"):
            u_t = np.asarray(b, _F64)[at]
            q = (np.expm1(u_t - m_r) - r_r) / (1.0 + r_r)
            b_t = eps / n_classes * wvec[tb[rows]] + (1.0 - eps) * wt_b[rows]
            g_t = (a_r - b_t) + a_r * q
        fine = np.isfinite(g_t)
        g[tuple(i[fine] for i in at)] = g_t[fine]
        return (g * f).astype(result)

    grad = da.map_blocks(grad_block, x, part, big_a[..., None], factor[..., None], tt,
                         wt[..., None], dtype=result)
    return loss, grad


def cross_entropy(logits, target, *, axis=-1, reduction="mean", weight=None, ignore_index=-100,
                  label_smoothing=0.0, z_loss=0.0, softcap=None):
    """Lazy cross-entropy of a dask array of logits (``fastsoftmax.cross_entropy``'s options).

    ``target``: integer class indices (the logits' shape without ``axis``) or
    floating-point probabilities (the logits' shape), a dask or NumPy array.
    Returns a dask array: 0-d for "mean" / "sum", per sample for "none".
    Targets are checked when the graph runs (ValueError naming the bad one).

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastsoftmax.dask as fsd
    >>> x = da.from_array(np.array([[2., 0., 0.], [0., 3., 0.]]), chunks=1)
    >>> round(float(fsd.cross_entropy(x, np.array([0, 1])).compute()), 4)
    0.1672
    """
    return _ce(False, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap)


def cross_entropy_with_grad(logits, target, *, axis=-1, reduction="mean", weight=None,
                            ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None):
    """Lazy (loss, d loss / d logits) of a dask array (see ``cross_entropy``).

    The gradient has the logits' shape and chunks; with reduction="none" it is
    the gradient of the summed loss.  Computing both at once
    (``dask.compute(loss, grad)``) shares the work on the logits.
    """
    return _ce(True, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap)
