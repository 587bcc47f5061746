"""LFADS training and inference speed: dynlens vs the same network run step by step.

    python3 benchmarks/bench_lfads.py [--threads N]   # a few minutes on 2 idle cores

The reference implementations of LFADS run every recurrent layer, the two bidirectional
encoders included, as a Python loop over time steps with a hand-written GRU cell, and let
autograd record every op. dynlens trains on a CPU through hand-written backwards
(``dynlens.models.gru_sequence``, ``dynlens.models.lfads_loop``): the controller-generator
loop is one autograd node that runs the bins in a few ops each without recording them, walks
back with only the matmuls that carry gradients between bins and takes every weight gradient
as one matmul over all bins (the controller's projection of the encoder's output, which
needs no recurrence, is one matmul beforehand); small GRU layers (batch x hidden size up to
4096: both encoders together, four directions batched in one loop; the generator when there
is no controller) run the same way, while larger ones keep torch's ``nn.GRU``, which is as
fast there (``SEQUENCE_MAX_WORK`` in ``gru_sequence``). Both run here on the same weights (the
reference borrows the dynlens model's parameters), the same data and the same loss, in one
process on one thread setting; the outputs are checked to agree before anything is timed.
dynlens is timed three ways on the same batches (``hand_backward`` switches): the previous
autograd path (torch's fused ``nn.GRU``, whose CPU backward is autograd's per-step ops, and
``nn.GRUCell`` steps), with the GRU sequences, and with the loop as well (the default).

What limits the speed-up: at the published sizes the matmuls (the same arithmetic on both
sides; the recurrent ones cannot be batched over time) take most of a step, so saving the
per-step overhead buys little. The second table measures this: the reference's time in
matmul kernels (profiled) bounds what any implementation running the same matmuls could
gain; at the small sizes each op is cheap, and the per-op cost of
eager PyTorch (a few microseconds, some 70 ops per time step forward and back, a third of
them small matmuls that cost as much again) and the work both sides share (input
projections, loss, Adam) bound it. ``torch.compile`` of a step was tried: 13 s to compile
and slower per call than the eager step (its guards), so it is not used.

Data: the chaotic RNN recipe (50 neurons, 100 bins of 10 ms, 1000 trials), the published LFADS
sizes (IC encoder 128, controller encoder 128, controller 128, generator 200, IC 64, 50
factors), with one inferred input and without a controller, at the published batch of 128
and at dynlens's default of 32 (``LFADS.fit_defaults``); and small ones. Timed:
a training epoch (forward, loss, backward, Adam step; median of 12 batches per variant, the
variants taking turns, times the number of batches) and the latency of inferring one trial
(median of 20). Writes ``bench_lfads.md`` next to this file.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import dynlens as dl
from dynlens.models.gru_sequence import hand_backward
from dynlens.models.lfads_parts import gaussian_kl
from dynlens.threads import ThreadPolicy, other_load
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


def step_seconds(variants: dict, model: dl.models.LFADS,
                 batches: list[torch.Tensor]) -> dict[str, float]:
    """Median seconds of one optimisation step (forward, loss, backward, Adam) per variant.

    ``variants``: name -> (loss function, switches of ``hand_backward``). The variants take
    turns batch by batch, so that a change in the machine's load hits them alike; the first
    batch of each is a warm-up.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-9)  # the weights barely move
    times: dict[str, list[float]] = {name: [] for name in variants}
    for batch in batches:
        for name, (loss_fn, switches) in variants.items():
            with hand_backward(**switches):
                tic = time.perf_counter()
                loss = loss_fn(batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                times[name].append(time.perf_counter() - tic)
    return {name: float(np.median(t[1:])) for name, t in times.items()}


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_seconds(loss_fn, batch: torch.Tensor, switches: dict, repeats: int = 5) -> float:
    """Seconds one optimisation step spends in matmul kernels (profiled, median of
    ``repeats`` steps after a warm-up). Any implementation does these same matmuls, so the
    reference's step time over this is the most a faster implementation could gain."""
    seconds = []
    with hand_backward(**switches):
        loss_fn(batch).backward()
        for _ in range(repeats):
            with torch.profiler.profile() as prof:
                loss_fn(batch).backward()
            seconds.append(sum(e.self_cpu_time_total for e in prof.key_averages()
                               if e.key in MATMUL_OPS) / 1e6)
    return float(np.median(seconds))


def latency(variants: dict, trial: torch.Tensor, repeats: int = 20) -> dict[str, float]:
    """Median seconds to infer one trial per variant (name -> (forward, switches))."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    with torch.no_grad():
        for _ in range(repeats + 1):
            for name, (forward, switches) in variants.items():
                with hand_backward(**switches):
                    tic = time.perf_counter()
                    forward(trial)
                    times[name].append(time.perf_counter() - tic)
    return {name: float(np.median(t[1:])) for name, t in times.items()}


SMALL = {"ic_dim": 16, "n_factors": 20, "ic_enc_dim": 32, "gen_dim": 64, "ci_enc_dim": 32,
         "con_dim": 32}
CONFIGURATIONS = [  # (label, sizes, batch size, co_dim); 32 is LFADS.fit_defaults' batch
    ("published sizes and batch (128), controller, 1 inferred input", {}, 128, 1),
    ("published sizes and batch (128), no controller", {}, 128, 0),
    ("published sizes, dynlens's batch (32), controller, 1 inferred input", {}, 32, 1),
    ("published sizes, dynlens's batch (32), no controller", {}, 32, 0),
    ("small (generator 64, encoders 32), batch 32, controller", SMALL, 32, 1),
    ("small (generator 64, encoders 32), batch 32, no controller", SMALL, 32, 0),
]
# dynlens with the hand-written backwards switched on step by step (dynlens.models.gru_sequence)
STEPS = {
    "autograd": {"sequence": False, "loop": False},  # nn.GRU, nn.GRUCell steps (before)
    "sequences": {"sequence": True, "loop": False},  # + encoders, free generator
    "all": {"sequence": True, "loop": True},  # + the controller-generator loop
}
N_STEPS = 13  # timed optimisation steps per variant, the first a warm-up


def compare(train: torch.Tensor, sizes: dict, batch_size: int, co_dim: int) -> dict:
    """Agreement, epoch time and latency of both implementations for one configuration."""
    torch.manual_seed(0)
    model = dl.models.LFADS(n_neurons=train.shape[-1], co_dim=co_dim, cd_rate=0.0, **sizes)
    model.eval()
    keys = ("log_rates", "states") + (("inputs",) if co_dim else ())
    with torch.no_grad():
        theirs = reference_forward(model, train[:16], sample=False)
        ours = model(train[:16])
    agreement = max(float((ours[k] - theirs[k]).abs().max()) for k in keys)
    assert agreement < 1e-4, f"the two implementations disagree by {agreement}"
    model.train()
    model.input_dropout.p = model.state_dropout.p = model.ic_encoder.dropout.p = 0.0
    n_batches = int(np.ceil(len(train) / batch_size))
    batches = [train[(i % n_batches) * batch_size:(i % n_batches + 1) * batch_size]
               for i in range(N_STEPS)]

    def ours_loss(batch: torch.Tensor) -> torch.Tensor:
        return model.loss(batch, epoch=10**6).total

    variants = {"reference": (lambda b: reference_loss(model, b), STEPS["all"])}
    variants.update({name: (ours_loss, switches) for name, switches in STEPS.items()})
    steps = step_seconds(variants, model, batches)
    matmul = {name: matmul_seconds(variants[name][0], batches[0], variants[name][1])
              for name in ("reference", "all")}
    model.eval()
    forwards = {"reference": (lambda t: reference_forward(model, t, sample=False), STEPS["all"])}
    forwards.update({name: (model, switches) for name, switches in STEPS.items()})
    return {"agreement": agreement, "n_batches": n_batches,
            "epoch": {name: t * n_batches for name, t in steps.items()},
            "matmul": {name: t * n_batches for name, t in matmul.items()},
            "latency": latency(forwards, train[:1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=THREADS)
    threads = parser.parse_args().threads
    other_load()  # starts the measurement of the other processes' load over the run
    with ThreadPolicy(threads):
        data = dl.simulate("chaotic_rnn", n_neurons=50, n_trials=1000, n_bins=100, seed=0)
        train = torch.as_tensor(data.split("train").spikes, dtype=torch.float32)
        results = {label: compare(train, sizes, batch, co_dim)
                   for label, sizes, batch, co_dim in CONFIGURATIONS}
    busy = other_load()
    agreement = max(r["agreement"] for r in results.values())
    lines = [
        "# LFADS: dynlens vs the same network run step by step",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
         f"{threads} threads; other processes used {busy:.1f} cores on average during the "
         "run (a ratio compares implementations run in turns in one process, so it holds "
         "up under load better than the times do). Chaotic RNN data, 50 neurons x 100 bins, "
         f"{len(train)} training trials; the published sizes at the published batch (128) "
         "and at dynlens's default (32), the small ones at 32. Outputs of the two on the same "
         "weights agree to "
         f"{agreement:.1e} (max abs; log-rates, generator states, inferred inputs). Written "
         "by `benchmarks/bench_lfads.py`."),
        "",
        ("dynlens columns, left to right: the previous autograd path (`nn.GRU`, "
         "`nn.GRUCell` steps); + the GRU sequences with a hand-written backward (both "
         "encoders in one loop, the generator without a controller; small layers only, "
         "so at the published sizes this column is the previous path again); + the "
         "controller-generator loop as one autograd node (all of it, the default). The "
         "speed-up is the reference's time over the default's; inference (no gradient) "
         "uses torch's fused GRUs for the sequences either way, the loop node with a "
         "controller."),
        "",
        ("| configuration | timed | step-by-step reference | dynlens, autograd | "
         "+ GRU sequences | + controller loop | speed-up |"),
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for key, label, scale, fmt in (("epoch", "training epoch (s)", 1.0, ".2f"),
                                       ("latency", "inference, one trial (ms)", 1e3, ".1f")):
            t = r[key]
            cells = " | ".join(f"{t[k] * scale:{fmt}}" for k in ("reference", *STEPS))
            lines.append(f"| {name} | {label} | {cells} | {t['reference'] / t['all']:.1f}x |")
    lines += [
        "",
        "## What the matmuls allow",
        "",
        ("Time per training epoch in matmul kernels (`aten::mm`, `addmm`, `bmm`, `baddbmm`; "
         "profiled, the median of 5 steps on one batch, times the number of batches). An "
         "implementation that runs the "
         "same matmuls cannot take less, so the reference's epoch over its matmul time bounds "
         "the speed-up any rewrite of the loops could reach (larger, fewer matmuls, as "
         "dynlens's batched weight gradients, run somewhat faster per flop)."),
        "",
        ("| configuration | reference epoch (s) | its matmuls (s) | dynlens's matmuls (s) | "
         "speed-up bound | measured speed-up |"),
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        e, m = r["epoch"], r["matmul"]
        lines.append(f"| {name} | {e['reference']:.2f} | {m['reference']:.2f} | {m['all']:.2f} "
                     f"| {e['reference'] / m['reference']:.1f}x | "
                     f"{e['reference'] / e['all']:.1f}x |")
    with atomic_path(HERE / "bench_lfads.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
