"""The public functions on the compiled backend.

Each call: check and normalise the inputs (shared with the reference, in
_checks), arrange every operand as a 2-D (rows, cols) array with contiguous
rows -- a view when the layout allows, one copy otherwise -- allocate or
validate the output, and make ONE call into the Cython wrapper, which releases
the GIL.  No Python loop ever runs over rows.

Before all that, each function hands its arguments to its tiny entry
(_core.<op>_tiny), which does the whole call for the common case at the C level
and returns None otherwise.
"""
import numpy as np

from . import _checks as ck
from . import _core  # type: ignore[attr-defined]  # the compiled extension
from . import _linear
from . import reference


_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))
_INT64 = np.dtype(np.int64)


def _moved(a, axis):
    """View of ``a`` with the reduction axis last (None: the array flattened)."""
    if axis is None:
        return a.reshape(-1)
    if axis == a.ndim - 1:
        return a
    # a.transpose(perm) is np.moveaxis(a, axis, -1) without its argument checks (µs a call)
    return a.transpose(tuple(i for i in range(a.ndim) if i != axis) + (axis,))


def _rows_view(moved):
    """(rows, cols) view of ``moved`` with contiguous rows, or None if a copy is needed.

    The one layout rule of the row kernels' operands and outputs, on the fast path
    and the general path alike: elements contiguous within a row, rows a whole
    number of elements apart, naturally aligned."""
    flags = moved.flags
    if flags.c_contiguous and flags.aligned:   # the common case: two flags decide
        if moved.ndim == 2:
            return moved
        return moved.reshape(ck.prod(moved.shape[:-1]), moved.shape[-1])
    n = moved.shape[-1]
    rows = ck.prod(moved.shape[:-1])
    if moved.ndim == 2:
        v = moved
    else:
        try:
            v = moved.reshape(rows, n, copy=False)
        except ValueError:
            return None
    if n > 1 and v.strides[1] != v.itemsize:
        return None
    if v.strides[0] % v.itemsize:   # rows not a whole number of elements apart (record fields)
        return None
    if not v.flags.aligned:         # e.g. a buffer unpickled at an odd address: the kernels
        return None                 # (and C) need naturally aligned elements
    return v


def _as_rows(a, axis, dtype):
    """(rows, cols) operand of ``dtype`` with contiguous rows: a view if possible, else one copy."""
    moved = _moved(a, axis)
    if moved.dtype == dtype:
        v = _rows_view(moved)
        if v is not None:
            return v
    c = np.array(moved, dtype=dtype, order="C")   # a fresh, aligned copy
    return c.reshape(-1, moved.shape[-1])


def _flat_targets_view(t):
    """Class targets as the flat int64 array the kernels read, when ``t`` is one already
    (an int64 ndarray, C-contiguous, aligned): the one rule of the fast and general
    paths; else None."""
    if type(t) is np.ndarray and t.dtype is _INT64:
        flags = t.flags
        if flags.c_contiguous and flags.aligned:
            return t.reshape(-1)
    return None


def _c_aligned(a, dtype):
    """``a`` as a C-contiguous, aligned array of ``dtype``: itself if it is one, else a copy."""
    c = np.ascontiguousarray(a, dtype=dtype)
    return c if c.flags.aligned else c.copy()


