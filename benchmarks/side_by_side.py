"""Side-by-side timing behind the README's speed table (needs torch and scipy).

    python benchmarks/side_by_side.py

One process, 1 thread, medians; each line prints fastsoftmax's time and the
others' as (x ratio) = their time / fastsoftmax's.  Needs about 6 GB of memory
for the 8192x32000 rows.  The full `python -m fastsoftmax.bench` command is
still to come.
"""
import timeit

import numpy as np
import torch
import fastsoftmax as fs
from fastsoftmax import reference as ref
torch.set_num_threads(1)
def med(f, reps=9):
    f()
    ts = []
    for _ in range(reps):
        t0 = timeit.default_timer(); f(); ts.append(timeit.default_timer() - t0)
    return float(np.median(ts))

def line(label, **t):
    base = t.pop("fs")
    s = "  ".join(f"{k} {v*1e3:8.3f}ms (x{v/base:5.2f})" for k, v in t.items() if v)
    print(f"{label:34s} fs {base*1e3:8.3f}ms  {s}", flush=True)
for isa in ["avx512", "avx2", "scalar"]:
    fs.set_isa(isa); print("== isa", isa)
    for shape in [(4096, 10), (2048, 1000), (512, 32000)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        out = np.empty_like(x); xt = torch.from_numpy(x)
        cp = np.empty_like(x)
        line(f"softmax {shape} out=", fs=med(lambda: fs.softmax(x, out=out)),
             torch=med(lambda: torch.softmax(xt, -1)), numpy=med(lambda: ref.softmax(x)) if isa=="avx512" else 0.0,
             copyto=med(lambda: np.copyto(cp, x)))
        line(f"log_softmax {shape} out=", fs=med(lambda: fs.log_softmax(x, out=out)),
             torch=med(lambda: torch.log_softmax(xt, -1)))
        t = np.random.default_rng(1).integers(0, shape[1], shape[0]); tt = torch.from_numpy(t)
        line(f"cross_entropy {shape}", fs=med(lambda: fs.cross_entropy(x, t)),
             torch=med(lambda: torch.nn.functional.cross_entropy(xt, tt)))
        def tfb():
            z = xt.clone().requires_grad_(True); torch.nn.functional.cross_entropy(z, tt).backward()
        g = np.empty_like(x)
        line(f"ce_with_grad {shape} grad_out=", fs=med(lambda: fs.cross_entropy_with_grad(x, t, grad_out=g)),
             torch=med(tfb), numpy=med(lambda: ref.cross_entropy_with_grad(x, t)) if isa=="avx512" else 0.0)
    if isa != "avx512": continue
    x = np.random.default_rng(0).standard_normal((8192, 32000)).astype(np.float32)
    out = np.empty_like(x); xt = torch.from_numpy(x); cp = np.empty_like(x)
    line("softmax (8192, 32000) out=", fs=med(lambda: fs.softmax(x, out=out), 5), torch=med(lambda: torch.softmax(xt, -1), 5),
         copyto=med(lambda: np.copyto(cp, x), 5))
    del out, cp
    x64 = x.astype(np.float64); del x, xt
    t = np.random.default_rng(1).integers(0, 32000, 8192); tt = torch.from_numpy(t); xt64 = torch.from_numpy(x64)
    g = np.empty_like(x64)
    def tfb64():
        z = xt64.clone().requires_grad_(True); torch.nn.functional.cross_entropy(z, tt).backward()
    line("ce_with_grad f64 (8192, 32000)", fs=med(lambda: fs.cross_entropy_with_grad(x64, t, grad_out=g), 3), torch=med(tfb64, 3))
    del x64, xt64, g
    x = np.zeros((1, 10), np.float32)
    print("overhead softmax (1,10) f32: %.2f us" % (med(lambda: fs.softmax(x), 2001) * 1e6))
