"""No leaks: many calls of every public function leave RSS and reference counts where they were.

Small inputs: LEAK_CALLS calls each (100,000 by default, 10,000 on the NumPy
backend; FASTSOFTMAX_LEAK_CALLS changes it), large inputs (a 4 MB array): 1,000
calls each (50 on the NumPy backend).  RSS must grow by less than LEAK_MB after
a warm-up round, and ``sys.getrefcount`` of every input and output must be
unchanged.  Under AddressSanitizer (the CI's sanitizer run) RSS says nothing --
freed memory waits in ASan's quarantine -- so only the reference counts are
checked, over 2,000 calls.
"""
import gc
import os
import sys

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import scipy as sps

# The compiled backend is what can leak; the NumPy reference is ~10x slower a call.
ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
LEAK_CALLS = int(os.environ.get("FASTSOFTMAX_LEAK_CALLS",
                                "2000" if ASAN else "100000" if fs.backend == "c" else "10000"))
LARGE_CALLS = 1000 if fs.backend == "c" and not ASAN else 50
LEAK_MB = 4.0


def _rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:   # not Linux
        pytest.skip("needs /proc/self/statm")


def _cases(rows, cols):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    g = rng.standard_normal((rows, cols)).astype(np.float32)
    y = fs.softmax(x)
    lp = fs.log_softmax(x)
    t = rng.integers(0, cols, rows)
    t[::3] = -100
    w = rng.random(cols).astype(np.float32) + 0.5
    out = np.empty_like(x)
    red = np.empty(rows, np.float32)
    h = rng.standard_normal((rows, 8)).astype(np.float32)
    W = rng.standard_normal((cols, 8)).astype(np.float32)
    return {
        "softmax": (fs.softmax, (x,), {}),
        "softmax out": (fs.softmax, (x,), {"out": out}),
        "softmax axis 0": (fs.softmax, (x,), {"axis": 0}),
        "log_softmax": (fs.log_softmax, (x,), {}),
        "logsumexp": (fs.logsumexp, (x,), {"out": red}),
        "softmax_backward": (fs.softmax_backward, (g, y), {}),
        "log_softmax_backward": (fs.log_softmax_backward, (g, lp), {}),
        "cross_entropy": (fs.cross_entropy, (x, t), {}),
        "cross_entropy options": (fs.cross_entropy, (x, t), {"weight": w, "label_smoothing": 0.1,
                                                             "return_lse": True}),
        "cross_entropy_with_grad": (fs.cross_entropy_with_grad, (x, t), {"grad_out": out}),
        "cross_entropy_with_grad probs": (fs.cross_entropy_with_grad, (x, y), {"z_loss": 0.1}),
        "nll_loss": (fs.nll_loss, (lp, t), {}),
        "linear_cross_entropy_with_grad": (fs.linear_cross_entropy_with_grad, (h, W, t), {}),
        "scipy.softmax tuple": (sps.softmax, (x.reshape(rows, 1, cols),), {"axis": (0, 2)}),
        "scipy.logsumexp b": (sps.logsumexp, (x,), {"axis": 1, "b": w, "return_sign": True}),
        "bad target (ValueError)": (fs.cross_entropy, (x, t + cols), {}),
    }


def _call(fn, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


def _refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def _run(name, rows, cols, calls):
    fn, args, kwargs = _cases(rows, cols)[name]
    arrays = list(args) + [v for v in kwargs.values() if isinstance(v, np.ndarray)]
    for _ in range(min(calls, 1000)):                 # warm-up: caches, allocator, pool
        _call(fn, args, kwargs)
    result = _call(fn, args, kwargs)
    gc.collect()
    before_refs = _refcounts(arrays)
    result_refs = _refcounts([result])
    before = _rss_mb()
    for _ in range(calls):
        _call(fn, args, kwargs)
    gc.collect()
    grown = _rss_mb() - before
    assert _refcounts(arrays) == before_refs, f"{name}: input reference counts changed"
    if result is not None:   # None: the call raised (None's count is the whole process's)
        assert _refcounts([result]) == result_refs, f"{name}: output reference count changed"
    assert ASAN or grown < LEAK_MB, f"{name}: RSS grew {grown:.1f} MB over {calls} calls"


@pytest.mark.parametrize("name", list(_cases(4, 10)))
def test_small_inputs_do_not_leak(name):
    _run(name, 4, 10, LEAK_CALLS)


@pytest.mark.parametrize("name", ["softmax", "softmax axis 0", "logsumexp", "cross_entropy",
                                  "cross_entropy_with_grad", "softmax_backward",
                                  "scipy.softmax tuple"])
def test_large_inputs_do_not_leak(name):
    _run(name, 1024, 1000, LARGE_CALLS)
