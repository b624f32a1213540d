"""Threads: bitwise-identical results for any n_threads, concurrency, limits, fork."""
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import warnings

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EMULATOR, EQUIV, PYTHON, assert_close

compiled = pytest.mark.skipif(fs.backend != "c", reason="threads live in the compiled backend")

THREADS = [1, 2, 3, 4, 7]


def _all_ops(x, t, g):
    """Every public op on logits x (rows last), targets t, upstream grad g."""
    y = fs.softmax(x, n_threads=1)
    lp = fs.log_softmax(x, n_threads=1)
    return {
        "softmax": lambda n: fs.softmax(x, n_threads=n),
        "log_softmax": lambda n: fs.log_softmax(x, n_threads=n),
        "logsumexp": lambda n: fs.logsumexp(x, n_threads=n),
        "softmax_backward": lambda n: fs.softmax_backward(g, y, n_threads=n),
        "log_softmax_backward": lambda n: fs.log_softmax_backward(g, lp, n_threads=n),
        "cross_entropy": lambda n: fs.cross_entropy(x, t, reduction="none", n_threads=n),
        "cross_entropy_with_grad": lambda n: fs.cross_entropy_with_grad(
            x, t, reduction="sum", n_threads=n),
    }


def _bytes(r):
    return [np.asarray(a).tobytes() for a in (r if isinstance(r, tuple) else (r,))]


