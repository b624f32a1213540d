# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin wrappers over the C API (csrc/fastsoftmax.h).

The Python layer (_api.py) has already checked dtypes and shapes, allocated the
outputs and arranged every operand as a 2-D (rows, cols) array whose rows are
contiguous and whose rows are any stride apart.  Each wrapper converts strides
to elements, releases the GIL and makes one C call.
"""
from libc.stdint cimport int64_t

ctypedef fused real:
    float
    double


cdef inline int64_t _row_stride(Py_ssize_t stride_bytes, Py_ssize_t itemsize) noexcept nogil:
    return <int64_t>(stride_bytes // itemsize)


cdef inline void _check(int rc, str op) except *:
    if rc == FS_ENOMEM:
        raise MemoryError(f"fastsoftmax: {op} could not allocate its work buffers")
    if rc != FS_OK:
        raise RuntimeError(f"fastsoftmax: C kernel {op} rejected its arguments (code {rc})")


def softmax(const real[:, :] x,  # IN   (rows, cols), rows contiguous
            real[:, :] out,     # OUT  same shape
            int n_threads):
    cdef int rc
    cdef int64_t n = x.shape[0], c = x.shape[1]
    if real is float:
        with nogil:
            rc = fs_softmax_f32(&x[0, 0], _row_stride(x.strides[0], 4),
                                &out[0, 0], _row_stride(out.strides[0], 4), n, c, n_threads)
    else:
        with nogil:
            rc = fs_softmax_f64(&x[0, 0], _row_stride(x.strides[0], 8),
                                &out[0, 0], _row_stride(out.strides[0], 8), n, c, n_threads)
    _check(rc, "softmax")


def log_softmax(const real[:, :] x,  # IN
                real[:, :] out,     # OUT
                int n_threads):
    cdef int rc
    cdef int64_t n = x.shape[0], c = x.shape[1]
    if real is float:
        with nogil:
            rc = fs_log_softmax_f32(&x[0, 0], _row_stride(x.strides[0], 4),
                                    &out[0, 0], _row_stride(out.strides[0], 4), n, c, n_threads)
    else:
        with nogil:
            rc = fs_log_softmax_f64(&x[0, 0], _row_stride(x.strides[0], 8),
                                    &out[0, 0], _row_stride(out.strides[0], 8), n, c, n_threads)
    _check(rc, "log_softmax")


def logsumexp(const real[:, :] x,  # IN   (rows, cols), cols >= 1
              real[::1] out,      # OUT  (rows,)
              int n_threads):
    cdef int rc
    cdef int64_t n = x.shape[0], c = x.shape[1]
    if real is float:
        with nogil:
            rc = fs_logsumexp_f32(&x[0, 0], _row_stride(x.strides[0], 4), &out[0], n, c, n_threads)
    else:
        with nogil:
            rc = fs_logsumexp_f64(&x[0, 0], _row_stride(x.strides[0], 8), &out[0], n, c, n_threads)
    _check(rc, "logsumexp")


# ---- reductions over a non-last axis: (outer, n, inner) operands, inner contiguous

def normalise_cols(int log,                # 0: softmax, 1: log_softmax
                   const real[:, :, :] x,  # IN   (outer, n, inner), inner contiguous
                   real[:, :, :] out,      # OUT  same shape and layout rule
                   int n_threads):
    cdef int rc
    cdef Py_ssize_t sz = sizeof(float) if real is float else sizeof(double)
    cdef int64_t no = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef int64_t xo = _row_stride(x.strides[0], sz), xm = _row_stride(x.strides[1], sz)
    cdef int64_t yo = _row_stride(out.strides[0], sz), ym = _row_stride(out.strides[1], sz)
    with nogil:
        if real is float:
            if log:
                rc = fs_log_softmax_cols_f32(&x[0, 0, 0], xo, xm, &out[0, 0, 0], yo, ym, no, n, inner, n_threads)
            else:
                rc = fs_softmax_cols_f32(&x[0, 0, 0], xo, xm, &out[0, 0, 0], yo, ym, no, n, inner, n_threads)
        else:
            if log:
                rc = fs_log_softmax_cols_f64(&x[0, 0, 0], xo, xm, &out[0, 0, 0], yo, ym, no, n, inner, n_threads)
            else:
                rc = fs_softmax_cols_f64(&x[0, 0, 0], xo, xm, &out[0, 0, 0], yo, ym, no, n, inner, n_threads)
    _check(rc, "log_softmax" if log else "softmax")


def logsumexp_cols(const real[:, :, :] x,  # IN   (outer, n, inner), n >= 1
                   real[::1] out,          # OUT  (outer * inner,)
                   int n_threads):
    cdef int rc
    cdef Py_ssize_t sz = sizeof(float) if real is float else sizeof(double)
    cdef int64_t no = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef int64_t xo = _row_stride(x.strides[0], sz), xm = _row_stride(x.strides[1], sz)
    if real is float:
        with nogil:
            rc = fs_logsumexp_cols_f32(&x[0, 0, 0], xo, xm, &out[0], no, n, inner, n_threads)
    else:
        with nogil:
            rc = fs_logsumexp_cols_f64(&x[0, 0, 0], xo, xm, &out[0], no, n, inner, n_threads)
    _check(rc, "logsumexp")


def backward_cols(int log,                   # 0: softmax_backward, 1: log_softmax_backward
                  const real[:, :, :] grad,  # IN   (outer, n, inner), inner contiguous
                  const real[:, :, :] b,     # IN   y (softmax output) or logp, same rule
                  real[:, :, :] out,         # OUT  same rule
                  int n_threads):
    cdef int rc
    cdef Py_ssize_t sz = sizeof(float) if real is float else sizeof(double)
    cdef int64_t no = grad.shape[0], n = grad.shape[1], inner = grad.shape[2]
    cdef int64_t go = _row_stride(grad.strides[0], sz), gm = _row_stride(grad.strides[1], sz)
    cdef int64_t bo = _row_stride(b.strides[0], sz), bm = _row_stride(b.strides[1], sz)
    cdef int64_t oo = _row_stride(out.strides[0], sz), om = _row_stride(out.strides[1], sz)
    with nogil:
        if real is float:
            if log:
                rc = fs_log_softmax_backward_cols_f32(&grad[0, 0, 0], go, gm, &b[0, 0, 0], bo, bm,
                                                      &out[0, 0, 0], oo, om, no, n, inner, n_threads)
            else:
                rc = fs_softmax_backward_cols_f32(&grad[0, 0, 0], go, gm, &b[0, 0, 0], bo, bm,
                                                  &out[0, 0, 0], oo, om, no, n, inner, n_threads)
        else:
            if log:
                rc = fs_log_softmax_backward_cols_f64(&grad[0, 0, 0], go, gm, &b[0, 0, 0], bo, bm,
                                                      &out[0, 0, 0], oo, om, no, n, inner, n_threads)
            else:
                rc = fs_softmax_backward_cols_f64(&grad[0, 0, 0], go, gm, &b[0, 0, 0], bo, bm,
                                                  &out[0, 0, 0], oo, om, no, n, inner, n_threads)
    _check(rc, "log_softmax_backward" if log else "softmax_backward")


def softmax_backward(const real[:, :] grad,  # IN
                     const real[:, :] y,     # IN   softmax output
                     real[:, :] out,        # OUT
                     int n_threads):
    cdef int rc
    cdef int64_t n = grad.shape[0], c = grad.shape[1]
    if real is float:
        with nogil:
            rc = fs_softmax_backward_f32(&grad[0, 0], _row_stride(grad.strides[0], 4),
                                         &y[0, 0], _row_stride(y.strides[0], 4),
                                         &out[0, 0], _row_stride(out.strides[0], 4), n, c, n_threads)
    else:
        with nogil:
            rc = fs_softmax_backward_f64(&grad[0, 0], _row_stride(grad.strides[0], 8),
                                         &y[0, 0], _row_stride(y.strides[0], 8),
                                         &out[0, 0], _row_stride(out.strides[0], 8), n, c, n_threads)
    _check(rc, "softmax_backward")


def log_softmax_backward(const real[:, :] grad,  # IN
                         const real[:, :] logp,  # IN   log_softmax output
                         real[:, :] out,        # OUT
                         int n_threads):
    cdef int rc
    cdef int64_t n = grad.shape[0], c = grad.shape[1]
    if real is float:
        with nogil:
            rc = fs_log_softmax_backward_f32(&grad[0, 0], _row_stride(grad.strides[0], 4),
                                             &logp[0, 0], _row_stride(logp.strides[0], 4),
                                             &out[0, 0], _row_stride(out.strides[0], 4), n, c, n_threads)
    else:
        with nogil:
            rc = fs_log_softmax_backward_f64(&grad[0, 0], _row_stride(grad.strides[0], 8),
                                             &logp[0, 0], _row_stride(logp.strides[0], 8),
                                             &out[0, 0], _row_stride(out.strides[0], 8), n, c, n_threads)
    _check(rc, "log_softmax_backward")


def exp(const real[::1] x,  # IN
        real[::1] out):    # OUT
    """The active kernel set's exp (for its accuracy tests and benchmarks)."""
    cdef int rc
    cdef int64_t n = x.shape[0]
    if n == 0:
        return
    if real is float:
        with nogil:
            rc = fs_exp_f32(&x[0], &out[0], n)
    else:
        with nogil:
            rc = fs_exp_f64(&x[0], &out[0], n)
    _check(rc, "exp")


