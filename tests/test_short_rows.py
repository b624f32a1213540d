"""Short rows (at most 16 elements: one or two AVX-512 vectors, two or four AVX2
vectors) run several rows at a time (csrc/body_simd.inc: FS_SHORT_BLOCK rows, or on
AVX2 / AVX-512 one row per lane of VL rows for every op but softmax, the backward ops
included): every op against the reference for row counts around the block sizes, with
the blocks' fallback rows (a non-finite max, a NaN sum, a masked entry) at every
position in a block, and each row alone bitwise equal to the same row among others."""
import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EQUIV, assert_close

WIDTHS = [1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 15, 16, 17]
ROWS = [1, 3, 4, 5, 8, 9, 12, 16, 17, 19]


def _data(rows, width, dtype, seed, special=None):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, width)) * 4).astype(dtype)
    if special is not None:
        r, kind = special
        if kind == "nan":
            x[r, width // 2] = np.nan
        elif kind == "inf":
            x[r, 0] = np.inf
        elif kind == "ninf_row":
            x[r, :] = -np.inf
        elif kind == "masked":
            x[r, width - 1] = -np.inf
        elif kind == "wide":
            x[r, 0] = x[r].max() + 60      # a lane below max - 31: the corrected exp
    return x


def _check(x, t, dtype, what):
    tol = EQUIV[np.dtype(dtype)]
    tiny = np.finfo(dtype).tiny * 1e3
    assert_close(fs.softmax(x), ref.softmax(x), tol, atol=tiny, what="softmax " + what)
    want = ref.log_softmax(x)
    assert_close(fs.log_softmax(x), want, tol, scale=np.maximum(1, np.abs(want)), what="log_softmax " + what)
    want = ref.logsumexp(x, axis=-1)
    assert_close(fs.logsumexp(x, axis=-1), want, tol, scale=np.maximum(1, np.abs(want)),
                 what="logsumexp " + what)
    with np.errstate(invalid="ignore"):
        want = ref.cross_entropy(x, t, reduction="none")
        got = fs.cross_entropy(x, t, reduction="none")
        assert_close(got, want, tol, scale=np.maximum(1, np.abs(want)), what="cross_entropy " + what)
        lw, gw = ref.cross_entropy_with_grad(x, t, reduction="sum")
        lg, gg = fs.cross_entropy_with_grad(x, t, reduction="sum")
    assert_close(gg, gw, tol, atol=tol, what="grad " + what)
    assert_close(lg, lw, tol, scale=np.maximum(1, np.abs(lw)), what="loss " + what)
    # the backward ops, on an incoming gradient that carries x's specials mirrored
    g = _grad_in(x)
    with np.errstate(invalid="ignore", over="ignore"):
        for name, b in (("softmax_backward", ref.softmax(x)), ("log_softmax_backward", ref.log_softmax(x))):
            want = getattr(ref, name)(g, b)
            got = getattr(fs, name)(g, b)
            # the problem's condition: each term of g - sum and of the sum in magnitude
            g64, b64 = g.astype(np.float64), b.astype(np.float64)
            if name == "softmax_backward":
                cond = np.abs(b64) * (np.abs(g64) + np.sum(np.abs(g64 * b64), axis=-1, keepdims=True))
            else:
                cond = np.abs(g64) + np.exp(b64) * np.sum(np.abs(g64), axis=-1, keepdims=True)
            cond = np.where(np.isfinite(cond), cond, 1.0)
            assert_close(got, want, tol, atol=1e-30, scale=cond, what=f"{name} {what}")


def _grad_in(x):
    return (x[:, ::-1] * 0.5 + 0.25).astype(x.dtype)


@pytest.mark.parametrize("width", WIDTHS)
def test_short_rows_every_op(isa, dtype, width):
    for rows in ROWS:
        x = _data(rows, width, dtype, seed=rows * 100 + width)
        t = np.random.default_rng(rows).integers(0, width, rows)
        _check(x, t, dtype, f"isa={isa} rows={rows} width={width}")


@pytest.mark.parametrize("kind", ["nan", "inf", "ninf_row", "masked", "wide"])
def test_short_rows_fallbacks_in_a_block(isa, dtype, kind):
    for width in (3, 10, 16):
        for r in range(9):
            x = _data(9, width, dtype, seed=r, special=(r, kind))
            # the target of the -inf row, or of a masked entry, is a finite entry where one exists
            t = np.zeros(9, dtype=np.int64)
            _check(x, t, dtype, f"isa={isa} width={width} special={kind} at row {r}")


def _row_results(x, t):
    """Every op's per-row results on the rows x (targets t), as a list of arrays."""
    loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none")
    y, lp, g = fs.softmax(x), fs.log_softmax(x), _grad_in(x)
    return [y, lp, fs.logsumexp(x, axis=-1),
            fs.cross_entropy(x, t, reduction="none"), loss, grad,
            fs.softmax_backward(g, y), fs.log_softmax_backward(g, lp)]


@pytest.mark.parametrize("width", [1, 3, 8, 10, 16])
def test_a_row_alone_is_bitwise_the_row_in_a_block(isa, dtype, width):
    """A single row (its own block, or a thread's last) gives bitwise what the same row
    gives among 37 others: the lanes of a block do not affect each other, whatever
    shares a block with a row (a fallback row too)."""
    x = _data(37, width, dtype, seed=width, special=(5, "wide"))
    x[11, 0] = np.nan
    t = np.random.default_rng(width).integers(0, width, 37)
    with np.errstate(invalid="ignore"):
        together = _row_results(x, t)
        for r in (0, 5, 11, 15, 16, 36):
            alone = _row_results(x[r:r + 1].copy(), t[r:r + 1])
            for name, a, b in zip(("softmax", "log_softmax", "logsumexp", "cross_entropy",
                                   "loss", "grad", "softmax_backward", "log_softmax_backward"),
                                  alone, together):
                np.testing.assert_array_equal(a[0], b[r], err_msg=f"{name} isa={isa} row {r}")


# Sets that run short rows in lanes (csrc/body_simd.inc lane_block): there the
# gradient's target entry is -(sum of the other classes' exps) / s, which keeps its
# relative accuracy however confident the row; the other sets form exp(x_t - m) / s - 1,
# which cancels (a margin of 40 gives 0).
LANE_SETS = {"avx2", "avx512"}


@pytest.mark.parametrize("width", [2, 5, 10, 16])
def test_lanes_target_gradient_is_relatively_accurate(isa, dtype, width):
    if isa not in LANE_SETS:
        pytest.skip(f"{isa} does not run short rows in lanes")
    rng = np.random.default_rng(width)
    n = 64
    tol = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-14}[np.dtype(dtype)]
    weight = rng.uniform(0.5, 2.0, width)
    r = np.arange(n)
    for margin in [0.0, 4.0, 8.0, 20.0, 30.0, 40.0, 80.0]:
        x = rng.standard_normal((n, width)).astype(dtype)
        t = rng.integers(0, width, n)
        x[r, t] += dtype.type(margin)
        # reduction="mean" with weights: each row's gradient is scaled by w_t / sum(w_t)
        _, g = fs.cross_entropy_with_grad(x, t, reduction="mean", weight=weight)
        xl = x.astype(np.longdouble)
        e = np.exp(xl - xl.max(axis=1, keepdims=True))
        et = e[r, t].copy()
        e[r, t] = 0
        others = e.sum(axis=1)
        w = weight[t].astype(np.longdouble)
        want = -others / (others + et) * w / w.sum()
        got = g[r, t].astype(np.longdouble)
        assert np.all(want < 0)
        rel = np.abs(got - want) / np.abs(want)
        assert rel.max() <= tol, (isa, dtype, width, margin, float(rel.max()))
