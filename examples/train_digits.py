"""Train softmax regression and a one-hidden-layer MLP on scikit-learn's digits.

    pip install "fastsoftmax[examples]"        # scikit-learn (the data ships with it)
    python examples/train_digits.py [--epochs 40] [--hidden 128]

Plain NumPy for the layers; fastsoftmax's fused cross-entropy gives the loss
and d loss / d logits in one call, written over the logits buffer (no extra
N x C array).  Each batch's loss + gradient is also computed by the NumPy
reference (fastsoftmax.reference, the same API) on the same logits, timed
side by side, so the report compares the two on identical work; training
uses fastsoftmax's result.
"""
import argparse
import time

import numpy as np

import fastsoftmax as fs
from fastsoftmax import reference


def load(seed):
    """Standardised digits (1797 x 64, 10 classes), split 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_train = int(0.8 * len(X))
    tr, te = order[:n_train], order[n_train:]
    mean, std = X[tr].mean(0), X[tr].std(0) + 1.0     # +1: constant pixels stay finite
    return (X[tr] - mean) / std, y[tr], (X[te] - mean) / std, y[te]


class Timer:
    """Seconds spent in the loss + gradient, per implementation."""

    def __init__(self):
        self.seconds = {"fastsoftmax": 0.0, "reference": 0.0}

    def loss_and_grad(self, logits, y):
        t0 = time.perf_counter()
        ref_loss, ref_grad = reference.cross_entropy_with_grad(logits, y)
        t1 = time.perf_counter()
        loss, grad = fs.cross_entropy_with_grad(logits, y, grad_out=logits)   # in place
        t2 = time.perf_counter()
        self.seconds["reference"] += t1 - t0
        self.seconds["fastsoftmax"] += t2 - t1
        assert abs(loss - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
        return loss, grad


class SoftmaxRegression:
    def __init__(self, n_in, n_out, rng):
        self.W = (rng.standard_normal((n_in, n_out)) * 0.01).astype(np.float32)
        self.b = np.zeros(n_out, np.float32)

    def logits(self, X):
        return X @ self.W + self.b

    def step(self, X, y, lr, timer):
        loss, g = timer.loss_and_grad(self.logits(X), y)   # g: d mean loss / d logits
        self.W -= lr * (X.T @ g)
        self.b -= lr * g.sum(0)
        return loss


class MLP:
    """n_in -> hidden (ReLU) -> n_out, SGD with momentum."""

    def __init__(self, n_in, hidden, n_out, rng, momentum=0.9):
        he = np.sqrt(2.0 / n_in)
        self.params = {
            "W1": (rng.standard_normal((n_in, hidden)) * he).astype(np.float32),
            "b1": np.zeros(hidden, np.float32),
            "W2": (rng.standard_normal((hidden, n_out)) * np.sqrt(1.0 / hidden)).astype(np.float32),
            "b2": np.zeros(n_out, np.float32),
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.momentum = momentum

    def logits(self, X):
        p = self.params
        return np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]

    def step(self, X, y, lr, timer):
        p = self.params
        h = np.maximum(X @ p["W1"] + p["b1"], 0)
        loss, g = timer.loss_and_grad(h @ p["W2"] + p["b2"], y)
        dh = (g @ p["W2"].T) * (h > 0)
        grads = {"W2": h.T @ g, "b2": g.sum(0), "W1": X.T @ dh, "b1": dh.sum(0)}
        for k, dk in grads.items():
            v = self.velocity[k]
            v *= self.momentum
            v -= lr * dk
            p[k] += v
        return loss


def accuracy(model, X, y):
    return float((model.logits(X).argmax(1) == y).mean())


def train(name, model, data, epochs, batch, lr, rng, timer):
    X, y, Xt, yt = data
    print(f"\n{name}")
    print("epoch  train loss  train acc  test acc")
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X))
        total = 0.0
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            total += model.step(X[idx], y[idx], lr, timer) * len(idx)
        print(f"{epoch:5d}  {total / len(X):10.4f}  {accuracy(model, X, y):9.4f}  "
              f"{accuracy(model, Xt, yt):8.4f}")
    return accuracy(model, Xt, yt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = load(args.seed)
    X, y, Xt, _ = data
    print(f"digits: {len(X)} train / {len(Xt)} test samples, {X.shape[1]} features, 10 classes; "
          f"fastsoftmax {fs.__version__} (backend {fs.backend}, {fs.get_isa()})")
    rng = np.random.default_rng(args.seed)
    timer = Timer()
    results = {
        "softmax regression": train("softmax regression", SoftmaxRegression(X.shape[1], 10, rng),
                                    data, args.epochs, args.batch, args.lr, rng, timer),
        "MLP": train(f"MLP, {args.hidden} hidden units (ReLU), momentum 0.9",
                     MLP(X.shape[1], args.hidden, 10, rng), data, args.epochs, args.batch,
                     args.lr * 0.2, rng, timer),
    }
    fast, ref = timer.seconds["fastsoftmax"], timer.seconds["reference"]
    print("\ntest accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
    print(f"time in loss + gradient (both models, same logits): fastsoftmax {fast * 1e3:.1f} ms, "
          f"NumPy reference {ref * 1e3:.1f} ms ({ref / fast:.1f}x)")
    return results


if __name__ == "__main__":
    main()
