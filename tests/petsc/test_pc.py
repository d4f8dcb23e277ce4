"""krylearn preconditioner contexts inside PETSc KSP/PC (krylearn.petsc.pc)."""

import traceback

import numpy as np
import pytest

PETSc = pytest.importorskip("petsc4py.PETSc")

import krylearn as kl  # noqa: E402
import krylearn.petsc as klp  # noqa: E402

_count = iter(range(10**6))


def _ksp(mat, pc_type=None, options=None, ctx=None, rtol=1e-10):
    """A KSPCG on ``mat`` configured through a private options prefix (like a command line)."""
    prefix = f"tpc{next(_count)}_"
    db = PETSc.Options()
    opts = dict(options or {})
    if pc_type is not None:
        opts["pc_type"] = pc_type
    for k, v in opts.items():
        db.setValue(prefix + k, v)
    ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(mat)
    ksp.setType("cg")
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=5000)
    if ctx is not None:
        ksp.getPC().setType("python")
        ksp.getPC().setPythonContext(ctx)
    try:
        ksp.setFromOptions()
    finally:
        for k in opts:  # the contexts read their options in setFromOptions; keep the database clean
            db.delValue(prefix + k)
    return ksp


def _solve(ksp, b):
    x = b.duplicate()
    ksp.solve(b, x)
    assert ksp.getConvergedReason() > 0
    return ksp.getIterationNumber(), x.array_r.copy()


def _rhs(mat, rng):
    b = mat.createVecLeft()
    b.array_w[...] = rng.standard_normal(b.getLocalSize())
    return b


@pytest.mark.parametrize("omega", [1.0, 1.6])
def test_ssor_context_applies_petsc_sor_operator(poisson2d, rng, omega):
    """One krylearn SSOR application equals PETSc's symmetric PCSOR application (omega included)."""
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    x = _rhs(mat, rng)
    y_petsc, y_kl = x.duplicate(), x.duplicate()
    ksp = _ksp(mat, "sor", {"pc_sor_symmetric": "", "pc_sor_omega": omega})
    ksp.setUp()
    ksp.getPC().apply(x, y_petsc)
    ksp2 = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.SSOR", "krylearn_ssor_omega": omega})
    ksp2.setUp()
    ksp2.getPC().apply(x, y_kl)
    np.testing.assert_allclose(y_kl.array_r, y_petsc.array_r, rtol=1e-12, atol=1e-14 * np.abs(y_petsc.array_r).max())
    assert ksp2.getPC().getPythonContext().M.omega == omega


@pytest.mark.parametrize("native, python, options", [
    ("jacobi", "krylearn.petsc.Jacobi", {}),
    ("sor", "krylearn.petsc.SSOR", {"pc_sor_symmetric": ""}),
    ("sor", "krylearn.petsc.SSOR", {"pc_sor_symmetric": "", "pc_sor_omega": 1.5, "krylearn_ssor_omega": 1.5}),
])
def test_kspcg_iterations_match_native(poisson2d, rng, native, python, options):
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    b = _rhs(mat, rng)
    it_native, x_native = _solve(_ksp(mat, native, options), b)
    it_kl, x_kl = _solve(_ksp(mat, "python", dict(options, pc_python_type=python)), b)
    assert abs(it_native - it_kl) <= 1
    np.testing.assert_allclose(x_kl, x_native, rtol=0, atol=1e-9 * np.abs(x_native).max())
    x_ref = np.linalg.solve(csr.toarray(), b.array_r)
    np.testing.assert_allclose(x_kl, x_ref, rtol=0, atol=1e-7 * np.abs(x_ref).max())


def test_ic0_context_matches_petsc_icc(poisson2d, rng):
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    b = _rhs(mat, rng)
    it_native, x_native = _solve(_ksp(mat, "icc"), b)
    it_kl, x_kl = _solve(_ksp(mat, "python", {"pc_python_type": "krylearn.petsc.IC0"}), b)
    assert abs(it_native - it_kl) <= 1
    np.testing.assert_allclose(x_kl, x_native, atol=1e-9 * np.abs(x_native).max())


def test_amg_context_converges(poisson2d, rng):
    pytest.importorskip("pyamg")
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    b = _rhs(mat, rng)
    it_kl, x_kl = _solve(_ksp(mat, "python", {"pc_python_type": "krylearn.petsc.AMG"}), b)
    it_none, _ = _solve(_ksp(mat, "none"), b)
    assert it_kl < it_none / 3
    np.testing.assert_allclose(csr @ x_kl, b.array_r, atol=1e-8 * np.linalg.norm(b.array_r))


