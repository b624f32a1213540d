"""Benchmark fastsoftmax against NumPy, SciPy, PyTorch, ONNX Runtime and JAX on this machine.

    python -m fastsoftmax.bench                  # every op, default shapes, float32, 1 thread
    python -m fastsoftmax.bench --help           # options

What it measures
----------------
For every *cell* -- one (op, dtype, shape, thread count) -- these run on the
same input arrays:

- ``fastsoftmax``: the public function with its output preallocated
  (``out=`` / ``grad_out=``): the headline time, which the ratios divide by;
- ``fresh out``: fastsoftmax allocating its result, as most callers do;
  fresh output pages cost page faults, which this column shows;
- ``numpy``: ``fastsoftmax.reference``, the same API in plain NumPy (it
  computes in float64, as scipy.special does);
- ``scipy``: ``scipy.special.softmax / log_softmax / logsumexp`` (those ops only);
- ``torch``: the PyTorch CPU ops on ``torch.from_numpy`` views (zero-copy),
  when torch is installed;
- ``fs_torch``: ``fastsoftmax.torch`` (softmax, log_softmax, cross_entropy)
  on the same tensors, through autograd like torch, beside it;
- ``onnxruntime``: a one-node ONNX model of the op (softmax, log_softmax,
  logsumexp, cross_entropy; ONNX Runtime inference has no gradient ops) on the
  CPUExecutionProvider, run through an IOBinding with the input and a
  preallocated output bound once, when onnxruntime and onnx are installed;
- ``jax``: ``jax.jit`` of ``jax.nn`` / ``jax.scipy.special`` (backward ops: the
  jitted ``jax.vjp`` function) on ``jax.device_put`` arrays, float64 enabled,
  each call ending in ``block_until_ready()``, when jax is installed.  JAX
  allocates its result on every call (it has no ``out=``);
- ``np.copyto(dst, x)`` into a preallocated ``dst``: the memory-copy roofline.

fastsoftmax runs with ``n_threads=k``, torch under ``torch.set_num_threads(k)``
and ONNX Runtime with ``intra_op_num_threads=k`` for each ``--threads`` value k;
NumPy and SciPy are single-threaded here.  JAX's thread pool is made once per
process: one thread when ``--threads`` is 1, else XLA's default (one per CPU)
for every k (see ``import_jax``).  Before timing, each ONNX Runtime and JAX call
is run once and its result checked against NumPy, so a wrong model fails loudly.

Half types (``--dtypes float16,bfloat16``; bfloat16 is ml_dtypes', the ``half``
extra): inputs are standard normal float32 values rounded to the type; torch
gets tensors over the same memory (bfloat16 through its 16-bit pattern).  A
peer that has no kernel for the type, or whose result is beyond a few ulps of
NumPy's, is left out of that cell with a note and reads ``n/a``.

How
---
All implementations of a cell are timed side by side in this one process,
interleaved round-robin over several rounds (the order rotates every round),
so that a change of clock speed or a noisy neighbour hits them alike.  Each
implementation is first called once untimed (first touch of its output,
lazy initialisation) and calibrated; then every sample times enough
back-to-back calls to last at least ``--min-time`` (five times that for
calls under 20 us, so per-call overhead is resolved to a fraction of a
microsecond).  A sample of calls under 50 ms follows one untimed call of the
same implementation, so it starts from that implementation's own state of
caches and allocator rather than the state the previous one left.  The
reported time is the median per-call time over the rounds.  Cells whose
round takes long run fewer rounds (at least 3) to stay within
``--cell-time``.  Garbage collection is off while timing.  A shape whose
arrays would not fit in the available memory is skipped with a note, and an
implementation whose temporaries would not fit is left out of the cell.

Definitions
-----------
``bytes``      the op's compulsory memory traffic: inputs read once plus
               outputs written once (per op in ``--help``);
``GB/s``       bytes / fastsoftmax time (1 GB = 1e9 bytes);
``copy GB/s``  2 * x.nbytes / np.copyto time, x the op's (first) input;
``roofline``   GB/s / copy GB/s: achieved bandwidth as a fraction of copy
               bandwidth.  Ops that only read (logsumexp, cross_entropy) can
               exceed 1, and for arrays that fit in cache it compares with
               cache bandwidth;
``x numpy``... that implementation's time / fastsoftmax's time, so > 1
               means fastsoftmax is faster.

Adding an op
------------
Add one entry to ``OPS``: a setup function that returns, for one cell's
inputs, a zero-argument callable per implementation (and the input
np.copyto copies), and the op's byte count.  The runner, the table, the
JSON records and the memory check need nothing else.
"""
import argparse
import gc
import importlib
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial

import numpy as np

import fastsoftmax as fs
from fastsoftmax import _checks as ck
from fastsoftmax import reference

# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------

# what --impls chooses from
IMPLS = ("fastsoftmax", "numpy", "scipy", "torch", "onnxruntime", "jax")
# optional implementation -> the module handed to Inputs (imported only when compared)
OPTIONAL_IMPLS = {"scipy": "scipy.special", "torch": "torch", "onnxruntime": "onnxruntime",
                  "jax": "jax"}
# ... and the other modules it needs (the ONNX model is built with onnx's helper API)
IMPL_NEEDS = {"onnxruntime": ("onnx",)}
DTYPES = ("float32", "float64", "float16", "bfloat16")   # bfloat16: ml_dtypes' (the half extra)
DEFAULT_SHAPES = ((1, 10), (4096, 10), (2048, 1000), (512, 32000), (8192, 32000))
DEFAULT_HIDDEN = 1024   # D of the linear ops
QUICK_SHAPES = ((1, 10), (256, 100), (64, 1000))

DEFAULT_REPEAT, QUICK_REPEAT = 7, 3
DEFAULT_MIN_TIME, QUICK_MIN_TIME = 2e-3, 2e-4
DEFAULT_CELL_TIME, QUICK_CELL_TIME = 10.0, 0.5
MIN_ROUNDS = 3
TINY_CALL_S = 20e-6     # calls shorter than this get samples TINY_FACTOR times longer
TINY_FACTOR = 5
PRIME_BELOW_S = 0.05    # samples of calls shorter than this follow one untimed call
LONG_CALL_FACTOR = 100  # a warm-up call this many times --min-time long is calibration enough

# The --plot sweep: softmax float32 over row lengths at a fixed array size.
SWEEP_LENGTHS = (10, 30, 100, 300, 1000, 3000, 10000, 32000, 100000, 262144)
SWEEP_ELEMENTS = 1 << 22
QUICK_SWEEP_LENGTHS = (10, 100, 1000, 10000)
QUICK_SWEEP_ELEMENTS = 1 << 14

# Memory use beyond the cell's own arrays, in bytes per element of x
# (measured peaks with some margin; the reference and scipy work in float64).
TRANSIENT_BYTES = {
    "fastsoftmax": lambda itemsize: 0,
    "fresh": lambda itemsize: itemsize,
    "numpy": lambda itemsize: 32,
    "scipy": lambda itemsize: 24,
    "torch": lambda itemsize: 3 * itemsize,
    "fs_torch": lambda itemsize: itemsize,
    "onnxruntime": lambda itemsize: itemsize,   # SoftmaxCrossEntropyLoss keeps all log-probs
    "jax": lambda itemsize: 4 * itemsize,       # device_put copies, the vjp residual, the result
    "copyto": lambda itemsize: 0,
}
MEMORY_HEADROOM = 0.85  # use at most this fraction of the available memory

LABELS = {
    "fastsoftmax": "fastsoftmax", "fresh": "fastsoftmax, fresh out",
    "numpy": "NumPy (fastsoftmax.reference)", "scipy": "SciPy (scipy.special)",
    "torch": "PyTorch", "fs_torch": "fastsoftmax.torch (autograd Functions on tensors)",
    "onnxruntime": "ONNX Runtime (one-node model, IOBinding)", "jax": "JAX (jax.jit)",
    "copyto": "np.copyto (roofline)",
}

