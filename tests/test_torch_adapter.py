"""fastsoftmax.torch: autograd Functions against torch's own functions and gradcheck."""
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastsoftmax.torch as fst  # noqa: E402

TOL = {torch.float32: dict(rtol=2e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-14)}


def _layouts(t):
    """The tensor as given, transposed (non-contiguous) and with a negative-free slice."""
    yield "contiguous", t
    if t.dim() >= 2:
        yield "transposed", t.transpose(0, -1).contiguous().transpose(0, -1)
        yield "sliced", torch.cat([t, t], dim=-1)[..., ::2]


def _leaf(t):
    return t.detach().clone().requires_grad_(True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(7,), (5, 7), (2, 3, 17), (4, 1, 33)])
def test_values_and_gradients_match_torch(name, dtype, shape):
    g = torch.Generator().manual_seed(0)
    base = torch.randn(shape, generator=g, dtype=dtype) * 3
    upstream = torch.randn(shape, generator=g, dtype=dtype)
    for (layout, x), dim in itertools.product(_layouts(base), range(-len(shape), len(shape))):
        what = f"{name} {shape} {dtype} {layout} dim={dim}"
        before = x.clone()
        a, b = _leaf(x), _leaf(x)
        ya = getattr(fst, name)(a, dim)
        yb = getattr(torch, name)(b, dim)
        torch.testing.assert_close(ya, yb, **TOL[dtype], msg=what)
        (ya * upstream).sum().backward()
        (yb * upstream).sum().backward()
        torch.testing.assert_close(a.grad, b.grad, **TOL[dtype], msg=what)
        assert torch.equal(x, before), what


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((4, 5), 0), ((4, 5), 1), ((2, 3, 4), 1)])
def test_gradcheck(name, shape, dim):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: getattr(fst, name)(t, dim), (x,))


def test_stride_zero_upstream_gradient():
    # y.sum().backward() sends an expanded (stride 0) gradient of ones
    x = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    fst.log_softmax(x, 1).sum().backward()
    ref = _leaf(x)
    torch.log_softmax(ref, 1).sum().backward()
    torch.testing.assert_close(x.grad, ref.grad, rtol=1e-12, atol=1e-14)


def _targets(kind, shape, n_classes, g):
    """(target, needs float) for logits of ``shape`` with classes on dim 1 (0 for 1-D)."""
    sample = shape[:1] + shape[2:] if len(shape) >= 2 else ()
    if kind == "probs":
        return torch.softmax(torch.randn(shape, generator=g, dtype=torch.float64), 1 if len(shape) >= 2 else 0)
    t = torch.randint(0, n_classes, sample, generator=g)
    if kind == "ignored" and t.dim():
        t.view(-1)[::3] = -100
    return t


CE_CASES = list(itertools.product(
    [(6, 5), (5,), (3, 4, 7)],                     # logits shapes: (N, C), (C,), (N, C, d)
    ["class", "ignored", "probs"],
    ["mean", "sum", "none"],
    [False, True],                                 # class weights
    [0.0, 0.2],                                    # label smoothing
))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_cross_entropy_matches_torch(dtype):
    failures = []
    for shape, kind, reduction, weighted, smoothing in CE_CASES:
        g = torch.Generator().manual_seed(len(failures) + 1)
        n_classes = shape[1] if len(shape) >= 2 else shape[0]
        x = torch.randn(shape, generator=g, dtype=dtype) * 2
        target = _targets(kind, shape, n_classes, g)
        if kind == "probs":
            target = target.to(dtype)
        weight = torch.rand(n_classes, generator=g, dtype=dtype) + 0.5 if weighted else None
        kw = dict(weight=weight, reduction=reduction, label_smoothing=smoothing)
        a, b = _leaf(x), _leaf(x)
        la = fst.cross_entropy(a, target, **kw)
        lb = F.cross_entropy(b, target, **kw)
        up = torch.rand(la.shape, generator=g, dtype=dtype) + 0.5
        what = f"{shape} {kind} {reduction} weight={weighted} smoothing={smoothing} {dtype}"
        try:
            torch.testing.assert_close(la, lb, **TOL[dtype])
            (la * up).sum().backward()
            (lb * up).sum().backward()
            torch.testing.assert_close(a.grad, b.grad, **TOL[dtype])
        except AssertionError as exc:
            failures.append(f"{what}: {exc}")
    assert not failures, "\n".join(failures[:5])


