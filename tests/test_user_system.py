"""A ground-truth system written by a user (here, in this file) goes through everything that a
built-in one does, with no change to dynlens: registered by name, simulated with the default
recipe or with its own way of being observed, trained on, and compared (fixed points, Lyapunov
spectrum).

The system is a Stuart-Landau oscillator (the Hopf normal form) with a decaying third axis:
``x' = mu x - w y - x r^2``, ``y' = w x + mu y - y r^2``, ``z' = -lam z``. Known answers: one
fixed point, the origin, with eigenvalues ``mu +- i w`` and ``-lam``; a limit cycle of radius
``sqrt(mu)`` whose Lyapunov spectrum is ``(0, -lam, -2 mu)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens import systems
from dynlens.analysis import AffineAlignment, compare_fixed_points, find_fixed_points
from dynlens.dynamics import Dynamics, check_dynamics
from dynlens.errors import DynlensValueError
from dynlens.systems.base import _matrix

MU, OMEGA, LAM = 1.0, 2.0, 0.5


class StuartLandau(systems.GroundTruthSystem):
    """The user's system: field, analytic Jacobian and fixed points; the default recipe."""

    name = "stuart_landau_user"
    defaults: ClassVar[dict[str, float]] = {"mu": MU, "omega": OMEGA, "lam": LAM}
    state_dim = 3
    period = 2 * np.pi / OMEGA
    pts_per_period = 20

    def _field(self, x, xp):
        p, (x1, x2, x3) = self._params, (x[..., 0], x[..., 1], x[..., 2])
        r2 = x1 * x1 + x2 * x2
        return xp.stack([p["mu"] * x1 - p["omega"] * x2 - x1 * r2,
                         p["omega"] * x1 + p["mu"] * x2 - x2 * r2, -p["lam"] * x3], axis=-1)

    def _jac(self, x, xp):
        p, (x1, x2) = self._params, (x[..., 0], x[..., 1])
        return _matrix([[p["mu"] - 3 * x1 * x1 - x2 * x2, -p["omega"] - 2 * x1 * x2, 0.0],
                        [p["omega"] - 2 * x1 * x2, p["mu"] - x1 * x1 - 3 * x2 * x2, 0.0],
                        [0.0, 0.0, -p["lam"]]], x, xp)

    def fixed_points(self) -> np.ndarray:
        return np.zeros((1, 3))


class TunedStuartLandau(StuartLandau):
    """The same system observed its own way: trials from a box of initial states (so each shows
    its approach to the cycle), cosine-tuned neurons reading the phase plane, and ``z``."""

    name = "tuned_stuart_landau_user"
    recipe = "cosine_tuning"
    independent_trials = True
    box = 1.5

    def draw_trials(self, request, bin_width):
        starts = request.rng("state").uniform(-self.box, self.box, (request.n_conditions, 3))
        latents = self.trajectories(starts, request.n_steps, dt=bin_width)
        return np.repeat(latents, request.trials_per_condition, axis=0), None, {"box": self.box}

    def rates_from_latents(self, latents, request):
        angles = 2 * np.pi * np.arange(request.n_neurons) / request.n_neurons
        weights = np.stack([np.cos(angles), np.sin(angles), np.full_like(angles, 0.5)])
        log_rates = latents @ weights - 1.0
        return np.exp(log_rates), log_rates, {"tuning": weights.tolist()}


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Both systems registered for this module only (the registry is left as it was)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(systems, "_REGISTRY", dict(systems._REGISTRY))
        systems.register(StuartLandau)
        systems.register(TunedStuartLandau)
        yield


@pytest.fixture(scope="module")
def tuned():
    return dl.simulate("tuned_stuart_landau_user", n_neurons=12, n_trials=40, n_bins=30,
                       seed=3, trials_per_condition=2)


@pytest.fixture(scope="module")
def trained(tuned):
    torch.manual_seed(0)
    model = dl.models.SAE(n_neurons=tuned.n_neurons, latent_dim=3)
    history = dl.fit(model, tuned, max_epochs=2, progress=False, threads=1)
    return model, history


def test_the_user_system_is_known_by_name_and_meets_the_contract():
    assert {"stuart_landau_user", "tuned_stuart_landau_user"} <= set(systems.available())
    sys_ = systems.get("Stuart_Landau_User", mu=0.5)
    assert type(sys_) is StuartLandau and sys_.params == {"mu": 0.5, "omega": OMEGA, "lam": LAM}
    info = check_dynamics(sys_)
    assert (info.dim, info.kind) == (3, "continuous")
    x = torch.tensor([[0.3, -0.7, 0.2], [1.0, 0.5, -1.0]], dtype=torch.float64)
    auto = torch.stack([torch.autograd.functional.jacobian(sys_, row) for row in x])
    assert torch.allclose(sys_.jacobian(x), auto, atol=1e-12)
    eigenvalues, n_unstable = StuartLandau().stability()
    np.testing.assert_allclose(eigenvalues[0], [MU + 1j * OMEGA, MU - 1j * OMEGA, -LAM])
    assert n_unstable.tolist() == [2]


