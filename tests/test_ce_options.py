"""Cross-entropy options: ignore_index, weight, label_smoothing, probability
targets, z_loss, softcap, return_lse, grad_loss; nll_loss.

torch (in float64, from the same input values) is the oracle for everything
torch has; z_loss and softcap, which it lacks, are checked against the NumPy
reference and by central differences.  Contract: float32 loss within 1e-6
relative, gradient entries within 1e-6 relative to the largest entry of their
row; float64 1e-12.
"""
import itertools
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EQUIV, assert_close, target_weights

TOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
IMPLS = pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])


def check_loss(got, want, dtype, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    tol = TOL[np.dtype(dtype)]
    err = np.abs(got - want)
    assert np.all(err <= tol * np.maximum(np.abs(want), 1e-3)), (
        f"{what}: loss max rel err {np.max(err / np.maximum(np.abs(want), 1e-3)):.3g}")


def term_scale(t, w, eps, reduction, n_classes, axis=-1, grad_loss=None):
    """Per-sample s * A: the gradient factor times the total target weight, the size of
    the two terms of A * softmax - a whose float rounding bounds the gradient's error."""
    a = target_weights(n_classes, t, axis=axis, weight=w, label_smoothing=eps,
                       reduction=reduction, grad_loss=grad_loss)
    return np.expand_dims(a.sum(-1), axis)


def check_grad(got, want, dtype, axis, what, scale=0.0):
    """|err| <= tol * (|g| + max(largest |g| of the row, scale)) elementwise."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    tol = TOL[np.dtype(dtype)]
    row_max = np.maximum(np.max(np.abs(want), axis=axis, keepdims=True), scale)
    err = np.abs(got - want)
    bound = tol * (np.abs(want) + row_max) + 1e-300
    assert np.all(err <= bound), f"{what}: grad max err/bound {np.max(err / bound):.3g}"


def make_case(rng, n, c, dtype, kind, ignored):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    if kind == "probs":
        p = rng.random((n, c)) ** 3
        if c > 1:
            p[:, rng.integers(0, c)] = 0.0
        t = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, c, n)
        if ignored:
            t[:: 3] = -100
    return x, t


torch = None


def torch_ce(x, t, reduction, weight, smoothing, axis=1, grad_loss=None):
    """torch's loss and gradient in float64 for the same input values."""
    global torch
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    tt = torch.tensor(np.asarray(t, np.float64) if t.dtype.kind == "f" else t)
    w = None if weight is None else torch.tensor(np.asarray(weight, x.dtype).astype(np.float64))
    xin = xt if axis == 1 else xt.movedim(axis, 1)
    tin = tt if (t.dtype.kind != "f" or axis == 1) else tt.movedim(axis, 1)
    loss = F.cross_entropy(xin, tin, weight=w, reduction=reduction, label_smoothing=smoothing)
    up = loss.sum() if grad_loss is None else (loss * torch.tensor(grad_loss)).sum()
    up.backward()
    return loss.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("shape", [(7, 5), (33, 1000)], ids=["7x5", "33x1000"])
@pytest.mark.parametrize("kind,ignored", [("class", False), ("class", True), ("probs", False)])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_matches_torch(isa, dtype, shape, kind, ignored, smoothing, weighted, reduction):
    rng = np.random.default_rng(zlib.crc32(repr((shape, kind, ignored)).encode()))
    x, t = make_case(rng, *shape, dtype, kind, ignored)
    w = rng.random(shape[1]) * 2 if weighted else None
    want_loss, want_grad = torch_ce(x, t, reduction, w, smoothing)
    what = (f"isa={isa} dtype={dtype} shape={shape} kind={kind} ignored={ignored} "
            f"smoothing={smoothing} weighted={weighted} reduction={reduction}")
    kw = dict(reduction=reduction, weight=w, label_smoothing=smoothing)
    loss, grad = fs.cross_entropy_with_grad(x, t, **kw)
    sc = term_scale(t, w, smoothing, reduction, shape[1])
    check_loss(loss, want_loss, dtype, what)
    check_grad(grad, want_grad, dtype, -1, what, sc)
    check_loss(fs.cross_entropy(x, t, **kw), want_loss, dtype, what + " (loss only)")
    # in place: the gradient over the logits
    xi = x.copy()
    loss2, g2 = fs.cross_entropy_with_grad(xi, t, grad_out=xi, **kw)
    assert g2 is xi
    check_grad(xi, want_grad, dtype, -1, what + " (in place)", sc)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("opts", [dict(), dict(weight=True), dict(label_smoothing=0.2),
                                  dict(weight=True, label_smoothing=0.1), dict(probs=True)],
                         ids=["plain", "weight", "smooth", "weight+smooth", "probs"])
def test_class_axis_matches_torch(isa, dtype, axis, opts):
    """(N, C, d) batches: a non-last class axis (column kernels, or one transposed copy)."""
    rng = np.random.default_rng(7 + axis)
    shape = (6, 9, 11)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    c = shape[axis]
    sample = tuple(s for i, s in enumerate(shape) if i != axis)
    if opts.get("probs"):
        p = rng.random(shape)
        t = (p / p.sum(axis=axis, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, c, sample)
        t.reshape(-1)[::4] = -100
    w = rng.random(c) + 0.5 if opts.get("weight") else None
    smoothing = opts.get("label_smoothing", 0.0)
    want_loss, want_grad = torch_ce(x, t, "none", w, smoothing, axis=axis)
    loss, grad = fs.cross_entropy_with_grad(x, t, axis=axis, reduction="none", weight=w,
                                            label_smoothing=smoothing)
    what = f"isa={isa} dtype={dtype} axis={axis} opts={opts}"
    check_loss(loss, want_loss, dtype, what)   # torch's samples keep our order
    check_grad(grad, want_grad, dtype, axis, what, term_scale(t, w, smoothing, "none", c, axis))
    check_loss(fs.cross_entropy(x, t, axis=axis, reduction="none", weight=w,
                                label_smoothing=smoothing), want_loss, dtype, what)


@pytest.mark.parametrize("grad_loss_shape", ["full", "broadcast"])
def test_grad_loss_scales_each_row(isa, dtype, grad_loss_shape):
    rng = np.random.default_rng(11)
    x, t = make_case(rng, 12, 37, dtype, "class", True)
    gl = rng.standard_normal(12) if grad_loss_shape == "full" else np.array(0.5)
    w = rng.random(37)
    want_loss, want_grad = torch_ce(x, t, "none", w, 0.1, grad_loss=np.broadcast_to(gl, (12,)).copy())
    loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none", weight=w, label_smoothing=0.1,
                                            grad_loss=gl)
    glb = np.broadcast_to(gl, (12,))
    check_loss(loss, want_loss, dtype, "grad_loss")
    check_grad(grad, want_grad, dtype, -1, "grad_loss", term_scale(t, w, 0.1, "none", 37, -1, glb))
    # plain kernels (no smoothing) take the per-row factors too
    want_loss, want_grad = torch_ce(x, t, "none", w, 0.0, grad_loss=np.broadcast_to(gl, (12,)).copy())
    loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none", weight=w, grad_loss=gl)
    check_grad(grad, want_grad, dtype, -1, "grad_loss plain", term_scale(t, w, 0.0, "none", 37, -1, glb))


def test_scalar_grad_loss_for_mean_and_sum(dtype):
    rng = np.random.default_rng(12)
    x, t = make_case(rng, 9, 10, dtype, "class", False)
    for red in ("mean", "sum"):
        _, g1 = fs.cross_entropy_with_grad(x, t, reduction=red)
        _, g3 = fs.cross_entropy_with_grad(x, t, reduction=red, grad_loss=3.0)
        np.testing.assert_allclose(g3, 3 * g1, rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 7), (9, 300), (3, 70000)], ids=["5x7", "9x300", "3x70000"])
