"""`python -m fastsoftmax.bench`: output, JSON records, plot, memory check, argument errors.

Every run uses --quick (tiny arrays, short samples), so the whole file takes a
few seconds.  torch, scipy, onnxruntime (with onnx), jax and matplotlib are
optional: the runs compare with whatever is installed, the tests of one peer
skip without it, and one test hides them all to check the bench without them.
"""
import json
import statistics
import subprocess
import tempfile

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import bench
from _util import PYTHON

OPTIONAL = ("scipy", "torch", "onnxruntime", "jax")
# The ops each of the ONNX Runtime and JAX peers has among the default ones
PEER_OPS = {"onnxruntime": {"softmax", "log_softmax", "logsumexp", "cross_entropy"},
            "jax": set(bench.DEFAULT_OPS)}


def _run(capsys, *argv):
    """main(argv) in this process; returns (stdout, stderr)."""
    assert bench.main(list(argv)) == 0
    return capsys.readouterr()


def _json(path):
    with open(path) as f:
        return json.load(f)


def _hide(monkeypatch, *modules):
    """Make the bench believe ``modules`` are not installed."""
    real = bench.is_installed
    monkeypatch.setattr(bench, "is_installed", lambda m: m not in modules and real(m))


def _check_record(rec):
    """A record's derived numbers follow from its raw ones."""
    what = f"{rec['op']} {rec['dtype']} {rec['shape']} t={rec['threads']}"
    med = rec["median_s"]
    assert {"fastsoftmax", "copyto"} <= set(med), what
    for name, t in med.items():
        samples = rec["samples_s"][name]
        assert t > 0 and all(s > 0 for s in samples), f"{what} {name}: {samples}"
        assert len(samples) == rec["rounds"], f"{what} {name}"
        assert t == statistics.median(samples), f"{what} {name}"
        assert rec["calls_per_sample"][name] >= 1, f"{what} {name}"
    t_fs = med["fastsoftmax"]
    assert set(rec["ratios"]) == set(med) - {"fastsoftmax"}, what
    for name, ratio in rec["ratios"].items():
        assert ratio == pytest.approx(med[name] / t_fs, rel=1e-12), f"{what} {name}"
    for name, gbps in rec["gbps"].items():
        assert gbps == pytest.approx(rec["bytes"] / med[name] / 1e9, rel=1e-12), f"{what} {name}"
    assert rec["copy_gbps"] == pytest.approx(rec["copy_bytes"] / med["copyto"] / 1e9, rel=1e-12)
    assert rec["roofline_fraction"] == pytest.approx(
        rec["gbps"]["fastsoftmax"] / rec["copy_gbps"], rel=1e-12), what
    # the same fraction from the definition: (bytes / t_op) / (2 * x.nbytes / t_copy)
    assert rec["roofline_fraction"] == pytest.approx(
        (rec["bytes"] / t_fs) / (rec["copy_bytes"] / med["copyto"]), rel=1e-12), what


def _table_rows(stdout):
    """Table lines (not header comments, not notes) split into cells."""
    lines = [ln for ln in stdout.splitlines()
             if ln and not ln.startswith(("#", "-", "note:"))]
    return [ln.split() for ln in lines]


def test_table_and_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    out, err = _run(capsys, "--quick", "--ops", "softmax,cross_entropy_with_grad",
                    "--shapes", "64x100", "--json", str(path))
    # header: date, CPU, ISA, versions, method
    assert out.startswith("# fastsoftmax benchmark, ")
    for text in ("# CPU: ", " logical CPU", "ISA ", "versions: python ", "numpy ",
                 "median", "roofline = GB/s / copy GB/s", "threads: 1"):
        assert text in out, text
    # table: a header row and one row per cell; progress only on stderr
    rows = _table_rows(out)
    assert rows[0][:4] == ["op", "dtype", "shape", "threads"]
    cells = {(r[0], r[1], r[2], r[3]) for r in rows[1:]}
    assert cells == {("softmax", "float32", "64x100", "1"),
                     ("cross_entropy_with_grad", "float32", "64x100", "1")}
    assert "[1/2] softmax float32 64x100 t=1" in err
    assert "[2/2] cross_entropy_with_grad float32 64x100 t=1" in err
    assert "[1/2]" not in out

    doc = _json(path)
    meta = doc["meta"]
    for key in ("date", "cpu", "logical_cpus", "isa", "available_isas", "backend", "threads"):
        assert key in meta, key
    assert meta["versions"]["numpy"] and meta["versions"]["fastsoftmax"]
    recs = {r["op"]: r for r in doc["records"]}
    assert set(recs) == {"softmax", "cross_entropy_with_grad"}
    for rec in recs.values():
        _check_record(rec)
        assert rec["shape"] == [64, 100] and rec["dtype"] == "float32" and rec["threads"] == 1
        assert rec["copy_bytes"] == 2 * 64 * 100 * 4
        assert {"fresh", "numpy"} <= set(rec["median_s"])
    assert recs["softmax"]["bytes"] == 2 * 64 * 100 * 4
    assert recs["cross_entropy_with_grad"]["bytes"] == 2 * 64 * 100 * 4 + 64 * 8
    assert "scipy" not in recs["cross_entropy_with_grad"]["median_s"]   # scipy has no such op
    if "scipy" in meta["impls"]:
        assert "scipy" in recs["softmax"]["median_s"]
    if "torch" in meta["impls"]:
        assert "torch" in recs["cross_entropy_with_grad"]["median_s"]


