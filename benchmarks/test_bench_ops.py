"""pytest-benchmark: one benchmarked call per test, impl x op x dtype x shape.

Run:  pip install ".[bench]" && pytest benchmarks/ --benchmark-group-by=group
      pytest benchmarks/ -k "softmax and 2048x1000"      # a slice
      pytest benchmarks/ --benchmark-disable               # each call once, as a check

Not collected by the default test run (testpaths = tests).  Each group is one
(op, dtype, shape); compare its members by ratio within one run.  No timing is
asserted.  The implementations and their calls come from the registry of
``python -m fastsoftmax.bench`` (``fastsoftmax.bench.OPS``), so both measure
the same thing:

- ``fastsoftmax``: out= / grad_out= preallocated; ``fastsoftmax-fresh``: allocating its result;
- ``numpy``: fastsoftmax.reference; ``scipy``: scipy.special (softmax, log_softmax, logsumexp);
- ``torch``: PyTorch CPU ops on torch.from_numpy views (skipped where torch is absent);
- ``onnxruntime``: a one-node ONNX model through an IOBinding (softmax, log_softmax, logsumexp,
  cross_entropy; skipped without onnxruntime and onnx);
- ``jax``: jax.jit on device_put arrays, block_until_ready() per call (skipped without jax);
- ``copyto``: np.copyto of the op's input into a preallocated array, the memory-copy roofline.

One thread throughout (fastsoftmax n_threads=1, torch.set_num_threads(1), onnxruntime
intra_op_num_threads=1, jax as ``bench.import_jax([1])`` sets it up).
Each test records the op's byte count (inputs read once + outputs written
once), the CPU and the ISA in ``extra_info``, and GB/s when timing ran.
"""
from functools import partial

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import bench

SHAPES = [(1, 10), (4096, 10), (2048, 1000), (512, 32000)]
DTYPES = ["float32", "float64"]
THREADS = 1
# test id -> name in the registry's Case.calls
IMPLS = {"fastsoftmax": "fastsoftmax", "fastsoftmax-fresh": "fresh", "numpy": "numpy",
         "scipy": "scipy", "torch": "torch", "onnxruntime": "onnxruntime", "jax": "jax",
         "copyto": "copyto"}


def _case(impl, op, dtype, shape):
    """The registry's Case for one cell, with the module ``impl`` needs (skip if absent)."""
    scipy = pytest.importorskip("scipy.special") if impl == "scipy" else None
    torch = pytest.importorskip("torch") if impl == "torch" else None
    peers = {}
    if impl in ("onnxruntime", "jax"):
        for module in (impl, *bench.IMPL_NEEDS.get(impl, ())):
            pytest.importorskip(module)
        peers[impl] = bench.import_impl(impl, [THREADS])
    inp = bench.Inputs(shape, dtype, torch=torch, scipy=scipy, **peers)
    return bench.OPS[op].setup(inp, THREADS), torch


@pytest.mark.parametrize("shape", SHAPES, ids=bench.shape_str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(bench.DEFAULT_OPS))
@pytest.mark.parametrize("impl", list(IMPLS))
def test_op(benchmark, impl, op, dtype, shape):
    _run(benchmark, impl, op, dtype, shape)


# Fused linear + cross-entropy, N x V with hidden size bench.DEFAULT_HIDDEN (compute-bound:
# about 0.2 TFLOP a call); numpy is the naive h @ W.T then cross-entropy.
@pytest.mark.parametrize("op", [op for op in bench.OPS if op.startswith("linear_")])
@pytest.mark.parametrize("impl", ["fastsoftmax", "numpy", "torch"])
def test_linear_op(benchmark, impl, op):
    _run(benchmark, impl, op, "float32", (1024, 32000))


def _run(benchmark, impl, op, dtype, shape):
    case, torch = _case(impl, op, dtype, shape)
    if impl == "copyto":
        call = partial(np.copyto, np.empty_like(case.source), case.source)
        nbytes = 2 * case.source.nbytes
    elif IMPLS[impl] in case.calls:
        call = case.calls[IMPLS[impl]]
        nbytes = bench.OPS[op].traffic(*shape, np.dtype(dtype).itemsize)   # linear: D default
    else:
        pytest.skip(f"{impl} has no {op}")
    benchmark.group = f"{op}-{dtype}-{bench.shape_str(shape)}"
    benchmark.extra_info.update(bytes=nbytes, threads=THREADS, isa=fs.get_isa(),
                                backend=fs.backend, cpu=bench.cpu_model())
    with bench.torch_threads(torch, THREADS), bench.blas_threads(THREADS):
        benchmark(call)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["gbps"] = nbytes / stats.stats.median / 1e9
