"""linearize / Linearization: exact Jacobians, expm/logm conversions, safety, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from dynlens import Dynamics, systems
from dynlens.analysis import Linearization, linearize
from dynlens.errors import DynlensError, DynlensValueError

A = np.array([[-0.5, 2.0, 0.0], [-2.0, -0.5, 0.0], [0.0, 0.0, 0.3]])


class LinearField(Dynamics):
    def __init__(self, dt=0.1):
        super().__init__(dim=3, kind="continuous", dt=dt)
        self.a = nn.Parameter(torch.tensor(A))

    def forward(self, x, u=None):
        return x @ self.a.T


def test_linear_field_jacobian_and_eigen_order():
    f = LinearField()
    lin = linearize(f, np.random.default_rng(0).normal(size=(4, 3)))
    assert lin.jacobians.shape == (4, 3, 3)
    np.testing.assert_allclose(lin.jacobians, np.broadcast_to(A, (4, 3, 3)), atol=1e-12)
    # sorted by real part, descending: 0.3, then the pair -0.5 +- 2i
    np.testing.assert_allclose(lin.eigenvalues[0].real, [0.3, -0.5, -0.5], atol=1e-12)
    for k in range(3):  # eigenvectors belong to their eigenvalues
        v, lam = lin.eigenvectors[0][:, k], lin.eigenvalues[0][k]
        np.testing.assert_allclose(A @ v, lam * v, atol=1e-12)
    assert lin.n_unstable.tolist() == [1] * 4 and lin.stability[0] == "unstable"
    assert all(p.requires_grad and p.grad is None for p in f.parameters())


def test_to_discrete_is_expm_and_round_trips():
    lin = linearize(LinearField(dt=0.1), np.zeros(3))
    disc = lin.to_discrete()
    assert disc.kind == "discrete" and disc.dt == 0.1
    np.testing.assert_allclose(disc.jacobians[0], scipy.linalg.expm(0.1 * A), atol=1e-12)
    # first-order approximation I + dt J is close only for small dt
    np.testing.assert_allclose(disc.jacobians[0], np.eye(3) + 0.1 * A, atol=0.03)
    np.testing.assert_allclose(linearize(LinearField(), np.zeros(3)).to_discrete(0.001)
                               .jacobians[0], np.eye(3) + 0.001 * A, atol=1e-5)
    back = disc.to_continuous()
    assert back.kind == "continuous" and not np.iscomplexobj(back.jacobians)
    np.testing.assert_allclose(back.jacobians[0], A, atol=1e-10)
    assert disc.to_discrete() is disc and lin.to_continuous() is lin
    # stability labels agree between the field and its per-bin map
    np.testing.assert_array_equal(disc.n_unstable, lin.n_unstable)


def test_negative_eigenvalue_map_gives_complex_generator():
    lin = Linearization.from_jacobians(np.diag([-0.5, 0.8]), "discrete")
    gen = lin.to_continuous(dt=1.0)
    assert np.iscomplexobj(gen.jacobians)
    np.testing.assert_allclose(scipy.linalg.expm(gen.jacobians[0]), np.diag([-0.5, 0.8]),
                               atol=1e-12)


def test_analytic_jacobian_matches_autodiff():
    sys = systems.get("lorenz")
    x = sys.trajectory(50)
    analytic = linearize(sys, x).jacobians

    class Plain(nn.Module):  # same field, no analytic jacobian: torch.func is used
        dim, kind, dt = 3, "continuous", sys.dt

        def forward(self, x, u=None):
            return sys(x)

    np.testing.assert_allclose(linearize(Plain(), x).jacobians, analytic, atol=1e-9)


def test_plain_callable_and_marginal_label():
    class Shift:
        dim, kind = 2, "discrete"

        def __call__(self, x):
            return torch.stack([x[..., 0], 0.5 * x[..., 1]], -1)

    lin = linearize(Shift(), [[0.3, 0.0]])
    assert lin.stability.tolist() == ["marginal"] and lin.n_marginal.tolist() == [1]


def test_bad_inputs():
    with pytest.raises(DynlensValueError, match="x"):
        linearize(LinearField(), np.zeros((2, 5)))
    with pytest.raises(DynlensValueError, match="x"):
        linearize(LinearField(), [[np.nan, 0, 0]])
    with pytest.raises(DynlensError, match="dynamics"):
        linearize("not a system", np.zeros(3))
    with pytest.raises(DynlensValueError, match="jacobians"):
        Linearization.from_jacobians(np.zeros((2, 3, 4)), "discrete")
    with pytest.raises(DynlensValueError, match="kind"):
        Linearization.from_jacobians(np.zeros((3, 3)), "flow")
    with pytest.raises(DynlensValueError, match="dt"):
        linearize(LinearField(), np.zeros(3)).to_discrete(dt=-1.0)
