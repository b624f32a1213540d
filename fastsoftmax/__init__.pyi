# Type stubs of the public API (the functions are bound at import time to the
# compiled backend or to the NumPy reference, so they are declared here).
from contextlib import AbstractContextManager
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import reference as reference
from . import scipy as scipy

__version__: str
__all__: list[str]
backend: Literal["c", "numpy"]

_Reduction = Literal["mean", "sum", "none"]
_Array = NDArray[np.floating]
_Loss = np.floating | _Array

def softmax(x: ArrayLike, axis: int | None = -1, *, out: NDArray[np.floating] | None = None,
            n_threads: int | None = None) -> _Array: ...
def log_softmax(x: ArrayLike, axis: int | None = -1, *, out: NDArray[np.floating] | None = None,
                n_threads: int | None = None) -> _Array: ...
def logsumexp(x: ArrayLike, axis: int | None = -1, *, keepdims: bool = False,
              out: NDArray[np.floating] | None = None,
              n_threads: int | None = None) -> _Loss: ...
def softmax_backward(grad: ArrayLike, y: ArrayLike, axis: int | None = -1, *,
                     out: NDArray[np.floating] | None = None,
                     n_threads: int | None = None) -> _Array: ...
def log_softmax_backward(grad: ArrayLike, logp: ArrayLike, axis: int | None = -1, *,
                         out: NDArray[np.floating] | None = None,
                         n_threads: int | None = None) -> _Array: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  reduction: _Reduction = "mean", weight: ArrayLike | None = None,
                  ignore_index: int | None = -100, label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_lse: Literal[False] = False, n_threads: int | None = None) -> _Loss: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  reduction: _Reduction = "mean", weight: ArrayLike | None = None,
                  ignore_index: int | None = -100, label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None,
                  return_lse: Literal[True], n_threads: int | None = None
                  ) -> tuple[_Loss, _Array]: ...
@overload
def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                            reduction: _Reduction = "mean", weight: ArrayLike | None = None,
                            ignore_index: int | None = -100, label_smoothing: float = 0.0,
                            z_loss: float = 0.0, softcap: float | None = None,
                            return_lse: Literal[False] = False, grad_loss: ArrayLike | None = None,
                            grad_out: NDArray[np.floating] | None = None,
                            n_threads: int | None = None) -> tuple[_Loss, _Array]: ...
@overload
def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                            reduction: _Reduction = "mean", weight: ArrayLike | None = None,
                            ignore_index: int | None = -100, label_smoothing: float = 0.0,
                            z_loss: float = 0.0, softcap: float | None = None,
                            return_lse: Literal[True], grad_loss: ArrayLike | None = None,
                            grad_out: NDArray[np.floating] | None = None,
                            n_threads: int | None = None) -> tuple[_Loss, _Array, _Array]: ...
def nll_loss(logp: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int | None = -100,
             reduction: _Reduction = "mean", n_threads: int | None = None) -> _Loss: ...
def linear_cross_entropy(h: ArrayLike, W: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, chunk_size: int | None = None,
                         reduction: _Reduction = "mean", weight: ArrayLike | None = None,
                         ignore_index: int | None = -100, label_smoothing: float = 0.0,
                         z_loss: float = 0.0, softcap: float | None = None,
                         return_lse: bool = False, n_threads: int | None = None
                         ) -> _Loss | tuple[_Loss, _Array]: ...
def linear_cross_entropy_with_grad(h: ArrayLike, W: ArrayLike, target: ArrayLike, *,
                                   bias: ArrayLike | None = None, chunk_size: int | None = None,
                                   reduction: _Reduction = "mean",
                                   weight: ArrayLike | None = None,
                                   ignore_index: int | None = -100,
                                   label_smoothing: float = 0.0, z_loss: float = 0.0,
                                   softcap: float | None = None, return_lse: bool = False,
                                   grad_loss: ArrayLike | None = None,
                                   n_threads: int | None = None
                                   ) -> tuple[_Loss, _Array, _Array, _Array | None]: ...
def get_isa() -> str: ...
def set_isa(name: str) -> None: ...
def available_isas() -> list[str]: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int | None) -> int: ...
def patch_scipy() -> None: ...
def unpatch_scipy() -> None: ...
def patched_scipy() -> AbstractContextManager[None]: ...
