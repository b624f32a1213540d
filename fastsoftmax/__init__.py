"""fastsoftmax: fast, accurate softmax, log-softmax, logsumexp and cross-entropy on CPUs.

The compiled backend is used unless FASTSOFTMAX_BACKEND=numpy selects the
pure-NumPy reference (``fastsoftmax.reference``), which has the same API.

This module is the public API: each function's signature and docstring are
written here, once, and the function hands its arguments to the active backend
(``fastsoftmax._api`` or ``fastsoftmax.reference``); ``__all__`` below is the
one list of public names, and ``__init__.pyi`` (checked against this module by
``mypy.stubtest`` in the tests) types them.
"""
import os as _os
import warnings as _warnings

__version__ = "0.1.0"

__all__ = [
    "softmax", "log_softmax", "logsumexp", "softmax_backward",
    "log_softmax_backward", "cross_entropy", "cross_entropy_with_grad", "nll_loss",
    "linear_cross_entropy", "linear_cross_entropy_with_grad",
    "get_isa", "set_isa", "available_isas", "get_num_threads", "set_num_threads",
    "backend", "reference", "scipy", "patch_scipy", "unpatch_scipy", "patched_scipy",
]

_requested = _os.environ.get("FASTSOFTMAX_BACKEND", "auto").strip().lower() or "auto"
if _requested not in ("auto", "c", "numpy"):
    raise ImportError(
        f"FASTSOFTMAX_BACKEND={_requested!r} is not one of 'auto', 'c', 'numpy'"
    )

from . import reference  # noqa: E402

if _requested == "numpy":
    _impl = reference
else:
    try:
        from . import _api as _impl
    except ImportError as exc:  # a source checkout without the built extension
        if _requested == "c":
            raise
        _here = _os.path.dirname(__file__)
        if not any(f.startswith("_core.") and f.endswith((".so", ".pyd"))
                   for f in _os.listdir(_here)):
            exc = (f"the extension fastsoftmax._core is not built in {_here}; importing a "
                   "source checkout? Run `pip install .` and import from another folder, "
                   "or `pip install -e .`")
        _warnings.warn(
            f"fastsoftmax: compiled extension unavailable ({exc}); using the NumPy reference",
            RuntimeWarning,
            stacklevel=2,
        )
        _impl = reference

backend = "numpy" if _impl is reference else "c"


# Paragraphs several docstrings share, written once: a docstring below names one by
# a line holding just "{n_threads}", "{dtypes}" or "{accuracy}".
_SHARED_PARAGRAPHS = {
    "{n_threads}": """n_threads : int or None, default None
        Threads to use; None uses ``fastsoftmax.get_num_threads()``
        (FASTSOFTMAX_NUM_THREADS, else OMP_NUM_THREADS, else all CPUs this
        process may use; ``threadpoolctl.threadpool_limits`` lowers it).
        Small inputs run on one thread. Results are bitwise identical for
        every thread count.  (The NumPy reference accepts and ignores it.)""",
    "{dtypes}": """float32 and float64 are computed natively and returned in the same dtype;
    float16 is computed in float32 and returned as float16; integer and bool
    inputs are computed and returned as float64. Complex and object arrays
    raise TypeError.""",
    "{accuracy}": """Accuracy: against an exact (float64 for float32, long double for float64)
    computation, float32 results have relative error <= 2e-6 for entries
    >= 1e-30 (rows sum to 1 within 1e-6) and float64 results <= 5e-14.""",
}


def _with_shared_paragraphs(fn):
    for marker, text in _SHARED_PARAGRAPHS.items():
        if fn.__doc__:                  # None under python -OO
            fn.__doc__ = fn.__doc__.replace(marker, text)
    return fn


@_with_shared_paragraphs
def softmax(x, axis=-1, *, out=None, n_threads=None):
    """Softmax along an axis: ``exp(x - max) / sum(exp(x - max))``.

    Parameters
    ----------
    x : array_like
        Input values. Any layout (C, Fortran, strided, read-only).
    axis : int or None, default -1
        Axis to normalise over; None normalises over the whole array
        (as ``scipy.special.softmax``).
    out : ndarray, optional
        Where to write the result: same shape and dtype as the result, writeable.
        May be ``x`` itself (in place).
    {n_threads}

    Returns
    -------
    ndarray
        Same shape as ``x``; each slice along ``axis`` sums to 1.

    Notes
    -----
    {dtypes}
    {accuracy}
    Non-finite input follows scipy.special: a row holding NaN, +inf, or only
    -inf gives a row of NaN; other rows are unaffected.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> fs.softmax(np.array([5., 2., 1.]))
    array([0.93623955, 0.04661262, 0.01714783])
    """
    return _impl.softmax(x, axis, out=out, n_threads=n_threads)