def test_default_ops_leave_out_the_linear_and_scipy_ones():
    assert set(bench.DEFAULT_OPS) == {op for op in bench.OPS
                                      if not op.startswith(("linear_", "scipy_"))}
    assert {"linear_cross_entropy", "linear_cross_entropy_with_grad"} <= set(bench.OPS)
    assert {f"scipy_{f}_{a}" for f in ("softmax", "log_softmax", "logsumexp")
            for a in ("none", "tuple")} <= set(bench.OPS)


def test_every_op_threads_and_dtypes(capsys, tmp_path):
    """Every registered op runs each implementation it has, on both dtypes and 2 thread counts."""
    path = tmp_path / "bench.json"
    _run(capsys, "--quick", "--ops", ",".join(bench.OPS), "--hidden", "8", "--shapes", "4x16",
         "--dtypes", "float32,float64", "--threads", "1,2", "--repeat", "1", "--json", str(path))
    doc = _json(path)
    assert len(doc["records"]) == len(bench.OPS) * 2 * 2
    assert {(r["op"], r["dtype"], r["threads"]) for r in doc["records"]} == {
        (op, dt, k) for op in bench.OPS for dt in ("float32", "float64") for k in (1, 2)}
    for rec in doc["records"]:
        _check_record(rec)
        if rec["op"].startswith("linear_"):   # they say what numpy and torch mean there
            assert any("hidden size D = 8" in n for n in rec["notes"]), rec["notes"]
        elif rec["op"].startswith("scipy_"):  # they say what is called
            assert any(f"fastsoftmax.scipy.{rec['op'][6:].rsplit('_', 1)[0]}(" in n
                       for n in rec["notes"]), rec["notes"]
            if "scipy" in doc["meta"]["impls"]:
                assert "scipy" in rec["median_s"], rec["op"]
        else:
            assert not rec["notes"], rec["notes"]
        for peer, ops in PEER_OPS.items():
            if peer in doc["meta"]["impls"]:
                assert (peer in rec["median_s"]) == (rec["op"] in ops), (peer, rec["op"])
        no_torch_op = rec["op"] in ("scipy_softmax_tuple", "scipy_log_softmax_tuple")
        if "torch" in doc["meta"]["impls"]:
            assert ("torch" in rec["median_s"]) != no_torch_op, rec["op"]
            with_adapter = rec["op"] in ("softmax", "log_softmax", "cross_entropy",
                                         "cross_entropy_with_grad")
            assert ("fs_torch" in rec["median_s"]) == with_adapter, rec["op"]


def test_without_optional_peers(capsys, tmp_path, monkeypatch):
    _hide(monkeypatch, *OPTIONAL)
    path = tmp_path / "bench.json"
    out, _ = _run(capsys, "--quick", "--ops", "softmax,logsumexp", "--shapes", "8x32",
                  "--json", str(path))
    for name in OPTIONAL:
        assert f"NOTE: {name} is not installed; its column is left out" in out, name
    header = _table_rows(out)[0]
    assert not any(c in OPTIONAL for c in header), header
    assert "# jax:" not in out and "# onnxruntime:" not in out
    doc = _json(path)
    assert doc["meta"]["impls"] == ["fastsoftmax", "numpy"]
    assert not set(OPTIONAL) & set(doc["meta"]["versions"])
    for rec in doc["records"]:
        _check_record(rec)
        assert set(rec["median_s"]) == {"fastsoftmax", "fresh", "numpy", "copyto"}