def test_the_default_recipe_observes_a_user_system():
    data = dl.simulate("stuart_landau_user", n_neurons=5, n_trials=6, n_bins=10, seed=1)
    meta = data.metadata
    assert meta["system"] == "stuart_landau_user" and meta["recipe"] == "sedler2023"
    assert meta["pts_per_period"] == 20 and data.bin_width == pytest.approx(np.pi / 20)
    # consecutive segments of one trajectory from the draw of the seed
    traj = StuartLandau().trajectory(60, dt=data.bin_width, seed=1)
    np.testing.assert_allclose(data.latents.reshape(-1, 3), traj, rtol=1e-9, atol=1e-12)
    z = (data.latents @ np.array(meta["readout"]) - meta["zscore_mean"]) / meta["zscore_std"]
    np.testing.assert_allclose(data.log_rates, z, atol=1e-12)
    with pytest.raises(DynlensValueError, match="input_pulse: expected None for "
                                                "'stuart_landau_user', whose observation"):
        dl.simulate("stuart_landau_user", n_neurons=5, n_trials=6, n_bins=10, input_pulse=1.0)


def test_a_user_recipe_draws_its_own_trials_and_rates(tuned, tmp_path):
    data, meta = tuned, tuned.metadata
    assert meta["recipe"] == "cosine_tuning" and meta["independent_trials"] is True
    assert meta["box"] == 1.5 and meta["time_unit"] == "system time units"
    request = dl.systems.SimulationRequest(n_neurons=12, n_trials=40, n_bins=30, seed=3,
                                           independent_trials=True, trials_per_condition=2)
    starts = request.rng("state").uniform(-1.5, 1.5, (20, 3))
    np.testing.assert_array_equal(data.latents[::2, 0], starts)
    np.testing.assert_array_equal(data.latents[::2], data.latents[1::2])  # conditions repeat
    # every trial approaches the cycle of radius sqrt(mu) while z decays as exp(-lam t)
    radius = np.hypot(data.latents[..., 0], data.latents[..., 1])
    assert np.abs(radius[:, -1] - np.sqrt(MU)).max() < 0.05
    t = data.bin_width * np.arange(data.n_bins)
    np.testing.assert_allclose(data.latents[..., 2], starts[:, 2].repeat(2)[:, None]
                               * np.exp(-LAM * t), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data.log_rates, data.latents @ np.array(meta["tuning"]) - 1.0)
    assert abs(data.spikes.mean() - data.rates.mean()) < 0.05  # Poisson counts of those rates
    data.save(tmp_path / "tuned.npz")
    again = dl.load_dataset(tmp_path / "tuned.npz")
    assert again.metadata["recipe"] == "cosine_tuning"
    np.testing.assert_array_equal(again.spikes, data.spikes)


def test_a_model_trains_on_it_and_its_fixed_points_are_compared(tuned, trained):
    model, history = trained
    assert len(history) == 2 and np.isfinite(history["train_loss"]).all()
    latents = model.infer(tuned).latents.reshape(-1, 3)
    fps = find_fixed_points(model.dynamics, latents, n_inits=64, progress=False, threads=1)
    alignment = AffineAlignment().fit(latents, tuned.latents.reshape(-1, 3))
    report = compare_fixed_points(fps, TunedStuartLandau(), alignment)
    np.testing.assert_array_equal(report.true_fps.xstar, np.zeros((1, 3)))
    assert report.true_fps.n_unstable.tolist() == [2]
    assert len(report.matched) + len(report.mislocated) + len(report.missing) == 1
    # dynlens finds the true system itself, from the registry, by the name in the metadata
    recovered = dl.analysis.fixed_point_recovery(model, tuned, n_inits=64, threads=1)
    np.testing.assert_array_equal(recovered.true_fps.xstar, report.true_fps.xstar)


class Rescaled(Dynamics):
    """A perfect model in other coordinates: g(v) = f(2 v + 1) / 2."""

    def __init__(self, true):
        super().__init__(dim=3, kind="continuous", dt=true.dt)
        self.true = true

    def forward(self, v, u=None):
        return self.true(2.0 * v + 1.0) / 2.0


def test_a_perfect_model_of_the_user_system_recovers_its_fixed_point_exactly():
    true = StuartLandau()
    traj = true.trajectory(400, x0=[0.1, 0.0, 1.0])
    model_latents = (traj - 1.0) / 2.0
    fps = find_fixed_points(Rescaled(true), model_latents, n_inits=64, progress=False,
                            threads=1)
    alignment = AffineAlignment().fit(model_latents, traj)
    report = compare_fixed_points(fps, true, alignment, true_trajectories=traj)
    assert report.matched == [(0, 0)] and report.score == pytest.approx(1.0, abs=1e-6)
    assert report.location_error.max() < 1e-8


def test_the_lyapunov_spectrum_of_the_user_system():
    true = StuartLandau()
    spectrum = dl.lyapunov_spectrum(true, true.sample_on_attractor(1)[0], n_steps=200,
                                    n_starts=2)
    np.testing.assert_allclose(spectrum.exponents, [0.0, -LAM, -2 * MU], atol=0.01)