@_with_shared_paragraphs
def log_softmax(x, axis=-1, *, out=None, n_threads=None):
    """Log of the softmax along an axis: ``(x - max) - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : array_like
    axis : int or None, default -1
        None means the whole array.
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``x``.
    {n_threads}

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
    {dtypes}
    Accuracy: absolute error <= 2e-6 * max(1, |exact|) for float32 and
    <= 5e-14 * max(1, |exact|) for float64; where one entry dominates its row
    (the sum is formed as log1p of the terms beside the max), the entries keep
    relative error <= 2e-6 / 5e-14, the dominant one's tiny -log1p(rest) too.
    Non-finite input follows scipy.special: NaN rows and all -inf rows give
    NaN; in a row with +inf, +inf entries give NaN and the others -inf.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> fs.log_softmax(np.array([1000., 1.]))
    array([   0., -999.])
    """
    return _impl.log_softmax(x, axis, out=out, n_threads=n_threads)


@_with_shared_paragraphs
def logsumexp(x, axis=-1, *, keepdims=False, out=None, n_threads=None):
    """``log(sum(exp(x)))`` along an axis, computed without overflow.

    Parameters
    ----------
    x : array_like
    axis : int or None, default -1
        None reduces the whole array.
    keepdims : bool, default False
        Keep the reduced axis with length 1.
    out : ndarray, optional
        Of the reduced shape and the result dtype, writeable.
    {n_threads}

    Returns
    -------
    ndarray or scalar
        A NumPy scalar when the result is 0-d and ``out`` is not given.

    Notes
    -----
    {dtypes}
    Accuracy: absolute error <= 2e-6 * max(1, |exact|) for float32 and
    <= 5e-14 * max(1, |exact|) for float64, and <= 2e-6 / 5e-14 times
    (|max| + log(sum(exp(x - max)))), the problem's condition, where one entry
    dominates (``max + log1p(rest)``: ``logsumexp([0, -40])`` is 4.248e-18).
    An empty axis gives -inf. A row with NaN gives NaN; with +inf (and no
    NaN) gives +inf; of only -inf gives -inf (as scipy.special.logsumexp).

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> float(fs.logsumexp(np.array([0., 0.])))  # log(2)
    0.6931471805599453
    """
    return _impl.logsumexp(x, axis, keepdims=keepdims, out=out, n_threads=n_threads)


@_with_shared_paragraphs
def softmax_backward(grad, y, axis=-1, *, out=None, n_threads=None):
    """Gradient through softmax: ``y * (grad - sum(grad * y, axis))``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient d(loss)/d(y).
    y : array_like
        The softmax output, same shape as ``grad``.
    axis : int or None, default -1
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``grad`` or ``y``.
    {n_threads}

    Returns
    -------
    ndarray
        d(loss)/d(x), same shape as ``grad``.

    Notes
    -----
    The dtype is that of ``grad`` and ``y`` promoted together, then mapped as
    for softmax. The inner sum is accumulated in double precision.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> y = fs.softmax(np.array([1., 2., 3.]))
    >>> np.allclose(fs.softmax_backward(np.ones(3), y), 0)
    True
    """
    return _impl.softmax_backward(grad, y, axis, out=out, n_threads=n_threads)


@_with_shared_paragraphs
def log_softmax_backward(grad, logp, axis=-1, *, out=None, n_threads=None):
    """Gradient through log_softmax: ``grad - exp(logp) * sum(grad, axis)``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient d(loss)/d(logp).
    logp : array_like
        The log_softmax output, same shape as ``grad``.
    axis : int or None, default -1
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``grad`` or ``logp``.
    {n_threads}

    Returns
    -------
    ndarray
        d(loss)/d(x), same shape as ``grad``.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> lp = fs.log_softmax(np.array([1., 2., 3.]))
    >>> g = fs.log_softmax_backward(np.array([0., 0., -1.]), lp)  # d(-logp[2])/dx
    >>> np.allclose(g, np.exp(lp) - [0, 0, 1])
    True
    """
    return _impl.log_softmax_backward(grad, logp, axis, out=out, n_threads=n_threads)


