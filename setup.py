"""Build of the fastsoftmax._core extension.

The C sources are compiled at baseline flags (no -march=native): SIMD kernel
sets carry their own target attributes and are picked at run time by
csrc/dispatch.c, so one build runs on any CPU of its architecture.
FASTSOFTMAX_NATIVE=1 adds -march=native for a local, non-portable build;
FASTSOFTMAX_SANITIZE=1 builds with AddressSanitizer and UBSan (gcc/clang).
"""
import os
import platform
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

sources = ["fastsoftmax/_core.pyx", "csrc/dispatch.c", "csrc/parallel.c", "csrc/kernels_scalar.c"]
define_macros = [("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]

# SIMD kernel sets: x86-64 with gcc/clang only (they use target pragmas and
# <cpuid.h>); every other platform builds the portable set alone.
X86_64 = platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"
if X86_64 and os.environ.get("FASTSOFTMAX_NO_SIMD") != "1":
    sources += ["csrc/kernels_avx2.c", "csrc/kernels_avx512.c"]
    define_macros += [("FS_HAVE_AVX2", "1"), ("FS_HAVE_AVX512", "1")]
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
    define_macros=define_macros,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    libraries=[] if sys.platform == "win32" else ["m", "pthread"],
)

setup(
    ext_modules=cythonize([ext], language_level=3, compiler_directives={"embedsignature": False}),
)
