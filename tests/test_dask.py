"""fastsoftmax.dask against the in-memory functions: chunkings, schedulers, options."""
import itertools

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import fastsoftmax as fs  # noqa: E402
import fastsoftmax.dask as fsd  # noqa: E402
from _util import EQUIV, assert_close  # noqa: E402

SCHEDULERS = ["sync", "threads"]
# (shape, axis, chunkings): the class axis whole, and split unevenly
CASES = [
    ((50, 37), -1, [(10, -1), (10, 8), (7, 5), (50, 37)]),
    ((50, 37), 0, [(-1, 9), (13, 9), (1, 37)]),
    ((4, 21, 9), 1, [(2, -1, 5), (1, 6, 9), (4, 1, 3)]),
]


def _data(shape, dtype, seed=0, special=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    if special:   # rows with NaN, +inf, all -inf, some -inf
        m = np.moveaxis(x, -1, 0)
        m[:, 0, ...] = np.nan
        m[3, 1, ...] = np.inf
        m[:, 2, ...] = -np.inf
        m[::2, 3, ...] = -np.inf
    return x.astype(dtype)


def _scale(name, want):
    return None if name == "softmax" else np.maximum(1, np.abs(want))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_rowwise_match_in_memory(name, dtype, scheduler):
    for (shape, axis, chunkings), special in itertools.product(CASES, [False, True]):
        x = _data(shape, dtype, special=special)
        want = getattr(fs, name)(x, axis=axis)
        for chunks in chunkings:
            lazy = getattr(fsd, name)(da.from_array(x, chunks=chunks), axis=axis)
            assert isinstance(lazy, da.Array)
            got = lazy.compute(scheduler=scheduler)
            what = f"{name} {shape} axis={axis} chunks={chunks} special={special}"
            assert got.dtype == want.dtype, what
            assert_close(got, want, EQUIV[np.dtype(dtype)], atol=1e-30,
                         scale=_scale(name, want), what=what)


def test_logsumexp_keepdims_and_float16():
    x = _data((6, 10), np.float16)
    d = da.from_array(x, chunks=(3, 4))
    got = fsd.logsumexp(d, axis=1, keepdims=True).compute()
    assert got.shape == (6, 1) and got.dtype == np.float16
    np.testing.assert_allclose(got, fs.logsumexp(x, axis=1, keepdims=True), rtol=1e-3)
    assert fsd.softmax(d).dtype == np.float16


OPTIONS = [{}, {"weight": "w"}, {"label_smoothing": 0.1},
           {"weight": "w", "label_smoothing": 0.2, "z_loss": 0.01}, {"ignore_index": None}]


def _resolve(kw, w):
    return {k: (w if v == "w" else v) for k, v in kw.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction,scheduler", [("mean", "sync"), ("sum", "sync"),
                                                 ("none", "sync"), ("mean", "threads")])
def test_cross_entropy_matches_in_memory(reduction, scheduler, dtype):
    rng = np.random.default_rng(1)
    tol = {np.float32: 2e-5, np.float64: 1e-11}[dtype]
    failures = []
    for shape, axis, chunkings in CASES:
        x = _data(shape, dtype, seed=2)
        n_classes = shape[axis]
        t = rng.integers(0, n_classes, np.delete(np.array(shape), axis))
        t.reshape(-1)[::4] = -100
        w = rng.random(n_classes) + 0.5
        for kw, chunks in itertools.product(OPTIONS, chunkings):
            opts = _resolve(kw, w)
            if opts.get("ignore_index", -100) is None and (t < 0).any():
                opts["ignore_index"] = -100
            want_l, want_g = fs.cross_entropy_with_grad(x, t, axis=axis, reduction=reduction, **opts)
            d = da.from_array(x, chunks=chunks)
            lazy_l, lazy_g = fsd.cross_entropy_with_grad(d, t, axis=axis, reduction=reduction, **opts)
            got_l, got_g = dask.compute(lazy_l, lazy_g, scheduler=scheduler)
            only_l = fsd.cross_entropy(d, t, axis=axis, reduction=reduction, **opts).compute(
                scheduler=scheduler)
            what = f"{shape} axis={axis} chunks={chunks} {kw}"
            try:
                assert np.asarray(got_l).dtype == np.dtype(dtype)
                np.testing.assert_allclose(got_l, want_l, rtol=tol, atol=tol * 1e-3)
                np.testing.assert_allclose(only_l, want_l, rtol=tol, atol=tol * 1e-3)
                gmax = np.abs(want_g).max()
                np.testing.assert_allclose(got_g, want_g, rtol=0, atol=tol * gmax)
            except AssertionError as exc:
                failures.append(f"{what}: {exc}")
    assert not failures, "\n".join(failures[:4])


def test_probability_targets_and_softcap_in_one_class_chunk():
    x = _data((30, 12), np.float64, seed=3)
    p = fs.softmax(_data((30, 12), np.float64, seed=4))
    d = da.from_array(x, chunks=(7, -1))
    for kw in ({}, {"softcap": 2.0}, {"label_smoothing": 0.1, "z_loss": 0.1}):
        want_l, want_g = fs.cross_entropy_with_grad(x, p, **kw)
        got_l, got_g = dask.compute(*fsd.cross_entropy_with_grad(d, da.from_array(p, chunks=5), **kw))
        np.testing.assert_allclose(got_l, want_l, rtol=1e-12)
        np.testing.assert_allclose(got_g, want_g, rtol=1e-10, atol=1e-16)
    split = da.from_array(x, chunks=(7, 5))
    with pytest.raises(ValueError, match="one chunk"):
        fsd.cross_entropy(split, p)
    with pytest.raises(ValueError, match="one chunk"):
        fsd.cross_entropy(split, np.zeros(30, np.int64), softcap=3.0)


