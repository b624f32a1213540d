"""The type stubs (fastsoftmax/__init__.pyi, py.typed) describe the API a user calls."""
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

import fastsoftmax as fs
from _util import PYTHON

mypy_api = pytest.importorskip("mypy.api")

GOOD = """
import numpy as np
import fastsoftmax as fs

x = np.zeros((4, 10), np.float32)
t = np.zeros(4, np.int64)
p: np.ndarray = fs.softmax(x, axis=-1, out=np.empty_like(x), n_threads=2)
lp = fs.log_softmax(x, None)
lse = fs.logsumexp(x, axis=0, keepdims=True)
loss = fs.cross_entropy(x, t, weight=np.ones(10), label_smoothing=0.1, reduction="sum")
loss2, lse2 = fs.cross_entropy(x, t, return_lse=True)
loss3, grad = fs.cross_entropy_with_grad(x, t, grad_out=x)
loss4, dh, dW, db = fs.linear_cross_entropy_with_grad(x, np.zeros((5, 10)), t)
n: int = fs.get_num_threads()
isas: list[str] = fs.available_isas()
with fs.patched_scipy():
    pass
"""

BAD = """
import numpy as np
import fastsoftmax as fs

fs.softmax(np.zeros(3), axis="last")
fs.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64), reduction="avg")
n: str = fs.get_num_threads()
"""


def _mypy(tmp_path, code):
    path = tmp_path / "user.py"
    path.write_text(textwrap.dedent(code))
    args = [str(path), "--python-executable", PYTHON, "--no-incremental",
            "--cache-dir", str(tmp_path / "cache"), "--follow-imports", "silent",
            "--ignore-missing-imports"]
    env = dict(os.environ)
    package_root = Path(fs.__file__).resolve().parents[1]
    if "site-packages" not in str(package_root):      # an editable / source checkout
        os.environ["MYPYPATH"] = str(package_root)
    try:
        out, err, status = mypy_api.run(args)
    finally:
        os.environ.clear()
        os.environ.update(env)
    return out + err, status


def test_stubs_accept_real_calls(tmp_path):
    out, status = _mypy(tmp_path, GOOD)
    assert status == 0, out


def test_stubs_reject_wrong_calls(tmp_path):
    out, status = _mypy(tmp_path, BAD)
    assert status == 1, out
    assert out.count("error:") == 3, out


def test_stubs_match_the_runtime(tmp_path):
    """``python -m mypy.stubtest fastsoftmax``: every name, parameter and default of
    __init__.pyi is the imported module's (tests/stubtest.ini: third-party packages
    without stubs are not checked; tests/stubtest_allowlist.txt: private internals
    stubtest cannot see through)."""
    pytest.importorskip("mypy.stubtest")
    here = Path(__file__).resolve().parent
    package_root = Path(fs.__file__).resolve().parents[1]
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("MYPYPATH", None)
    if "site-packages" not in str(package_root):   # an editable / source checkout
        env["MYPYPATH"] = str(package_root)
    args = ["--allowlist", str(here / "stubtest_allowlist.txt")]
    try:
        import torch  # noqa: F401
    except ImportError:
        # fastsoftmax.torch cannot be imported without torch (an optional extra):
        # the rest is checked, that module and its allowlist entries are not
        (tmp_path / "no_torch.txt").write_text("fastsoftmax\\.torch.*\n")
        args += ["--allowlist", str(tmp_path / "no_torch.txt"), "--ignore-unused-allowlist"]
    # from an empty folder: an installed package is found in site-packages (py.typed),
    # whose other top-level modules mypy must not take for the user's own
    r = subprocess.run(
        [PYTHON, "-m", "mypy.stubtest", "fastsoftmax", "--ignore-missing-stub",
         "--mypy-config-file", str(here / "stubtest.ini"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout, r.stdout
