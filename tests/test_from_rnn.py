"""dl.dynamics.from_rnn: torch's recurrent modules as a discrete Dynamics.

The step must be the module's own (to 1e-6, every kind, 1 and 2 layers, batch_first both
ways, an LSTM's c and proj_size included), the state helpers must round-trip, the autograd
Jacobians must match torch's, every analysis must take it, and the fixed points of trained
3-bit flip-flop networks must equal those found through a hand-written wrapper that calls
torch's cell functions itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import dynlens as dl

ATOL = 1e-6

# an LSTM with projections warns once that oneDNN does not support it; irrelevant here
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")


def _module(kind: str, layers: int, batch_first: bool) -> nn.Module:
    torch.manual_seed(layers + 2 * batch_first)
    extra = {"proj_size": 3} if kind == "LSTM-proj" else {}
    if kind == "RNN-relu":
        extra = {"nonlinearity": "relu"}
    cls = {"RNN": nn.RNN, "RNN-relu": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM,
           "LSTM-proj": nn.LSTM}[kind]
    return cls(2, 5, num_layers=layers, batch_first=batch_first, **extra)


def _initial_hidden(module: nn.Module, batch: int):
    """A random h_0 (and c_0) in the module's own layout."""
    h_size = module.proj_size or module.hidden_size if isinstance(module, nn.LSTM) \
        else module.hidden_size
    h = torch.randn(module.num_layers, batch, h_size)
    if isinstance(module, nn.LSTM):
        return h, torch.randn(module.num_layers, batch, module.hidden_size)
    return h


def _close(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=ATOL, rtol=0))


# -- the step is the module's own ----------------------------------------------------------
SEQUENCE_KINDS = ("RNN", "RNN-relu", "GRU", "LSTM", "LSTM-proj")


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_sequence_modules_step_and_run_exactly_as_the_module(kind, layers, batch_first):
    module = _module(kind, layers, batch_first)
    dyn = dl.dynamics.from_rnn(module)
    h_size = 3 if kind == "LSTM-proj" else 5
    c_size = 5 if kind.startswith("LSTM") else 0
    assert (dyn.dim, dyn.kind, dyn.n_inputs) == (layers * (h_size + c_size), "discrete", 2)
    inputs, hidden = torch.randn(4, 7, 2), _initial_hidden(module, 4)
    sequence = inputs if batch_first else inputs.transpose(0, 1)
    with torch.no_grad():
        output, last = module(sequence, hidden)
        states = dyn.run(inputs, x0=dyn.to_state(hidden))
        # one step from an arbitrary state under an arbitrary input
        x, u = dyn.to_state(_initial_hidden(module, 3)), torch.randn(3, 2)
        _, one = module(u[:, None] if batch_first else u[None], dyn.to_hidden(x))
        stepped = dyn(x, u)
    top = states[..., (layers - 1) * h_size:layers * h_size]      # the last layer's h
    assert _close(top, output if batch_first else output.transpose(0, 1))
    assert _close(dyn.to_hidden(states[:, -1]), last)               # h_n (and c_n) too
    assert _close(stepped, dyn.to_state(one))


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.GRUCell, nn.LSTMCell])
def test_cells_step_exactly_as_the_cell(cls):
    torch.manual_seed(0)
    cell = cls(2, 4)
    dyn = dl.dynamics.from_rnn(cell)
    lstm = cls is nn.LSTMCell
    assert dyn.dim == (8 if lstm else 4) and dyn.n_layers == 1 and dyn.is_cell
    x, u = torch.randn(6, dyn.dim), torch.randn(6, 2)
    with torch.no_grad():
        expected = cell(u, (x[:, :4], x[:, 4:]) if lstm else x)
        assert _close(dyn(x, u), dyn.to_state(expected))
        path, h = dyn.run(u[:, None].expand(6, 3, 2), x0=x), dyn.to_hidden(x)
        for t in range(3):
            h = cell(u, h)
            assert _close(path[:, t], dyn.to_state(h))


