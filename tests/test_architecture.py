"""The naming rule of docs/architecture.md holds for the built extension.

Every kernel symbol of the compiled module is <op>_<set>_<dtype> (or
<op>_<set>_portable_<dtype>, or fs_<op>_<dtype> for the C API), and the rule
leads from it to the one source line that defines it: FS_FN(op) in a body of
the set's kind, FS_PFN(op) in body_portable.inc, FS_D(fs_op) in driver.inc.
"""
import pathlib
import re
import shutil
import subprocess

import pytest

import fastsoftmax as fs

CSRC = pathlib.Path(__file__).resolve().parent.parent / "csrc"

pytestmark = pytest.mark.skipif(fs.backend != "c", reason="the compiled backend is not in use")


def _core():
    from fastsoftmax import _core
    return _core


def _sources():
    return {p.name: p.read_text() for p in sorted(CSRC.glob("*")) if p.suffix in (".c", ".h", ".inc")}


def _defined_in(sources, macro, op, files):
    # a definition: a declaration line (storage class or attribute first), not a call
    pat = re.compile(rf"^(?:static|FS_HOT|FS_COLD|FS_UNUSED)\b[^\n=;]*\b{macro}\({re.escape(op)}\)\s*\(",
                     re.M)
    return [name for name in files if pat.search(sources[name])]


def test_compiled_sets_come_from_the_one_list():
    names = _core().compiled_isas()
    assert names[0] == "scalar"
    assert set(fs.available_isas()) <= set(names)
    if not CSRC.is_dir():
        pytest.skip("csrc/ is not beside tests/")
    listed = re.findall(r"X\((\w+), FS_CPU", (CSRC / "kernel_sets.h").read_text())
    assert set(names) <= set(listed), (names, listed)
    for name in names:
        assert (CSRC / f"kernels_{name}.c").is_file(), name
        assert (CSRC / f"simd_{name}.h").is_file(), name


def test_every_kernel_symbol_maps_to_its_source():
    nm = shutil.which("nm")
    if nm is None or not CSRC.is_dir():
        pytest.skip("needs nm and csrc/ beside tests/")
    so = _core().__file__
    out = subprocess.run([nm, so], capture_output=True, text=True, check=True).stdout
    kinds = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            kinds[parts[-1].split(".")[0]] = parts[-2]
    symbols = set(kinds)
    sets = _core().compiled_isas()
    sources = _sources()
    vector_bodies = ["body_simd.inc", "body_ce.inc", "math_simd.inc"]
    portable_bodies = ["body_portable.inc", "body_ce.inc"]
    rule = re.compile(rf"^(\w+?)_({'|'.join(sets)})(_portable)?_(f32|f64)$")
    # the portable set is a vector set over simd_generic.h (its non-finite rows in
    # <op>_scalar_portable_<dt>), or, without vector extensions, the portable body alone
    one_lane_portable = not any("_scalar_portable_" in sym for sym in symbols)
    seen = 0
    for sym in sorted(symbols):
        if sym.startswith("fs_kernels_"):
            assert sym[len("fs_kernels_"):] in sets, sym
            continue
        m = rule.match(sym)
        if m is None:
            continue
        op, kset, portable, _ = m.groups()
        if sym.startswith("fs_"):       # a C API function: fs_<op>_<dtype>, no set in its name
            continue
        if portable:
            files = _defined_in(sources, "FS_PFN", op, ["body_portable.inc"])
        elif kset == "scalar" and one_lane_portable:
            files = (_defined_in(sources, "FS_PFN", op, portable_bodies)
                     + _defined_in(sources, "FS_FN", op, ["body_ce.inc"]))
        else:
            files = _defined_in(sources, "FS_FN", op, vector_bodies)
        assert len(files) == 1, f"{sym}: defined in {files or 'no body'}"
        seen += 1
    assert seen >= 20, f"only {seen} kernel symbols found in {so}"
    api = re.compile(r"^fs_(\w+)_(f32|f64)$")
    for sym in sorted(symbols):
        m = api.match(sym)
        if m is None or sym.startswith("fs_kernels_"):
            continue
        defined = re.search(rf"\bFS_D\(fs_{m.group(1)}\)\(", sources["driver.inc"])
        if kinds[sym] == "T":           # exported: the public C API
            assert defined, f"{sym}: not defined by FS_D(fs_{m.group(1)}) in driver.inc"
            assert re.search(rf"\bfs_{m.group(1)}_{m.group(2)}\(", sources["fastsoftmax.h"]), sym