def _same_view(a, b):
    return (a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _may_write(v, op):
    """Whether an output view ``v`` may be written while operand ``op`` is read: it is
    the very same view (in place, row by row) or shares no memory with it."""
    return v is op or not np.may_share_memory(v, op) or _same_view(v, op)


def _direct_target(out, axis, compute, operands):
    """(rows, cols) view of ``out`` the kernel may write straight into, or None.

    Allowed when ``out`` has the compute dtype, a row layout, and either does
    not overlap any operand or is exactly one of them (in place, row by row).
    """
    if out is None or out.dtype != compute:
        return None
    if axis is None:   # flattening must be a view, or the kernel would write a copy
        try:
            moved = out.reshape(-1, copy=False)
        except ValueError:
            return None
    else:
        moved = _moved(out, axis)
    v = _rows_view(moved)
    if v is None:
        return None
    for op in operands:
        if not _may_write(v, op):
            return None
    return v


def _restore(res, axis, shape):
    """Undo _moved on a freshly allocated moved-layout result."""
    if axis is None:
        return res.reshape(shape)
    n = len(shape)
    if axis == n - 1:
        return res
    return res.transpose(tuple(range(axis)) + (n - 1,) + tuple(range(axis, n - 1)))


# Reductions over a non-last axis run the column kernels (vectorised across
# the contiguous inner axis, no transposed copy) when the inner extent fills
# at least this many lanes; narrower ones take one transposed copy.
_MIN_INNER = 8


def _cols_view(a, axis):
    """(outer, n, inner) view of ``a`` with a contiguous inner axis, or None."""
    if a is None or axis is None or axis == a.ndim - 1:
        return None
    inner = ck.prod(a.shape[axis + 1:])
    if inner < _MIN_INNER:
        return None
    try:
        v = a.reshape(ck.prod(a.shape[:axis]), a.shape[axis], inner, copy=False)
    except ValueError:
        return None
    if v.strides[2] != a.itemsize or v.strides[0] % a.itemsize or v.strides[1] % a.itemsize:
        return None
    return v if v.flags.aligned else None


def _cols_operands(arrays, axis, compute):
    """(outer, n, inner) views of ``arrays`` in the compute dtype (a converted copy,
    never a transposed one, where the dtype differs), or None when one of them has no
    column layout."""
    views = []
    for x in arrays:
        v = _cols_view(x, axis)
        if v is None:
            return None
        if x.dtype != compute:
            v = _cols_view(np.ascontiguousarray(x, dtype=compute), axis)
        views.append(v)
    return views


def _columns(cols_kernel, views, shape, axis, out, compute, result, nt):
    """The whole call through a column kernel on the operands' column views
    (_cols_operands), writing a result of ``shape``."""
    if out is not None and out.dtype == compute:
        tv = _cols_view(out, axis)
        if tv is not None and all(_may_write(tv, v) for v in views):
            cols_kernel(*views, tv, nt)
            return out
    res = np.empty(shape, compute)
    cols_kernel(*views, _cols_view(res, axis), nt)
    return ck.finish_array(res, out, result)


def _elementwise(kernel, arrays, axis, out, compute, result, nt, cols_kernel=None):
    """Shared driver of the ops whose result has the input's shape."""
    shape = arrays[0].shape
    if out is not None:
        ck.check_out(out, shape, result)
    if arrays[0].size == 0:
        return out if out is not None else np.empty(shape, result)
    if cols_kernel is not None:
        views = _cols_operands(arrays, axis, compute)
        if views is not None:
            return _columns(cols_kernel, views, shape, axis, out, compute, result, nt)
    ops = [_as_rows(a, axis, compute) for a in arrays]
    direct = _direct_target(out, axis, compute, ops)
    if direct is not None:
        kernel(*ops, direct, nt)
        return out
    moved_shape = _moved(arrays[0], axis).shape
    res = np.empty(moved_shape, compute)
    kernel(*ops, res.reshape(-1, moved_shape[-1]), nt)
    return ck.finish_array(_restore(res, axis, shape), out, result)


def _on_bits(fn, name):
    """A half type's wrapper (_core.<op>_f16 / _bf16 take uint16 memoryviews): ``fn``
    with every ndarray argument of the dtype named ``name`` passed as its uint16 view
    (same memory, shape and strides)."""
    def bits(a):
        return a.view(np.uint16) if isinstance(a, np.ndarray) and a.dtype.name == name else a

    def kernel(*args, **kwargs):
        return fn(*[bits(a) for a in args], **{k: bits(v) for k, v in kwargs.items()})
    return kernel


# The wrappers per op and compute dtype, by the dtype's name (_core.<op>_f32 / _f64 /
# _f16 / _bf16, generated from _core.pyx.tp); "bfloat16" is ml_dtypes' (ck.is_half).
_SUFFIX = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}
_SPECIALISED = {
    name: {dt: (getattr(_core, name + "_" + sfx) if sfx in ("f32", "f64")
                else _on_bits(getattr(_core, name + "_" + sfx), dt))
           for dt, sfx in _SUFFIX.items()}
    for name in ("softmax", "log_softmax", "logsumexp", "softmax_backward",
                 "log_softmax_backward", "softmax_cols", "log_softmax_cols", "logsumexp_cols",
                 "softmax_backward_cols", "log_softmax_backward_cols", "cross_entropy",
                 "accumulate")
}