def test_generic_context_in_code(poisson2d, rng):
    """``pc.setPythonContext(krylearn.petsc.PC(M))`` with a fixed krylearn preconditioner."""
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    b = _rhs(mat, rng)
    ctx = klp.PC(kl.precond.ssor(csr, omega=1.3))
    it_kl, x_kl = _solve(_ksp(mat, ctx=ctx), b)
    it_native, _ = _solve(_ksp(mat, "sor", {"pc_sor_omega": 1.3}), b)
    assert abs(it_kl - it_native) <= 1
    assert ctx.n_apply >= it_kl
    # a build function is applied to the PC's operator in setUp
    ctx2 = klp.PC(build=lambda P: kl.precond.jacobi(P))
    it2, _ = _solve(_ksp(mat, ctx=ctx2), b)
    it3, _ = _solve(_ksp(mat, "jacobi"), b)
    assert it2 == it3


def test_apply_transpose(rng):
    n = 12
    M = rng.standard_normal((n, n)) + n * np.eye(n)
    mat = klp.as_aij(np.eye(n))
    pc = PETSc.PC().create(comm=PETSc.COMM_SELF)
    pc.setOperators(mat)
    pc.setType("python")
    pc.setPythonContext(klp.PC(M))
    pc.setUp()
    x, y = mat.createVecs()
    x.array_w[...] = rng.standard_normal(n)
    pc.apply(x, y)
    np.testing.assert_allclose(y.array_r, M @ x.array_r)
    pc.applyTranspose(x, y)
    np.testing.assert_allclose(y.array_r, M.T @ x.array_r)
    # no adjoint known: PETSc reports applyTranspose as unsupported
    pc2 = PETSc.PC().create(comm=PETSc.COMM_SELF)
    pc2.setOperators(mat)
    pc2.setType("python")
    pc2.setPythonContext(klp.PC(kl.LinearOperator((n, n), matvec=lambda v: 2 * v)))
    pc2.setUp()
    with pytest.raises(PETSc.Error):
        pc2.applyTranspose(x, y)


def test_view_prints_what_it_wraps(poisson2d, tmp_path):
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.SSOR", "krylearn_ssor_omega": 1.4})
    ksp.setUp()
    path = str(tmp_path / "view.txt")
    viewer = PETSc.Viewer().createASCII(path, comm=PETSc.COMM_SELF)
    ksp.view(viewer)
    viewer.destroy()
    text = open(path).read()
    assert "krylearn.petsc.SSOR" in text
    assert "SSORPreconditioner" in text
    assert "krylearn_ssor_omega=1.4" in text


def _message(exc_info):
    """What the user sees for an uncaught exception (the PETSc error and its cause)."""
    return "".join(traceback.format_exception(exc_info.value))


def test_wrong_size_is_a_petsc_error_naming_the_problem(poisson2d, rng):
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    small = kl.precond.jacobi(kl.pde.poisson((5, 5)).tocsr())
    ksp = _ksp(mat, ctx=klp.PC(small))
    b = _rhs(mat, rng)
    with pytest.raises(PETSc.Error) as info:
        ksp.solve(b, b.duplicate())
    assert "wrong size" in str(info.value.__cause__) and "(25, 25)" in str(info.value.__cause__)
    assert "wrong size" in _message(info)
    # through krylearn.petsc.solve the PETSc error's own text names it
    with pytest.raises(PETSc.Error, match=r"wrong size"):
        klp.solve(mat, b, pc=klp.PC(small))


def test_unknown_python_type_is_a_petsc_error_naming_it(poisson2d, rng):
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    with pytest.raises(PETSc.Error) as info:
        ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.NoSuchPC"})
        ksp.solve(_rhs(mat, rng), mat.createVecRight())
    assert "krylearn.petsc.NoSuchPC" in _message(info)
    with pytest.raises(PETSc.Error, match="NoSuchPC"):
        klp.solve(mat, np.ones(mat.getSize()[0]), pc="krylearn.petsc.NoSuchPC")


def test_bad_omega_is_a_petsc_error(poisson2d):
    _, csr = poisson2d
    with pytest.raises(PETSc.Error, match="omega"):
        klp.solve(csr, np.ones(csr.shape[0]), pc="krylearn.petsc.SSOR", options={"krylearn_ssor_omega": 2.5})


def test_context_on_python_mat_uses_wrapped_operator(rng):
    """The contexts read the krylearn operator behind a python Mat (here its tocsr())."""
    A = kl.pde.poisson((16, 16))
    mat = klp.as_mat(A)
    b = np.ones(A.shape[0])
    res = klp.solve(mat, b, pc="krylearn.petsc.SSOR", rtol=1e-10)
    ref = klp.solve(A.tocsr(), b, pc="sor", rtol=1e-10)
    assert res.converged and abs(res.iterations - ref.iterations) <= 1
    np.testing.assert_allclose(res.x, ref.x, atol=1e-9 * np.abs(ref.x).max())


