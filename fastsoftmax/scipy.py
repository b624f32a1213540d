"""scipy.special-compatible softmax, log_softmax and logsumexp.

``from fastsoftmax import scipy as sps`` replaces ``import scipy.special as
sps`` for these three names: the same signatures, defaults (``axis=None``:
the whole array), axis tuples, result dtypes, non-finite results and
exceptions as scipy.special -- computed by fastsoftmax's kernels.
``fastsoftmax.patch_scipy()`` installs them into ``scipy.special`` itself.

Design: each call normalises its axes, then makes ONE call into the public
fastsoftmax function: one axis or all of them are its own ``axis=``; several
become one axis, by a reshape when they are adjacent (a view for contiguous
input; the column kernels when that axis is not last), else by one
transposed copy.  No Python loop runs over the groups.

Where scipy's own arithmetic is wrong, these functions are right and keep
scipy's dtype:

- integer input: scipy subtracts the maximum in the integer type, which wraps
  for unsigned and for narrow signed integers (``softmax(np.uint8([1, 3]))``
  is ``[0, nan]`` there); here the subtraction is exact;
- float16 (and integers whose scipy result is float16 or float32) is
  computed in float32 and rounded once; so is ml_dtypes' bfloat16 (scipy's
  logsumexp raises TypeError on it), which keeps its dtype;
- ``logsumexp`` of an empty array over several axes, or over ``axis=()``,
  raises IndexError or returns a wrongly shaped result in scipy; here it is
  -inf (or the empty array) of the reduced shape.

Inputs are converted with ``numpy.asarray``: masked arrays lose their mask and
matrices become arrays (scipy's logsumexp keeps those subclasses; for the
rest scipy converts alike unless SCIPY_ARRAY_API=1).  Complex, object and other non-real inputs are passed to
scipy.special itself.  ``logsumexp`` with ``b=`` runs a NumPy port of scipy's
algorithm (the same rules for zero weights, signs and infinities), so it
needs no scipy either.
"""
import math
import operator
from contextlib import contextmanager

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

import fastsoftmax as _fs
from fastsoftmax import _checks as ck

__all__ = ["softmax", "log_softmax", "logsumexp"]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_NAMES = ("softmax", "log_softmax", "logsumexp")

# --------------------------------------------------------------------------
# scipy itself: the fallback for non-real input, and the patch registry
# --------------------------------------------------------------------------

_originals: dict = {}   # name -> scipy.special's own function while patched


def _scipy_function(name):
    """scipy.special's own ``name`` (never a patched-in fastsoftmax function)."""
    if name in _originals:
        return _originals[name]
    try:
        import scipy.special
    except ImportError:
        raise TypeError(
            f"fastsoftmax.scipy.{name} passes complex, object and other non-real input to "
            f"scipy.special.{name}, and scipy is not installed"
        ) from None
    fn = getattr(scipy.special, name)
    if getattr(fn, "__module__", None) == __name__:   # installed by hand, not by patch_scipy
        from scipy.special import _logsumexp
        fn = getattr(_logsumexp, name)
    return fn


def patch_scipy():
    """Replace scipy.special.softmax / log_softmax / logsumexp with fastsoftmax.scipy's.

    Code that calls them through the module (``scipy.special.softmax(x)``,
    ``sps.softmax(x)`` after ``import scipy.special as sps``) gets the
    fastsoftmax versions from then on.  Names bound earlier by
    ``from scipy.special import softmax`` still hold scipy's function: the
    patch cannot reach them.  Patching twice is harmless; ``unpatch_scipy()``
    restores scipy's functions.  Raises ImportError if scipy is not installed.
    """
    import scipy.special
    for name in _NAMES:
        if name not in _originals:
            _originals[name] = getattr(scipy.special, name)
        setattr(scipy.special, name, globals()[name])


def unpatch_scipy():
    """Restore scipy.special's own functions (a no-op when not patched)."""
    if not _originals:
        return
    import scipy.special
    for name in _NAMES:
        if name in _originals:
            setattr(scipy.special, name, _originals.pop(name))


@contextmanager
def patched_scipy():
    """``with fastsoftmax.patched_scipy(): ...`` -- patch on entry, restore on exit.

    Restores only what this block patched: inside an outer ``patch_scipy()``
    the functions stay patched after the block.
    """
    already = bool(_originals)
    patch_scipy()
    try:
        yield
    finally:
        if not already:
            unpatch_scipy()

# --------------------------------------------------------------------------
# Axes and layout
# --------------------------------------------------------------------------


