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


# ---- a dominant entry: log1p-accurate log-domain results ---------------------
# The sum of exp(x - max) is formed without the max's own term (exactly 1), so
# that log(sum) = log1p(rest) keeps the rest's relative accuracy: a dominant
# entry's log-probability -log1p(rest), a confident, correct prediction's loss
# log1p(rest) and logsumexp's max + log1p(rest) are accurate however small the
# rest.  Contract:
#   logsumexp: error <= tol * (|max| + |log sum exp(x - max)|);
#   log_softmax entries, the cross-entropy loss (per sample and reduced):
#   relative error <= tol; the gradient's target entry p - 1 = -rest / (1 + rest)
#   too (relative to max(p, |p - 1|)).
MARGINS = [8, 20, 40, 80]
# short rows (lanes / blocks), one vector, several, blocks of 512 split around
# the max, and (float32) a row past the L2 size that the driver cuts in chunks
DOMINANT_WIDTHS = [2, 3, 10, 16, 17, 64, 100, 1000, 5000, 300000]


def dominant(width, margin, ties, dtype, offset=3.25, seed=0):
    """Rows whose max (at the first, a middle and the last position) exceeds every
    other entry by margin to margin + 2; `ties` copies of the max per row."""
    rng = np.random.default_rng(seed + width + 7 * margin)
    places = sorted({0, width // 2, width - 1})
    x = offset - margin - rng.uniform(0, 2, (len(places), width))
    for k, p in enumerate(places):
        x[k, p] = offset
        for j in range(1, ties):
            x[k, (p + j * max(1, width // ties)) % width] = offset
    return x.astype(dtype), np.array(places)


def exact_rest(x, wide):
    """(max, sum of exp(x - max) without the first max's term), per row, in `wide`."""
    w = x.astype(wide)
    m = w.max(axis=-1, keepdims=True)
    e = np.exp(w - m)
    first = np.argmax(w, axis=-1)
    e[np.arange(w.shape[0]), first] = 0
    return m[:, 0], e.sum(axis=-1)


def _rel(got, exact):
    return np.abs(got - exact) / np.abs(exact)


@pytest.mark.parametrize("ties", [1, 2])
@pytest.mark.parametrize("margin", MARGINS)
@pytest.mark.parametrize("width", DOMINANT_WIDTHS)
def test_dominant_entry_is_log1p_accurate(isa, dtype, width, margin, ties):
    if width == 300000 and dtype != np.float32:
        pytest.skip("(the chunked rows: float32's is enough)")
    if ties > width:
        pytest.skip("more ties than entries")
    x, places = dominant(width, margin, ties, dtype)
    wide = exact_dtype(dtype)
    tol = REL[dtype]
    what = f"isa={isa} dtype={dtype} width={width} margin={margin} ties={ties}"
    m, rest = exact_rest(x, wide)
    l1p = np.log1p(rest)
    assert np.all(rest > 0)
    rows = np.arange(x.shape[0])

    lse = fs.logsumexp(x).astype(wide)
    err = np.abs(lse - (m + l1p)) / (np.abs(m) + l1p)
    assert err.max() <= tol, f"logsumexp {what}: error {float(err.max()):.3e}"

    lsm = fs.log_softmax(x).astype(wide)
    exact = (x.astype(wide) - m[:, None]) - l1p[:, None]
    err = _rel(lsm, exact)
    assert err.max() <= tol, f"log_softmax {what}: relative error {float(err.max()):.3e}"

    # the target at the max (the confident, correct prediction) and beside it
    for target in (places, (places + 1) % width):
        exact_loss = (m - x.astype(wide)[rows, target]) + l1p
        loss = fs.cross_entropy(x, target, reduction="none").astype(wide)
        err = _rel(loss, exact_loss)
        assert err.max() <= tol, f"cross_entropy {what} target={target}: {float(err.max()):.3e}"
        for red, want in (("sum", exact_loss.sum()), ("mean", exact_loss.mean())):
            got = fs.cross_entropy(x, target, reduction=red)
            assert _rel(wide(got), want) <= tol, f"cross_entropy {red} {what}: {got} vs {want}"
        loss2, grad = fs.cross_entropy_with_grad(x, target, reduction="none")
        err = _rel(loss2.astype(wide), exact_loss)
        assert err.max() <= tol, f"cross_entropy_with_grad loss {what}: {float(err.max()):.3e}"
        p = np.exp(x.astype(wide) - m[:, None]) / (1 + rest[:, None])
        want = p.copy()
        want[rows, target] -= 1
        at_max = target == places
        want[rows[at_max], target[at_max]] = -rest[at_max] / (1 + rest[at_max])
        scale = np.maximum(p, np.abs(want))
        mask = p >= 1e-30
        err = np.abs(grad.astype(wide) - want)[mask] / scale[mask]
        assert err.max() <= tol, f"CE grad {what} target={target}: {float(err.max()):.3e}"


@pytest.mark.parametrize("margin", MARGINS)
@pytest.mark.parametrize("width", [3, 17, 1000])
def test_dominant_entry_over_a_non_last_axis(isa, dtype, width, margin):
    x, places = dominant(width, margin, 1, dtype)
    xc = np.ascontiguousarray(x.T)
    wide = exact_dtype(dtype)
    tol = REL[dtype]
    what = f"isa={isa} dtype={dtype} width={width} margin={margin} (axis 0)"
    m, rest = exact_rest(x, wide)
    l1p = np.log1p(rest)
    lse = fs.logsumexp(xc, axis=0).astype(wide)
    assert (np.abs(lse - (m + l1p)) / (np.abs(m) + l1p)).max() <= tol, what
    lsm = fs.log_softmax(xc, axis=0).T.astype(wide)
    assert _rel(lsm, (x.astype(wide) - m[:, None]) - l1p[:, None]).max() <= tol, what
    loss = fs.cross_entropy(xc, places, axis=0, reduction="none").astype(wide)
    assert _rel(loss, l1p).max() <= tol, what
    _, grad = fs.cross_entropy_with_grad(xc, places, axis=0, reduction="sum")
    gt = grad.T.astype(wide)[np.arange(len(places)), places]
    assert _rel(gt, -rest / (1 + rest)).max() <= tol, what


@pytest.mark.parametrize("opts", [{"weight": "w"}, {"z_loss": 1e-4}, {"label_smoothing": 0.1},
                                  {"softcap": 1000.0}])
@pytest.mark.parametrize("margin", MARGINS)
@pytest.mark.parametrize("width", [10, 1000])
def test_dominant_entry_through_the_options_kernel(isa, dtype, width, margin, opts):
    """The options' general kernel keeps log1p(rest) too: with class weights alone
    the loss is relative-accurate; with smoothing / z-loss / softcap it is
    within tol of the exact value's scale (their other terms are not small)."""
    x, places = dominant(width, margin, 1, dtype)
    wide = exact_dtype(dtype)
    tol = REL[dtype]
    kw = dict(opts)
    if kw.get("weight") == "w":
        kw["weight"] = np.linspace(0.5, 2, width).astype(dtype)
    loss = fs.cross_entropy(x, places, reduction="none", **kw).astype(wide)
    ref = fs.reference.cross_entropy(x.astype(wide), places, reduction="none", **kw)
    what = f"isa={isa} dtype={dtype} width={width} margin={margin} {opts}"
    if "weight" in kw:
        m, rest = exact_rest(x, wide)
        exact = kw["weight"].astype(wide)[places] * np.log1p(rest)
        assert _rel(loss, exact).max() <= tol, what
        _, grad = fs.cross_entropy_with_grad(x, places, reduction="sum", **kw)
        gt = grad.astype(wide)[np.arange(len(places)), places]
        want = -kw["weight"].astype(wide)[places] * rest / (1 + rest)
        assert _rel(gt, want).max() <= 4 * tol, what
    else:
        # (softcap: u = cap tanh(x / cap) is within a few ulp of |u| in the data type, as
        # torch's, which moves exp(u - m) by that much times |u - m|)
        bound = (50 if "softcap" in kw else 4) * tol
        assert _rel(loss, ref).max() <= bound, f"{what}: {_rel(loss, ref).max():.3e}"


def test_scipy_logsumexp_of_a_far_second_term():
    """scipy's gh-18295 example: logsumexp([0, -40]) is 4.248e-18, not 0."""
    import fastsoftmax.scipy as fss
    got = fss.logsumexp(np.array([0.0, -40.0]))
    assert abs(got - np.exp(-40.0)) <= 1e-15 * np.exp(-40.0)
    got32 = fs.logsumexp(np.array([30.0, 0.0, 0.0], np.float32))
    assert abs(float(got32) - 30.0) <= 2e-6 * 30.0
    lp = fs.log_softmax(np.array([30.0, 0.0, 0.0], np.float32))[0]
    assert abs(float(lp) + 2 * np.exp(-30.0)) <= 2e-6 * 2 * np.exp(-30.0)
