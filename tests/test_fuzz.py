"""Hypothesis fuzzing of every public function against its reference.

Each drawn case -- dtype, shape (0 and 1 included), layout (C, Fortran, sliced,
negative strides, broadcast, misaligned, byte-swapped, read-only), axis, values
(NaN, +-inf, +-1e30, subnormals, all equal), out= (none, fresh, aliasing the
input, misaligned, wrong shape / dtype, read-only), targets (valid, ignored,
negative, >= C, wrong dtype / shape), options and ISA -- either matches the
reference (the equivalence tolerance, non-finite entries in the same places,
the same result types) or raises the same exception class.  Every input that
is not (and does not share memory with) out / grad_out is byte-identical after
the call, on both sides.

The reference of the core API is fastsoftmax.reference; of fastsoftmax.scipy,
scipy.special itself.

Examples per test: the loaded Hypothesis profile's max_examples times
FUZZ_FACTOR.  CI uses the "ci" profile (tests/conftest.py: derandomized, so a
fixed seed, 60 x 10 = 600 examples a test); for a long local run:

    pytest tests/test_fuzz.py --hypothesis-profile=long --hypothesis-show-statistics

("long": 2000 x 10 = 20,000 examples a test, a new random seed each run).
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastsoftmax as fs
from fastsoftmax import reference as ref
from _util import EQUIV, assert_close, isa_set, target_weights

# On the NumPy backend fastsoftmax *is* the reference: only the scipy drop-ins are compared.
compiled = pytest.mark.skipif(fs.backend != "c", reason="the NumPy backend is the reference")

FUZZ_FACTOR = 10
FUZZ = settings(max_examples=settings.default.max_examples * FUZZ_FACTOR)

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
# float16 results: both round once to float16 (1 ulp ~ 1e-3); long double: the reference's
# algorithm against scipy's (the core API: the reference on both sides, exactly equal)
TOL = {F16: 2e-3, **EQUIV, np.dtype(np.longdouble): 1e-16}
WIDTH = {F16: 16, F32: 32, F64: 64}

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e-40, -1e-40,
           1e-310, 3e9, -3e9, 88.7, -103.0, 709.0, -745.0, 3e38, -3e38, 1e300]


def _specials(dtype, values=SPECIAL):
    """``values`` as the dtype holds them (1e30 is inf in float16, 1e-40 is 0)."""
    with np.errstate(over="ignore", under="ignore"):
        return [float(v) for v in np.array(values).astype(dtype)]


def elements(dtype, lo=-30.0, hi=30.0, specials=None):
    """Ordinary values, the special ones, and anything the dtype holds."""
    w = WIDTH[dtype]
    return st.one_of(st.floats(lo, hi, width=w),
                     st.sampled_from(_specials(dtype) if specials is None else specials),
                     st.floats(width=w))


@st.composite
def values(draw, dtype, shape, elems=None):
    """A C-ordered array of ``shape``; sometimes all one value."""
    if elems is None and (dtype.kind != "f" or dtype.itemsize > 8):
        return draw(hnp.arrays(dtype, shape))
    el = elements(dtype) if elems is None else elems
    if draw(st.integers(0, 5)) == 0:
        return np.full(shape, draw(el), dtype)
    return draw(hnp.arrays(dtype, shape, elements=el))


REAL_DTYPES = [F32, F64]
ODD_DTYPES = [F16, np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_),
              np.dtype(np.longdouble), np.dtype(np.complex64)]


def dtypes():
    """float32 / float64 mostly; the other real dtypes (and complex, a TypeError) sometimes."""
    return st.one_of(st.sampled_from(REAL_DTYPES), st.sampled_from(REAL_DTYPES),
                     st.sampled_from(REAL_DTYPES), st.sampled_from(ODD_DTYPES))


def shapes(min_dims=0, max_dims=3, max_side=9):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)


LAYOUTS = ["C", "C", "F", "sliced", "reversed", "broadcast", "unaligned", "byteswapped",
           "readonly"]


def _unaligned(a):
    buf = np.zeros(a.nbytes + a.itemsize + 1, np.uint8)
    u = buf[1:1 + a.nbytes].view(a.dtype).reshape(a.shape)
    u[...] = a
    return u


def lay(base, kind):
    """A new array holding ``base``'s values (a broadcast one: its first entry along axis 0)
    in the memory layout ``kind``."""
    if kind == "F":
        return np.asfortranarray(base.copy())
    if kind == "sliced" and base.ndim:
        big = np.zeros(tuple(2 * s + 1 for s in base.shape), base.dtype)
        v = big[tuple(slice(1, None, 2) for _ in base.shape)]
        v[...] = base
        return v
    if kind == "reversed" and base.ndim:
        flip = tuple(slice(None, None, -1) for _ in base.shape)
        return base[flip].copy()[flip]
    if kind == "broadcast" and base.ndim and base.shape[0]:
        return np.broadcast_to(base[:1], base.shape)
    if kind == "unaligned" and base.dtype.kind != "O":
        return _unaligned(base)
    if kind == "byteswapped" and base.dtype.itemsize > 1 and base.dtype.kind != "O":
        return base.astype(base.dtype.newbyteorder())
    if kind == "readonly":
        r = base.copy()
        r.flags.writeable = False
        return r
    return base.copy()


def result_dtype(dtype):
    return dtype if dtype.kind == "f" else F64


def out_array(kind, shape, dtype, x):
    """An out= argument: a fresh array (several layouts), a view of x, or a wrong one."""
    if kind == "fresh":
        return np.full(shape, np.nan, dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    if kind == "fresh-F":
        return np.asfortranarray(np.zeros(shape, dtype))
    if kind == "fresh-sliced":
        return lay(np.zeros(shape, dtype), "sliced")
    if kind == "unaligned":
        return _unaligned(np.zeros(shape, dtype))
    if kind == "alias":
        return x
    if kind == "alias-reversed":
        return x[::-1] if x.ndim else x
    if kind == "wrong-shape":
        return np.zeros(tuple(shape) + (1,), dtype)
    if kind == "wrong-dtype":
        return np.zeros(shape, F32 if dtype != F32 else F64)
    if kind == "readonly":
        return lay(np.zeros(shape, dtype), "readonly")
    if kind == "list":
        return np.zeros(shape, dtype).tolist()
    return None


OUTS = ["none", "none", "none", "fresh", "fresh-F", "fresh-sliced", "unaligned", "alias",
        "alias-reversed", "wrong-shape", "wrong-dtype", "readonly", "list"]


def axes(ndim, allow_none=True):
    good = st.integers(-ndim, ndim - 1) if ndim else st.just(-1)
    bad = st.sampled_from([ndim, -ndim - 1, 1.0, True, "0", (0,)])
    choices = [good, good, good, good, bad] + ([st.none()] if allow_none else [])
    return st.one_of(*choices)


THREADS = st.sampled_from([None, None, 1, 2, 3, 0, -1, 1.5, True])


ISAS = st.sampled_from(fs.available_isas())


def _arrays_in(args, kwargs):
    return [a for a in list(args) + list(kwargs.values()) if isinstance(a, np.ndarray)]


def outcome(f, build):
    """Call ``f`` on freshly built arguments: ("ok", result, outs) or ("raise", class, exc).
    Inputs not sharing memory with an output are checked byte-identical afterwards."""
    args, kwargs = build()
    outs = [kwargs[k] for k in ("out", "grad_out") if isinstance(kwargs.get(k), np.ndarray)]
    inputs = [a for a in _arrays_in(args, kwargs)
              if not any(a is o or np.may_share_memory(a, o) for o in outs)]
    before = [(a, a.tobytes(), a.dtype, a.shape, a.strides) for a in inputs]
    try:
        r = f(*args, **kwargs)
    except Exception as exc:     # noqa: BLE001 -- compared with the reference's below
        res = ("raise", type(exc), exc)
    else:
        res = ("ok", r, outs)
    for a, b, dt, shp, st_ in before:
        assert (a.tobytes(), a.dtype, a.shape, a.strides) == (b, dt, shp, st_), (
            f"{getattr(f, '__name__', f)} modified an input")
    return res


def _parts(r):
    return list(r) if isinstance(r, tuple) else [r]


def compare(got, want, kinds, what, scales=None):
    """Same outcome: the same exception class, or results of the same types, shapes,
    dtypes and values (within the tolerance of their kind)."""
    if want[0] == "raise" or got[0] == "raise":
        assert got[0] == want[0], f"{what}: got {got[1:]} want {want[1:]}"
        assert got[1] is want[1], f"{what}: raised {got[1].__name__}({got[2]}) where the " \
                                  f"reference raised {want[1].__name__}({want[2]})"
        return
    gr, wr = _parts(got[1]), _parts(want[1])
    assert type(got[1]) is type(want[1]) and len(gr) == len(wr), what
    for i, (g, w) in enumerate(zip(gr, wr)):
        if w is None:
            assert g is None, what
            continue
        assert type(g) is type(w), f"{what}: result {i} is {type(g)}, the reference's {type(w)}"
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (
            f"{what}: result {i} {g.dtype}{g.shape} != {w.dtype}{w.shape}")
        _close(g, w, kinds[min(i, len(kinds) - 1)], what + f" result {i}",
               None if scales is None else scales[i])
    # an out= given is returned, on both sides
    for go, wo in zip(got[2], want[2]):
        assert any(g is go for g in gr) == any(w is wo for w in wr), what


def _close(g, w, kind, what, scale=None):
    if w.dtype.kind != "f":            # complex: scipy.special's own function on both sides
        assert np.array_equal(g, w, equal_nan=w.dtype.kind == "c"), what
        return
    rtol = TOL.get(np.dtype(w.dtype.newbyteorder("=")), 0.0)
    with np.errstate(all="ignore"):
        if kind == "prob":
            assert_close(g, w, rtol, atol=rtol * 1e-30, what=what)
        elif kind == "log":
            assert_close(g, w, rtol, scale=np.maximum(1.0, np.abs(w.astype(np.float64))), what=what)
        else:                          # "scaled": error relative to a given scale
            assert_close(g, w, rtol, atol=rtol * 1e-30, scale=scale, what=what)


# ---------------------------------------------------------------- softmax, log_softmax, logsumexp

@st.composite
def laid_out(draw):
    """(dtype, values, layout name) of an input array."""
    dtype = draw(dtypes())
    base = draw(values(dtype, draw(shapes())))
    return dtype, base, draw(st.sampled_from(LAYOUTS))


@st.composite
def unary_case(draw, reducing):
    dtype, base, layout = draw(laid_out())
    shape = base.shape
    axis = draw(axes(len(shape)))
    keepdims = draw(st.booleans()) if reducing else False
    out_kind = draw(st.sampled_from(OUTS))
    nt = draw(THREADS)
    return dtype, base, layout, axis, keepdims, out_kind, nt


def _reduced_out_alias(x, axis, keepdims):
    """A view of x with the reduced shape (the first entry along the axis)."""
    if x.ndim == 0 or not isinstance(axis, int) or isinstance(axis, bool) \
            or not -x.ndim <= axis < x.ndim or x.shape[axis] == 0:
        return None
    idx = [slice(None)] * x.ndim
    idx[axis] = slice(0, 1) if keepdims else 0
    return x[tuple(idx)]


def _unary_build(name, case):
    dtype, base, layout, axis, keepdims, out_kind, nt = case

    def build():
        x = lay(base, layout)
        kw = {"axis": axis}
        if nt is not None:
            kw["n_threads"] = nt
        if name == "logsumexp":
            kw["keepdims"] = keepdims
            if out_kind.startswith("alias"):
                kw["out"] = _reduced_out_alias(x, axis, keepdims)
            elif out_kind != "none":
                try:
                    ax = axis if axis is None else int(axis) % max(x.ndim, 1)
                    shape = np.sum(np.zeros(x.shape, np.int8), axis=ax, keepdims=keepdims).shape
                except Exception:   # noqa: BLE001 -- a bad axis: any out will do
                    shape = x.shape
                kw["out"] = out_array(out_kind, shape, result_dtype(dtype), x)
        elif out_kind != "none":
            kw["out"] = out_array(out_kind, x.shape, result_dtype(dtype), x)
        return (x,), kw
    return build


@compiled
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@FUZZ
@given(case=st.data())
def test_fuzz_unary(name, case):
    c = case.draw(unary_case(name == "logsumexp"))
    isa = case.draw(ISAS)
    build = _unary_build(name, c)
    with isa_set(isa):
        got = outcome(getattr(fs, name), build)
    want = outcome(getattr(ref, name), build)
    compare(got, want, ["prob" if name == "softmax" else "log"],
            f"{name} isa={isa} dtype={c[0]} shape={c[1].shape} layout={c[2]} axis={c[3]!r} "
            f"keepdims={c[4]} out={c[5]} n_threads={c[6]!r}")


# ---------------------------------------------------------------- backward ops

@st.composite
def backward_case(draw, name):
    dtype = draw(dtypes())
    shape = draw(shapes())
    real = dtype.kind == "f" and dtype.itemsize <= 8
    # upstream gradients up to +-1e30 (and inf, NaN): near the float max, sums of g * y
    # overflow in float32 where the float64 reference does not
    g = draw(values(dtype, shape, elements(dtype, specials=[
        v for v in _specials(dtype) if not 1e30 < abs(v) < np.inf]).filter(
            lambda v: not 1e30 < abs(v) < np.inf) if real else None))
    shape2 = shape if draw(st.integers(0, 9)) else draw(shapes())   # mismatched sometimes
    if real and name == "softmax_backward":       # probabilities
        el = st.one_of(st.floats(0.0, 1.0, width=WIDTH[dtype]),
                       st.sampled_from(_specials(dtype, [0.0, 1.0, 0.5, np.nan, 1e-40])))
        b = draw(values(dtype, shape2, el))
    elif real:                                    # log-probabilities
        el = st.one_of(st.floats(-100.0, 0.0, width=WIDTH[dtype]),
                       st.sampled_from(_specials(dtype, [0.0, -1.0, -np.inf, np.nan, -1e30,
                                                         -745.0])))
        b = draw(values(dtype, shape2, el))
    else:
        b = draw(values(dtype, shape2))
    layouts = (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS)))
    axis = draw(axes(len(shape)))
    out_kind = draw(st.sampled_from(OUTS + ["alias-2"]))
    nt = draw(THREADS)
    return dtype, g, b, layouts, axis, out_kind, nt


def _backward_scale(name, g, b, axis):
    """Per-entry error scale: |y| (|g| + sum |g y|), or |g| + p sum |g|."""
    if g.shape != b.shape or g.dtype.kind != "f" or g.size == 0 or g.dtype.itemsize > 8:
        return None
    try:
        ax = None if axis is None else int(axis) % g.ndim
    except Exception:   # noqa: BLE001
        return None
    g64, b64 = np.abs(g.astype(np.float64)), b.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "softmax_backward":
            y = np.abs(b64)
            return y * (g64 + np.sum(g64 * y, axis=ax, keepdims=True))
        # the kernels take exp(logp) in the data type: below its normal range that is
        # exact only to ~2 of its smallest subnormals (float32: 1.4e-45), times sum |g|
        rtol = TOL[np.dtype(g.dtype.newbyteorder("="))]
        floor = 2 * np.finfo(g.dtype).smallest_subnormal / rtol
        return g64 + np.maximum(np.exp(b64), floor) * np.sum(g64, axis=ax, keepdims=True)


@compiled
@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@FUZZ
@given(case=st.data())
def test_fuzz_backward(name, case):
    dtype, g, b, (lg, lb), axis, out_kind, nt = case.draw(backward_case(name))
    isa = case.draw(ISAS)

    def build():
        ga, ba = lay(g, lg), lay(b, lb)
        kw = {"axis": axis}
        if nt is not None:
            kw["n_threads"] = nt
        if out_kind == "alias-2":
            kw["out"] = ba
        elif out_kind != "none":
            kw["out"] = out_array(out_kind, ga.shape, result_dtype(dtype), ga)
        return (ga, ba), kw

    with isa_set(isa):
        got = outcome(getattr(fs, name), build)
    want = outcome(getattr(ref, name), build)
    compare(got, want, ["scaled"],
            f"{name} isa={isa} dtype={dtype} shapes={g.shape},{b.shape} layouts={lg},{lb} "
            f"axis={axis!r} out={out_kind} n_threads={nt!r}",
            scales=[_backward_scale(name, lay(g, lg), lay(b, lb), axis)])


# ---------------------------------------------------------------- cross-entropy, nll_loss

INT_DTYPES = [np.dtype(t) for t in (np.int64, np.int64, np.int32, np.uint8, np.uint64, np.int16)]


@st.composite
def class_targets(draw, sample_shape, n_classes, ignore_index):
    """Integer class indices: mostly valid, some ignored, some out of range."""
    dt = draw(st.sampled_from(INT_DTYPES))
    info = np.iinfo(dt)
    pool = [st.integers(0, max(n_classes - 1, 0))] * 6
    special = [v for v in (-1, n_classes, n_classes + 7, -100, info.max,
                           ignore_index if isinstance(ignore_index, int) else 0)
               if info.min <= v <= info.max]
    pool.append(st.sampled_from(special))
    el = st.one_of(*pool).filter(lambda v: info.min <= v <= info.max)
    return draw(hnp.arrays(dt, sample_shape, elements=el))


@st.composite
def ce_case(draw, with_grad, nll=False):
    dtype = draw(dtypes())
    shape = draw(shapes(min_dims=0))
    base = draw(values(dtype, shape))
    layout = draw(st.sampled_from(LAYOUTS))
    nd = len(shape)
    axis = draw(axes(nd, allow_none=False) if draw(st.integers(0, 12)) else st.none())
    try:
        ax = int(axis) % nd if nd else None
    except Exception:   # noqa: BLE001
        ax = None
    n_classes = shape[ax] if ax is not None else 3
    sample_shape = shape[:ax] + shape[ax + 1:] if ax is not None else shape
    kw = {}
    ii = draw(st.sampled_from(["default", -100, 0, -1, n_classes, None, 2**62]))
    if ii != "default":
        kw["ignore_index"] = ii
    ii_val = -100 if ii == "default" else ii
    tkind = draw(st.sampled_from(["class"] * 6 + ["probs", "probs", "wrong-shape", "float-class",
                                                  "bool", "scalar-int"]))
    if nll and tkind == "probs":
        tkind = "class"
    if tkind == "class":
        target = draw(class_targets(sample_shape, n_classes, ii_val))
    elif tkind == "probs":
        pel = st.one_of(st.floats(0, 1, width=32), st.sampled_from([0.0, 1.0, 2.0, 1e30, -0.5,
                                                                     np.nan, 1e-40]))
        target = draw(hnp.arrays(dtype if dtype in REAL_DTYPES else F64, shape, elements=pel))
    elif tkind == "wrong-shape":
        target = np.zeros(tuple(sample_shape) + (2,), np.int64)
    elif tkind == "float-class":
        target = np.zeros(sample_shape, np.float64)
    elif tkind == "bool":
        target = np.zeros(sample_shape, bool)
    else:
        target = 0
    t_layout = draw(st.sampled_from(LAYOUTS))
    wkind = draw(st.sampled_from(["none"] * 4 + ["ok", "ok", "zeros", "negative", "inf",
                                                 "wrong-shape", "huge"]))
    if wkind == "ok":
        kw["weight"] = draw(hnp.arrays(F64, (n_classes,), elements=st.floats(0, 4)))
    elif wkind == "zeros":
        kw["weight"] = np.zeros(n_classes)
    elif wkind == "negative":
        kw["weight"] = -np.ones(n_classes)
    elif wkind == "inf":
        kw["weight"] = np.full(n_classes, np.inf)
    elif wkind == "wrong-shape":
        kw["weight"] = np.ones(n_classes + 1)
    elif wkind == "huge":
        kw["weight"] = np.full(n_classes, 1e300)
    kw["reduction"] = draw(st.sampled_from(["mean", "mean", "sum", "none", "avg"]))
    if axis is not None or draw(st.booleans()):
        kw["axis"] = axis
    if not nll:
        for opt, choices in (("label_smoothing", [0.0] * 5 + [0.1, 1.0, 1.5]),
                             ("z_loss", [0.0] * 5 + [1e-4, -1.0]),
                             ("softcap", [None] * 5 + [30.0, 0.5, 0.0]),
                             ("return_lse", [False] * 3 + [True])):
            v = draw(st.sampled_from(choices))
            if v != choices[0]:
                kw[opt] = v
    gkind = draw(st.sampled_from(["none"] * 3 + ["fresh", "alias", "unaligned", "fresh-F",
                                                 "wrong-dtype", "readonly"])) if with_grad else "none"
    lkind = draw(st.sampled_from(["none"] * 3 + ["scalar", "per-sample", "wrong"])) \
        if with_grad else "none"
    if lkind == "scalar":
        kw["grad_loss"] = draw(st.sampled_from([2.0, -0.5, 0.0, np.float32(3)]))
    elif lkind == "per-sample":
        kw["grad_loss"] = draw(hnp.arrays(F64, sample_shape, elements=st.floats(-3, 3)))
    elif lkind == "wrong":
        kw["grad_loss"] = np.ones(tuple(sample_shape) + (3,))
    nt = draw(THREADS)
    if nt is not None:
        kw["n_threads"] = nt
    return dtype, base, layout, target, t_layout, kw, gkind


def _ce_build(case):
    dtype, base, layout, target, t_layout, kw, gkind = case

    def build():
        x = lay(base, layout)
        t = lay(target, t_layout) if isinstance(target, np.ndarray) else target
        k = dict(kw)
        if gkind != "none":
            k["grad_out"] = out_array(gkind, x.shape, result_dtype(dtype), x)
        return (x, t), k
    return build


def _grad_scale(g, target, kw):
    """Error scale of each gradient entry: |g| + max(the row's largest finite |g|, s a_k),
    s the row's gradient factor and a_k the entry's target weight (g = s ((A + 2 z lse)
    p - a), whose two terms round at their own size: p - 1 at a dominant target rounds
    at 1, not at its own size).  Within the README's contracts (plain: max(p, |p -
    onehot|); options: max(the row's largest |g|, s A))."""
    ax = kw.get("axis", -1)
    with np.errstate(all="ignore"):
        fin = np.where(np.isfinite(g), np.abs(g.astype(np.float64)), 0.0)
        row = np.max(fin, axis=ax, keepdims=True)
        try:
            sa = np.moveaxis(target_weights(
                g.shape[ax], target, axis=ax, weight=kw.get("weight"),
                label_smoothing=kw.get("label_smoothing", 0.0),
                ignore_index=kw.get("ignore_index", -100), reduction=kw.get("reduction", "mean"),
                grad_loss=kw.get("grad_loss")), -1, ax)
        except Exception:   # noqa: BLE001 -- no extra scale where it is not defined
            sa = 0.0
        return fin + np.maximum(row, np.nan_to_num(sa, nan=0.0))


@compiled
@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_with_grad", "nll_loss"])
@FUZZ
@given(data=st.data())
def test_fuzz_cross_entropy(name, data):
    case = data.draw(ce_case(name == "cross_entropy_with_grad", nll=name == "nll_loss"))
    isa = data.draw(ISAS)
    build = _ce_build(case)
    with isa_set(isa):
        got = outcome(getattr(fs, name), build)
    want = outcome(getattr(ref, name), build)
    dtype, base, layout, target, t_layout, kw, gkind = case
    what = (f"{name} isa={isa} dtype={dtype} shape={base.shape} layout={layout} "
            f"target={getattr(target, 'dtype', target)}{getattr(target, 'shape', '')} "
            f"t_layout={t_layout} grad_out={gkind} kw={ {k: v for k, v in kw.items()} }")
    kinds, scales = ["log"], None
    if name == "cross_entropy_with_grad" and want[0] == "ok":
        kinds = ["log", "scaled", "log"]
        t = lay(target, t_layout) if isinstance(target, np.ndarray) else target
        scales = [None, _grad_scale(np.asarray(want[1][1]), t, kw), None]
    compare(got, want, kinds, what, scales)


# ---------------------------------------------------------------- linear cross-entropy

@st.composite
def linear_case(draw, with_grad):
    dtype = draw(st.sampled_from(REAL_DTYPES + [F16, np.dtype(np.int32)]))
    n, d, v = draw(st.integers(0, 7)), draw(st.integers(0, 5)), draw(st.integers(0, 9))
    # moderate values (and NaN): BLAS in float32 overflows where the float64 reference does not
    moderate = (st.one_of(st.floats(-3.0, 3.0, width=WIDTH[dtype]),
                          st.sampled_from([0.0, 1.0, -1.0, np.nan]))
                if dtype.kind == "f" else st.integers(-3, 3))
    h = draw(values(dtype, (n, d), moderate))
    W = draw(values(dtype, (v, d), moderate))
    if draw(st.integers(0, 9)) == 0:          # a shape that does not fit
        W = W[:, :max(d - 1, 0)] if d else np.zeros((v, d + 1), dtype)
    t = draw(class_targets((n,), v, -100))
    kw = {}
    if draw(st.booleans()):
        kw["bias"] = draw(values(dtype, (v,), moderate))
    kw["chunk_size"] = draw(st.sampled_from([None, 1, 2, 3, 1000, 0, 1.5]))
    kw["reduction"] = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        kw["label_smoothing"] = 0.1
    if draw(st.booleans()):
        kw["return_lse"] = True
    if with_grad and draw(st.booleans()):
        kw["grad_loss"] = 2.0 if kw["reduction"] != "none" else np.linspace(-1, 1, n)
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in range(3)]
    return h, W, t, kw, layouts