def _axes(axis, ndim):
    """scipy's (NumPy's) axis argument as a sorted tuple of non-negative axes.

    None is every axis; an int or a tuple of ints; AxisError out of range,
    ValueError when repeated, TypeError for anything else (a list, a bool, a float).
    """
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise TypeError("an integer is required for the axis, not bool")
        operator.index(item)   # TypeError: "'list' object cannot be interpreted as an integer"
    return tuple(sorted(normalize_axis_tuple(items, ndim)))


def _arrange(a, axes):
    """``a`` arranged for ONE fastsoftmax call over ``axes``: (array, axis, moved).

    One axis, or every axis, is fastsoftmax's own ``axis=`` (the column
    kernels take a non-last axis in place).  Otherwise the reduced axes become
    one: adjacent axes merge by a reshape (a view when the layout allows);
    scattered ones move last in one copy, and ``moved`` is then the moved
    shape, to map an elementwise result back (None otherwise).
    """
    shape, k = a.shape, len(axes)
    if k == 1:
        return a, axes[0], None
    if k == a.ndim:                     # the whole array: one row
        return (a.reshape(-1), 0, None) if a.flags.c_contiguous else (a, None, None)
    if k == 0:                          # every element is its own group
        return a.reshape(-1, 1), 1, None
    first, last = axes[0], axes[-1]
    if last - first == k - 1:           # adjacent: merge them
        return a.reshape(shape[:first] + (_group_size(shape, axes),) + shape[last + 1:]), first, None
    moved = a.transpose(_last(a.ndim, axes))
    return moved.reshape(moved.shape[:-k] + (-1,)), -1, moved.shape


def _last(ndim, axes):
    """The permutation moving ``axes`` (sorted) last, the others keeping their order."""
    return tuple(i for i in range(ndim) if i not in axes) + axes


def _group_size(shape, axes):
    return math.prod(shape[i] for i in axes)


def _scalar(r):
    """0-d results are NumPy scalars, as in scipy."""
    return r[()] if r.ndim == 0 else r

# --------------------------------------------------------------------------
# softmax, log_softmax
# --------------------------------------------------------------------------


def _exp_dtype(dt):
    """The dtype of scipy's result for a real input dtype: ``np.exp`` of it."""
    if ck.is_floating(dt):
        return dt.newbyteorder("=")
    return np.dtype({1: np.float16, 2: np.float32}.get(dt.itemsize, np.float64))


def _normalise(name, x, axis):
    a = np.asarray(x)
    kind = "f" if ck.is_floating(a.dtype) else a.dtype.kind   # ml_dtypes' bfloat16 is kind "V"
    if kind not in "biuf":
        return _scipy_function(name)(x, axis=axis)
    shape = a.shape
    if a.ndim == 0:
        # NumPy's reductions accept axis 0 and -1 on a 0-d array
        if axis is not None and not isinstance(axis, tuple):
            _axes(axis, 1)
            axis = None
        _axes(axis, 0)
        a = a.reshape(1)
        axes = ()
    else:
        axes = _axes(axis, a.ndim)
    result = _exp_dtype(a.dtype)
    if _group_size(a.shape, axes) == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    if kind == "b":   # in scipy's order: axis checks, the maximum, then x - max
        raise TypeError(
            f"scipy.special.{name} does not take bool arrays (NumPy cannot subtract booleans); "
            "convert with x.astype(float)"
        )
    if a.size == 0:
        return np.empty(shape, result)
    if kind in "iu":
        a = _exact_shift(a, axes) if a.itemsize == 8 else a.astype(_F32 if result.itemsize <= 4 else _F64)
    arranged, ax, moved = _arrange(a, axes)
    y = getattr(_fs, name)(arranged, axis=ax)
    if moved is not None:   # the inverse permutation
        y = y.reshape(moved).transpose(np.argsort(_last(a.ndim, axes)))
    return _scalar(y.astype(result, copy=False).reshape(shape))


def _exact_shift(a, axes):
    """64-bit integers as float64, shifted by their group maximum exactly when needed.

    Beyond 2**53 neighbouring integers round to the same double; x - max,
    taken in wrapping uint64 arithmetic (exact: 0 <= max - x < 2**64), does
    not.  softmax and log_softmax are shift invariant, so the result is the same.
    """
    lo, hi = a.min(), a.max()
    if -2**53 <= int(lo) and int(hi) <= 2**53:
        return a.astype(_F64)
    m = a.max(axis=axes, keepdims=True)
    return -(m.astype(np.uint64) - a.astype(np.uint64)).astype(_F64)


