"""Every autonomous dysts flow, evaluated batched by dynlens, against dysts's own right-hand
side one state at a time, and its Jacobian against finite differences of that rhs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("dysts")

import dynlens as dl

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "Numba not installed"
    from dysts import base as dysts_base
    from dysts import flows as dysts_flows
    from dysts.systems import get_attractor_list


def autonomous_flows() -> list[str]:
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in get_attractor_list():
            proto = getattr(dysts_flows, name)()
            if not getattr(proto, "nonautonomous", False) and not isinstance(
                    proto, dysts_base.DynSysDelay):
                names.append(name)
    return names


FLOWS = autonomous_flows()


def states_near_start(system, n: int, seed: int) -> np.ndarray:
    x0 = system.default_x0
    return x0 + 0.1 * np.random.default_rng(seed).standard_normal((n, system.dim)) * (
        1.0 + np.abs(x0))


def dysts_rhs(system, x: np.ndarray) -> np.ndarray:
    """dysts's own field, one state at a time (its definition)."""
    return np.array([np.asarray(system.dysts_system.rhs(row.copy(), 0.0), dtype=float)
                     .reshape(-1) for row in x])


@pytest.mark.parametrize("name", FLOWS)
def test_the_batched_field_and_jacobian_are_dysts_own(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        system = dl.systems.from_dysts(name)
        x = states_near_start(system, 6, seed=7)  # not the states of the construction check
        ref = dysts_rhs(system, x)
        ours = system(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10 * (1 + np.abs(ref).max()))
        np.testing.assert_allclose(system._field(x, np), ref, rtol=1e-10,
                                   atol=1e-10 * (1 + np.abs(ref).max()))
        jac = system.jacobian(x[:3])
        fd = np.empty_like(jac)
        for j in range(system.dim):
            h = 1e-6 * (1.0 + np.abs(x[:3, j]))
            step = np.zeros((3, system.dim))
            step[:, j] = h
            fd[:, :, j] = (dysts_rhs(system, x[:3] + step) - dysts_rhs(system, x[:3] - step)) \
                / (2 * h)[:, None]
    scale = 1.0 + np.abs(fd).max()
    assert np.abs(jac - fd).max() <= 1e-5 * scale, name


def test_lorenz96_batched_matches_its_equations():
    # dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F, indices mod dim: written here again
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        system = dl.systems.from_dysts("Lorenz96")
    x = states_near_start(system, 5, seed=0)
    force = system.params["f"]
    ref = (np.roll(x, -1, 1) - np.roll(x, 2, 1)) * np.roll(x, 1, 1) - x + force
    assert system.batch_layout == "components"  # its rhs indexes X[0], X[2:-1]: components
    np.testing.assert_allclose(system(torch.from_numpy(x)).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(system._field(x[:, None, :], np)[:, 0], ref, rtol=1e-12)


def test_a_rhs_that_takes_no_batch_is_evaluated_state_by_state():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loops = [name for name in ("BeerRNN", "MacArthur") if name in FLOWS]
        for name in loops:
            system = dl.systems.from_dysts(name)
            assert system.batch_layout == "loop"
            x = states_near_start(system, 4, seed=3)
            np.testing.assert_allclose(system._field(x, np), dysts_rhs(system, x), rtol=1e-12)
    assert loops
