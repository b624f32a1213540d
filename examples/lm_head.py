"""A language-model head trained with fastsoftmax.linear_cross_entropy_with_grad.

    python examples/lm_head.py [--tokens 2048] [--hidden 256] [--vocab 32000] [--steps 6]

The last layer of a language model maps N hidden states h (N x D) through the
vocabulary matrix W (V x D) to N x V logits, and cross-entropy reduces them to
one number.  At N = 4096 and V = 32000 the float32 logits alone are 500 MiB,
and the naive gradient needs them twice.  linear_cross_entropy_with_grad goes
through the rows in chunks: BLAS makes one chunk of logits, the fused kernel
turns it into the gradient in place, BLAS adds its part of dh and dW -- the
N x V array never exists.

Here the head (W and a bias) learns token frequencies (Zipf-distributed
targets, a tenth of the positions padding with ignore_index=-100) by gradient
descent, and
one step is measured both ways: fused, and naive (h @ W.T, the fused
cross-entropy kernel in place, two matmuls), with tracemalloc's peak of
NumPy allocations beyond the outputs.
"""
import argparse
import time
import tracemalloc

import numpy as np

import fastsoftmax as fs


def batch(n_tokens, vocab, rng):
    """Zipf-distributed token ids, a tenth of them padding (-100)."""
    p = 1.0 / np.arange(1, vocab + 1)
    target = rng.choice(vocab, size=n_tokens, p=p / p.sum())
    target[rng.random(n_tokens) < 0.1] = -100
    return target


def naive_step(h, W, bias, target):
    logits = h @ W.T + bias                                           # N x V
    loss, g = fs.cross_entropy_with_grad(logits, target, grad_out=logits)
    return loss, g @ W, g.T @ h


def fused_step(h, W, bias, target):
    loss, dh, dW, _ = fs.linear_cross_entropy_with_grad(h, W, target, bias=bias)
    return loss, dh, dW


def measure(step, h, W, bias, target):
    """(seconds, peak MiB of NumPy allocations beyond the loss, dh and dW)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    loss, dh, dW = step(h, W, bias, target)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return loss, seconds, (peak - dh.nbytes - dW.nbytes) / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--lr", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n, d, v = args.tokens, args.hidden, args.vocab
    rng = np.random.default_rng(args.seed)
    h = rng.standard_normal((n, d), dtype=np.float32)
    W = rng.standard_normal((v, d), dtype=np.float32) * np.float32(1 / np.sqrt(d))
    bias = np.zeros(v, np.float32)
    lr = np.float32(args.lr)
    print(f"LM head: N={n} tokens, D={d}, V={v}, float32; fastsoftmax {fs.__version__} "
          f"({fs.get_isa()}, {fs.get_num_threads()} threads); the N x V logits would be "
          f"{n * v * 4 / 2**20:.0f} MiB")
    print("step  loss (mean over non-padding tokens)")
    for step in range(1, args.steps + 1):
        target = batch(n, v, rng)
        loss, dh, dW, dbias = fs.linear_cross_entropy_with_grad(h, W, target, bias=bias)
        W -= lr * dW
        bias -= lr * dbias
        print(f"{step:4d}  {loss:.4f}")
    target = batch(n, v, rng)
    results = {}
    print("\none step, loss + dh + dW   time      peak extra memory")
    for name, step in (("fused (linear_cross_entropy_with_grad)", fused_step),
                       ("naive (h @ W.T, fused CE in place, 2 matmuls)", naive_step)):
        loss, seconds, mib = measure(step, h, W, bias, target)
        results[name.split()[0]] = (loss, seconds, mib)
        print(f"{name:<46} {seconds * 1e3:7.1f} ms {mib:9.1f} MiB")
    (lf, tf, mf), (ln, tn, mn) = results["fused"], results["naive"]
    print(f"fused / naive: time {tf / tn:.2f}x, memory {mf / mn:.3f}x; "
          f"losses {lf:.6f} and {ln:.6f}")
    return results


if __name__ == "__main__":
    main()
