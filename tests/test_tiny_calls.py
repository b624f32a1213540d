"""The small-call path (_core.<op>_tiny): taken for the common case, bitwise the general
path's results, and declined -- never raising -- for everything else, so every error is
still the general path's, with its message.

Each case runs through the public function twice: with the tiny entries of _api in
place (a spy records whether one handled the call) and with them replaced by ``None``
returners, which forces the general path on the very same arguments.
"""
import contextlib

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import layouts
from _util import ticks_while

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
if ml_dtypes is not None and fs.backend == "c":
    # the first bfloat16 call goes the general way, which registers the dtype's type
    # number for the tiny calls; from then on they take it
    fs.softmax(np.zeros(2, ml_dtypes.bfloat16))

pytestmark = pytest.mark.skipif(fs.backend != "c", reason="a path of the compiled backend")
if fs.backend == "c":
    from fastsoftmax import _api, _core

# public op -> its tiny entry in _api
TINY = {
    "softmax": "_softmax_tiny", "log_softmax": "_log_softmax_tiny",
    "logsumexp": "_logsumexp_tiny", "softmax_backward": "_softmax_backward_tiny",
    "log_softmax_backward": "_log_softmax_backward_tiny",
    "cross_entropy": "_cross_entropy_tiny",
    "cross_entropy_with_grad": "_cross_entropy_with_grad_tiny", "nll_loss": "_nll_loss_tiny",
}
OPS = list(TINY)
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 10), (4, 10), (64, 10), (10,), (2, 3, 5), (7, 1), (1, 1), (3, 33), (200, 100)]


@contextlib.contextmanager
def spied():
    """The tiny entries as they are, each call recorded: (op, "handled" / "declined" /
    "raised")."""
    seen = []
    saved = {name: getattr(_api, name) for name in TINY.values()}

    def spy(op, real):
        def call(*args):
            try:
                r = real(*args)
            except BaseException:
                seen.append((op, "raised"))
                raise
            seen.append((op, "declined" if r is None else "handled"))
            return r
        return call

    for op, name in TINY.items():
        setattr(_api, name, spy(op, saved[name]))
    try:
        yield seen
    finally:
        for name, f in saved.items():
            setattr(_api, name, f)


@contextlib.contextmanager
def general_path():
    saved = {name: getattr(_api, name) for name in TINY.values()}
    for name in saved:
        setattr(_api, name, lambda *args: None)
    try:
        yield
    finally:
        for name, f in saved.items():
            setattr(_api, name, f)


def outcome(fn):
    """("ok", result) or ("raises", exception type, message)."""
    try:
        return ("ok", fn())
    except Exception as e:   # noqa: BLE001 -- compared, not swallowed
        return ("raises", type(e), str(e))


def run_both(op, make):
    """(what the tiny entry did, outcome with it, outcome on the general path); ``make()``
    builds fresh (args, kwargs) each time (a call may write in place)."""
    f = getattr(fs, op)
    args, kw = make()
    with spied() as seen:
        fast = outcome(lambda: f(*args, **kw))
    args, kw = make()
    with general_path():
        slow = outcome(lambda: f(*args, **kw))
    did = [d for o, d in seen if o == op]
    assert len(did) == 1, (op, seen)
    return did[0], fast, slow


def assert_same(a, b, what):
    """Same type, dtype, shape and bytes (NaN signs and payloads included)."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{what} [{i}]")
        return
    assert type(a) is type(b), f"{what}: {type(a)} != {type(b)}"
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{what}:\n{a}\n!=\n{b}"


def assert_same_outcome(fast, slow, what):
    assert fast[0] == slow[0], f"{what}: {fast} vs {slow}"
    if fast[0] == "ok":
        assert_same(fast[1], slow[1], what)
    else:
        assert fast[1:] == slow[1:], f"{what}: {fast[1:]} vs {slow[1:]}"


def values(shape, dtype, seed=0, nonfinite=True):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if nonfinite and x.ndim >= 1 and x.size // x.shape[-1] >= 4:
        rows = x.reshape(-1, x.shape[-1])
        rows[1, 0] = np.nan
        rows[2, -1] = np.inf
        rows[3, :] = -np.inf
    return x


def targets(shape, n_classes, seed=1, ignore=-100):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, n_classes, shape[:-1])
    if t.size >= 3:
        t.reshape(-1)[::3] = ignore
    return t


def default_call(op, x, seed=2):
    """(args, kwargs) of op's default call on the values x."""
    if op in ("softmax", "log_softmax", "logsumexp"):
        return (x,), {}
    if op in ("softmax_backward", "log_softmax_backward"):
        g = values(x.shape, x.dtype, seed, nonfinite=False)
        fwd = fs.softmax if op == "softmax_backward" else fs.log_softmax
        return (g, fwd(x)), {}
    t = targets(x.shape, x.shape[-1], seed)
    if op == "nll_loss":
        return (fs.log_softmax(x), t), {}
    return (x, t), {}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS)
