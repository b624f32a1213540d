"""fastsoftmax.scipy against scipy.special itself, the oracle.

For every case: the same exception class, or the same result type, dtype
and shape, the same non-finite entries, and values within the accuracy
contract.  Values are compared with scipy run on the input widened to
float64 (long double stays long double), so that scipy's own rounding in
float16 and its wrapping integer subtraction (documented deviations) do not
count; dtypes and exceptions are compared with scipy run on the input as is.
"""
import itertools
import sys
import warnings

import numpy as np
import pytest

scipy_special = pytest.importorskip("scipy.special")

import fastsoftmax as fs  # noqa: E402
from fastsoftmax import scipy as sps  # noqa: E402
from _util import assert_close  # noqa: E402

OPS = ("softmax", "log_softmax", "logsumexp")
inf, nan = np.inf, np.nan

SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 5), (0,), (0, 3), (3, 0), (2, 0, 3)]
AXES = [None, 0, -1, 1, 2, 3, -3, (0,), (1,), (0, 1), (0, 2), (1, 2), (-1, 0), (0, 1, 2),
        (0, 2, 3), (), (0, 0), 1.0, [0], True]
FLOATS = [np.float16, np.float32, np.float64, np.longdouble]
INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64, np.uint64]
SPECIAL = np.array([nan, inf, -inf, 1e30, -1e30, 5e-324, 0.0, -0.0, 3.0])


