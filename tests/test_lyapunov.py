"""Lyapunov spectra against exact answers and textbook values (Sprott, Chaos and Time-Series
Analysis, in the equations' own time units), with tolerances for short runs; the long-run
accuracy is in benchmarks/bench_lyapunov.md."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens.errors import DynlensError


class Henon(torch.nn.Module):
    """The Henon map as a plain user module (a 1.4, b 0.3)."""

    dim, kind = 2, "discrete"

    def forward(self, x, u=None):
        return torch.stack([1 - 1.4 * x[..., 0] ** 2 + x[..., 1], 0.3 * x[..., 0]], -1)


class Linear(torch.nn.Module):
    def __init__(self, matrix, kind, dt=None):
        super().__init__()
        self.register_buffer("a", torch.as_tensor(matrix, dtype=torch.float64))
        self.dim, self.kind, self.dt = self.a.shape[0], kind, dt

    def forward(self, x, u=None):
        return x @ self.a.T


def rotated(eigenvalues):
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((len(eigenvalues),) * 2))[0]
    return q @ np.diag(eigenvalues) @ q.T


def test_kaplan_yorke_dimension_by_hand():
    assert dl.kaplan_yorke_dimension([0.9056, 0, -14.5723]) == pytest.approx(2.0621, abs=1e-4)
    assert dl.kaplan_yorke_dimension([0.0714, 0, -5.3943]) == pytest.approx(2.0132, abs=1e-4)
    assert dl.kaplan_yorke_dimension([1.0, 0.5]) == 2.0
    assert dl.kaplan_yorke_dimension([-0.1, -2.0]) == 0.0
    with pytest.raises(DynlensError, match="exponents"):
        dl.kaplan_yorke_dimension([np.nan, 1.0])


def test_a_linear_map_and_a_linear_field_give_their_eigenvalues_exactly():
    spec = dl.lyapunov_spectrum(Linear(rotated([2.0, 0.5, -0.25]), "discrete"),
                                np.ones(3), n_steps=200, n_starts=4)
    np.testing.assert_allclose(spec.exponents, np.log([2.0, 0.5, 0.25]), atol=1e-9)
    # the tangent vectors need a long warm-up to align where eigenvalues lie close
    field = dl.lyapunov_spectrum(Linear(rotated([-0.5, -1.0, -3.0]), "continuous", dt=0.5),
                                 np.ones(3), n_steps=60, n_starts=4, transient=60, substeps=10)
    np.testing.assert_allclose(field.exponents, [-0.5, -1.0, -3.0], atol=2e-5)
    assert field.kind == "continuous" and spec.kind == "discrete"
    # a flow that comes to rest has no exponent along the flow; the sums are exact
    assert field.zero_index is None and field.checks["sum_is_divergence"]
    assert spec.divergence == pytest.approx(np.log(2.0 * 0.5 * 0.25), abs=1e-9)


def within_error(spec, truth, slack):
    """Each exponent within 4 standard errors (plus ``slack``) of the known answer."""
    return np.all(np.abs(spec.exponents - truth) <= 4 * spec.error + slack)


def test_lorenz_converged_by_default_with_its_known_answers():
    lorenz = dl.systems.get("lorenz")
    spec = dl.lyapunov_spectrum(lorenz, lorenz.default_x0)
    truth = np.array([0.9056, 0.0, -14.5723])
    assert spec.converged and spec.n_steps < 10_000
    # the stated criterion held: every standard error within its tolerance
    assert np.all(spec.error <= spec.tolerance) and spec.tolerance[0] == pytest.approx(
        0.02 * spec.exponents[0])
    assert within_error(spec, truth, 0.01) and spec.error[0] < 0.03
    # the known structure: the exponent along the flow is 0, the divergence -(sigma+1+beta)
    assert spec.zero_index == 1 and spec.checks == {
        "converged": True, "zero_exponent": True, "sum_is_divergence": True}
    p = lorenz.params
    assert spec.divergence == pytest.approx(-(p["sigma"] + 1 + p["beta"]), abs=1e-9)
    assert spec.sum == pytest.approx(spec.divergence, abs=1e-3)  # RK4's error only
    assert spec.kaplan_yorke == pytest.approx(2.062, abs=0.01) and spec.kaplan_yorke_note == ""
    assert 0 < spec.kaplan_yorke_error < 0.01
    assert spec.trace.shape[1] == 3 and spec.trace_time[-1] == pytest.approx(
        spec.n_steps * lorenz.dt)
    assert np.all(spec.spread > 0) and spec.per_start.shape == (64, 3)


def test_rossler_from_states_on_its_attractor():
    rossler = dl.systems.get("rossler")
    spec = dl.lyapunov_spectrum(rossler, rossler.sample_on_attractor(64, seed=0),
                                n_steps=400)
    assert within_error(spec, [0.0714, 0.0, -5.3943], 0.01)
    assert spec.error[0] < 0.01 and spec.n_steps == 400
    assert spec.kaplan_yorke == pytest.approx(2.013, abs=0.01)
    assert spec.checks["sum_is_divergence"] and spec.checks["zero_exponent"]


def test_henon_as_a_plain_user_module():
    spec = dl.lyapunov_spectrum(Henon(), np.array([0.1, 0.1]), n_starts=32)
    assert spec.converged and spec.kind == "discrete"
    np.testing.assert_allclose(spec.exponents, [0.4192, -1.6232], atol=0.02)
    assert within_error(spec, [0.4192, -1.6232], 0.002)
    assert spec.sum == pytest.approx(math.log(0.3), abs=1e-9)  # log |det J| per step
    assert spec.divergence == pytest.approx(math.log(0.3), abs=1e-9)
    assert spec.zero_index is None and spec.checks["zero_exponent"] is None
    assert spec.per_time(0.5) == pytest.approx(spec.exponents / 0.5)
    assert spec.per_bin == pytest.approx(spec.exponents)


def test_the_first_k_exponents_and_the_model_dtype():
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    net.dim, net.kind, net.dt = 3, "continuous", 0.1
    spec = dl.lyapunov_spectrum(net, np.zeros(3), n_steps=100, n_starts=4, k=2)
    assert spec.exponents.shape == (2,) and spec.trace.dtype == np.float64
    assert spec.exponents[0] >= spec.exponents[1]
    # scipy's solvers hold a float32 model to what its dtype allows
    dop = dl.lyapunov_spectrum(net, np.zeros(3), n_steps=100, n_starts=4, k=2, method="dop853")
    np.testing.assert_allclose(dop.exponents, spec.exponents, atol=1e-4)
    # the first k exponents are the k largest: known exactly for a linear map and field
    grow = Linear(rotated([2.0, 0.5, 0.25]), "discrete")
    for k in (1, 2):
        first = dl.lyapunov_spectrum(grow, np.ones(3), n_steps=200, n_starts=4, k=k)
        np.testing.assert_allclose(first.exponents, np.log([2.0, 0.5])[:k], atol=1e-9)
        assert first.per_start.shape == (4, k) and first.trace.shape[1] == k
        assert first.sum == pytest.approx(np.log([2.0, 0.5])[:k].sum(), abs=1e-9)


def test_bad_arguments_are_refused():
    lorenz = dl.systems.get("lorenz")
    with pytest.raises(DynlensError, match="k: expected at most dim=3"):
        dl.lyapunov_spectrum(lorenz, np.ones(3), k=4)
    with pytest.raises(DynlensError, match="x0"):
        dl.lyapunov_spectrum(lorenz, np.ones(4))
    with pytest.raises(DynlensError, match="n_steps"):
        dl.lyapunov_spectrum(lorenz, np.ones(3), n_steps=0)
    short = dl.lyapunov_spectrum(lorenz, np.ones(3), n_steps=20, n_starts=2, dt=0.02)
    assert short.per_time(0.04) == pytest.approx(short.exponents / 2)  # a bin of 0.02 in
    with pytest.raises(DynlensError, match="bin_width"):                 # a clock of 0.04
        short.per_time(0.0)


class StandardMap(torch.nn.Module):
    """Chirikov's standard map, area-preserving (det J = 1): exponents l and -l."""

    dim, kind = 2, "discrete"

    def forward(self, x, u=None):
        p = x[..., 1] + 6.0 * torch.sin(x[..., 0])
        return torch.stack([x[..., 0] + p, p], -1)


