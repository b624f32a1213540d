"""fastsoftmax: fast, accurate softmax, log-softmax, logsumexp and cross-entropy on CPUs.

The compiled backend is used unless FASTSOFTMAX_BACKEND=numpy selects the
pure-NumPy reference (``fastsoftmax.reference``), which has the same API.
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

softmax = _impl.softmax
log_softmax = _impl.log_softmax
logsumexp = _impl.logsumexp
softmax_backward = _impl.softmax_backward
log_softmax_backward = _impl.log_softmax_backward
cross_entropy = _impl.cross_entropy
cross_entropy_with_grad = _impl.cross_entropy_with_grad
nll_loss = _impl.nll_loss
linear_cross_entropy = _impl.linear_cross_entropy
linear_cross_entropy_with_grad = _impl.linear_cross_entropy_with_grad


def get_isa():
    """Name of the kernel set in use ("scalar", "avx2", "avx512"), or "numpy"."""
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
