"""Input normalisation shared by the compiled API and the NumPy reference.

Both backends must raise the same exception, with the same message, for the
same bad input; keeping the checks here makes that true by construction.
"""
import math
import operator
import sys

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

REDUCTIONS = ("mean", "sum", "none")
MAX_THREADS = 256  # FS_MAX_THREADS in csrc/fastsoftmax.h


def bfloat16_dtype():
    """ml_dtypes' bfloat16 dtype, or None.  Never imports ml_dtypes: an array can only
    have that dtype once something has imported it."""
    mod = sys.modules.get("ml_dtypes")
    bf16 = getattr(mod, "bfloat16", None)
    return None if bf16 is None else np.dtype(bf16)


def is_half(dt):
    """Whether ``dt`` is float16 or ml_dtypes' bfloat16 (the half types)."""
    return dt == np.float16 or (dt.name == "bfloat16" and dt == bfloat16_dtype())


def is_floating(dt):
    """Whether ``dt`` is a real floating type: NumPy's (kind "f") or ml_dtypes' bfloat16
    (kind "V")."""
    return dt.kind == "f" or is_half(dt)


def is_real(dt):
    """Whether arrays of ``dt`` hold real numbers fastsoftmax takes (floating, integer,
    bool, the half types)."""
    return dt.kind in "fiub" or is_half(dt)


def as_real_array(x, name):
    """Return (array, compute dtype, result dtype) for an array-like input.

    float32/float64 and the half types (float16, ml_dtypes' bfloat16) are their own
    compute dtype (the half types' kernels read and write 2-byte elements and compute
    in float32 registers); integers and bool compute and return float64; other real
    floating types (long double) keep their own dtype (the NumPy reference takes them).
    """
    arr = np.asarray(x)
    dt = arr.dtype
    if dt == np.float32 or dt == np.float64 or is_half(dt):
        return arr, dt, dt
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
    if type(n_threads) is int and 0 < n_threads <= MAX_THREADS:   # the common case, at once
        return n_threads
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


def finish_array(result, out, result_dtype):
    """A result rounded once to the result dtype: copied into ``out`` (returned), else
    cast.  Overflow to +-inf is the correct rounding there (float64 -> float32, float32 ->
    float16), the same on both backends: no warning."""
    with np.errstate(over="ignore"):
        if out is not None:
            np.copyto(out, result, casting="unsafe")
            return out
        return np.asarray(result).astype(result_dtype, copy=False)


def reduced_shape(shape, axis, keepdims):
    """``shape`` reduced over ``axis``: a normalised int, a tuple of them, or None (all)."""
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    if not isinstance(axis, tuple):
        if keepdims:
            return shape[:axis] + (1,) + shape[axis + 1:]
        return shape[:axis] + shape[axis + 1:]
    if keepdims:
        return tuple(1 if i in axis else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axis)


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


def check_class_targets(dtype, shape, sample_shape):
    """Class indices must be integers of the logits' shape without the class axis
    (NumPy or dask arrays alike); TypeError / ValueError otherwise."""
    if np.dtype(dtype).kind not in "iu":
        raise TypeError(f"target has dtype {dtype}; class indices must be an integer array")
    if tuple(shape) != tuple(sample_shape):
        raise ValueError(
            f"target has shape {tuple(shape)}; expected {tuple(sample_shape)} "
            "(the logits' shape without the class axis)"
        )


def as_targets(target, sample_shape):
    """Integer class indices of the logits' shape without the class axis."""
    t = np.asarray(target)
    check_class_targets(t.dtype, t.shape, sample_shape)
    return t


def target_error(target, flat_index, n_classes, ignore_index=None):
    """The ValueError for the first out-of-range target (flat C-order index)."""
    pos = np.unravel_index(flat_index, target.shape) if target.ndim else ()
    pos = tuple(int(p) for p in pos)
    value = target.reshape(-1)[flat_index]
    where = f"target[{', '.join(map(str, pos))}]" if pos else "target"
    also = "" if ignore_index is None else f" or equal ignore_index ({ignore_index})"
    return ValueError(
        f"{where} = {int(value)} is not a valid class index: it must be in [0, {n_classes}){also}"
    )


