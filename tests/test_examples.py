"""The examples run, briefly, and print what they promise."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_digits(capsys):
    pytest.importorskip("sklearn")
    results = _load("train_digits").main(["--epochs", "8"])
    out = capsys.readouterr().out
    assert "softmax regression" in out and "MLP, 128 hidden units" in out
    assert out.count("\n    8  ") == 2                     # an epoch-8 line per model
    assert "time in loss + gradient" in out and "NumPy reference" in out
    assert results["softmax regression"] > 0.9
    assert results["MLP"] > 0.93     # >= 0.95 with the default 40 epochs (README)


def test_lm_head(capsys):
    results = _load("lm_head").main(["--tokens", "300", "--hidden", "16", "--vocab", "700",
                                     "--steps", "4", "--lr", "5"])
    out = capsys.readouterr().out
    losses = [float(line.split()[1]) for line in out.splitlines()
              if line[:4].strip().isdigit() and len(line.split()) == 2]
    assert len(losses) == 4 and losses[-1] < losses[0]       # it learns
    (lf, _, mf), (ln, _, mn) = results["fused"], results["naive"]
    assert lf == pytest.approx(ln, rel=1e-5)
    assert "fused / naive" in out