def test_mean_is_exact_over_uneven_sample_chunks():
    # per-chunk means averaged would be wrong: chunks of 1 and 29 samples, weights uneven
    x = _data((30, 5), np.float64, seed=5)
    t = np.arange(30) % 5
    t[1:20] = -100
    w = np.array([1.0, 10.0, 0.1, 3.0, 0.5])
    want = fs.cross_entropy(x, t, weight=w)
    got = fsd.cross_entropy(da.from_array(x, chunks=((1, 29), 5)), t, weight=w).compute()
    assert got == pytest.approx(want, rel=1e-13)
    all_ignored = fsd.cross_entropy(da.from_array(x, chunks=10), np.full(30, -100)).compute()
    assert all_ignored == 0.0


def test_lazy_until_computed_and_bad_targets_raise_then():
    x = da.from_array(_data((8, 6), np.float64), chunks=(4, 3))
    bad = np.array([0, 1, 2, 3, 4, 5, 6, 0])        # 6 is not a class
    loss = fsd.cross_entropy(x, bad)                   # building the graph checks nothing
    with pytest.raises(ValueError, match="not a valid class index"):
        loss.compute()
    with pytest.raises(ValueError, match="shape"):
        fsd.cross_entropy(x, np.zeros(7, np.int64))
    with pytest.raises(TypeError, match="dtype"):
        fsd.cross_entropy(x, np.zeros(8, bool))
    with pytest.raises(ValueError, match="label_smoothing"):
        fsd.cross_entropy(x, np.zeros(8, np.int64), label_smoothing=2.0)


def test_inputs_untouched_and_numpy_input_accepted():
    x = _data((10, 7), np.float32)
    before = x.copy()
    got = fsd.softmax(x).compute()                     # a NumPy array becomes one chunk
    np.testing.assert_array_equal(got, fs.softmax(x))
    fsd.cross_entropy_with_grad(da.from_array(x, chunks=(5, 3)), np.zeros(10, np.int64))[1].compute()
    np.testing.assert_array_equal(x, before)


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(fsd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


@pytest.fixture
def restored_environ():
    """distributed sets OMP_NUM_THREADS=1 (and the MKL / OpenBLAS ones) in this process's
    environment for its workers and leaves them: that would change fastsoftmax's default
    thread count for the tests after this one."""
    import os
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_local_cluster_of_two_worker_processes(restored_environ):
    distributed = pytest.importorskip("dask.distributed")
    x = _data((200, 50), np.float64, seed=6)
    t = np.arange(200) % 50
    t[::7] = -100
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for chunks in ((50, -1), (50, 20)):            # class axis whole, and split
            lazy = fsd.cross_entropy_with_grad(da.from_array(x, chunks=chunks), t,
                                               label_smoothing=0.1)
            loss, grad = client.compute(lazy, sync=True)
            want_l, want_g = fs.cross_entropy_with_grad(x, t, label_smoothing=0.1)
            assert loss == pytest.approx(want_l, rel=1e-13)
            np.testing.assert_allclose(grad, want_g, rtol=1e-11, atol=1e-17)
            p = client.compute(fsd.softmax(da.from_array(x, chunks=chunks)), sync=True)
            np.testing.assert_allclose(p, fs.softmax(x), rtol=1e-13)


@pytest.mark.parametrize("chunks", [(3, -1), (3, 4), (1, 1)])
@pytest.mark.parametrize("margin", [20, 40, 80])
def test_dominant_entry_is_log1p_accurate_across_class_chunks(chunks, margin):
    """The partials carry the sum less the max's term, so a dominant entry's
    log-probability and a confident, correct prediction's loss (and its gradient
    p - 1) keep their relative accuracy when the class axis is split."""
    rng = np.random.default_rng(margin)
    x = 1.5 - margin - rng.uniform(0, 2, (3, 11))
    places = np.array([0, 5, 10])
    x[np.arange(3), places] = 1.5
    rest = np.array([np.exp(np.delete(x[k], places[k]) - 1.5).sum() for k in range(3)])
    d = da.from_array(x, chunks=chunks)
    lsm = fsd.log_softmax(d).compute(scheduler="sync")
    got = lsm[np.arange(3), places]
    assert np.all(np.abs(got + np.log1p(rest)) <= 5e-14 * np.log1p(rest)), (got, rest)
    lse = fsd.logsumexp(d).compute(scheduler="sync")
    assert np.all(np.abs(lse - (1.5 + np.log1p(rest))) <= 5e-14 * 1.5)
    loss = fsd.cross_entropy(d, places, reduction="none").compute(scheduler="sync")
    assert np.all(np.abs(loss - np.log1p(rest)) <= 5e-14 * np.log1p(rest)), (loss, rest)
    _, grad = fsd.cross_entropy_with_grad(d, places, reduction="sum")
    gt = grad.compute(scheduler="sync")[np.arange(3), places]
    want = -rest / (1 + rest)
    assert np.all(np.abs(gt - want) <= 5e-14 * np.abs(want)), (gt, want)