def test_impls_subset(capsys, tmp_path):
    path = tmp_path / "bench.json"
    _run(capsys, "--quick", "--ops", "log_softmax", "--shapes", "8x32", "--impls", "numpy",
         "--json", str(path))
    (rec,) = _json(path)["records"]
    assert set(rec["median_s"]) == {"fastsoftmax", "fresh", "numpy", "copyto"}


def test_requested_impl_not_installed(capsys, monkeypatch):
    _hide(monkeypatch, "torch")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--impls", "torch"])
    assert exc.value.code == 2
    assert "torch is not installed" in capsys.readouterr().err


def test_onnxruntime_needs_onnx(capsys, monkeypatch):
    """The ONNX models are built with onnx: without it, onnxruntime counts as missing."""
    _hide(monkeypatch, "onnx", "torch", "jax")   # torch, jax: a shorter run
    assert bench.not_installed("onnxruntime") in (
        "onnxruntime needs onnx, which is not installed", "onnxruntime is not installed")
    out, _ = _run(capsys, "--quick", "--ops", "softmax", "--shapes", "8x32")
    assert f"NOTE: {bench.not_installed('onnxruntime')}; its column is left out" in out
    assert "onnxruntime" not in _table_rows(out)[0]
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--impls", "onnxruntime"])
    assert exc.value.code == 2
    assert f"--impls: {bench.not_installed('onnxruntime')}" in capsys.readouterr().err


def _peer(name):
    """The module of peer ``name`` as the bench imports it (skip the test without it)."""
    pytest.importorskip(name)
    if name == "onnxruntime":
        pytest.importorskip("onnx")
    return bench.import_impl(name, [1])


def test_onnxruntime_and_jax_columns(capsys, tmp_path):
    """A run restricted to the new peers has their numbers where they have the op, their
    versions and how they run in the header, and their ratio columns in the table."""
    _peer("onnxruntime"), _peer("jax")
    path = tmp_path / "bench.json"
    out, _ = _run(capsys, "--quick", "--ops", ",".join(bench.DEFAULT_OPS), "--shapes", "8x32",
                  "--dtypes", "float32,float64", "--impls", "fastsoftmax,onnxruntime,jax",
                  "--json", str(path))
    for text in ("onnxruntime 1", ", onnx 1", ", jax 0", "intra_op_num_threads=k",
                 f"# onnxruntime: a one-node ONNX model per op (opset {bench.ONNX_OPSET})",
                 "# jax: jax.jit on jax.device_put arrays", "XLA:CPU thread pool: "):
        assert text in out, text
    rows = _table_rows(out)
    times, _ = bench._glyphs()
    assert rows[0][-4:] == [times, "onnxruntime", times, "jax"], rows[0]
    doc = _json(path)
    assert doc["meta"]["impls"] == ["fastsoftmax", "onnxruntime", "jax"]
    assert doc["meta"]["onnx_opset"] == bench.ONNX_OPSET
    assert {"onnxruntime", "onnx", "jax", "jaxlib"} <= set(doc["meta"]["versions"])
    assert len(doc["records"]) == 2 * len(bench.DEFAULT_OPS)
    for rec in doc["records"]:
        _check_record(rec)
        for peer, ops in PEER_OPS.items():
            assert (peer in rec["ratios"]) == (rec["op"] in ops), (peer, rec["op"])
    # in the table: no onnxruntime ratio where it has no op, a jax one everywhere
    for row in rows[1:]:
        assert (row[-2] == "-") == (row[0] not in PEER_OPS["onnxruntime"]), row
        assert row[-1] != "-", row


