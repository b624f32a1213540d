"""pytest-benchmark: one benchmarked call per test, impl x op x dtype x shape.

Run:  pip install ".[bench]" && pytest benchmarks/ --benchmark-group-by=param:shape
Not collected by the default test run (testpaths = tests).  Compare the
implementations by ratio within one run; no timing is asserted.
"""
import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref

SHAPES = [(4096, 10), (2048, 1000), (512, 32000)]


def _scipy(name):
    sp = pytest.importorskip("scipy.special")
    return getattr(sp, name)


def _torch(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    fn = {"softmax": torch.softmax, "log_softmax": torch.log_softmax,
          "logsumexp": torch.logsumexp}[name]
    return lambda x: fn(torch.from_numpy(x), -1)


IMPLS = {
    "fastsoftmax": lambda name: getattr(fs, name),
    "numpy-reference": lambda name: getattr(ref, name),
    "scipy": _scipy,
    "torch": _torch,
}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("impl", list(IMPLS))
def test_rowwise(benchmark, impl, op, dtype, shape):
    fn = IMPLS[impl](op)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    benchmark.group = f"{op}-{dtype}-{shape[0]}x{shape[1]}"
    benchmark(fn, x) if impl in ("scipy", "torch") else benchmark(fn, x, axis=-1)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["fastsoftmax", "numpy-reference", "torch"])
def test_cross_entropy_with_grad(benchmark, impl, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    t = np.random.default_rng(1).integers(0, shape[1], shape[0])
    benchmark.group = f"ce_with_grad-float32-{shape[0]}x{shape[1]}"
    if impl == "torch":
        torch = pytest.importorskip("torch")
        torch.set_num_threads(1)
        tt = torch.from_numpy(t)

        def run():
            z = torch.from_numpy(x).requires_grad_(True)
            torch.nn.functional.cross_entropy(z, tt).backward()
            return z.grad
        benchmark(run)
    else:
        mod = fs if impl == "fastsoftmax" else ref
        benchmark(mod.cross_entropy_with_grad, x, t)
