"""Semantics of the public API: dtypes, out=, in place, overlap, empties, GIL."""
import threading
import time

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EQUIV, PYTHON, assert_close, ticks_while

ELEMENTWISE = ["softmax", "log_softmax"]
BACKWARD = ["softmax_backward", "log_softmax_backward"]


def test_quickstart_value():
    y = fs.softmax(np.array([5.0, 2.0, 1.0]))
    assert np.allclose(y, [0.93623955, 0.04661262, 0.01714783], rtol=1e-7)


def test_public_names_mirrored_by_reference():
    import inspect
    for name in ["softmax", "log_softmax", "logsumexp", "softmax_backward",
                 "log_softmax_backward", "cross_entropy", "cross_entropy_with_grad"]:
        assert inspect.signature(getattr(fs, name)) == inspect.signature(getattr(ref, name)), name
        assert "Examples" in getattr(fs, name).__doc__


@pytest.mark.parametrize("name", ELEMENTWISE + ["logsumexp"])
@pytest.mark.parametrize("dtype,expect", [
    (np.float16, np.float16), (np.float32, np.float32), (np.float64, np.float64),
    (np.int8, np.float64), (np.int64, np.float64), (np.uint16, np.float64),
    (np.bool_, np.float64), (np.longdouble, np.longdouble),
])
def test_result_dtype(name, dtype, expect):
    x = np.array([[1, 0, 1], [0, 0, 1]], dtype=dtype)
    got = getattr(fs, name)(x)
    assert got.dtype == expect
    want = getattr(ref, name)(x.astype(np.float64))
    tol = 1e-3 if dtype == np.float16 else 1e-6
    assert np.allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


def test_lists_and_scalars():
    assert np.allclose(fs.softmax([1, 2, 3]), ref.softmax(np.array([1.0, 2.0, 3.0])))
    assert fs.softmax(np.float64(3.0), axis=None) == 1.0
    assert fs.logsumexp(5.0, axis=None) == 5.0


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_out_and_in_place(name, axis, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9)).astype(dtype)
    f = getattr(fs, name)
    want = f(x, axis=axis)
    out = np.empty_like(x)
    assert f(x, axis=axis, out=out) is out
    assert np.array_equal(out, want)
    fort = np.empty_like(x, order="F")
    assert f(x, axis=axis, out=fort) is fort
    assert np.array_equal(fort, want)
    inplace = x.copy()
    assert f(inplace, axis=axis, out=inplace) is inplace
    assert np.array_equal(inplace, want)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_partial_overlap_is_correct(name):
    """out overlapping x shifted by one element: computed as if x were copied first."""
    f = getattr(fs, name)
    buf = np.random.default_rng(2).standard_normal(50)
    x = buf[:40].reshape(4, 10)
    want = f(x.copy())
    out = buf[1:41].reshape(4, 10)
    f(x, out=out)
    assert np.array_equal(out, want)


@pytest.mark.parametrize("name", BACKWARD)
def test_backward_out_aliases(name):
    rng = np.random.default_rng(3)
    g = rng.standard_normal((5, 7))
    y = fs.softmax(rng.standard_normal((5, 7)))
    f = getattr(fs, name)
    want = f(g, y)
    for which in ("grad", "y"):
        gg, yy = g.copy(), y.copy()
        target = gg if which == "grad" else yy
        assert f(gg, yy, out=target) is target
        assert np.array_equal(target, want), which