def test_tuned_ssor_learns_across_solves(poisson2d, tmp_path):
    pytest.importorskip("krylearn.solvers.tuning.bandits")
    _, csr = poisson2d
    mat = klp.as_aij(csr)
    state = str(tmp_path / "tuner.json")
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.TunedSSOR",
                               "krylearn_tuned_ssor_state": state, "krylearn_tuned_ssor_seed": 3})
    b = mat.createVecLeft()
    b.set(1.0)
    for _ in range(4):
        _solve(ksp, b)
    ctx = ksp.getPC().getPythonContext()
    assert ctx.tuner.t == 4
    assert all(o in ctx.tuner.grid for o in ctx.tuner.history["omega"])
    assert ctx.tuner.history["cost"][-1] == ksp.getIterationNumber()
    # the state file carries the learning over to a new KSP
    ksp2 = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.TunedSSOR", "krylearn_tuned_ssor_state": state})
    _solve(ksp2, b)
    assert ksp2.getPC().getPythonContext().tuner.t == 5


def test_dcdm_context_with_fcg(rng):
    """The DCDM network as a PETSc PC (nonlinear: KSPFCG) on a python Mat and on a DMDA matrix.

    An untrained network is no good preconditioner: this checks the plumbing (the PC applies
    exactly DCDMPreconditioner, FCG runs and reduces the residual), not DCDM's quality."""
    torch = pytest.importorskip("torch")
    learned = pytest.importorskip("krylearn.learned")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = learned.DCDMNet(dim=2, channels=4)
    A = kl.pde.poisson((16, 16))
    b = rng.standard_normal(A.shape[0])
    ref = learned.DCDMPreconditioner(model, A)
    for mat in (klp.as_mat(A), klp.poisson((16, 16), comm=PETSc.COMM_SELF)):
        ctx = klp.DCDM(model)
        res = klp.solve(mat, b, ksp_type="fcg", pc=ctx, rtol=1e-6, maxiter=15)
        assert res.iterations == 15 and np.all(np.isfinite(res.residuals))
        assert res.residuals[-1] < res.residuals[0]
        np.testing.assert_allclose(np.linalg.norm(b - A @ res.x), res.residuals[-1], rtol=1e-6)
        np.testing.assert_allclose(ctx.M @ b, ref @ b, rtol=1e-5, atol=1e-6 * np.abs(ref @ b).max())
    with pytest.raises(PETSc.Error, match="needs a grid"):
        klp.solve(A.tocsr(), b, ksp_type="fcg", pc=klp.DCDM(model))


def test_dcdm_context_shipped_model_from_options(rng):
    """``-ksp_type fcg -pc_type python -pc_python_type krylearn.petsc.DCDM`` on a DMDA Poisson
    matrix loads the shipped 2D model by the grid's dimension and converges in a few iterations
    (measured: 14 iterations to 1e-6 at 64², PETSc's CG with ICC 52 (its preconditioned norm), plain CG 168)."""
    pytest.importorskip("torch")
    pytest.importorskip("krylearn.learned")
    mat = klp.poisson((64, 64), comm=PETSc.COMM_SELF)
    b = _rhs(mat, rng)
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.DCDM", "ksp_type": "fcg",
                               "ksp_norm_type": "unpreconditioned"}, rtol=1e-6)
    its, x = _solve(ksp, b)
    assert ksp.getType() == "fcg" and its <= 25
    r = b.duplicate()
    mat.mult(b.duplicate(array=x), r)
    assert np.linalg.norm(b.array_r - r.array_r) <= 1e-6 * np.linalg.norm(b.array_r) * 1.0001
    cg = _ksp(mat, "icc", rtol=1e-6)
    its_icc, _ = _solve(cg, b)
    assert its <= its_icc / 2


