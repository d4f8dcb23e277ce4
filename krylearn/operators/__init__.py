"""The LinearOperator abstraction: wrappers, lazy algebra, Kronecker structure, grid stencils."""

from .._lazy import exports, install
from .base import (AdjointOperator, DiagonalOperator, IdentityOperator, LinearOperator, ProductOperator,
                   ScaledOperator, SumOperator, TransposeOperator)
from .convert import MatrixOperator, ScipyOperator, SparseOperator, aslinearoperator, register_backend

_LAZY = exports(__name__, {"kronecker": "Kronecker KroneckerSum", "stencil": "PoissonStencil",
                          "torch_operator": "TorchOperator", "testing": "dottest"})
install(__name__, _LAZY)

__all__ = ["LinearOperator", "aslinearoperator", "register_backend", "MatrixOperator", "SparseOperator", "ScipyOperator",
           "IdentityOperator", "DiagonalOperator", "SumOperator", "ProductOperator", "ScaledOperator",
           "AdjointOperator", "TransposeOperator", *_LAZY]
