"""The hand-written backwards of LFADS's GRUs (dynlens.models.gru_sequence, .lfads_loop).

Each custom autograd Function passes torch's gradcheck in float64 (inputs, initial states
and every weight; in one chunk of steps and in many), and an LFADS model gives the same loss
and the same gradient of every parameter through them as through the previous autograd path
(``nn.GRU`` and ``nn.GRUCell`` steps) on the same weights and batch.
"""

from __future__ import annotations

import pytest
import torch

import dynlens as dl
from dynlens.models import gru_sequence
from dynlens.models.gru_sequence import gru_recurrence, hand_backward, run_grus
from dynlens.models.lfads_loop import LoopWeights, controlled_loop

F64 = torch.float64


def _rand(*shape: int, scale: float = 0.5) -> torch.Tensor:
    return (scale * torch.randn(*shape, dtype=F64)).requires_grad_()


@pytest.fixture(params=["one chunk", "a chunk per step"])
def chunking(request, monkeypatch):
    if request.param != "one chunk":  # the backwards' slopes one step at a time
        monkeypatch.setattr(gru_sequence, "CHUNK_NUMEL", 1)
    return request.param


def test_gru_recurrence_passes_gradcheck(chunking):
    torch.manual_seed(0)
    n_layers, n_steps, batch, hidden = 2, 4, 2, 2
    gi = [_rand(n_steps, batch, 3 * hidden) for _ in range(n_layers)]
    args = (_rand(n_layers, batch, hidden), _rand(n_layers, 3 * hidden, hidden),
            _rand(n_layers, 3 * hidden))
    assert torch.autograd.gradcheck(lambda *a: gru_recurrence(a[3:], *a[:3]), (*args, *gi))


@pytest.mark.parametrize("sample, masked", [(False, False), (True, True)])
def test_controlled_loop_passes_gradcheck(chunking, sample, masked):
    torch.manual_seed(1)
    n_bins, batch, con, gen, factors, co = 4, 2, 2, 3, 2, 2
    weights = [_rand(3 * con, factors), _rand(3 * con, con), _rand(3 * con),
               _rand(2 * co, con), _rand(2 * co), _rand(3 * gen, co), _rand(3 * gen, gen),
               _rand(3 * gen), _rand(factors, gen)]
    eps = torch.randn(n_bins, batch, co, dtype=F64) if sample else None
    mask = ((torch.rand(n_bins, batch, gen) > 0.3) / 0.7).to(F64) if masked else None

    def loop(*args):
        return controlled_loop(*args[:4], LoopWeights(*args[4:]), eps, mask)

    inputs = (_rand(n_bins, batch, 3 * con), _rand(batch, factors), _rand(batch, gen),
              _rand(n_bins, batch, 3 * gen), *weights)
    assert torch.autograd.gradcheck(loop, inputs)


def test_joint_encoders_match_torch_grus():
    torch.manual_seed(2)
    grus = [torch.nn.GRU(3, 4, batch_first=True, bidirectional=True),
            torch.nn.GRU(3, 4, batch_first=True, bidirectional=True),
            torch.nn.GRU(3, 5, batch_first=True)]  # another size: its own loop
    x = torch.randn(2, 6, 3)
    for (out, h_n), gru in zip(run_grus(grus, x), grus):
        ref_out, ref_h_n = gru(x)
        torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(h_n, ref_h_n, rtol=1e-5, atol=1e-6)


def _loss_and_grads(model: dl.models.LFADS, batch: torch.Tensor,
                    inputs: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
    model.zero_grad()
    loss = model.loss(batch, inputs=inputs).total  # eval mode: posterior means, full weights
    loss.backward()
    return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("co_dim, causal", [(0, False), (2, False), (2, True)])
@pytest.mark.parametrize("ext_input_dim", [0, 2])
def test_lfads_loss_and_gradients_equal_the_autograd_path(dtype, rtol, co_dim, causal,
                                                          ext_input_dim):
    torch.manual_seed(3)
    model = dl.models.LFADS(n_neurons=7, ic_dim=3, n_factors=4, ic_enc_dim=5, gen_dim=6,
                            ci_enc_dim=5, con_dim=4, co_dim=co_dim, ext_input_dim=ext_input_dim,
                            heldout_neurons=[6], n_forward=2, l2_con_scale=1.0,
                            causal_controller=causal).to(dtype)
    model.eval()  # sampling off, dropout off
    batch = torch.poisson(torch.full((3, 9, 7), 1.5, dtype=dtype))
    inputs = torch.randn(3, 9, ext_input_dim, dtype=dtype) if ext_input_dim else None
    loss, grads = _loss_and_grads(model, batch, inputs)
    with hand_backward(sequence=False, loop=False):
        ref_loss, ref_grads = _loss_and_grads(model, batch, inputs)
    torch.testing.assert_close(loss, ref_loss, rtol=rtol, atol=0.0)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        scale = float(ref_grads[name].abs().max()) or 1.0  # relative to the largest entry
        torch.testing.assert_close(grad, ref_grads[name], rtol=0.0, atol=rtol * scale,
                                   msg=lambda m, name=name: f"{name}: {m}")


def test_lfads_inference_and_sampled_training_run_through_the_loop():
    torch.manual_seed(4)
    model = dl.models.LFADS(n_neurons=5, ic_dim=2, n_factors=3, ic_enc_dim=4, gen_dim=5,
                            ci_enc_dim=4, con_dim=3, co_dim=1)
    spikes = torch.poisson(torch.ones(2, 8, 5))
    model.eval()
    with torch.no_grad():
        out = model(spikes)
        with hand_backward(sequence=False, loop=False):
            ref = model(spikes)
    for key in ("log_rates", "states", "factors", "inputs", "co_var"):
        torch.testing.assert_close(out[key], ref[key], rtol=1e-5, atol=1e-6)
    model.train()  # dropout and sampling on: finite loss, a gradient for every parameter
    model.loss(spikes, epoch=3).total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_hand_backward_switches_only_the_calling_thread():
    import threading

    seen = {}
    inside, checked = threading.Event(), threading.Event()

    def other_thread():
        inside.wait()
        seen["other"] = (gru_sequence.enabled("sequence"), gru_sequence.enabled("loop"))
        checked.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with hand_backward(sequence=False, loop=False):
        inside.set()
        checked.wait()
        seen["here"] = (gru_sequence.enabled("sequence"), gru_sequence.enabled("loop"))
    worker.join()
    assert seen == {"here": (False, False), "other": (True, True)}
    assert gru_sequence.enabled("sequence") and gru_sequence.enabled("loop")
