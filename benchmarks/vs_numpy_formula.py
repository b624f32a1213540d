"""Every kernel set against the plain NumPy formulas users write, side by side.

Run pinned to one CPU (everything runs in one thread):

    taskset -c 1 python benchmarks/vs_numpy_formula.py
    taskset -c 1 python benchmarks/vs_numpy_formula.py --shapes 2048x1000,512x32000 --sets scalar

For each kernel set this CPU runs (forced with fastsoftmax.set_isa, so the
portable "scalar" set is measured on x86 too), shape and dtype: the median
time of fastsoftmax (``out=`` / ``grad_out=`` preallocated) and the median of
the per-run ratio NumPy / fastsoftmax, the two interleaved run by run.  The
NumPy formulas:

- softmax:        e = np.exp(x - x.max(1, keepdims=True)); e / e.sum(1, keepdims=True)
- loss + gradient: m = x.max(1, keepdims=True); e = np.exp(x - m); s = e.sum(1, keepdims=True);
                   loss = mean(log(s) + m - x[i, t]); p = e / s; p[i, t] -= 1; p /= N

ratio above 1: fastsoftmax is faster.  Nothing is asserted (timing on a shared
machine is noisy; rerun and compare medians).
"""
import argparse
import platform
import statistics
import time

import numpy as np

import fastsoftmax as fs


def np_softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def np_ce_with_grad(x, t):
    n = x.shape[0]
    rows = np.arange(n)
    m = x.max(1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(1, keepdims=True)
    loss = (np.log(s[:, 0]) + m[:, 0] - x[rows, t]).mean()
    p = e / s
    p[rows, t] -= 1
    p /= n
    return loss, p


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def side_by_side(ours, theirs, repeat):
    ours(), theirs()   # warm up: first-touch page faults, caches
    t_ours, ratios = [], []
    for _ in range(repeat):
        a = timed(theirs)
        b = timed(ours)
        t_ours.append(b)
        ratios.append(a / b)
    return statistics.median(t_ours), statistics.median(ratios)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="2048x1000,512x32000")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--sets", default=",".join(fs.available_isas()) if fs.backend == "c" else "")
    ap.add_argument("--repeat", type=int, default=31)
    args = ap.parse_args(argv)
    if fs.backend != "c":
        raise SystemExit("the compiled extension is not in use (FASTSOFTMAX_BACKEND=numpy?)")
    print(f"# {platform.machine()} {platform.processor() or ''} sets {fs.available_isas()}; "
          f"numpy {np.__version__}; 1 thread; medians of {args.repeat}")
    print("| set | dtype | shape | softmax ms | x numpy | loss+grad ms | x numpy |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    fs.set_num_threads(1)
    for kset in args.sets.split(","):
        fs.set_isa(kset)
        for dt in args.dtypes.split(","):
            for shape in args.shapes.split(","):
                n, c = (int(v) for v in shape.split("x"))
                x = (rng.standard_normal((n, c)) * 3).astype(dt)
                t = rng.integers(0, c, n)
                y = np.empty_like(x)
                g = np.empty_like(x)
                ts, rs = side_by_side(lambda: fs.softmax(x, out=y), lambda: np_softmax(x), args.repeat)
                tc, rc = side_by_side(lambda: fs.cross_entropy_with_grad(x, t, grad_out=g),
                                      lambda: np_ce_with_grad(x, t), args.repeat)
                print(f"| {kset} | {dt} | {shape} | {ts * 1e3:.2f} | {rs:.2f} | {tc * 1e3:.2f} | {rc:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
