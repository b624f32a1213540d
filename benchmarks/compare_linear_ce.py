"""Fused linear + cross-entropy (N=4096, D=1024, V=32000, float32, loss + dh + dW)
against the naive h @ W.T and torch's F.linear_cross_entropy (reference and chunked),
interleaved, all threads; then the peak RSS growth of one call of each, in fresh processes.

Run: python benchmarks/compare_linear_ce.py [ROUNDS]      (needs torch >= 2.13)
"""
import subprocess
import numpy as np, time, sys
import fastsoftmax as fs, torch
F = torch.nn.functional
N, D, V = 4096, 1024, 32000
rng = np.random.default_rng(0)
h = rng.standard_normal((N, D), dtype=np.float32)
W = rng.standard_normal((V, D), dtype=np.float32) * np.float32(1 / 32)
t = rng.integers(0, V, N)
tt = torch.from_numpy(t)
def naive():
    z = h @ W.T
    loss, g = fs.cross_entropy_with_grad(z, t, grad_out=z)
    return loss, g @ W, g.T @ h
def fused():
    return fs.linear_cross_entropy_with_grad(h, W, t)
def mk(opts):
    def call():
        ht = torch.from_numpy(h).requires_grad_(True); wt = torch.from_numpy(W).requires_grad_(True)
        loss = F.linear_cross_entropy(ht, wt, tt, options=opts); loss.backward()
        return loss
    return call
fns = {"fused": fused, "naive": naive, "torch_ref": mk(None), "torch_chunked": mk(torch.nn.LinearCrossEntropyOptions())}
l1 = float(fused()[0]); l2 = float(fns["torch_chunked"]().item()); print("loss fused", l1, "torch", l2)
T = {k: [] for k in fns}
for rep in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    for k, f in fns.items():
        t0 = time.perf_counter(); f(); T[k].append(time.perf_counter() - t0)
print("threads torch", torch.get_num_threads(), "fs", fs.get_num_threads())
for k in T:
    print(f"{k:14s} median {np.median(T[k]):.3f} s  ratio to fused {np.median(T[k]) / np.median(T['fused']):.2f}  samples {[round(x, 2) for x in T[k]]}")

# Peak RSS by Linux's VmHWM, reset just before the call (ru_maxrss would carry the
# parent's peak across fork + exec).
RSS = r"""
import sys, gc
import numpy as np, fastsoftmax as fs
N, D, V = 4096, 1024, 32000
rng = np.random.default_rng(0)
h = rng.standard_normal((N, D), dtype=np.float32)
W = rng.standard_normal((V, D), dtype=np.float32) * np.float32(1 / 32)
t = rng.integers(0, V, N)
m = sys.argv[1]
if m.startswith("torch"):
    import torch
    F = torch.nn.functional
    opts = torch.nn.LinearCrossEntropyOptions() if m == "torch_chunked" else None
    def call():
        ht = torch.from_numpy(h).requires_grad_(True); wt = torch.from_numpy(W).requires_grad_(True)
        F.linear_cross_entropy(ht, wt, torch.from_numpy(t), options=opts).backward()
    F.linear_cross_entropy(torch.from_numpy(h[:8]), torch.from_numpy(W[:100]), torch.from_numpy(t[:8] % 100))
elif m == "naive":
    def call():
        z = h @ W.T
        loss, g = fs.cross_entropy_with_grad(z, t, grad_out=z)
        return g @ W, g.T @ h
    fs.cross_entropy_with_grad(h[:8, :100] @ W[:100, :100].T, t[:8] % 100)
else:
    def call():
        return fs.linear_cross_entropy_with_grad(h, W, t)
    fs.linear_cross_entropy_with_grad(h[:8], W[:100], t[:8] % 100)
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")   # resets VmHWM to the current RSS
before = status("VmRSS:")
call()
after = status("VmHWM:")
outputs = (N * D + V * D) * 4
print(f"{m:14s} peak RSS growth less dh, dW: {(after - before - outputs) / 2**20:.0f} MiB")
"""
for m in ("fused", "naive", "torch_ref", "torch_chunked"):
    subprocess.run([sys.executable, "-c", RSS, m], check=True)