def test_logsumexp_out_keepdims():
    x = np.random.default_rng(4).standard_normal((3, 4, 5))
    for axis, keep in [(0, False), (1, True), (2, False), (None, True), (None, False)]:
        want = ref.logsumexp(x, axis=axis, keepdims=keep)
        shape = np.shape(want)
        out = np.empty(shape)
        r = fs.logsumexp(x, axis=axis, keepdims=keep, out=out)
        assert r is out
        assert_close(out, want, 1e-13, scale=np.maximum(1, np.abs(want)))
    # out that is a view into the input: still correct
    buf = x.copy()
    want = ref.logsumexp(buf[:, :, :4], axis=-1)
    fs.logsumexp(buf[:, :, :4], axis=-1, out=buf[:, :, 4])
    assert_close(buf[:, :, 4], want, 1e-13, scale=np.maximum(1, np.abs(want)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_grad_in_place(dtype):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((8, 11)).astype(dtype)
    t = rng.integers(0, 11, 8)
    want_loss, want_grad = fs.cross_entropy_with_grad(z, t)
    zz = z.copy()
    loss, grad = fs.cross_entropy_with_grad(zz, t, grad_out=zz)
    assert grad is zz
    assert loss == want_loss
    assert np.array_equal(grad, want_grad)
    # class axis 0 with in-place gradient through a transposed view
    zt = np.ascontiguousarray(z.T)
    loss_t, grad_t = fs.cross_entropy_with_grad(zt, t, axis=0, grad_out=zt)
    assert grad_t is zt
    assert_close(grad_t.T, want_grad, EQUIV[np.dtype(dtype)], atol=1e-30)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "softmax_backward",
                                  "log_softmax_backward", "cross_entropy",
                                  "cross_entropy_with_grad"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_inputs_are_not_modified(name, dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((4, 6)) * 3).astype(dtype)
    g = rng.standard_normal((4, 6)).astype(dtype)
    t = rng.integers(0, 6, 4)
    keep = [a.copy() for a in (x, g, t)]
    f = getattr(fs, name)
    if name.endswith("backward"):
        f(g, x)
    elif name.startswith("cross"):
        f(x, t)
    else:
        f(x)
    for a, b in zip((x, g, t), keep):
        assert a.tobytes() == b.tobytes(), name


@pytest.mark.parametrize("shape,axis", [((0,), -1), ((0, 5), -1), ((5, 0), -1), ((5, 0), 0),
                                        ((0, 0), 1), ((2, 0, 3), 1), ((0,), None)])
def test_empty_arrays(shape, axis):
    x = np.zeros(shape)
    for name in ELEMENTWISE:
        y = getattr(fs, name)(x, axis=axis)
        assert y.shape == shape and y.dtype == x.dtype
    lse = fs.logsumexp(x, axis=axis)
    want = ref.logsumexp(x, axis=axis)
    assert np.shape(lse) == np.shape(want)
    assert np.array_equal(lse, want)
    n = x.size if axis is None else x.shape[axis]
    if n == 0 and np.size(lse):
        assert np.all(np.asarray(lse) == -np.inf)
    for name in BACKWARD:
        assert getattr(fs, name)(x, x, axis=axis).shape == shape


def test_cross_entropy_zero_samples():
    z = np.zeros((0, 4), np.float32)
    t = np.zeros(0, np.int64)
    assert fs.cross_entropy(z, t) == 0.0
    assert fs.cross_entropy(z, t).dtype == np.float32
    assert fs.cross_entropy(z, t, reduction="sum") == 0.0
    assert fs.cross_entropy(z, t, reduction="none").shape == (0,)
    loss, grad = fs.cross_entropy_with_grad(z, t)
    assert loss == 0.0 and grad.shape == (0, 4)


def test_cross_entropy_reductions_and_types():
    z = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    t = np.array([0, 2], dtype=np.int32)
    per = fs.cross_entropy(z, t, reduction="none")
    assert per.shape == (2,)
    assert np.isclose(per[0], np.log(np.exp(2) + 2) - 2)
    assert fs.cross_entropy(z, t, reduction="sum") == pytest.approx(per.sum(), rel=1e-15)
    mean = fs.cross_entropy(z, t)
    assert isinstance(mean, np.float64) and mean == pytest.approx(per.mean(), rel=1e-15)
    l16 = fs.cross_entropy(z.astype(np.float16), t)     # half logits: a float32 loss
    assert l16.dtype == np.float32
    _, g = fs.cross_entropy_with_grad(z, t, reduction="mean")
    _, gs = fs.cross_entropy_with_grad(z, t, reduction="sum")
    _, gn = fs.cross_entropy_with_grad(z, t, reduction="none")
    assert np.allclose(g * 2, gs) and np.array_equal(gs, gn)


def test_cross_entropy_nonfinite_logits():
    z = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, 0.0], [1.0, 2.0]])
    t = np.array([1, 0, 1, 1])
    got = fs.cross_entropy(z, t, reduction="none")
    want = ref.cross_entropy(z, t, reduction="none")
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got[3], want[3])
    assert np.isnan(got[0]) and np.isnan(got[1]) and got[2] == pytest.approx(np.log(1.0))
    _, g = fs.cross_entropy_with_grad(z, t, reduction="none")
    _, gr = ref.cross_entropy_with_grad(z, t, reduction="none")
    assert np.array_equal(np.isnan(g), np.isnan(gr))


def test_kernels_release_the_gil():
    """A Python thread keeps running while a long kernel call is in flight."""
    x = np.random.default_rng(7).standard_normal((2000, 20000))
    out = np.empty_like(x)
    fs.softmax(x[:10], out=out[:10])  # warm up
    t0 = time.perf_counter()
    fs.softmax(x, out=out)
    single = time.perf_counter() - t0
    if single < 0.02:
        pytest.skip("kernel too fast on this machine to observe")
    ticks = ticks_while(lambda: fs.softmax(x, out=out))
    # With the GIL held for the whole call the loop could not run in between.
    assert ticks > 10, f"only {ticks} ticks while a {single:.3f}s kernel ran"