def _native(compute):
    """Whether the C kernels compute in ``compute`` (else the reference does: long double).
    ml_dtypes' bfloat16, once seen here, is registered for the tiny calls."""
    if compute in _NATIVE:
        return True
    if ck.is_half(compute):
        if compute != np.float16:
            _core.register_bfloat16(compute)
        return True
    return False


def _kernel(name, compute):
    return _SPECIALISED[name][compute.name]


def _normalise(name, x, axis, out, n_threads):
    """softmax / log_softmax off the fast path: checks, layout and the kernels."""
    nt = ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    if not _native(compute):
        return getattr(reference, name)(a, axis, out=out)
    ax = ck.check_axis(axis, a.ndim)
    return _elementwise(_kernel(name, compute), [a], ax, out, compute, result, nt,
                        _kernel(name + "_cols", compute))


# The common case of each op, whole, at the C level (_core.<op>_tiny: float32/float64
# ndarrays in the row kernels' layout, the last axis, the default options), else None:
# the general path below then checks every argument and raises every error.
_softmax_tiny = _core.softmax_tiny
_log_softmax_tiny = _core.log_softmax_tiny
_logsumexp_tiny = _core.logsumexp_tiny
_softmax_backward_tiny = _core.softmax_backward_tiny
_log_softmax_backward_tiny = _core.log_softmax_backward_tiny
_cross_entropy_tiny = _core.cross_entropy_tiny
_cross_entropy_with_grad_tiny = _core.cross_entropy_with_grad_tiny
_nll_loss_tiny = _core.nll_loss_tiny


def softmax(x, axis=-1, *, out=None, n_threads=None):
    y = _softmax_tiny(x, axis, out, n_threads)
    return y if y is not None else _normalise("softmax", x, axis, out, n_threads)


def log_softmax(x, axis=-1, *, out=None, n_threads=None):
    y = _log_softmax_tiny(x, axis, out, n_threads)
    return y if y is not None else _normalise("log_softmax", x, axis, out, n_threads)


def softmax_backward(grad, y, axis=-1, *, out=None, n_threads=None):
    r = _softmax_backward_tiny(grad, y, axis, out, n_threads)
    if r is not None:
        return r
    nt = ck.check_threads(n_threads)
    (g, yy), compute, result = ck.common_real_dtype([(grad, "grad"), (y, "y")])
    if not _native(compute):
        return reference.softmax_backward(g, yy, axis, out=out)
    ck.check_same_shape(g, yy, "grad", "y")
    ax = ck.check_axis(axis, g.ndim)
    return _elementwise(_kernel("softmax_backward", compute), [g, yy], ax, out, compute, result, nt,
                        _kernel("softmax_backward_cols", compute))


def log_softmax_backward(grad, logp, axis=-1, *, out=None, n_threads=None):
    r = _log_softmax_backward_tiny(grad, logp, axis, out, n_threads)
    if r is not None:
        return r
    nt = ck.check_threads(n_threads)
    (g, lp), compute, result = ck.common_real_dtype([(grad, "grad"), (logp, "logp")])
    if not _native(compute):
        return reference.log_softmax_backward(g, lp, axis, out=out)
    ck.check_same_shape(g, lp, "grad", "logp")
    ax = ck.check_axis(axis, g.ndim)
    return _elementwise(_kernel("log_softmax_backward", compute), [g, lp], ax, out, compute, result,
                        nt, _kernel("log_softmax_backward_cols", compute))


def logsumexp(x, axis=-1, *, keepdims=False, out=None, n_threads=None):
    r = _logsumexp_tiny(x, axis, keepdims, out, n_threads)
    if r is not None:
        return r
    nt = ck.check_threads(n_threads)
    a, compute, result = ck.as_real_array(x, "x")
    if not _native(compute):
        return reference.logsumexp(a, axis, keepdims=keepdims, out=out)
    ax = ck.check_axis(axis, a.ndim)
    shape = ck.reduced_shape(a.shape, ax, keepdims)
    if out is not None:
        ck.check_out(out, shape, result)
    n = a.size if ax is None else a.shape[ax]
    rows = ck.prod(shape)
    direct = (out is not None and out.dtype == compute and out.flags.c_contiguous
              and out.flags.aligned and not np.may_share_memory(out, a))
    res = out.reshape(-1) if direct else np.empty(rows, compute)
    if rows == 0:
        pass
    elif n == 0:
        res.fill(-np.inf)
    else:
        src = a if a.dtype == compute else None
        v = _cols_view(src, ax)
        if v is not None:
            _kernel("logsumexp_cols", compute)(v, res, nt)
        else:
            _kernel("logsumexp", compute)(_as_rows(a, ax, compute), res, nt)
    if direct:
        return out
    r = ck.finish_array(res.reshape(shape), out, result)
    return r[()] if (out is None and r.ndim == 0) else r