def test_half_dtypes(capsys, tmp_path):
    """--dtypes float16,bfloat16: every op in both half types, with every installed peer;
    a peer without the type's kernels is left out of its cells, noted, and reads n/a."""
    pytest.importorskip("ml_dtypes")
    path = tmp_path / "bench.json"
    out, _ = _run(capsys, "--quick", "--ops", ",".join(bench.OPS), "--hidden", "8",
                  "--shapes", "4x16", "--dtypes", "float16,bfloat16", "--repeat", "1",
                  "--json", str(path))
    doc = _json(path)
    assert {(r["op"], r["dtype"]) for r in doc["records"]} == {
        (op, dt) for op in bench.OPS for dt in ("float16", "bfloat16")}
    rows = {(r[0], r[1]): r for r in _table_rows(out)[1:]}
    compared = bench._compared(doc["meta"]["impls"])   # the last columns, in this order
    for rec in doc["records"]:
        _check_record(rec)
        if not rec["op"].startswith("linear_"):   # those copy h
            assert rec["copy_bytes"] == 2 * 4 * 16 * 2
        for peer in rec["failed"]:    # left out with its reason, n/a in the table
            assert peer not in rec["median_s"]
            assert any(n.startswith(f"{peer} left out of {rec['op']} {rec['dtype']} 4x16 (n/a): ")
                       for n in rec["notes"]), (peer, rec["notes"])
            assert f"{peer} left out of {rec['op']} {rec['dtype']} 4x16 (n/a): " in out
            assert rows[rec["op"], rec["dtype"]][compared.index(peer) - len(compared)] == "n/a"
        if "torch" in doc["meta"]["impls"] and rec["op"] in ("softmax", "cross_entropy_with_grad"):
            assert "torch" in rec["median_s"], rec   # torch has CPU half kernels for these
            assert "fs_torch" in rec["median_s"], rec


def test_half_peer_failure_is_a_note(monkeypatch):
    """A half-type cell survives a peer that raises (set up or called); on float32 the same
    failure is the bench's bug and raises."""
    pytest.importorskip("ml_dtypes")

    def broken(*args):
        raise RuntimeError("no kernel for this type\nsecond line")
    monkeypatch.setattr(bench, "jax_call", broken)
    inp = bench.Inputs((4, 16), "bfloat16", jax=object())
    timing = {"min_time": 1e-4, "repeat": 1, "cell_time": 0.1}
    rec = bench.run_cell("softmax", inp, 1, ["fastsoftmax", "fresh", "jax"], timing)
    assert rec["failed"] == ["jax"] and "jax" not in rec["median_s"]
    assert rec["notes"] == ["jax left out of softmax bfloat16 4x16 (n/a): RuntimeError: "
                            "no kernel for this type"]
    with pytest.raises(RuntimeError, match="no kernel"):
        bench._add_peers({}, "softmax", bench.Inputs((4, 16), "float32", jax=object()), 1,
                         inp.x)


def test_half_inputs():
    """Half operands: float32 normal values rounded to the type; torch tensors over the
    same memory (bfloat16 through its bits)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    for name, dt in (("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16)):
        inp = bench.Inputs((8, 32), name)
        assert inp.x.dtype == dt and inp.grad.dtype == dt and inp.h.dtype == dt
        assert 0.5 < float(np.std(inp.x.astype(np.float64))) < 1.5
        torch = pytest.importorskip("torch")
        inp.torch = torch
        t = inp.tensor(inp.x)
        assert t.dtype == {"float16": torch.float16, "bfloat16": torch.bfloat16}[name]
        assert t.data_ptr() == inp.x.ctypes.data
        assert np.array_equal(t.float().numpy(), inp.x.astype(np.float32))


def test_half_check_tolerance():
    """check_result holds a half type's peer to a few ulps of the largest term, and
    still fails a wrong model; a half type's loss may be float32."""
    x = np.random.default_rng(0).standard_normal((4, 9)).astype(np.float16)
    y = fs.softmax(x)
    bench.check_result("peer", "softmax", y, (x,))
    off = (y.astype(np.float32) * 1.002).astype(np.float16)   # a couple of ulps
    bench.check_result("peer", "softmax", off, (x,))
    with pytest.raises(RuntimeError, match="its result differs"):
        bench.check_result("peer", "softmax", fs.log_softmax(x), (x,))
    t = np.array([0, 3, 8, 1])
    bench.check_result("peer", "cross_entropy", fs.cross_entropy(x, t), (x, t))
    bench.check_result("peer", "cross_entropy", fs.cross_entropy(x, t).astype(np.float16),
                       (x, t))
    with pytest.raises(RuntimeError, match="dtype float64"):
        bench.check_result("peer", "cross_entropy", np.float64(fs.cross_entropy(x, t)), (x, t))
    # log_softmax: relative to each value, a slightly shifted model fails
    lp = fs.log_softmax(x)
    with pytest.raises(RuntimeError, match="its result differs"):
        bench.check_result("peer", "log_softmax",
                           (lp.astype(np.float32) - 0.05).astype(np.float16), (x,))
    # a gradient: a few ulps of its row's largest term pass, another op's result fails
    g = np.random.default_rng(1).standard_normal((4, 9)).astype(np.float16)
    want = fs.softmax_backward(g, y)
    big = np.abs(want.astype(np.float32)).max(axis=-1, keepdims=True)
    bench.check_result("peer", "softmax_backward",
                       (want.astype(np.float32) + 2e-3 * big).astype(np.float16), (g, y))
    with pytest.raises(RuntimeError, match="its result differs"):
        bench.check_result("peer", "softmax_backward", fs.log_softmax_backward(g, y), (g, y))