def test_concurrent_calls_from_threads():
    rng = np.random.default_rng(8)
    xs = [rng.standard_normal((64, 257 + i)) for i in range(8)]
    want = [fs.log_softmax(x) for x in xs]
    results = [None] * 8

    def run(i):
        for _ in range(20):
            results[i] = fs.log_softmax(xs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for r, w in zip(results, want):
        assert np.array_equal(r, w)


def test_isa_controls():
    isas = fs.available_isas()
    assert fs.get_isa() in isas
    with pytest.raises(ValueError):
        fs.set_isa("no-such-isa")
    before = fs.get_isa()
    for name in isas:
        fs.set_isa(name)
        assert fs.get_isa() == name
    fs.set_isa(before)


def test_source_checkout_without_the_extension_says_so(tmp_path):
    import os
    import shutil
    import subprocess
    from pathlib import Path

    src = Path(fs.__file__).parent
    # a copy under another name: an editable install's import hook would otherwise
    # find the real package before the folder on sys.path
    dst = tmp_path / "fastsoftmax_checkout"
    dst.mkdir()
    for f in src.glob("*.py"):
        shutil.copy(f, dst)
    env = {k: v for k, v in os.environ.items() if k != "FASTSOFTMAX_BACKEND"}
    r = subprocess.run([PYTHON, "-c", "import fastsoftmax_checkout as f; print(f.backend)"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "numpy"
    assert "is not built in" in r.stderr and "pip install" in r.stderr, r.stderr


def _unaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address (as a buffer
    unpickled out of band can): ``flags.aligned`` is False."""
    a = np.asarray(a)
    buf = np.zeros(a.nbytes + a.itemsize, np.uint8)
    u = buf[1:1 + a.nbytes].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_unaligned_operands(dtype, axis):
    """Misaligned inputs, targets, weights and outputs give the aligned results (the kernels
    see aligned copies: a misaligned load is undefined behaviour in C; CHANGELOG)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 40)) * 3).astype(dtype)
    g = rng.standard_normal((6, 40)).astype(dtype)
    y = fs.softmax(x, axis=axis)
    n = x.shape[axis]
    t = rng.integers(0, n, x.shape[1 - axis % 2])
    w = rng.random(n) + 0.5
    gl = rng.random(t.shape)
    cases = [
        ("softmax", (x,), {}), ("log_softmax", (x,), {}), ("logsumexp", (x,), {}),
        ("softmax_backward", (g, y), {}), ("log_softmax_backward", (g, np.log(y)), {}),
        ("cross_entropy", (x, t), {}), ("cross_entropy", (x, t), {"weight": w}),
        ("cross_entropy_with_grad", (x, t), {"reduction": "none", "grad_loss": gl}),
        ("cross_entropy_with_grad", (x, y), {"label_smoothing": 0.1}),
        ("nll_loss", (np.log(y), t), {}),
    ]
    for name, args, kw in cases:
        f = getattr(fs, name)
        want = f(*args, axis=axis, **kw)
        got = f(*[_unaligned(a) for a in args], axis=axis,
                **{k: _unaligned(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
        for a, b in zip(*[r if isinstance(r, tuple) else (r,) for r in (got, want)]):
            assert_close(a, b, EQUIV[np.dtype(dtype)], atol=1e-30, what=name)
    for name in ELEMENTWISE:
        out = _unaligned(np.zeros_like(x))
        assert getattr(fs, name)(x, axis=axis, out=out) is out
        assert_close(out, getattr(fs, name)(x, axis=axis), EQUIV[out.dtype], atol=1e-30)
    out = _unaligned(np.zeros(x.shape[1 - axis % 2], dtype))
    assert fs.logsumexp(x, axis=axis, out=out) is out
    assert_close(out, fs.logsumexp(x, axis=axis), EQUIV[out.dtype])
    # (axis 0: aligned data takes the column kernels, a copy the row kernels: equal to
    # the contract, not bitwise)
    buf = _unaligned(x)
    loss, grad = fs.cross_entropy_with_grad(buf, t, axis=axis, grad_out=buf)
    want_loss, want_grad = fs.cross_entropy_with_grad(x, t, axis=axis)
    assert grad is buf
    assert_close(loss, want_loss, EQUIV[x.dtype])
    assert_close(grad, want_grad, EQUIV[x.dtype], atol=1e-30)
