import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import krylearn as kl  # noqa: E402
from krylearn.learned import load_pretrained  # noqa: E402
from krylearn.learned.pretrained import data_dir  # noqa: E402

# iteration bounds for rtol 1e-6 with the shipped models and the paper's k = 2; measured (seen / unseen
# family): poisson2d 16 / 16 (CG 202 / 201), poisson3d 10 / 11, poisson3d_paper 16 / 15 (CG 58 / 57)
BOUND = {"poisson2d": 25, "poisson3d": 20, "poisson3d_paper": 25}


@pytest.mark.parametrize("name,shape", [("poisson2d", (64, 64)), ("poisson3d", (16, 16, 16)),
                                        ("poisson3d_paper", (16, 16, 16))])
@pytest.mark.parametrize("family", ["spheres_boxes", "ellipses_lshapes"])
def test_shipped_models_solve_obstacle_problems(name, shape, family):
    model, manifest = load_pretrained(name, return_manifest=True)
    assert model.dim == len(shape) == manifest["dims"]
    mask = kl.pde.obstacles.random_domain(shape, family, seed=4242)
    A = kl.pde.poisson(shape, mask=mask)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    res = kl.learned.dcdm(A, b, model, rtol=1e-6, maxiter=BOUND[name], k=2)
    assert res.converged, res
    assert np.linalg.norm(b - A.matvec(res.x)) <= 1e-6 * np.linalg.norm(b)


@pytest.fixture
def copy_dir(tmp_path):
    d = tmp_path / "dcdm"
    shutil.copytree(data_dir(), d)
    return d


def test_corrupted_weights_rejected(copy_dir):
    f = copy_dir / "poisson2d.pt"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_pretrained("poisson2d", directory=copy_dir)


def test_mismatched_weights_rejected(copy_dir):
    # 3D weights put in place of the 2D model, with a matching checksum: the dimension check fires
    shutil.copy(copy_dir / "poisson3d.pt", copy_dir / "poisson2d.pt")
    man = json.loads((copy_dir / "poisson2d.json").read_text())
    import hashlib
    man["sha256"] = hashlib.sha256((copy_dir / "poisson2d.pt").read_bytes()).hexdigest()
    (copy_dir / "poisson2d.json").write_text(json.dumps(man))
    with pytest.raises(ValueError, match="config|3D|2D"):
        load_pretrained("poisson2d", directory=copy_dir)
    # a manifest that claims the wrong dimension for the name
    man3 = json.loads((copy_dir / "poisson3d.json").read_text())
    man3["dims"] = 2
    (copy_dir / "poisson3d.json").write_text(json.dumps(man3))
    with pytest.raises(ValueError, match="3D"):
        load_pretrained("poisson3d", directory=copy_dir)


def test_weights_not_fitting_network_rejected(copy_dir):
    blob = torch.load(copy_dir / "poisson2d.pt", weights_only=True)
    key = next(k for k in blob["state_dict"] if k.endswith("inp.weight"))
    blob["state_dict"][key] = torch.zeros(16, 2, 5, 5)
    torch.save(blob, copy_dir / "poisson2d.pt")
    import hashlib
    man = json.loads((copy_dir / "poisson2d.json").read_text())
    man["sha256"] = hashlib.sha256((copy_dir / "poisson2d.pt").read_bytes()).hexdigest()
    (copy_dir / "poisson2d.json").write_text(json.dumps(man))
    with pytest.raises(ValueError, match="do not fit"):
        load_pretrained("poisson2d", directory=copy_dir)


def test_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-dcdm"):
        load_pretrained("poisson2d", directory=tmp_path)