def test_default_call_takes_the_tiny_path(op, dtype, shape):
    x = values(shape, dtype)
    did, fast, slow = run_both(op, lambda: default_call(op, x.copy()))
    assert did == "handled", (op, dtype, shape)
    assert_same_outcome(fast, slow, f"{op} {np.dtype(dtype)} {shape}")


@pytest.mark.parametrize("op", OPS)
def test_tiny_path_under_every_kernel_set(op, isa, dtype):
    x = values((5, 17), dtype)
    did, fast, slow = run_both(op, lambda: default_call(op, x.copy()))
    assert did == "handled", (op, isa)
    assert_same_outcome(fast, slow, f"{op} {isa} {dtype}")


@pytest.mark.parametrize("n_samples", range(1, 20))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("op", ["cross_entropy", "cross_entropy_with_grad", "nll_loss"])
def test_loss_reductions_bitwise(op, reduction, n_samples, dtype):
    """Sums of fewer than 8 samples are added here in np.sum's order, longer ones by np.sum."""
    x = values((n_samples, 7), dtype, seed=n_samples, nonfinite=False) * 1e3
    _reduction_both_ways(op, reduction, n_samples, x)


def _reduction_both_ways(op, reduction, n_samples, x):
    """The tiny path handles op's call on x with ``reduction``, bitwise as the general
    one; returns its result."""
    def make():
        args, kw = default_call(op, x.copy(), seed=n_samples)
        return args, dict(kw, reduction=reduction)

    did, fast, slow = run_both(op, make)
    assert did == "handled"
    assert_same_outcome(fast, slow, f"{op} {reduction} {n_samples}")
    return fast[1]


def _elementwise(op):
    return op in ("softmax", "log_softmax", "softmax_backward", "log_softmax_backward")


def _taken_variants(op, x):
    """(name, make) of calls other than the default one that the tiny path takes."""
    base = lambda: default_call(op, x.copy())   # noqa: E731
    out = []

    def with_kw(**extra):
        def make():
            args, kw = base()
            return args, dict(kw, **extra)
        return make

    out += [(f"n_threads={n}", with_kw(n_threads=n)) for n in (1, 2, 256)]
    out.append(("axis=ndim-1", with_kw(axis=x.ndim - 1)))
    if op != "nll_loss":   # the half types have their own kernels (nll_loss: a gather)
        def half(dt):
            def make():
                args, kw = base()
                return tuple(a.astype(dt) if a.dtype.kind == "f" else a for a in args), kw
            return make
        out.append(("float16", half(np.float16)))
        if ml_dtypes is not None:
            out.append(("bfloat16", half(ml_dtypes.bfloat16)))
    if _elementwise(op):
        out.append(("out=fresh", lambda: (base()[0], {"out": np.empty_like(x)})))

        def in_place(k):
            def make():
                args, _ = base()
                return args, {"out": args[k]}
            return make
        out.append(("out=first", in_place(0)))
        if op.endswith("backward"):
            out.append(("out=second", in_place(1)))
    if op == "logsumexp":
        out.append(("keepdims=True", with_kw(keepdims=True)))
        out.append(("keepdims=False", with_kw(keepdims=False)))
        lead = x.shape[:-1]
        out.append(("out given", lambda: (base()[0], {"out": np.empty(lead, x.dtype)})))
        out.append(("out given, keepdims", lambda: (base()[0], {
            "out": np.empty(lead + (1,), x.dtype), "keepdims": True})))
    if op in ("cross_entropy", "cross_entropy_with_grad", "nll_loss"):
        out += [(f"reduction={r}", with_kw(reduction=r)) for r in ("sum", "none")]

        def ignoring(i):
            def make():
                args, kw = base()
                t = targets(x.shape, x.shape[-1], ignore=0 if i is None else i)
                return (args[0], t), dict(kw, ignore_index=i)
            return make
        out += [(f"ignore_index={i}", ignoring(i)) for i in (None, 3, -1, 2**63 - 1)]
    if op in ("cross_entropy", "cross_entropy_with_grad"):
        out += [("label_smoothing=0", with_kw(label_smoothing=0)),
                ("z_loss=0", with_kw(z_loss=0)), ("z_loss=-0.0", with_kw(z_loss=-0.0))]
    if op == "cross_entropy_with_grad":
        out.append(("grad_out=fresh", with_kw(grad_out=np.empty_like(x))))

        def grad_in_place():
            args, kw = base()
            return args, dict(kw, grad_out=args[0])
        out.append(("grad_out=logits", grad_in_place))
    return out


