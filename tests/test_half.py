"""The half types, float16 and ml_dtypes' bfloat16: their own kernels (2-byte elements,
float32 in registers), held to the half-type contract on every kernel set.

Contract (README "Accuracy"): every result is the exact value computed from the same
half inputs, rounded once to the half type, within what the float32 computation adds:
|got - exact| <= 1 ulp of the half type at the exact value + the float32 bound of the
same op (2e-6 relative for softmax; 2e-6 * max(1, |v|) for log-domain results; the
backward ops' condition-scaled 5e-6).  Cross-entropy losses of half logits are float32.
"""
import tracemalloc

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference

from test_accuracy import adversarial

try:
    import ml_dtypes
except ImportError:   # bfloat16 needs the "half" extra; float16 runs without it
    ml_dtypes = None

HALVES = [pytest.param(np.dtype(np.float16), id="f16"),
          pytest.param(np.dtype(ml_dtypes.bfloat16) if ml_dtypes else None, id="bf16",
                       marks=pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes"))]
TOL = 2e-6          # float32's contract
TOL_BW = 5e-6       # float32's backward-op bound, times the problem's condition
KINDS = ["dominant", "equal", "equal-large", "spread-1e4", "normal-1", "normal-10",
         "normal-30", "uniform-70", "tiny-tail", "spread-1e30", "far-winner"]
WIDTHS = list(range(1, 34)) + [1000, 32000]


@pytest.fixture(params=HALVES)
def half(request):
    return request.param


def ulp(v, dt):
    """One ulp of the half type ``dt`` at each value of ``v`` (float64)."""
    mbits, emin = (10, -14) if dt == np.float16 else (7, -126)
    a = np.abs(np.asarray(v, np.float64))
    e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    e = np.maximum(np.where(np.isfinite(e), e, 0), emin)
    return np.ldexp(1.0, (e - mbits).astype(int))


def wide(x):
    return np.asarray(x).astype(np.float64)


def assert_within(got, exact, bound, dt, what):
    """|got - exact| <= bound + 1 ulp of dt at exact; NaN where exact is NaN; the same
    infinities."""
    got = wide(got)
    exact = np.asarray(exact, np.float64)
    nan = np.isnan(exact)
    assert np.array_equal(np.isnan(got), nan), what
    inf = np.isinf(exact) & ~nan
    assert np.array_equal(got[inf], exact[inf]), what
    fin = ~nan & ~inf
    err = np.abs(got[fin] - exact[fin])
    lim = (np.broadcast_to(bound, exact.shape)[fin] + ulp(exact[fin], dt))
    bad = ~(err <= lim)
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} beyond the bound; worst "
                           f"error {err.max():.3g} at bound {lim[np.argmax(err - lim)]:.3g}")


def halves(kind, width, dt):
    """An adversarial row pair of the half type (overflowing values: inf, as the type holds them)."""
    with np.errstate(over="ignore"):
        return adversarial(kind, width, np.float64).astype(dt)


