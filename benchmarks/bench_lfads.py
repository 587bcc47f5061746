"""LFADS training and inference speed: dynlens vs the same network run step by step.

    python3 benchmarks/bench_lfads.py      # about 3 minutes on 2 cores

The reference implementations of LFADS run every recurrent layer, the two bidirectional
encoders included, as a Python loop over time steps with a hand-written GRU cell. dynlens runs
the encoders (and the generator when there is no controller) through torch's fused ``nn.GRU``
and the controller-generator loop with fused cells. Both run here on the same weights (the
reference borrows the dynlens model's parameters), the same data and the same loss, in one
process on one thread setting; the outputs are checked to agree before anything is timed.

Data: the chaotic RNN recipe (50 neurons, 100 bins of 10 ms, 1000 trials), the published LFADS
sizes (IC encoder 128, controller encoder 128, controller 128, generator 200, IC 64, 50
factors), with one inferred input and without a controller, batch 128. Timed: a training epoch
(forward, loss, backward, Adam step over the training trials; median of 3 batches, times the
number of batches) and the latency of inferring one trial (median of 20). Writes
``bench_lfads.md`` next to this file.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import dynlens as dl
from dynlens.models.lfads_parts import gaussian_kl
from dynlens.threads import ThreadPolicy
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
THREADS = 2


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """One GRU step written out (torch's gate order: reset, update, candidate)."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def loop_gru(gru, x, reverse=False, suffix=""):
    """A one-direction ``nn.GRU`` layer as a Python loop; returns all states [b, t, h]."""
    w = [getattr(gru, f"{name}_l0{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih",
                                                         "bias_hh")]
    h = x.new_zeros(x.shape[0], gru.hidden_size)
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    out = [None] * x.shape[1]
    for t in steps:
        h = gru_cell(x[:, t], h, *w)
        out[t] = h
    return torch.stack(out, 1)


def loop_bidirectional(gru, x):
    return loop_gru(gru, x), loop_gru(gru, x, reverse=True, suffix="_reverse")


def reference_forward(model: dl.models.LFADS, spikes: torch.Tensor, sample: bool):
    """LFADS with every recurrent layer as a step-by-step loop, on ``model``'s weights."""
    cfg = model.config
    x = model.input_dropout(spikes.index_select(-1, model.heldin_index))
    fwd, bwd = loop_bidirectional(model.ic_encoder.gru, torch.log1p(x))
    final = torch.cat([fwd[:, -1], bwd[:, 0]], -1)
    mean, logvar = model.ic_encoder.to_ic(model.ic_encoder.dropout(final)).chunk(2, -1)
    var = torch.exp(logvar) + cfg.ic_post_var_min
    ic = mean + var.sqrt() * torch.randn_like(mean) if sample else mean
    g = model.ic_to_gen(ic).clamp(-cfg.cell_clip, cfg.cell_clip)
    out = (controlled_loop(model, x, g, sample) if cfg.co_dim
           else free_loop(model, g, x.shape[1]))
    out.update(ic_mean=mean, ic_var=var, log_rates=model.readout(out["factors"]))
    return out


def free_loop(model: dl.models.LFADS, g: torch.Tensor, n_bins: int) -> dict:
    """The generator without a controller, step by step on a zero input."""
    gen = model.dynamics.cell
    w = (gen.weight_ih, gen.weight_hh, gen.bias_ih, gen.bias_hh)
    zero, states = g.new_zeros(g.shape[0], gen.input_size), []
    for _ in range(n_bins):
        g = gru_cell(zero, g, *w)
        states.append(g)
    states = torch.stack(states, 1)
    return {"states": states, "factors": model.factors_of(states)}


def controlled_loop(model: dl.models.LFADS, x: torch.Tensor, g: torch.Tensor,
                    sample: bool) -> dict:
    """The controller-encoder, the controller and the generator, step by step."""
    cfg = model.config
    ci = torch.cat(loop_bidirectional(model.ci_encoder, torch.log1p(x)), -1)
    ci = F.pad(ci, (0, 0, cfg.ci_lag, 0))[:, :x.shape[1]]
    con, factor = g.new_zeros(g.shape[0], cfg.con_dim), model.factors_of(g)
    c, gen = model.controller, model.dynamics.cell
    gen_w = (gen.weight_ih, gen.weight_hh, gen.bias_ih, gen.bias_hh)
    out = {"states": [], "factors": [], "co_mean": [], "co_var": [], "inputs": []}
    for t in range(x.shape[1]):
        con = gru_cell(torch.cat([ci[:, t], factor], -1), con, c.weight_ih, c.weight_hh,
                       c.bias_ih, c.bias_hh)
        co_mean, co_logvar = model.to_co(con).chunk(2, -1)
        co_var = torch.exp(co_logvar)
        u = co_mean + co_var.sqrt() * torch.randn_like(co_mean) if sample else co_mean
        g = gru_cell(u, g, *gen_w)
        factor = model.factors_of(g)
        for key, value in zip(out, (g, factor, co_mean, co_var, u)):
            out[key].append(value)
    return {k: torch.stack(v, 1) for k, v in out.items()}


def reference_loss(model: dl.models.LFADS, batch: torch.Tensor) -> torch.Tensor:
    """The loss of ``model.loss`` at full KL and L2 weight, without coordinated dropout."""
    cfg = model.config
    out = reference_forward(model, batch, sample=True)
    recon = model.reconstruction(out["log_rates"], batch)
    kl_ic = gaussian_kl(out["ic_mean"], out["ic_var"], 0.0, cfg.ic_prior_var).sum(-1).mean()
    kl_co = (model.co_prior.kl(out["co_mean"], out["co_var"], out["inputs"]).mean()
             if cfg.co_dim else 0.0)
    return recon + kl_ic + kl_co + model.l2_penalty()


def step_seconds(loss_fn, model, batches: list[torch.Tensor]) -> float:
    """Median seconds of one optimisation step (forward, loss, backward, Adam)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-9)  # the weights barely move
    times = []
    for batch in batches:
        tic = time.perf_counter()
        loss = loss_fn(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - tic)
    return float(np.median(times[1:]))


def latency(forward, trial: torch.Tensor, repeats: int = 20) -> float:
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):
            tic = time.perf_counter()
            forward(trial)
            times.append(time.perf_counter() - tic)
    return float(np.median(times[1:]))


SMALL = {"ic_dim": 16, "n_factors": 20, "ic_enc_dim": 32, "gen_dim": 64, "ci_enc_dim": 32,
         "con_dim": 32}
CONFIGURATIONS = [  # (label, sizes, batch size, co_dim)
    ("published sizes, controller, 1 inferred input", {}, 128, 1),
    ("published sizes, no controller", {}, 128, 0),
    ("small (generator 64, encoders 32), controller", SMALL, 32, 1),
    ("small (generator 64, encoders 32), no controller", SMALL, 32, 0),
]


def compare(train: torch.Tensor, sizes: dict, batch_size: int, co_dim: int) -> dict:
    """Agreement, epoch time and latency of both implementations for one configuration."""
    torch.manual_seed(0)
    model = dl.models.LFADS(n_neurons=train.shape[-1], co_dim=co_dim, cd_rate=0.0, **sizes)
    model.eval()
    with torch.no_grad():
        ours = model(train[:16])
        theirs = reference_forward(model, train[:16], sample=False)
    keys = ("log_rates", "states") + (("inputs",) if co_dim else ())
    agreement = max(float((ours[k] - theirs[k]).abs().max()) for k in keys)
    assert agreement < 1e-4, f"the two implementations disagree by {agreement}"
    model.train()
    model.input_dropout.p = model.state_dropout.p = model.ic_encoder.dropout.p = 0.0
    batches = [train[i * batch_size:(i + 1) * batch_size] for i in range(4)]
    n_batches = int(np.ceil(len(train) / batch_size))
    ours_step = step_seconds(lambda b: model.loss(b, epoch=10**6).total, model, batches)
    ref_step = step_seconds(lambda b: reference_loss(model, b), model, batches)
    model.eval()
    trial = train[:1]
    return {"agreement": agreement, "epoch": (ref_step * n_batches, ours_step * n_batches),
            "latency": (latency(lambda t: reference_forward(model, t, sample=False), trial),
                        latency(lambda t: model(t), trial)), "n_batches": n_batches}


def main() -> None:
    data = dl.simulate("chaotic_rnn", n_neurons=50, n_trials=1000, n_bins=100, seed=0)
    train = torch.as_tensor(data.split("train").spikes, dtype=torch.float32)
    results = {label: compare(train, sizes, batch, co_dim)
               for label, sizes, batch, co_dim in CONFIGURATIONS}
    agreement = max(r["agreement"] for r in results.values())
    lines = [
        "# LFADS: dynlens vs the same network run step by step",
        "",
        (f"Machine: {platform.machine()}, torch {torch.__version__}, {THREADS} threads. Chaotic "
        f"RNN data, 50 neurons x 100 bins, {len(train)} training trials; batch 128 for the "
        "published sizes, 32 for the small ones. Outputs of the two on the same weights agree "
        f"to {agreement:.1e} (max abs; log-rates, generator states, inferred inputs). Written "
        "by `benchmarks/bench_lfads.py`."),
        "",
        "| configuration | timed | step-by-step reference | dynlens | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        (ref_epoch, our_epoch), (ref_lat, our_lat) = r["epoch"], r["latency"]
        lines += [(f"| {name} | training epoch (s) | {ref_epoch:.2f} | {our_epoch:.2f} | "
                  f"{ref_epoch / our_epoch:.1f}x |"),
                  (f"| {name} | inference, one trial (ms) | {ref_lat * 1e3:.1f} | "
                  f"{our_lat * 1e3:.1f} | {ref_lat / our_lat:.1f}x |")]
    with atomic_path(HERE / "bench_lfads.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    with ThreadPolicy(THREADS):
        main()