def accumulate(real[::1] y,         # IN/OUT
               const real[::1] x,   # IN   same length, not overlapping y
               int n_threads):
    """y += x."""
    cdef int rc
    cdef int64_t n = y.shape[0]
    if x.shape[0] != n:
        raise ValueError("accumulate: lengths differ")
    with nogil:
        if real is float:
            rc = fs_accumulate_f32(&y[0] if n else NULL, &x[0] if n else NULL, n, n_threads)
        else:
            rc = fs_accumulate_f64(&y[0] if n else NULL, &x[0] if n else NULL, n, n_threads)
    _check(rc, "accumulate")


def get_num_threads():
    """Threads a call with n_threads=None uses."""
    return fs_get_num_threads()


def set_num_threads(int n):
    """Set that limit (n <= 0 restores the default); returns the previous one."""
    return fs_set_num_threads(n)


def get_isa():
    """Name of the kernel set in use."""
    return fs_get_isa().decode("ascii")


def set_isa(str name):
    if fs_set_isa(name.encode("ascii")) != FS_OK:
        raise ValueError(f"instruction set {name!r} is not available on this machine")


def isa_supported(str name):
    return bool(fs_isa_supported(name.encode("ascii")))


cdef fs_ce_options _ce_options(const int64_t[::1] target, object ignore_index, const void *probs,
                               int64_t probs_stride, const void *weight, double smoothing,
                               double z_loss, double softcap, double[::1] lse, double scale,
                               const double[::1] grad_rows, bint grad_mean, double *total):
    cdef fs_ce_options o
    o.target = &target[0] if target is not None else NULL
    o.ignore_index = FS_NO_IGNORE if ignore_index is None else <int64_t>ignore_index
    o.probs = probs
    o.probs_stride = probs_stride
    o.weight = weight
    o.label_smoothing = smoothing
    o.z_loss = z_loss
    o.softcap = softcap
    o.lse = &lse[0] if lse is not None else NULL
    o.grad_scale = scale
    o.grad_rows = &grad_rows[0] if grad_rows is not None else NULL
    o.grad_mean = grad_mean
    o.total_weight = total
    return o