@_with_shared_paragraphs
def cross_entropy(logits, target, *, axis=-1, reduction='mean', weight=None, ignore_index=-100,
                  label_smoothing=0.0, z_loss=0.0, softcap=None, return_lse=False, n_threads=None):
    """Cross-entropy of logits against class targets or class probabilities.

    Per sample ``logsumexp(z) - z[target]`` (the options below generalise it
    exactly as torch.nn.functional.cross_entropy does), reading the logits
    once and allocating nothing of the logits' size.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, classes along ``axis``.
    target : array_like
        Integer class indices in [0, C) (or equal to ``ignore_index``), shape =
        ``logits.shape`` without ``axis``; or floating-point class
        probabilities of the logits' shape (>= 0; torch's semantics:
        ``ignore_index`` does not apply, "mean" divides by the sample count).
    axis : int, default -1
        The class axis.
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" returns the per-sample losses. "mean" divides the sum by the
        summed ``weight[target]`` of the samples not ignored (their count
        without weights), as torch does; when that is 0 (every target
        ignored, or zero samples) the mean is 0.0 (torch gives NaN).
    weight : array_like of shape (C,), optional
        Class weights, finite and >= 0: sample i's loss is multiplied by
        ``weight[target[i]]`` (with smoothing or probabilities, each class
        term by its class's weight, as torch).
    ignore_index : int or None, default -100
        Samples whose target equals it add nothing to the loss, the "mean"
        divisor or the gradient. None ignores nothing.
    label_smoothing : float in [0, 1], default 0.0
        The target becomes ``(1 - e) * onehot + e / C`` (torch's definition).
    z_loss : float >= 0, default 0.0
        Adds ``z_loss * logsumexp(z)**2`` to each sample's loss (PaLM's
        auxiliary loss; not weighted; 0 for ignored samples).
    softcap : float > 0, optional
        The logits first become ``softcap * tanh(z / softcap)`` (Gemma's
        logit soft-capping); the gradient goes through it.
    return_lse : bool, default False
        Also return the per-sample logsumexp of the (capped) logits, float,
        sample-shaped (0.0 for ignored samples).
    {n_threads}

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the logits' result dtype, or the per-sample array.
    lse : ndarray
        Only with ``return_lse=True``: ``(loss, lse)``.

    Raises
    ------
    ValueError
        A class target outside [0, C) and not ignore_index, a negative or NaN
        probability target, a negative or non-finite weight (each message
        names the first offender's position and value); a target or weight of
        the wrong shape, zero classes, an unknown reduction, an option out of
        range.
    TypeError
        A target that is neither integer nor floating point, logits that are
        not real numbers.

    Notes
    -----
    Per-sample losses are accumulated in double precision: float32 loss
    relative error <= 1e-6, float64 <= 1e-12 (against torch in float64), with
    every option.  The loss is ``(max - x[target]) + log1p(rest)`` (rest: the
    sum of exp(x - max) beside the max's own term), so a confident, correct
    prediction's tiny loss keeps that relative accuracy too (a margin of 40
    gives ~1e-17, not 0).  With ``softcap`` the capped logits are computed in
    the logits' dtype, each within a few ulp.  Over a
    non-last class axis, probability targets and the smoothing / z_loss /
    softcap options work on one transposed copy; the rest reads in place.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> z = np.array([[2., 0., 0.], [0., 0., 2.]])
    >>> float(fs.cross_entropy(z, np.array([0, 2])))
    0.2395447662...
    >>> float(fs.cross_entropy(z, np.array([0, -100])))    # the second ignored
    0.2395447662...
    """
    return _impl.cross_entropy(
        logits, target, axis=axis, reduction=reduction, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap, return_lse=return_lse,
        n_threads=n_threads)


