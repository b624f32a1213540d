"""Build of the fastsoftmax._core extension.

The C sources are compiled at baseline flags (no -march=native): SIMD kernel
sets carry their own target attributes and are picked at run time by
csrc/dispatch.c, so one build runs on any CPU of its architecture.
FASTSOFTMAX_NATIVE=1 adds -march=native for a local, non-portable build;
FASTSOFTMAX_SANITIZE=1 builds with AddressSanitizer and UBSan (gcc/clang).
"""
import glob
import os
import platform
import sys

import numpy as np
from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup


def render(template):
    """Write the Tempita template `template` (X.pyx.tp) to X.pyx, if that changes it."""
    out = template[: -len(".tp")]
    with open(template) as f:
        text = Tempita.sub(f.read())
    try:
        with open(out) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(out, "w") as f:
        f.write(text)


render("fastsoftmax/_core.pyx.tp")

sources = ["fastsoftmax/_core.pyx", "csrc/dispatch.c", "csrc/parallel.c", "csrc/kernels_scalar.c"]
define_macros = [("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]

# Vector kernel sets per architecture (gcc/clang only: they use target pragmas
# and <cpuid.h>); each is csrc/kernels_<set>.c, compiled with FS_HAVE_<SET>,
# which enables its entry in csrc/kernel_sets.h.  Elsewhere only the portable
# set ("scalar") is built.
# (the list is csrc/sets.mk, which csrc/Makefile reads too)
KERNEL_SETS = {}
with open("csrc/sets.mk") as f:
    for line in f:
        key, eq, value = line.partition("=")
        if eq and key.strip().startswith("SETS_"):
            KERNEL_SETS[key.strip()[len("SETS_"):]] = value.split()
machine = platform.machine().lower()
arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
if sys.platform != "win32" and os.environ.get("FASTSOFTMAX_NO_SIMD") != "1":
    for name in KERNEL_SETS.get(arch, []):
        sources.append(f"csrc/kernels_{name}.c")
        define_macros.append((f"FS_HAVE_{name.upper()}", "1"))
compile_args = []
link_args = []

if sys.platform != "win32":
    compile_args += ["-O3", "-std=c11", "-fno-math-errno", "-Wall"]
    if os.environ.get("FASTSOFTMAX_NATIVE") == "1":
        compile_args.append("-march=native")
    if os.environ.get("FASTSOFTMAX_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
        compile_args += san + ["-O1", "-g"]
        link_args += san

ext = Extension(
    "fastsoftmax._core",
    sources=sources,
    include_dirs=["csrc", np.get_include()],
    # every header and body the C files include: editing one rebuilds the extension
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/*.inc")) + ["csrc/sets.mk"],
    define_macros=define_macros,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    libraries=[] if sys.platform == "win32" else ["m", "pthread"],
)

setup(
    ext_modules=cythonize([ext], language_level=3, compiler_directives={"embedsignature": False}),
)