def first_bad_target(target, n_classes, ignore_index=None):
    """Flat index of the first target outside [0, n_classes) that is not ignore_index, or -1."""
    flat = target.reshape(-1)
    bad = flat >= n_classes
    if target.dtype.kind == "i":
        bad |= flat < 0
    if ignore_index is not None:
        bad &= flat != ignore_index
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1


def target_weights(target, n_classes, weight, ignore_index):
    """Class targets checked (ValueError naming the first bad one), then (valid mask,
    targets with the ignored ones as class 0, weight[target] with 0 where ignored,
    their sum -- the "mean" divisor).  ``weight``: per-class array, or None (ones)."""
    bad = first_bad_target(target, n_classes, ignore_index)
    if bad >= 0:
        raise target_error(target, bad, n_classes, ignore_index)
    valid = (target != ignore_index) if ignore_index is not None else np.ones(target.shape, bool)
    tc = np.where(valid, target, 0).astype(np.intp)
    wt = np.where(valid, 1.0 if weight is None else weight[tc], 0.0)
    return valid, tc, wt, float(wt.sum())


def probs_error(probs, sample_index, axis):
    """The ValueError for the first negative or NaN probability target of a sample."""
    moved = np.moveaxis(probs, axis, -1)
    row = moved.reshape(-1, moved.shape[-1])[sample_index]
    col = int(np.flatnonzero(~(row >= 0))[0])
    pos = list(np.unravel_index(sample_index, moved.shape[:-1])) if moved.ndim > 1 else []
    pos.insert(axis, col)
    where = ", ".join(str(int(p)) for p in pos)
    return ValueError(
        f"target[{where}] = {row[col]} is not a valid probability: "
        "probability targets must be >= 0 (and not NaN)"
    )