def _row_layouts(x):
    """2-D layouts with contiguous rows the tiny path keeps as they are."""
    wide = np.zeros((x.shape[0], x.shape[1] + 5), x.dtype)
    wide[:, : x.shape[1]] = x
    flipped = x[::-1].copy()[::-1]
    ro = x.copy()
    ro.flags.writeable = False
    return [("row-padded", wide[:, : x.shape[1]]), ("rows reversed", flipped),
            ("every other row", np.repeat(x, 2, axis=0)[::2]), ("readonly", ro)]


@pytest.mark.parametrize("op", OPS)
def test_row_layouts_take_the_tiny_path(op, dtype):
    x = values((6, 9), dtype)
    for name, lay in _row_layouts(x):
        did, fast, slow = run_both(op, lambda: default_call(op, lay))
        assert did == "handled", (op, name)
        assert_same_outcome(fast, slow, f"{op} {name}")


def _read_only(a):
    a.flags.writeable = False
    return a


def _declined_variants(op, x):
    """(name, make) of valid calls the tiny path leaves to the general path."""
    base = lambda: default_call(op, x.copy())   # noqa: E731

    def replace_first(f):
        def make():
            args, kw = base()
            return (f(args[0]),) + args[1:], kw
        return make

    def with_kw(**extra):
        def make():
            args, kw = base()
            return args, dict(kw, **extra)
        return make

    class Sub(np.ndarray):
        pass

    def padded(a):   # (6, 9) -> (2, 3, 9) with rows 18 elements apart: not C-contiguous
        v = np.zeros((2, 3, 2 * a.shape[-1]), a.dtype)[..., : a.shape[-1]]
        v[...] = a.reshape(v.shape)
        return v

    def three_d():
        args, kw = base()
        if op in ("cross_entropy", "cross_entropy_with_grad", "nll_loss"):
            return (padded(args[0]), args[1].reshape(2, 3)), kw
        return tuple(padded(a) for a in args), kw

    out = [
        ("F order", replace_first(np.asfortranarray)),
        ("3-D padded rows", three_d),
        ("big-endian", replace_first(lambda a: a.astype(a.dtype.newbyteorder(">")))),
        ("subclass", replace_first(lambda a: a.view(Sub))),
        ("list", replace_first(lambda a: a.tolist())),
        ("empty rows", lambda: default_call(op, np.empty((0, 9), x.dtype))),
        ("axis=np.int64(-1)", with_kw(axis=np.int64(-1))),
        ("n_threads=257", with_kw(n_threads=257)),
        ("n_threads=np.int64(1)", with_kw(n_threads=np.int64(1))),
        ("odd-aligned", replace_first(
            lambda a: np.frombuffer(b"\0" + a.tobytes(), a.dtype, offset=1).reshape(a.shape))),
    ]
    if op == "nll_loss":
        out.append(("float16", replace_first(lambda a: a.astype(np.float16))))
    elif op.endswith("backward"):
        out.append(("float16 with float32", replace_first(lambda a: a.astype(np.float16))))
    if op not in ("cross_entropy", "cross_entropy_with_grad", "nll_loss"):
        out.append(("int", replace_first(
            lambda a: np.nan_to_num(a, posinf=9, neginf=-9).astype(np.int64))))
        out.append(("axis=0", with_kw(axis=0)))
        out.append(("axis=None", with_kw(axis=None)))
    if _elementwise(op):
        def overlapping():
            args, _ = base()
            buf = np.zeros((x.shape[0] + 1, x.shape[1]), x.dtype)
            buf[:-1] = args[0]
            return (buf[:-1],) + args[1:], {"out": buf[1:]}
        out.append(("out overlapping", overlapping))
        out.append(("out F order", lambda: (base()[0], {"out": np.asfortranarray(
            np.empty_like(x))})))
    if op.endswith("backward"):
        out.append(("mixed dtypes", lambda: ((base()[0][0].astype(np.float32),
                                              base()[0][1].astype(np.float64)), {})))
    if op == "logsumexp":
        out.append(("keepdims=np.True_", with_kw(keepdims=np.True_)))
        lead = x.shape[:-1]
        other = np.float64 if x.dtype == np.float32 else np.float32
        out += [
            ("out of another dtype", with_kw(out=np.empty(lead, other))),
            ("out strided", with_kw(out=np.empty(lead[0] * 2, x.dtype)[::2])),
            ("out of another shape", with_kw(out=np.empty(lead + (1,), x.dtype))),
            ("out read-only", lambda: (base()[0], {"out": _read_only(np.empty(lead, x.dtype))})),
        ]

        def out_in_x():
            args, _ = base()
            return args, {"out": args[0].reshape(-1)[:lead[0]]}
        out.append(("out inside x", out_in_x))
    if op in ("cross_entropy", "cross_entropy_with_grad", "nll_loss"):
        def tgt(f):
            def make():
                args, kw = base()
                return (args[0], f(args[1])) + args[2:], kw
            return make
        out += [
            ("int32 targets", tgt(lambda t: t.astype(np.int32))),
            ("uint8 targets", tgt(lambda t: np.where(t < 0, 0, t).astype(np.uint8))),
            ("strided targets", tgt(lambda t: np.repeat(t, 2)[::2])),
            ("weight", with_kw(weight=np.linspace(0.5, 2, x.shape[-1]))),
            ("reduction=np.str_", with_kw(reduction=np.str_("sum"))),
            ("ignore_index=np.int64", with_kw(ignore_index=np.int64(-100))),
        ]
    if op in ("cross_entropy", "cross_entropy_with_grad"):
        out += [
            ("label_smoothing=0.1", with_kw(label_smoothing=0.1)),
            ("z_loss=1e-4", with_kw(z_loss=1e-4)),
            ("softcap=30", with_kw(softcap=30.0)),
            ("return_lse", with_kw(return_lse=True)),
            ("z_loss=np.float64(0)", with_kw(z_loss=np.float64(0.0))),
            ("probability targets", lambda: ((x.copy(), fs.softmax(x)), {})),
        ]
    if op == "cross_entropy_with_grad":
        out.append(("grad_loss", with_kw(grad_loss=2.0)))

        def grad_overlapping():
            args, kw = base()
            buf = np.zeros((x.shape[0] + 1, x.shape[1]), x.dtype)
            buf[:-1] = args[0]
            return (buf[:-1],) + args[1:], dict(kw, grad_out=buf[1:])
        out.append(("grad_out overlapping", grad_overlapping))
    return out


