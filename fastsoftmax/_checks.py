"""Input normalisation shared by the compiled API and the NumPy reference.

Both backends must raise the same exception, with the same message, for the
same bad input; keeping the checks here makes that true by construction.
"""
import math
import operator

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

REDUCTIONS = ("mean", "sum", "none")
MAX_THREADS = 256  # FS_MAX_THREADS in csrc/fastsoftmax.h


def as_real_array(x, name):
    """Return (array, compute dtype, result dtype) for an array-like input.

    float32/float64 compute natively; float16 computes in float32 and returns
    float16; integers and bool compute and return float64; other real floating
    types (long double) keep their own dtype (the NumPy reference takes them).
    """
    arr = np.asarray(x)
    dt = arr.dtype
    if dt == np.float32 or dt == np.float64:
        return arr, dt, dt
    if dt == np.float16:
        return arr, np.dtype(np.float32), dt
    if dt.kind in "iub":
        f64 = np.dtype(np.float64)
        return arr, f64, f64
    if dt.kind == "f":
        return arr, dt, dt
    raise TypeError(
        f"{name} has dtype {dt}; fastsoftmax takes arrays of real floating, integer or bool dtype"
    )


def common_real_dtype(arrays_and_names):
    """Compute/result dtypes of several inputs (backward ops): promote, then map."""
    checked = [as_real_array(a, n) for a, n in arrays_and_names]
    promoted = np.result_type(*[arr.dtype for arr, _, _ in checked])
    _, compute, result = as_real_array(np.empty(0, promoted), arrays_and_names[0][1])
    return [arr for arr, _, _ in checked], compute, result


def check_threads(n_threads):
    """0 (the process limit) for None, else a positive int; TypeError / ValueError otherwise."""
    if n_threads is None:
        return 0
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError("n_threads must be None or a positive integer, not bool")
    try:
        n = operator.index(n_threads)
    except TypeError:
        raise TypeError(
            f"n_threads must be None or a positive integer, not {type(n_threads).__name__}"
        ) from None
    if n < 1:
        raise ValueError(f"n_threads must be None or a positive integer, got {n}")
    return min(n, MAX_THREADS)


def check_axis(axis, ndim, allow_none=True):
    """None (whole array, when allowed) or a normalised int axis; AxisError when out of range."""
    if axis is None:
        if allow_none:
            return None
        raise TypeError("axis must be an integer here, not None")
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError("axis must be an integer or None, not bool")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer or None, not {type(axis).__name__}") from None
    return normalize_axis_index(axis, ndim)


def check_same_shape(a, b, name_a, name_b):
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must match")


def check_out(out, shape, dtype, name="out"):
    """An output array must be an ndarray of the result's exact shape and dtype, writeable."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, not {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}; the result has shape {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}; the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")


def reduced_shape(shape, axis, keepdims):
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return shape[:axis] + shape[axis + 1:]


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")


def check_class_axis(logits, axis):
    """The class axis of cross-entropy: an int in range, with at least one class."""
    if logits.ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    ax = check_axis(axis, logits.ndim, allow_none=False)
    if logits.shape[ax] == 0:
        raise ValueError(f"logits has zero classes along axis {ax} (shape {logits.shape})")
    return ax


def as_targets(target, sample_shape):
    """Integer class indices of the logits' shape without the class axis."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target has dtype {t.dtype}; class indices must be an integer array")
    if t.shape != tuple(sample_shape):
        raise ValueError(
            f"target has shape {t.shape}; expected {tuple(sample_shape)} "
            "(the logits' shape without the class axis)"
        )
    return t


def target_error(target, flat_index, n_classes):
    """The ValueError for the first out-of-range target (flat C-order index)."""
    pos = np.unravel_index(flat_index, target.shape) if target.ndim else ()
    pos = tuple(int(p) for p in pos)
    value = target.reshape(-1)[flat_index]
    where = f"target[{', '.join(map(str, pos))}]" if pos else "target"
    return ValueError(
        f"{where} = {int(value)} is not a valid class index: it must be in [0, {n_classes})"
    )


def first_bad_target(target, n_classes):
    """Flat index of the first target outside [0, n_classes), or -1."""
    flat = target.reshape(-1)
    bad = flat >= n_classes
    if target.dtype.kind == "i":
        bad |= flat < 0
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1


def finish_loss(loss_rows, reduction, sample_shape, result_dtype):
    """Per-sample losses (float64, C order) -> the reduced result of the result dtype."""
    if reduction == "none":
        return loss_rows.reshape(sample_shape).astype(result_dtype, copy=False)
    total = float(loss_rows.sum()) if loss_rows.size else 0.0   # pairwise, like np.sum
    if reduction == "mean":
        total = total / loss_rows.size if loss_rows.size else 0.0
    return result_dtype.type(total)


def grad_scale(reduction, n_samples):
    return 1.0 / n_samples if (reduction == "mean" and n_samples > 0) else 1.0


def prod(shape):
    return math.prod(shape)