def _values(shape, dtype, kind, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    dt = np.dtype(dtype)
    if dt.kind == "b":
        v = rng.integers(0, 2, n)
    elif dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -20
        v = rng.integers(lo, lo + 40, n)
    elif kind == "normal":
        v = rng.standard_normal(n) * 4
    elif kind == "special":     # non-finite, huge, subnormal and signed zeros mixed in
        v = rng.standard_normal(n)
        v = np.where(rng.random(n) < 0.4, rng.choice(SPECIAL, n), v)
    elif kind == "equal":
        v = np.full(n, -7.5)
    elif kind == "neginf":
        v = np.full(n, -inf)
    with np.errstate(over="ignore"):
        return np.asarray(v.reshape(shape)).astype(dt)


def _kinds(dtype):
    return ("normal", "special", "equal", "neginf") if np.dtype(dtype).kind == "f" else ("ints",)


def _call(fn, *args, **kw):
    """('ok', result) or ('raise', exception class), scipy's warnings silenced."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return "ok", fn(*args, **kw)
    except Exception as exc:   # noqa: BLE001 -- the class is the result
        return "raise", type(exc)


def _tolerance(dt):
    return {2: 2e-3, 4: 5e-6}.get(dt.itemsize, 1e-13)


def _wide(x):
    x = np.asarray(x)
    return x if x.dtype == np.longdouble else x.astype(np.float64)


def _empty_logsumexp_deviates(name, x, kw):
    """scipy's logsumexp of an empty array skips the axis checks (a list or a
    bool axis passes) and indexes its shape list with the axis tuple
    (IndexError for an invalid axis or several axes, every axis set to 1 for
    axis=()).  fastsoftmax checks the axis as for any other input and returns
    -inf (sign -1) of the reduced shape (documented): those cases are checked
    against a non-empty probe of the same rank instead."""
    if name != "logsumexp":
        return False
    b = kw.get("b")
    try:
        return np.prod(np.broadcast_shapes(np.shape(x), np.shape(b) if b is not None else ())) == 0
    except ValueError:
        return False


def _check_empty_logsumexp(x, mine, **kw):
    axis = kw.pop("axis")
    probe = _call(scipy_special.logsumexp, np.ones([d or 2 for d in np.shape(x)]), axis=axis, **kw)
    if probe[0] == "raise":
        return None if mine == probe else f"empty logsumexp axis={axis!r}: {mine}, expected {probe}"
    if mine[0] == "raise":
        return f"empty logsumexp axis={axis!r} {kw}: raised {mine[1]}"
    full = np.broadcast_shapes(np.shape(x), np.shape(kw["b"]) if kw.get("b") is not None else ())
    shape = np.sum(np.empty(full), axis=axis, keepdims=kw.get("keepdims", False)).shape
    for r in (mine[1] if kw.get("return_sign") else (mine[1],)):
        if np.shape(r) != shape:
            return f"empty logsumexp axis={axis!r} {kw}: shape {np.shape(r)}, expected {shape}"
    out = mine[1][0] if kw.get("return_sign") else mine[1]
    if not np.all(np.asarray(out) == -inf):
        return f"empty logsumexp axis={axis!r}: {out}"
    if kw.get("return_sign") and not np.all(np.asarray(mine[1][1]) == -1):
        return f"empty logsumexp axis={axis!r}: sign {mine[1][1]}"
    return None


def check_against_scipy(name, x, axis, **kw):
    """Compare one call; returns a description of the difference, or None."""
    what = f"{name}(dtype={np.asarray(x).dtype}, shape={np.shape(x)}, axis={axis!r}, {kw})"
    mine = _call(getattr(sps, name), x, axis=axis, **kw)
    if _empty_logsumexp_deviates(name, x, kw):
        return _check_empty_logsumexp(x, mine, axis=axis, **kw)
    theirs = _call(getattr(scipy_special, name), x, axis=axis, **kw)
    if mine[0] != theirs[0] or (mine[0] == "raise" and mine[1] is not theirs[1]):
        return f"{what}: fastsoftmax {mine} but scipy {theirs}"
    if mine[0] == "raise":
        return None
    got, want_like = mine[1], theirs[1]
    wide_kw = dict(kw)
    if kw.get("b") is not None:
        wide_kw["b"] = _wide(kw["b"])
    _, want = _call(getattr(scipy_special, name), _wide(x), axis=axis, **wide_kw)
    pairs = zip(got, want_like, want) if kw.get("return_sign") else [(got, want_like, want)]
    for g, like, w in pairs:
        if type(g) is not type(like) or np.shape(g) != np.shape(like):
            return f"{what}: got {type(g).__name__} {np.shape(g)}, scipy {type(like).__name__} {np.shape(like)}"
        if np.asarray(g).dtype != np.asarray(like).dtype:
            return f"{what}: dtype {np.asarray(g).dtype}, scipy {np.asarray(like).dtype}"
        dt = np.asarray(g).dtype
        with np.errstate(over="ignore"):
            w = np.asarray(w).astype(dt)
        tol = _tolerance(dt)
        try:
            assert_close(g, w, tol, atol=tol * 1e-3,
                         scale=None if name == "softmax" else np.maximum(1, np.abs(w)), what=what)
        except AssertionError as exc:
            return str(exc)
    return None


def _sweep(name, dtype):
    failures = []
    for shape, axis in itertools.product(SHAPES, AXES):
        for seed, kind in enumerate(_kinds(dtype)):
            x = _values(shape, dtype, kind, seed)
            for kw in ({}, {"keepdims": True}, {"return_sign": True}) if name == "logsumexp" else ({},):
                diff = check_against_scipy(name, x, axis, **kw)
                if diff:
                    failures.append(diff)
    return failures


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", FLOATS + INTS + [np.bool_], ids=lambda d: np.dtype(d).name)
def test_sweep_matches_scipy(name, dtype):
    failures = _sweep(name, dtype)
    assert not failures, f"{len(failures)} cases differ; first ones:\n" + "\n".join(failures[:8])


B_CASES = [
    # (a shape, b) -- b given as a function of the a array's shape
    ((4, 6), lambda s: np.ones(s)),
    ((4, 6), lambda s: np.where(np.arange(np.prod(s)).reshape(s) % 3 == 0, 0.0, 2.0)),
    ((4, 6), lambda s: np.random.default_rng(1).standard_normal(s)),     # negatives
    ((4, 6), lambda s: np.random.default_rng(2).standard_normal((1, s[-1]))),
    ((4, 6), lambda s: np.random.default_rng(3).standard_normal((s[0], 1))),
    ((4, 6), lambda s: np.random.default_rng(4).standard_normal((2,) + s)),  # b has more dims
    ((4, 6), lambda s: 2.5),
    ((4, 6), lambda s: -1.0),
    ((4, 6), lambda s: 0.0),
    ((4, 6), lambda s: np.float32(3)),
    ((4, 6), lambda s: np.zeros(s)),
    ((4, 6), lambda s: np.ones(s, np.float32)),
    ((4, 6), lambda s: np.ones(s, np.int64)),
    ((4, 6), lambda s: np.ones(s, np.bool_)),
    ((4, 6), lambda s: np.ones((5,))),                      # does not broadcast
    ((6,), lambda s: [1.0, -1.0, 1.0, -1.0, 1.0, -1.0]),
    ((), lambda s: [1.0, 2.0]),
    ((0, 3), lambda s: np.ones(3)),
    ((1, 2), lambda s: [[1.0, -1.0]]),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kind", ["normal", "special", "equal", "neginf"])
def test_logsumexp_b_matches_scipy(dtype, kind):
    failures = []
    for (shape, make_b), axis in itertools.product(B_CASES, [None, 0, -1, (0, 1), ()]):
        a = _values(shape, dtype, kind if np.dtype(dtype).kind == "f" else "ints", 7)
        b = make_b(shape)
        if isinstance(b, np.ndarray) and b.dtype.kind == "f" and kind == "special":
            b = b.copy()
            b.flat[::5] = 0.0                       # zero weights on inf / NaN terms
        for kw in ({}, {"return_sign": True}, {"keepdims": True, "return_sign": True}):
            diff = check_against_scipy("logsumexp", a, axis, b=b, **kw)
            if diff:
                failures.append(diff)
    assert not failures, f"{len(failures)} cases differ; first ones:\n" + "\n".join(failures[:8])


@pytest.mark.parametrize("a,b", [
    ([1.0, 2.0], [1.0, -1.0]),              # negative sum
    ([1.0, 1.0], [1.0, -1.0]),              # exact cancellation: -inf, sign 0
    ([inf, 1.0], [0.0, 1.0]),               # a zero weight drops an infinite term
    ([nan, 1.0], [0.0, 1.0]),               # ... and a NaN one
    ([inf, 1.0], [-1.0, 1.0]),              # -inf total
    ([inf, inf], [-1.0, 1.0]),              # inf - inf
    ([-inf, -inf], None),                   # empty sum: -inf, sign 0
    ([nan, 1.0], None),
    ([inf, 1.0], None),
    ([inf, -inf], None),
    ([1e308, 1e308], None),
    ([-1e308, -1e308], [1.0, 1.0]),
])
@pytest.mark.parametrize("return_sign", [False, True])
def test_logsumexp_edge_values_match_scipy(a, b, return_sign):
    assert check_against_scipy("logsumexp", np.array(a), None, b=b, return_sign=return_sign) is None


@pytest.mark.parametrize("name", OPS)
def test_python_and_list_inputs_match_scipy(name):
    for x in (3.0, 3, [1, 2, 3], [[1.0, 2.0], [3.0, 4.0]], np.float32(2.0), np.int8(5), [True, False]):
        for axis in (None, 0, -1, ()):
            diff = check_against_scipy(name, x, axis)
            assert diff is None, diff


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("layout", ["fortran", "sliced", "negative", "readonly", "transposed"])
def test_layouts_match_scipy(name, layout):
    base = np.random.default_rng(5).standard_normal((6, 8, 10)).astype(np.float32)
    x = {"fortran": np.asfortranarray(base), "sliced": base[::2, 1:, ::3],
         "negative": base[::-1, :, ::-2], "readonly": base.copy(),
         "transposed": base.transpose(2, 0, 1)}[layout]
    x.flags.writeable = layout != "readonly"
    before = x.copy()
    for axis in (None, 0, 1, 2, (0, 1), (1, 2), (0, 2), ()):
        diff = check_against_scipy(name, x, axis)
        assert diff is None, diff
    assert np.array_equal(x, before)


def test_deviations_are_right():
    """Where scipy is wrong, fastsoftmax is right and keeps scipy's dtype."""
    x = np.array([1, 3], np.uint8)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        assert np.isnan(scipy_special.softmax(x)).any()      # wrapped subtraction
    got = sps.softmax(x)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, scipy_special.softmax(x.astype(np.float64)), rtol=1e-3)
    got = sps.log_softmax(np.array([-100, 100], np.int8))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, [-200.0, 0.0], rtol=1e-3)
    # logsumexp of an empty array over several axes: -inf of the reduced shape
    e = np.empty((2, 0, 3))
    assert sps.logsumexp(e, axis=(0, 1)).tolist() == [-inf] * 3
    assert sps.logsumexp(e, axis=None) == -inf
    assert sps.logsumexp(e, axis=None, keepdims=True).shape == (1, 1, 1)
    out, sgn = sps.logsumexp(e, axis=(0, 1), return_sign=True)
    assert sgn.tolist() == [-1.0] * 3
    assert sps.logsumexp(e, axis=()).shape == (2, 0, 3)


