"""Comparison helpers whose failure messages name every parameter."""
import contextlib
import os
import sys

import numpy as np

import fastsoftmax as fs

# The interpreter that tests start in a subprocess: this one, or the command in
# FASTSOFTMAX_TEST_PYTHON where this one cannot be started directly (under
# user-mode emulation a foreign interpreter runs only through its emulator;
# .ci/aarch64 sets a wrapper script).  conftest.py hands it to multiprocessing.
PYTHON = os.environ.get("FASTSOFTMAX_TEST_PYTHON") or sys.executable
# The emulator the suite runs under, if any (.ci/aarch64 sets "qemu-aarch64").
EMULATOR = os.environ.get("FASTSOFTMAX_TEST_EMULATOR", "")

# Tolerances of the accuracy contract (README, docstrings).
REL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 5e-14}
# Two implementations each within REL of the exact value are within 2*REL of
# each other; the backward ops add an inner sum: allow a little more.
EQUIV = {np.dtype(np.float32): 5e-6, np.dtype(np.float64): 2e-13}


def same_nonfinite(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (np.array_equal(np.isnan(a), np.isnan(b))
            and np.array_equal(np.isposinf(a), np.isposinf(b))
            and np.array_equal(np.isneginf(a), np.isneginf(b)))


def assert_close(actual, desired, rtol, atol=0.0, scale=None, what=""):
    """|actual - desired| <= rtol * scale + atol elementwise, non-finite values equal.

    ``scale`` defaults to |desired|; pass np.maximum(1, |desired|) for
    absolute-error contracts (log_softmax, logsumexp).
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    assert same_nonfinite(actual, desired), (
        f"{what}: non-finite entries differ\nactual={actual}\ndesired={desired}")
    fin = np.isfinite(desired)
    if not fin.any():
        return
    a = actual[fin].astype(np.float64) if actual.dtype.itemsize <= 8 else actual[fin]
    d = desired[fin].astype(a.dtype)
    s = np.abs(d) if scale is None else np.asarray(np.broadcast_to(scale, desired.shape))[fin]
    err = np.abs(a - d)
    bound = rtol * s + atol
    bad = err > bound
    if bad.any():
        i = int(np.argmax(err - bound))
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} entries exceed tolerance "
            f"(rtol={rtol}, atol={atol}); worst: actual={a[i]!r} desired={d[i]!r} "
            f"abs err={err[i]:.3e} bound={bound[i]:.3e}")


@contextlib.contextmanager
def isa_set(name):
    """fs.set_isa(name) for the duration, then the kernel set before."""
    before = fs.get_isa()
    fs.set_isa(name)
    try:
        yield
    finally:
        fs.set_isa(before)


def target_weights(n_classes, target, *, axis=-1, weight=None, label_smoothing=0.0,
                   ignore_index=-100, reduction="mean", grad_loss=None):
    """|s a| per entry of a cross-entropy gradient, the class axis last: a the target
    weights (class t: (1 - eps) w_t onehot(t) + eps/C w; probabilities q: w ((1 - eps) q +
    eps/C)), s the sample's factor (1/total for "mean", times |grad_loss|).  The gradient
    s ((A + 2 z lse) p - a) has two terms that round at their own size; A = sum(a)."""
    eps = float(label_smoothing)
    wv = np.ones(n_classes) if weight is None else np.abs(np.asarray(weight, np.float64))
    t = np.asarray(target)
    if t.dtype.kind == "f":                       # probabilities
        q = np.abs(np.moveaxis(t.astype(np.float64), axis, -1))
        a = wv * ((1 - eps) * q + eps / n_classes)
        total = a.size // max(n_classes, 1)
    else:
        valid = t != ignore_index if ignore_index is not None else np.ones(t.shape, bool)
        tc = np.where(valid, t, 0).astype(np.int64)
        a = np.broadcast_to(wv * (eps / n_classes), t.shape + (n_classes,)).copy()
        np.put_along_axis(a, tc[..., None], np.take_along_axis(a, tc[..., None], -1)
                          + (1 - eps) * wv[tc][..., None], -1)
        a[~valid] = 0.0
        total = np.where(valid, wv[tc], 0.0).sum()
    f = (1.0 / total if total > 0 else 0.0) if reduction == "mean" else 1.0
    if grad_loss is not None:
        f = f * np.abs(np.asarray(grad_loss, np.float64))
    return a * np.expand_dims(f, -1) if np.ndim(f) else a * f


def ticks_while(call):
    """How many times this thread got to run while ``call()`` ran in another thread:
    more than a few only if the call released the GIL."""
    import threading
    import time
    done = threading.Event()
    ticks = 0

    def work():
        call()
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    th.join()
    return ticks
