"""Fused linear + cross-entropy: chunked (never the (N, V) logits) against the
naive float64 computation, torch's linear + cross_entropy, and memory bounds."""
import tracemalloc

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import reference as ref

# float32: BLAS sums over D (dh: over V) in float32; the bound is normwise
TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}
IMPLS = pytest.mark.parametrize("impl", [fs, ref], ids=["fastsoftmax", "reference"])


def case(dtype, n=70, d=24, v=300, seed=0, probs=False):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d)).astype(dtype)
    W = (rng.standard_normal((v, d)) * 0.3).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    if probs:
        p = rng.random((n, v))
        t = (p / p.sum(1, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, v, n)
        t[::5] = -100
    return h, W, b, t


def close(got, want, dtype, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = max(np.max(np.abs(want)), 1e-30)
    err = np.max(np.abs(got - want)) / scale if want.size else 0.0
    assert err <= TOL[np.dtype(dtype)], f"{what}: normwise rel err {err:.3g}"


@pytest.mark.parametrize("chunk", [None, 1, 16, 69, 1000])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("opts", [dict(), dict(bias=True), dict(weight=True, label_smoothing=0.1),
                                  dict(bias=True, softcap=3.0, z_loss=1e-3), dict(probs=True)],
                         ids=["plain", "bias", "weight+smooth", "bias+cap+z", "probs"])
def test_matches_naive(dtype, chunk, reduction, opts):
    h, W, b, t = case(dtype, probs=opts.get("probs", False))
    rng = np.random.default_rng(1)
    kw = dict(bias=b if opts.get("bias") else None, reduction=reduction,
              weight=rng.random(W.shape[0]) if opts.get("weight") else None,
              label_smoothing=opts.get("label_smoothing", 0.0), z_loss=opts.get("z_loss", 0.0),
              softcap=opts.get("softcap"), return_lse=True)
    gl = rng.standard_normal(h.shape[0]) if reduction == "none" else 2.0
    got = fs.linear_cross_entropy_with_grad(h, W, t, chunk_size=chunk, grad_loss=gl, **kw)
    want = ref.linear_cross_entropy_with_grad(h, W, t, grad_loss=gl, **kw)
    what = f"dtype={dtype} chunk={chunk} reduction={reduction} opts={opts}"
    names = ["loss", "dh", "dW", "dbias", "lse"]
    assert len(got) == 5
    for name, g, w in zip(names, got, want):
        if w is None:
            assert g is None, name
            continue
        assert np.asarray(g).dtype == dtype and np.shape(g) == np.shape(w), (what, name)
        close(g, w, dtype, f"{what} {name}")
    loss, lse = fs.linear_cross_entropy(h, W, t, chunk_size=chunk, **kw)
    close(loss, want[0], dtype, what + " loss only")
    close(lse, want[4], dtype, what + " lse (loss only)")


def test_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    h, W, b, t = case(dtype, n=40, d=16, v=120, seed=3)
    ht = torch.tensor(h.astype(np.float64), requires_grad=True)
    Wt = torch.tensor(W.astype(np.float64), requires_grad=True)
    bt = torch.tensor(b.astype(np.float64), requires_grad=True)
    loss = torch.nn.functional.cross_entropy(ht @ Wt.T + bt, torch.tensor(t), label_smoothing=0.05)
    loss.backward()
    got = fs.linear_cross_entropy_with_grad(h, W, t, bias=b, chunk_size=7, label_smoothing=0.05)
    for g, w, name in zip(got, (loss, ht.grad, Wt.grad, bt.grad), ["loss", "dh", "dW", "db"]):
        close(g, w.detach().numpy(), dtype, name)


def test_defaults_and_shapes():
    h, W, b, t = case(np.float32)
    loss, dh, dW, db = fs.linear_cross_entropy_with_grad(h, W, t)
    assert db is None and dh.shape == h.shape and dW.shape == W.shape
    assert np.isscalar(loss) or loss.shape == ()
    close(loss, fs.cross_entropy(h.astype(np.float64) @ W.astype(np.float64).T, t), np.float32, "loss")
    # float64 inputs stay float64; integer inputs compute in float64
    l64 = fs.linear_cross_entropy(h.astype(np.float64), W.astype(np.float64), t)
    assert l64.dtype == np.float64
    # all targets ignored: 0 and zero gradients
    loss, dh, dW, db = fs.linear_cross_entropy_with_grad(h, W, np.full(h.shape[0], -100), bias=b)
    assert loss == 0 and not dh.any() and not dW.any() and not db.any()


@IMPLS
def test_errors(impl):
    h, W, b, t = case(np.float32)
    with pytest.raises(ValueError, match="last dimensions"):
        impl.linear_cross_entropy(h, W[:, :5], t)
    with pytest.raises(ValueError, match=r"W has shape \(300,\)"):
        impl.linear_cross_entropy(h, W[:, 0], t)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\)"):
        impl.linear_cross_entropy(h, W, t, bias=b[:3])
    with pytest.raises(ValueError, match=r"target\[1\] = 300"):
        impl.linear_cross_entropy_with_grad(h, W, np.where(np.arange(70) == 1, 300, t))
    with pytest.raises(ValueError, match="chunk_size"):
        impl.linear_cross_entropy(h, W, t, chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size"):
        impl.linear_cross_entropy(h, W, t, chunk_size=2.5)
    with pytest.raises(ValueError, match="target has shape"):
        impl.linear_cross_entropy(h, W, t[:3])


def test_peak_memory_is_a_chunk_not_n_by_v():
    """tracemalloc sees NumPy's buffers: the fused call's peak, less its outputs, stays
    about 1.25 (chunk, V) buffers while the naive logits alone are N * V."""
    if fs.backend != "c":
        pytest.skip("the NumPy reference is the naive computation by design")
    n, d, v, chunk = 2048, 32, 4000, 128
    h, W, _, t = case(np.float32, n=n, d=d, v=v)
    fs.linear_cross_entropy_with_grad(h[:4], W, t[:4], chunk_size=chunk)   # warm up imports
    tracemalloc.start()
    try:
        res = fs.linear_cross_entropy_with_grad(h, W, t, chunk_size=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = sum(a.nbytes for a in res if isinstance(a, np.ndarray))
    naive_logits = n * v * 4
    extra = peak - outputs
    assert extra <= 1.5 * chunk * v * 4 + (1 << 20), extra
    assert extra <= naive_logits / 8, (extra, naive_logits)


def test_zero_samples_give_zero_gradients(dtype):
    h, W, b, t = case(dtype, n=0)
    loss, dh, dW, db = fs.linear_cross_entropy_with_grad(h, W, t, bias=b)
    assert loss == 0 and dh.shape == (0, h.shape[1]) and not dW.any() and not db.any()