@pytest.mark.parametrize("name", OPS)
def test_complex_input_goes_to_scipy(name, monkeypatch):
    calls = []
    original = getattr(scipy_special, name)

    def spy(*args, **kw):
        calls.append(kw)
        return original(*args, **kw)

    monkeypatch.setattr(scipy_special, name, spy)
    x = np.array([[1 + 1j, 2.0], [0.5j, 1.0]])
    got = getattr(sps, name)(x, axis=1)
    assert len(calls) == 1 and calls[0]["axis"] == 1
    np.testing.assert_array_equal(got, original(x, axis=1))
    calls.clear()
    getattr(sps, name)(np.ones((2, 2)), axis=1)      # real input: the kernels
    assert calls == []


def test_logsumexp_without_b_uses_the_kernels(monkeypatch):
    seen = []
    real = fs.logsumexp

    def spy(x, axis=-1, **kw):
        seen.append((x.shape, axis))
        return real(x, axis=axis, **kw)

    monkeypatch.setattr(fs, "logsumexp", spy)
    x = np.ones((2, 3, 4))
    sps.logsumexp(x, axis=(1, 2))
    sps.logsumexp(x, axis=(0, 2))
    assert seen == [((2, 12), 1), ((3, 8), -1)]       # adjacent axes merged; scattered moved last
    seen.clear()
    sps.logsumexp(x, axis=1, b=np.ones(4))            # b: the NumPy port
    assert seen == []


