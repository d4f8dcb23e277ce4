"""The inner problem of :class:`~krylearn.pde.gphm.GPHMSolver`: for fixed kernel parameters and
noise precisions, the minimiser over the grid values ``U`` in whitened coordinates ``U = S v``
(``S = S₁ ⊗ … ⊗ S_d`` from the eigendecompositions of the kernel factors). A linear PDE gives one
SPD system ``(I + λ_b τ_b SᵀP_B S + τ_r JᵀJ) v = …``, solved densely when small and otherwise by
:func:`krylearn.cg` with matrix-free Kronecker products and its exact eigenbasis diagonal as
preconditioner; a nonlinear PDE takes Gauss–Newton steps with the same inner solves; the
exact-boundary variant keeps the interior values as unknowns. (Mixin: the methods use the state
that :class:`GPHMSolver` sets up.)"""

from __future__ import annotations

import math

import numpy as np

from ..operators.kronecker import apply_along_axis


class _InnerSolve:
    # ------------------------------------------------------------------------------------------
    # inner solve (numpy): whitened coordinates U = S v
    # ------------------------------------------------------------------------------------------
    def _factors_np(self):
        """Per axis: eigenbasis of K_i + εI and the whitened derivative factors T_i^(o)."""
        torch = self.torch
        facs = []
        with torch.no_grad():
            for k, x in zip(self.kernels, self.axes_t):
                K0, K1, K2 = (m.numpy() for m in k.all_cross(x))
                jit = self.jitter * float(np.mean(np.diag(K0)))
                Kj = K0 + jit * np.eye(len(x))
                lam, Q = np.linalg.eigh(Kj)
                lam = np.maximum(lam, jit * 1e-3)
                sq = np.sqrt(lam)
                T = {0: Q * sq, 1: (K1 @ Q) / sq, 2: (K2 @ Q) / sq}
                fa = {"Q": Q, "lam": lam, "T": T}
                if self.boundary == "exact":
                    Qs = Q / sq
                    fa["Kinv"] = Qs @ Qs.T
                    fa["D"] = {1: T[1] @ Qs.T, 2: T[2] @ Qs.T}
                facs.append(fa)
        return facs

    def _field_factors(self, facs, name):
        axis, order = self.field_axes[name]
        return [facs[j]["T"][order if j == axis else 0] for j in range(len(self.grid))]

    def _kron_apply(self, mats, V, transpose=False):
        for j, M in enumerate(mats):
            V = apply_along_axis(M.T if transpose else M, V, j)
        return V

    def _linearize(self, U, facs):
        """Residual r0 at U and pointwise coefficients a_m = ∂operator/∂field_m (torch autograd)."""
        v = self._to_v(U, facs)
        vals = {name: self._kron_apply(self._field_factors(facs, name), v) for name in self.fields}
        vals["u"] = U
        r0, coef = self._residual_and_coefficients(vals)
        return v, vals, r0, coef

    def _residual_and_coefficients(self, vals, part=()):
        """The PDE residual at the fields ``vals`` and its pointwise coefficients
        ``a_m = ∂residual/∂field_m`` (torch autograd; fields the residual does not depend on are
        left out), both restricted to ``part`` of the grid (an index; default all)."""
        torch = self.torch
        tv = {k: torch.tensor(a, requires_grad=True) for k, a in vals.items()}
        r = self.equation.residual(tv, self.f_t)
        if tuple(r.shape) != tuple(self.grid):
            raise ValueError(f"the equation's residual has shape {tuple(r.shape)}, expected {self.grid}")
        grads = torch.autograd.grad(r.sum(), [tv[k] for k in self.fields], allow_unused=True)
        coef = {k: gk.detach().numpy()[part] for k, gk in zip(self.fields, grads)
                if gk is not None and torch.any(gk != 0)}
        return r.detach().numpy()[part], coef

    def _to_v(self, U, facs):
        V = U
        for j, fa in enumerate(facs):
            V = apply_along_axis((fa["Q"] / np.sqrt(fa["lam"])).T, V, j)
        return V

    def _inner_linear(self, facs, v0, r0, coef, vals):
        """Minimise the quadratic model in v; returns the new v (grid-shaped) and PCG iterations."""
        tau_b, tau_r = (float(t) for t in self.log_tau.detach().exp())
        A = self.lambda_b * tau_b
        c = tau_r
        names = list(coef)
        # linearised residual: r(v) = Σ a_m T_m v − b, b = Σ a_m T_m v0 − r0
        b = -r0.copy()
        for m in names:
            b += coef[m] * vals[m]
        grid = self.grid
        use_dense = self.inner == "dense" or (self.inner == "auto" and self.n <= self.dense_limit)
        if use_dense:
            S = self._dense_kron([fa["T"][0] for fa in facs])
            J = np.zeros((self.n, self.n))
            for m in names:
                J += coef[m].reshape(-1, 1) * self._dense_kron(self._field_factors(facs, m))
            Bm = S[self.bmask.reshape(-1)]
            Amat = np.vstack([np.eye(self.n), math.sqrt(A) * Bm, math.sqrt(c) * J])
            rhs = np.concatenate([np.zeros(self.n), math.sqrt(A) * self.g, math.sqrt(c) * b.reshape(-1)])
            Qm, Rm = np.linalg.qr(Amat)
            v = np.linalg.solve(Rm, Qm.T @ rhs)
            return v.reshape(grid), 0
        from ..operators.base import LinearOperator
        from ..solvers.krylov.cg import cg

        Sf = [fa["T"][0] for fa in facs]
        fmats = {m: self._field_factors(facs, m) for m in names}
        bmask = self.bmask

        def Jv(V):
            out = 0.0
            for m in names:
                out = out + coef[m] * self._kron_apply(fmats[m], V)
            return out

        def JTw(W):
            out = 0.0
            for m in names:
                out = out + self._kron_apply(fmats[m], coef[m] * W, transpose=True)
            return out

        def matvec(x):
            V = x.reshape(grid)
            SV = self._kron_apply(Sf, V)
            y = V + A * self._kron_apply(Sf, SV * bmask, transpose=True) + c * JTw(Jv(V))
            return y.reshape(-1)

        G = np.zeros(grid)
        G[bmask] = self.g
        rhs = (A * self._kron_apply(Sf, G, transpose=True) + c * JTw(b)).reshape(-1)
        diag = 1.0 + A * self._diag_boundary(Sf) + c * self._diag_jtj(facs, coef, names)
        H = LinearOperator((self.n, self.n), matvec=matvec, rmatvec=matvec, symmetric=True,
                              positive_definite=True)
        M = LinearOperator((self.n, self.n), matvec=lambda x: x / diag.reshape(-1), symmetric=True,
                              positive_definite=True)
        res = cg(H, rhs, x0=v0.reshape(-1), rtol=self.inner_rtol, maxiter=self.inner_maxiter, M=M)
        self._last_cg = res
        return res.x.reshape(grid), res.iterations

    def _dense_kron(self, mats):
        out = np.ones((1, 1))
        for M in mats:
            out = np.kron(out, M)
        return out

    def _diag_boundary(self, Sf):
        """diag(Sᵀ P_B S) = Π_j colsum(S_j²) − Π_j colsum(S_j² · interior_j), as a grid array."""
        full = np.ones(())
        inner = np.ones(())
        for S in Sf:
            s2 = S ** 2
            full = np.multiply.outer(full, s2.sum(0))
            inner = np.multiply.outer(inner, s2[1:-1].sum(0))
        return full - inner

    def _diag_jtj(self, facs, coef, names):
        """Diagonal of JᵀJ in the whitened eigenbasis, with each coefficient field replaced by the
        mean product of the coefficients (exact for constant-coefficient PDEs)."""
        out = 0.0
        for m in names:
            fm = self._field_factors(facs, m)
            for m2 in names:
                f2 = self._field_factors(facs, m2)
                w = float(np.mean(coef[m] * coef[m2]))
                t = np.ones(())
                for A1, A2 in zip(fm, f2):
                    t = np.multiply.outer(t, (A1 * A2).sum(0))
                out = out + w * t
        return np.maximum(out, 0.0)

    def _direction(self, U, facs):
        """Newton / Gauss–Newton step dU of the quadratic model of Φ in U (and inner PCG iterations)."""
        if self.boundary == "exact":
            return self._direction_exact(U, facs)
        v0, vals, r0, coef = self._linearize(U, facs)
        v, it = self._inner_linear(facs, v0, r0, coef, vals)
        return self._kron_apply([fa["T"][0] for fa in facs], v) - U, it

    def _solve_U(self, facs=None):
        """Inner minimisation over U at the current kernel/noise parameters.

        Linear PDE: one exact quadratic solve. Nonlinear PDE: Gauss–Newton with a backtracking
        line search on Φ (each accepted step decreases the objective), warm-started from the
        current ``U_``."""
        torch = self.torch
        facs = self._factors_np() if facs is None else facs
        U = self.U_
        iters = 0
        if self.equation.linear:
            dU, iters = self._direction(U, facs)
            U = U + dU
        else:
            with torch.no_grad():
                fac_t = self._factors_t()

                def phi(W):
                    return float(self.objective(torch.as_tensor(W), fac_t))

                f0 = phi(U)
            for k in range(self.gn_max_iter):
                dU, it = self._direction(U, facs)
                iters += it
                t = 1.0
                with torch.no_grad():
                    while True:
                        f1 = phi(U + t * dU)
                        if np.isfinite(f1) and f1 <= f0 + 1e-14 * abs(f0):
                            break
                        t *= 0.5
                        if t < 1e-6:
                            break
                if t < 1e-6:
                    break
                U = U + t * dU
                step = t * np.linalg.norm(dU) / max(np.linalg.norm(U), 1e-300)
                decrease = f0 - f1
                f0 = f1
                if step <= self.gn_tol or decrease <= 1e-15 * max(1.0, abs(f0)):
                    break
        self.U_ = U
        self._alpha = None
        self.inner_iterations_.append(iters)
        return U

    # -- exact boundary values: unknowns are the interior grid values -------------------------
    def _direction_exact(self, U, facs):
        """Newton step on the interior values with U_B = g fixed and the residual on the interior.

        ``H = (K⁻¹)_II + τ_r LᵀL`` with ``L`` the linearised residual on the interior, a Kronecker sum
        ``⊕_i Σ_o a_{i,o} D_i^{(o)}[I, I]`` plus a diagonal for constant coefficients. PCG with the
        preconditioner ``(τ_r L̄ᴴ L̄)⁻¹``, ``L̄`` the Kronecker sum with mean coefficients, applied
        exactly by per-factor eigendecompositions (fast diagonalisation)."""
        d = len(self.grid)
        c = float(self.log_tau.detach()[1].exp())
        inner = tuple(slice(1, -1) for _ in range(d))
        # fields on the full grid and the linearisation at U
        vals = {}
        for name, (axis, order) in self.field_axes.items():
            vals[name] = U if order == 0 else apply_along_axis(facs[axis]["D"][order], U, axis)
        r0, coef = self._residual_and_coefficients(vals, inner)
        Dii = {name: (self.field_axes[name][0], facs[self.field_axes[name][0]]["D"][self.field_axes[name][1]][1:-1, 1:-1])
               for name in coef if self.field_axes[name][1] > 0}
        Kinv = [fa["Kinv"] for fa in facs]
        shape = self.inner_shape

        def Lx(X):
            out = coef["u"] * X if "u" in coef else 0.0
            for name, (axis, Dm) in Dii.items():
                out = out + coef[name] * apply_along_axis(Dm, X, axis)
            return out

        def LTy(Y):
            out = coef["u"] * Y if "u" in coef else 0.0
            for name, (axis, Dm) in Dii.items():
                out = out + apply_along_axis(Dm.T, coef[name] * Y, axis)
            return out

        def prior(Uf):
            for j, Ki in enumerate(Kinv):
                Uf = apply_along_axis(Ki, Uf, j)
            return Uf

        def matvec(x):
            X = x.reshape(shape)
            full = np.zeros(self.grid)
            full[inner] = X
            return (prior(full)[inner] + c * LTy(Lx(X))).reshape(-1)

        grad = (prior(U)[inner] + c * LTy(r0)).reshape(-1)
        n_i = int(np.prod(shape))
        use_dense = self.inner == "dense" or (self.inner == "auto" and n_i <= self.dense_limit)
        if use_dense:
            H = np.column_stack([matvec(e) for e in np.eye(n_i)])
            H = 0.5 * (H + H.T)
            delta = -np.linalg.solve(H, grad)
            its = 0
        else:
            from ..operators.base import LinearOperator
            from ..solvers.krylov.cg import cg

            # preconditioner: Kronecker sum with mean coefficients, per-axis eigendecomposition
            Ws, Winv, gam = [], [], []
            au = float(np.mean(coef["u"])) if "u" in coef else 0.0
            for j in range(d):
                Aj = (au / d) * np.eye(shape[j])
                for name, (axis, Dm) in Dii.items():
                    if axis == j:
                        Aj = Aj + float(np.mean(coef[name])) * Dm
                gj, Wj = np.linalg.eig(Aj)
                Ws.append(Wj)
                Winv.append(np.linalg.inv(Wj))
                gam.append(gj)
            sig = gam[0]
            for gj in gam[1:]:
                sig = np.add.outer(sig, gj)
            # Tikhonov floor standing in for the prior term: |σ|² ≥ κ/τ_r with κ a typical eigenvalue of
            # (K⁻¹)_II (geometric mean of the per-factor inverse eigenvalues), and ≥ 1e-8·max|σ|²
            kappa = float(np.exp(sum(np.mean(-np.log(fa["lam"])) for fa in facs)))
            floor2 = max(kappa / c, 1e-8 * float(np.abs(sig).max()) ** 2)
            inv_sig = np.conj(sig) / (np.abs(sig) ** 2 + floor2)
            def kron(ms, X):
                for j, m in enumerate(ms):
                    X = apply_along_axis(m, X, j)
                return X

            WH = [w.conj().T for w in Ws]
            WinvH = [w.conj().T for w in Winv]

            def precond(x):
                X = x.reshape(shape).astype(complex)
                Y = kron(WH, X)                 # Wᴴ x
                Y = np.conj(inv_sig) * Y        # Σ̄⁻¹
                Y = kron(WinvH, Y)              # W⁻ᴴ
                Y = kron(Winv, Y)               # W⁻¹
                Y = inv_sig * Y                 # Σ⁻¹
                Y = kron(Ws, Y)                 # W
                return (Y.real / c).reshape(-1)

            H = LinearOperator((n_i, n_i), matvec=matvec, rmatvec=matvec, symmetric=True,
                                  positive_definite=True)
            M = LinearOperator((n_i, n_i), matvec=precond, symmetric=True, positive_definite=True)
            res = cg(H, -grad, rtol=self.inner_rtol, maxiter=self.inner_maxiter, M=M)
            self._last_cg = res
            delta, its = res.x, res.iterations
        dU = np.zeros(self.grid)
        dU[inner] = delta.reshape(shape)
        return dU, its

