"""compare_fixed_points: exact recovery through a known affine map, scoring, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from matplotlib.figure import Figure

import dynlens as dl
from dynlens import Dynamics, systems
from dynlens.analysis import (
    AffineAlignment,
    FixedPointComparison,
    FixedPoints,
    compare_fixed_points,
    find_fixed_points,
)
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.plotting import analysis as plots

A = np.array([[1.0, 0.5, 0.0], [0.2, 2.0, 0.0], [0.0, 0.3, 0.5]])
B = np.array([1.0, -2.0, 3.0])


class Conjugate(Dynamics):
    """A "model" g(z) = A^-1 f(A z + b) of a true field f: same dynamics, other coordinates."""

    def __init__(self, true, dtype=torch.float64):
        super().__init__(dim=3, kind="continuous", dt=true.dt)
        self.true = true
        self.register_buffer("a", torch.tensor(A, dtype=dtype))
        self.register_buffer("a_inv", torch.linalg.inv(self.a))
        self.register_buffer("b", torch.tensor(B, dtype=dtype))

    def forward(self, z, u=None):
        x = (z @ self.a.T + self.b).double()
        return (self.true(x) @ self.a_inv.double().T).to(z.dtype)


@pytest.fixture(scope="module")
def lorenz_case():
    true = systems.get("lorenz")
    traj = true.trajectory(2000)
    latents = (traj - B) @ np.linalg.inv(A).T  # the model's latents of the same states
    model_fps = find_fixed_points(Conjugate(true), latents, n_inits=256)
    alignment = AffineAlignment().fit(latents, traj)  # MODEL -> TRUE
    return true, traj, model_fps, alignment


def test_known_affine_model_matched_exactly(lorenz_case):
    true, traj, model_fps, alignment = lorenz_case
    report = compare_fixed_points(model_fps, true, alignment, true_trajectories=traj)
    assert isinstance(report, FixedPointComparison)
    assert len(report.matched) == 3 and report.missing == [] and report.spurious == []
    for t, m in report.matched:
        np.testing.assert_allclose(report.mapped_fps.xstar[m], true.fixed_points()[t], atol=1e-6)
    assert report.location_error.max() < 1e-7
    assert report.eigenvalue_error.max() < 1e-8
    assert report.stability_agrees.all() and report.recovered
    assert report.score == pytest.approx(1.0, abs=1e-6)
    assert report.summary().startswith(
        "The model recovered the true fixed points (3): 3 matched, 0 mislocated, 0 missing, "
        "0 spurious (3 of 3 matched with the right number of unstable directions")
    assert report.summary("the GRU-25's").startswith(
        "The model recovered the GRU-25's fixed points (3): 3 matched")
    table = report.table()
    assert len(table) == 3 and set(table["status"]) == {"matched"}
    assert table["true_n_unstable"].tolist() == [1, 2, 2]
    assert isinstance(report.plot(), Figure)
    fig = plots.fixed_point_comparison(report, title="t")
    rings = [line for line in fig.axes[-1].lines if line.get_label().startswith("true point")]
    # Arneodo's outer points share their eigenvalues: open rings of different sizes, so
    # one does not hide the other
    assert all(line.get_markerfacecolor() == "none" for line in rings)
    assert len({line.get_markersize() for line in rings}) == 3
    # the default scale comes from the system's own trajectory: close to the given one
    assert compare_fixed_points(model_fps, true, alignment).scale == pytest.approx(
        report.scale, rel=0.2)


def test_missing_and_spurious_lower_the_score(lorenz_case):
    true, traj, model_fps, alignment = lorenz_case
    truth = FixedPoints.from_points(true, true.fixed_points())
    partial = compare_fixed_points(model_fps[[0, 1]], truth, alignment, true_trajectories=traj)
    assert len(partial.matched) == 2 and len(partial.missing) == 1
    assert partial.score == pytest.approx(2 / 3, abs=1e-6)
    assert "partly recovered" in partial.summary()
    table = partial.table()
    assert table["status"].tolist().count("missing") == 1

    far = FixedPoints._build(model_fps.xstar + 50.0, model_fps.q, model_fps.jacobians,
                             "continuous", model_fps.dt, model_fps.marginal_tol)
    noisy = compare_fixed_points(far, truth, alignment, true_trajectories=traj)
    # points of the true kinds, far away: mislocated, not missing and spurious
    assert noisy.matched == [] and len(noisy.mislocated) == 3 and noisy.score == 0.0
    assert noisy.table()["status"].tolist() == ["mislocated"] * 3
    assert "did not recover" in noisy.summary()
    # the score counts each mislocated pair as a true point and a model point, as it counted
    # a missing and a spurious one before mislocated points were told apart
    xs = model_fps.xstar.copy()
    xs[2] += 50.0
    one_far = compare_fixed_points(
        FixedPoints._build(xs, model_fps.q, model_fps.jacobians, "continuous", model_fps.dt,
                           model_fps.marginal_tol), truth, alignment, true_trajectories=traj)
    assert one_far.counts()["matched"] == 2 and one_far.counts()["mislocated"] == 1
    assert one_far.score == pytest.approx(2 / 4, abs=1e-6)


def test_discrete_model_of_continuous_truth_compared_per_bin():
    """A map equal to the exact per-bin flow exp(dt J) of a linear field matches it exactly."""
    jac = np.array([[-0.3, 1.0], [-1.0, -0.3]])
    dt = 0.2

    class Field(Dynamics):
        def __init__(self):
            super().__init__(dim=2, kind="continuous", dt=dt)

        def forward(self, x, u=None):
            return x @ torch.tensor(jac, dtype=x.dtype).T

    a = np.array([[2.0, 1.0], [0.0, 1.0]])
    step = np.linalg.inv(a) @ scipy.linalg.expm(dt * jac) @ a  # the map in model coordinates

    class Map(Dynamics):
        def __init__(self):
            super().__init__(dim=2, kind="discrete")

        def forward(self, z, u=None):
            return z @ torch.tensor(step, dtype=z.dtype).T

    true_fps = FixedPoints.from_points(Field(), [[0.0, 0.0]])
    model_fps = find_fixed_points(Map(), np.random.default_rng(0).normal(size=(50, 2)),
                                  n_inits=32)
    z = np.random.default_rng(1).normal(size=(40, 2))
    report = compare_fixed_points(model_fps, true_fps, AffineAlignment().fit(z, z @ a.T),
                                  scale=1.0)
    assert len(report.matched) == 1
    assert report.eigenvalue_error[0] < 1e-10
    assert report.stability_agrees[0]


def test_bad_inputs(lorenz_case):
    true, _traj, model_fps, alignment = lorenz_case
    with pytest.raises(DynlensTypeError, match="model_fps"):
        compare_fixed_points(model_fps.xstar, true, alignment)
    with pytest.raises(DynlensTypeError, match="true_fps"):
        compare_fixed_points(model_fps, np.zeros((3, 3)), alignment)
    z = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(DynlensValueError, match="alignment"):
        compare_fixed_points(model_fps, true, AffineAlignment().fit(z, z[:, :2]))
    with pytest.raises(DynlensTypeError, match="alignment"):
        compare_fixed_points(model_fps, true, AffineAlignment())
    with pytest.raises(DynlensValueError, match="threshold"):
        compare_fixed_points(model_fps, true, alignment, threshold=0)
    one = FixedPoints.from_points(true, true.fixed_points()[:1])
    with pytest.raises(DynlensValueError, match="scale"):
        compare_fixed_points(model_fps, one, alignment)


def test_default_threshold_keeps_every_match_unambiguous():
    """Default: 0.25 of the attractor size, but below half the closest pair of true points."""
    truth = systems.get("lorenz")
    true = FixedPoints.from_points(truth, truth.fixed_points())
    points = np.random.default_rng(0).normal(size=(50, 3))
    identity = AffineAlignment().fit(points, points)
    far = compare_fixed_points(true, true, identity, scale=1.0)  # true points ~12 apart
    assert far.threshold == pytest.approx(0.25)
    close = compare_fixed_points(true, true, identity, scale=100.0)
    gaps = np.linalg.norm(truth.fixed_points()[:, None] - truth.fixed_points()[None], axis=-1)
    assert close.threshold == pytest.approx(0.5 * gaps[gaps > 0].min() / 100.0)
    assert len(close.matched) == 3 and close.recovered


def test_compare_dynamics_with_another_system_starts_on_that_systems_attractor():
    import math

    import dynlens as dl

    data = dl.simulate("arneodo", n_neurons=5, n_trials=400, n_bins=70, seed=0)
    model = dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=8, encoder_size=4)
    # Arneodo's true states are not on Rossler's attractor (from some of these, Rossler's
    # tangent integration ended in NaN): they must not start its spectrum
    row = dl.compare_dynamics(model, data, dl.systems.get("rossler"), split="train",
                              n_steps=300, n_starts=64)
    assert math.isfinite(row["lambda1_true"]) and 0.0 < row["lambda1_true"] < 0.2


def test_compare_dynamics_refuses_data_without_a_bin_width_before_any_work():
    import dynlens as dl

    class Untouchable:
        def infer(self, data):
            raise AssertionError("inferred before the bin width was checked")

    spikes = np.random.default_rng(0).poisson(1.0, size=(20, 10, 4))
    data = dl.NeuralDataset.from_arrays(spikes)
    assert data.bin_width is None
    with pytest.raises(DynlensValueError, match="data.bin_width: expected the bin width"):
        dl.compare_dynamics(Untouchable(), data, split="train")


def test_fixed_point_recovery_keeps_the_thread_count_and_checks_it():
    data = dl.simulate("arneodo", n_neurons=6, n_trials=20, n_bins=20, seed=0)
    model = dl.models.SAE(n_neurons=6, latent_dim=3, generator="node")
    before = torch.get_num_threads()
    comparison = dl.analysis.fixed_point_recovery(model, data, n_inits=16, threads=1)
    assert comparison.numbers()["fp_true"] == 3
    assert torch.get_num_threads() == before  # restored after the search
    with pytest.raises(DynlensValueError, match="threads: expected 'auto' or a positive integer"):
        dl.analysis.fixed_point_recovery(model, data, n_inits=16, threads=0)