def test_without_scipy_non_real_input_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    with pytest.raises(TypeError, match="scipy is not installed"):
        sps.softmax(np.array([1j]))
    # real input and b= need no scipy
    assert sps.logsumexp([0.0, 0.0], b=[1.0, 1.0]) == pytest.approx(np.log(2))
    assert sps.softmax([0.0, 0.0]).tolist() == [0.5, 0.5]


def test_bool_softmax_raises_like_scipy():
    for name in ("softmax", "log_softmax"):
        with pytest.raises(TypeError, match="bool"):
            getattr(sps, name)(np.array([True, False]))


def test_signatures_match_scipy():
    import inspect
    for name in OPS:
        mine = inspect.signature(getattr(sps, name))
        theirs = inspect.signature(inspect.unwrap(getattr(scipy_special, name)))
        assert mine == theirs, (name, mine, theirs)


@pytest.mark.parametrize("shape,axis", [((64, 3000), None), ((8, 50, 40), (0, 2)),
                                        ((4, 3, 2000), (0, 1)), ((100, 70000), 1)])
def test_large_groups_match_scipy(shape, axis):
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32) * 10
    for name in OPS:
        diff = check_against_scipy(name, x, axis)
        assert diff is None, diff

# --------------------------------------------------------------------------
# Patching
# --------------------------------------------------------------------------


def _scipy_user(x):
    """Code written against scipy: it looks the functions up on the module."""
    import scipy.special
    return scipy.special.softmax(x, axis=1), scipy.special.logsumexp(x, axis=1)