@pytest.mark.parametrize("opts", [
    dict(z_loss=1e-3), dict(softcap=5.0), dict(softcap=30.0, z_loss=0.01, label_smoothing=0.1),
    dict(softcap=2.0, probs=True, weight=True), dict(z_loss=0.1, weight=True),
    dict(weight=True), dict(ignore=True, weight=True), dict(ignore=True),
], ids=["z", "cap", "cap+z+smooth", "cap+probs+weight", "z+weight", "weight", "ignore+weight",
        "ignore"])
def test_matches_reference(isa, dtype, shape, opts):
    """Every option (torch lacks z_loss and softcap) against the NumPy reference, also on
    rows long enough for the chunked kernels."""
    rng = np.random.default_rng(13)
    x, t = make_case(rng, *shape, dtype, "probs" if opts.get("probs") else "class",
                     opts.get("ignore", False))
    x[0, :3] *= 10   # some logits beyond the cap
    kw = dict(z_loss=opts.get("z_loss", 0.0), softcap=opts.get("softcap"),
              label_smoothing=opts.get("label_smoothing", 0.0),
              weight=rng.random(shape[1]) if opts.get("weight") else None)
    what = f"isa={isa} dtype={dtype} shape={shape} opts={opts}"
    for red in ("none", "mean"):
        loss, grad, lse = fs.cross_entropy_with_grad(x, t, reduction=red, return_lse=True, **kw)
        rl, rg, rlse = ref.cross_entropy_with_grad(x, t, reduction=red, return_lse=True, **kw)
        cap = kw["softcap"]
        # softcap: the capped logits are rounded to the dtype (absolute ~ cap * eps)
        extra = 0.0 if cap is None else 4 * cap * np.finfo(dtype).eps
        # the reference rounds sum(exp(x - max)) = 1 + d to float64 before its log, an
        # absolute error of ~eps64 in a confident row's tiny loss (d ~ 1e-12 above); the
        # float32 short-row kernels keep d itself (sums with TwoSum's error term)
        extra += 4 * np.finfo(np.float64).eps
        got_l, want_l = np.asarray(loss, np.float64), np.asarray(rl, np.float64)
        assert np.all(np.abs(got_l - want_l) <= TOL[np.dtype(dtype)] * np.abs(want_l) + extra), what
        g, r = grad.astype(np.float64), rg.astype(np.float64)
        row = np.max(np.abs(r), axis=-1, keepdims=True)
        # the contract's scale: max(the row's largest |g|, s * A) (README, accuracy)
        sa = term_scale(t, kw["weight"], kw["label_smoothing"], red, shape[1])
        bound = TOL[np.dtype(dtype)] * (np.abs(r) + np.maximum(row, sa)) + extra * row + 1e-300
        assert np.all(np.abs(g - r) <= bound), f"{what} red={red}: {np.max(np.abs(g - r) / bound):.3g}"
        np.testing.assert_allclose(lse, rlse, rtol=TOL[np.dtype(dtype)], atol=extra, err_msg=what)