@pytest.mark.parametrize("kind", ["class", "ignored", "probs"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradcheck(kind, reduction):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    target = _targets(kind, (4, 6), 6, g)
    weight = torch.rand(6, dtype=torch.float64, generator=g) + 0.5
    for kw in ({}, {"weight": weight, "label_smoothing": 0.1}, {"z_loss": 0.01, "softcap": 3.0}):
        assert torch.autograd.gradcheck(
            lambda z: fst.cross_entropy(z, target, reduction=reduction, **kw), (x,))


def test_z_loss_and_softcap_match_the_formula():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(8, 11, dtype=torch.float64, generator=g) * 4
    t = torch.randint(0, 11, (8,), generator=g)
    a, b = _leaf(x), _leaf(x)
    la = fst.cross_entropy(a, t, z_loss=1e-2, softcap=5.0)
    capped = 5.0 * torch.tanh(b / 5.0)
    lb = (F.cross_entropy(capped, t, reduction="none")
          + 1e-2 * torch.logsumexp(capped, 1) ** 2).mean()
    torch.testing.assert_close(la, lb, rtol=1e-12, atol=0)
    la.backward()
    lb.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-14)


def test_every_target_ignored_gives_zero():
    # documented: torch gives NaN here
    x = torch.randn(3, 4, requires_grad=True)
    loss = fst.cross_entropy(x, torch.full((3,), -100))
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(x.grad) == 0


def test_inputs_untouched_and_no_nxc_saved():
    x = torch.randn(6, 50, requires_grad=True)
    t = torch.randint(0, 50, (6,))
    before = x.detach().clone()
    loss = fst.cross_entropy(x, t)
    saved = loss.grad_fn.saved_tensors
    assert all(s is None or s.data_ptr() in (x.data_ptr(), t.data_ptr()) for s in saved)
    loss.backward()
    assert torch.equal(x.detach(), before)


def test_retain_graph_backward_twice():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    loss = fst.cross_entropy(x, torch.tensor([0, 1, 2, 3]))
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


def test_double_backward_raises():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = fst.softmax(x, 1)
    (g,) = torch.autograd.grad(y[:, 0].sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


HALF = [torch.float16, torch.bfloat16]
# one rounding of the float32 result to the half type: half an ulp of it, plus float32's
# own bound far below it (2**-11 for float16, 2**-8 for bfloat16, relative)
HALF_TOL = {torch.float16: dict(rtol=2 ** -10, atol=1e-6),
            torch.bfloat16: dict(rtol=2 ** -7, atol=1e-6)}


def _rounded_once(y32, dtype):
    """The float32 result rounded once to the half type: what the kernels promise."""
    return y32.to(dtype)


@pytest.mark.parametrize("dtype", HALF, ids=["f16", "bf16"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_half_tensors_run_here(name, dtype):
    pytest.importorskip("ml_dtypes")
    g = torch.Generator().manual_seed(3)
    base = (torch.randn(6, 37, generator=g) * 3).to(dtype)
    upstream = torch.randn(6, 37, generator=g).to(dtype)
    for (layout, x), dim in itertools.product(_layouts(base), (0, 1, -1)):
        what = f"{name} {dtype} {layout} dim={dim}"
        assert fst.runs_here(x)
        before = x.clone()
        a, b = _leaf(x), _leaf(x.float())
        ya = getattr(fst, name)(a, dim)
        yb = getattr(torch, name)(b, dim)
        assert ya.dtype == dtype, what
        # values: the float32 result rounded once (bitwise, but for log_softmax's ties
        # at a float32 bound: at most one half ulp apart)
        torch.testing.assert_close(ya.float(), _rounded_once(yb, dtype).float(),
                                   **HALF_TOL[dtype], msg=what)
        (ya.float() * upstream.float()).sum().backward()
        (yb * upstream.float()).sum().backward()
        assert a.grad.dtype == dtype, what
        # the gradient is computed from the half output and upstream: compare to float32
        # math on those same half values, rounded once
        y = ya.detach().float()
        up = upstream.float()
        if name == "softmax":
            ref = y * (up - (up * y).sum(dim, keepdim=True))
        else:
            ref = up - y.exp() * up.sum(dim, keepdim=True)
        torch.testing.assert_close(a.grad.float(), ref.to(dtype).float(),
                                   rtol=HALF_TOL[dtype]["rtol"] * 2, atol=2e-3, msg=what)
        assert torch.equal(x, before), what


@pytest.mark.parametrize("dtype", HALF, ids=["f16", "bf16"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_half_cross_entropy_runs_here(dtype, reduction):
    pytest.importorskip("ml_dtypes")
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(9, 50, generator=g) * 2).to(dtype)
    t = torch.randint(0, 50, (9,), generator=g)
    t[2] = -100
    weight = (torch.rand(50, generator=g) + 0.5).to(dtype)
    for w in (None, weight):
        a, b = _leaf(x), _leaf(x.float())
        la = fst.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=0.1)
        lb = F.cross_entropy(b, t, weight=None if w is None else w.float(),
                             reduction=reduction, label_smoothing=0.1)
        assert la.dtype == dtype          # as torch: the loss in the logits' dtype
        torch.testing.assert_close(la.float(), lb.to(dtype).float(), **HALF_TOL[dtype])
        up = (torch.rand(la.shape, generator=g) + 0.5).to(dtype)
        (la * up).sum().backward()
        (lb * up.float()).sum().backward()
        assert a.grad.dtype == dtype
        torch.testing.assert_close(a.grad.float(), b.grad.to(dtype).float(),
                                   rtol=HALF_TOL[dtype]["rtol"] * 2, atol=1e-4)


def test_half_z_loss_runs_here():
    x = torch.randn(4, 9).half().requires_grad_(True)
    t = torch.randint(0, 9, (4,))
    loss = fst.cross_entropy(x, t, z_loss=0.1)
    ref = fst.cross_entropy(x.detach().float(), t, z_loss=0.1)
    torch.testing.assert_close(loss.float(), ref.half().float(), rtol=2 ** -10, atol=0)
    loss.backward()
    assert x.grad.dtype == torch.float16 and torch.isfinite(x.grad).all()


def test_other_dtypes_fall_back_to_torch():
    assert not fst.runs_here(torch.randn(4, 9, dtype=torch.complex64))
    y = torch.randn(4, 9).to(torch.int64)
    assert not fst.runs_here(y)
    with pytest.raises(RuntimeError):      # torch's own error for an integer softmax
        fst.softmax(y, 1)


def test_other_devices_fall_back_to_torch():
    x = torch.empty(4, 9, device="meta")
    assert not fst.runs_here(x)
    assert fst.softmax(x, 1).device.type == "meta"
    assert fst.cross_entropy(x, torch.empty(4, dtype=torch.long, device="meta")).device.type == "meta"
    assert fst.runs_here(torch.zeros(2, dtype=torch.float64))
    assert not fst.runs_here(torch.zeros(2, dtype=torch.int64))
    assert not fst.runs_here(np.zeros(2))


def test_bad_arguments():
    x = torch.randn(3, 4)
    with pytest.raises(IndexError):
        fst.softmax(x, 2)
    with pytest.raises(TypeError):
        fst.softmax(x, 1.0)
    with pytest.raises(ValueError, match="target"):
        fst.cross_entropy(x, torch.tensor([0, 1, 9]))
    with pytest.raises(TypeError, match="target"):
        fst.cross_entropy(x, [0, 1, 2])


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(fst, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