def test_any_leading_shape_broadcast_inputs_and_zero_input_by_default():
    torch.manual_seed(1)
    dyn = dl.dynamics.from_rnn(nn.LSTM(3, 4, num_layers=2))
    x = torch.randn(2, 5, dyn.dim)
    u = torch.randn(3)
    with torch.no_grad():
        flat = dyn(x.reshape(10, -1), u.expand(10, 3)).reshape(2, 5, -1)
        assert _close(dyn(x, u), flat)                               # u held for every row
        assert _close(dyn(x[0, 0], u), flat[0, 0])                   # one state, no batch
        assert _close(dyn(x), dyn(x, torch.zeros(3)))                # None feeds zeros
        assert dyn(x[:, :0]).shape == (2, 0, dyn.dim)                # an empty batch
        assert dyn(x[:1, :1], torch.randn(4, 3)).shape == (1, 4, dyn.dim)   # broadcast


# -- the state helpers ----------------------------------------------------------------------
@pytest.mark.parametrize("module", [nn.GRU(2, 3, num_layers=3), nn.LSTM(2, 3, num_layers=2),
                                    nn.LSTM(2, 4, proj_size=2), nn.GRUCell(2, 3),
                                    nn.LSTMCell(2, 3)], ids=type)
def test_state_helpers_round_trip_with_the_layer_order_of_the_design(module):
    dyn = dl.dynamics.from_rnn(module)
    state = torch.randn(4, 2, dyn.dim)
    hidden = dyn.to_hidden(state)
    assert torch.equal(dyn.to_state(hidden), state)
    back = dyn.to_hidden(dyn.to_state(hidden))
    assert all(torch.equal(a, b) for a, b in zip(
        back if isinstance(back, tuple) else (back,),
        hidden if isinstance(hidden, tuple) else (hidden,), strict=True))
    # [h_0 .. h_{L-1}, c_0 .. c_{L-1}]: h of layer l is the slice l * h_size ...
    h = hidden[0] if isinstance(hidden, tuple) else hidden
    last = h[-1] if not dyn.is_cell else h
    start = (dyn.n_layers - 1) * dyn.h_size
    assert torch.equal(state[..., start:start + dyn.h_size], last)
    if dyn.c_size:
        c_last = hidden[1][-1] if not dyn.is_cell else hidden[1]
        assert torch.equal(state[..., -dyn.c_size:], c_last)
    one = dyn.to_hidden(state[0, 0])                             # one sample, unbatched
    assert torch.equal(dyn.to_state(one), state[0, 0])


# -- errors ------------------------------------------------------------------------------------
def test_bad_modules_states_and_inputs_raise_clear_errors():
    with pytest.raises(dl.DynlensError, match=r"module: expected one of nn\.RNN.*found Linear"):
        dl.dynamics.from_rnn(nn.Linear(2, 2))
    with pytest.raises(dl.DynlensError, match="bidirectional GRU"):
        dl.dynamics.from_rnn(nn.GRU(2, 3, bidirectional=True))
    dyn = dl.dynamics.from_rnn(nn.LSTM(2, 3, num_layers=2))
    with pytest.raises(dl.DynlensError, match=r"x: expected shape \[\.\.\., 12\] "
                                              r"\(2 x h\[3\], then 2 x c\[3\]\), found \(4, 6\)"):
        dyn(torch.zeros(4, 6))
    with pytest.raises(TypeError, match="x: expected the module's dtype torch.float32, found "
                                        "torch.float64"):
        dyn(torch.zeros(4, 12, dtype=torch.float64))
    with pytest.raises(dl.DynlensError, match=r"u: expected shape \[\.\.\., 2\]"):
        dyn(torch.zeros(4, 12), torch.zeros(4, 3))
    with pytest.raises(dl.DynlensError, match="u: expected a leading shape that broadcasts"):
        dyn(torch.zeros(4, 12), torch.zeros(3, 2))
    with pytest.raises(dl.DynlensError, match=r"hidden: expected a tuple \(h, c\)"):
        dyn.to_state(torch.zeros(2, 4, 3))
    with pytest.raises(dl.DynlensError, match=r"hidden: expected h of shape \[2, \.\.\., 3\]"):
        dyn.to_state((torch.zeros(1, 4, 3), torch.zeros(1, 4, 3)))
    with pytest.raises(dl.DynlensError, match="c of shape .* with the leading shape of h"):
        dyn.to_state((torch.zeros(2, 4, 3), torch.zeros(2, 5, 3)))
    with pytest.raises(dl.DynlensError, match=r"inputs: expected shape \[trials, time, 2\]"):
        dyn.run(torch.zeros(5, 2))
    with pytest.raises(dl.DynlensError, match=r"x0: expected shape \[5, 12\]"):
        dyn.run(torch.zeros(5, 4, 2), x0=torch.zeros(12))