def _ce(with_grad, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
        z_loss, softcap, return_lse, grad_loss, grad_out, n_threads):
    """Both cross-entropy functions: checks, layout, one kernel call, the reduction."""
    nt = ck.check_threads(n_threads)
    a, compute, result, ax, sample_shape, kind, t, o = ck.ce_inputs(
        logits, target, axis, reduction, weight, ignore_index, label_smoothing, z_loss, softcap)
    if not _native(compute):      # long double: the reference computes in it
        kw = dict(axis=ax, reduction=reduction, weight=weight, ignore_index=ignore_index,
                  label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
                  return_lse=return_lse)
        if with_grad:
            return reference.cross_entropy_with_grad(a, t, grad_loss=grad_loss, grad_out=grad_out,
                                                     **kw)
        return reference.cross_entropy(a, t, **kw)
    scale, rows = ck.grad_loss_factors(grad_loss, reduction, sample_shape) if with_grad else (1.0, None)
    if grad_out is not None:
        ck.check_out(grad_out, a.shape, result, name="grad_out")
    n_classes = a.shape[ax]
    ns = ck.prod(sample_shape)
    probs = kind == "probs"
    if kind == "class" and t.dtype == np.uint64:   # >= 2**63 would wrap in int64
        bad = ck.first_bad_target(t, n_classes, o.ignore_index)
        if bad >= 0:
            raise ck.target_error(t, bad, n_classes, o.ignore_index)
    flat = None
    if not probs:
        flat = _flat_targets_view(t)
        if flat is None:
            flat = _c_aligned(t.reshape(-1), np.int64)
    w = None if o.weight is None else _c_aligned(o.weight, compute)
    cap = 0.0 if o.softcap is None else o.softcap
    loss = np.empty(ns, np.float64)
    lse = np.empty(ns, np.float64) if return_lse else None
    mean = reduction == "mean"
    total = [float(ns)]
    grad = None

    def check(bad_total):
        bad, total[0] = bad_total
        if bad >= 0:               # nothing written, nothing copied to grad_out yet
            raise (ck.probs_error(t, bad, ax) if probs
                   else ck.target_error(t, bad, n_classes, o.ignore_index))

    if ns == 0:
        if with_grad:
            grad = grad_out if grad_out is not None else np.empty(a.shape, result)
        total[0] = 0.0
    else:
        kernel = _kernel("cross_entropy", compute)

        def run(x3, p3, g3, n):
            check(kernel(x3, flat, loss, g3, n, probs=p3, weight=w, ignore_index=o.ignore_index,
                         label_smoothing=o.label_smoothing, z_loss=o.z_loss, softcap=cap,
                         lse=lse, grad_scale=scale, grad_rows=rows, grad_mean=mean))

        cols = _cols_operands([a, t] if probs else [a], ax, compute)
        if cols is not None:       # a non-last class axis: no transposed copy, every option
            if with_grad:
                grad = _columns(run if probs else (lambda x3, g3, n: run(x3, None, g3, n)),
                                cols, a.shape, ax, grad_out, compute, result, nt)
            else:
                run(cols[0], cols[1] if probs else None, None, nt)
        else:
            x2 = _as_rows(a, ax, compute)
            p2 = _as_rows(t, ax, compute) if probs else None
            res = g2 = None
            if with_grad:
                g2 = _direct_target(grad_out, ax, compute, [x2] if p2 is None else [x2, p2])
                if g2 is None:
                    moved_shape = _moved(a, ax).shape
                    res = np.empty(moved_shape, compute)
                    g2 = res.reshape(-1, moved_shape[-1])
            # rows are (rows, classes, 1) to the kernel (x[..., None]: the cheapest view)
            run(x2[..., None], None if p2 is None else p2[..., None],
                None if g2 is None else g2[..., None], nt)
            if with_grad:
                if res is None:
                    grad = grad_out
                else:
                    grad = ck.finish_array(_restore(res, ax, a.shape), grad_out, result)
    out = ck.finish_loss(loss, reduction, sample_shape, result, total[0])
    extra = (ck.finish_array(lse.reshape(sample_shape), None, ck.loss_dtype(result)),) if return_lse else ()
    if with_grad:
        return (out, grad) + extra
    return (out,) + extra if return_lse else out