@pytest.mark.parametrize("variants, expected", [(_taken_variants, "handled"),
                                                (_declined_variants, "declined")],
                         ids=["taken", "declined"])
@pytest.mark.parametrize("op", OPS)
def test_variants_take_their_path(op, dtype, variants, expected):
    """Calls the tiny path takes are handled there, all others are declined to the
    general path; either way the outcome is the general path's."""
    x = values((6, 9), dtype)
    for name, make in variants(op, x):
        did, fast, slow = run_both(op, make)
        assert did == expected, (op, name)
        assert_same_outcome(fast, slow, f"{op} {name}")


def _errors(op, x):
    """(name, make) of bad calls in the form the tiny path takes, but for one thing."""
    base = lambda: default_call(op, x.copy())   # noqa: E731

    def with_kw(**extra):
        def make():
            args, kw = base()
            return args, dict(kw, **extra)
        return make

    out = [(f"axis={a!r}", with_kw(axis=a)) for a in (2, -3, 1.0, True, "1")]
    out += [(f"n_threads={n!r}", with_kw(n_threads=n)) for n in (0, -1, True, 1.5, "2")]
    out.append(("0-d", lambda: default_call(op, np.float64(1.0)) if op in (
        "softmax", "log_softmax", "logsumexp") else ((np.array(1.0), np.array(1.0)), {})))
    out.append(("complex", lambda: ((x.astype(complex),) + base()[0][1:], {})))
    if _elementwise(op):
        ro = np.empty_like(x)
        ro.flags.writeable = False
        out += [("out wrong shape", with_kw(out=np.empty((x.shape[1], x.shape[0]), x.dtype))),
                ("out wrong dtype", with_kw(out=np.empty(x.shape, np.float16))),
                ("out read-only", with_kw(out=ro)),
                ("out a list", with_kw(out=x.tolist()))]
    if op.endswith("backward"):
        out.append(("shapes differ", lambda: ((base()[0][0], base()[0][1][:-1]), {})))
    if op in ("cross_entropy", "cross_entropy_with_grad", "nll_loss"):
        n = x.shape[-1]

        def with_target(t, **extra):
            def make():
                args, kw = base()
                return (args[0], np.asarray(t)) + args[2:], dict(kw, **extra)
            return make

        m = x.shape[0]
        out += [
            ("target too large", with_target(np.r_[np.zeros(m - 1, np.int64), n])),
            ("target negative", with_target(np.r_[-5, np.zeros(m - 1, np.int64)])),
            ("-100 not ignored", with_target(np.full(m, -100), ignore_index=None)),
            ("ignore_index elsewhere", with_target(np.full(m, -100), ignore_index=-1)),
            ("target wrong shape", with_target(np.zeros(m + 1, np.int64))),
            ("target float", with_target(np.zeros(m, np.float64))),
            ("reduction avg", with_kw(reduction="avg")),
            ("reduction None", with_kw(reduction=None)),
            ("ignore_index True", with_kw(ignore_index=True)),
            ("ignore_index 2**63", with_kw(ignore_index=2**63)),
            ("ignore_index -2**63", with_kw(ignore_index=-2**63)),
            ("ignore_index 1.5", with_kw(ignore_index=1.5)),
            ("weight wrong shape", with_kw(weight=np.ones(n + 1))),
            ("zero classes", lambda: ((np.empty((3, 0), x.dtype), np.zeros(3, np.int64)), {})),
        ]
    if op in ("cross_entropy", "cross_entropy_with_grad"):
        out += [("label_smoothing=False", with_kw(label_smoothing=False)),
                ("z_loss=False", with_kw(z_loss=False)),
                ("z_loss=np.False_", with_kw(z_loss=np.False_)),
                ("label_smoothing=nan", with_kw(label_smoothing=float("nan"))),
                ("z_loss=-1", with_kw(z_loss=-1))]
    if op == "cross_entropy_with_grad":
        ro = np.empty_like(x)
        ro.flags.writeable = False
        out += [("grad_out read-only", with_kw(grad_out=ro)),
                ("grad_out wrong dtype", with_kw(grad_out=np.empty(x.shape, np.float16)))]
    return out