def softmax(x, axis=None):
    """Softmax over an axis, several axes or the whole array, as ``scipy.special.softmax``.

    ``exp(x - max) / sum(exp(x - max))`` over the elements of each group.

    Parameters
    ----------
    x : array_like
        Input values.
    axis : int or tuple of ints or None, default None
        Axis or axes to normalise over; None (scipy's default) normalises
        over the whole array.

    Returns
    -------
    ndarray or NumPy scalar
        Shaped like ``x`` (a scalar for 0-d input); each group sums to 1.
        The dtype is scipy's: float16/32/64 and long double are kept;
        8-bit integers give float16, 16-bit float32, wider float64.

    Raises
    ------
    TypeError
        bool input (as scipy), an axis that is not an int, tuple or None.
    numpy.exceptions.AxisError
        An axis out of range.
    ValueError
        A repeated axis, or a group of zero elements (as scipy).

    Notes
    -----
    Runs in fastsoftmax's C kernels (accuracy contract: see
    ``fastsoftmax.softmax``) with its default thread count.  Integer input
    is subtracted exactly, not in wrapping integer arithmetic as scipy does.
    Complex and object input is passed to ``scipy.special.softmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import scipy as sps
    >>> sps.softmax(np.array([[1., 2.], [3., 4.]]))
    array([[0.0320586 , 0.08714432],
           [0.23688282, 0.64391426]])
    >>> sps.softmax(np.zeros((2, 3, 4)), axis=(0, 2))[0, 0, 0]
    np.float64(0.125)
    """
    return _normalise("softmax", x, axis)


def log_softmax(x, axis=None):
    """Log-softmax over an axis, several axes or the whole array, as ``scipy.special.log_softmax``.

    ``(x - max) - log(sum(exp(x - max)))`` over the elements of each group.

    Parameters
    ----------
    x : array_like
        Input values.
    axis : int or tuple of ints or None, default None
        Axis or axes to normalise over; None (scipy's default) means the
        whole array.

    Returns
    -------
    ndarray or NumPy scalar
        Shaped like ``x`` (a scalar for 0-d input), in scipy's dtype (see
        ``softmax``).

    Raises
    ------
    TypeError, numpy.exceptions.AxisError, ValueError
        As ``softmax``.

    Notes
    -----
    Runs in fastsoftmax's C kernels (accuracy contract: see
    ``fastsoftmax.log_softmax``).  Complex and object input is passed to
    ``scipy.special.log_softmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import scipy as sps
    >>> sps.log_softmax(np.array([1000., 1.]))
    array([   0., -999.])
    """
    return _normalise("log_softmax", x, axis)

# --------------------------------------------------------------------------
# logsumexp
# --------------------------------------------------------------------------


def _promote(a, b):
    """scipy's result dtype of logsumexp: the arguments' common type, forced to floating.

    Python scalars are weak (a Python float does not widen float32), as in
    scipy; everything else counts by its array's dtype.
    None when the result is not a real floating type (scipy takes it).
    """
    args = [v if type(v) in (int, float, complex, bool) else np.asarray(v)
            for v in (a, b) if v is not None]
    try:
        dt = np.result_type(*args, 1.0)
    except TypeError:
        return None
    return dt if ck.is_floating(dt) else None


def _sign_without_b(out):
    """scipy's sign of a logsumexp without b: 1, 0 for -inf (a zero sum), NaN for NaN."""
    with np.errstate(invalid="ignore"):
        sgn = np.where(out == -np.inf, 0.0, 1.0).astype(out.dtype)
    sgn[np.isnan(out)] = np.nan
    return sgn