@_with_shared_paragraphs
def cross_entropy_with_grad(logits, target, *, axis=-1, reduction='mean', weight=None,
                            ignore_index=-100, label_smoothing=0.0, z_loss=0.0, softcap=None,
                            return_lse=False, grad_loss=None, grad_out=None, n_threads=None):
    """Cross-entropy and its gradient in one fused pass.

    Returns ``(loss, grad)`` with ``grad`` the gradient of ``loss`` (the sum
    of the per-sample losses with reduction="none", times ``grad_loss``) with
    respect to the logits: ``(softmax(z) - onehot(target)) / N`` without
    options and reduction "mean".

    Parameters
    ----------
    logits, target, axis, reduction, weight, ignore_index, label_smoothing, z_loss, softcap, return_lse
        As for :func:`cross_entropy`.
    grad_loss : array_like, optional
        The upstream gradient: with reduction="none", per sample (broadcast
        to the per-sample loss's shape), each sample's gradient is scaled by
        it; with "mean" / "sum", a scalar that scales the whole gradient.
    grad_out : ndarray, optional
        Where to write the gradient: the logits' shape and result dtype,
        writeable. May be ``logits`` itself: the gradient then overwrites the
        logits and no array of their size is allocated.
    {n_threads}

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray
        ``grad_out`` when given. Rows of ignored samples are 0.
    lse : ndarray
        Only with ``return_lse=True``: ``(loss, grad, lse)``.

    Notes
    -----
    Reads the logits once for the loss and once more to write the gradient.
    float32 gradient entries are within 1e-6 of the exact value relative to
    the largest entry of their row (float64: 1e-12); without options they
    have the accuracy of softmax before the one-hot subtraction.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> z = np.array([[2., 0., 0.]])
    >>> loss, g = fs.cross_entropy_with_grad(z, np.array([0]))
    >>> np.allclose(g.sum(axis=-1), 0)
    True
    """
    return _impl.cross_entropy_with_grad(
        logits, target, axis=axis, reduction=reduction, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap, return_lse=return_lse,
        grad_loss=grad_loss, grad_out=grad_out, n_threads=n_threads)


@_with_shared_paragraphs
def nll_loss(logp, target, *, axis=-1, weight=None, ignore_index=-100, reduction='mean',
             n_threads=None):
    """Negative log-likelihood of log-probabilities, as torch.nn.functional.nll_loss.

    Per sample ``-weight[target] * logp[target]`` (0 for ignored samples);
    "mean" divides by the summed weights of the samples not ignored (0.0
    when that is 0).  Reads one value per sample.

    Parameters
    ----------
    logp : array_like
        Log-probabilities (e.g. :func:`log_softmax`'s output), classes along ``axis``.
    target : array_like of int
        Class indices in [0, C) or equal to ``ignore_index``.
    axis, weight, ignore_index, reduction
        As for :func:`cross_entropy`.
    {n_threads}

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> float(fs.nll_loss(np.log([[0.5, 0.5], [0.25, 0.75]]), np.array([0, 1])))
    0.4904146265...
    """
    return _impl.nll_loss(
        logp, target, axis=axis, weight=weight, ignore_index=ignore_index, reduction=reduction,
        n_threads=n_threads)


@_with_shared_paragraphs
def linear_cross_entropy(h, W, target, *, bias=None, chunk_size=None, reduction='mean',
                         weight=None, ignore_index=-100, label_smoothing=0.0, z_loss=0.0,
                         softcap=None, return_lse=False, n_threads=None):
    """Cross-entropy of ``h @ W.T + bias`` without the (N, V) logits.

    The loss of :func:`cross_entropy` on the logits of a linear layer (a
    language-model head, say), computed in chunks of rows: NumPy's matmul
    (BLAS) writes one chunk of logits into a reused buffer and the fused
    kernel reduces it, so peak extra memory is about chunk x V elements.

    Parameters
    ----------
    h : array_like, shape (N, D)
        Hidden states (float32 or float64; the computation runs in their
        promoted dtype with ``W``; float16 and bfloat16 run in float32).
    W : array_like, shape (V, D)
        Output weights, one row per class.
    target : array_like
        Class indices (N,) or probabilities (N, V), as for :func:`cross_entropy`.
    bias : array_like, shape (V,), optional
    chunk_size : int, optional
        Rows per chunk; None picks about 32 MB of logits and at least 64 rows
        per thread.
    reduction, weight, ignore_index, label_smoothing, z_loss, softcap, return_lse
        As for :func:`cross_entropy`.
    {n_threads}

    Returns
    -------
    loss : scalar or ndarray
    lse : ndarray
        Only with ``return_lse=True``: ``(loss, lse)``.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> h, W = np.eye(2), np.array([[3., 0.], [0., 3.], [0., 0.]])
    >>> loss = fs.linear_cross_entropy(h, W, np.array([0, 1]))
    >>> bool(np.isclose(loss, fs.cross_entropy(h @ W.T, np.array([0, 1]))))
    True
    """
    return _impl.linear_cross_entropy(
        h, W, target, bias=bias, chunk_size=chunk_size, reduction=reduction, weight=weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
        return_lse=return_lse, n_threads=n_threads)


