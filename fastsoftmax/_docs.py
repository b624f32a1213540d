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
    "cross_entropy": """Cross-entropy of logits against class targets or class probabilities.

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
{_THREADS}

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
    every option.  With ``softcap`` the capped logits are computed in the
    logits' dtype, each within a few ulp.  Over a
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
    """,
    "cross_entropy_with_grad": """Cross-entropy and its gradient in one fused pass.

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
{_THREADS}

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
    """,
    "nll_loss": """Negative log-likelihood of log-probabilities, as torch.nn.functional.nll_loss.

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
{_THREADS}

    Examples
    --------
    >>> import numpy as np, fastsoftmax as fs
    >>> float(fs.nll_loss(np.log([[0.5, 0.5], [0.25, 0.75]]), np.array([0, 1])))
    0.4904146265...
    """,
    "linear_cross_entropy": """Cross-entropy of ``h @ W.T + bias`` without the (N, V) logits.

    The loss of :func:`cross_entropy` on the logits of a linear layer (a
    language-model head, say), computed in chunks of rows: NumPy's matmul
    (BLAS) writes one chunk of logits into a reused buffer and the fused
    kernel reduces it, so peak extra memory is about chunk x V elements.

    Parameters
    ----------
    h : array_like, shape (N, D)
        Hidden states (float32 or float64; the computation runs in their
        promoted dtype with ``W``).
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
{_THREADS}

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
    """,
    "linear_cross_entropy_with_grad": """Loss and gradients of ``cross_entropy(h @ W.T + bias, target)``, fused.

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
{_THREADS}

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
    """,
}
# Not every entry is an f-string (some show literal braces): fill this one in here.
DOCS = {name: doc.replace("{_THREADS}", _THREADS) for name, doc in DOCS.items()}


def attach(namespace):
    """Give the functions in ``namespace`` (a module dict) their docstrings."""
    for name, doc in DOCS.items():
        if name in namespace:
            namespace[name].__doc__ = doc