def test_kaplan_yorke_says_when_it_is_not_resolved_or_not_defined():
    spec = dl.lyapunov_spectrum(StandardMap(), [0.5, 0.3], n_steps=400, n_starts=8)
    assert spec.exponents[0] > 0.5 and spec.sum == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(spec.kaplan_yorke) and "not resolved" in spec.kaplan_yorke_note
    assert "not resolved" in repr(spec)
    first = dl.lyapunov_spectrum(Henon(), [0.1, 0.1], n_steps=400, n_starts=8, k=1)
    assert np.isnan(first.kaplan_yorke) and "not defined" in first.kaplan_yorke_note
    assert first.checks["sum_is_divergence"] is None  # a partial spectrum


def test_the_work_is_bounded_and_the_units_follow_the_clock():
    spec = dl.lyapunov_spectrum(Henon(), [0.1, 0.1], n_starts=8, rtol=1e-9, max_steps=1500)
    assert not spec.converged and spec.n_steps == 1500 and not spec.checks["converged"]
    assert "not converged" in repr(spec)
    half = spec.rescaled(0.5)
    np.testing.assert_allclose(half.error, spec.error / 0.5)
    assert half.divergence == pytest.approx(spec.divergence / 0.5)
    assert half.kaplan_yorke == spec.kaplan_yorke and half.dt == 0.5
    with pytest.raises(DynlensError, match="max_steps: expected None when n_steps"):
        dl.lyapunov_spectrum(Henon(), [0.1, 0.1], n_steps=100, max_steps=200)
    with pytest.raises(DynlensError, match="rtol"):
        dl.lyapunov_spectrum(Henon(), [0.1, 0.1], rtol=0.0)


