"""Tests of the ground-truth systems (dynlens.systems) against independent equations and the
fixed points / eigenvalues of the published systems (dysts parameters)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from dynlens import systems
from dynlens.dynamics import check_dynamics
from dynlens.errors import DynlensError, DynlensTypeError, DynlensValueError
from dynlens.systems import GroundTruthSystem

FLOWS = ["lorenz", "arneodo", "rossler", "bistable2d"]
ALL = [*FLOWS, "chaotic_rnn"]


# ---------------------------------------------------------------- independent equations
def lorenz_np(v, s=10.0, r=28.0, b=2.667):
    x, y, z = v
    return np.array([s * (y - x), x * (r - z) - y, x * y - b * z])


def arneodo_np(v, a=-5.5, b=4.5, c=1.0, d=-1.0):
    x, y, z = v
    return np.array([y, z, -a * x - b * y - c * z + d * x**3])


def rossler_np(v, a=0.2, b=0.2, c=5.7):
    x, y, z = v
    return np.array([-y - z, x + a * y, b + z * (x - c)])


def bistable_np(v, gamma=0.5):
    x, y = v
    return np.array([y, x - x**3 - gamma * y])


REFERENCE_FIELDS = {"lorenz": lorenz_np, "arneodo": arneodo_np, "rossler": rossler_np,
                    "bistable2d": bistable_np}


def random_states(system: GroundTruthSystem, n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-10, 10, size=(n, system.dim))


@pytest.mark.parametrize("name", FLOWS)
def test_field_matches_independent_equations(name):
    sys_ = systems.get(name)
    x = random_states(sys_)
    expected = np.array([REFERENCE_FIELDS[name](row) for row in x])
    got = sys_(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-12)


def test_field_with_changed_parameters():
    sys_ = systems.get("lorenz", rho=14.0, beta=8 / 3)
    x = random_states(sys_)
    expected = np.array([lorenz_np(row, r=14.0, b=8 / 3) for row in x])
    np.testing.assert_allclose(sys_(torch.from_numpy(x)).numpy(), expected, rtol=1e-14)


def test_chaotic_rnn_map_matches_lfads_recipe():
    rnn = systems.get("chaotic_rnn", seed=3)
    w = np.random.default_rng(3).standard_normal((50, 50)) / np.sqrt(50)
    np.testing.assert_array_equal(rnn.weights, w)
    x = np.random.default_rng(1).standard_normal((4, 50))
    alpha = 0.01 / 0.025
    expected = (1 - alpha) * x + alpha * 1.5 * np.tanh(x) @ w.T
    np.testing.assert_allclose(rnn(torch.from_numpy(x)).numpy(), expected, rtol=1e-13)
    u = np.random.default_rng(2).standard_normal((4, 50))
    np.testing.assert_allclose(rnn(torch.from_numpy(x), torch.from_numpy(u)).numpy(),
                               expected + alpha * u, rtol=1e-13)


def test_flow_input_is_additive():
    sys_ = systems.get("arneodo")
    x = torch.randn(5, 3, dtype=torch.float64)
    u = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    torch.testing.assert_close(sys_(x, u), sys_(x) + u)


def test_metadata_matches_reference():
    a, lz, r = systems.get("arneodo"), systems.get("lorenz"), systems.get("rossler")
    assert (a.period, a.pts_per_period) == (3.1641, 35)
    assert (lz.period, lz.pts_per_period) == (1.5008, 100)
    assert (r.period, r.pts_per_period) == (5.9086, 35)
    assert a.dt == pytest.approx(0.0904, abs=5e-5)
    assert lz.dt == pytest.approx(0.0150, abs=5e-5)
    assert r.dt == pytest.approx(0.1688, abs=5e-5)
    assert lz.params == {"sigma": 10.0, "rho": 28.0, "beta": 2.667}
    np.testing.assert_array_equal(lz.default_x0, [-9.7869288, -15.03852, 20.533978])
    np.testing.assert_array_equal(a.default_x0, [-2.7515698, 0.19079818, 3.4703629])
    np.testing.assert_array_equal(r.default_x0, [6.5134412, 0.4772013, 0.34164294])
    assert [round(s.max_lyapunov, 3) for s in (lz, a, r)] == [0.892, 0.237, 0.151]
    rnn = systems.get("chaotic_rnn")
    assert (rnn.kind, rnn.dim, rnn.dt, rnn.params["tau"], rnn.params["g"]) == \
        ("discrete", 50, 0.01, 0.025, 1.5)
    for name in ALL:
        info = check_dynamics(systems.get(name))
        assert info.dtype == torch.float64 and info.dim == systems.get(name).dim


# ------------------------------------------------------------------------- Jacobians
def finite_difference_jacobian(f, x, h=1e-6):
    cols = []
    for j in range(x.shape[-1]):
        e = np.zeros_like(x)
        e[..., j] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("name", ALL)
def test_jacobian_matches_finite_differences_and_autograd(name):
    sys_ = systems.get(name, n=8) if name == "chaotic_rnn" else systems.get(name)
    x = random_states(sys_, n=5) / (5.0 if name == "chaotic_rnn" else 1.0)
    jac = sys_.jacobian(x)
    assert isinstance(jac, np.ndarray) and jac.shape == (5, sys_.dim, sys_.dim)

    def f(v):
        return sys_(torch.from_numpy(v)).numpy()

    fd = finite_difference_jacobian(f, x)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    xt = torch.from_numpy(x)
    auto = torch.vmap(torch.func.jacrev(sys_))(xt)
    torch.testing.assert_close(sys_.jacobian(xt), auto, rtol=1e-12, atol=1e-12)


def test_jacobian_types_and_shapes():
    sys_ = systems.get("lorenz")
    assert isinstance(sys_.jacobian([1.0, 2.0, 3.0]), np.ndarray)
    assert sys_.jacobian([1.0, 2.0, 3.0]).shape == (3, 3)
    x32 = torch.ones(2, 4, 3)
    jac = sys_.jacobian(x32)
    assert isinstance(jac, torch.Tensor) and jac.dtype == torch.float32
    assert jac.shape == (2, 4, 3, 3)


# --------------------------------------------------------- fixed points and eigenvalues
def assert_printed(actual, printed, digits):
    """``actual`` agrees with a value printed with ``digits`` decimals."""
    assert abs(actual - printed) <= 0.5 * 10.0**-digits + 1e-12, (actual, printed)


def eig_list(system):
    return system.stability()


def test_lorenz_fixed_points_and_eigenvalues():
    sys_ = systems.get("lorenz")
    fps = sys_.fixed_points()
    np.testing.assert_allclose(fps[0], 0.0)
    for fp, sign in zip(fps[1:], (1, -1)):
        for value, printed in zip(fp, (sign * 8.4858, sign * 8.4858, 27.0)):
            assert_printed(value, printed, 4)
    stab = sys_.stability()
    for value, printed in zip(stab.eigenvalues[0].real, (11.828, -2.667, -22.828)):
        assert_printed(value, printed, 3)
    for eig in stab.eigenvalues[1:]:
        assert_printed(eig[0].real, 0.0939, 4)
        assert_printed(abs(eig[0].imag), 10.195, 3)
        assert eig[0] == np.conj(eig[1])
        assert_printed(eig[2].real, -13.855, 3)
    assert stab.n_unstable.tolist() == [1, 2, 2]


def test_arneodo_fixed_points_and_eigenvalues():
    sys_ = systems.get("arneodo")
    fps = sys_.fixed_points()
    assert fps.shape == (3, 3)
    assert_printed(fps[1, 0], 2.3452, 4)
    assert_printed(fps[2, 0], -2.3452, 4)
    stab = sys_.stability()
    origin, side = stab.eigenvalues[0], stab.eigenvalues[1]
    assert_printed(origin[0].real, 0.890, 3)
    assert_printed(origin[1].real, -0.945, 3)
    assert_printed(origin[1].imag, 2.300, 3)
    assert_printed(side[0].real, 0.414, 3)
    assert_printed(side[0].imag, 2.417, 3)
    assert_printed(side[2].real, -1.829, 3)
    np.testing.assert_allclose(stab.eigenvalues[1], stab.eigenvalues[2])
    assert stab.n_unstable.tolist() == [1, 2, 2]


def test_rossler_fixed_points_and_eigenvalues():
    sys_ = systems.get("rossler")
    inner, outer = sys_.fixed_points()
    for value, printed in zip(inner, (0.007026, -0.035131, 0.035131)):
        assert_printed(value, printed, 6)
    for value, printed in zip(outer, (5.692974, -28.464869, 28.464869)):
        assert_printed(value, printed, 6)
    stab = sys_.stability()
    ei, eo = stab.eigenvalues
    assert_printed(ei[0].real, 0.0970, 4)
    assert_printed(ei[0].imag, 0.9952, 4)
    assert_printed(ei[2].real, -5.687, 3)
    assert_printed(eo[0].real, 0.1930, 4)
    assert abs(eo[1].real - -4.6e-6) <= 0.05e-6
    assert_printed(eo[1].imag, 5.428, 3)
    assert stab.n_unstable.tolist() == [2, 1]


@pytest.mark.parametrize("name", FLOWS)
def test_field_vanishes_at_fixed_points(name):
    sys_ = systems.get(name)
    fps = sys_.fixed_points()
    assert fps.dtype == np.float64 and fps.shape[1] == sys_.dim
    np.testing.assert_allclose(sys_(torch.from_numpy(fps)).numpy(), 0.0, atol=1e-12)
    expected = np.array([REFERENCE_FIELDS[name](p) for p in fps])
    np.testing.assert_allclose(expected, 0.0, atol=1e-12)


def test_bistable2d_saddle_and_two_foci():
    sys_ = systems.get("bistable2d", gamma=0.3)
    fps = sys_.fixed_points()
    np.testing.assert_array_equal(fps, [[0, 0], [1, 0], [-1, 0]])
    stab = sys_.stability()
    saddle = stab.eigenvalues[0]
    assert np.all(saddle.imag == 0) and saddle[0].real > 0 > saddle[1].real
    for focus in stab.eigenvalues[1:]:
        assert np.all(focus.real < 0) and np.all(focus.imag != 0)
        np.testing.assert_allclose(focus.real, -0.15)  # -gamma / 2
    assert stab.n_unstable.tolist() == [1, 0, 0]
    # every trajectory ends in a well
    x0 = np.random.default_rng(0).uniform(-2, 2, size=(20, 2))
    ends = sys_.trajectories(x0, 2, dt=200.0)[:, -1]
    np.testing.assert_allclose(np.abs(ends[:, 0]), 1.0, atol=1e-6)
    np.testing.assert_allclose(ends[:, 1], 0.0, atol=1e-6)


def test_stability_of_given_points_and_map_sorting():
    sys_ = systems.get("bistable2d")
    stab = sys_.stability([[0.0, 0.0]])
    assert stab.eigenvalues.shape == (1, 2) and stab.n_unstable.tolist() == [1]
    rnn = systems.get("chaotic_rnn")
    stab = rnn.stability()
    mod = np.abs(stab.eigenvalues)
    assert np.all(np.diff(mod, axis=1) <= 1e-12)
    assert stab.n_unstable[0] == int((mod[0] > 1).sum()) > 0  # the origin is unstable


def test_chaotic_rnn_fixed_points_are_fixed():
    rnn = systems.get("chaotic_rnn", seed=2)
    fps = rnn.fixed_points()
    assert len(fps) >= 3  # the origin and at least one mirrored pair
    np.testing.assert_array_equal(fps[0], 0.0)
    np.testing.assert_allclose(rnn.step(fps), fps, atol=1e-10)
    np.testing.assert_allclose(rnn(torch.from_numpy(fps)).numpy(), fps, atol=1e-10)
    dists = np.linalg.norm(fps[:, None] - fps[None], axis=-1) + np.eye(len(fps))
    assert dists.min() > 1e-6
    # tanh is odd: -x is fixed when x is
    for fp in fps[1:]:
        assert np.abs(fps + fp).max(axis=1).min() < 1e-8


# ------------------------------------------------------------------- shapes and dtypes
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_forward_batched_over_leading_shapes(name, lead):
    sys_ = systems.get(name)
    x = torch.randn(*lead, sys_.dim, dtype=torch.float64)
    out = sys_(x)
    assert out.shape == x.shape
    flat = sys_(x.reshape(-1, sys_.dim)).reshape(x.shape)
    torch.testing.assert_close(out, flat)
    assert sys_.jacobian(x).shape == (*lead, sys_.dim, sys_.dim)


@pytest.mark.parametrize("name", ALL)
def test_dtype_is_preserved(name):
    sys_ = systems.get(name)
    x = torch.randn(4, sys_.dim)
    out = sys_(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), sys_(x.double()), rtol=1e-5, atol=1e-5)
    assert sys_.jacobian(x).dtype == torch.float32


# ------------------------------------------------------------------------ trajectories
@pytest.mark.parametrize("name", ["lorenz", "arneodo", "rossler"])
def test_trajectory_matches_independent_integration(name):
    sys_ = systems.get(name)
    n = sys_.pts_per_period + 1  # the first period
    traj = sys_.trajectory(n)
    assert traj.shape == (n, 3) and traj.dtype == np.float64
    np.testing.assert_array_equal(traj[0], sys_.default_x0)
    t = sys_.dt * np.arange(n)
    ref = solve_ivp(lambda _t, v: REFERENCE_FIELDS[name](v), (0, t[-1]), sys_.default_x0,
                    method="DOP853", t_eval=t, rtol=1e-13, atol=1e-13).y.T
    scale = np.abs(ref).max()
    assert np.abs(traj - ref).max() / scale < 1e-8
    other = sys_.trajectory(n, method="Radau")  # a second, implicit solver (analytic Jacobian)
    assert np.abs(other - ref).max() / scale < 1e-7


def test_trajectory_at_a_fixed_point_stays_there():
    sys_ = systems.get("lorenz")
    fp = sys_.fixed_points()[1]
    traj = sys_.trajectory(50, x0=fp)
    np.testing.assert_allclose(traj, np.broadcast_to(fp, traj.shape), atol=1e-9)


def test_trajectories_equal_separate_trajectories_and_transient():
    sys_ = systems.get("arneodo")
    x0 = sys_.sample_on_attractor(4, seed=1)
    batch = sys_.trajectories(x0, 40)
    assert batch.shape == (4, 40, 3)
    for i in range(4):
        np.testing.assert_allclose(batch[i], sys_.trajectory(40, x0=x0[i]), atol=1e-7)
    shifted = sys_.trajectory(10, transient=5 * sys_.dt)
    np.testing.assert_allclose(shifted, sys_.trajectory(15)[5:], atol=1e-8)


def test_map_trajectories():
    rnn = systems.get("chaotic_rnn", n=10)
    traj = rnn.trajectory(30, seed=4)
    np.testing.assert_array_equal(traj[0], np.random.default_rng(4).standard_normal(10))
    np.testing.assert_allclose(traj[1:], rnn.step(traj[:-1]))
    np.testing.assert_allclose(rnn.trajectory(20, seed=4, transient=0.1), traj[10:30])
    batch = rnn.trajectories(traj[[0, 5]], 10)
    np.testing.assert_allclose(batch[1], traj[5:15])


def test_reproducibility_with_seed():
    rnn_a, rnn_b = systems.get("chaotic_rnn", seed=5), systems.get("chaotic_rnn", seed=5)
    np.testing.assert_array_equal(rnn_a.weights, rnn_b.weights)
    assert not np.array_equal(rnn_a.weights, systems.get("chaotic_rnn", seed=6).weights)
    np.testing.assert_array_equal(rnn_a.trajectory(10, seed=1), rnn_b.trajectory(10, seed=1))
    assert not np.array_equal(rnn_a.trajectory(10, seed=1), rnn_a.trajectory(10, seed=2))
    bi = systems.get("bistable2d")
    np.testing.assert_array_equal(bi.trajectory(5, seed=3), bi.trajectory(5, seed=3))
    lor = systems.get("lorenz")
    a, b = lor.sample_on_attractor(6, seed=0), lor.sample_on_attractor(6, seed=0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, lor.sample_on_attractor(6, seed=1))


def test_sample_on_attractor_lies_on_the_attractor():
    sys_ = systems.get("lorenz")
    pts = sys_.sample_on_attractor(200, seed=0)
    assert pts.shape == (200, 3)
    assert 5 < pts[:, 2].mean() < 40 and np.abs(pts[:, :2]).max() < 25
    assert (pts[:, 0] > 0).mean() > 0.2 and (pts[:, 0] < 0).mean() > 0.2  # both wings


# --------------------------------------------------------------------- registry / errors
def test_registry():
    assert systems.available() == ["arneodo", "bistable2d", "chaotic_rnn", "lorenz", "rossler"]
    sys_ = systems.get("ROSSLER", c=5.0)
    assert isinstance(sys_, systems.Rossler) and sys_.params["c"] == 5.0
    assert systems.get(sys_) is sys_
    params = sys_.params
    params["c"] = 1.0
    assert sys_.params["c"] == 5.0


def test_register_adds_a_user_system_and_guards_names(monkeypatch):
    monkeypatch.setattr(systems, "_REGISTRY", dict(systems._REGISTRY))  # leave no trace

    @systems.register
    class Tilted(systems.Bistable2D):
        name = "tilted_well"

    assert systems.available() == ["arneodo", "bistable2d", "chaotic_rnn", "lorenz", "rossler",
                                   "tilted_well"]
    built = systems.get("Tilted_Well", gamma=0.25)
    assert type(built) is Tilted and built.params == {"gamma": 0.25}
    assert systems.register(Tilted) is Tilted  # again: harmless

    class Same(systems.Bistable2D):  # a re-import of the module gives a new class object
        name = "tilted_well"

    Same.__qualname__ = Tilted.__qualname__
    assert systems.register(Same) is Same and systems.get("tilted_well").__class__ is Same

    class Clash(systems.Bistable2D):
        name = "lorenz"

    with pytest.raises(DynlensValueError, match=r"'lorenz' is taken by dynlens\.systems\.flows"):
        systems.register(Clash)
    assert systems.get("lorenz").__class__ is systems.Lorenz
    for bad, match in [(dict, "expected a subclass"), (systems.Lorenz(), "expected a subclass"),
                       (type("Upper", (systems.Bistable2D,), {"name": "Upper"}), "lower-case"),
                       (type("Unnamed", (systems.Bistable2D,), {"name": ""}), "lower-case")]:
        with pytest.raises(DynlensTypeError, match=match):
            systems.register(bad)


def test_unknown_name_suggests_close_names():
    with pytest.raises(DynlensValueError, match=r"name: .*did you mean 'lorenz'"):
        systems.get("lorentz")
    with pytest.raises(DynlensTypeError, match="name"):
        systems.get(3)


def test_bad_parameters_are_named():
    with pytest.raises(DynlensValueError, match=r"'rh'.*valid parameters are 'sigma', 'rho'"):
        systems.get("lorenz", rh=28.0)
    with pytest.raises(DynlensValueError, match="gamma: expected a finite number"):
        systems.get("bistable2d", gamma=float("nan"))
    with pytest.raises(DynlensValueError, match="n: expected a positive integer"):
        systems.get("chaotic_rnn", n=0)
    with pytest.raises(DynlensTypeError, match="params"):
        systems.get(systems.get("lorenz"), rho=1.0)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_n_steps(bad):
    with pytest.raises(DynlensValueError, match="n_steps: expected a positive integer"):
        systems.get("lorenz").trajectory(bad)


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_dt(bad):
    with pytest.raises(DynlensValueError, match="dt: expected a positive finite number"):
        systems.get("lorenz").trajectory(10, dt=bad)


def test_other_bad_inputs():
    lor = systems.get("lorenz")
    with pytest.raises(DynlensValueError, match=r"x0: expected shape \[3\]"):
        lor.trajectory(5, x0=[1.0, 2.0])
    with pytest.raises(DynlensValueError, match="x0: expected finite"):
        lor.trajectory(5, x0=[1.0, np.nan, 2.0])
    with pytest.raises(DynlensValueError, match=r"x0: expected shape \[n, 3\]"):
        lor.trajectories(np.zeros(3), 5)
    with pytest.raises(DynlensValueError, match="method: .*did you mean 'Radau'"):
        lor.trajectory(5, method="radau5")
    with pytest.raises(DynlensValueError, match="transient"):
        lor.trajectory(5, transient=-1.0)
    with pytest.raises(DynlensValueError, match=r"x: expected shape \[\.\.\., 3\]"):
        lor(torch.zeros(4, 2))
    with pytest.raises(DynlensTypeError, match="x: expected a torch.Tensor"):
        lor(np.zeros(3))
    with pytest.raises(DynlensValueError, match="u: expected an input broadcastable"):
        lor(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(DynlensValueError, match="dt: a map advances by its own step"):
        systems.get("chaotic_rnn").trajectory(5, dt=0.02)
    with pytest.raises(DynlensValueError, match="n: expected a positive integer"):
        lor.sample_on_attractor(0)
    with pytest.raises(DynlensError, match="integration of 'arneodo' failed"):
        systems.get("arneodo").trajectory(5, dt=10.0, x0=[50.0, 0.0, 0.0])


# -------------------------------------------------------------------------- from_dysts
def test_from_dysts_without_dysts_says_how_to_install(monkeypatch):
    for module in ("dysts", "dysts.base", "dysts.flows"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(DynlensError, match=r"pip install dynlens\[dysts\]"):
        systems.from_dysts("Lorenz")


def test_from_dysts_wraps_flows():
    pytest.importorskip("dysts")
    wrapped = systems.from_dysts("lorenz")
    ours = systems.get("lorenz")
    assert wrapped.torch_native and wrapped.name == "Lorenz"
    assert wrapped.period == ours.period
    np.testing.assert_array_equal(wrapped.default_x0, ours.default_x0)
    x = torch.from_numpy(random_states(ours))
    torch.testing.assert_close(wrapped(x), ours(x), rtol=1e-14, atol=1e-12)
    torch.testing.assert_close(wrapped.jacobian(x), ours.jacobian(x))
    assert wrapped(x.float()).dtype == torch.float32
    fps = wrapped.fixed_points()
    assert len(fps) == 3
    np.testing.assert_allclose(np.sort(fps[:, 0]), np.sort(ours.fixed_points()[:, 0]),
                               atol=1e-8)
    np.testing.assert_allclose(
        np.sort(wrapped.stability().n_unstable), [1, 2, 2])
    traj = wrapped.trajectory(20)
    np.testing.assert_allclose(traj, ours.trajectory(20), atol=1e-8)


def test_from_dysts_other_flow_and_errors():
    pytest.importorskip("dysts")
    halvorsen = systems.from_dysts("Halvorsen", a=1.3)
    assert halvorsen.params["a"] == 1.3
    x = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    a, b = 1.3, 4.0
    u, v, w = x.T  # Halvorsen's equations, written independently
    ref = np.stack([-a * u - b * (v + w) - v**2, -a * v - b * (w + u) - w**2,
                    -a * w - b * (u + v) - u**2], axis=-1)
    np.testing.assert_allclose(halvorsen(torch.from_numpy(x)).numpy(), ref, rtol=1e-13)
    fd = finite_difference_jacobian(lambda v: halvorsen(torch.from_numpy(v)).numpy(), x)
    np.testing.assert_allclose(halvorsen.jacobian(x), fd, rtol=1e-6, atol=1e-6)
    fps = halvorsen.fixed_points()
    np.testing.assert_allclose(halvorsen(torch.from_numpy(fps)).numpy(), 0.0, atol=1e-8)
    with pytest.raises(DynlensValueError, match="did you mean 'Halvorsen'"):
        systems.from_dysts("Halvorson")
    with pytest.raises(DynlensValueError, match="non-autonomous"):
        systems.from_dysts("Duffing")
    with pytest.raises(DynlensValueError, match="'q'"):
        systems.from_dysts("Halvorsen", q=1.0)
