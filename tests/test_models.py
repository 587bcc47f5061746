"""Generators (each a Dynamics), rollout, the SAE and its inference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dynlens.dynamics import Dynamics, check_dynamics, rollout
from dynlens.errors import DynlensError, DynlensTypeError, DynlensValueError
from dynlens.models import (
    SAE,
    DiscreteNODEDynamics,
    GRUDynamics,
    Inference,
    LinearDynamics,
    MLPMapDynamics,
    NODEDynamics,
    ResidualRNNDynamics,
    RNNDynamics,
    SAEConfig,
    available_generators,
)

DIM = 4
# name -> (factory, expected kind, expected dt)
GENERATOR_CASES = {
    "gru": (lambda: GRUDynamics(DIM), "discrete", None),
    "rnn": (lambda: RNNDynamics(DIM), "discrete", None),
    "node": (lambda: NODEDynamics(DIM, hidden_size=16, dt=0.05), "continuous", 0.05),
    "node_discrete": (lambda: DiscreteNODEDynamics(DIM, hidden_size=16), "discrete", None),
    "lds": (lambda: LinearDynamics(DIM), "discrete", None),
    "rnn_residual": (lambda: ResidualRNNDynamics(DIM), "discrete", None),
    "mlp_map": (lambda: MLPMapDynamics(DIM, hidden_size=16), "discrete", None),
}


def _generator(name: str) -> Dynamics:
    torch.manual_seed(0)
    return GENERATOR_CASES[name][0]()


# ---------------------------------------------------------------- generators


@pytest.mark.parametrize("name", GENERATOR_CASES)
def test_generator_attributes_and_check_dynamics(name):
    gen = _generator(name)
    _, kind, dt = GENERATOR_CASES[name]
    assert isinstance(gen, Dynamics)
    assert (gen.dim, gen.kind, gen.dt) == (DIM, kind, dt)
    info = check_dynamics(gen)
    assert (info.dim, info.kind, info.dt, info.dtype) == (DIM, kind, dt, torch.float32)
    assert info.device == torch.device("cpu")


@pytest.mark.parametrize("name", GENERATOR_CASES)
@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_generator_forward_is_batched_over_leading_shapes(name, lead):
    gen = _generator(name)
    x = torch.randn(*lead, DIM, generator=torch.Generator().manual_seed(1))
    out = gen(x)
    assert out.shape == x.shape
    assert torch.all(torch.isfinite(out))
    # each state is mapped on its own: batching does not mix states
    rows = x.reshape(-1, DIM)
    one_by_one = torch.stack([gen(row) for row in rows]).reshape(x.shape)
    torch.testing.assert_close(out, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["node", "node_discrete", "lds", "rnn_residual", "mlp_map"])
def test_generators_without_inputs_reject_u(name):
    gen = _generator(name)
    with pytest.raises(DynlensValueError, match=rf"^u: {type(gen).__name__} takes no input"):
        gen(torch.zeros(2, DIM), torch.zeros(2, 1))
    if "jacobian" in type(gen).__dict__:  # an analytic Jacobian refuses it too
        with pytest.raises(DynlensValueError, match=r"^u:"):
            gen.jacobian(torch.zeros(2, DIM), torch.zeros(2, 1))


@pytest.mark.parametrize("name", ["gru", "rnn"])
def test_cell_generators_take_zero_input_by_default_and_broadcast_u(name):
    gen = _generator(name)
    x = torch.randn(2, 3, DIM, generator=torch.Generator().manual_seed(2))
    assert torch.equal(gen(x), gen(x, torch.zeros(2, 3, 1)))
    pushed = gen(x, torch.ones(1))  # broadcast over the leading shape
    assert pushed.shape == x.shape
    assert not torch.allclose(pushed, gen(x))
    torch.testing.assert_close(pushed, gen(x, torch.ones(2, 3, 1)))


@pytest.mark.parametrize("name", ["gru", "rnn"])
@pytest.mark.parametrize("with_input", [False, True])
def test_cell_jacobians_match_automatic_differentiation(name, with_input):
    f = _generator(name)
    with torch.no_grad():  # a trained-looking cell: weights large enough to saturate gates
        for p in f.parameters():
            p.mul_(3.0)
    x = torch.randn(2, 5, DIM, dtype=torch.float32)
    u = torch.randn(2, 5, 1) if with_input else None
    auto = torch.func.vmap(torch.func.jacrev(
        lambda z, v: f(z[None], None if v is None else v[None])[0]),
        in_dims=(0, None if u is None else 0))(x.reshape(-1, DIM),
                                               None if u is None else u.reshape(-1, 1))
    jac = f.jacobian(x, u)
    assert jac.shape == (2, 5, DIM, DIM)
    torch.testing.assert_close(jac.reshape(-1, DIM, DIM), auto, rtol=1e-5, atol=1e-6)


def test_discrete_node_is_a_residual_step_of_its_mlp():
    gen = _generator("node_discrete")
    x = torch.randn(7, DIM, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(gen(x), x + 0.1 * gen.field(x))
    assert gen.step == 0.1


@pytest.mark.parametrize("d", [1, 3, 10])
def test_gru_parameter_count_is_3d_d_plus_3(d):
    # Sedler et al. 2023: GRU cell with 1-d input has 3 d (d + 3) parameters
    assert sum(p.numel() for p in GRUDynamics(d).parameters()) == 3 * d * (d + 3)


@pytest.mark.parametrize("d", [2, 3, 25])
def test_node_field_parameter_count_is_257d_plus_128(d):
    # Sedler et al. 2023: MLP latent -> 128 -> latent has 257 d + 128 parameters
    field = NODEDynamics(d, hidden_size=128)
    assert sum(p.numel() for p in field.parameters()) == 257 * d + 128


def test_generators_validate_their_arguments():
    with pytest.raises(DynlensValueError, match=r"^hidden_size:"):
        NODEDynamics(3, hidden_size=0)
    with pytest.raises(DynlensValueError, match=r"^dt:"):
        NODEDynamics(3, dt=-0.1)
    with pytest.raises(DynlensValueError, match=r"^n_inputs:"):
        GRUDynamics(3, n_inputs=0)
    with pytest.raises(DynlensValueError, match=r"^step:"):
        DiscreteNODEDynamics(3, step=0.0)
    with pytest.raises(DynlensValueError, match=r"^x:"):
        GRUDynamics(3)(torch.zeros(2, 4))


# ---------------------------------------------------------------- rollout


@pytest.mark.parametrize("name", GENERATOR_CASES)
def test_rollout_starts_at_x0_and_has_batch_steps_dim(name):
    gen = _generator(name)
    x0 = torch.randn(5, DIM, generator=torch.Generator().manual_seed(4))
    traj = rollout(gen, x0, n_steps=6)
    assert traj.shape == (5, 6, DIM)
    assert torch.equal(traj[:, 0], x0)
    assert torch.all(torch.isfinite(traj))
    if gen.kind == "discrete":  # a discrete map is iterated: bin k+1 = F(bin k)
        torch.testing.assert_close(traj[:, 1:], gen(traj[:, :-1]))


def test_rollout_of_linear_dynamics_is_matrix_power():
    gen = LinearDynamics(2).double()
    theta, radius = 0.3, 0.95
    a = radius * torch.tensor([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]],
                              dtype=torch.float64)
    with torch.no_grad():
        gen.linear.weight.copy_(a)
        gen.linear.bias.zero_()
    x0 = torch.tensor([[1.0, 0.0], [0.5, -2.0]], dtype=torch.float64)
    traj = rollout(gen, x0, n_steps=9)
    expected = torch.stack([x0 @ torch.linalg.matrix_power(a, k).T for k in range(9)], dim=1)
    torch.testing.assert_close(traj, expected, rtol=1e-12, atol=1e-12)


class _Decay(Dynamics):
    """dx/dt = -rate * x: the solution at bin k is exp(-rate k dt) x0."""

    def __init__(self, dt: float, rate: float = 2.0) -> None:
        super().__init__(dim=2, kind="continuous", dt=dt)
        self.rate = rate

    def forward(self, x, u=None):
        return -self.rate * x


@pytest.mark.parametrize("solver, kwargs", [("rk4", {"substeps": 4}),
                                            ("dopri5", {"rtol": 1e-10, "atol": 1e-10})])
def test_rollout_integrates_a_known_field_at_bin_times(solver, kwargs):
    x0 = torch.tensor([[1.0, -3.0]], dtype=torch.float64)
    traj = rollout(_Decay(dt=0.1), x0, n_steps=11, solver=solver, **kwargs)
    times = 0.1 * torch.arange(11, dtype=torch.float64)
    expected = torch.exp(-2.0 * times)[None, :, None] * x0[:, None, :]
    torch.testing.assert_close(traj, expected, rtol=1e-6, atol=1e-8)


def test_node_rollout_rk4_agrees_with_tight_dopri5():
    torch.manual_seed(0)
    field = NODEDynamics(3, hidden_size=16, dt=0.1).double()
    x0 = torch.randn(4, 3, dtype=torch.float64)
    with torch.no_grad():
        fixed = rollout(field, x0, n_steps=20, solver="rk4", substeps=2)
        adaptive = rollout(field, x0, n_steps=20, solver="dopri5", rtol=1e-10, atol=1e-10)
    assert (fixed[:, -1] - x0).abs().max() > 0.05  # the field actually moves the state
    torch.testing.assert_close(fixed, adaptive, rtol=1e-5, atol=1e-6)


def test_rollout_rejects_bad_arguments():
    node = _generator("node")
    with pytest.raises(DynlensValueError, match=r"^solver:"):
        rollout(node, torch.zeros(2, DIM), 5, solver="rk5")
    with pytest.raises(DynlensValueError, match=r"^n_steps:"):
        rollout(node, torch.zeros(2, DIM), 0)


@pytest.mark.parametrize("name", GENERATOR_CASES)
def test_rollout_rejects_x0_of_the_wrong_dimension_with_a_dynlens_error(name):
    # docs/design.md: never a bare shape error from deep inside torch
    gen = _generator(name)
    with pytest.raises(DynlensError, match="x"):
        rollout(gen, torch.zeros(2, DIM + 1), n_steps=3)


# ---------------------------------------------------------------- SAE


@pytest.mark.parametrize("dynamics", available_generators())
def test_sae_output_shapes_and_generator(make_sae, dynamics):
    model = make_sae(dynamics).eval()
    with torch.no_grad():  # a field strong enough that the integration scheme shows
        for p in model.dynamics.parameters():
            p.mul_(3.0)
    spikes = torch.poisson(torch.ones(4, 12, 6), generator=torch.Generator().manual_seed(0))
    out = model(spikes)
    assert out["log_rates"].shape == (4, 12, 6)
    assert out["latents"].shape == (4, 12, 3)
    assert out["ic"].shape == (4, 3)
    assert torch.equal(out["latents"][:, 0], out["ic"])
    torch.testing.assert_close(out["log_rates"], model.readout(out["latents"]))
    # the latents are the generator's own trajectory from the initial condition: one map
    # step per bin, or for the NODE one RK4 step of its field per bin (solver "rk4", one
    # substep: torchdiffeq's rk4 is Kutta's 3/8 rule)
    z, f = out["latents"].detach(), model.dynamics
    with torch.no_grad():
        if dynamics == "node":
            h, x = model.config.bin_dt, z[:, :-1]
            k1 = f(x)
            k2 = f(x + h * k1 / 3)
            k3 = f(x + h * (k2 - k1 / 3))
            k4 = f(x + h * (k1 - k2 + k3))
            step = x + h * (k1 + 3 * (k2 + k3) + k4) / 8
        else:
            step = f(z[:, :-1])
    # relative too: the tripled linear map grows the states to ~1e4, where float32 steps by 1e-3
    torch.testing.assert_close(z[:, 1:], step, rtol=1e-6, atol=2e-6)
    assert (z[:, -1] - z[:, 0]).abs().max() > 1e-3  # the states do move
    info = check_dynamics(model.dynamics)
    assert info.dim == 3
    assert info.kind == ("continuous" if dynamics == "node" else "discrete")
    assert info.dt == (model.config.bin_dt if dynamics == "node" else None)


def test_sae_node_dt_is_bin_dt(make_sae):
    model = make_sae("node", bin_dt=0.25)
    assert model.dynamics.dt == 0.25
    assert model.dynamics.hidden_size == 16


@pytest.mark.parametrize("dynamics", ["node", "gru"])
def test_sae_n_bins_generates_the_first_bins(make_sae, dynamics):
    model = make_sae(dynamics).eval()
    spikes = torch.poisson(torch.ones(3, 12, 6), generator=torch.Generator().manual_seed(1))
    full = model(spikes)
    short = model(spikes, n_bins=5)
    assert short["log_rates"].shape == (3, 5, 6)
    assert short["latents"].shape == (3, 5, 3)
    torch.testing.assert_close(short["latents"], full["latents"][:, :5])
    torch.testing.assert_close(short["log_rates"], full["log_rates"][:, :5])


def test_heldout_neurons_are_hidden_from_the_encoder_but_predicted(make_sae):
    model = make_sae("gru", heldout_neurons=[5, 2]).eval()
    assert model.heldout_neurons == [2, 5]
    assert model.encoder.gru.input_size == 4
    gen = torch.Generator().manual_seed(2)
    spikes = torch.poisson(torch.ones(3, 12, 6), generator=gen)
    base = model(spikes)
    changed = spikes.clone()
    changed[..., [2, 5]] = torch.poisson(torch.full((3, 12, 2), 4.0), generator=gen)
    assert not torch.equal(changed, spikes)
    same = model(changed)
    for key in base:
        assert torch.equal(base[key], same[key])
    heldin_changed = spikes.clone()
    heldin_changed[..., 0] += 3
    assert not torch.allclose(model(heldin_changed)["latents"], base["latents"])
    # the readout predicts every neuron, held-out ones included
    assert base["log_rates"].shape[-1] == 6
    with torch.no_grad():
        model.readout.bias[5] += 1.0
    moved = model(spikes)["log_rates"]
    torch.testing.assert_close(moved[..., 5], base["log_rates"][..., 5] + 1.0)
    torch.testing.assert_close(moved[..., :5], base["log_rates"][..., :5])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"generator": "nod"}, "generator"),
        ({"generator": "gru", "hidden_size": 5}, "hidden_size"),
        ({"generator": "lds", "hidden_size": 4}, "hidden_size"),
        ({"heldout_neurons": [6]}, "heldout_neurons"),
        ({"heldout_neurons": [-1]}, "heldout_neurons"),
        ({"heldout_neurons": [1, 1]}, "heldout_neurons"),
        ({"heldout_neurons": [0, 1, 2, 3, 4, 5]}, "heldout_neurons"),
        ({"n_neurons": 0}, "n_neurons"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"dropout": 1.5}, "dropout"),
        ({"solver": "rk5"}, "solver"),
        ({"substeps": 0}, "substeps"),
        ({"bin_dt": 0.0}, "bin_dt"),
        ({"encoder_size": 0}, "encoder_size"),
    ],
)
def test_sae_bad_config_names_the_argument(kwargs, argument):
    full = {"n_neurons": 6, "latent_dim": 3, "encoder_size": 8, **kwargs}
    with pytest.raises(DynlensError, match=rf"^{argument}:"):
        SAE(**full)


@pytest.mark.parametrize("held", [np.array([4, 5]), np.array([], dtype=np.int64), (5, 4)])
def test_heldout_neurons_accept_any_sequence_such_as_a_dataset_attribute(held):
    # fit's own error message says: build the model with heldout_neurons=data.heldout_neurons,
    # which is a NumPy array
    model = SAE(n_neurons=6, latent_dim=3, encoder_size=8, heldout_neurons=held)
    assert model.heldout_neurons == sorted(int(i) for i in held)
    assert model.encoder.gru.input_size == 6 - len(held)


def test_sae_accepts_a_datasets_heldout_attribute(heldout_data):
    model = SAE(n_neurons=6, latent_dim=3, encoder_size=8,
                heldout_neurons=heldout_data.heldout_neurons)
    assert model.heldout_neurons == heldout_data.heldout_neurons.tolist()


def test_unknown_dynamics_suggests_the_close_name():
    with pytest.raises(DynlensValueError, match="did you mean 'node'"):
        SAE(n_neurons=6, generator="nod")


def test_gru_hidden_size_equal_to_latent_dim_is_accepted(make_sae):
    assert make_sae("gru", hidden_size=3).dynamics.dim == 3


@pytest.mark.parametrize("shape", [(2, 12, 5), (12, 6), (1, 2, 12, 6)])
def test_sae_forward_rejects_bad_spike_shapes(make_sae, shape):
    with pytest.raises(DynlensValueError, match=r"^spikes:"):
        make_sae("gru")(torch.zeros(shape))


def test_sae_config_round_trips_through_json(make_sae):
    model = make_sae("node", heldout_neurons=[4])
    config = json.loads(json.dumps(model.config.to_dict()))
    clone = SAE(**config)
    assert clone.config == model.config
    assert SAEConfig(**config) == model.config
    assert {k: v.shape for k, v in clone.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- infer


def test_infer_on_dataset_and_array_agree(make_sae, tiny_data):
    model = make_sae("node")
    a = model.infer(tiny_data)
    b = model.infer(tiny_data.spikes)
    c = model.infer(torch.as_tensor(tiny_data.spikes))
    assert isinstance(a, Inference)
    assert a.rates.shape == (24, 12, 6) and a.latents.shape == (24, 12, 3)
    assert a.initial_conditions.shape == (24, 3)
    for other in (b, c):
        for key in ("rates", "log_rates", "latents", "initial_conditions"):
            assert np.array_equal(getattr(a, key), getattr(other, key))
    np.testing.assert_allclose(a.rates, np.exp(a.log_rates), rtol=1e-6)
    assert np.array_equal(a.initial_conditions, a.latents[:, 0])
    assert a.n_trials == 24


@pytest.mark.parametrize("training", [True, False])
def test_infer_uses_eval_mode_and_restores_the_training_mode(make_sae, tiny_data, training):
    model = make_sae("gru", dropout=0.5)
    model.train(training)
    first = model.infer(tiny_data)
    second = model.infer(tiny_data)
    assert model.training is training
    assert np.array_equal(first.rates, second.rates)  # no dropout at inference
    assert not any(p.grad is not None for p in model.parameters())


def test_infer_batches_give_the_same_result(make_sae, tiny_data):
    model = make_sae("node")
    small = model.infer(tiny_data, batch_size=3)
    large = model.infer(tiny_data, batch_size=100)
    np.testing.assert_allclose(small.log_rates, large.log_rates, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(small.latents, large.latents, rtol=1e-5, atol=1e-6)


def test_infer_rejects_bad_data(make_sae):
    model = make_sae("gru")
    with pytest.raises(DynlensValueError, match=r"^data:"):
        model.infer(np.zeros((4, 12, 5)))
    with pytest.raises(DynlensValueError, match=r"^data:"):
        model.infer(np.zeros((0, 12, 6)))
    with pytest.raises(DynlensTypeError, match=r"^data:"):
        model.infer("spikes.h5")
    with pytest.raises(DynlensValueError, match=r"^batch_size:"):
        model.infer(np.zeros((4, 12, 6)), batch_size=0)
