"""The LinearOperator abstraction: wrappers, lazy algebra, Kronecker structure, grid stencils."""

from .._lazy import install
from .base import (AdjointOperator, DiagonalOperator, IdentityOperator, LinearOperator, ProductOperator,
                   ScaledOperator, SumOperator, TransposeOperator)
from .convert import MatrixOperator, ScipyOperator, SparseOperator, aslinearoperator, register_backend

_LAZY = {
    "Kronecker": ("krylearn.operators.kronecker", "Kronecker"),
    "KroneckerSum": ("krylearn.operators.kronecker", "KroneckerSum"),
    "PoissonStencil": ("krylearn.operators.stencil", "PoissonStencil"),
    "TorchOperator": ("krylearn.operators.torch_operator", "TorchOperator"),
    "dottest": ("krylearn.operators.testing", "dottest"),
}
install(__name__, _LAZY)

__all__ = ["LinearOperator", "aslinearoperator", "register_backend", "MatrixOperator", "SparseOperator", "ScipyOperator",
           "IdentityOperator", "DiagonalOperator", "SumOperator", "ProductOperator", "ScaledOperator",
           "AdjointOperator", "TransposeOperator", *_LAZY]