@np.errstate(all="ignore")
def exact_softmax(x, axis=-1):
    w = wide(x)
    e = np.exp(w - w.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@np.errstate(all="ignore")
def exact_log_softmax(x, axis=-1):
    w = wide(x)
    m = w.max(axis=axis, keepdims=True)
    return (w - m) - np.log(np.exp(w - m).sum(axis=axis, keepdims=True))


def finite_rows(x):
    return np.all(np.isfinite(wide(x)), axis=-1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("width", WIDTHS)
def test_forward_contract(isa, half, kind, width):
    x = halves(kind, width, half)
    ok = finite_rows(x)
    y = fs.softmax(x, axis=-1)
    assert y.dtype == half and y.shape == x.shape
    p = exact_softmax(x)
    assert_within(y[ok], p[ok], np.where(p[ok] >= 1e-30, TOL * p[ok], 1e-30), half, "softmax")
    lp = exact_log_softmax(x)
    assert_within(fs.log_softmax(x, axis=-1)[ok], lp[ok], TOL * np.maximum(1, np.abs(lp[ok])),
                  half, "log_softmax")
    lse = fs.logsumexp(x, axis=-1)
    assert lse.dtype == half
    w = wide(x)
    m = w.max(axis=-1)
    with np.errstate(all="ignore"):
        ex = np.log(np.exp(w - m[:, None]).sum(axis=-1)) + m
    assert_within(lse[ok], ex[ok], TOL * np.maximum(1, np.abs(ex[ok])), half, "logsumexp")
    # rows with inf follow float32's rules: the same values in float32, rounded
    if not ok.all():
        for name in ("softmax", "log_softmax", "logsumexp"):
            got = getattr(fs, name)(x, axis=-1)
            want = getattr(fs, name)(wide(x).astype(np.float32), axis=-1)
            assert np.array_equal(np.isnan(wide(got)), np.isnan(want)), name
            assert np.array_equal(np.isinf(wide(got)), np.isinf(want)), name


@pytest.mark.parametrize("width", [1, 3, 10, 16, 17, 100, 1000, 32000])
def test_backward_contract(isa, half, width):
    rng = np.random.default_rng(width)
    x = (rng.standard_normal((7, width)) * 4).astype(half)
    g = rng.standard_normal((7, width)).astype(half)
    y = fs.softmax(x)
    yw, gw = wide(y), wide(g)
    out = fs.softmax_backward(g, y)
    assert out.dtype == half
    dot = (gw * yw).sum(axis=-1, keepdims=True)
    cond = np.abs(yw) * (np.abs(gw) + (np.abs(gw * yw)).sum(axis=-1, keepdims=True))
    assert_within(out, yw * (gw - dot), TOL_BW * cond, half, "softmax_backward")
    lp = fs.log_softmax(x)
    lw = wide(lp)
    out = fs.log_softmax_backward(g, lp)
    sg = gw.sum(axis=-1, keepdims=True)
    cond = np.abs(gw) + np.exp(lw) * np.abs(gw).sum(axis=-1, keepdims=True)
    assert_within(out, gw - np.exp(lw) * sg, TOL_BW * cond, half, "log_softmax_backward")


@np.errstate(all="ignore")
def exact_ce(x, t):
    w = wide(x)
    m = w.max(axis=-1)
    lse = np.log(np.exp(w - m[:, None]).sum(axis=-1)) + m
    loss = lse - w[np.arange(len(t)), t]
    p = np.exp(w - lse[:, None])
    onehot = np.zeros_like(p)
    onehot[np.arange(len(t)), t] = 1
    return loss, p, onehot


@pytest.mark.parametrize("kind", ["normal-1", "normal-10", "dominant", "uniform-70", "tiny-tail"])
@pytest.mark.parametrize("width", [1, 2, 5, 10, 16, 17, 33, 1000, 32000])
def test_cross_entropy_contract(isa, half, kind, width):
    x = halves(kind, width, half)
    t = np.arange(x.shape[0]) * 7 % width
    loss, p, onehot = exact_ce(x, t)
    got = fs.cross_entropy(x, t, reduction="none")
    assert got.dtype == np.float32           # the losses of half logits
    np.testing.assert_allclose(got, loss, rtol=TOL, atol=TOL)
    mean, grad = fs.cross_entropy_with_grad(x, t, reduction="sum")
    assert mean.dtype == np.float32 and grad.dtype == half
    a = np.maximum(p, np.abs(p - onehot))
    assert_within(grad, p - onehot, np.where(a >= 1e-30, TOL * a, 1e-30), half, "gradient")
    # in place over the logits: the same values
    xi = x.copy()
    _, gi = fs.cross_entropy_with_grad(xi, t, reduction="sum", grad_out=xi)
    assert gi is xi and np.array_equal(wide(gi), wide(grad), equal_nan=True)


def test_cross_entropy_options(isa, half):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((9, 37)) * 3).astype(half)
    t = rng.integers(0, 37, 9)
    t[2] = -100
    w = rng.uniform(0.5, 2, 37).astype(half)
    kw = dict(weight=w, label_smoothing=0.1, z_loss=1e-3, softcap=5.0, return_lse=True)
    loss, grad, lse = fs.cross_entropy_with_grad(x, t, reduction="none", **kw)
    rloss, rgrad, rlse = reference.cross_entropy_with_grad(x, t, reduction="none", **kw)
    assert loss.dtype == lse.dtype == np.float32 and grad.dtype == half
    np.testing.assert_allclose(loss, rloss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lse, rlse, rtol=1e-5, atol=1e-5)
    gmax = np.abs(wide(rgrad)).max()
    assert_within(grad, wide(rgrad), 1e-5 * gmax + ulp(wide(rgrad), half), half, "options' gradient")
    probs = fs.softmax(rng.standard_normal((9, 37)).astype(half))
    loss = fs.cross_entropy(x, probs, reduction="none")
    np.testing.assert_allclose(loss, reference.cross_entropy(x, probs, reduction="none"),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n, inner", [(1, 9), (7, 8), (33, 70), (1000, 9)])
def test_non_last_axis(isa, half, n, inner):
    rng = np.random.default_rng(n + inner)
    x = (rng.standard_normal((2, n, inner)) * 5).astype(half)
    p = exact_softmax(x, axis=1)
    assert_within(fs.softmax(x, axis=1), p, np.where(p >= 1e-30, TOL * p, 1e-30), half, "softmax cols")
    lp = exact_log_softmax(x, axis=1)
    assert_within(fs.log_softmax(x, axis=1), lp, TOL * np.maximum(1, np.abs(lp)), half,
                  "log_softmax cols")
    lse = fs.logsumexp(x, axis=1)
    ex = np.log(np.exp(wide(x)).sum(axis=1))
    assert_within(lse, ex, TOL * np.maximum(1, np.abs(ex)), half, "logsumexp cols")
    t = rng.integers(0, n, (2, inner))
    loss, grad = fs.cross_entropy_with_grad(x, t, axis=1, reduction="none")
    xm = np.moveaxis(x, 1, -1).reshape(-1, n)
    el, ep, eo = exact_ce(xm, t.reshape(-1))
    np.testing.assert_allclose(loss.reshape(-1), el, rtol=TOL, atol=TOL)
    a = np.maximum(ep, np.abs(ep - eo))
    gm = np.moveaxis(wide(grad), 1, -1).reshape(-1, n)
    assert_within(gm, ep - eo, np.where(a >= 1e-30, TOL * a, 1e-30), half, "gradient cols")
    g = rng.standard_normal(x.shape).astype(half)
    y = fs.softmax(x, axis=1)
    yw, gw = wide(y), wide(g)
    cond = np.abs(yw) * (np.abs(gw) + np.abs(gw * yw).sum(axis=1, keepdims=True))
    assert_within(fs.softmax_backward(g, y, axis=1), yw * (gw - (gw * yw).sum(axis=1, keepdims=True)),
                  TOL_BW * cond, half, "softmax_backward cols")


def test_long_rows(isa, half):
    """Rows past the in-cache limit (1 MiB of the type): the chunked path."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((1, 600_000)) * 4).astype(half)
    p = exact_softmax(x)
    assert_within(fs.softmax(x), p, np.where(p >= 1e-30, TOL * p, 1e-30), half, "softmax long")
    lp = exact_log_softmax(x)
    assert_within(fs.log_softmax(x), lp, TOL * np.maximum(1, np.abs(lp)), half, "log_softmax long")
    t = np.array([12345])
    loss, pp, oh = exact_ce(x, t)
    got, grad = fs.cross_entropy_with_grad(x, t, reduction="none")
    np.testing.assert_allclose(got, loss, rtol=TOL)
    a = np.maximum(pp, np.abs(pp - oh))
    assert_within(grad, pp - oh, np.where(a >= 1e-30, TOL * a, 1e-30), half, "gradient long")


def test_matches_the_reference_backend(half):
    """Both backends round once to the half type: they agree to 1 ulp."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 300)) * 6).astype(half)
    for name in ("softmax", "log_softmax"):
        got, want = getattr(fs, name)(x), getattr(reference, name)(x)
        assert got.dtype == want.dtype == half
        assert_within(got, wide(want), 0, half, name)


@pytest.mark.skipif(fs.backend != "c", reason="the NumPy reference computes in float32 copies")
def test_no_float32_copy():
    """A fresh call allocates its result and nothing of the input's size: no float32 copy
    of the input or the output (NumPy's allocations are traced)."""
    x = np.random.default_rng(0).standard_normal((256, 8192)).astype(np.float16)
    fs.softmax(x)                           # warm (imports, first-use allocations)
    for f in (fs.softmax, fs.log_softmax):
        tracemalloc.start()
        y = f(x)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= y.nbytes + 256 * 1024, (f.__name__, peak, y.nbytes)
    t = np.zeros(256, np.int64)
    tracemalloc.start()
    loss, grad = fs.cross_entropy_with_grad(x, t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= grad.nbytes + 256 * 1024, peak


def test_out_and_errors(half):
    x = np.linspace(-3, 3, 40).reshape(4, 10).astype(half)
    out = np.empty_like(x)
    assert fs.softmax(x, out=out) is out
    assert np.array_equal(wide(out), wide(fs.softmax(x)))
    with pytest.raises(TypeError, match="dtype"):
        fs.softmax(x, out=np.empty(x.shape, np.float32))
    with pytest.raises(ValueError, match="target"):
        fs.cross_entropy(x, np.array([0, 1, 2, 10]))
    before = x.copy()
    fs.cross_entropy_with_grad(x, np.array([0, 1, 2, 3]))
    assert np.array_equal(wide(x), wide(before))          # not modified unless asked


@pytest.mark.parametrize("axis", [None, -1, 0, (0, 2)])
def test_scipy_dropin_keeps_the_half_type(half, axis):
    """fastsoftmax.scipy runs the half types in the kernels (bfloat16 too, where scipy's
    logsumexp raises TypeError): scipy's dtype kept, the exact value rounded once."""
    from fastsoftmax import scipy as sps
    x = (np.random.default_rng(5).standard_normal((3, 4, 50)) * 4).astype(half)
    w = wide(x)
    axes = tuple(range(3)) if axis is None else axis
    e = np.exp(w - w.max(axis=axes, keepdims=True))
    s = e.sum(axis=axes, keepdims=True)
    m = w.max(axis=axes, keepdims=True)
    expect = {"softmax": e / s, "log_softmax": (w - m) - np.log(s),
              "logsumexp": np.squeeze(m + np.log(s), axis=axes)}
    for name, want in expect.items():
        got = np.asarray(getattr(sps, name)(x, axis=axis))
        assert got.dtype == half, name
        assert_within(got, want, TOL * np.maximum(1, np.abs(want)), half, f"scipy.{name}")
    b = wide(np.linspace(0.5, 2, 50).astype(half))
    got, sgn = sps.logsumexp(x, axis=axis, b=b.astype(half), return_sign=True)
    assert np.asarray(got).dtype == np.asarray(sgn).dtype == half
    want = np.log(np.sum(b * np.exp(w), axis=axes))
    assert_within(got, want, TOL * np.maximum(1, np.abs(want)), half, "scipy.logsumexp b=")


def test_linear_cross_entropy_computes_half_in_float32(half):
    """h and W of a half type are widened (exactly) and run in float32."""
    rng = np.random.default_rng(6)
    h = rng.standard_normal((40, 16)).astype(half)
    W = rng.standard_normal((30, 16)).astype(half)
    t = rng.integers(0, 30, 40)
    h32, W32 = wide(h).astype(np.float32), wide(W).astype(np.float32)
    loss = fs.linear_cross_entropy(h, W, t)
    assert np.asarray(loss).dtype == np.float32
    assert loss == pytest.approx(fs.linear_cross_entropy(h32, W32, t), rel=1e-6)
    loss, dh, dW, _ = fs.linear_cross_entropy_with_grad(h, W, t)
    want = fs.linear_cross_entropy_with_grad(h32, W32, t)
    assert dh.dtype == dW.dtype == np.float32
    np.testing.assert_allclose(dh, want[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dW, want[2], rtol=1e-6, atol=1e-7)
    p = fs.softmax(rng.standard_normal((40, 30))).astype(half)     # probability targets
    assert fs.linear_cross_entropy(h, W, p) == pytest.approx(
        fs.linear_cross_entropy(h32, W32, wide(p).astype(np.float32)), rel=1e-6)


def _bf16_rounding_modes():
    """(the compiled backend's _core, [0, 1]) where the avx512 set runs and the CPU has
    AVX512_BF16, else skip."""
    if fs.backend != "c" or "avx512" not in fs.available_isas() or ml_dtypes is None:
        pytest.skip("needs the avx512 set and ml_dtypes")
    from fastsoftmax import _core
    old = _core.bf16_rounding()
    try:
        _core.bf16_rounding(1)
    except ValueError:
        pytest.skip("this CPU (or build) has no AVX512_BF16 rounding")
    finally:
        _core.bf16_rounding(old)
    return _core


def test_bf16_rounding_by_the_cpu_gives_the_same_bits():
    """AVX512_BF16's vcvtneps2bf16 (the default where the CPU has it) and the integer
    rounding give the same bits: exp of every bfloat16 pattern (subnormal results, which
    the instruction would flush, included), and every op on adversarial rows."""
    from _util import isa_set
    _core = _bf16_rounding_modes()
    bf = np.dtype(ml_dtypes.bfloat16)
    bits = np.arange(65536, dtype=np.uint16)
    with np.errstate(over="ignore"):
        rows = np.concatenate([adversarial(k, 37, np.float64) for k in KINDS]).astype(bf)
    t = np.arange(rows.shape[0]) % rows.shape[1]
    g = np.random.default_rng(9).standard_normal(rows.shape).astype(bf)
    old = _core.bf16_rounding()
    results = {}
    try:
        with isa_set("avx512"):
            for mode in (0, 1):
                _core.bf16_rounding(mode)
                e = np.empty_like(bits)
                _core.exp_bf16(bits, e)
                results[mode] = [e] + [np.asarray(r).view(np.uint16) for r in (
                    fs.softmax(rows), fs.log_softmax(rows), fs.logsumexp(rows),
                    fs.softmax(rows, axis=0), fs.softmax_backward(g, fs.softmax(rows)),
                    fs.cross_entropy_with_grad(rows, t)[1])]
    finally:
        _core.bf16_rounding(old)
    for k, (a, b) in enumerate(zip(results[0], results[1])):
        assert np.array_equal(a, b), k
    assert (results[0][0] != 0).sum() > 30000   # exp of every pattern: not a trivial array


@pytest.mark.parametrize("n", [127, 128, 200, 1000])
def test_max_pass_keys_nonfinite(isa, half, n):
    """The half types' max pass on 16-bit order keys (rows of 128 or more): NaN of either
    sign anywhere (the row goes to the float32 lanes and is NaN), infinities, signed
    zeros, and tails after the last whole key vector, as the exact computation."""
    rng = np.random.default_rng(n)
    base = rng.standard_normal((1, n)) * 3
    rows = []
    # inside and after the last whole key vector (64 elements a step on avx512, 32 avx2)
    for pos in sorted({0, n // 2, n - 1, n - n % 64 - 1, min(n - 1, n - n % 64), n - n % 32 - 1}):
        # +-100 and -200 from the row: a max or min missed by the keys (or their tail)
        # would overflow exp, or leave the range check's cheap exp where it is wrong
        for v in (np.nan, -np.nan, np.inf, -np.inf, 40.0, -40.0, 100.0, -200.0):
            r = base.copy()
            r[0, pos] = v
            rows.append(r)
    zeros = np.zeros((1, n))
    zeros[0, ::2] = -0.0
    rows += [zeros, -np.abs(base) - 5, np.full((1, n), -np.inf)]
    x = np.concatenate(rows).astype(half)
    exact_sm = exact_softmax(x)
    assert_within(fs.softmax(x), exact_sm, TOL * exact_sm, half, "softmax")
    with np.errstate(all="ignore"):
        w = wide(x)
        m = w.max(axis=-1)
        lse = m + np.log(np.exp(w - m[:, None]).sum(axis=-1))
    lse = np.where(np.isnan(w).any(axis=-1), np.nan, lse)
    lse = np.where(np.isposinf(w).any(axis=-1) & ~np.isnan(w).any(axis=-1), np.inf, lse)
    lse = np.where(np.isneginf(w).all(axis=-1), -np.inf, lse)
    assert_within(fs.logsumexp(x), lse, TOL * np.maximum(1, np.abs(np.nan_to_num(lse))), half,
                  "logsumexp")


@pytest.mark.parametrize("margin", [4, 8, 12])
@pytest.mark.parametrize("width", [3, 10, 17, 1000])
def test_dominant_entry_is_log1p_accurate(isa, half, width, margin):
    """A dominant entry's log-probability -log1p(rest) and a confident, correct
    prediction's loss keep the half type's (and float32's) relative accuracy."""
    rng = np.random.default_rng(width + margin)
    w = 2.0 - margin - rng.uniform(0, 1, (3, width))
    places = np.array([0, width // 2, width - 1])
    w[np.arange(3), places] = 2.0
    x = w.astype(half)
    xw = wide(x)
    e = np.exp(xw - 2.0)
    e[np.arange(3), places] = 0
    rest = e.sum(axis=-1)
    what = f"isa={isa} {half} width={width} margin={margin}"
    lp = wide(fs.log_softmax(x))[np.arange(3), places]
    assert_within(lp, -np.log1p(rest), TOL * np.log1p(rest), half, what)
    loss = fs.cross_entropy(x, places, reduction="none")   # float32 loss
    assert np.all(np.abs(wide(loss) - np.log1p(rest)) <= 4 * TOL * np.log1p(rest)), (what, loss, rest)
    _, g = fs.cross_entropy_with_grad(x, places, reduction="sum")
    gt = wide(g)[np.arange(3), places]
    assert_within(gt, -rest / (1 + rest), TOL * rest, half, what)