@pytest.mark.parametrize("opts", [
    dict(z_loss=0.05), dict(softcap=3.0), dict(softcap=2.5, z_loss=0.02, label_smoothing=0.2),
    dict(softcap=4.0, probs=True, weight=True, z_loss=0.1), dict(weight=True, ignore=True, z_loss=0.3),
])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradient_by_central_differences(isa, opts, reduction):
    """float64: the fused gradient against (f(x + h) - f(x - h)) / 2h of the loss."""
    rng = np.random.default_rng(21)
    n, c = 4, 9
    x, t = make_case(rng, n, c, np.float64, "probs" if opts.get("probs") else "class",
                     opts.get("ignore", False))
    kw = dict(z_loss=opts.get("z_loss", 0.0), softcap=opts.get("softcap"),
              label_smoothing=opts.get("label_smoothing", 0.0), reduction=reduction,
              weight=rng.random(c) + 0.1 if opts.get("weight") else None)
    gl = rng.standard_normal(n) if reduction == "none" else None

    def f(z):
        loss = fs.cross_entropy(z, t, **kw)
        return float(np.sum(loss * gl)) if gl is not None else float(loss)

    _, grad = fs.cross_entropy_with_grad(x, t, grad_loss=gl, **kw)
    h = 1e-6
    num = np.zeros_like(x)
    for i, j in itertools.product(range(n), range(c)):
        xp, xm = x.copy(), x.copy()
        xp[i, j] += h
        xm[i, j] -= h
        num[i, j] = (f(xp) - f(xm)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8, err_msg=f"isa={isa} {opts}")