# --------------------------------------------------------------------------
# Inputs of one cell and the op registry
# --------------------------------------------------------------------------


def bench_dtype(dtype):
    """The NumPy dtype of a --dtypes name or a dtype (bfloat16: ml_dtypes', imported here)."""
    if isinstance(dtype, str) and dtype == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


class Inputs:
    """Random operands of one shape and dtype, made on first use and shared by
    every implementation and thread count of the cell.

    ``torch``, ``scipy``, ``onnxruntime`` and ``jax`` hold the optional modules
    being compared, or None (``jax`` as ``import_jax`` returns it).
    """

    def __init__(self, shape, dtype, *, torch=None, scipy=None, onnxruntime=None, jax=None,
                 seed=0, hidden=DEFAULT_HIDDEN):
        self.shape = tuple(shape)
        self.hidden = hidden
        self.dtype = bench_dtype(dtype)
        self.torch = torch
        self.scipy = scipy
        self.onnxruntime = onnxruntime
        self.jax = jax
        self._rng = np.random.default_rng(seed)
        self._forward = {}

    def normal(self, shape=None):
        """Standard normal values of ``shape`` (x's by default); the half types are
        drawn in float32 and rounded (NumPy's generator has no half variates)."""
        shape = self.shape if shape is None else shape
        if ck.is_half(self.dtype):
            return self._rng.standard_normal(shape, dtype=np.float32).astype(self.dtype)
        return self._rng.standard_normal(shape, dtype=self.dtype)

    @cached_property
    def x(self):
        """Logits, standard normal."""
        return self.normal()

    @cached_property
    def grad(self):
        """Upstream gradient for the backward ops, standard normal."""
        return self.normal()

    @cached_property
    def target(self):
        """Class indices (int64), one per row."""
        return self._rng.integers(0, self.shape[-1], self.shape[:-1], dtype=np.int64)

    @cached_property
    def h(self):
        """Hidden states of the linear ops: (rows, hidden), standard normal."""
        return self.normal((self.shape[0], self.hidden))

    @cached_property
    def W(self):
        """Classifier weights of the linear ops: (cols, hidden), logits of spread ~1."""
        w = self.normal((self.shape[1], self.hidden))
        w *= self.dtype.type(1 / math.sqrt(self.hidden))
        return w

    def forward_output(self, name):
        """``softmax`` or ``log_softmax`` of random logits, computed in place
        (so the logits are not kept alongside)."""
        if name not in self._forward:
            z = self.normal()
            getattr(fs, name)(z, out=z)
            self._forward[name] = z
        return self._forward[name]

    def tensor(self, a):
        """A torch tensor over ``a``'s memory (bfloat16 through its 16-bit pattern)."""
        if a.dtype.name == "bfloat16":
            return self.torch.from_numpy(a.view(np.int16)).view(self.torch.bfloat16)
        return self.torch.from_numpy(a)


@dataclass
class Case:
    """What one op needs to run in one cell."""
    calls: dict            # implementation name -> zero-argument callable: one op call
    source: np.ndarray     # the x-sized input that np.copyto copies for the roofline
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class Op:
    """One registry entry.

    ``setup(inputs, n_threads) -> Case``; ``traffic(rows, cols, itemsize)``:
    bytes read once + written once; ``traffic_doc`` says which.
    """
    setup: Callable
    traffic: Callable
    traffic_doc: str


def _setup_rowwise(name, reduces, inp, nt):
    """softmax, log_softmax (result shaped like x) and logsumexp (one value per row)."""
    x = inp.x
    fn = getattr(fs, name)
    out = np.empty(x.shape[:-1] if reduces else x.shape, x.dtype)
    calls = {
        "fastsoftmax": lambda: fn(x, out=out, n_threads=nt),
        "fresh": lambda: fn(x, n_threads=nt),
        "numpy": partial(getattr(reference, name), x),
    }
    if inp.scipy is not None:
        calls["scipy"] = partial(getattr(inp.scipy, name), x, axis=-1)
    if inp.torch is not None:
        calls["torch"] = partial(getattr(inp.torch, name), inp.tensor(x), -1)
        if not reduces:
            calls["fs_torch"] = partial(getattr(_fs_torch(), name), inp.tensor(x), -1)
    _add_peers(calls, name, inp, nt, x)
    return Case(calls, x)


def _fs_torch():
    import fastsoftmax.torch
    return fastsoftmax.torch