# ---- krylearn.petsc.Multigrid ---------------------------------------------------------------------------
def test_multigrid_context_on_masked_python_mat(rng):
    """KSPCG + krylearn.petsc.Multigrid on a python Mat over a masked stencil: the wrapped operator's
    grid (mask included) is used; measured 11 iterations to 1e-8 at 96x80 with obstacles."""
    mask = np.ones((96, 80), bool)
    mask[30:60, 35:42] = False
    mask[70:, 10:14] = False
    A = kl.pde.poisson(mask.shape, mask=mask, bc=["dirichlet", ("neumann", "dirichlet")])
    mat = klp.as_mat(A)
    b = _rhs(mat, rng)
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.Multigrid", "ksp_norm_type": "unpreconditioned"},
               rtol=1e-8)
    its, x = _solve(ksp, b)
    ctx = ksp.getPC().getPythonContext()
    assert isinstance(ctx, klp.Multigrid) and ctx.grid is A and ctx.source == "python Mat"
    assert its <= 15, its
    assert np.linalg.norm(b.array_r - A @ x) <= 1e-8 * np.linalg.norm(b.array_r) * 1.0001
    # the PC applies exactly kl.precond.multigrid(A)
    y = b.duplicate()
    ksp.getPC().apply(b, y)
    ref = kl.precond.multigrid(A) @ b.array_r
    np.testing.assert_allclose(y.array_r, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    its_none, _ = _solve(_ksp(mat, "none", {"ksp_norm_type": "unpreconditioned"}, rtol=1e-8), b)
    assert its < its_none / 5


@pytest.mark.parametrize("shape, bc", [((80, 64), ["dirichlet", ("neumann", "dirichlet")]),
                                       ((24, 20, 16), ["neumann", "dirichlet", "dirichlet"])])
def test_multigrid_context_on_dmda_matrix(rng, shape, bc):
    """An assembled DMDA matrix (krylearn.petsc.poisson) on one rank: the stencil is rebuilt from the matrix
    (PoissonStencil.from_csr) and the cycle is the one of kl.precond.multigrid on kl.pde.poisson (measured:
    11 iterations to 1e-8 in 2D at 80x64, 8 in 3D at 24x20x16)."""
    mat = klp.poisson(shape, bc=bc, comm=PETSc.COMM_SELF)
    b = _rhs(mat, rng)
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.Multigrid", "ksp_norm_type": "unpreconditioned"},
               rtol=1e-8)
    its, x = _solve(ksp, b)
    ctx = ksp.getPC().getPythonContext()
    A = kl.pde.poisson(shape, bc=bc)
    assert ctx.source == "DMDA" and ctx.grid.grid_shape == shape and ctx.grid.bc == A.bc
    assert its <= 15, its
    assert np.linalg.norm(b.array_r - A @ x) <= 1e-8 * np.linalg.norm(b.array_r) * 1.0001
    y = b.duplicate()
    ksp.getPC().apply(b, y)
    ref = kl.precond.multigrid(A) @ b.array_r
    np.testing.assert_allclose(y.array_r, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_multigrid_context_reads_options(rng, tmp_path):
    mat = klp.poisson((64, 48), comm=PETSc.COMM_SELF)
    b = _rhs(mat, rng)
    ksp = _ksp(mat, "python", {"pc_python_type": "krylearn.petsc.Multigrid"}, rtol=1e-8)
    its_default, _ = _solve(ksp, b)
    ctx = ksp.getPC().getPythonContext()
    info, ref = ctx.M.info, kl.precond.multigrid(ctx.grid).info   # unset options: the library's defaults
    keys = ("smoother", "cycle", "pre", "post", "levels")
    assert [info[k] for k in keys] == [ref[k] for k in keys] and info["smoother"] == "rbgs"
    opts = {"pc_python_type": "krylearn.petsc.Multigrid", "krylearn_mg_smoother": "jacobi",
            "krylearn_mg_cycle": "W", "krylearn_mg_pre": 2, "krylearn_mg_post": 2, "krylearn_mg_levels": 2}
    ksp = _ksp(mat, "python", opts, rtol=1e-8)
    its, _ = _solve(ksp, b)
    ctx = ksp.getPC().getPythonContext()
    info = ctx.M.info
    assert (info["smoother"], info["cycle"], info["pre"], info["post"], info["levels"]) == ("jacobi", "W", 2, 2, 2)
    assert ctx.params["krylearn_mg_smoother"] == "jacobi"
    assert its <= 20 and its_default <= 15
    path = str(tmp_path / "view.txt")
    viewer = PETSc.Viewer().createASCII(path, comm=PETSc.COMM_SELF)
    ksp.view(viewer)
    viewer.destroy()
    text = open(path).read()
    assert "krylearn.petsc.Multigrid" in text and "jacobi smoother" in text and "W-cycle" in text
    with pytest.raises(PETSc.Error, match="smoother"):
        klp.solve(mat, b, pc="krylearn.petsc.Multigrid", options={"krylearn_mg_smoother": "sor"})


def test_multigrid_context_without_a_grid_is_an_error(poisson2d, rng):
    A, csr = poisson2d
    b = np.ones(csr.shape[0])
    for mat in (klp.as_aij(csr), klp.as_mat(csr)):  # no DMDA / a python Mat over a plain sparse matrix
        with pytest.raises(PETSc.Error, match="needs a grid operator"):
            klp.solve(mat, b, pc="krylearn.petsc.Multigrid")
    shifted = klp.poisson((16, 12), comm=PETSc.COMM_SELF)
    shifted.shift(5.0)  # a DMDA matrix that is not a Poisson stencil (a reaction term)
    with pytest.raises(PETSc.Error, match="not a grid Poisson operator"):
        klp.solve(shifted, np.ones(16 * 12), pc="krylearn.petsc.Multigrid")