@IMPLS
def test_all_ignored_mean_is_zero_with_zero_gradient(impl, dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    t = np.full(3, -100)
    assert impl.cross_entropy(x, t) == 0.0
    loss, g = impl.cross_entropy_with_grad(x, t, label_smoothing=0.1)
    assert loss == 0.0 and not g.any()
    loss, g = impl.cross_entropy_with_grad(x, t, reduction="none", z_loss=0.1)
    assert not loss.any() and not g.any()
    # zero total weight: the same
    w = np.array([0.0, 1, 1, 1])
    assert impl.cross_entropy(x, np.zeros(3, int), weight=w) == 0.0


@IMPLS
def test_ignored_samples_add_nothing(impl, dtype):
    rng = np.random.default_rng(5)
    x, t = make_case(rng, 10, 6, dtype, "class", True)
    keep = t != -100
    for red in ("mean", "sum"):
        l_all, g_all = impl.cross_entropy_with_grad(x, t, reduction=red)
        l_kept, g_kept = impl.cross_entropy_with_grad(x[keep], t[keep], reduction=red)
        np.testing.assert_allclose(l_all, l_kept, rtol=1e-6)
        np.testing.assert_allclose(g_all[keep], g_kept, rtol=1e-6, atol=1e-9)
        assert not g_all[~keep].any()
    # a custom ignore_index; None ignores nothing (and -100 is then invalid)
    t2 = np.where(t == -100, 3, t)
    l3 = impl.cross_entropy(x, np.where(t == -100, 7, t), ignore_index=7)
    np.testing.assert_allclose(l3, impl.cross_entropy(x, t), rtol=1e-6)
    assert impl.cross_entropy(x, t2, ignore_index=None) > 0
    with pytest.raises(ValueError, match=r"target\[0\] = -100"):
        impl.cross_entropy(x, t, ignore_index=None)


@IMPLS
def test_return_lse(impl, dtype):
    rng = np.random.default_rng(8)
    x, t = make_case(rng, 6, 50, dtype, "class", True)
    loss, lse = impl.cross_entropy(x, t, reduction="none", return_lse=True)
    want = ref.logsumexp(x.astype(np.float64), axis=-1)
    keep = t != -100
    np.testing.assert_allclose(lse[keep], want[keep], rtol=TOL[np.dtype(dtype)] * 4)
    assert not lse[~keep].any() and lse.dtype == dtype
    _, _, lse2 = impl.cross_entropy_with_grad(x, t, return_lse=True, softcap=3.0)
    want2 = ref.logsumexp(3.0 * np.tanh(x.astype(np.float64) / 3.0), axis=-1)
    np.testing.assert_allclose(lse2[keep], want2[keep], rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(dtype, reduction, weighted):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    lp = ref.log_softmax(rng.standard_normal((3, 5, 4)).astype(dtype), axis=1)
    t = rng.integers(0, 5, (3, 4))
    t[0, 0] = -100
    w = rng.random(5) if weighted else None
    want = torch.nn.functional.nll_loss(
        torch.tensor(lp.astype(np.float64)), torch.tensor(t),
        weight=None if w is None else torch.tensor(w.astype(dtype).astype(np.float64)),
        reduction=reduction).numpy()
    for impl in (fs, ref):
        got = impl.nll_loss(lp, t, axis=1, weight=w, reduction=reduction)
        check_loss(got, want, dtype, f"nll_loss {impl.__name__} {reduction} {weighted}")


@IMPLS
def test_option_errors(impl):
    x = np.zeros((3, 4))
    t = np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"target\[1\] = 9 .*\[0, 4\) or equal ignore_index \(-100\)"):
        impl.cross_entropy(x, np.array([0, 9, -100]))
    with pytest.raises(ValueError, match=r"weight\[2\] = -1.0"):
        impl.cross_entropy(x, t, weight=[1, 1, -1, 1])
    with pytest.raises(ValueError, match=r"weight\[0\] = nan"):
        impl.cross_entropy_with_grad(x, t, weight=[np.nan, 1, 1, 1])
    with pytest.raises(ValueError, match=r"weight has shape \(3,\)"):
        impl.cross_entropy(x, t, weight=[1, 1, 1])
    p = np.full((3, 4), 0.25)
    p[2, 1] = -0.5
    with pytest.raises(ValueError, match=r"target\[2, 1\] = -0.5 is not a valid probability"):
        impl.cross_entropy(x, p)
    with pytest.raises(ValueError, match=r"target\[1, 2\] = -0.5"):
        impl.cross_entropy_with_grad(x.T, p.T, axis=0)
    with pytest.raises(TypeError, match="integer"):
        impl.cross_entropy(x, np.zeros(3))
    for bad in (dict(label_smoothing=1.5), dict(label_smoothing=-0.1), dict(z_loss=-1.0),
                dict(softcap=0.0), dict(softcap=-2.0), dict(z_loss=np.inf)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            impl.cross_entropy(x, t, **bad)
    with pytest.raises(TypeError, match="ignore_index"):
        impl.cross_entropy(x, t, ignore_index=1.5)
    with pytest.raises(ValueError, match="grad_loss has shape"):
        impl.cross_entropy_with_grad(x, t, reduction="none", grad_loss=np.ones(4))
    with pytest.raises(ValueError, match="grad_loss has shape"):
        impl.cross_entropy_with_grad(x, t, reduction="mean", grad_loss=np.ones(3))


def test_bad_input_leaves_logits_untouched(dtype):
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    before = x.copy()
    for t, kw in [(np.array([0, 4, 1]), {}), (np.array([0, 1, 1]), dict(weight=[1, -1, 1, 1])),
                  (np.array([[0.5, 0.5, 0, 0], [1, 0, 0, 0], [0, 0, -1.0, 2]], dtype), {})]:
        with pytest.raises(ValueError):
            fs.cross_entropy_with_grad(x, t, grad_out=x, label_smoothing=0.1, **kw)
        with pytest.raises(ValueError):
            fs.cross_entropy_with_grad(x, t, grad_out=x, **kw)
        np.testing.assert_array_equal(x, before)


def test_threads_bitwise_identical_with_options(dtype):
    if fs.backend != "c":
        pytest.skip("threads live in the compiled backend")
    rng = np.random.default_rng(31)
    x, t = make_case(rng, 300, 777, dtype, "class", True)
    kw = dict(weight=rng.random(777), label_smoothing=0.1, z_loss=1e-3, softcap=10.0,
              reduction="none", return_lse=True)
    base = fs.cross_entropy_with_grad(x, t, n_threads=1, **kw)
    for nt in (2, 3, 7):
        other = fs.cross_entropy_with_grad(x, t, n_threads=nt, **kw)
        for a, b in zip(base, other):
            assert np.array_equal(a, b), nt


@pytest.mark.parametrize("c", [1, 7, 17, 33, 600])
@pytest.mark.parametrize("opts", [dict(label_smoothing=0.1), dict(z_loss=1e-4), dict(softcap=50.0),
                                  dict(probs=True)], ids=["smooth", "z", "cap", "probs"])
def test_general_kernel_extreme_logits(isa, dtype, c, opts):
    """Very negative rows (exp of a padding lane would overflow) and a leading block of
    -inf (masked vocabulary) stay finite, as in the reference."""
    rng = np.random.default_rng(c)
    x = (rng.standard_normal((3, c)) - (1000 if dtype == np.float64 else 100)).astype(dtype)
    if c == 600:
        x[1, :512] = -np.inf
    kind = "probs" if opts.pop("probs", False) else "class"
    _, t = make_case(rng, 3, c, dtype, kind, False)
    if kind == "class" and c == 600:
        t[1] = 550
    elif kind == "probs" and c == 600:
        t[1, :512] = 0
        t[1] /= t[1].sum()
    for impl in (fs, ref):
        loss, grad = impl.cross_entropy_with_grad(x, t, reduction="none", **opts)
        if "label_smoothing" in opts and c == 600:
            assert loss[1] == np.inf and np.isfinite(loss[[0, 2]]).all()
        elif kind == "probs" and c == 600:
            assert np.isnan(loss[1])      # torch: 0 * -inf in -(q * logp).sum()
        else:
            assert np.isfinite(loss).all(), (impl.__name__, loss)
        assert np.isfinite(grad).all(), impl.__name__
    rl, rg = ref.cross_entropy_with_grad(x, t, reduction="none", **opts)
    fin = np.isfinite(rl)
    np.testing.assert_allclose(loss[fin], rl[fin], rtol=1e-5)
    np.testing.assert_allclose(grad, rg, rtol=1e-5, atol=1e-7)


def test_softcap_far_above_the_logits(isa, dtype):
    """tanh(v) for small v keeps its relative accuracy (a cap far above the logits)."""
    x = np.array([[0.5, -0.5, 1.0], [1e-3, 2e-3, -3e-3]], dtype)
    t = np.array([0, 2])
    for cap in (3.0, 1e3, 1e6):
        loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none", softcap=cap)
        l0, g0 = ref.cross_entropy_with_grad(x, t, reduction="none", softcap=cap)
        np.testing.assert_allclose(loss, l0, rtol=2e-6 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(grad, g0, rtol=1e-5, atol=1e-7 if dtype == np.float32 else 1e-13)


@IMPLS
def test_uint64_targets_with_ignore_index_above_c(impl):
    x = np.zeros((2, 3))
    loss = impl.cross_entropy(x, np.array([0, 5], np.uint64), ignore_index=5)
    np.testing.assert_allclose(loss, np.log(3))


@IMPLS
def test_weight_must_fit_the_compute_dtype(impl):
    with pytest.raises(ValueError, match=r"weight\[0\] = 1e\+39 does not fit in float32"):
        impl.cross_entropy(np.zeros((2, 3), np.float32), np.array([0, 1]), weight=[1e39, 1, 1])
    assert np.isfinite(impl.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weight=[1e39, 1, 1]))


def test_rows_not_a_whole_number_of_elements_apart(dtype):
    """A record field: rows 41 bytes apart are copied, not misread."""
    rec = np.zeros(3, [("pad", "u1"), ("z", dtype, (4,))])
    rec["z"] = np.arange(12, dtype=dtype).reshape(3, 4) * np.array([1, -1, 0.5])[:, None]
    z = rec["z"]
    t = np.array([0, 1, 3])
    np.testing.assert_allclose(fs.cross_entropy(z, t, reduction="none"),
                               ref.cross_entropy(z, t, reduction="none"), rtol=1e-6)
    p = rec["z"] * 0 + 0.25
    np.testing.assert_allclose(fs.cross_entropy(z, p, reduction="none"),
                               ref.cross_entropy(z, p, reduction="none"), rtol=1e-6)


@pytest.mark.parametrize("row", [[np.nan], [np.nan, -np.inf], [-np.inf, np.nan, -np.inf],
                                 [np.nan] * 40 + [-np.inf] * 3, [-np.inf, -np.inf]],
                         ids=["nan", "nan,-inf", "-inf,nan,-inf", "40nan,3-inf", "-inf,-inf"])
@pytest.mark.parametrize("opts", [dict(label_smoothing=0.1), dict(z_loss=1e-3), dict(softcap=5.0),
                                  dict(weight=True)], ids=["smooth", "z", "cap", "weight"])
def test_rows_without_a_finite_logit(isa, dtype, row, opts):
    """Rows of only NaN and -inf: the general kernel's lse is NaN when a NaN is there (its
    running max skips a NaN block max, so the row is scanned for one), -inf else."""
    x = np.array([row, [0.5] * len(row)], dtype)
    t = np.array([0, len(row) - 1])
    opts = dict(opts)
    if opts.pop("weight", False):
        opts["weight"] = np.linspace(0.5, 2, len(row))
    got = fs.cross_entropy_with_grad(x, t, reduction="none", return_lse=True, **opts)
    want = ref.cross_entropy_with_grad(x, t, reduction="none", return_lse=True, **opts)
    tol = EQUIV[np.dtype(dtype)]
    for name, g, w in zip(("loss", "grad", "lse"), got, want):
        assert_close(g, w, tol, scale=np.maximum(1, np.abs(w)), what=name)


@pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])
def test_smoothing_loss_exact_for_large_logits(impl):
    """Equal logits of 2.7e11: the loss is log(2) to the last bit in float32 (lse - u formed
    from a rounded lse would be off by 3e-5)."""
    x = np.full((1, 2), 2.748779e11, np.float32)
    for opts in (dict(label_smoothing=0.1), dict(z_loss=0.0, softcap=None, weight=[1.0, 1.0]),
                 dict(label_smoothing=0.3, weight=[2.0, 2.0])):
        loss = impl.cross_entropy(x, np.array([0]), **opts)
        assert loss == np.float32(np.log(2)), (opts, loss)
    q = np.array([[0.25, 0.75]], np.float32)
    assert impl.cross_entropy(x, q, label_smoothing=0.1) == np.float32(np.log(2))


