"""Docstrings of the public functions, shared by both backends."""

_ACCURACY = """\
    Accuracy: against an exact (float64 for float32, long double for float64)
    computation, float32 results have relative error <= 2e-6 for entries
    >= 1e-30 (rows sum to 1 within 1e-6) and float64 results <= 5e-14."""

_DTYPES = """\
    float32 and float64 are computed natively and returned in the same dtype;
    float16 is computed in float32 and returned as float16; integer and bool
    inputs are computed and returned as float64. Complex and object arrays
    raise TypeError."""

_THREADS = """\
    n_threads : int or None, default None
        Threads to use; None uses ``fastsoftmax.get_num_threads()``
        (FASTSOFTMAX_NUM_THREADS, else OMP_NUM_THREADS, else all CPUs this
        process may use; ``threadpoolctl.threadpool_limits`` lowers it).
        Small inputs run on one thread. Results are bitwise identical for
        every thread count.  (The NumPy reference accepts and ignores it.)"""

DOCS = {
    "softmax": f"""Softmax along an axis: ``exp(x - max) / sum(exp(x - max))``.

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
{_THREADS}

    Returns
    -------
    ndarray
        Same shape as ``x``; each slice along ``axis`` sums to 1.

    Notes
    -----
{_DTYPES}
{_ACCURACY}
    Non-finite input follows scipy.special: a row holding NaN, +inf, or only
    -inf gives a row of NaN; other rows are unaffected.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> fs.softmax(np.array([5., 2., 1.]))
    array([0.93623955, 0.04661262, 0.01714783])
    """,
    "log_softmax": f"""Log of the softmax along an axis: ``(x - max) - log(sum(exp(x - max)))``.

    Parameters
    ----------
    x : array_like
    axis : int or None, default -1
        None means the whole array.
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``x``.
{_THREADS}

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
{_DTYPES}
    Accuracy: absolute error <= 2e-6 * max(1, |exact|) for float32 and
    <= 5e-14 * max(1, |exact|) for float64.
    Non-finite input follows scipy.special: NaN rows and all -inf rows give
    NaN; in a row with +inf, +inf entries give NaN and the others -inf.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> fs.log_softmax(np.array([1000., 1.]))
    array([   0., -999.])
    """,
    "logsumexp": f"""``log(sum(exp(x)))`` along an axis, computed without overflow.

    Parameters
    ----------
    x : array_like
    axis : int or None, default -1
        None reduces the whole array.
    keepdims : bool, default False
        Keep the reduced axis with length 1.
    out : ndarray, optional
        Of the reduced shape and the result dtype, writeable.
{_THREADS}

    Returns
    -------
    ndarray or scalar
        A NumPy scalar when the result is 0-d and ``out`` is not given.

    Notes
    -----
{_DTYPES}
    Accuracy: absolute error <= 2e-6 * max(1, |exact|) for float32 and
    <= 5e-14 * max(1, |exact|) for float64.
    An empty axis gives -inf. A row with NaN gives NaN; with +inf (and no
    NaN) gives +inf; of only -inf gives -inf (as scipy.special.logsumexp).

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> float(fs.logsumexp(np.array([0., 0.])))  # log(2)
    0.6931471805599453
    """,
    "softmax_backward": """Gradient through softmax: ``y * (grad - sum(grad * y, axis))``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient d(loss)/d(y).
    y : array_like
        The softmax output, same shape as ``grad``.
    axis : int or None, default -1
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``grad`` or ``y``.
{_THREADS}

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
    """,
    "log_softmax_backward": """Gradient through log_softmax: ``grad - exp(logp) * sum(grad, axis)``.

    Parameters
    ----------
    grad : array_like
        Upstream gradient d(loss)/d(logp).
    logp : array_like
        The log_softmax output, same shape as ``grad``.
    axis : int or None, default -1
    out : ndarray, optional
        Same shape and dtype as the result, writeable; may be ``grad`` or ``logp``.
{_THREADS}

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
    """,
    "cross_entropy": """Cross-entropy of logits against integer class targets.

    Per sample ``logsumexp(z) - z[target]``, reading the logits once and
    allocating nothing of the logits' size.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, classes along ``axis``.
    target : array_like of int
        Class indices in [0, C), shape = ``logits.shape`` without ``axis``.
    axis : int, default -1
        The class axis.
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" returns the per-sample losses. "mean" of zero samples is 0.0.
{_THREADS}

    Returns
    -------
    scalar or ndarray
        A NumPy scalar of the logits' result dtype, or the per-sample array.

    Raises
    ------
    ValueError
        A target outside [0, C) (the message names its position and value),
        a target of the wrong shape, zero classes, an unknown reduction.
    TypeError
        A non-integer target dtype, or logits that are not real numbers.

    Notes
    -----
    Per-sample losses are accumulated in double precision; float32 loss
    error <= 2e-6 * max(1, |exact|), float64 <= 5e-14 * max(1, |exact|).

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> z = np.array([[2., 0., 0.], [0., 0., 2.]])
    >>> float(fs.cross_entropy(z, np.array([0, 2])))
    0.2395447662...
    """,
    "cross_entropy_with_grad": """Cross-entropy and its gradient in one fused pass.

    Returns ``(loss, grad)`` with ``grad = (softmax(z) - onehot(target)) * s``
    where ``s = 1/N`` for reduction="mean" and 1 otherwise (with "none" the
    gradient is that of the sum of per-sample losses).

    Parameters
    ----------
    logits, target, axis, reduction
        As for :func:`cross_entropy`.
    grad_out : ndarray, optional
        Where to write the gradient: the logits' shape and result dtype,
        writeable. May be ``logits`` itself: the gradient then overwrites the
        logits and no array of their size is allocated.
{_THREADS}

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray
        ``grad_out`` when given.

    Notes
    -----
    Reads the logits once for the loss and once more to write the gradient.
    The gradient has the accuracy of softmax (relative error <= 2e-6 for
    float32, 5e-14 for float64, for probabilities >= 1e-30), before the
    subtraction of the one-hot term.

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> z = np.array([[2., 0., 0.]])
    >>> loss, g = fs.cross_entropy_with_grad(z, np.array([0]))
    >>> np.allclose(g.sum(axis=-1), 0)
    True
    """,
}
# Not every entry is an f-string (some show literal braces): fill this one in here.
DOCS = {name: doc.replace("{_THREADS}", _THREADS) for name, doc in DOCS.items()}


def attach(namespace):
    """Give the functions in ``namespace`` (a module dict) their docstrings."""
    for name, doc in DOCS.items():
        if name in namespace:
            namespace[name].__doc__ = doc
