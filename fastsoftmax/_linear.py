"""Fused linear + cross-entropy: ``cross_entropy(h @ W.T + bias, target)`` without
ever holding the (N, V) logits.

Design: rows of h go through in chunks of ``chunk_size``.  Per chunk: BLAS
(NumPy's matmul) writes the chunk's logits into one reused (chunk, V) buffer,
the fused cross-entropy kernel turns them IN PLACE into the gradient of the
loss with respect to the logits (one read, one write), then BLAS adds the
chunk's contributions to dh (written straight into its rows of dh) and dW
(blocks of W's rows through one reused buffer of a quarter of the chunk's
size: NumPy has no BLAS "C += A @ B"), and the column sum to dbias.  Peak
extra memory is 1.25 (chunk, V) buffers, never N * V.  The
"mean" divisor (the summed weights of the targets not ignored) is known before
the first chunk, so every chunk's gradient is final when written.
"""
import numpy as np

from . import _checks as ck

# Bytes of one chunk of logits when chunk_size is None: large enough that each
# matmul has a few hundred rows (BLAS runs near peak: 128-row chunks of
# 32000 classes cost 1.3x the naive time, 256-row ones 1.05x), about a
# last-level cache, and an eighth of the naive logits' size at N=4096.
CHUNK_BYTES = 32 * 1024 * 1024
MIN_CHUNK = 128
# ... and at least this many rows per thread: BLAS splits a chunk's rows across
# its threads, and with 16 threads 256-row chunks ran at 1.9x the naive time,
# 1024-row ones at 1.1x (N=4096, D=1024, V=32000, float32).
ROWS_PER_THREAD = 64
# The dW accumulation buffer holds this fraction of a chunk's logits.
DW_BUFFER_FRACTION = 4


def prepare(h, W, target, bias, chunk_size, reduction, threads=1):
    """The checks (_checks.linear_inputs), then the rows per chunk:
    (h, W, bias, target, dtype, rows per chunk)."""
    h, W, bias, t, dt = ck.linear_inputs(h, W, target, bias, reduction)
    chunk = ck.check_chunk_size(chunk_size)
    n, v = h.shape[0], W.shape[0]
    if chunk is None:
        chunk = max(MIN_CHUNK, CHUNK_BYTES // (v * dt.itemsize) // 64 * 64,
                    ROWS_PER_THREAD * threads)
    return h, W, bias, t, dt, max(1, min(chunk, n))


def total_weight(t, weight, ignore_index, n_classes):
    """The "mean" divisor: summed weight[target] of the samples not ignored."""
    if t.dtype.kind == "f":
        return float(t.shape[0])
    o = ck.ce_options(n_classes, weight, ignore_index, 0.0, 0.0, None)
    return ck.target_weights(t, n_classes, o.weight, o.ignore_index)[3]


def get_num_threads():
    from . import get_num_threads as threads   # the package's, for either backend
    return threads()


def _numpy_add(y, x, n_threads):
    y += x


def run(ce, ce_grad, h, W, target, *, bias, chunk_size, reduction, weight, ignore_index,
        label_smoothing, z_loss, softcap, return_lse, grad_loss, with_grad, n_threads,
        accumulate=_numpy_add):
    nt = ck.check_threads(n_threads)
    h, W, b, t, dt, chunk = prepare(h, W, target, bias, chunk_size, reduction,
                                    nt or get_num_threads())
    n, v = h.shape[0], W.shape[0]
    opts = dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing,
                z_loss=z_loss, softcap=softcap, n_threads=n_threads)
    total = total_weight(t, weight, ignore_index, v)
    scale, rows = ck.grad_loss_factors(grad_loss, reduction, (n,)) if with_grad else (1.0, None)
    if reduction == "mean":
        scale = scale / total if total > 0 else 0.0
    loss = np.empty(n, np.float64)
    lse = np.empty(n, dt) if return_lse else None
    if with_grad:
        dh = np.empty(h.shape, dt)
        dW = np.empty(W.shape, dt) if n else np.zeros(W.shape, dt)   # the first chunk writes it
        db = np.zeros(v, np.float64) if b is not None else None
        # dW accumulates through a buffer of at most chunk * V elements: BLAS has no
        # "C += A @ B" in NumPy, and a whole (V, D) temporary per chunk would be W's size
        vb = max(1, min(v, (chunk * v) // (DW_BUFFER_FRACTION * max(1, h.shape[1]))))
        dw_buf = np.empty((vb, h.shape[1]), dt)
    buf = np.empty((chunk, v), dt)
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        hc, z = h[c0:c1], buf[: c1 - c0]
        np.matmul(hc, W.T, out=z)
        if b is not None:
            z += b
        tc = t[c0:c1]
        if not with_grad:
            r = ce(z, tc, reduction="none", return_lse=return_lse, **opts)
        else:
            gl = scale if rows is None else scale * rows[c0:c1]
            r = ce_grad(z, tc, reduction="none", return_lse=return_lse, grad_loss=gl,
                        grad_out=z, **opts)
        if return_lse:
            lse[c0:c1] = r[-1]
        loss[c0:c1] = r if not isinstance(r, tuple) else r[0]
        if with_grad:
            np.matmul(z, W, out=dh[c0:c1])
            for v0 in range(0, v, vb):
                v1 = min(v, v0 + vb)
                if c0 == 0:          # the first chunk writes dW directly
                    np.matmul(z[:, v0:v1].T, hc, out=dW[v0:v1])
                else:                # threaded y += x: NumPy's add is one thread
                    part = np.matmul(z[:, v0:v1].T, hc, out=dw_buf[: v1 - v0])
                    accumulate(dW[v0:v1].reshape(-1), part.reshape(-1), nt)
            if db is not None:
                db += z.sum(axis=0, dtype=np.float64)
    out = ck.finish_loss(loss, reduction, (n,), dt, total)
    res = (out,)
    if with_grad:
        res += (dh, dW, None if db is None else db.astype(dt))
    if return_lse:
        res += (lse,)
    return res if len(res) > 1 else out
