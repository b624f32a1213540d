"""Per-call time of tiny calls: fastsoftmax against torch, every op, side by side.

Run pinned to one CPU (one thread on both sides, as a tiny call runs anyway):

    taskset -c 1 python benchmarks/tiny_calls.py            # about a minute
    taskset -c 1 python benchmarks/tiny_calls.py --quick    # fewer repeats
    taskset -c 1 python benchmarks/tiny_calls.py --shapes 64x10 --dtypes float64 --ops softmax

Each cell is the median (and the min) over ``--repeat`` timeit runs of
``--number`` calls, fastsoftmax and torch interleaved run by run, in one
process.  Inputs are C-contiguous float32/float64 arrays (torch: the same
memory through torch.from_numpy), default options, results freshly allocated
on both sides.  The torch equivalents:

- softmax / log_softmax / logsumexp: torch.softmax / log_softmax / logsumexp(t, -1)
- softmax_backward / log_softmax_backward: torch._softmax_backward_data /
  torch._log_softmax_backward_data (the kernels autograd calls)
- cross_entropy, nll_loss: torch.nn.functional.cross_entropy / nll_loss
  (int64 targets, reduction "mean")
- cross_entropy_with_grad: forward and backward through autograd
  (F.cross_entropy on a leaf that requires grad, then torch.autograd.grad),
  and, stricter, ``aten``: the same kernels without autograd
  (log_softmax, nll_loss_forward, nll_loss_backward, _log_softmax_backward_data)

ratio = torch / fastsoftmax: above 1, fastsoftmax is faster.  Nothing is asserted.
"""
import argparse
import os
import platform
import statistics
import timeit

import numpy as np

import fastsoftmax as fs

try:
    import torch
    import torch.nn.functional as F
except ImportError:      # the table then has fastsoftmax alone
    torch = None

SHAPES = [(1, 10), (4, 10), (64, 10)]
DTYPES = ["float32", "float64"]


def cases(shape, dtype):
    """(op, fastsoftmax callable, {torch variant: callable}) for one shape and dtype."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = fs.softmax(x)
    lp = fs.log_softmax(x)
    t = rng.integers(0, shape[-1], shape[:-1])
    out = [
        ("softmax", lambda: fs.softmax(x)),
        ("log_softmax", lambda: fs.log_softmax(x)),
        ("logsumexp", lambda: fs.logsumexp(x)),
        ("softmax_backward", lambda: fs.softmax_backward(g, y)),
        ("log_softmax_backward", lambda: fs.log_softmax_backward(g, lp)),
        ("cross_entropy", lambda: fs.cross_entropy(x, t)),
        ("cross_entropy_with_grad", lambda: fs.cross_entropy_with_grad(x, t)),
        ("nll_loss", lambda: fs.nll_loss(lp, t)),
    ]
    if torch is None:
        return [(op, f, {}) for op, f in out]
    tx, tg, ty, tlp, tt = (torch.from_numpy(a) for a in (x, g, y, lp, t))
    tdt = tx.dtype
    tleaf = tx.clone().requires_grad_(True)

    def autograd_fwd_bwd():
        loss = F.cross_entropy(tleaf, tt)
        return loss, torch.autograd.grad(loss, tleaf)[0]

    ones = torch.ones((), dtype=tdt)

    def aten_fwd_bwd():
        lsm = torch.log_softmax(tx, -1)
        loss, total = torch.ops.aten.nll_loss_forward(lsm, tt, None, 1, -100)
        gl = torch.ops.aten.nll_loss_backward(ones, lsm, tt, None, 1, -100, total)
        return loss, torch._log_softmax_backward_data(gl, lsm, -1, tdt)

    theirs = {
        "softmax": {"torch": lambda: torch.softmax(tx, -1)},
        "log_softmax": {"torch": lambda: torch.log_softmax(tx, -1)},
        "logsumexp": {"torch": lambda: torch.logsumexp(tx, -1)},
        "softmax_backward": {"torch": lambda: torch._softmax_backward_data(tg, ty, -1, tdt)},
        "log_softmax_backward": {
            "torch": lambda: torch._log_softmax_backward_data(tg, tlp, -1, tdt)},
        "cross_entropy": {"torch": lambda: F.cross_entropy(tx, tt)},
        "cross_entropy_with_grad": {"torch": autograd_fwd_bwd, "torch aten": aten_fwd_bwd},
        "nll_loss": {"torch": lambda: F.nll_loss(tlp, tt)},
    }
    return [(op, f, theirs[op]) for op, f in out]


def measure(fns, number, repeat):
    """{name: per-call times (s), one per repeat}, the callables interleaved run by run."""
    timers = {name: timeit.Timer(f) for name, f in fns.items()}
    for tm in timers.values():
        tm.timeit(number // 10 or 1)    # warm up
    runs = {name: [] for name in fns}
    for _ in range(repeat):
        for name, tm in timers.items():
            runs[name].append(tm.timeit(number) / number)
    return runs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--number", type=int, default=10000, help="calls per timeit run")
    p.add_argument("--repeat", type=int, default=7, help="timeit runs per cell")
    p.add_argument("--quick", action="store_true", help="number=2000, repeat=5")
    p.add_argument("--ops", default="", help="comma-separated ops (default: all)")
    p.add_argument("--shapes", default="", help="comma-separated RxC shapes (default: "
                   + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    p.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated dtypes")
    args = p.parse_args(argv)
    if args.quick:
        args.number, args.repeat = 2000, 5
    only = set(filter(None, args.ops.split(",")))
    shapes = [tuple(int(n) for n in s.split("x")) for s in args.shapes.split(",") if s] or SHAPES
    dtypes = [d for d in args.dtypes.split(",") if d]
    if torch is not None:
        torch.set_num_threads(1)
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = "?"
    print(f"# tiny calls: {platform.processor() or platform.machine()}, CPUs {cpus}, "
          f"fastsoftmax {fs.__version__} ({fs.backend}, isa {fs.get_isa()}, "
          f"{fs.get_num_threads()} threads), numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'absent'} (1 thread)")
    print(f"# per-call times in µs: median (min) of {args.repeat} runs of {args.number} calls; "
          "ratio = torch median / fastsoftmax median")
    head = f"{'op':24s} {'dtype':7s} {'shape':6s} {'fastsoftmax':>15s} {'torch':>24s} {'ratio':>6s}"
    print(head)
    print("-" * len(head))
    for dtype in dtypes:
        for shape in shapes:
            for op, mine, theirs in cases(shape, dtype):
                if only and op not in only:
                    continue
                runs = measure({"fastsoftmax": mine, **theirs}, args.number, args.repeat)
                med = {k: statistics.median(v) * 1e6 for k, v in runs.items()}
                lo = {k: min(v) * 1e6 for k, v in runs.items()}
                sh = "x".join(map(str, shape))
                cell = f"{med['fastsoftmax']:6.2f} ({lo['fastsoftmax']:5.2f})"
                names = list(theirs) or [None]
                for i, name in enumerate(names):
                    left = (f"{op:24s} {dtype:7s} {sh:6s} {cell:>15s}" if i == 0
                            else " " * 55)
                    if name is None:
                        print(left)
                        continue
                    tcell = f"{name:10s} {med[name]:6.2f} ({lo[name]:5.2f})"
                    print(f"{left} {tcell:>24s} {med[name] / med['fastsoftmax']:6.2f}",
                          flush=True)


if __name__ == "__main__":
    main()
