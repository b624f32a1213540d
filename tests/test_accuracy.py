"""The written accuracy contract (README, docstrings), over adversarial rows.

float32 results are compared with a float64 computation, float64 results with
a long-double one, from the same input values.  Contract:
  softmax: relative error <= 2e-6 (f32) / 5e-14 (f64) for entries >= 1e-30,
           rows sum to 1 within 1e-6 (f32) / 5e-14 (f64);
  log_softmax, logsumexp, cross-entropy: absolute error
           <= 2e-6 (f32) / 5e-14 (f64) times max(1, |exact|).
"""
import numpy as np
import pytest

import fastsoftmax as fs
from _util import REL

WIDE = np.longdouble if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps else None
WIDTHS = list(range(1, 34)) + [1000, 32000, 262144]
KINDS = ["dominant", "equal", "equal-large", "spread-1e4", "normal-1", "normal-10",
         "normal-30", "uniform-70", "tiny-tail", "spread-1e30", "far-winner"]


def adversarial(kind, width, dtype, seed=0):
    rng = np.random.default_rng(seed + width)
    rows = 2 if width <= 32000 else 1
    shape = (rows, width)
    if kind == "dominant":
        x = rng.uniform(-1, 1, shape)
        x[:, width // 2] = 60.0
    elif kind == "equal":
        x = np.zeros(shape)
    elif kind == "equal-large":
        x = np.full(shape, 9876.5)
    elif kind == "spread-1e4":
        x = rng.uniform(-1e4, 1e4, shape)
    elif kind.startswith("normal-"):
        x = rng.standard_normal(shape) * float(kind.split("-")[1])
    elif kind == "uniform-70":      # many entries near the 1e-30 edge of the contract
        x = rng.uniform(-69, 0.5, shape)
    elif kind == "spread-1e30":      # x - max far beyond the float32 integers
        x = rng.uniform(-1e30, 1e30, shape)
    elif kind == "far-winner":       # max >= 2^31: max - 110 rounds to max in float32
        x = rng.uniform(-1, 1, shape)
        x[:, width // 3] = 3e9
    elif kind == "tiny-tail":        # one winner, the rest far below it
        x = rng.uniform(-100, -60, shape)
        x[:, 0] = 0.0
    else:
        raise ValueError(kind)
    return x.astype(dtype)


def exact_dtype(dtype):
    if dtype == np.float32:
        return np.float64
    if WIDE is None:
        pytest.skip("long double is not wider than double on this platform")
    return WIDE


def exact_softmax(x, wide):
    w = x.astype(wide)
    e = np.exp(w - w.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def exact_logsumexp(x, wide):
    w = x.astype(wide)
    m = w.max(axis=-1, keepdims=True)
    return (np.log(np.exp(w - m).sum(axis=-1, keepdims=True)) + m)[..., 0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", WIDTHS)
def test_softmax_contract(isa, dtype, kind, width):
    x = adversarial(kind, width, dtype)
    wide = exact_dtype(dtype)
    what = f"softmax isa={isa} dtype={dtype} kind={kind} width={width}"
    y = fs.softmax(x)
    e = exact_softmax(x, wide)
    mask = e >= 1e-30
    rel = np.abs(y.astype(wide)[mask] - e[mask]) / e[mask]
    assert rel.max() <= REL[dtype], f"{what}: max relative error {float(rel.max()):.3e}"
    row_sums = y.astype(wide).sum(axis=-1)
    sum_tol = 1e-6 if dtype == np.float32 else 5e-14
    assert np.all(np.abs(row_sums - 1) <= sum_tol), f"{what}: row sums {row_sums}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", WIDTHS)
def test_log_softmax_logsumexp_contract(isa, dtype, kind, width):
    x = adversarial(kind, width, dtype)
    wide = exact_dtype(dtype)
    what = f"isa={isa} dtype={dtype} kind={kind} width={width}"
    lse_exact = exact_logsumexp(x, wide)
    lse = fs.logsumexp(x)
    err = np.abs(lse.astype(wide) - lse_exact) / np.maximum(1, np.abs(lse_exact))
    assert err.max() <= REL[dtype], f"logsumexp {what}: error {float(err.max()):.3e}"

    lsm_exact = x.astype(wide) - lse_exact[:, None]
    lsm = fs.log_softmax(x)
    err = np.abs(lsm.astype(wide) - lsm_exact) / np.maximum(1, np.abs(lsm_exact))
    assert err.max() <= REL[dtype], f"log_softmax {what}: error {float(err.max()):.3e}"

    target = np.arange(x.shape[0]) % width
    loss_exact = lse_exact - x.astype(wide)[np.arange(x.shape[0]), target]
    loss = fs.cross_entropy(x, target, reduction="none")
    err = np.abs(loss.astype(wide) - loss_exact) / np.maximum(1, np.abs(loss_exact))
    assert err.max() <= REL[dtype], f"cross_entropy {what}: error {float(err.max()):.3e}"
    loss2, grad = fs.cross_entropy_with_grad(x, target, reduction="sum")
    p = exact_softmax(x, wide)
    want = p.copy()
    want[np.arange(x.shape[0]), target] -= 1
    # The gradient carries softmax's error, measured against max(p, |p - 1|):
    # the target entry p - 1 cancels digits in exact arithmetic too, and is
    # rounded to the output dtype, so its error is relative to |p - 1|.
    scale = np.maximum(p, np.abs(want))
    mask = p >= 1e-30
    rel = np.abs(grad.astype(wide)[mask] - want[mask]) / scale[mask]
    assert rel.max() <= REL[dtype], f"CE grad {what}: max error / p {float(rel.max()):.3e}"


COL_WIDTHS = [1, 2, 9, 17, 33, 1000, 32000]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", COL_WIDTHS)
def test_contract_over_a_non_last_axis(isa, dtype, kind, width):
    """The column kernels (reduction over axis 0 of a C-contiguous array,
    vectorised across the contiguous axis) keep the same contract."""
    x = np.concatenate([adversarial(kind, width, dtype, seed=k) for k in range(10)])
    xc = np.ascontiguousarray(x.T)          # (width, rows): reduce over axis 0
    wide = exact_dtype(dtype)
    what = f"isa={isa} dtype={dtype} kind={kind} width={width} (axis 0)"
    e = exact_softmax(x, wide)
    y = fs.softmax(xc, axis=0).T
    mask = e >= 1e-30
    rel = np.abs(y.astype(wide)[mask] - e[mask]) / e[mask]
    assert rel.max() <= REL[dtype], f"softmax {what}: max relative error {float(rel.max()):.3e}"
    lse_exact = exact_logsumexp(x, wide)
    lse = fs.logsumexp(xc, axis=0)
    err = np.abs(lse.astype(wide) - lse_exact) / np.maximum(1, np.abs(lse_exact))
    assert err.max() <= REL[dtype], f"logsumexp {what}: error {float(err.max()):.3e}"
    lsm_exact = x.astype(wide) - lse_exact[:, None]
    lsm = fs.log_softmax(xc, axis=0).T
    err = np.abs(lsm.astype(wide) - lsm_exact) / np.maximum(1, np.abs(lsm_exact))
    assert err.max() <= REL[dtype], f"log_softmax {what}: error {float(err.max()):.3e}"