def cross_entropy_ex(const real[:, :] x,            # IN   (rows, classes), rows contiguous, rows >= 1
                     const int64_t[::1] target,     # IN   (rows,) class targets, or None
                     const real[:, :] probs,        # IN   like x: probability targets, or None
                     const real[::1] weight,        # IN   (classes,) or None
                     object ignore_index,           # int, or None: ignore nothing
                     double smoothing, double z_loss, double softcap,
                     double[::1] loss,              # OUT  (rows,)
                     double[::1] lse,               # OUT  (rows,) or None
                     double scale,
                     const double[::1] grad_rows,   # IN   (rows,) or None
                     bint grad_mean,                # divide the gradient by the total weight
                     real[:, :] grad,               # OUT  like x (may be x), or None: loss only
                     int n_threads):
    """Returns (-1 or the first bad sample (nothing written), the total weight)."""
    cdef Py_ssize_t sz = sizeof(float) if real is float else sizeof(double)
    cdef int64_t n = x.shape[0], c = x.shape[1], bad
    cdef double total = 0.0
    cdef int64_t gs = _row_stride(grad.strides[0], sz) if grad is not None else 0
    cdef fs_ce_options o = _ce_options(
        target, ignore_index, &probs[0, 0] if probs is not None else NULL,
        _row_stride(probs.strides[0], sz) if probs is not None else 0,
        &weight[0] if weight is not None else NULL, smoothing, z_loss, softcap, lse, scale, grad_rows,
        grad_mean, &total)
    with nogil:
        if real is float:
            bad = fs_cross_entropy_ex_f32(&x[0, 0], _row_stride(x.strides[0], sz), &o, &loss[0],
                                          &grad[0, 0] if grad is not None else NULL, gs, n, c, n_threads)
        else:
            bad = fs_cross_entropy_ex_f64(&x[0, 0], _row_stride(x.strides[0], sz), &o, &loss[0],
                                          &grad[0, 0] if grad is not None else NULL, gs, n, c, n_threads)
    if bad < FS_TARGETS_OK:
        _check(<int>bad, "cross_entropy")
    return bad, total