def test_bfloat16_needs_ml_dtypes(capsys, monkeypatch):
    _hide(monkeypatch, "ml_dtypes")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--dtypes", "bfloat16"])
    assert exc.value.code == 2
    assert '--dtypes bfloat16 needs ml_dtypes, which is not installed' in capsys.readouterr().err


def _parts(result):
    """A call's result as NumPy arrays: (result,), or (loss, gradient)."""
    return tuple(np.asarray(r) for r in (result if isinstance(result, tuple) else (result,)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", list(bench.DEFAULT_OPS))
@pytest.mark.parametrize("peer", ["onnxruntime", "jax"])
def test_peer_computes_what_fastsoftmax_does(peer, op, dtype):
    """Each peer's benchmarked callable gives fastsoftmax's values, in the same dtype."""
    module = _peer(peer)
    inp = bench.Inputs((5, 37), dtype, **{peer: module})
    case = bench.OPS[op].setup(inp, 1)
    if op not in PEER_OPS[peer]:
        assert peer not in case.calls
        return
    expected = _parts(case.calls["fastsoftmax"]())
    got = _parts(case.calls[peer]())
    tol = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}[dtype]
    assert len(got) == len(expected), f"{peer} {op}: {len(got)} results"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        what = f"{peer} {op} {dtype} result {i}"
        assert g.dtype == np.dtype(dtype), f"{what}: dtype {g.dtype}"
        assert g.shape == e.shape, f"{what}: shape {g.shape}, expected {e.shape}"
        np.testing.assert_allclose(g, e, **tol, err_msg=what)
    # called again: the same values (the bound ONNX Runtime output is overwritten in place)
    for g, a in zip(got, _parts(case.calls[peer]()), strict=True):
        np.testing.assert_array_equal(g, a)


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("op", sorted(bench.ONNX_OPS))
def test_onnx_model_opsets(op, opset):
    """The models of both ReduceLogSumExp spellings (axes attribute to opset 17, input
    from 18) and of the other ops compute fastsoftmax's values."""
    ort = _peer("onnxruntime")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 11))
    t = rng.integers(0, 11, 6)
    session = bench.ort_session(ort, bench.onnx_model(op, x.dtype, opset=opset), 1)
    feeds = {"x": x, "t": t} if op == "cross_entropy" else {"x": x}
    (got,) = session.run(None, feeds)
    expected = getattr(fs, op)(*feeds.values())
    assert got.shape == np.shape(expected), (op, opset)
    np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"{op} opset {opset}")


def test_check_result_fails_loudly(monkeypatch):
    """A wrong result (values, dtype, shape) raises, and so does a wrong ONNX model."""
    x = np.random.default_rng(2).standard_normal((4, 9)).astype(np.float32)
    y = fs.softmax(x)
    bench.check_result("peer", "softmax", y, (x,))   # right: no error
    with pytest.raises(RuntimeError, match="peer softmax float32 4x9: its result differs"):
        bench.check_result("peer", "softmax", fs.log_softmax(x), (x,))
    with pytest.raises(RuntimeError, match="dtype float64, not float32"):
        bench.check_result("peer", "softmax", y.astype(np.float64), (x,))
    with pytest.raises(RuntimeError, match="shape"):
        bench.check_result("peer", "logsumexp", fs.logsumexp(x, keepdims=True), (x,))
    t = np.arange(4)
    loss, grad = fs.cross_entropy_with_grad(x, t)
    bench.check_result("peer", "cross_entropy_with_grad", (loss, grad), (x, t))
    with pytest.raises(RuntimeError, match="its gradient differs"):
        bench.check_result("peer", "cross_entropy_with_grad", (loss, 4 * grad), (x, t))
    with pytest.raises(RuntimeError, match="its loss differs"):
        bench.check_result("peer", "cross_entropy", 4 * loss, (x, t))

    ort = _peer("onnxruntime")
    real = bench.onnx_model
    monkeypatch.setattr(bench, "onnx_model", lambda op, dtype: real("log_softmax", dtype))
    with pytest.raises(RuntimeError, match="onnxruntime softmax float32 4x9: its result differs"):
        bench.ort_call(ort, "softmax", 1, x)