# -- autograd Jacobians and every analysis ---------------------------------------------------
@pytest.mark.parametrize("module", [nn.GRU(2, 4, num_layers=2, batch_first=True),
                                    nn.LSTM(2, 3, num_layers=2), nn.LSTMCell(2, 3)], ids=type)
def test_linearize_gives_torchs_own_jacobian_of_the_module_step(module):
    torch.manual_seed(3)
    dyn = dl.dynamics.from_rnn(module)
    x, u = torch.randn(4, dyn.dim), torch.tensor([0.5, -1.0])

    def module_step(state):   # the module called directly, in its own hidden layout
        hidden = dyn.to_hidden(state[None])
        if dyn.is_cell:
            return dyn.to_state(module(u[None], hidden))[0]
        return dyn.to_state(module(u.reshape(1, 1, 2), hidden)[1])[0]

    expected = torch.stack([torch.autograd.functional.jacobian(module_step, s) for s in x])
    lin = dl.linearize(dyn, x, inputs=u.numpy())
    np.testing.assert_allclose(lin.jacobians, expected.numpy(), atol=ATOL)


def _bistable() -> nn.RNN:
    """h <- tanh(2 h) in each of two uncoupled units: fixed points 0 and +-0.9575 per unit."""
    rnn = nn.RNN(1, 2, bias=False)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.diag(torch.tensor([2.0, 2.0])))
        rnn.weight_ih_l0.fill_(1.0)
    return rnn


def test_fixed_points_graph_lyapunov_and_rollout_on_a_known_network():
    dyn = dl.dynamics.from_rnn(_bistable())
    h_star = 0.957504            # tanh(2 h) = h
    grid = torch.linspace(-1.2, 1.2, 9)
    starts = torch.cartesian_prod(grid, grid)
    fps = dl.find_fixed_points(dyn, starts.numpy(), n_inits=256, progress=False, threads=1)
    found = sorted(map(tuple, np.round(fps.xstar, 4)))
    values = (-round(h_star, 4), 0.0, round(h_star, 4))
    assert found == sorted((a, b) for a in values for b in values)
    corners = np.all(np.abs(fps.xstar) > 0.5, axis=1)
    assert list(fps.n_unstable[corners]) == [0] * 4                  # the four memories
    assert sorted(fps.n_unstable[~corners]) == [1, 1, 1, 1, 2]      # saddles and the origin
    origin = np.all(np.abs(fps.xstar) < 1e-6, axis=1)
    np.testing.assert_allclose(np.abs(fps.eigenvalues[origin][0]), [2.0, 2.0], atol=1e-4)
    graph = dl.fixed_point_graph(dyn, fps)
    index = {tuple(np.round(p, 4)): i for i, p in enumerate(fps.xstar)}
    saddle = index[(0.0, round(h_star, 4))]
    assert set(graph.successors(saddle)) == {index[(-round(h_star, 4), round(h_star, 4))],
                                             index[(round(h_star, 4), round(h_star, 4))]}
    # a held input moves the fixed points: u = 1 leaves only h = tanh(2 h + 1) > 0 per unit
    driven = dl.find_fixed_points(dyn, starts.numpy(), n_inits=256, inputs=[1.0],
                                  progress=False, threads=1)
    h_u = float(driven.xstar[0, 0])
    assert len(driven.xstar) == 1 and abs(np.tanh(2 * h_u + 1) - h_u) < 1e-5
    # near a memory the map contracts by 2 (1 - h*^2) per step in each unit
    spec = dl.lyapunov_spectrum(dyn, [0.9, -0.9], n_steps=200, n_starts=4)
    np.testing.assert_allclose(spec.exponents, [np.log(2 * (1 - h_star ** 2))] * 2, atol=1e-3)
    path = dl.dynamics.rollout(dyn, torch.full((1, 2), 0.1), 30)
    assert path.shape == (1, 30, 2)
    np.testing.assert_allclose(path[0, -1].detach().numpy(), [h_star, h_star], atol=1e-4)