@compiled
@pytest.mark.parametrize("name", ["linear_cross_entropy", "linear_cross_entropy_with_grad"])
@FUZZ
@given(data=st.data())
def test_fuzz_linear_cross_entropy(name, data):
    h, W, t, kw, (lh, lw, lt) = data.draw(linear_case(name.endswith("grad")))
    isa = data.draw(ISAS)

    def build():
        return (lay(h, lh), lay(W, lw), lay(t, lt)), dict(kw)

    with isa_set(isa):
        got = outcome(getattr(fs, name), build)
    want = outcome(getattr(ref, name), build)
    what = f"{name} isa={isa} h={h.dtype}{h.shape} W={W.shape} layouts={lh},{lw},{lt} kw={kw}"
    if want[0] == "ok" and got[0] == "ok":
        # The contract: error / the largest |entry| of each result (BLAS sums over D and V).
        dt = np.asarray(_parts(want[1])[0]).dtype
        tol = {F32: 2e-5, F64: 1e-11}.get(dt, 2e-3)
        for g, w in zip(_parts(got[1]), _parts(want[1])):
            if w is None:
                assert g is None, what
                continue
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype and g.shape == w.shape, what
            fin = np.abs(w[np.isfinite(w)].astype(np.float64))
            assert_close(g, w, 0.0, atol=tol * max(1.0, fin.max() if fin.size else 1.0), what=what)
    else:
        compare(got, want, [], what)