def _special_rows(x):
    """Put the cases the chunk pieces hand to the row kernel into some rows."""
    n = x.shape[1]
    if x.shape[0] >= 6:
        x[1, n // 3] = np.nan                  # NaN among finite values
        x[2, : n // 2] = -np.inf               # whole chunks of -inf, then finite values
        x[3, n - 1] = np.inf                   # +inf
        x[4, :] = -np.inf                      # all -inf
        x[5, : n // 2] = np.nan                # NaN before any finite value
    return x


# Rows that fit the row kernels (split over rows) and rows longer than
# FS_L2_ROW_BYTES (split into chunks, and across threads inside a row when
# rows are few).
SHAPES = [(7001, 16), (12001, 10), (5000, 33), (700, 1000), (6, 70001), (2, 300000),
          (1, 1_000_003)]
# (FS_L2_ROW_BYTES is 1 MiB: 300000 and more float32 are chunked rows, 70001 is a
# long row of the row kernels; rows of at most 16 go in blocks of rows, which the
# thread split cuts anywhere)


@compiled
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bitwise_identical_for_any_thread_count(isa, dtype, shape):
    rng = np.random.default_rng(7)
    x = _special_rows((rng.standard_normal(shape) * 4).astype(dtype))
    t = rng.integers(0, shape[1], shape[0])
    g = rng.standard_normal(shape).astype(dtype)
    for name, f in _all_ops(x, t, g).items():
        want = _bytes(f(1))
        for n in THREADS[1:]:
            assert _bytes(f(n)) == want, f"{name} {isa} {dtype} {shape}: n_threads={n} differs"


@compiled
@pytest.mark.parametrize("shape", [(3, 270001), (1, 600_000)], ids=["3x270001", "1x600000"])
def test_long_rows_match_reference(isa, dtype, shape):
    """The chunked path (partials merged across chunks) keeps the contract."""
    rng = np.random.default_rng(3)
    x = _special_rows((rng.standard_normal(shape) * 6).astype(dtype))
    t = rng.integers(0, shape[1], shape[0])
    g = rng.standard_normal(shape).astype(dtype)
    tol = EQUIV[dtype]
    for n in (1, 4):
        what = f"{isa} {dtype} {shape} n_threads={n}"
        assert_close(fs.softmax(x, n_threads=n), ref.softmax(x), tol, what="softmax " + what)
        want = ref.log_softmax(x)
        assert_close(fs.log_softmax(x, n_threads=n), want, tol,
                     scale=np.maximum(1, np.abs(want)), what="log_softmax " + what)
        want = ref.logsumexp(x)
        assert_close(fs.logsumexp(x, n_threads=n), want, tol,
                     scale=np.maximum(1, np.abs(want)), what="logsumexp " + what)
        y = ref.softmax(x)
        want = ref.softmax_backward(g, y)
        assert_close(fs.softmax_backward(g, y, n_threads=n), want, 4 * tol, atol=tol * 1e-3,
                     what="softmax_backward " + what)
        loss, grad = fs.cross_entropy_with_grad(x, t, reduction="none", n_threads=n)
        rl, rg = ref.cross_entropy_with_grad(x, t, reduction="none")
        assert_close(loss, rl, tol, scale=np.maximum(1, np.abs(rl)), what="CE loss " + what)
        assert_close(grad, rg, tol, atol=tol * 1e-3, what="CE grad " + what)
        assert_close(fs.cross_entropy(x, t, reduction="none", n_threads=n), rl, tol,
                     scale=np.maximum(1, np.abs(rl)), what="CE " + what)


@compiled
def test_long_row_grad_in_place_and_out(dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, 200_000)) * 3).astype(dtype)
    t = np.array([0, 199_999, 12345])
    want_loss, want_grad = fs.cross_entropy_with_grad(x, t, n_threads=1)
    buf = x.copy()
    loss, grad = fs.cross_entropy_with_grad(buf, t, grad_out=buf, n_threads=4)
    assert grad is buf and loss == want_loss and np.array_equal(grad, want_grad)
    out = np.empty_like(x)
    assert fs.softmax(x, out=out, n_threads=3) is out
    assert np.array_equal(out, fs.softmax(x, n_threads=1))


def _every_op(x, t, g, seed):
    """Every public function (and its main variants) on logits x (rows last), as
    n_threads -> result; in-place calls work on a fresh copy each time."""
    from fastsoftmax import scipy as sps
    rng = np.random.default_rng(seed)
    n, c = x.shape
    y = fs.softmax(x, n_threads=1)
    lp = fs.log_softmax(x, n_threads=1)
    w = rng.random(c) + 0.5
    tt = t.copy()
    tt[::5] = -100
    q = fs.softmax(x[:, ::-1], n_threads=1)
    h = rng.standard_normal((n, 16)).astype(x.dtype)
    W = rng.standard_normal((c, 16)).astype(x.dtype)
    b = rng.random(c).astype(x.dtype)
    ops = dict(_all_ops(x, t, g))
    ops.update({
        "softmax axis 0": lambda k: fs.softmax(x, axis=0, n_threads=k),
        "log_softmax out": lambda k: fs.log_softmax(x, out=np.empty_like(x), n_threads=k),
        "softmax in place": lambda k: (lambda z: fs.softmax(z, out=z, n_threads=k))(x.copy()),
        "logsumexp axis 0 keepdims": lambda k: fs.logsumexp(x, axis=0, keepdims=True,
                                                            n_threads=k),
        "softmax_backward axis 0": lambda k: fs.softmax_backward(g, y, axis=0, n_threads=k),
        "cross_entropy options": lambda k: fs.cross_entropy(
            x, tt, weight=w, label_smoothing=0.1, z_loss=1e-4, return_lse=True, n_threads=k),
        "cross_entropy probs": lambda k: fs.cross_entropy(x, q, reduction="none", n_threads=k),
        "cross_entropy axis 0": lambda k: fs.cross_entropy(x.T, t, axis=0, n_threads=k),
        "cross_entropy_with_grad grad_out=logits": lambda k: (lambda z: fs.cross_entropy_with_grad(
            z, tt, grad_out=z, softcap=20.0, n_threads=k))(x.copy()),
        "cross_entropy_with_grad grad_loss": lambda k: fs.cross_entropy_with_grad(
            x, t, reduction="none", grad_loss=w[:n] if n <= c else 2.0, n_threads=k),
        "nll_loss": lambda k: fs.nll_loss(lp, tt, weight=w, n_threads=k),
        "linear_cross_entropy": lambda k: fs.linear_cross_entropy(
            h, W, tt, bias=b, chunk_size=max(1, n // 3), n_threads=k),
        "linear_cross_entropy_with_grad": lambda k: fs.linear_cross_entropy_with_grad(
            h, W, t, chunk_size=max(1, n // 3), label_smoothing=0.1, n_threads=k),
    })
    # scipy's signature has no n_threads: they use fastsoftmax.get_num_threads()
    ops["scipy.softmax axis None"] = lambda k: sps.softmax(x, axis=None)
    ops["scipy.logsumexp b"] = lambda k: sps.logsumexp(x, axis=1, b=w, return_sign=True)
    return ops


@compiled
def test_concurrent_threaded_calls_give_sequential_bytes(dtype):
    """8 Python threads on different shapes at once, each calling every public function
    with n_threads > 1 inside: the bytes of sequential one-thread calls, and every input
    byte-identical afterwards."""
    rng = np.random.default_rng(11)
    cases, inputs = [], []
    for i, shape in enumerate([(300, 1000), (4, 90000), (2000, 17), (1, 400_000),
                               (64, 5000), (3, 70001), (1000, 130), (9, 33333)]):
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        t = rng.integers(0, shape[1], shape[0])
        g = rng.standard_normal(shape).astype(dtype)
        ops = _every_op(x, t, g, i)
        cases.append((ops, {k: _bytes(f(1)) for k, f in ops.items()}))
        inputs += [(a, a.copy()) for a in (x, t, g)]
    errors = []
    barrier = threading.Barrier(len(cases))

    def work(ops, want):
        try:
            barrier.wait()
            for _ in range(2):
                for k, f in ops.items():
                    if _bytes(f(4)) != want[k]:
                        errors.append(k)
        except Exception as exc:   # noqa: BLE001 -- reported below
            errors.append(repr(exc))

    fs.set_num_threads(4)          # the scipy drop-ins' thread count
    try:
        threads = [threading.Thread(target=work, args=c) for c in cases]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        fs.set_num_threads(None)
    assert not errors, errors
    assert all(np.array_equal(a, keep) for a, keep in inputs)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                     ("2", TypeError), (True, TypeError)])
def test_n_threads_validation(bad, exc):
    x = np.ones((2, 3))
    for mod in (fs, ref):
        with pytest.raises(exc, match="n_threads"):
            mod.softmax(x, n_threads=bad)
        with pytest.raises(exc, match="n_threads"):
            mod.cross_entropy(x, [0, 1], n_threads=bad)
    with pytest.raises(exc, match="n_threads"):
        fs.set_num_threads(bad)


def test_n_threads_accepts_numpy_ints_and_large_values():
    x = np.random.default_rng(0).standard_normal((40, 50))
    want = ref.softmax(x)
    assert_close(fs.softmax(x, n_threads=np.int64(2)), want, 1e-13)
    assert_close(fs.softmax(x, n_threads=10_000), want, 1e-13)


@compiled
def test_set_and_get_num_threads():
    before = fs.get_num_threads()
    try:
        assert fs.set_num_threads(3) == before
        assert fs.get_num_threads() == 3
        assert fs.set_num_threads(None) == 3
        assert fs.get_num_threads() == before
    finally:
        fs.set_num_threads(None)


def _run(code, **env):
    e = dict(os.environ)
    for k in ("FASTSOFTMAX_NUM_THREADS", "OMP_NUM_THREADS"):
        e.pop(k, None)
    e.update(env)
    # run outside the source tree, so the installed package (with its built
    # extension) is imported, not the checkout's fastsoftmax/ folder
    r = subprocess.run([PYTHON, "-c", code], env=e, capture_output=True, text=True,
                       timeout=120, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@compiled
def test_default_thread_count_honours_environment():
    code = "import fastsoftmax as fs; print(fs.get_num_threads())"
    assert _run(code, OMP_NUM_THREADS="3") == "3"
    assert _run(code, OMP_NUM_THREADS="5,2") == "5"
    assert _run(code, FASTSOFTMAX_NUM_THREADS="2", OMP_NUM_THREADS="7") == "2"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _run(code) == str(min(cpus, 256))


@compiled
def test_threadpoolctl_limits_fastsoftmax():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fs.set_num_threads(4)
    try:
        info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "fastsoftmax"]
        assert len(info) == 1 and info[0]["num_threads"] == 4 and info[0]["version"] == fs.__version__
        with threadpoolctl.threadpool_limits(1):
            assert fs.get_num_threads() == 1
        assert fs.get_num_threads() == 4
        with threadpoolctl.threadpool_limits(limits={"fastsoftmax": 2}):
            assert fs.get_num_threads() == 2
        assert fs.get_num_threads() == 4
    finally:
        fs.set_num_threads(None)


def _child_softmax(q):
    x = np.random.default_rng(0).standard_normal((2000, 300))
    q.put(fs.softmax(x, n_threads=2).tobytes())


@compiled
@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
@pytest.mark.skipif(EMULATOR.startswith("qemu"), reason="qemu user mode aborts in the forked child "
                    "of any threaded process (its own assertion, with or without fastsoftmax)")
# JAX (imported by the bench tests when installed) warns from its own at-fork hook
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_fork_after_threaded_call():
    """A forked child (multiprocessing's default on Linux) gets a fresh pool, not a hang."""
    x = np.random.default_rng(0).standard_normal((2000, 300))
    want = fs.softmax(x, n_threads=2).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # fork in a threaded process
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_child_softmax, args=(q,))
        p.start()
        got = q.get(timeout=60)
        p.join(timeout=60)
    assert p.exitcode == 0
    assert got == want


@compiled
@pytest.mark.parametrize("shape,axis", [((3, 5000, 70), 1), ((20000, 40), 0), ((700, 9, 130), 0)])
def test_non_last_axis_columns(isa, dtype, shape, axis):
    """Column kernels: bitwise identical for any thread count, right on
    non-finite columns (scipy's rules), in place, and with out=."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    flat = np.moveaxis(x, axis, 0).reshape(shape[axis], -1)   # a view: columns of x
    flat[3, 1] = np.nan          # NaN among finite values
    flat[:, 2] = -np.inf         # an all -inf column
    flat[7, 5] = np.inf          # +inf
    flat[:, 11] = np.nan         # NaN only
    flat[: shape[axis] // 2, 12] = -np.inf
    for name in ("softmax", "log_softmax", "logsumexp"):
        f = getattr(fs, name)
        want = f(x, axis=axis, n_threads=1)
        for n in THREADS[1:]:
            assert f(x, axis=axis, n_threads=n).tobytes() == want.tobytes(), (name, n)
        r = getattr(ref, name)(x, axis=axis)
        tol = EQUIV[dtype]
        scale = None if name == "softmax" else np.maximum(1, np.abs(r))
        assert_close(want, r, tol, scale=scale, what=f"{name} {isa} {dtype} {shape} axis={axis}")
        if name != "logsumexp":
            assert want.flags.c_contiguous          # the input's layout, not a transposed one
            buf = x.copy()
            assert f(buf, axis=axis, out=buf, n_threads=3) is buf
            assert buf.tobytes() == want.tobytes()


@compiled
@pytest.mark.parametrize("shape,axis", [((6, 10, 40, 40), 1), ((1000, 64), 0), ((3, 70001, 9), 1)])
def test_cross_entropy_over_a_non_last_class_axis(isa, dtype, shape, axis):
    """Class axis 1 of an (N, C, H, W) batch, as in segmentation: column kernels,
    bitwise identical for any thread count, equal to the reference, grad in place."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t_shape = shape[:axis] + shape[axis + 1:]
    t = rng.integers(0, shape[axis], t_shape)
    want_loss, want_grad = fs.cross_entropy_with_grad(x, t, axis=axis, reduction="none",
                                                      n_threads=1)
    assert want_grad.flags.c_contiguous
    for n in THREADS[1:]:
        loss, grad = fs.cross_entropy_with_grad(x, t, axis=axis, reduction="none", n_threads=n)
        assert loss.tobytes() == want_loss.tobytes() and grad.tobytes() == want_grad.tobytes(), n
    rl, rg = ref.cross_entropy_with_grad(x, t, axis=axis, reduction="none")
    tol = EQUIV[dtype]
    what = f"CE {isa} {dtype} {shape} axis={axis}"
    assert_close(want_loss, rl, tol, scale=np.maximum(1, np.abs(rl)), what=what + " loss")
    assert_close(want_grad, rg, tol, atol=tol * 1e-3, what=what + " grad")
    assert_close(fs.cross_entropy(x, t, axis=axis, reduction="none", n_threads=2), rl, tol,
                 scale=np.maximum(1, np.abs(rl)), what=what + " forward")
    buf = x.copy()
    loss, grad = fs.cross_entropy_with_grad(buf, t, axis=axis, reduction="none", grad_out=buf)
    assert grad is buf and buf.tobytes() == want_grad.tobytes()
    bad = t.copy()
    bad.flat[5] = shape[axis]
    before = x.copy()
    with pytest.raises(ValueError, match="target"):
        fs.cross_entropy_with_grad(x, bad, axis=axis, grad_out=x)
    assert x.tobytes() == before.tobytes()


@compiled
@pytest.mark.parametrize("shape,axis", [((4, 300, 50), 1), ((5000, 24), 0)])
def test_backward_ops_over_a_non_last_axis(isa, dtype, shape, axis):
    """Column kernels for softmax_backward / log_softmax_backward: bitwise identical for
    any thread count, equal to the reference, out= aliasing grad."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for name, fwd in (("softmax_backward", "softmax"), ("log_softmax_backward", "log_softmax")):
        b = getattr(ref, fwd)(x, axis=axis).astype(dtype)
        f = getattr(fs, name)
        want = f(g, b, axis=axis, n_threads=1)
        assert want.flags.c_contiguous
        for n in THREADS[1:]:
            assert f(g, b, axis=axis, n_threads=n).tobytes() == want.tobytes(), (name, n)
        r = getattr(ref, name)(g, b, axis=axis)
        tol = EQUIV[dtype]
        # y * (g - dot) cancels where g ~ dot: the error is relative to the largest entry,
        # as in the row kernels' equivalence tests
        assert_close(want, r, tol, atol=tol * np.max(np.abs(r)), what=f"{name} {isa} {dtype} {shape}")
        buf = g.copy()
        assert f(buf, b, axis=axis, out=buf, n_threads=2) is buf
        assert buf.tobytes() == want.tobytes()