class Logistic(dl.Dynamics):
    """The logistic map x -> 4 x (1 - x): its Lyapunov exponent is exactly log 2."""

    def __init__(self):
        super().__init__(dim=1, kind="discrete")

    def forward(self, x, u=None):
        return 4.0 * x * (1 - x)


def test_logistic_map_gives_log_2():
    spec = dl.lyapunov_spectrum(Logistic(), np.array([0.3]), seed=0)
    assert spec.converged and spec.n_steps <= 20000
    assert abs(spec.exponents[0] - math.log(2)) <= 3 * spec.error[0] + 1e-4
    assert spec.exponents[0] == pytest.approx(math.log(2), abs=2e-3)
    assert math.isnan(spec.kaplan_yorke)  # volumes grow: no attractor dimension to give


def test_a_start_that_escapes_is_dropped_and_the_others_measured():
    class Blowup(dl.Dynamics):  # dx/dt = -x + x^3: stable at 0, escapes in finite time beyond 1
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return -x + x ** 3

    spec = dl.lyapunov_spectrum(Blowup(), [[0.5], [0.2], [3.0]], n_steps=200)
    assert spec.n_dropped == 1 and spec.per_start.shape == (2, 1)
    assert spec.exponents[0] == pytest.approx(-1.0, abs=1e-4)  # f'(0) = -1, once near 0
    assert "1 dropped" in repr(spec)
    with pytest.raises(DynlensError, match="from every start"):
        dl.lyapunov_spectrum(Blowup(), [[2.0], [3.0]], n_steps=200)


class LinearWithJacobian(Linear):
    def jacobian(self, x):
        return self.a.expand(x.shape[0], -1, -1)


def test_the_leading_exponents_of_a_stiff_linear_field_by_bdf():
    # rates 0.5, -1 and -1000: RK4 would need 1500 substeps a bin, for its accuracy alone;
    # BDF steps over the fast decay, which the two leading tangent vectors do not follow
    field = LinearWithJacobian(rotated([0.5, -1.0, -1000.0]), "continuous", dt=0.5)
    spec = dl.lyapunov_spectrum(field, np.ones(3), n_steps=12, n_starts=2, transient=12,
                                k=2)
    np.testing.assert_allclose(spec.exponents, [0.5, -1.0], atol=1e-6)
    assert spec.method == "bdf" and spec.substeps is None and "; BDF" in repr(spec)
    # "auto" integrates the full spectrum with RK4: its last tangent vector decays at the
    # fast rate, which any solver must resolve
    full = dl.lyapunov_spectrum(field, np.ones(3), n_steps=1, n_starts=1, transient=0,
                                dt=0.05)
    assert full.method == "rk4" and full.substeps >= 150
    assert f"RK4, {full.substeps} substeps/bin" in repr(full)


