"""Cross-entropy options against torch (forward + backward), float32, 1 thread.

Run: python benchmarks/compare_ce_options.py        (needs torch; prints one line per case)
"""
import numpy as np, time, torch, fastsoftmax as fs
torch.set_num_threads(1)
F = torch.nn.functional
def med(f, n=7):
    f(); ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts))
for (N, C) in [(512, 32000), (4096, 1000)]:   # a quarter of the targets ignored
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C), dtype=np.float32)
    t = rng.integers(0, C, N); t[::4] = -100
    w = rng.random(C).astype(np.float32)
    p = rng.random((N, C), dtype=np.float32); p /= p.sum(1, keepdims=True)
    g = np.empty_like(x)
    cases = {
        "plain+ignore": (dict(), t, dict()),
        "weight": (dict(weight=w), t, dict(weight=torch.from_numpy(w))),
        "smooth0.1": (dict(label_smoothing=0.1), t, dict(label_smoothing=0.1)),
        "weight+smooth": (dict(weight=w, label_smoothing=0.1), t, dict(weight=torch.from_numpy(w), label_smoothing=0.1)),
        "probs": (dict(), p, dict()),
        "z_loss": (dict(z_loss=1e-4), t, None),
        "softcap30": (dict(softcap=30.0), t, "cap"),
    }
    for name, (kw, tgt, tkw) in cases.items():
        f = lambda: fs.cross_entropy_with_grad(x, tgt, grad_out=g, n_threads=1, **kw)
        tf = med(f)
        lf = med(lambda: fs.cross_entropy(x, tgt, n_threads=1, **kw))
        tt = torch.from_numpy(tgt)
        def tor():
            z = torch.from_numpy(x).requires_grad_(True)
            if tkw is None:   # z-loss by hand
                lse = torch.logsumexp(z, -1); m = tt != -100
                loss = F.cross_entropy(z, tt) + 1e-4 * (lse[m] ** 2).mean()
            elif tkw == "cap":
                loss = F.cross_entropy(30.0 * torch.tanh(z / 30.0), tt)
            else:
                loss = F.cross_entropy(z, tt, **tkw)
            loss.backward()
        tt_ = med(tor)
        print(f"{N}x{C} f32 {name:14s} loss {lf*1e3:7.2f} ms  loss+grad {tf*1e3:7.2f} ms  torch fwd+bwd {tt_*1e3:7.2f} ms  x{tt_/tf:5.1f}", flush=True)
