"""`python -m fastsoftmax.bench`: output, JSON records, plot, memory check, argument errors.

Every run uses --quick (tiny arrays, short samples), so the whole file takes a
few seconds.  torch, scipy and matplotlib are optional: the runs compare with
whatever is installed, and one test hides torch and scipy to check the
bench without them.
"""
import json
import statistics
import subprocess
import sys
import tempfile

import pytest

from fastsoftmax import bench

ALL_IMPLS = ["fastsoftmax", "numpy", "scipy", "torch"]


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
        no_torch_op = rec["op"] in ("scipy_softmax_tuple", "scipy_log_softmax_tuple")
        if "torch" in doc["meta"]["impls"]:
            assert ("torch" in rec["median_s"]) != no_torch_op, rec["op"]
            with_adapter = rec["op"] in ("softmax", "log_softmax", "cross_entropy",
                                         "cross_entropy_with_grad")
            assert ("fs_torch" in rec["median_s"]) == with_adapter, rec["op"]


def test_without_torch_and_scipy(capsys, tmp_path, monkeypatch):
    _hide(monkeypatch, "torch", "scipy")
    path = tmp_path / "bench.json"
    out, _ = _run(capsys, "--quick", "--ops", "softmax,logsumexp", "--shapes", "8x32",
                  "--json", str(path))
    assert "torch is not installed" in out and "scipy is not installed" in out
    header = _table_rows(out)[0]
    assert not any(c in ("torch", "scipy") for c in header), header
    doc = _json(path)
    assert doc["meta"]["impls"] == ["fastsoftmax", "numpy"]
    assert "torch" not in doc["meta"]["versions"]
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
    (["--dtypes", "float16"], "unsupported dtype 'float16'"),
    (["--threads", "0"], "thread count must be a positive integer, got '0'"),
    (["--threads", "1,two"], "got 'two'"),
    (["--impls", "jax"], "unknown implementation 'jax'"),
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
    r = subprocess.run([sys.executable, "-m", "fastsoftmax.bench", "--shapes", "1x10x"],
                       capture_output=True, text=True, timeout=60, check=False,
                       cwd=tempfile.gettempdir())
    assert r.returncode == 2 and "malformed shape" in r.stderr