# -- trained flip-flops: the same fixed points as a hand-written wrapper ----------------------
def _flipflop(n_trials: int, n_steps: int, generator: torch.Generator, bits: int = 3):
    """Pulses of +-1 on each of `bits` channels; the target holds each channel's last sign."""
    pulses = (torch.rand(n_trials, n_steps, bits, generator=generator) < 0.1).float()
    pulses *= torch.randint(0, 2, pulses.shape, generator=generator).float() * 2 - 1
    target, last = torch.zeros_like(pulses), torch.zeros(n_trials, bits)
    for t in range(n_steps):
        last = torch.where(pulses[:, t] != 0, pulses[:, t], last)
        target[:, t] = last
    return pulses, target


def _train(rnn: nn.Module, steps: int) -> tuple[nn.Module, torch.Tensor]:
    """A 3-bit flip-flop network, briefly trained; returns it and test pulses."""
    readout = nn.Linear(rnn.hidden_size, 3)
    params = [*rnn.parameters(), *readout.parameters()]
    optimiser = torch.optim.Adam(params, lr=1e-2)
    batches = torch.Generator().manual_seed(0)
    for _ in range(steps):
        pulses, target = _flipflop(32, 25, batches)
        loss = nn.functional.mse_loss(readout(rnn(pulses)[0]), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return rnn, _flipflop(64, 40, batches)[0]


class HandGRU(nn.Module):
    """The tutorials' old way: a wrapper that calls torch's GRU cell with the layer's weights."""

    kind = "discrete"

    def __init__(self, gru: nn.GRU) -> None:
        super().__init__()
        self.gru, self.dim = gru, gru.hidden_size

    def forward(self, x, u=None):
        u = torch.zeros(*x.shape[:-1], 3) if u is None else u.expand(*x.shape[:-1], 3)
        g = self.gru
        return torch._VF.gru_cell(u, x, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0,
                                  g.bias_hh_l0)


class HandLSTM(nn.Module):
    """The same for an LSTM: the state is [h, c], stepped by torch's LSTM cell."""

    kind = "discrete"

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm, self.dim = lstm, 2 * lstm.hidden_size

    def forward(self, x, u=None):
        u = torch.zeros(*x.shape[:-1], 3) if u is None else u.expand(*x.shape[:-1], 3)
        m, n = self.lstm, self.lstm.hidden_size
        h, c = torch._VF.lstm_cell(u, (x[..., :n], x[..., n:]), m.weight_ih_l0,
                                   m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
        return torch.cat([h, c], dim=-1)


@pytest.fixture(scope="module")
def flipflops():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"GRU": _train(nn.GRU(3, 12, batch_first=True), 120),
                "LSTM": _train(nn.LSTM(3, 8, batch_first=True), 120)}


@pytest.mark.parametrize("inputs", [None, [1.0, 0.0, 0.0]], ids=["autonomous", "held input"])
@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_fixed_points_of_a_trained_flipflop_equal_those_of_a_hand_written_wrapper(
        flipflops, kind, inputs):
    rnn, pulses = flipflops[kind]
    dyn = dl.dynamics.from_rnn(rnn)
    hand = (HandGRU if kind == "GRU" else HandLSTM)(rnn)
    # start where the network goes under the held input (and the pulses)
    states = dyn.run(pulses if inputs is None else pulses + torch.tensor(inputs))
    with torch.no_grad():   # the two maps agree before any search
        u = None if inputs is None else torch.tensor(inputs)
        assert _close(dyn(states[:, -1], u), hand(states[:, -1], u))
    found = [dl.find_fixed_points(f, states.numpy(), n_inits=128, inputs=inputs,
                                  progress=False, threads=1) for f in (dyn, hand)]
    assert len(found[0].xstar) == len(found[1].xstar) >= 1
    order = [np.lexsort(fps.xstar.T) for fps in found]
    np.testing.assert_allclose(found[0].xstar[order[0]], found[1].xstar[order[1]], atol=1e-4)
    assert list(found[0].n_unstable[order[0]]) == list(found[1].n_unstable[order[1]])
    if inputs is None:      # with no input, a trained flip-flop holds memories (stable
        # points) with saddles between them: a comparison of many points, not of one
        assert (found[0].n_unstable == 0).sum() >= 2 and (found[0].n_unstable > 0).sum() >= 2