NONFINITE_ROW_VALUES = [np.inf, -np.inf, np.nan, 1.0, -1e30]


@pytest.mark.parametrize("opts", [{}, dict(label_smoothing=0.1), dict(z_loss=1e-3),
                                  dict(softcap=5.0), dict(weight=True),
                                  dict(label_smoothing=0.2, weight=True)],
                         ids=["plain", "smooth", "z", "cap", "weight", "smooth+weight"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_every_small_row_of_non_finite_logits(isa, dtype, opts, axis):
    """Every row of 1-3 logits from {inf, -inf, NaN, 1, -1e30}, every class target and two
    probability targets, with and without the gradient: loss, gradient and lse as the
    reference's, non-finite entries in the same places, and lse equal to logsumexp (of
    the capped logits): lse +inf for a row with +inf, losses lse - u_t where that is
    +inf, +inf (not 0 * -inf) where label smoothing gives a probability target's class
    weight > 0 at a -inf logit, and no inf - inf at an infinite x[t] (CHANGELOG)."""
    weighted = opts.get("weight") is True
    opts = dict(opts)
    for k in (1, 2, 3):
        x = np.array(list(itertools.product(NONFINITE_ROW_VALUES, repeat=k)), dtype)
        if weighted:
            opts["weight"] = np.array([0.0, 2.0, 0.5][:k], dtype)
        targets = [np.full(len(x), t) for t in range(k)]
        if "weight" not in opts:
            targets += [np.tile(np.eye(k, dtype=dtype)[0], (len(x), 1)),
                        np.full(x.shape, 1.0 / k, dtype)]
        for t in targets:
            xa, ta = (x, t) if axis == -1 else (x.T.copy(), t.T.copy())
            what = f"k={k} target={t[0]} axis={axis} {opts}"
            for fn in ("cross_entropy", "cross_entropy_with_grad"):
                got = getattr(fs, fn)(xa, ta, axis=axis, reduction="none", return_lse=True, **opts)
                want = getattr(ref, fn)(xa, ta, axis=axis, reduction="none", return_lse=True, **opts)
                for name, g, w in zip(("loss", "grad", "lse") if len(got) == 3 else ("loss", "lse"),
                                      got, want):
                    assert_close(g, w, EQUIV[np.dtype(dtype)], scale=np.maximum(1, np.abs(w)),
                                 what=f"{fn} {name} {what}")
                u = xa if "softcap" not in opts else opts["softcap"] * np.tanh(xa / opts["softcap"])
                assert_close(got[-1], fs.logsumexp(u, axis=axis), EQUIV[np.dtype(dtype)],
                             scale=1.0, what=f"lse vs logsumexp {what}")


@pytest.mark.parametrize("axis", [-1, 0])
def test_lse_exact_with_the_target_far_below_the_max(isa, dtype, axis):
    """lse was loss + x[t]: with x[t] ~ -2e4 the rounding of max - x[t] left 8e-13 in
    float64 (contract 5e-14); also with the gradient written over the logits."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 50)).astype(dtype)
    x[:, 7] = x[:, 7] * 1000 - 20000
    x[::5, 7] = rng.standard_normal(60)           # some rows where loss + x[t] is fine
    t = np.full(300, 7)
    want = fs.logsumexp(x.astype(np.float64), axis=-1)
    xa = x if axis == -1 else x.T.copy()
    for opts in ({}, dict(weight=np.linspace(0.5, 2, 50))):
        _, lse = fs.cross_entropy(xa, t, axis=axis, return_lse=True, reduction="none", **opts)
        z = xa.copy()
        _, _, lse2 = fs.cross_entropy_with_grad(z, t, axis=axis, return_lse=True, grad_out=z,
                                                reduction="none", **opts)
        for got in (lse, lse2):
            assert_close(got, want, EQUIV[np.dtype(dtype)] / 4, scale=np.maximum(1, np.abs(want)),
                         what=f"axis={axis} {opts}")


COLUMN_OPTIONS = [dict(label_smoothing=0.1), dict(z_loss=1e-3), dict(softcap=3.0),
                  dict(probs=True), dict(probs=True, label_smoothing=0.2, weight=True),
                  dict(softcap=4.0, z_loss=0.01, label_smoothing=0.1, weight=True, ignore=True),
                  dict(weight=True, ignore=True), dict()]


@pytest.mark.parametrize("shape,axis", [((4, 21, 9, 10), 1), ((3, 6, 130), 1), ((5, 300, 17), 1),
                                        ((70, 3, 12), 0)], ids=["4x21x9x10-1", "3x6x130-1",
                                                                "5x300x17-1", "70x3x12-0"])
@pytest.mark.parametrize("opts", COLUMN_OPTIONS,
                         ids=["smooth", "z", "cap", "probs", "probs+smooth+weight",
                              "cap+z+smooth+weight+ignore", "weight+ignore", "plain"])
def test_class_axis_in_place_takes_every_option(isa, dtype, shape, axis, opts):
    """A non-last class axis with any option runs on the logits' own layout: with the
    general kernel's options the loss, lse and gradient are bitwise those of the same
    values laid out as rows (plain targets and weights take the column kernels: within
    the equivalence tolerance), and the gradient keeps the logits' layout (C order
    here), also written over the logits."""
    rng = np.random.default_rng(zlib.crc32(repr((shape, axis, opts)).encode()))
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    c = shape[axis]
    if opts.get("probs"):
        p = rng.random(shape) ** 2
        t = (p / p.sum(axis=axis, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, c, shape[:axis] + shape[axis + 1:])
        if opts.get("ignore"):
            t.reshape(-1)[::4] = -100
    kw = dict(label_smoothing=opts.get("label_smoothing", 0.0), z_loss=opts.get("z_loss", 0.0),
              softcap=opts.get("softcap"), weight=rng.random(c) if opts.get("weight") else None)
    what = f"isa={isa} dtype={dtype} shape={shape} axis={axis} opts={opts}"
    loss, grad, lse = fs.cross_entropy_with_grad(x, t, axis=axis, reduction="none",
                                                 return_lse=True, **kw)
    xr = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    tr = np.ascontiguousarray(np.moveaxis(t, axis, -1)) if opts.get("probs") else t
    rl, rg, rlse = fs.cross_entropy_with_grad(xr, tr, reduction="none", return_lse=True, **kw)
    assert grad.flags.c_contiguous, what
    general = any(k in opts for k in ("label_smoothing", "z_loss", "softcap", "probs"))
    if fs.backend == "c" and general:     # the same kernel on the same values: bitwise
        same = np.testing.assert_array_equal
    else:
        def same(a, b, err_msg):
            scale = np.maximum(1, np.max(np.abs(b), axis=axis if b.ndim == x.ndim else None,
                                         keepdims=True))
            assert_close(a, b, EQUIV[np.dtype(dtype)], scale=np.broadcast_to(scale, b.shape),
                         what=err_msg)
    same(loss, rl, err_msg=what)
    same(lse, rlse, err_msg=what)
    same(grad, np.moveaxis(rg, -1, axis), err_msg=what)
    same(np.asarray(fs.cross_entropy(x, t, axis=axis, reduction="none", **kw)), rl,
         err_msg=what + " loss only")
    # in place: the gradient written over the logits
    xin = x.copy()
    l2, g2 = fs.cross_entropy_with_grad(xin, t, axis=axis, reduction="none", grad_out=xin, **kw)
    assert g2 is xin, what
    same(l2, rl, err_msg=what)
    same(g2, grad, err_msg=what)


@pytest.mark.skipif(fs.backend != "c", reason="the NumPy reference transposes")
def test_class_axis_with_options_makes_no_transposed_copy():
    """A (16, 21, 128, 128)-shaped label-smoothed batch over axis 1 (segmentation) with
    grad_out: no temporary the size of the logits (tracemalloc sees NumPy's buffers)."""
    import tracemalloc
    x = np.random.default_rng(3).standard_normal((4, 21, 64, 64)).astype(np.float32)
    t = np.random.default_rng(4).integers(0, 21, (4, 64, 64))
    g = np.empty_like(x)
    fs.cross_entropy_with_grad(x, t, axis=1, label_smoothing=0.1, grad_out=g)   # warm up
    tracemalloc.start()
    try:
        loss, grad = fs.cross_entropy_with_grad(x, t, axis=1, label_smoothing=0.1, grad_out=g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grad is g
    assert peak < x.nbytes / 4, f"peak {peak} bytes of temporaries for {x.nbytes} bytes of logits"