@_with_shared_paragraphs
def linear_cross_entropy_with_grad(h, W, target, *, bias=None, chunk_size=None, reduction='mean',
                                   weight=None, ignore_index=-100, label_smoothing=0.0, z_loss=0.0,
                                   softcap=None, return_lse=False, grad_loss=None, n_threads=None):
    """Loss and gradients of ``cross_entropy(h @ W.T + bias, target)``, fused.

    Per chunk of rows: BLAS writes the chunk's logits into one reused
    buffer, the fused cross-entropy kernel turns them into d loss / d logits
    in place, and BLAS adds the chunk's contributions to ``dh`` (its rows)
    and ``dW``; ``dbias`` is summed in float64.  The (N, V) logits never
    exist: peak extra memory is about 1.25 x chunk x V elements.

    Parameters
    ----------
    h, W, target, bias, chunk_size, reduction, weight, ignore_index, label_smoothing, z_loss, softcap, return_lse
        As for :func:`linear_cross_entropy`.
    grad_loss : array_like, optional
        The upstream gradient, as for :func:`cross_entropy_with_grad`.
    {n_threads}

    Returns
    -------
    loss : scalar or ndarray
    dh : ndarray, shape (N, D)
    dW : ndarray, shape (V, D)
    dbias : ndarray, shape (V,), or None without ``bias``
    lse : ndarray
        Only with ``return_lse=True``, last.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> rng = np.random.default_rng(0)
    >>> h, W = rng.standard_normal((8, 4)), rng.standard_normal((5, 4))
    >>> loss, dh, dW, dbias = fs.linear_cross_entropy_with_grad(h, W, np.arange(8) % 5)
    >>> dh.shape, dW.shape, dbias is None
    ((8, 4), (5, 4), True)
    """
    return _impl.linear_cross_entropy_with_grad(
        h, W, target, bias=bias, chunk_size=chunk_size, reduction=reduction, weight=weight,
        ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap,
        return_lse=return_lse, grad_loss=grad_loss, n_threads=n_threads)


def get_isa():
    """Name of the kernel set in use ("scalar", "neon", "avx2", "avx512"), or "numpy"."""
    return "numpy" if backend == "numpy" else _impl.get_isa()


def set_isa(name):
    """Force a kernel set by name; ValueError if this CPU or build lacks it.

    Equivalent to starting Python with FASTSOFTMAX_ISA=name.
    """
    if backend == "numpy":
        if name != "numpy":
            raise ValueError("the NumPy backend is in use (FASTSOFTMAX_BACKEND=numpy); "
                             "only 'numpy' is available")
        return
    _impl.set_isa(name)


def available_isas():
    """Kernel sets this build and CPU can run, slowest first."""
    return ["numpy"] if backend == "numpy" else _impl.available_isas()


def get_num_threads():
    """Threads a call with ``n_threads=None`` uses (1 on the NumPy backend)."""
    return 1 if backend == "numpy" else _impl.get_num_threads()


def set_num_threads(n):
    """Set the thread count calls with ``n_threads=None`` use; None restores the default.

    The default is FASTSOFTMAX_NUM_THREADS, else OMP_NUM_THREADS, else the
    number of CPUs this process may run on.  The setting is process-wide, and
    is what ``threadpoolctl.threadpool_limits`` changes.  Returns the previous
    value.  (The NumPy backend is single-threaded: the call only validates n.)
    """
    if backend == "numpy":
        if n is not None:
            from ._checks import check_threads
            check_threads(n)
        return 1
    return _impl.set_num_threads(n)


_isa_env = _os.environ.get("FASTSOFTMAX_ISA")
if _isa_env and backend == "c" and _isa_env not in available_isas():
    _warnings.warn(
        f"FASTSOFTMAX_ISA={_isa_env!r} is not available here; using {get_isa()!r}. "
        f"Available: {available_isas()}",
        RuntimeWarning,
        stacklevel=2,
    )

if backend == "c":
    from ._threadpool import register_with_threadpoolctl as _register

    _register()

# scipy.special drop-ins (fastsoftmax.scipy) and patching scipy.special with them
from .scipy import patch_scipy, patched_scipy, unpatch_scipy  # noqa: E402
