"""The kernel sets' exp: <= FS_EXP_ULP (1.5) ulp over a dense sweep of the finite
range, exact underflow to +0, -inf -> 0, +inf and overflow -> +inf, NaN -> NaN
(csrc/math_simd.inc).  Measured (dense sweep below): float32 1.13 ulp on avx2
(8-entry table), 0.99 on avx512 (16-entry table), 0.99 on neon and 0.96 on the
portable set (no table, degree 6; the portable set without FMA at x86-64's
baseline); float64 0.91 on avx2, avx512 and neon, 1.17 on the portable set."""
import numpy as np
import pytest

import fastsoftmax as fs

if fs.backend != "c":
    pytest.skip("the kernel exp exists only in the compiled backend", allow_module_level=True)

from fastsoftmax import _core  # noqa: E402

WIDE = np.longdouble
FS_EXP_ULP = 1.5


def kernel_exp(x):
    y = np.empty_like(x)
    getattr(_core, {np.dtype(np.float32): "exp_f32", np.dtype(np.float64): "exp_f64"}[x.dtype])(
        np.ascontiguousarray(x), y)
    return y


def ulp_error(y, exact, dtype):
    """|y - exact| in units of the spacing of the dtype at exact (subnormal grid included)."""
    fin = np.isfinite(exact) & (exact <= np.finfo(dtype).max)
    ref = exact[fin].astype(dtype)
    spacing = np.spacing(np.abs(ref)).astype(WIDE)
    return np.abs(y[fin].astype(WIDE) - exact[fin]) / spacing


SWEEPS = {
    np.float32: (-103.97, 88.72, 1 << 22),
    np.float64: (-745.1, 709.78, 1 << 20),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_exp_ulp_bound_dense_sweep(isa, dtype):
    lo, hi, n = SWEEPS[dtype]
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(lo, hi, n, dtype=np.float64),
        rng.uniform(-1, 1, n // 4) * 0.35,                  # the reduced range itself
        rng.uniform(lo, hi, n // 4),
        rng.uniform(-86, 0, n // 2),                        # the fast scaling's range
    ]).astype(dtype)
    y = kernel_exp(x)
    exact = np.exp(x.astype(WIDE))
    err = ulp_error(y, exact, dtype)
    worst = int(np.argmax(err))
    assert err.max() <= FS_EXP_ULP, (f"isa={isa} dtype={np.dtype(dtype)}: {float(err.max()):.2f} ulp "
                              f"at x={x[np.isfinite(exact)][worst]!r}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_exp_special_values(isa, dtype):
    info = np.finfo(dtype)
    under = -104.0 if dtype == np.float32 else -746.0
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, under, under * 10, -info.max,
                  info.max, 1000.0, 1.0, -1.0], dtype=dtype)
    y = kernel_exp(x)
    assert y[0] == 0 and not np.signbit(y[0]), isa
    assert y[1] == np.inf, isa
    assert np.isnan(y[2]), isa
    assert y[3] == 1 and y[4] == 1, isa
    assert y[5] == 0 and y[6] == 0 and y[7] == 0, isa
    assert y[8] == np.inf and y[9] == np.inf, isa
    assert abs(y[10] - np.e) <= 2 * np.spacing(dtype(np.e)), isa
    # odd lengths exercise the masked tails
    for n in range(1, 40):
        xs = np.linspace(-5, 5, n).astype(dtype)
        assert np.allclose(kernel_exp(xs), np.exp(xs), rtol=4 * info.eps, atol=0), (isa, n)