def cross_entropy_ex_cols(const real[:, :, :] x,        # IN   (outer, classes, inner), inner contiguous
                          const int64_t[::1] target,    # IN   (outer * inner,)
                          const real[::1] weight,       # IN   (classes,) or None
                          object ignore_index,
                          double[::1] loss,             # OUT  (outer * inner,)
                          double[::1] lse,              # OUT  or None
                          double scale,
                          const double[::1] grad_rows,  # IN   (outer * inner,) or None
                          bint grad_mean,
                          real[:, :, :] grad,           # OUT  like x (may be x), or None
                          int n_threads):
    """Returns (-1 or the first bad sample (nothing written), the total weight)."""
    cdef Py_ssize_t sz = sizeof(float) if real is float else sizeof(double)
    cdef int64_t no = x.shape[0], n = x.shape[1], inner = x.shape[2], bad
    cdef double total = 0.0
    cdef int64_t xo = _row_stride(x.strides[0], sz), xm = _row_stride(x.strides[1], sz)
    cdef int64_t go = _row_stride(grad.strides[0], sz) if grad is not None else 0
    cdef int64_t gm = _row_stride(grad.strides[1], sz) if grad is not None else 0
    cdef fs_ce_options o = _ce_options(target, ignore_index, NULL, 0,
                                       &weight[0] if weight is not None else NULL,
                                       0.0, 0.0, 0.0, lse, scale, grad_rows, grad_mean, &total)
    with nogil:
        if real is float:
            bad = fs_cross_entropy_ex_cols_f32(&x[0, 0, 0], xo, xm, &o, &loss[0],
                                               &grad[0, 0, 0] if grad is not None else NULL,
                                               go, gm, no, n, inner, n_threads)
        else:
            bad = fs_cross_entropy_ex_cols_f64(&x[0, 0, 0], xo, xm, &o, &loss[0],
                                               &grad[0, 0, 0] if grad is not None else NULL,
                                               go, gm, no, n, inner, n_threads)
    if bad < FS_TARGETS_OK:
        _check(<int>bad, "cross_entropy")
    return bad, total