def test_the_solvers_agree_on_lorenz_and_the_method_is_checked():
    lorenz = dl.systems.get("lorenz")
    truth = np.array([0.9056, 0.0, -14.5723])
    dop = dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=250, n_starts=8,
                               method="dop853")
    assert dop.method == "dop853" and within_error(dop, truth, 0.02)
    # error control holds the sum to the divergence far closer than RK4's allowance
    assert dop.sum == pytest.approx(dop.divergence, abs=1e-5) and dop.checks["zero_exponent"]
    # "auto" keeps RK4 on Lorenz, a partial spectrum too (one substep a bin: not stiff)
    auto = dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=8, n_starts=2, k=1)
    assert auto.method == "rk4" and auto.substeps == 1
    bdf = dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=40, n_starts=4, k=1,
                               method="bdf")
    assert bdf.method == "bdf" and abs(bdf.exponents[0] - truth[0]) < 4 * bdf.error[0] + 0.1
    assert dl.lyapunov_spectrum(Henon(), [0.1, 0.1], n_steps=20, method="bdf").method is None
    with pytest.raises(DynlensError, match="method: expected one of .*found 'rk5'"):
        dl.lyapunov_spectrum(lorenz, lorenz.default_x0, method="rk5")
    with pytest.raises(DynlensError, match="substeps: expected None with method='bdf'"):
        dl.lyapunov_spectrum(lorenz, lorenz.default_x0, substeps=4, method="bdf")


def test_a_start_that_escapes_is_dropped_by_the_scipy_solvers():
    class Blowup(dl.Dynamics):
        def __init__(self):
            super().__init__(dim=1, kind="continuous", dt=0.1)

        def forward(self, x, u=None):
            return -x + x ** 3

    spec = dl.lyapunov_spectrum(Blowup(), [[0.5], [0.2], [3.0]], n_steps=200,
                                method="dop853")
    assert spec.n_dropped == 1 and spec.exponents[0] == pytest.approx(-1.0, abs=1e-4)


class KinkedCNN(torch.nn.Module):
    """dysts's CellularNeuralNetwork: piecewise linear, so its Jacobian is piecewise constant
    and its eigenvalues say nothing of the kinks at |x_i| = 1."""

    dim, kind, dt = 3, "continuous", 0.032
    m = torch.tensor([[1.24, -3.21, -3.21], [-3.21, 1.1, -4.4], [-3.21, 4.4, 1.0]],
                     dtype=torch.float64)

    def forward(self, x, u=None):
        return 0.5 * ((x + 1).abs() - (x - 1).abs()) @ self.m.T - x

    def jacobian(self, x):
        return self.m * (x.abs() < 1).to(x.dtype)[:, None, :] - torch.eye(3, dtype=x.dtype)


def test_the_substeps_see_kinks_and_leave_smooth_flows_alone():
    # the eigenvalue rule gives CellularNeuralNetwork 1 substep a bin (largest exponent 0.164,
    # 60 % high); the step-doubling check doubles it twice (0.102 +- 0.004 in the study)
    from dynlens.analysis._prepare import Evaluator
    from dynlens.analysis.lyapunov import _default_substeps

    x0 = [-0.26574016, -0.36754928, -0.07309413]
    spec = dl.lyapunov_spectrum(KinkedCNN(), x0, n_steps=2, n_starts=4, transient=250)
    assert spec.substeps == 4
    with torch.no_grad():
        assert _default_substeps(Evaluator(KinkedCNN()), torch.tensor([x0]), 0.032) == 1
    # Lorenz keeps the eigenvalue rule's single substep: its results are unchanged, bit for bit
    lorenz = dl.systems.get("lorenz")
    assert dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=2, n_starts=4).substeps == 1