def first_bad_probs(probs, axis):
    """Flat sample index of the first sample with a negative or NaN probability, or -1."""
    moved = np.moveaxis(probs, axis, -1)
    bad = np.any(~(moved >= 0), axis=-1).reshape(-1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1


def ce_target_kind(dtype, shape, logits_shape, axis):
    """"probs" or "class" for a target of this dtype and shape (NumPy or dask arrays alike):
    floating targets are probabilities of the logits' shape, integer ones class indices of
    the logits' shape without the class axis; TypeError / ValueError otherwise."""
    dtype, shape, logits_shape = np.dtype(dtype), tuple(shape), tuple(logits_shape)
    if is_floating(dtype):
        if shape != logits_shape:
            raise TypeError(
                f"target has dtype {dtype} and shape {shape}; class indices must be an "
                f"integer array (floating-point targets are class probabilities and must have "
                f"the logits' shape {logits_shape})"
            )
        return "probs"
    check_class_targets(dtype, shape, logits_shape[:axis] + logits_shape[axis + 1:])
    return "class"


def ce_target(target, logits_shape, axis):
    """("class", int array of the sample shape) or ("probs", float array of the logits' shape)."""
    t = np.asarray(target)
    return ce_target_kind(t.dtype, t.shape, logits_shape, axis), t


def _option_float(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


class CEOptions:
    """Validated cross-entropy options (weight as a float64 (C,) array or None)."""
    __slots__ = ("weight", "ignore_index", "label_smoothing", "z_loss", "softcap")

    @property
    def general(self):
        """True when the options need the general kernel (anything beyond weights/ignore)."""
        return self.label_smoothing > 0 or self.z_loss != 0 or self.softcap is not None


def ce_options(n_classes, weight, ignore_index, label_smoothing, z_loss, softcap, dtype=None):
    """Validated options; ``dtype``: the compute dtype the weights must fit in."""
    o = CEOptions()
    if ignore_index is not None:
        if isinstance(ignore_index, (bool, np.bool_)):
            raise TypeError("ignore_index must be an integer or None, not bool")
        try:
            ignore_index = operator.index(ignore_index)
        except TypeError:
            raise TypeError(
                f"ignore_index must be an integer or None, not {type(ignore_index).__name__}"
            ) from None
        if not -2**63 < ignore_index < 2**63:
            raise ValueError(f"ignore_index must be in (-2**63, 2**63), got {ignore_index}")
    o.ignore_index = ignore_index
    o.label_smoothing = _option_float(label_smoothing, "label_smoothing")
    if not 0.0 <= o.label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    o.z_loss = _option_float(z_loss, "z_loss")
    if o.z_loss < 0:
        raise ValueError(f"z_loss must be >= 0, got {z_loss!r}")
    if softcap is not None:
        softcap = _option_float(softcap, "softcap")
        if softcap <= 0:
            raise ValueError(f"softcap must be None or > 0, got {softcap!r}")
    o.softcap = softcap
    if weight is not None:
        w = class_vector(weight, "weight", n_classes).astype(np.float64)
        bad = np.flatnonzero(~((w >= 0) & np.isfinite(w)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"weight[{i}] = {w[i]} is not valid: class weights must be finite and >= 0")
        if dtype is not None and np.dtype(dtype).itemsize < 8:
            with np.errstate(over="ignore"):
                over = np.flatnonzero(~np.isfinite(w.astype(dtype)))
            if over.size:
                i = int(over[0])
                raise ValueError(f"weight[{i}] = {w[i]} does not fit in {np.dtype(dtype)}, "
                                 "the logits' compute dtype")
    else:
        w = None
    o.weight = w
    return o


def ce_inputs(logits, target, axis, reduction, weight, ignore_index, label_smoothing, z_loss,
               softcap):
    """The checks of both cross-entropy functions on both backends: (array, compute dtype,
    result dtype, class axis, sample shape, target kind, target, options)."""
    check_reduction(reduction)
    a, compute, result = as_real_array(logits, "logits")
    ax = check_class_axis(a, axis)
    kind, t = ce_target(target, a.shape, ax)
    opts = ce_options(a.shape[ax], weight, ignore_index, label_smoothing, z_loss, softcap,
                         compute)
    sample_shape = a.shape[:ax] + a.shape[ax + 1:]
    return a, compute, result, ax, sample_shape, kind, t, opts


def linear_inputs(h, W, target, bias, reduction):
    """The checks of the fused linear cross-entropy: (h, W, bias in the compute dtype, target,
    compute dtype).  h is (N, D), W (V, D), bias (V,) or None, target class indices (N,) or
    probabilities (N, V)."""
    check_reduction(reduction)
    h = np.asarray(h)
    W = np.asarray(W)
    for a, name in ((h, "h"), (W, "W")):
        if not is_real(a.dtype):
            raise TypeError(f"{name} has dtype {a.dtype}; it must be real")
    if h.ndim != 2:
        raise ValueError(f"h has shape {h.shape}; expected (N, D)")
    if W.ndim != 2:
        raise ValueError(f"W has shape {W.shape}; expected (V, D), one row per class")
    if h.shape[1] != W.shape[1]:
        raise ValueError(f"h has shape {h.shape} and W {W.shape}: their last dimensions (D) differ")
    if W.shape[0] == 0:
        raise ValueError(f"W has shape {W.shape}: zero classes")
    # the half types compute in float32 (the matmul runs in BLAS)
    dt = np.result_type(*(np.float32 if is_half(a.dtype) else a.dtype for a in (h, W)), np.float32)
    if dt not in (np.float32, np.float64):
        dt = np.dtype(np.float64)
    n, v = h.shape[0], W.shape[0]
    if bias is not None:
        bias = np.asarray(class_vector(bias, "bias", v), dt)
    t = np.asarray(target)
    if is_half(t.dtype):   # half probabilities: widened (exactly), as h and W
        t = t.astype(np.float32)
    if t.dtype.kind == "f":
        if t.shape != (n, v):
            raise TypeError(
                f"target has dtype {t.dtype} and shape {t.shape}; class indices must be an "
                f"integer array of shape ({n},) (floating-point targets are class probabilities "
                f"of shape ({n}, {v}))")
    else:
        t = as_targets(t, (n,))
    return np.asarray(h, dt), np.asarray(W, dt), bias, t, dt


def check_chunk_size(chunk_size):
    """None, or the chunk size as a positive int; TypeError / ValueError otherwise."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, (bool, np.bool_)) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be None or a positive integer, not {type(chunk_size).__name__}")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be None or a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def class_vector(value, name, n_classes):
    """A real array of shape (n_classes,) (class weights, a bias), else TypeError / ValueError."""
    a = np.asarray(value)
    if not is_real(a.dtype):
        raise TypeError(f"{name} has dtype {a.dtype}; it must hold real numbers")
    if a.shape != (n_classes,):
        raise ValueError(f"{name} has shape {a.shape}; expected ({n_classes},), one per class")
    return a


def grad_loss_factors(grad_loss, reduction, sample_shape):
    """(scalar factor, per-sample float64 factors in C order or None) of an upstream gradient.

    reduction "none": grad_loss broadcasts to the per-sample loss's shape;
    "mean" / "sum": grad_loss is the scalar upstream gradient of the loss."""
    if grad_loss is None:
        return 1.0, None
    g = np.asarray(grad_loss)
    if not is_real(g.dtype):
        raise TypeError(f"grad_loss has dtype {g.dtype}; it must be real")
    if reduction != "none":
        if g.ndim != 0 and g.size != 1:
            raise ValueError(
                f"grad_loss has shape {g.shape}; with reduction={reduction!r} the loss is a scalar, "
                "so grad_loss must be one"
            )
        return float(g.reshape(())), None
    try:
        b = np.broadcast_to(g, tuple(sample_shape))
    except ValueError:
        raise ValueError(
            f"grad_loss has shape {g.shape}; it must broadcast to the per-sample loss's shape "
            f"{tuple(sample_shape)}"
        ) from None
    return 1.0, np.array(b, dtype=np.float64, order="C").reshape(-1)   # a fresh, aligned copy


def loss_dtype(result_dtype):
    """The dtype of a cross-entropy loss (and logsumexp) of logits whose results have
    ``result_dtype``: that dtype, but float32 for the half types -- a float16 mean over
    many samples keeps three significant digits (torch returns the logits' dtype)."""
    return np.dtype(np.float32) if is_half(np.dtype(result_dtype)) else result_dtype


def finish_loss(loss_rows, reduction, sample_shape, result_dtype, total=None):
    """Per-sample losses (float64, C order) -> the reduced result of the loss dtype
    (loss_dtype(result_dtype)).

    "mean" divides by ``total`` (the summed weights of the samples not ignored;
    default: the sample count), and is 0.0 when that is 0."""
    result_dtype = loss_dtype(result_dtype)
    with np.errstate(all="ignore"):      # overflow to inf in the result dtype: no warning
        if reduction == "none":
            return loss_rows.reshape(sample_shape).astype(result_dtype, copy=False)
        s = float(loss_rows.sum()) if loss_rows.size else 0.0   # pairwise, like np.sum
        if reduction == "mean":
            d = loss_rows.size if total is None else total
            s = s / d if d > 0 else 0.0
        return result_dtype.type(s)


def grad_scale(reduction, n_samples):
    return 1.0 / n_samples if (reduction == "mean" and n_samples > 0) else 1.0


def prod(shape):
    return math.prod(shape)
