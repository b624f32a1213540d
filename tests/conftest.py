"""Shared fixtures: ISA, dtypes, shapes and layouts (CONVENTIONS 7)."""
import multiprocessing
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastsoftmax as fs
from _util import PYTHON, isa_set

if PYTHON != sys.executable:       # worker processes (dask.distributed) start the same way
    multiprocessing.set_executable(PYTHON)

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

ISAS = fs.available_isas()
DTYPES = [np.float32, np.float64]
# Widths around the SIMD lane counts (4, 8, 16 floats; 2, 4, 8 doubles) and large rows.
WIDTHS = list(range(1, 34)) + [1000, 32000]


@pytest.fixture(params=ISAS)
def isa(request):
    """Run the test under each kernel set this machine supports, then restore."""
    with isa_set(request.param):
        yield request.param


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


def layouts(x):
    """(name, array) pairs holding the same values as ``x`` in different memory layouts."""
    out = [("C", x), ("F", np.asfortranarray(x))]
    # every axis strided by 2 (non-contiguous rows and elements)
    big = np.zeros(tuple(2 * s for s in x.shape), x.dtype)
    view = big[tuple(slice(None, None, 2) for _ in x.shape)]
    view[...] = x
    out.append(("strided", view))
    # contiguous rows padded on the right (row stride > row length)
    if x.ndim >= 1:
        pad = np.zeros(x.shape[:-1] + (x.shape[-1] + 5,), x.dtype)
        pv = pad[..., : x.shape[-1]]
        pv[...] = x
        out.append(("row-padded", pv))
    # negative strides on every axis
    rev = x[tuple(slice(None, None, -1) for _ in x.shape)].copy()
    out.append(("reversed", rev[tuple(slice(None, None, -1) for _ in x.shape)]))
    ro = x.copy()
    ro.flags.writeable = False
    out.append(("readonly", ro))
    return out


def pytest_report_header(config):
    """The backend and kernel sets under test, first thing in every run's output."""
    import platform
    if fs.backend != "c":
        return f"fastsoftmax {fs.__version__}: backend {fs.backend} on {platform.machine()}"
    return (f"fastsoftmax {fs.__version__}: backend c on {platform.machine()}, kernel set "
            f"{fs.get_isa()} by default, kernel tests run under {fs.available_isas()}")