def _logsumexp_weighted(a, b, axes, compute, return_sign):
    """scipy's logsumexp with weights ``b`` in NumPy: (out, sign) with reduced axes kept.

    The same steps, in the same order, as scipy: zero weights drop their
    term (even an infinite or NaN one); the largest term (with the weights
    of every tie) is taken out of the sum so the rest goes through log1p; a
    negative total has sign -1 (NaN without ``return_sign``); results that
    come out non-finite are recomputed directly as ``log(sum(b * exp(a)))``
    (of its absolute value with ``return_sign``).
    """
    a = a.astype(compute, copy=False)
    b = b.astype(compute, copy=False)
    with np.errstate(all="ignore"):
        direct = np.sum(b * np.exp(a), axis=axes, keepdims=True)
        sgn_direct = np.sign(direct)
        out_direct = np.log(np.abs(direct) if return_sign else direct)

        a = np.where(b == 0, -np.inf, a)
        a_max = np.max(a, axis=axes, keepdims=True)
        at_max = a == a_max
        m = np.sum(np.where(at_max, b, 0), axis=axes, keepdims=True, dtype=compute)
        s = np.sum(b * np.exp(np.where(at_max, -np.inf, a) - a_max), axis=axes,
                   keepdims=True, dtype=compute)
        s = np.where(s == 0, s, s / m)
        sgn = np.sign(s + 1) * np.sign(m)
        s = np.where(s < -1, -s - 2, s)
        out = np.log1p(s) + np.log(np.abs(m)) + a_max
    if not return_sign:
        out[sgn < 0] = np.nan
    finite = np.isfinite(out)
    return np.where(finite, out, out_direct), np.where(finite, sgn, sgn_direct)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a)))`` over axes, computed stably, as ``scipy.special.logsumexp``.

    Parameters
    ----------
    a : array_like
        Input values.
    axis : int or tuple of ints or None, default None
        Axis or axes to sum over; None sums over every element.
    b : array_like, optional
        Weights of ``exp(a)``, broadcastable with ``a`` (the result has the
        broadcast shape); they may be zero (the term is dropped, even where
        ``a`` is inf or NaN) or negative (subtraction).
    keepdims : bool, default False
        Keep the reduced axes as axes of length one.
    return_sign : bool, default False
        Also return the sign of the sum (1, 0 or -1, NaN for NaN) and put
        ``log(|sum|)`` in the result; without it a negative sum gives NaN.

    Returns
    -------
    res : ndarray or NumPy scalar
        The result (a scalar when every axis is reduced).  Its dtype is the
        promotion of ``a``'s and ``b``'s, made floating: float16/32/64 are
        kept, integers and bool give float64.
    sgn : ndarray or NumPy scalar
        Only with ``return_sign=True``: the sign, same shape and dtype.

    Raises
    ------
    ValueError
        ``a`` and ``b`` do not broadcast; a repeated axis.
    numpy.exceptions.AxisError
        An axis out of range.
    TypeError
        An axis that is not an int, tuple or None.

    Notes
    -----
    Without ``b`` the sum runs in fastsoftmax's C kernels (accuracy contract:
    see ``fastsoftmax.logsumexp``).  With ``b`` it runs in NumPy with
    scipy's algorithm, float16 in float32.  An empty group gives -inf
    (sign -1, as scipy).  Complex (and other non-real) input is passed to
    ``scipy.special.logsumexp``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import scipy as sps
    >>> sps.logsumexp(np.arange(10.0))
    np.float64(9.45862974442671)
    >>> sps.logsumexp([1., 2.], b=[1., -1.], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    """
    dt = _promote(a, b)
    if dt is None:
        return _scipy_function("logsumexp")(a, axis=axis, b=b, keepdims=keepdims,
                                            return_sign=return_sign)
    arr = np.asarray(a)
    if not ck.is_real(arr.dtype):   # a Python int beyond int64 is an object array
        arr = np.asarray(a, dtype=dt)
    compute = _F32 if dt.itemsize < 4 else dt
    if b is not None:
        bw = np.asarray(b)
        try:
            shape = np.broadcast_shapes(arr.shape, bw.shape)
        except ValueError:
            raise ValueError("Array shapes are incompatible for broadcasting.") from None
        arr, bw = np.broadcast_to(arr, shape), np.broadcast_to(bw, shape)
        if bw.ndim == 0:
            bw = bw.reshape(1)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    axes = _axes(axis, arr.ndim)
    kept = ck.reduced_shape(arr.shape, axes, True)
    if arr.size == 0:
        out = np.full(kept, -np.inf, dt)
        sgn = np.full(out.shape, -1.0, dt)
    elif b is not None:
        out, sgn = _logsumexp_weighted(arr, bw, axes, compute, return_sign)
    else:
        if arr.dtype.kind in "biu":
            arr = arr.astype(compute)
        arranged, ax, _ = _arrange(arr, axes)
        out = np.asarray(_fs.logsumexp(arranged, axis=ax)).reshape(kept)
        sgn = _sign_without_b(out) if return_sign else None
    final = ck.reduced_shape(arr.shape, axes, keepdims)
    out = _scalar(out.astype(dt, copy=False).reshape(final))
    if not return_sign:
        return out
    return out, _scalar(sgn.astype(dt, copy=False).reshape(final))
