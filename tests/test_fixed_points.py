"""find_fixed_points / FixedPoints: known answers, classification, safety, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from dynlens import Dynamics, DynlensError, systems
from dynlens.analysis import (
    AffineAlignment,
    FixedPoints,
    SolverOptions,
    Tolerances,
    find_fixed_points,
    fixed_point_graph,
    linearize,
)
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.plotting import analysis as plots


class ProductMap(Dynamics):
    """x -> phi(x), y -> phi(y), phi(s) = s + 0.5 (s - s^3): fixed points -1, 0, 1 per axis
    (phi'(0) = 1.5 repelling, phi'(+-1) = 0 attracting): 9 fixed points in all."""

    def __init__(self, dtype=torch.float64):
        super().__init__(dim=2, kind="discrete")
        self.gain = nn.Parameter(torch.tensor(0.5, dtype=dtype))  # requires_grad=True

    def forward(self, x, u=None):
        return x + self.gain * (x - x ** 3)


def grid(n=12, low=-1.4, high=1.4):
    s = np.linspace(low, high, n)
    return np.stack(np.meshgrid(s, s), -1).reshape(-1, 2)


@pytest.fixture(scope="module")
def lorenz():
    sys = systems.get("lorenz")
    return sys, sys.trajectory(2000)


def test_lorenz_fixed_points_to_1e6_with_unstable_counts(lorenz):
    sys, traj = lorenz
    fps = find_fixed_points(sys, traj, n_inits=256, seed=1)
    truth = sys.fixed_points()
    assert len(fps) == 3
    order = np.argsort(truth[:, 0])  # fps are sorted lexicographically: C-, origin, C+
    np.testing.assert_allclose(fps.xstar, truth[order], atol=1e-6)
    assert fps.n_unstable.tolist() == [2, 1, 2]
    assert fps.stability.tolist() == ["unstable"] * 3
    assert np.all(fps.q < fps.info["tol_q"])
    # origin: 11.828, -2.667, -22.828 sorted by real part, descending
    np.testing.assert_allclose(fps.eigenvalues[1].real, [11.8277, -2.667, -22.8277], atol=1e-3)


def test_progress_bar_only_when_asked(lorenz, capfd):
    sys, traj = lorenz
    find_fixed_points(sys, traj, n_inits=32, progress=False)
    assert capfd.readouterr().err == ""
    find_fixed_points(sys, traj, n_inits=32, progress=True)
    assert "fixed points" in capfd.readouterr().err

def test_product_map_nine_points_classified():
    fps = find_fixed_points(ProductMap(), grid(), n_inits=400)
    assert len(fps) == 9
    np.testing.assert_allclose(np.sort(np.abs(fps.xstar).sum(1)), [0, 1, 1, 1, 1, 2, 2, 2, 2],
                               atol=1e-9)
    expected = (np.abs(fps.xstar) < 0.5).sum(1)  # unstable directions = zero coordinates
    assert fps.n_unstable.tolist() == expected.tolist()
    labels = pd.Series(fps.stability).value_counts().to_dict()
    assert labels == {"stable": 4, "unstable": 5}
    assert (fps.n_unstable == 1).sum() == 4 and (fps.n_unstable == 2).sum() == 1
    # discrete spectra sorted by modulus: the source has 1.5, 1.5
    source = np.flatnonzero(fps.n_unstable == 2)[0]
    np.testing.assert_allclose(np.abs(fps.eigenvalues[source]), [1.5, 1.5], atol=1e-9)


class RotatedProductMap(Dynamics):
    """ProductMap on two coordinates, a contraction x -> 0.5 x on the other 22, seen through
    a random rotation Q: 24 dimensions with dense Jacobians (the Broyden-updated path of the
    search, above 16 dimensions) and the same 9 known fixed points Q (a, b, 0, ...)."""

    def __init__(self, dim=24, seed=0):
        super().__init__(dim=dim, kind="discrete")
        q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
        self.register_buffer("q", torch.as_tensor(q))

    def forward(self, x, u=None):
        y = x @ self.q  # coordinates in the unrotated frame
        head, tail = y[..., :2], y[..., 2:]
        return torch.cat([head + 0.5 * (head - head ** 3), 0.5 * tail], -1) @ self.q.T


def test_broyden_path_finds_the_nine_points_of_a_rotated_24d_map():
    f = RotatedProductMap()
    rng = np.random.default_rng(1)
    head = rng.uniform(-1.4, 1.4, (400, 2))
    states = np.concatenate([head, 0.3 * rng.standard_normal((400, 22))], 1) @ f.q.numpy().T
    fps = find_fixed_points(f, states, n_inits=400)
    assert len(fps) == 9
    unrotated = fps.xstar @ f.q.numpy()
    np.testing.assert_allclose(unrotated[:, 2:], 0, atol=1e-9)
    np.testing.assert_allclose(np.sort(np.abs(unrotated[:, :2]).sum(1)),
                               [0, 1, 1, 1, 1, 2, 2, 2, 2], atol=1e-9)
    expected = (np.abs(unrotated[:, :2]) < 0.5).sum(1)
    assert fps.n_unstable.tolist() == expected.tolist()
    # Broyden updates stand in for most exact Jacobians: about 470 for 400 candidates that
    # take about 5 steps each (about 740 with a wrong-signed update, 1290 with an exact
    # Jacobian at every accepted step).
    assert fps.info["mean_iterations"] < 8
    assert fps.info["n_jacobians"] < 1.5 * 400


def test_trust_region_converges_where_newton_overshoots():
    class Arctan(Dynamics):  # Newton from |x| > 1.39 diverges on arctan
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return -torch.atan(x - 2.0)

    states = np.array([[-30.0], [-8.0], [12.0], [40.0]])
    fps = find_fixed_points(Arctan(), states, n_inits=4, noise=0.0, region=None,
                            outlier_factor=100.0)
    np.testing.assert_allclose(fps.xstar, [[2.0]], atol=1e-12)
    assert fps.stability.tolist() == ["stable"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_modules_give_the_nine_points(dtype):
    # no half-precision Cholesky: the search's linear algebra runs in float32; the default
    # tolerance is capped at 2 % per coordinate (bfloat16's 100 rounding units are 78 %)
    fps = find_fixed_points(ProductMap(dtype=dtype), grid(), n_inits=200)
    assert len(fps) == 9 and fps.info["dtype"] == str(dtype).replace("torch.", "")
    np.testing.assert_allclose(np.sort(np.abs(fps.xstar).sum(1)), [0, 1, 1, 1, 1, 2, 2, 2, 2],
                               atol=2e-2)
    assert pd.Series(fps.stability).value_counts().to_dict() == {"stable": 4, "unstable": 5}


def test_float32_module_unchanged_and_found():
    torch.manual_seed(0)
    f = ProductMap(dtype=torch.float32)
    f.train()
    before = {k: v.detach().clone() for k, v in f.state_dict().items()}
    fps = find_fixed_points(f, grid(), n_inits=200)
    assert fps.info["dtype"] == "float32"
    assert len(fps) == 9
    assert np.all(fps.q <= fps.info["tol_q"])
    assert all(p.requires_grad for p in f.parameters())
    assert all(p.grad is None for p in f.parameters())
    assert f.training
    for k, v in f.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, before[k])


class PlainTensors(nn.Module):
    """tanh(1.5 y) in rotated coordinates y = x Q, with float32 Q held as a plain attribute
    (no parameter, buffer or dtype attribute): 27 fixed points, the origin among them."""

    dim, kind = 3, "discrete"

    def __init__(self):
        super().__init__()
        self.Q = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))[
            0].float()
        self.G = 1.5

    def forward(self, x, u=None):
        return torch.tanh(self.G * (x @ self.Q)) @ self.Q.T


def test_module_with_plain_float32_tensors_is_evaluated_in_float32():
    f = PlainTensors()
    states = np.random.default_rng(0).normal(size=(200, 3))  # float64 starting states
    fps = find_fixed_points(f, states, n_inits=128)
    assert fps.info["dtype"] == "float32"
    origin = np.flatnonzero(np.linalg.norm(fps.xstar, axis=1) < 1e-5)
    assert len(origin) == 1 and fps.n_unstable[origin[0]] == 3  # gain 1.5 in every direction
    assert len(fps) == 27 and np.all(fps.q <= fps.info["tol_q"])
    # the other entry points open it in float32 too
    assert FixedPoints.from_points(f, [[0.0, 0.0, 0.0]]).stability.tolist() == ["unstable"]
    np.testing.assert_allclose(np.abs(linearize(f, np.zeros(3)).eigenvalues), [[1.5] * 3],
                               atol=1e-6)
    graph = fixed_point_graph(f, fps[origin], n_steps=50)
    assert graph.nodes[0]["n_launches"] == 14


def test_grouped_settings_match_the_flat_keywords():
    flat = find_fixed_points(ProductMap(), grid(), n_inits=100, max_iter=7, patience=2,
                             tol_q=1e-20, tol_unique=1e-4, marginal_tol=1e-6)
    grouped = find_fixed_points(ProductMap(), grid(), n_inits=100,
                                solver=SolverOptions(max_iter=7, patience=2),
                                tolerances=Tolerances(q=1e-20, unique=1e-4, marginal=1e-6))
    mixed = find_fixed_points(ProductMap(), grid(), n_inits=100, patience=2, tol_unique=1e-4,
                              solver=SolverOptions(max_iter=7),
                              tolerances=Tolerances(q=1e-20, marginal=1e-6))
    for other in (grouped, mixed):
        np.testing.assert_array_equal(other.xstar, flat.xstar)
        assert {k: v for k, v in other.info.items() if k != "seconds"} == {
            k: v for k, v in flat.info.items() if k != "seconds"}
    assert flat.info["max_iter"] == 7 and flat.info["tol_q"] == 1e-20


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"max_iter": 10, "solver": SolverOptions(max_iter=20)}, DynlensValueError,
     r"^max_iter: .*solver\.max_iter=20"),
    ({"tol_q": 1e-8, "tolerances": Tolerances(q=1e-9)}, DynlensValueError,
     r"^tol_q: .*tolerances\.q"),
    ({"solver": {"max_iter": 3}}, DynlensTypeError, r"^solver: expected a SolverOptions"),
    ({"tolerances": SolverOptions()}, DynlensTypeError, r"^tolerances:"),
    ({"max_iter": -1}, DynlensValueError, r"^max_iter:"),
    ({"max_iter": 50.0}, DynlensValueError, r"^max_iter:"),
    ({"tol_slow": 0.0}, DynlensValueError, r"^tol_slow:"),
])
def test_grouped_settings_bad_combinations(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        find_fixed_points(ProductMap(), grid(), n_inits=10, **kwargs)


def test_grouped_settings_validate_their_fields():
    with pytest.raises(DynlensValueError, match=r"^patience:"):
        SolverOptions(patience=0)
    with pytest.raises(DynlensValueError, match=r"^unique:"):
        Tolerances(unique=-1.0)
    assert SolverOptions(adam_lr=1).adam_lr == 1.0 and Tolerances().q is None


def test_gru_cell_map_q_below_tolerance():
    torch.manual_seed(3)
    cell = nn.GRUCell(2, 8)

    class GRUMap(nn.Module):
        dim, kind = 8, "discrete"

        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x, u=None):
            return self.cell(x.new_zeros(x.shape[0], 2), x)

    f = GRUMap()
    params = [p.detach().clone() for p in f.parameters()]
    with torch.no_grad():
        h = torch.randn(20, 8)
        states = [h := f(h) for _ in range(30)]
    fps = find_fixed_points(f, torch.stack(states, 1), n_inits=128)
    assert len(fps) >= 1
    assert np.all(fps.q <= fps.info["tol_q"])
    with torch.no_grad():
        x = torch.as_tensor(fps.xstar, dtype=torch.float32)
        assert (f(x) - x).abs().max() < 1e-5
    assert all(torch.equal(a, b) for a, b in zip(params, f.parameters()))
    assert all(p.requires_grad and p.grad is None for p in f.parameters())


def test_analytic_jacobian_and_autodiff_find_the_same_points():
    from dynlens.models import GRUDynamics

    torch.manual_seed(1)
    gru = GRUDynamics(8, n_inputs=2)
    with torch.no_grad():
        for p in gru.parameters():
            p.mul_(2.0)

    class Opaque(nn.Module):  # the same cell without a jacobian method
        dim, kind = 8, "discrete"

        def __init__(self):
            super().__init__()
            self.inner = gru

        def forward(self, x, u=None):
            return self.inner(x, u)

    with torch.no_grad():
        h = torch.randn(32, 8)
        states = torch.stack([h := gru(h) for _ in range(20)], 1)
    u = np.array([0.3, -0.2])
    fast = find_fixed_points(gru, states, n_inits=128, inputs=u)
    slow = find_fixed_points(Opaque(), states, n_inits=128, inputs=u)
    assert len(fast) >= 1 and len(fast) == len(slow)
    np.testing.assert_allclose(fast.xstar, slow.xstar, atol=1e-5)
    np.testing.assert_allclose(fast.jacobians, slow.jacobians, atol=1e-5)
    assert fast.stability.tolist() == slow.stability.tolist()


def test_evaluator_products_match_the_jacobian(lorenz):
    from dynlens.analysis._prepare import Evaluator

    lorenz = lorenz[0]
    ev = Evaluator(lorenz)
    x = torch.tensor([[1.0, 2.0, 3.0], [-4.0, 0.5, 20.0]], dtype=torch.float64)
    v = torch.tensor([[0.1, -0.3, 2.0], [1.0, 1.0, -1.0]], dtype=torch.float64)
    jac = ev.residual_and_jacobian(x)[1]
    torch.testing.assert_close(ev.jvp(x, v), torch.einsum("bij,bj->bi", jac, v))
    torch.testing.assert_close(ev.vjp(x, v), torch.einsum("bij,bi->bj", jac, v))
    torch.testing.assert_close(jac, torch.as_tensor(lorenz.jacobian(x.numpy())))


def test_slow_points_kept_separately():
    class Ghost(Dynamics):  # a saddle-node ghost near 0 (no fixed point) and a fixed point at 2
        def __init__(self):
            super().__init__(dim=2, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            a, b = x.unbind(-1)
            return torch.stack([(a ** 2 + 1e-3) * (2 - a), -b], -1)

    states = np.stack([np.linspace(-0.5, 2.5, 60), np.zeros(60)], 1)
    fps = find_fixed_points(Ghost(), states, n_inits=120, tol_slow=1e-4, keep_slow=True)
    np.testing.assert_allclose(fps.xstar, [[2.0, 0.0]], atol=1e-9)
    assert fps.slow_points is not None and len(fps.slow_points) >= 1
    slow = fps.slow_points
    assert np.all(slow.q > fps.info["tol_q"]) and np.all(slow.q <= 1e-4)
    assert np.abs(slow.xstar[:, 0]).min() < 0.05  # the ghost sits near x = 0
    assert find_fixed_points(Ghost(), states, n_inits=120).slow_points is None


def test_line_attractor_grouped_as_one_marginal_manifold():
    class Line(Dynamics):  # every (x, 0) is fixed: a line attractor
        def __init__(self):
            super().__init__(dim=2, kind="discrete")

        def forward(self, x, u=None):
            return x * torch.tensor([1.0, 0.5], dtype=x.dtype)

    rng = np.random.default_rng(0)
    states = np.stack([np.linspace(-1, 1, 200), 0.3 * rng.standard_normal(200)], 1)
    fps = find_fixed_points(Line(), states, n_inits=64)
    assert len(fps) > 5
    assert set(fps.stability) == {"marginal"}
    assert fps.n_marginal.tolist() == [1] * len(fps) and fps.n_unstable.sum() == 0
    assert fps.n_manifolds == 1
    assert len(fps.representatives()) == 1


def test_constant_input():
    class Driven(Dynamics):
        def __init__(self):
            super().__init__(dim=3, kind="discrete")

        def forward(self, x, u=None):
            return 0.5 * x + (0 if u is None else u)

    u = np.array([1.0, -2.0, 0.5])
    fps = find_fixed_points(Driven(), np.zeros((10, 3)), n_inits=16, noise=0.5, inputs=u)
    np.testing.assert_allclose(fps.xstar, [2 * u], atol=1e-10)
    np.testing.assert_array_equal(fps.inputs, u)
    assert fps.stability.tolist() == ["stable"]


def test_container_dataframe_transform_and_from_points():
    fps = find_fixed_points(ProductMap(), grid(), n_inits=300)
    assert isinstance(fps[0], FixedPoints) and len(fps[0]) == 1
    assert len(fps[2:5]) == 3 and len(fps[fps.stability == "stable"]) == 4
    assert len(fps[[0, 8]]) == 2
    df = fps.to_dataframe()
    assert list(df.columns[:2]) == ["x0", "x1"] and len(df) == 9
    assert {"q", "stability", "n_unstable", "leading_eigenvalue"} <= set(df.columns)
    assert "9 points" in repr(fps)

    a, b = np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([1.0, -1.0])
    z = grid()
    moved = fps.transform(AffineAlignment().fit(z, z @ a.T + b))
    np.testing.assert_allclose(moved.xstar, fps.xstar @ a.T + b, atol=1e-10)
    np.testing.assert_allclose(np.abs(moved.eigenvalues), np.abs(fps.eigenvalues), atol=1e-10)
    np.testing.assert_array_equal(moved.stability, fps.stability)

    bistable = systems.get("bistable2d")
    given = FixedPoints.from_points(bistable, bistable.fixed_points())
    assert given.stability.tolist() == ["unstable", "stable", "stable"]
    assert given.n_unstable.tolist() == [1, 0, 0]
    np.testing.assert_allclose(given.q, 0, atol=1e-30)


def test_figures(lorenz):
    sys, traj = lorenz
    fps = find_fixed_points(sys, traj, n_inits=64)
    fig = plots.fixed_points(fps, traj.reshape(4, 500, 3))
    assert isinstance(fig, Figure) and fig.axes[0].name == "3d"
    labels = fig.axes[0].get_legend_handles_labels()[1] + [
        t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("unstable (3)" in s for s in labels)
    eig = plots.eigenvalues(fps)
    assert eig.axes[0].get_xlabel().startswith("Re $\\lambda$ (per time unit")
    # the points drawn are the spectra: of the field, or of the per-bin maps exp(dt J)
    per_bin = plots.eigenvalues(fps, per_bin=True)
    for fig, expected in ((eig, fps.eigenvalues), (per_bin, np.exp(fps.dt * fps.eigenvalues))):
        drawn = [line for line in fig.axes[0].lines if line.get_label().startswith("point ")]
        assert len(drawn) == 3
        for line, values in zip(drawn, expected):
            got = np.asarray(line.get_xdata()) + 1j * np.asarray(line.get_ydata())
            np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(values),
                                       rtol=1e-10, atol=1e-12)
    wide = FixedPoints._build(np.c_[fps.xstar, fps.xstar], fps.q, np.tile(
        np.eye(6) * -1.0, (3, 1, 1)), "continuous", 0.1, 1e-8)
    assert plots.fixed_points(wide).axes[0].get_xlabel().startswith("PC1")


@pytest.mark.parametrize(
    "states, kwargs, error, name",
    [
        (np.zeros((5, 3)), {}, DynlensValueError, "initial_states"),
        (np.zeros((2, 4, 3)), {}, DynlensValueError, "initial_states"),
        (np.full((5, 2), np.nan), {}, DynlensValueError, "initial_states"),
        (np.zeros((5, 2)), {"n_inits": 0}, DynlensValueError, "n_inits"),
        (np.zeros((5, 2)), {"noise": -1.0}, DynlensValueError, "noise"),
        (np.zeros((5, 2)), {"inputs": [np.nan]}, DynlensValueError, "inputs"),
        (np.zeros((5, 2)), {"progress": "yes"}, DynlensTypeError, "progress"),
    ],
)
def test_bad_inputs(states, kwargs, error, name):
    with pytest.raises(error, match=name):
        find_fixed_points(ProductMap(), states, **kwargs)


def test_bad_dynamics_and_index():
    with pytest.raises(DynlensTypeError, match="dynamics"):
        find_fixed_points(lambda x: x, np.zeros((4, 2)))
    with pytest.raises(DynlensError, match="dynamics"):
        find_fixed_points(object(), np.zeros((4, 2)))
    fps = FixedPoints.from_points(systems.get("bistable2d"), [[0.0, 0.0]])
    with pytest.raises(DynlensValueError, match="index"):
        fps[3]
    with pytest.raises(DynlensTypeError, match="alignment"):
        fps.transform(AffineAlignment())


class _ShiftedSink(Dynamics):
    """dx/dt = -(x - 10): one stable point at (10, 10), far from states near the origin."""

    def __init__(self):
        super().__init__(dim=2, kind="continuous", dt=0.1)

    def forward(self, x, u=None):
        return -(x - 10.0)


def test_no_point_kept_says_why_in_info_and_repr():
    states = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 0.5
    fps = find_fixed_points(_ShiftedSink(), states, n_inits=32, outlier_factor=1e3)
    assert len(fps) == 0 and fps.info["n_outside_region"] > 0
    assert "converged (q <= " in fps.info["why_none"]
    assert "outside the visited region" in fps.info["why_none"]
    assert "region=None keeps them" in fps.info["why_none"] and "none kept" in repr(fps)
    kept = find_fixed_points(_ShiftedSink(), states, n_inits=32, outlier_factor=1e3,
                             region=None)
    assert np.allclose(kept.xstar, [[10.0, 10.0]]) and "why_none" not in kept.info
    beyond = find_fixed_points(_ShiftedSink(), states, n_inits=32)  # the default outlier rule
    assert len(beyond) == 0 and "beyond the outlier radius" in beyond.info["why_none"]