# ---------------------------------------------------------------- fastsoftmax.scipy vs scipy.special

@st.composite
def scipy_case(draw, name):
    dtype, base, layout = draw(laid_out())
    shape = base.shape
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1) if nd else st.just(0),
                          st.lists(st.integers(-nd, nd - 1) if nd else st.just(0),
                                   max_size=3).map(tuple)))
    kw = {"axis": axis}
    if name == "logsumexp":
        kw["keepdims"] = draw(st.booleans())
        if draw(st.booleans()):
            kw["return_sign"] = True
        if draw(st.integers(0, 3)) == 0:
            kw["b"] = draw(values(F64, shape, st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0])))
    return dtype, base, layout, kw


def _like(w, v):
    """``v`` with the type and dtype of ``w`` (an array, or a NumPy scalar)."""
    v = np.asarray(v).astype(np.asarray(w).dtype)
    return v if isinstance(w, np.ndarray) else v[()]


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@FUZZ
@given(data=st.data())
def test_fuzz_scipy_dropins(name, data):
    special = pytest.importorskip("scipy.special")
    from fastsoftmax import scipy as fsp
    dtype, base, layout, kw = data.draw(scipy_case(name))
    # Documented differences (README, "Drop-in for scipy.special"): logsumexp of an empty
    # array over several axes is -inf here (scipy raises IndexError or returns a wrongly
    # shaped array) ...
    assume(not (name == "logsumexp" and base.size == 0 and not isinstance(kw["axis"], int)))
    isa = data.draw(ISAS)

    def build(convert=None):
        x = lay(base, layout)
        return (x if convert is None else x.astype(convert),), dict(kw)

    with np.errstate(all="ignore"):   # scipy warns where fastsoftmax does not
        with isa_set(isa):
            got = outcome(getattr(fsp, name), build)
        want = outcome(getattr(special, name), build)
        # ... and integers are not subtracted in wrapping integer arithmetic, float16 is
        # computed in float32: scipy's result types, the values of scipy on the exact input.
        exact = {"i": F64, "u": F64, "b": F64}.get(dtype.kind, F32 if dtype == F16 else None)
        if want[0] == "ok" and exact is not None:
            vals = outcome(getattr(special, name), lambda: build(exact))
            assert vals[0] == "ok", vals
            like = [_like(w, v) for w, v in zip(_parts(want[1]), _parts(vals[1]))]
            want = ("ok", tuple(like) if isinstance(want[1], tuple) else like[0], want[2])
    compare(got, want, ["prob" if name == "softmax" else "log", "log"],
            f"scipy.{name} isa={isa} dtype={dtype} shape={base.shape} layout={layout} kw={kw}")

