"""PyTorch autograd Functions on fastsoftmax's kernels (``pip install "fastsoftmax[torch]"``).

    import fastsoftmax.torch as fst
    p = fst.softmax(t, dim=-1)                   # like torch.softmax(t, dim=-1)
    lp = fst.log_softmax(t, dim=1)
    loss = fst.cross_entropy(logits, target, label_smoothing=0.1)   # like F.cross_entropy
    loss.backward()

Which tensors run here: CPU tensors of dtype float32, float64, float16 and
bfloat16 (bfloat16 when ``ml_dtypes`` is installed: ``pip install
"fastsoftmax[half]"``), any strides.  They go to the kernels zero-copy
(``Tensor.numpy()`` views; bfloat16 as its 16-bit pattern), results written
into arrays that torch then shares.  Half tensors are computed in float32 and
rounded once to the tensor's dtype; their values, gradients and losses have
the tensor's dtype, as torch's (the loss is reduced in float64 and rounded
once).  Anything else -- another device (CUDA, MPS, meta), complex, bfloat16
without ``ml_dtypes`` -- is passed to torch's own function with the same
arguments, so code written for these functions runs everywhere;
``fastsoftmax.torch.runs_here(t)`` tells which path a tensor takes.

Design: softmax / log_softmax save their output and run the backward
kernels (``softmax_backward``, ``log_softmax_backward``).  cross_entropy's
forward reads the logits once for the loss and saves nothing N x C; its
backward runs the fused loss + gradient kernel with the upstream gradient as
``grad_loss``, writing d loss / d logits in one pass.  Gradients are first
order (``once_differentiable``): a double backward raises.  No gradient
flows to probability targets or class weights.
"""
import numpy as np
import torch
from torch.autograd.function import once_differentiable

import fastsoftmax as _fs

__all__ = ["softmax", "log_softmax", "cross_entropy", "runs_here"]

try:                                   # bfloat16 tensors need NumPy's bfloat16
    from ml_dtypes import bfloat16 as _BF16
except ImportError:                    # pragma: no cover - exercised without ml_dtypes
    _BF16 = None

_DTYPES = (torch.float32, torch.float64, torch.float16) + ((torch.bfloat16,) if _BF16 else ())
_HALF = (torch.float16, torch.bfloat16)


def runs_here(t):
    """True when fastsoftmax's kernels take tensor ``t`` (CPU; float32, float64, float16,
    or bfloat16 with ml_dtypes installed)."""
    return isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dtype in _DTYPES


def _np(t):
    """A NumPy view of a CPU tensor (no copy; conjugate / negative bits resolved);
    bfloat16 as ml_dtypes' bfloat16 over the same bits."""
    t = t.detach().resolve_conj().resolve_neg()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_BF16)
    return t.numpy()


def _tensor(a):
    """A tensor sharing NumPy array ``a``'s memory (bfloat16 through its bits)."""
    a = np.asarray(a)
    if _BF16 is not None and a.dtype == _BF16:
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _tracked(t):
    """Whether autograd records an op on ``t`` (else the Function is skipped: less overhead)."""
    return t.requires_grad and torch.is_grad_enabled()


def _normalise(x, dim, log):
    # NumPy allocates the result (cheaper than torch.empty); from_numpy shares it
    return _tensor((_fs.log_softmax if log else _fs.softmax)(_np(x), axis=dim))


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        y = _normalise(x, dim, log)
        ctx.save_for_backward(y)
        ctx.dim, ctx.log = dim, log
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        backward = _fs.log_softmax_backward if ctx.log else _fs.softmax_backward
        return _tensor(backward(_np(grad_y), _np(y), axis=ctx.dim)), None, None