def test_plot(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    png, path = tmp_path / "sweep.png", tmp_path / "bench.json"
    out, err = _run(capsys, "--quick", "--ops", "softmax", "--shapes", "8x32",
                    "--plot", str(png), "--json", str(path))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[sweep 1/" in err and "GB/s by row length" in out
    sweep = _json(path)["sweep"]
    assert [r["shape"][1] for r in sweep] == [n for _, n in bench.sweep_shapes(quick=True)]
    for rec in sweep:
        _check_record(rec)
        assert rec["op"] == "softmax" and rec["dtype"] == "float32"


def test_plot_needs_matplotlib(capsys, monkeypatch, tmp_path):
    _hide(monkeypatch, "matplotlib")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--plot", str(tmp_path / "x.png")])
    assert exc.value.code == 2
    assert 'pip install "fastsoftmax[bench]"' in capsys.readouterr().err


def test_memory_check(capsys, tmp_path, monkeypatch):
    """A cell whose arrays do not fit is skipped; implementations whose
    temporaries do not fit are left out of a cell that does."""
    rows, cols, itemsize = 64, 100, 4
    arrays = 3 * rows * cols * itemsize            # softmax: x, out, np.copyto's dst
    # room for the arrays and fastsoftmax's fresh output, not the reference's float64 temporaries
    monkeypatch.setattr(bench, "available_memory",
                        lambda: int((arrays + 2 * rows * cols * itemsize) / bench.MEMORY_HEADROOM))
    path = tmp_path / "bench.json"
    out, _ = _run(capsys, "--quick", "--ops", "softmax", "--shapes", f"{rows}x{cols}",
                  "--json", str(path))
    (rec,) = _json(path)["records"]
    assert {"fastsoftmax", "fresh", "copyto"} <= set(rec["median_s"])
    assert "numpy" not in rec["median_s"]
    assert "note: softmax float32 64x100: numpy left out" in out

    monkeypatch.setattr(bench, "available_memory", lambda: 1000)
    out, err = _run(capsys, "--quick", "--ops", "softmax", "--shapes", "64x100,1x10",
                    "--json", str(path))
    doc = _json(path)
    assert [r["shape"] for r in doc["records"]] == [[1, 10]]
    assert [s["shape"] for s in doc["skipped"]] == [[64, 100]]
    assert "GB available" in doc["skipped"][0]["reason"]
    assert "skipped" in err
    row = next(r for r in _table_rows(out) if r[2] == "64x100")
    assert row[4] == "skipped"
    assert "note: softmax float32 64x100 skipped: needs about" in out


@pytest.mark.parametrize("argv, message", [
    (["--ops", "softmax,softmaxx"], "softmaxx"),
    (["--shapes", "12y4"], "malformed shape '12y4'"),
    (["--shapes", "0x10"], "malformed shape '0x10'"),
    (["--dtypes", "float8"], "unsupported dtype 'float8'"),
    (["--threads", "0"], "thread count must be a positive integer, got '0'"),
    (["--threads", "1,two"], "got 'two'"),
    (["--impls", "mxnet"], "unknown implementation 'mxnet'"),
    (["--repeat", "0"], "--repeat"),
    (["--min-time", "-1"], "--min-time"),
])
def test_bad_arguments(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_help_explains_the_numbers(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in ("example:", "roofline", "np.copyto", "single-threaded", *bench.OPS):
        assert text in out, text


@pytest.mark.parametrize("seconds, text", [
    (3.1e-6, "3.10 µs"), (45.12e-6, "45.1 µs"), (452e-6, "452 µs"),
    (0.0148, "14.8 ms"), (2.5, "2.50 s"), (5e-7, "500 ns"),
])
def test_format_time(seconds, text):
    assert bench.format_time(seconds) == text


def test_module_runs_as_a_script():
    """`python -m fastsoftmax.bench` is the documented entry point."""
    # outside the source tree, so the installed package is the one run
    r = subprocess.run([PYTHON, "-m", "fastsoftmax.bench", "--shapes", "1x10x"],
                       capture_output=True, text=True, timeout=60, check=False,
                       cwd=tempfile.gettempdir())
    assert r.returncode == 2 and "malformed shape" in r.stderr
