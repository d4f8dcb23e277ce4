"""A ``torch.Tensor`` matrix as a krylearn operator (numpy in, numpy out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._optional import require
from .base import LinearOperator

if TYPE_CHECKING:  # pragma: no cover - torch is optional (and Any to mypy: follow_imports = "skip")
    import torch


class TorchOperator(LinearOperator):
    """Wrap a 2-D torch tensor (dense or sparse, any device).

    Products convert the numpy vector to a tensor on the tensor's device, multiply there,
    and return a numpy array, so every krylearn solver accepts it.
    """

    def __init__(self, A: torch.Tensor, *, symmetric: bool = False, positive_definite: bool = False,
                 hermitian: bool | None = None) -> None:
        torch = require("torch", "torch tensor operators")
        if A.ndim != 2:
            raise ValueError(f"a matrix must be 2-D, got a tensor of shape {tuple(A.shape)}")
        if not (A.is_floating_point() or A.is_complex()):
            A = A.to(torch.float64)
        dtype = np.dtype(str(A.dtype).replace("torch.", ""))
        super().__init__(tuple(A.shape), dtype=dtype, symmetric=symmetric,
                         positive_definite=positive_definite, hermitian=hermitian)
        self.A = A
        self._torch = torch

    def _to(self, x):
        if np.iscomplexobj(x) and not self.A.is_complex():
            # a real tensor and a complex vector: multiply in the complex dtype (a cast to the
            # tensor's dtype dropped the imaginary part; found by OperatorTestCase)
            return self._torch.as_tensor(np.ascontiguousarray(x), device=self.A.device)
        return self._torch.as_tensor(np.ascontiguousarray(x), device=self.A.device).to(self.A.dtype)

    def _mul(self, A, x):
        x = self._to(x)
        if x.dtype != A.dtype:    # a complex vector on a real tensor
            A = A.to(x.dtype)
        return (A @ x).cpu().numpy()

    def _matvec(self, x):
        return self._mul(self.A, x)

    def _rmatvec(self, x):
        return self._mul(self.A.conj().transpose(0, 1), x)

    def _matmat(self, X):
        return self._mul(self.A, X)

    def _diagonal(self):
        A = self.A.to_dense() if self.A.is_sparse else self.A
        return self._torch.diagonal(A).cpu().numpy()

    def todense(self) -> np.ndarray:
        A = self.A.to_dense() if self.A.is_sparse else self.A
        return A.cpu().numpy()