def _dim(dim, ndim):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, not {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return int(dim)


def softmax(input, dim):
    """Softmax over ``dim``, as ``torch.softmax(input, dim)``, differentiable.

    Parameters
    ----------
    input : torch.Tensor
        CPU float32/float64/float16/bfloat16 runs in fastsoftmax's kernels; any other tensor
        goes to ``torch.softmax`` (see the module docstring).
    dim : int
        The dimension to normalise over (negative counts from the end).

    Returns
    -------
    torch.Tensor
        Same shape and dtype; the backward pass runs ``fastsoftmax.softmax_backward``.

    Examples
    --------
    >>> import torch, fastsoftmax.torch as fst
    >>> fst.softmax(torch.tensor([5., 2., 1.]), dim=0)
    tensor([0.9362, 0.0466, 0.0171])
    """
    if not runs_here(input):
        return torch.softmax(input, dim)
    dim = _dim(dim, input.dim())
    return _Softmax.apply(input, dim, False) if _tracked(input) else _normalise(input, dim, False)


def log_softmax(input, dim):
    """Log-softmax over ``dim``, as ``torch.log_softmax(input, dim)``, differentiable.

    Parameters
    ----------
    input : torch.Tensor
        CPU float32/float64/float16/bfloat16 runs in fastsoftmax's kernels; any other tensor
        goes to ``torch.log_softmax``.
    dim : int
        The dimension to normalise over.

    Returns
    -------
    torch.Tensor
        Same shape and dtype; the backward pass runs ``fastsoftmax.log_softmax_backward``.

    Examples
    --------
    >>> import torch, fastsoftmax.torch as fst
    >>> fst.log_softmax(torch.tensor([1000., 1.], dtype=torch.float64), dim=0)
    tensor([   0., -999.], dtype=torch.float64)
    """
    if not runs_here(input):
        return torch.log_softmax(input, dim)
    dim = _dim(dim, input.dim())
    return _Softmax.apply(input, dim, True) if _tracked(input) else _normalise(input, dim, True)


def _loss(logits, target, weight, options):
    w = None if weight is None else _np(weight)
    loss = _tensor(_fs.cross_entropy(_np(logits), _np(target), weight=w, **options))
    return loss.to(logits.dtype)       # half logits: a float32 loss, rounded once (as torch's dtype)


def _upstream(grad_loss):
    """The upstream gradient as the kernels take it: a float, or an array (float32 for half)."""
    if grad_loss.dtype in _HALF:
        grad_loss = grad_loss.float()
    gl = _np(grad_loss)
    return gl if gl.ndim else float(gl)


class _CrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target, weight, options):
        ctx.save_for_backward(logits, target, weight)
        ctx.options = options
        return _loss(logits, target, weight, options)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        logits, target, weight = ctx.saved_tensors
        _, grad = _fs.cross_entropy_with_grad(
            _np(logits), _np(target), weight=None if weight is None else _np(weight),
            grad_loss=_upstream(grad_loss), **ctx.options)
        return _tensor(grad), None, None, None


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, *, z_loss=0.0, softcap=None):
    """Cross-entropy as ``torch.nn.functional.cross_entropy``, differentiable in ``input``.

    Parameters
    ----------
    input : torch.Tensor
        Logits: (C,), (N, C) or (N, C, d1, ...) -- classes on dim 1 (dim 0
        for a 1-D input), as torch.  CPU float32/float64/float16/bfloat16 runs in
        fastsoftmax's fused kernels; other tensors go to
        ``torch.nn.functional.cross_entropy`` (which has no ``z_loss`` or
        ``softcap``: ValueError when they are set there).
    target : torch.Tensor
        Class indices (integer, ``input``'s shape without the class dim) or
        class probabilities (floating, ``input``'s shape).  No gradient.
    weight : torch.Tensor, optional
        Per-class weights (C,).  No gradient.
    ignore_index, reduction, label_smoothing
        As torch.  One difference: "mean" over only ignored targets is 0
        (with a zero gradient), where torch gives NaN.
    z_loss : float, default 0
        Adds ``z_loss * logsumexp(input)**2`` per sample (PaLM's z-loss).
    softcap : float, optional
        Logits become ``softcap * tanh(input / softcap)`` first (Gemma).

    Returns
    -------
    torch.Tensor
        The loss: a 0-d tensor, or per sample with ``reduction="none"``.

    Notes
    -----
    The forward pass reads the logits once and keeps nothing of size N x C;
    the backward pass computes d loss / d input in one fused read + write.

    Examples
    --------
    >>> import torch, fastsoftmax.torch as fst
    >>> logits = torch.tensor([[2., 0., 0.], [0., 3., 0.]], requires_grad=True)
    >>> loss = fst.cross_entropy(logits, torch.tensor([0, 1]))
    >>> loss.backward()
    >>> round(loss.item(), 4), logits.grad.shape
    (0.1672, torch.Size([2, 3]))
    """
    if not runs_here(input) or (weight is not None and not runs_here(weight)):
        if z_loss or softcap is not None:
            raise ValueError("z_loss and softcap need a CPU float32/float64/float16/bfloat16 input "
                             "(torch.nn.functional.cross_entropy has neither)")
        return torch.nn.functional.cross_entropy(
            input, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
            label_smoothing=label_smoothing)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, not {type(target).__name__}")
    if target.device.type != "cpu":
        raise ValueError(f"target is on {target.device}; input is on the CPU")
    options = dict(axis=1 if input.dim() >= 2 else 0, reduction=reduction,
                   ignore_index=ignore_index, label_smoothing=label_smoothing,
                   z_loss=z_loss, softcap=softcap)
    if weight is not None and weight.dtype != input.dtype:
        weight = weight.to(input.dtype)
    if _tracked(input):
        return _CrossEntropy.apply(input, target, weight, options)
    return _loss(input, target, weight, options)
