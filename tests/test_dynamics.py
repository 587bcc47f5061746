"""The Dynamics contract: check_dynamics (and its dtype probe), call_dynamics, rollout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torchdiffeq import odeint

from dynlens import Dynamics, systems
from dynlens.dynamics import (
    ADAPTIVE_SOLVERS,
    FIXED_STEP_SOLVERS,
    call_dynamics,
    check_dynamics,
    rollout,
)
from dynlens.errors import DynlensTypeError, DynlensValueError
from dynlens.models import GRUDynamics, NODEDynamics

# ---------------------------------------------------------------- systems with known answers


class LinearMap(Dynamics):
    """x <- a x + b u (u = 0 when not given)."""

    def __init__(self, a=0.5, b=1.0):
        super().__init__(dim=2, kind="discrete")
        self.a, self.b = a, b
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))

    def forward(self, x, u=None):
        return self.a * x if u is None else self.a * x + self.b * u


class Relax(Dynamics):
    """dx/dt = -x + u: with u held over a bin, x(k+1) = e^-dt x(k) + (1 - e^-dt) u(k)."""

    def __init__(self, dt=0.2):
        super().__init__(dim=2, kind="continuous", dt=dt)
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))

    def forward(self, x, u=None):
        return -x if u is None else -x + u


class PlainRotation(nn.Module):
    """A float32 map held in a plain attribute: no parameters, buffers or dtype attribute."""

    dim, kind = 3, "discrete"

    def __init__(self, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.Q = torch.linalg.qr(torch.randn(3, 3, generator=gen))[0].float()
        self.G = 1.5

    def forward(self, x, u=None):
        return torch.tanh(self.G * (x @ self.Q)) @ self.Q.T


# ---------------------------------------------------------------- call_dynamics


def test_call_dynamics_passes_the_input_only_when_given():
    def one(x):
        return 2 * x

    def two(x, u):
        return x if u is None else x + u

    x = torch.ones(3, 2)
    assert torch.equal(call_dynamics(one, x), 2 * x)
    layer = torch.nn.Linear(2, 2)  # a one-argument module (its __call__ takes anything)
    assert torch.equal(call_dynamics(torch.nn.Sequential(layer), x), layer(x))
    assert torch.equal(call_dynamics(two, x), x)
    assert torch.equal(call_dynamics(two, x, torch.ones(3, 2)), 2 * x)
    with pytest.raises(TypeError):
        call_dynamics(one, x, torch.ones(3, 2))


def test_call_dynamics_lets_an_error_inside_a_two_argument_field_through():
    class Broken(torch.nn.Module):
        def forward(self, x, u=None):
            return x + "oops"  # a TypeError of its own

    def one(x):
        return x + "oops"

    for dynamics in (Broken(), lambda x, u: x + "oops", one):
        with pytest.raises(TypeError, match="unsupported operand|must be"):
            call_dynamics(dynamics, torch.ones(2))


# ---------------------------------------------------------------- check_dynamics


def test_dtype_of_a_module_without_parameters_is_found_by_calling_it():
    info = check_dynamics(PlainRotation())
    assert info.dtype == torch.float32 and info.device == torch.device("cpu")


def test_probe_keeps_float64_for_what_works_in_float64_and_spares_the_rest():
    calls = []

    def field(x, u=None):
        calls.append(x.dtype)
        return -x

    field.dim, field.kind = 2, "continuous"
    assert check_dynamics(field).dtype == torch.float64 and calls == [torch.float64]

    class Counted(nn.Module):  # has a dtype attribute: never called
        dim, kind, dtype = 2, "discrete", torch.float32

        def forward(self, x, u=None):
            calls.append(x.dtype)
            return x

    calls.clear()
    assert check_dynamics(Counted()).dtype == torch.float32 and calls == []
    lorenz = systems.get("lorenz")  # ground truth: its dtype attribute decides
    assert check_dynamics(lorenz).dtype == torch.float64
    assert check_dynamics(LinearMap()).dtype == torch.float64  # its float64 buffer decides


def test_probe_restores_training_mode_and_passes_an_input():
    class NeedsInput(nn.Module):
        dim, kind = 2, "discrete"

        def __init__(self):
            super().__init__()
            self.w = torch.eye(2, dtype=torch.float32)  # plain attribute
            self.drop = nn.Dropout(0.5)

        def forward(self, x, u=None):
            assert not self.training  # probed in eval mode
            return self.drop(x @ self.w + u)  # u None fails: the given input is passed

    f = NeedsInput().train()
    info = check_dynamics(f, inputs=np.array([1.0, 2.0]))
    assert info.dtype == torch.float32 and f.training and f.drop.training


def test_probe_failing_in_every_dtype_names_dynamics_and_what_was_tried():
    class Broken(nn.Module):
        dim, kind = 2, "discrete"

        def forward(self, x, u=None):
            raise RuntimeError("no way")

    with pytest.raises(DynlensTypeError, match=r"^dynamics: .*float64 on cpu .*float32 on cpu"):
        check_dynamics(Broken())


# ---------------------------------------------------------------- rollout


def test_discrete_map_is_iterated_and_starts_at_x0():
    x0 = torch.tensor([[1.0, -2.0], [0.5, 4.0]], dtype=torch.float64)
    path = rollout(LinearMap(), x0, n_steps=5)
    assert path.shape == (2, 5, 2) and torch.equal(path[:, 0], x0)
    expected = torch.stack([x0 * 0.5 ** k for k in range(5)], 1)
    torch.testing.assert_close(path, expected, rtol=0, atol=0)


@pytest.mark.parametrize("solver, kwargs", [("rk4", {"substeps": 4}),
                                            ("dopri5", {"rtol": 1e-10, "atol": 1e-10})])
def test_continuous_field_is_integrated_at_bin_times(solver, kwargs):
    x0 = torch.tensor([[1.0, -3.0]], dtype=torch.float64)
    path = rollout(Relax(dt=0.1), x0, 11, solver=solver, **kwargs)
    expected = torch.exp(-0.1 * torch.arange(11, dtype=torch.float64))[None, :, None] * x0[:, None]
    torch.testing.assert_close(path, expected, rtol=1e-7, atol=1e-9)


def _piecewise_relax(x0, u, dt):
    """Exact bins of dx/dt = -x + u with u[:, k] held from bin k to bin k + 1."""
    decay = math.exp(-dt)
    states = [x0]
    for k in range(u.shape[1] - 1):
        states.append(decay * states[-1] + (1 - decay) * u[:, k])
    return torch.stack(states, 1)


def test_inputs_drive_the_step_from_their_bin_to_the_next():
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    u = torch.randn(3, 6, 2, generator=gen, dtype=torch.float64)
    path = rollout(LinearMap(a=0.5, b=2.0), x0, 6, u)
    expected = [x0]
    for k in range(5):
        expected.append(0.5 * expected[-1] + 2.0 * u[:, k])
    torch.testing.assert_close(path, torch.stack(expected, 1), rtol=0, atol=1e-15)
    exact = _piecewise_relax(x0, u, dt=0.2)
    tight = rollout(Relax(dt=0.2), x0, 6, u, solver="dopri5", rtol=1e-11, atol=1e-11)
    torch.testing.assert_close(tight, exact, rtol=1e-9, atol=1e-9)
    fixed = rollout(Relax(dt=0.2), x0, 6, u, solver="rk4", substeps=4)
    torch.testing.assert_close(fixed, exact, rtol=1e-7, atol=1e-7)
    assert (path[:, -1] - x0).abs().max() > 0.1  # the inputs actually move the states


def test_shared_and_constant_inputs_broadcast_over_the_batch():
    x0 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    per_bin = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]],
                           dtype=torch.float64)
    for f in (LinearMap(), Relax()):
        shared = rollout(f, x0, 4, per_bin)
        torch.testing.assert_close(shared, rollout(f, x0, 4, per_bin.expand(2, 4, 2)),
                                   rtol=0, atol=0)
        held = rollout(f, x0, 4, per_bin[1])
        tiled = rollout(f, x0, 4, per_bin[1].expand(4, 2))
        torch.testing.assert_close(held, tiled, rtol=1e-12, atol=1e-12)
    exact = _piecewise_relax(x0, per_bin[1].expand(2, 4, 2), dt=0.2)
    torch.testing.assert_close(rollout(Relax(), x0, 4, np.array([3.0, 4.0]), solver="dopri5",
                                       rtol=1e-11, atol=1e-11), exact, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("solver, kwargs", [("rk4", {"substeps": 2}), ("euler", {}),
                                            ("dopri5", {"rtol": 1e-6, "atol": 1e-7})])
def test_node_rollout_is_bit_identical_to_the_odeint_call_of_the_models(solver, kwargs):
    torch.manual_seed(0)
    field = NODEDynamics(3, hidden_size=16, dt=0.1)
    x0 = torch.randn(4, 3)
    path = rollout(field, x0, 9, solver=solver, **kwargs)
    times = torch.arange(9, dtype=x0.dtype) * field.dt
    options = ({"step_size": field.dt / kwargs.get("substeps", 1)}
               if solver in FIXED_STEP_SOLVERS else None)
    reference = odeint(lambda t, x: field(x), x0, times, method=solver,
                       rtol=kwargs.get("rtol", 1e-3), atol=kwargs.get("atol", 1e-3),
                       options=options).transpose(0, 1)
    assert torch.equal(path, reference)
    from dynlens.models import generators

    old = getattr(generators, "rollout", None)
    if old is not None and old is not rollout:  # the models' own copy, while it exists
        assert torch.equal(path, old(field, x0, 9, solver, **{"rtol": 1e-3, "atol": 1e-3,
                                                               **kwargs}))


def test_gru_rollout_matches_iteration_and_keeps_gradients():
    torch.manual_seed(0)
    gru = GRUDynamics(4, n_inputs=2)
    x0 = torch.randn(3, 4, requires_grad=True)
    u = torch.randn(3, 5, 2)
    path = rollout(gru, x0, 5, u)
    states = [x0]
    for k in range(4):
        states.append(gru(states[-1], u[:, k]))
    assert torch.equal(path, torch.stack(states, 1))
    path.sum().backward()
    assert x0.grad is not None and torch.isfinite(x0.grad).all()
    assert all(p.grad is not None for p in gru.parameters())


def test_any_callable_and_arrays_work():
    def halve(x):
        return 0.5 * x

    halve.dim, halve.kind = 2, "discrete"
    path = rollout(halve, [[1.0, 2.0]], 3)  # an array: the dynamics' dtype (float64)
    assert path.dtype == torch.float64
    torch.testing.assert_close(path[0, -1], torch.tensor([0.25, 0.5], dtype=torch.float64))
    plain = rollout(PlainRotation(), np.zeros((2, 3)), 4)  # probed: float32
    assert plain.dtype == torch.float32 and torch.equal(plain, torch.zeros(2, 4, 3))

    def field(x):
        return -x

    field.dim, field.kind = 1, "continuous"  # no dt: one bin is one time unit
    path = rollout(field, torch.ones(1, 1, dtype=torch.float64), 3, solver="dopri5",
                   rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(path[0, :, 0], torch.exp(-torch.arange(3.0, dtype=torch.float64)))


def test_solver_lists():
    assert "rk4" in FIXED_STEP_SOLVERS and "dopri5" in ADAPTIVE_SOLVERS
    assert not set(FIXED_STEP_SOLVERS) & set(ADAPTIVE_SOLVERS)


@pytest.mark.parametrize(
    "dynamics, x0, n_steps, kwargs, error, pattern",
    [
        (LinearMap(), torch.zeros(2, 2), 0, {}, DynlensValueError, r"^n_steps:"),
        (LinearMap(), torch.zeros(2, 3), 3, {}, DynlensValueError,
         r"^x0: expected shape \[batch, 2\]"),
        (LinearMap(), torch.zeros(2), 3, {}, DynlensValueError, r"^x0:"),
        (LinearMap(), torch.zeros(2, 2, dtype=torch.long), 3, {}, DynlensTypeError, r"^x0:"),
        (LinearMap(), "states", 3, {}, DynlensTypeError, r"^x0:"),
        (Relax(), torch.zeros(2, 2), 3, {"solver": "rk5"}, DynlensValueError, r"^solver:"),
        (Relax(), torch.zeros(2, 2), 3, {"substeps": 0}, DynlensValueError, r"^substeps:"),
        (Relax(), torch.zeros(2, 2), 3, {"rtol": -1.0}, DynlensValueError, r"^rtol:"),
        (Relax(), torch.zeros(2, 2), 3, {"inputs": torch.zeros(2, 4, 2)}, DynlensValueError,
         r"^inputs: expected shape \[2, 3, n_inputs\]"),
        (Relax(), torch.zeros(2, 2), 3, {"inputs": torch.zeros(3, 3, 2)}, DynlensValueError,
         r"^inputs:"),
        (Relax(), torch.zeros(2, 2), 3, {"inputs": "up"}, DynlensTypeError, r"^inputs:"),
        (GRUDynamics(2, n_inputs=1), torch.zeros(2, 2), 3, {"inputs": torch.zeros(3, 2)},
         DynlensValueError, r"^inputs: expected shape \[2, 3, 1\]"),
        (object(), torch.zeros(2, 2), 3, {}, DynlensTypeError, r"^dynamics:"),
    ],
)
def test_bad_arguments(dynamics, x0, n_steps, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        rollout(dynamics, x0, n_steps, **kwargs)


def test_bad_dt():
    f = Relax()
    f.dt = -0.1
    with pytest.raises(DynlensValueError, match=r"^dynamics\.dt:"):
        rollout(f, torch.zeros(1, 2), 3)