@pytest.mark.parametrize("op", OPS)
def test_errors_are_the_general_paths(op, dtype):
    x = values((6, 9), dtype)
    for name, make in _errors(op, x):
        did, fast, slow = run_both(op, make)
        assert did == "declined", (op, name, did)
        assert fast[0] == "raises", (op, name, fast)
        assert_same_outcome(fast, slow, f"{op} {name}")


def test_bool_options_raise_on_every_path():
    """label_smoothing / z_loss of False are not real numbers to the checks: the small-call
    path used to take them for 0 and return a loss where every other path raised."""
    x, t = np.zeros((2, 3), np.float32), np.array([0, 1])
    for kw in ({"label_smoothing": False}, {"z_loss": False}, {"z_loss": np.False_}):
        for logits in (x, np.asfortranarray(x)):
            with pytest.raises(TypeError, match="must be a real number, not bool"):
                fs.cross_entropy(logits, t, **kw)
            with pytest.raises(TypeError, match="must be a real number, not bool"):
                fs.cross_entropy_with_grad(logits, t, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_tiny_layout_rule_is_rows_views(dtype):
    """What _core._rows takes as it is, _api._rows_view (the general path's rule) takes
    without a copy, with the same row stride."""
    x = values((4, 6), dtype, nonfinite=False)
    cases = layouts(x) + _row_layouts(x) + layouts(values((2, 3, 4), dtype, nonfinite=False))
    for name, a in cases:
        y = _core.softmax_tiny(a, -1, None, None)
        v = _api._rows_view(a)
        if y is not None:
            assert v is not None, name
            if a.ndim == 2:
                assert v.strides == a.strides or a.shape[0] == 1 or a.flags.c_contiguous, name
            assert np.array_equal(y, fs.softmax(np.ascontiguousarray(a))), name


def test_large_calls_release_the_gil():
    """Above _NOGIL_ELEMENTS the tiny path runs the kernel without the GIL: a Python
    thread keeps running meanwhile (as test_api's check of the general path)."""
    import time
    x = np.random.default_rng(7).standard_normal((2000, 20000))
    fs.softmax(x[:10])
    t0 = time.perf_counter()
    assert _core.softmax_tiny(x, -1, None, None) is not None
    if time.perf_counter() - t0 < 0.02:
        pytest.skip("kernel too fast on this machine to observe")
    ticks = ticks_while(lambda: fs.softmax(x))
    assert ticks > 10, ticks


@pytest.mark.parametrize("shape", [(10,), (1, 10), (3, 4, 10)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_out_is_the_result(shape, keepdims, dtype):
    """logsumexp(x, out=o) writes o and returns o itself (a 0-d o for 1-D x), with
    the values of the call without out=."""
    x = values(shape, dtype, nonfinite=False)
    want = fs.logsumexp(x, keepdims=keepdims)
    o = np.full(np.shape(want), np.nan, dtype)
    with spied() as seen:
        got = fs.logsumexp(x, keepdims=keepdims, out=o)
    assert [d for op, d in seen if op == "logsumexp"] == ["handled"]
    assert got is o
    np.testing.assert_array_equal(o, want)


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
def test_bfloat16_registers_on_its_first_call():
    """A fresh process: the first bfloat16 call is declined (NumPy's type number of the
    dtype is not known yet) and registers it; the next one is the tiny path's."""
    import subprocess
    import tempfile

    from _util import PYTHON
    code = (
        "import numpy as np, ml_dtypes, fastsoftmax as fs\n"
        "from fastsoftmax import _core\n"
        "x = np.linspace(-2, 2, 10).astype(ml_dtypes.bfloat16)\n"
        "print(_core.softmax_tiny(x, -1, None, None) is None)\n"
        "y = fs.softmax(x)\n"
        "z = _core.softmax_tiny(x, -1, None, None)\n"
        "print(z is not None and z.dtype == x.dtype and z.tobytes() == y.tobytes())\n")
    # outside the source tree: the installed package (with its extension) is imported
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]


HALF_TYPES = [np.float16] + ([ml_dtypes.bfloat16] if ml_dtypes is not None else [])


@pytest.mark.parametrize("n_samples", [1, 7, 8, 19])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("op", ["cross_entropy", "cross_entropy_with_grad"])
@pytest.mark.parametrize("half", HALF_TYPES, ids=lambda d: np.dtype(d).name)
def test_half_losses_bitwise(op, reduction, n_samples, half):
    """Half logits' losses are float32, on the tiny path as on the general one."""
    x = values((n_samples, 7), np.float32, seed=n_samples, nonfinite=False).astype(half)
    result = _reduction_both_ways(op, reduction, n_samples, x)
    loss = result[0] if op.endswith("_with_grad") else result
    assert loss.dtype == np.float32