def _scipy_operand(x, tuple_axis):
    """The array and axis of a drop-in cell: axis=None over x (R x C), or the
    tuple axis (0, 1) of x viewed as (R, 2, C/2) -- C/2 groups of 2R elements,
    two axes apart from the contiguous one (as (R, 1, C) for odd C)."""
    if not tuple_axis:
        return x, None
    r, c = x.shape
    return (x.reshape(r, 2, c // 2) if c % 2 == 0 else x.reshape(r, 1, c)), (0, 1)


def _setup_scipy(name, tuple_axis, inp, nt):
    """fastsoftmax.scipy.<name> next to scipy.special.<name>, same arguments.

    The scipy signature has no out= or n_threads=: fastsoftmax allocates its
    result (as scipy does) and runs on the cell's thread count, which run_cell
    sets as fastsoftmax's default."""
    from fastsoftmax import scipy as sps

    a, axis = _scipy_operand(inp.x, tuple_axis)
    calls = {"fastsoftmax": partial(getattr(sps, name), a, axis=axis)}   # nt: see run_cell
    if axis is None:
        calls["numpy"] = partial(getattr(reference, name), a, axis=None)
    if inp.scipy is not None:
        calls["scipy"] = partial(getattr(inp.scipy, name), a, axis=axis)
    if inp.torch is not None:
        t = inp.tensor(a)
        if name == "logsumexp":
            dims = tuple(range(t.dim())) if axis is None else axis
            calls["torch"] = partial(inp.torch.logsumexp, t, dims)
        elif axis is None:   # torch normalises over one dim: the flattened view
            calls["torch"] = partial(getattr(inp.torch, name), t.reshape(-1), 0)
    how = "x, axis=None" if axis is None else "x.reshape(R, 2, C/2), axis=(0, 1)"
    note = (f"scipy_{name}_{'tuple' if tuple_axis else 'none'}: fastsoftmax.scipy.{name}({how}) "
            f"next to scipy.special.{name}, both allocating their result"
            + ("" if axis is None else "; numpy and torch (softmax, log_softmax) have no such call"))
    return Case(calls, inp.x, [note])


def _scipy_ops():
    ops = {}
    for name in ("softmax", "log_softmax", "logsumexp"):
        for tuple_axis, suffix in ((False, "none"), (True, "tuple")):
            if name == "logsumexp":
                traffic = ((lambda r, c, s: r * c * s + (c // 2 if c % 2 == 0 else c) * s)
                           if tuple_axis else (lambda r, c, s: r * c * s + s))
                doc = "read x + write one value per group"
            else:
                traffic, doc = (lambda r, c, s: 2 * r * c * s), "read x + write y"
            what = "axis (0, 1) of x.reshape(R, 2, C/2)" if tuple_axis else "axis=None"
            ops[f"scipy_{name}_{suffix}"] = Op(partial(_setup_scipy, name, tuple_axis), traffic,
                                                f"{doc}; fastsoftmax.scipy, {what}")
    return ops


_TORCH_BACKWARD = {"softmax_backward": "_softmax_backward_data",
                   "log_softmax_backward": "_log_softmax_backward_data"}


def _setup_backward(name, inp, nt):
    """softmax_backward(grad, y) and log_softmax_backward(grad, logp)."""
    forward = name.removesuffix("_backward")
    g, y = inp.grad, inp.forward_output(forward)
    fn = getattr(fs, name)
    out = np.empty_like(g)
    calls = {
        "fastsoftmax": lambda: fn(g, y, out=out, n_threads=nt),
        "fresh": lambda: fn(g, y, n_threads=nt),
        "numpy": partial(getattr(reference, name), g, y),
    }
    notes = []
    if inp.torch is not None:
        call, problem = _torch_backward(inp, _TORCH_BACKWARD[name], g, y)
        if call is None:
            notes.append(f"torch left out of {name}: {problem}")
        else:
            calls["torch"] = call
    _add_peers(calls, name, inp, nt, g, y)
    return Case(calls, g, notes)


def _torch_backward(inp, tname, g, y):
    """(callable, None) running torch's backward kernel ``tname``, or (None, why)."""
    fn = getattr(inp.torch, tname, None)
    if fn is None:
        return None, f"torch {inp.torch.__version__} has no torch.{tname}"
    yt = inp.tensor(y)
    call = partial(fn, inp.tensor(g), yt, -1, yt.dtype)
    try:
        call()   # signature (grad_output, output, dim, input_dtype) since torch 1.11
    except (TypeError, RuntimeError) as exc:
        return None, f"torch.{tname}(grad_output, output, dim, input_dtype) failed: {exc}"
    return call, None


def _setup_cross_entropy(inp, nt):
    """Mean cross-entropy loss, forward only."""
    x, t = inp.x, inp.target
    calls = {
        "fastsoftmax": lambda: fs.cross_entropy(x, t, n_threads=nt),
        "numpy": partial(reference.cross_entropy, x, t),
    }
    if inp.torch is not None:
        calls["torch"] = partial(inp.torch.nn.functional.cross_entropy,
                                 inp.tensor(x), inp.tensor(t))
        calls["fs_torch"] = partial(_fs_torch().cross_entropy, inp.tensor(x), inp.tensor(t))
    _add_peers(calls, "cross_entropy", inp, nt, x, t)
    return Case(calls, x)


def _setup_cross_entropy_with_grad(inp, nt):
    """Mean cross-entropy loss and its gradient; torch: forward + backward."""
    x, t = inp.x, inp.target
    grad = np.empty_like(x)
    calls = {
        "fastsoftmax": lambda: fs.cross_entropy_with_grad(x, t, grad_out=grad, n_threads=nt),
        "fresh": lambda: fs.cross_entropy_with_grad(x, t, n_threads=nt),
        "numpy": partial(reference.cross_entropy_with_grad, x, t),
    }
    if inp.torch is not None:
        torch = inp.torch
        tt = inp.tensor(t)

        def forward_backward(loss_fn):
            z = inp.tensor(x).requires_grad_(True)   # a fresh leaf: .grad starts as None
            loss_fn(z, tt).backward()
            return z.grad
        calls["torch"] = partial(forward_backward, torch.nn.functional.cross_entropy)
        calls["fs_torch"] = partial(forward_backward, _fs_torch().cross_entropy)
    _add_peers(calls, "cross_entropy_with_grad", inp, nt, x, t)
    return Case(calls, x)


def _setup_linear(with_grad, inp, nt):
    """Fused linear + cross-entropy (mean), logits = h @ W.T never materialised;
    numpy: the naive h @ W.T, then fastsoftmax's cross-entropy in place;
    torch: F.linear_cross_entropy, chunked (LinearCrossEntropyOptions())."""
    h, W, t = inp.h, inp.W, inp.target
    if with_grad:
        def fused():
            return fs.linear_cross_entropy_with_grad(h, W, t, n_threads=nt)

        def naive():
            z = h @ W.T
            loss, g = fs.cross_entropy_with_grad(z, t, grad_out=z, n_threads=nt)
            return loss, g @ W, g.T @ h
    else:
        def fused():
            return fs.linear_cross_entropy(h, W, t, n_threads=nt)

        def naive():
            return fs.cross_entropy(h @ W.T, t, n_threads=nt)
    calls = {"fastsoftmax": fused, "numpy": naive}
    blas = ("BLAS threads = the thread count" if importlib.util.find_spec("threadpoolctl")
            else "BLAS threads not limited (threadpoolctl is not installed)")
    notes = ["linear ops: hidden size D = %d; numpy = naive (h @ W.T materialised, then "
             "fastsoftmax's cross-entropy); %s" % (inp.hidden, blas)]
    torch = inp.torch
    F = getattr(torch, "nn", None) and torch.nn.functional
    if torch is not None and hasattr(F, "linear_cross_entropy"):
        tt = inp.tensor(t)
        options = (torch.nn.LinearCrossEntropyOptions()
                   if hasattr(torch.nn, "LinearCrossEntropyOptions") else None)

        def torch_call():
            ht = inp.tensor(h).requires_grad_(with_grad)
            wt = inp.tensor(W).requires_grad_(with_grad)
            loss = F.linear_cross_entropy(ht, wt, tt, options=options)
            if with_grad:
                loss.backward()
            return loss
        calls["torch"] = torch_call
        notes.append("linear ops: torch = F.linear_cross_entropy with "
                     f"options={'LinearCrossEntropyOptions()' if options else 'None'}")
    elif torch is not None:
        notes.append(f"torch left out of linear ops: torch {torch.__version__} has no "
                     "F.linear_cross_entropy")
    return Case(calls, h, notes)


def _linear_traffic(with_grad):
    """Bytes of h and W read (and dh, dW written), targets read: the ops are compute-bound,
    so GB/s and roofline say little here."""
    def traffic(r, c, s, d=None):
        d = DEFAULT_HIDDEN if d is None else d
        return (2 if with_grad else 1) * (r + c) * d * s + r * _INDEX_BYTES
    return traffic


# --------------------------------------------------------------------------
# ONNX Runtime and JAX
# --------------------------------------------------------------------------


def _add_peers(calls, op, inp, nt, *operands):
    """ONNX Runtime's and JAX's calls of ``op`` on ``operands`` (the arrays fastsoftmax's
    call reads), where they are compared and have the op.

    On a half type a peer that fails to set up (no kernel for the type, a result beyond
    CHECK_TOLERANCE) gets a call that raises the same error, which run_cell reports as
    it reports a call that fails; on float32/float64 the failure is the bench's own
    bug and raises here."""
    makers = []
    if inp.onnxruntime is not None and op in ONNX_OPS:
        makers.append(("onnxruntime", partial(ort_call, inp.onnxruntime, op, nt, *operands)))
    if inp.jax is not None:
        makers.append(("jax", partial(jax_call, inp.jax, op, *operands)))
    for name, make in makers:
        if not ck.is_half(inp.dtype):
            calls[name] = make()
            continue
        try:
            calls[name] = make()
        except Exception as exc:   # noqa: BLE001 -- any peer failure is reported, not fatal
            calls[name] = partial(_raise, exc)


def _raise(exc):
    raise exc


def peer_failure(name, op, inp, exc):
    """The note of a peer left out of a half-type cell: the first line of its error."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = first if len(first) <= 200 else first[:197] + "..."
    return (f"{name} left out of {op} {inp.dtype.name} {shape_str(inp.shape)} (n/a): "
            f"{type(exc).__name__}: {first}")


ONNX_OPSET = 17
# op -> the ONNX operator, applied along the last axis, and its result's shape from x's.
# ONNX Runtime inference has no gradient ops: the backward and *_with_grad ops have no entry.
ONNX_OPS = {
    "softmax": ("Softmax", lambda shape: shape),
    "log_softmax": ("LogSoftmax", lambda shape: shape),
    "logsumexp": ("ReduceLogSumExp", lambda shape: shape[:-1]),
    "cross_entropy": ("SoftmaxCrossEntropyLoss", lambda shape: ()),
}
_ONNX_ELEMENT_TYPE = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "FLOAT16",
                      "bfloat16": "BFLOAT16"}


def onnx_model(op, dtype, opset=ONNX_OPSET):
    """A one-node ONNX model of ``op`` along the last axis of x (N x C), result y.

    cross_entropy also reads int64 targets t (N) and gives the mean loss, like the
    bench's fastsoftmax.cross_entropy call (reduction "mean")."""
    import onnx
    from onnx import TensorProto, helper

    elem = getattr(TensorProto, _ONNX_ELEMENT_TYPE[bench_dtype(dtype).name])
    operator, result_shape = ONNX_OPS[op]
    inputs = [helper.make_tensor_value_info("x", elem, ["N", "C"])]
    constants, attributes = [], {}
    if op == "logsumexp":
        attributes["keepdims"] = 0
        if opset >= 18:   # axes: an attribute up to opset 17, an input from 18 on
            constants.append(helper.make_tensor("axes", TensorProto.INT64, [1], [-1]))
        else:
            attributes["axes"] = [-1]
    elif op == "cross_entropy":
        inputs.append(helper.make_tensor_value_info("t", TensorProto.INT64, ["N"]))
        attributes["reduction"] = "mean"
    else:
        attributes["axis"] = -1
    node = helper.make_node(operator, [v.name for v in inputs + constants], ["y"], **attributes)
    output = helper.make_tensor_value_info("y", elem, list(result_shape(("N", "C"))))
    graph = helper.make_graph([node], f"fastsoftmax_bench_{op}", inputs, [output],
                              initializer=constants)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets,
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model)
    return model


def ort_session(ort, model, n_threads):
    """An ONNX Runtime session of ``model`` on the CPUExecutionProvider: ``n_threads``
    intra-op threads, one inter-op thread, sequential execution, all graph optimisations."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def ort_call(ort, op, n_threads, *operands):
    """Zero-argument call of ``op`` in ONNX Runtime on ``operands`` (x, or x and targets).

    The inputs (OrtValue views of the arrays, no copies) and a preallocated output are bound
    once, as fastsoftmax's out= is, so the timed call is ``run_with_iobinding`` alone; it
    returns that output.  Run once and checked against NumPy here."""
    x = operands[0]
    session = ort_session(ort, onnx_model(op, x.dtype), n_threads)
    out = np.empty(ONNX_OPS[op][1](x.shape), x.dtype)
    binding = session.io_binding()
    values = [ort.OrtValue.ortvalue_from_numpy(a) for a in operands]
    for name, value in zip(("x", "t")[:len(values)], values, strict=True):
        binding.bind_ortvalue_input(name, value)
    binding.bind_output("y", "cpu", 0, out.dtype, out.shape, out.ctypes.data)
    call = partial(_ort_run, session, binding, out, values)
    check_result("onnxruntime", op, call(), operands)
    return call


def _ort_run(session, binding, out, inputs):
    """One bound run; returns ``out``, which it wrote.  ``inputs``: the bound OrtValues,
    held here so that they live as long as the call."""
    session.run_with_iobinding(binding)
    return out


def _jax_mean_cross_entropy(jax, x, t):
    """Mean over rows of logsumexp(x) - x[target]."""
    picked = jax.numpy.take_along_axis(x, t[:, None], axis=-1)[:, 0]
    return jax.numpy.mean(jax.scipy.special.logsumexp(x, axis=-1) - picked)


def jax_call(jax, op, *operands):
    """Zero-argument call of ``jax.jit`` of ``op`` on ``jax.device_put`` copies of ``operands``,
    blocking until its result is ready and returning it.

    softmax_backward(grad, y) and log_softmax_backward(grad, logp): the jitted function of
    ``jax.vjp`` of jax.nn.softmax / log_softmax at logits log(y) / logp, whose forward
    results are y / logp again; only the backward is timed.  Compiled, run once and
    checked against NumPy (values and dtype) here."""
    args = [jax.device_put(a) for a in operands]
    if op.endswith("_backward"):
        forward = partial(getattr(jax.nn, op.removesuffix("_backward")), axis=-1)
        g, y = args
        _, vjp = jax.vjp(forward, jax.numpy.log(y) if op == "softmax_backward" else y)
        fn, args = jax.jit(_apply_vjp), [vjp, g]
    else:
        loss = partial(_jax_mean_cross_entropy, jax)
        fn = jax.jit({"softmax": partial(jax.nn.softmax, axis=-1),
                      "log_softmax": partial(jax.nn.log_softmax, axis=-1),
                      "logsumexp": partial(jax.scipy.special.logsumexp, axis=-1),
                      "cross_entropy": loss,
                      "cross_entropy_with_grad": jax.value_and_grad(loss)}[op])
    call = partial(_jax_run, jax, fn, args)
    check_result("jax", op, call(), operands)
    return call


def _apply_vjp(vjp, g):
    """The vector-Jacobian product of a one-argument function: its gradient input."""
    (grad_x,) = vjp(g)
    return grad_x


def _jax_run(jax, fn, args):
    """One call, returned once every array of its result is ready (block_until_ready)."""
    return jax.block_until_ready(fn(*args))


# A peer's result may differ from the float64 reference by its own rounding; a wrong model
# (axis, reduction, dtype) differs by far more.
# The half types: a few ulps (float16's is 2**-11 relative, bfloat16's 2**-8).
CHECK_TOLERANCE = {"float32": {"rtol": 1e-4, "atol": 1e-6},
                   "float64": {"rtol": 1e-10, "atol": 1e-13},
                   "float16": {"rtol": 4e-3, "atol": 1e-5},
                   "bfloat16": {"rtol": 3e-2, "atol": 1e-4}}
CHECK_BLOCK_ELEMENTS = 1 << 20   # elements of x per block of rows of the check


def check_result(impl, op, got, operands):
    """Raise RuntimeError unless ``got``, ``impl``'s result of ``op`` on ``operands``, has the
    operands' dtype and (within CHECK_TOLERANCE) the values of fastsoftmax.reference, the
    NumPy implementation.  The reference runs on blocks of rows, so that its float64
    temporaries stay small; cross-entropy results are the mean loss (and its gradient)."""
    x = operands[0]
    what = f"{impl} {op} {x.dtype.name} {shape_str(x.shape)}"

    def compare(name, value, expected):
        value, expected = np.asarray(value), np.asarray(expected)
        # a half type's loss may be float32 (fastsoftmax's) or the logits' type (torch's)
        dtypes = (x.dtype, np.float32) if name == "loss" and ck.is_half(x.dtype) else (x.dtype,)
        if value.dtype not in dtypes:
            raise RuntimeError(f"{what}: its {name} has dtype {value.dtype}, not {x.dtype}")
        if value.shape != expected.shape:
            raise RuntimeError(f"{what}: its {name} has shape {value.shape}, "
                               f"not {expected.shape}")
        value, expected = value.astype(np.float64), expected.astype(np.float64)
        tol = CHECK_TOLERANCE[x.dtype.name]
        if ck.is_half(x.dtype) and op.endswith(("_backward", "_with_grad")) and expected.ndim:
            # a gradient is a difference of terms a peer may round in the half type: a few
            # ulps of its row's largest term
            big = np.max(np.abs(np.where(np.isfinite(expected), expected, 0)), axis=-1,
                         keepdims=True)
            tol = dict(tol, atol=np.maximum(tol["atol"], tol["rtol"] * big))
        if not np.allclose(value, expected, **tol):
            err = np.max(np.abs(value.astype(np.float64) - expected))
            raise RuntimeError(f"{what}: its {name} differs from NumPy's "
                               f"(fastsoftmax.reference) by up to {err:.3g}")

    rows = x.shape[0]
    step = max(1, CHECK_BLOCK_ELEMENTS // max(1, x.shape[-1]))
    blocks = [slice(i, i + step) for i in range(0, rows, step)]
    expected_of = getattr(reference, op)
    if op.startswith("cross_entropy"):
        x, t = operands
        with_grad = op.endswith("_with_grad")
        loss, grad = got if with_grad else (got, None)
        grad = None if grad is None else np.asarray(grad)
        total = 0.0
        for b in blocks:
            part = expected_of(x[b], t[b], reduction="sum")
            if with_grad:
                part, part_grad = part
                compare("gradient", grad[b], part_grad / rows)
            total += float(part)
        compare("loss", loss, total / rows)
    else:
        got = np.asarray(got)
        for b in blocks:
            compare("result", got[b], expected_of(*(a[b] for a in operands)))


# XLA reads XLA_FLAGS when jax makes its CPU client: import_jax sets them before jax is imported.
XLA_ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
_JAX_POOL: "dict[str, int | None]" = {}   # "threads": the size of XLA:CPU's pool, once import_jax saw the client made


def import_jax(threads):
    """jax with float64 enabled, its CPU client made for the bench's thread counts
    ``threads``: with a one-thread pool when they are [1], else with XLA's default pool.

    XLA_ONE_THREAD_FLAGS is the usual recipe (the first flag makes XLA's Eigen calls
    single-threaded; the second is a TensorFlow option, which XLA's parser passes over).
    Neither limits XLA:CPU in jax 0.10.2: it splits an op over a pool of one thread per CPU
    in the affinity mask at the time the client is made (a softmax of 4096x4096 float32
    kept two CPUs busy with the flags set).  So the client is made while this thread's
    mask holds one CPU, the lowest of its mask, restored right after; threads started
    meanwhile keep that one CPU.  The pool is made once per process: later calls return
    jax as it is, and ``jax_pool_threads()`` says what it has."""
    one_thread = list(threads) == [1]
    if one_thread and "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = " ".join(
            f for f in (os.environ.get("XLA_FLAGS", ""), XLA_ONE_THREAD_FLAGS) if f)
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_x64", True)
    if "threads" not in _JAX_POOL:
        if _jax_client_made(jax):
            _JAX_POOL["threads"] = None      # made before: its pool is whatever it got
        elif one_thread and hasattr(os, "sched_setaffinity"):
            mask = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(mask)})
            try:
                jax.devices("cpu")
            finally:
                os.sched_setaffinity(0, mask)
            _JAX_POOL["threads"] = 1
        else:
            jax.devices("cpu")
            _JAX_POOL["threads"] = logical_cpus()
    return jax


def _jax_client_made(jax):
    made = getattr(getattr(getattr(jax, "_src", None), "xla_bridge", None),
                   "backends_are_initialized", None)
    return True if made is None else made()


def jax_pool_threads():
    """Threads of XLA:CPU's pool as import_jax made it, or None where unknown (jax's
    client was made elsewhere first, or import_jax has not run)."""
    return _JAX_POOL.get("threads")


def import_impl(name, threads):
    """The module handed to Inputs for optional implementation ``name``."""
    if name == "jax":
        return import_jax(threads)
    return importlib.import_module(OPTIONAL_IMPLS[name])


_INDEX_BYTES = 8   # int64 targets

OPS = {
    "softmax": Op(partial(_setup_rowwise, "softmax", False),
                  lambda r, c, s: 2 * r * c * s, "read x + write y"),
    "log_softmax": Op(partial(_setup_rowwise, "log_softmax", False),
                      lambda r, c, s: 2 * r * c * s, "read x + write y"),
    "logsumexp": Op(partial(_setup_rowwise, "logsumexp", True),
                    lambda r, c, s: r * c * s + r * s, "read x + write one value per row"),
    "softmax_backward": Op(partial(_setup_backward, "softmax_backward"),
                           lambda r, c, s: 3 * r * c * s, "read grad and y + write out"),
    "log_softmax_backward": Op(partial(_setup_backward, "log_softmax_backward"),
                               lambda r, c, s: 3 * r * c * s, "read grad and logp + write out"),
    "cross_entropy": Op(_setup_cross_entropy,
                        lambda r, c, s: r * c * s + r * _INDEX_BYTES,
                        "read logits + targets (forward only)"),
    "cross_entropy_with_grad": Op(_setup_cross_entropy_with_grad,
                                  lambda r, c, s: 2 * r * c * s + r * _INDEX_BYTES,
                                  "read logits + targets + write grad "
                                  "(torch, jax: forward + backward)"),
    # RxC = N x V, hidden size --hidden
    "linear_cross_entropy": Op(partial(_setup_linear, False), _linear_traffic(False),
                               "read h (N x D) + W (V x D) + targets (compute-bound)"),
    "linear_cross_entropy_with_grad": Op(partial(_setup_linear, True), _linear_traffic(True),
                                         "read h, W, targets + write dh, dW (compute-bound)"),
}
OPS.update(_scipy_ops())
# The linear ops are compute-bound and slow at the default shapes, and the
# scipy drop-ins repeat the row-wise ops through another signature: opt in with --ops.
DEFAULT_OPS = tuple(name for name in OPS if not name.startswith(("linear_", "scipy_")))

# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


@dataclass
class Timing:
    median: float          # seconds per call
    samples: list          # seconds per call, one per round
    calls_per_sample: int


def _time_calls(fn, number):
    """Seconds taken by ``number`` back-to-back calls of ``fn``."""
    loop = itertools.repeat(None, number)
    t0 = time.perf_counter()
    for _ in loop:
        fn()
    return time.perf_counter() - t0


def _calls_per_sample(per_call, min_time):
    target = min_time * (TINY_FACTOR if per_call < TINY_CALL_S else 1)
    return max(1, math.ceil(target / max(per_call, 1e-9)))


def _calibrate(fn, min_time):
    """Warm ``fn`` up, then (calls per sample, estimated seconds per call)."""
    warm_up = _time_calls(fn, 1)    # not a sample: first touch of outputs, lazy initialisation
    if warm_up >= LONG_CALL_FACTOR * min_time:
        return 1, warm_up
    per_call = _time_calls(fn, 1)
    for _ in range(2):          # refine the estimate on samples of (nearly) full length
        number = _calls_per_sample(per_call, min_time)
        if number == 1:
            break
        per_call = _time_calls(fn, number) / number
    return _calls_per_sample(per_call, min_time), per_call


def measure(calls, *, min_time, repeat, cell_time):
    """Time every callable of ``calls`` interleaved round-robin.

    Returns ({name: Timing}, rounds).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        numbers, prime, round_time = {}, {}, 0.0
        for name, fn in calls.items():
            numbers[name], per_call = _calibrate(fn, min_time)
            # Start each sample from this implementation's own steady state
            # (allocator, caches), not the one the previous implementation left.
            prime[name] = per_call < PRIME_BELOW_S
            round_time += (numbers[name] + prime[name]) * per_call
        rounds = repeat
        if repeat > MIN_ROUNDS and round_time * repeat > cell_time:
            rounds = max(MIN_ROUNDS, int(cell_time // round_time))
        names = list(calls)
        samples = {name: [] for name in names}
        for r in range(rounds):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                if prime[name]:
                    calls[name]()
                samples[name].append(_time_calls(calls[name], numbers[name]) / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(statistics.median(s), s, numbers[name])
            for name, s in samples.items()}, rounds


@contextmanager
def torch_threads(torch, n):
    """torch.set_num_threads(n) for the duration, when torch is compared."""
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

@contextmanager
def fastsoftmax_threads(n):
    """fastsoftmax's default thread count set to n (for calls without n_threads=)."""
    before = fs.set_num_threads(n)
    try:
        yield
    finally:
        fs.set_num_threads(before)


@contextmanager
def blas_threads(n):
    """NumPy's BLAS limited to n threads for the duration (threadpoolctl, when
    installed): the linear ops' matmuls then use the thread count under test."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(n, user_api="blas"):
        yield

# --------------------------------------------------------------------------
# Memory check
# --------------------------------------------------------------------------


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def available_memory():
    """Bytes this process can still allocate, or None if unknown: the
    smaller of the system's available memory and what a cgroup limit leaves."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            left = max(0, limit - usage)
            avail = left if avail is None else min(avail, left)
            break
    return avail


def plan_memory(op, shape, dtype, measured):
    """(implementations that fit, notes), or (None, reason) to skip the cell."""
    avail = available_memory()
    if avail is None:
        return measured, []
    rows, cols = shape
    itemsize = bench_dtype(dtype).itemsize
    held = op.traffic(rows, cols, itemsize) + rows * cols * itemsize   # operands + copy dst
    budget = MEMORY_HEADROOM * avail
    if held > budget:
        return None, (f"needs about {held / 1e9:.1f} GB for its arrays; "
                      f"{avail / 1e9:.1f} GB available")
    keep, notes = [], []
    for name in measured:
        extra = TRANSIENT_BYTES[name](itemsize) * rows * cols
        if held + extra > budget:
            notes.append(f"{name} left out: its temporaries need about {extra / 1e9:.1f} GB more "
                         f"than the {held / 1e9:.1f} GB of arrays; {avail / 1e9:.1f} GB available")
        else:
            keep.append(name)
    return keep, notes

# --------------------------------------------------------------------------
# One cell
# --------------------------------------------------------------------------


def run_cell(op_name, inp, threads, measured, timing):
    """Measure one cell; returns its JSON record."""
    op = OPS[op_name]
    case = op.setup(inp, threads)
    calls = {name: fn for name, fn in case.calls.items() if name in measured}
    failed = []
    if ck.is_half(inp.dtype):   # a peer without the half type's kernels raises (_add_peers)
        for name in [n for n in calls if n not in ("fastsoftmax", "fresh")]:
            try:
                calls[name]()
            except Exception as exc:   # noqa: BLE001 -- reported, not fatal
                del calls[name]
                failed.append(name)
                case.notes.append(peer_failure(name, op_name, inp, exc))
    dst = np.empty_like(case.source)
    calls["copyto"] = partial(np.copyto, dst, case.source)
    with torch_threads(inp.torch, threads), blas_threads(threads), fastsoftmax_threads(threads):
        timings, rounds = measure(calls, **timing)
    rows, cols = inp.shape
    nbytes = (op.traffic(rows, cols, inp.dtype.itemsize, inp.hidden) if op_name.startswith("linear_")
              else op.traffic(rows, cols, inp.dtype.itemsize))
    copy_bytes = 2 * case.source.nbytes
    t_fs = timings["fastsoftmax"].median
    copy_gbps = copy_bytes / timings["copyto"].median / 1e9
    gbps = {name: nbytes / t.median / 1e9 for name, t in timings.items() if name != "copyto"}
    return {
        "op": op_name, "dtype": inp.dtype.name, "shape": [rows, cols], "threads": threads,
        "rounds": rounds,
        "median_s": {name: t.median for name, t in timings.items()},
        "samples_s": {name: t.samples for name, t in timings.items()},
        "calls_per_sample": {name: t.calls_per_sample for name, t in timings.items()},
        "bytes": nbytes, "copy_bytes": copy_bytes,
        "gbps": gbps, "copy_gbps": copy_gbps,
        "roofline_fraction": gbps["fastsoftmax"] / copy_gbps,
        "ratios": {name: t.median / t_fs for name, t in timings.items() if name != "fastsoftmax"},
        "failed": failed,
        "notes": case.notes,
    }


def _measured_names(impls):
    """Callables timed per cell: fastsoftmax always, with its fresh-output variant, and
    fastsoftmax.torch (on tensors, through autograd) where torch is compared."""
    return ["fastsoftmax", "fresh"] + _compared(impls)


def _compared(impls):
    """The ratio columns: every other implementation, and fs_torch beside torch."""
    others = [i for i in impls if i != "fastsoftmax"]
    return others + ["fs_torch"] if "torch" in others else others


def run_cells(cells, threads, modules, measured, timing, progress, hidden=DEFAULT_HIDDEN):
    """Run the (op, dtype, shape) groups for every thread count.

    Returns (records, skipped, notes).
    """
    records, skipped, notes = [], [], []
    total = len(cells) * len(threads)
    done = 0
    for op_name, dtype, shape in cells:
        keep, why = plan_memory(OPS[op_name], shape, dtype, measured)
        label = f"{op_name} {dtype} {shape_str(shape)}"
        if keep is None:
            notes.append(f"{label} skipped: {why}")
            for k in threads:
                done += 1
                progress(f"[{done}/{total}] {label} t={k}: skipped, {why}")
                skipped.append({"op": op_name, "dtype": dtype, "shape": list(shape),
                                "threads": k, "reason": why})
            continue
        notes += [f"{label}: {n}" for n in why]
        inp = Inputs(shape, dtype, hidden=hidden, **modules)
        for k in threads:
            done += 1
            progress(f"[{done}/{total}] {label} t={k}")
            records.append(run_cell(op_name, inp, k, keep, timing))
        del inp
        gc.collect()
    for r in records:
        notes += [n for n in r["notes"] if n not in notes]
    return records, skipped, notes

# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def logical_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(modules):
    """Machine and version metadata recorded with the numbers."""
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "fastsoftmax": fs.__version__}
    if modules["scipy"] is not None:
        versions["scipy"] = _version("scipy")
    if modules["torch"] is not None:
        versions["torch"] = modules["torch"].__version__
    if modules["onnxruntime"] is not None:
        versions["onnxruntime"] = modules["onnxruntime"].__version__
        versions["onnx"] = _version("onnx")
    if modules["jax"] is not None:
        versions["jax"] = modules["jax"].__version__
        versions["jaxlib"] = _version("jaxlib")
    env = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "machine": platform.machine(), "system": platform.platform(),
        "logical_cpus": logical_cpus(),
        "backend": fs.backend, "isa": fs.get_isa(), "available_isas": fs.available_isas(),
        "versions": versions,
    }
    if modules["onnxruntime"] is not None:
        env["onnx_opset"] = ONNX_OPSET
    if modules["jax"] is not None:
        env["jax_pool_threads"] = jax_pool_threads()
    return env

# --------------------------------------------------------------------------
# Text output
# --------------------------------------------------------------------------


def _glyphs():
    """("×", "µs"), or ("x", "us") where stdout cannot encode them."""
    try:
        "×µ".encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "x", "us"
    return "×", "µs"


def shape_str(shape):
    return "x".join(map(str, shape))


def format_time(seconds, micro="µs"):
    for scale, unit in ((1e-6, "ns"), (1e-3, micro), (1.0, "ms")):
        if seconds < scale:
            return _fixed3(seconds / scale * 1e3) + " " + unit
    return _fixed3(seconds) + " s"


def _fixed3(v):
    """About three significant digits, no exponent: 3.12, 45.1, 452."""
    return f"{v:.{2 if v < 9.995 else 1 if v < 99.95 else 0}f}"


def _ratio(v):
    return "-" if v is None else _fixed3(v)


def table(headers, rows, left=1):
    """Plain-text table; the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return "\n".join([line(headers), line("-" * w for w in widths)] + [line(r) for r in rows])


def results_table(records, skipped, impls):
    times, micro = _glyphs()
    compared = _compared(impls)
    headers = (["op", "dtype", "shape", "threads", "fastsoftmax", "fresh out",
                "GB/s", "copy GB/s", "roofline"] + [f"{times} {i}" for i in compared])
    rows = []
    for r in records:
        t = r["median_s"]
        rows.append([r["op"], r["dtype"], shape_str(r["shape"]), r["threads"],
                     format_time(t["fastsoftmax"], micro),
                     format_time(t["fresh"], micro) if "fresh" in t else "-",
                     _fixed3(r["gbps"]["fastsoftmax"]), _fixed3(r["copy_gbps"]),
                     f"{r['roofline_fraction']:.2f}"]
                    + ["n/a" if i in r.get("failed", ()) else _ratio(r["ratios"].get(i))
                       for i in compared])
    for s in skipped:
        rows.append([s["op"], s["dtype"], shape_str(s["shape"]), s["threads"],
                     "skipped"] + [""] * (len(headers) - 5))
    return table(headers, rows, left=3)


def header_lines(env, args, missing):
    cpus = env["logical_cpus"]
    times, _ = _glyphs()
    lines = [
        f"fastsoftmax benchmark, {env['date']}",
        f"CPU: {env['cpu']} ({env['machine']}), {cpus} logical CPU{'s' * (cpus != 1)} available",
        f"fastsoftmax {fs.__version__}: backend {env['backend']}, ISA {env['isa']} "
        f"(available: {', '.join(env['available_isas'])})",
        "versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"threads: {','.join(map(str, args.threads))} -- fastsoftmax n_threads=k, "
        "torch.set_num_threads(k), onnxruntime intra_op_num_threads=k; "
        "NumPy and SciPy are single-threaded",
        f"timing: {args.repeat} rounds (at least {min(MIN_ROUNDS, args.repeat)} where a cell would "
        f"take over {args.cell_time:g} s), all implementations interleaved round-robin in one "
        f"process after a warm-up; samples of >= {args.min_time * 1e3:g} ms of back-to-back calls; "
        "median per-call time",
        "fastsoftmax: out=/grad_out= preallocated; fresh out: allocating its result (page faults); "
        "numpy: fastsoftmax.reference (NumPy, computes in float64); "
        "fs_torch: fastsoftmax.torch on the torch tensors (autograd Functions)",
        "GB/s: bytes read + written once / fastsoftmax time; copy GB/s: 2 * x.nbytes / "
        "np.copyto(dst, x) time; roofline = GB/s / copy GB/s",
        f"{times} impl: that implementation's time / fastsoftmax's (> 1: fastsoftmax is faster)",
        "for tiny arrays (such as 1x10) the times measure per-call overhead; "
        "their GB/s and roofline mean little",
    ]
    if "onnxruntime" in env["versions"]:
        lines.append(f"onnxruntime: a one-node ONNX model per op (opset {env['onnx_opset']}), "
                     "CPUExecutionProvider, sequential, ORT_ENABLE_ALL, run_with_iobinding with "
                     "the input and a preallocated output bound once; no backward or "
                     "*_with_grad ops (inference has no gradient ops)")
    if "jax" in env["versions"]:
        pool = env["jax_pool_threads"]
        pool = ("unknown (jax's CPU client was made before the bench set it up)" if pool is None
                else f"{pool} thread{'s' * (pool != 1)} for every k"
                     + ("" if pool == 1 else " (XLA's default; one thread only with --threads 1)"))
        lines.append("jax: jax.jit on jax.device_put arrays, float64 enabled, "
                     "block_until_ready() in every call, allocating its result; backward ops: "
                     f"the jitted jax.vjp function; XLA:CPU thread pool: {pool}")
    if fs.backend == "numpy":
        lines.append("NOTE: FASTSOFTMAX_BACKEND=numpy: 'fastsoftmax' is the NumPy reference "
                     "here (single-threaded)")
    if any(k > cpus for k in args.threads):
        lines.append(f"NOTE: more threads requested than the {cpus} CPUs available")
    lines += [f"NOTE: {why}; its column is left out" for why in missing]
    return ["# " + line for line in lines]

# --------------------------------------------------------------------------
# Row-length sweep and plot
# --------------------------------------------------------------------------


def sweep_shapes(quick):
    lengths, total = ((QUICK_SWEEP_LENGTHS, QUICK_SWEEP_ELEMENTS) if quick
                      else (SWEEP_LENGTHS, SWEEP_ELEMENTS))
    return [(max(1, total // n), n) for n in lengths if n <= total]


def run_sweep(threads, modules, measured, timing, quick, progress):
    """softmax float32 over row lengths at a fixed array size."""
    shapes = sweep_shapes(quick)
    records = []
    for i, shape in enumerate(shapes, 1):
        progress(f"[sweep {i}/{len(shapes)}] softmax float32 {shape_str(shape)} t={threads}")
        records.append(run_cell("softmax", Inputs(shape, "float32", **modules),
                                threads, measured, timing))
    return records


def sweep_table(records, measured):
    names = list(measured) + ["copyto"]
    rows = [[r["shape"][1], r["shape"][0]]
            + [_fixed3(r["copy_gbps"] if n == "copyto" else r["gbps"][n])
               if n in r["median_s"] else "-" for n in names] for r in records]
    return table(["row length", "rows"] + names, rows, left=0)


def plot_sweep(records, path, env, threads):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    lengths = [r["shape"][1] for r in records]
    for name in ("fastsoftmax", "fresh", "numpy", "scipy", "torch", "onnxruntime", "jax"):
        if name in records[0]["gbps"]:
            style = {"linestyle": ":"} if name == "fresh" else {}
            ax.plot(lengths, [r["gbps"][name] for r in records], marker="o",
                    label=LABELS[name], **style)
    ax.plot(lengths, [r["copy_gbps"] for r in records], "k--", label=LABELS["copyto"])
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    elems = records[0]["shape"][0] * records[0]["shape"][1]
    ax.set_xlabel(f"row length (elements; about {elems:,} float32 per array)")
    ax.set_ylabel("GB/s (read x + write y once)")
    ax.set_title(f"softmax float32: {env['cpu']}, ISA {env['isa']}, "
                 f"{threads} thread{'s' * (threads != 1)}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)

# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _comma_list(parse):
    """argparse type: a comma-separated list, each item through ``parse``, duplicates dropped."""
    def parse_list(text):
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        return list(dict.fromkeys(parse(s) for s in items))
    return parse_list


def _choice(kind, choices, unknown="unknown"):
    def parse(s):
        if s not in choices:
            raise argparse.ArgumentTypeError(
                f"{unknown} {kind} {s!r}; choose from {', '.join(choices)}")
        return s
    return parse


def _parse_shape(s):
    parts = s.lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 2 or min(dims) < 1:
        raise argparse.ArgumentTypeError(
            f"malformed shape {s!r}: expected ROWSxCOLS with positive integers, e.g. 2048x1000")
    return dims


def _positive(convert, what):
    """argparse type: ``convert(s)``, which must be finite and > 0."""
    kind = "integer" if convert is int else "number"

    def parse(s):
        try:
            v = convert(s)
        except ValueError:
            v = None
        if v is None or not v > 0 or not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{what} must be a positive {kind}, got {s!r}")
        return v
    return parse


def build_parser():
    ops_doc = "\n".join(f"  {name:<25} {op.traffic_doc}" for name, op in OPS.items())
    parser = argparse.ArgumentParser(
        prog="python -m fastsoftmax.bench",
        description="""\
Time fastsoftmax against NumPy (fastsoftmax.reference), scipy.special,
PyTorch, ONNX Runtime and JAX, and against np.copyto, the memory-copy
roofline.  For each op, dtype, shape and thread count, all implementations
run side by side in this process, interleaved round-robin over several rounds
after a warm-up; each sample times back-to-back calls for at least --min-time,
and the median per-call time is reported.  Prints a table to stdout, progress
to stderr.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"""\
example:
  python -m fastsoftmax.bench --ops softmax,cross_entropy_with_grad \\
      --shapes 2048x1000,512x32000 --threads 1,2 --json bench.json --plot bench.png

ops and the bytes they count (inputs read once + outputs written once):
{ops_doc}

columns:
  fastsoftmax  median time per call with out=/grad_out= preallocated
  fresh out    the same call allocating its result (fresh pages cost page faults)
  GB/s         bytes / fastsoftmax time (1 GB = 1e9 bytes)
  copy GB/s    2 * x.nbytes / time of np.copyto(dst, x), dst preallocated
  roofline     GB/s / copy GB/s, the fraction of copy bandwidth achieved; ops
               that only read (logsumexp, cross_entropy) can exceed 1
  x IMPL       IMPL's time / fastsoftmax's: > 1 means fastsoftmax is faster

numpy is fastsoftmax.reference (plain NumPy, computing in float64); NumPy and
SciPy are single-threaded here. Shapes that need more memory than is
available are skipped with a note.

onnxruntime: a one-node ONNX model of the op (opset {ONNX_OPSET}; softmax,
log_softmax, logsumexp, cross_entropy only: inference has no gradient ops) on
the CPUExecutionProvider with intra_op_num_threads=k, through an IOBinding with
the input and a preallocated output bound once. jax: jax.jit of the op on
device_put arrays (float64 enabled), block_until_ready() in every call; JAX
allocates its result. JAX runs on one thread only when --threads is 1; with
any other --threads it uses XLA's default thread pool (one thread per CPU) for
every k. Both are checked against NumPy once before timing.""")
    def add_list(flag, metavar, parse, default, text):
        parser.add_argument(flag, metavar=metavar, type=_comma_list(parse), default=default,
                            help=text)

    add_list("--ops", "OP,...", _choice("op", tuple(OPS)), list(DEFAULT_OPS),
             f"comma list of ops (default: all but the linear_* ops)")
    add_list("--shapes", "RxC,...", _parse_shape, None,
             "comma list of ROWSxCOLS, the op along the last axis (default: "
             f"{','.join(map(shape_str, DEFAULT_SHAPES))}; "
             f"with --quick: {','.join(map(shape_str, QUICK_SHAPES))})")
    add_list("--dtypes", "DTYPE,...", _choice("dtype", DTYPES, "unsupported"), ["float32"],
             "comma list of float32, float64, float16, bfloat16 (bfloat16 needs ml_dtypes; "
             "peers without a half type's kernels read n/a) (default: float32)")
    add_list("--threads", "K,...", _positive(int, "thread count"), [1],
             "comma list of thread counts k: fastsoftmax n_threads=k, "
             "torch.set_num_threads(k), onnxruntime intra_op_num_threads=k; jax: one "
             "thread when the list is 1, else XLA's default pool (default: 1)")
    add_list("--impls", "IMPL,...", _choice("implementation", IMPLS), None,
             f"comma list of {', '.join(IMPLS)} to compare "
             "(default: those installed; fastsoftmax is always measured)")
    parser.add_argument("--repeat", metavar="ROUNDS", type=_positive(int, "rounds"),
                        help=f"rounds per cell; the median is reported (default: "
                             f"{DEFAULT_REPEAT}, --quick: {QUICK_REPEAT})")
    parser.add_argument("--min-time", metavar="SECONDS", type=_positive(float, "seconds"),
                        help=f"least duration of one sample of back-to-back calls (default: "
                             f"{DEFAULT_MIN_TIME:g}, --quick: {QUICK_MIN_TIME:g}; "
                             f"{TINY_FACTOR}x for calls under {TINY_CALL_S * 1e6:g} us)")
    parser.add_argument("--cell-time", metavar="SECONDS", type=_positive(float, "seconds"),
                        help=f"run fewer rounds (at least {MIN_ROUNDS}) when a cell would take "
                             f"longer (default: {DEFAULT_CELL_TIME:g}, "
                             f"--quick: {QUICK_CELL_TIME:g})")
    parser.add_argument("--hidden", metavar="D", type=_positive(int, "hidden size"),
                        default=DEFAULT_HIDDEN,
                        help=f"hidden size D of the linear_* ops, whose RxC is N x V "
                             f"(default: {DEFAULT_HIDDEN})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes, few short rounds, a small --plot sweep: a smoke run")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also sweep softmax float32 over row lengths at a fixed array size "
                             "and plot GB/s against row length (needs matplotlib)")
    parser.add_argument("--json", metavar="FILE",
                        help="write metadata and every raw number to FILE")
    return parser


# option -> (default, default under --quick)
_QUICK_DEPENDENT = {
    "shapes": (DEFAULT_SHAPES, QUICK_SHAPES),
    "repeat": (DEFAULT_REPEAT, QUICK_REPEAT),
    "min_time": (DEFAULT_MIN_TIME, QUICK_MIN_TIME),
    "cell_time": (DEFAULT_CELL_TIME, QUICK_CELL_TIME),
}


def is_installed(module):
    """Whether ``module`` can be imported (checked without importing it)."""
    return importlib.util.find_spec(module) is not None


def not_installed(name):
    """Why optional implementation ``name`` cannot run ("torch is not installed"), or None."""
    if name not in OPTIONAL_IMPLS:
        return None
    absent = [m for m in (name, *IMPL_NEEDS.get(name, ())) if not is_installed(m)]
    if not absent:
        return None
    if name in absent:
        return f"{name} is not installed"
    return f"{name} needs {' and '.join(absent)}, which {'is' if len(absent) == 1 else 'are'} " \
           "not installed"


def _resolve(parser, args):
    """Fill quick-dependent defaults and check what the run needs; returns the
    implementations to compare and why the optional ones left out are missing."""
    for name, (normal, quick) in _QUICK_DEPENDENT.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    why_not = {name: not_installed(name) for name in IMPLS}
    if args.impls is None:
        impls = [name for name in IMPLS if why_not[name] is None]
        missing = [why_not[name] for name in IMPLS if why_not[name] is not None]
    else:
        impls, missing = args.impls, []
        for name in impls:
            if why_not[name] is not None:
                parser.error(f"--impls: {why_not[name]}")
    if "bfloat16" in args.dtypes and not is_installed("ml_dtypes"):
        parser.error('--dtypes bfloat16 needs ml_dtypes, which is not installed: '
                     'pip install "fastsoftmax[half]"')
    if args.plot and not is_installed("matplotlib"):
        parser.error('--plot needs matplotlib, which is not installed: '
                     'pip install "fastsoftmax[bench]"')
    for opt in ("plot", "json"):
        path = getattr(args, opt)
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            parser.error(f"--{opt}: the folder of {path!r} does not exist")
    return impls, missing


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    """Run the benchmark; returns the exit code (argument errors exit with 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    impls, missing = _resolve(parser, args)
    modules = {name: (import_impl(name, args.threads) if name in impls else None)
               for name in OPTIONAL_IMPLS}
    env = environment(modules)
    measured = _measured_names(impls)
    timing = {"min_time": args.min_time, "repeat": args.repeat, "cell_time": args.cell_time}

    print("\n".join(header_lines(env, args, missing)), flush=True)
    cells = [(op, dtype, shape)
             for op in args.ops for dtype in args.dtypes for shape in args.shapes]
    records, skipped, notes = run_cells(cells, args.threads, modules, measured, timing, _progress,
                                        args.hidden)
    print()
    print(results_table(records, skipped, impls))
    if notes:
        print()
        print("\n".join("note: " + n for n in dict.fromkeys(notes)))

    sweep = []
    if args.plot:
        k = args.threads[0]
        sweep = run_sweep(k, modules, measured, timing, args.quick, _progress)
        print()
        print(f"softmax float32 GB/s by row length, {k} thread{'s' * (k != 1)} "
              f"(copyto: copy GB/s, the roofline)")
        print(sweep_table(sweep, measured))
        plot_sweep(sweep, args.plot, env, k)
        _progress(f"plot written to {args.plot}")

    if args.json:
        doc = {"meta": {**env, "threads": args.threads, "impls": impls,
                        "settings": {"repeat": args.repeat, "min_time_s": args.min_time,
                                     "cell_time_s": args.cell_time, "min_rounds": MIN_ROUNDS,
                                     "tiny_call_s": TINY_CALL_S, "tiny_factor": TINY_FACTOR,
                                     "prime_below_s": PRIME_BELOW_S},
                        "definitions": {"bytes": "inputs read once + outputs written once",
                                        "gbps": "bytes / median seconds / 1e9",
                                        "copy_gbps": "copy_bytes / np.copyto median seconds / 1e9",
                                        "roofline_fraction": "gbps['fastsoftmax'] / copy_gbps",
                                        "ratios": "median_s[impl] / median_s['fastsoftmax']"}},
               "records": records, "skipped": skipped, "sweep": sweep}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        _progress(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