@pytest.fixture
def unpatched():
    fs.unpatch_scipy()
    yield
    fs.unpatch_scipy()


def test_patch_and_unpatch(unpatched):
    originals = {n: getattr(scipy_special, n) for n in OPS}
    from scipy.special import softmax as bound_before
    x = np.random.default_rng(0).standard_normal((5, 7))
    want = _scipy_user(x)
    fs.patch_scipy()
    fs.patch_scipy()                        # twice is harmless
    for n in OPS:
        assert getattr(scipy_special, n) is getattr(sps, n)
    got = _scipy_user(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    assert bound_before is originals["softmax"]     # names bound earlier are not reached
    fs.unpatch_scipy()
    for n in OPS:
        assert getattr(scipy_special, n) is originals[n]
    fs.unpatch_scipy()                      # unpatching twice is harmless too
    assert scipy_special.softmax is originals["softmax"]


def test_patched_scipy_context(unpatched):
    original = scipy_special.logsumexp
    x = np.random.default_rng(1).standard_normal((3, 4))
    with fs.patched_scipy():
        assert scipy_special.logsumexp is sps.logsumexp
        np.testing.assert_allclose(_scipy_user(x)[1], original(x, axis=1), rtol=1e-13)
        # non-real input still reaches scipy's own function, not the patched one
        np.testing.assert_array_equal(scipy_special.logsumexp(np.array([1j, 2.0])),
                                      original(np.array([1j, 2.0])))
    assert scipy_special.logsumexp is original
    with pytest.raises(RuntimeError):
        with fs.patched_scipy():
            raise RuntimeError("restored anyway")
    assert scipy_special.logsumexp is original
    fs.patch_scipy()                        # an outer patch survives an inner block
    with fs.patched_scipy():
        pass
    assert scipy_special.logsumexp is sps.logsumexp


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(sps, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


def test_large_64_bit_integers_are_shifted_exactly():
    for x in (np.array([2**60, 2**60 + 1]), np.array([1700000000000000000, 1700000000000000001]),
              np.array([2**64 - 2, 2**64 - 1], np.uint64), np.array([-2**63, -2**63 + 1])):
        np.testing.assert_allclose(sps.softmax(x), [0.2689414213699951, 0.7310585786300049],
                                   rtol=1e-15)
        np.testing.assert_allclose(sps.log_softmax(x), [-1.3132616875182228, -0.31326168751822286],
                                   rtol=1e-15)
        assert sps.softmax(x).dtype == np.float64
    x = np.array([[2**62, 5], [2**62 + 3, 7]])          # per-group maxima, axis 0
    np.testing.assert_allclose(sps.softmax(x, axis=0)[:, 0], scipy_special.softmax([0.0, 3.0]))


def test_python_ints_beyond_int64():
    for v in (2**70, -2**70):
        assert sps.logsumexp(v) == pytest.approx(float(v), rel=1e-15)
    assert sps.logsumexp(np.zeros(2), b=2**70) == pytest.approx(70 * np.log(2) + np.log(2))


def test_other_array_types_and_byte_order():
    torch = pytest.importorskip("torch")
    assert sps.logsumexp(torch.tensor(3.0)) == np.float32(3.0)
    assert sps.logsumexp(np.ones(3), b=torch.tensor(2.0)) == pytest.approx(
        scipy_special.logsumexp(np.ones(3), b=2.0), rel=1e-15)
    for name in OPS:
        for dt in (">f8", ">f4", "<f8"):
            got = getattr(sps, name)(np.array([1.0, 2.0], dtype=dt))
            assert got.dtype == np.dtype(dt).newbyteorder("="), (name, dt)


def test_installed_by_hand_complex_input_does_not_recurse(monkeypatch):
    monkeypatch.setattr(scipy_special, "softmax", sps.softmax)     # not via patch_scipy
    x = np.array([1j, 2.0])
    from scipy.special import _logsumexp
    np.testing.assert_array_equal(sps.softmax(x), _logsumexp.softmax(x))