def cross_entropy(logits, target, *, axis=-1, reduction="mean", weight=None, ignore_index=-100,
                  label_smoothing=0.0, z_loss=0.0, softcap=None, return_lse=False,
                  n_threads=None):
    r = _cross_entropy_tiny(logits, target, axis, reduction, weight, ignore_index,
                            label_smoothing, z_loss, softcap, return_lse, n_threads)
    if r is not None:
        return r
    return _ce(False, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap, return_lse, None, None, n_threads)


def cross_entropy_with_grad(logits, target, *, axis=-1, reduction="mean", weight=None,
                            ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None,
                            return_lse=False, grad_loss=None, grad_out=None, n_threads=None):
    r = _cross_entropy_with_grad_tiny(logits, target, axis, reduction, weight, ignore_index,
                                      label_smoothing, z_loss, softcap, return_lse, grad_loss,
                                      grad_out, n_threads)
    if r is not None:
        return r
    return _ce(True, logits, target, axis, reduction, weight, ignore_index, label_smoothing,
               z_loss, softcap, return_lse, grad_loss, grad_out, n_threads)


def nll_loss(logp, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
             n_threads=None):
    r = _nll_loss_tiny(logp, target, axis, weight, ignore_index, reduction, n_threads)
    if r is not None:
        return r
    return reference.nll_loss(logp, target, axis=axis, weight=weight, ignore_index=ignore_index,
                              reduction=reduction, n_threads=n_threads)


def linear_cross_entropy(h, W, target, *, bias=None, chunk_size=None, reduction="mean",
                         weight=None, ignore_index=-100, label_smoothing=0.0, z_loss=0.0,
                         softcap=None, return_lse=False, n_threads=None):
    return _linear.run(cross_entropy, cross_entropy_with_grad, h, W, target, bias=bias,
                       chunk_size=chunk_size, reduction=reduction, weight=weight,
                       ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss,
                       softcap=softcap, return_lse=return_lse, grad_loss=None, with_grad=False,
                       n_threads=n_threads)


def linear_cross_entropy_with_grad(h, W, target, *, bias=None, chunk_size=None, reduction="mean",
                                   weight=None, ignore_index=-100, label_smoothing=0.0,
                                   z_loss=0.0, softcap=None, return_lse=False, grad_loss=None,
                                   n_threads=None):
    return _linear.run(cross_entropy, cross_entropy_with_grad, h, W, target, bias=bias,
                       chunk_size=chunk_size, reduction=reduction, weight=weight,
                       ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss,
                       softcap=softcap, return_lse=return_lse, grad_loss=grad_loss, with_grad=True,
                       n_threads=n_threads, accumulate=_accumulate)


def _accumulate(y, x, n_threads):
    _kernel("accumulate", y.dtype)(y, x, n_threads)


def get_isa():
    """Name of the kernel set in use: "scalar", "neon", "avx2" or "avx512"."""
    return _core.get_isa()


def set_isa(name):
    """Force a kernel set; ValueError if unknown or not supported by this CPU."""
    if not isinstance(name, str):
        raise TypeError(f"ISA name must be a str, not {type(name).__name__}")
    _core.set_isa(name)


def get_num_threads():
    """Threads a call with n_threads=None uses (see set_num_threads)."""
    return _core.get_num_threads()


def set_num_threads(n):
    """Set the thread count used when n_threads=None; None restores the default.

    The default is FASTSOFTMAX_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs
    this process may run on.  Process-wide.  Returns the previous value.
    """
    return _core.set_num_threads(0 if n is None else ck.check_threads(n))


def available_isas():
    """Kernel sets this build and this CPU can run, slowest first."""
    return [n for n in _core.compiled_isas() if _core.isa_supported(n)]

