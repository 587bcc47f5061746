"""Inference speed of NDT, LFADS, GRU-SAE and NODE-SAE, measured like for like.

    python3 benchmarks/bench_inference.py        # about 10 minutes on 2 cores
    python3 benchmarks/bench_inference.py --now  # without waiting for a busy machine

One trial is 100 bins of 50 neurons (the chaotic-RNN recipe). Every model runs in one
process, at the same torch thread count (1, then 2), in eval mode under
``torch.inference_mode`` (what ``model.infer`` runs), after a warm-up. Calls of the models
are interleaved in rounds, so that a change of the machine's load during the run touches
every model alike; each number is a median over many calls. On a GPU the clock is read only
after ``torch.cuda.synchronize()`` (the published NDT timing did not synchronise).

Timed:

- latency of one trial (batch 1): the forward pass alone, and the whole public call
  ``model.infer(spikes_of_one_trial, threads=...)`` (conversions and thread policy included);
- throughput at batch 256 (trials per second, forward pass);
- NDT, step by step: what each change of its inference path bought (inference mode, the
  cached band mask, the encoder layers' ``scaled_dot_product_attention`` path instead of
  PyTorch's fused encoder-layer kernel), and ``torch.compile`` for reference (measured, not
  adopted).

Weights are untrained (inference cost does not depend on them). While another job flags the
machine busy (``/tmp/CPU_BUSY``) the script waits up to 30 minutes, then runs and says in the
table that the machine was loaded. Writes ``bench_inference.md`` next to this file, and its
raw numbers to ``bench_inference.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import dynlens as dl
from dynlens.threads import ThreadPolicy, model_work
from dynlens.utils import atomic_path

HERE = Path(__file__).resolve().parent
THREADS = (1, 2)
N_NEURONS, N_BINS, BATCH = 50, 100, 256
ROUNDS, CALLS, WARMUP = 15, 20, 20  # latency: ROUNDS x CALLS calls per model
BUSY_FLAG = Path("/tmp/CPU_BUSY")  # another job's "machine busy" marker
BAND = {"context_backward": 20, "context_forward": 20}
COMPILED = "torch.compile of the above (measured, not adopted)"


def build_models() -> dict[str, dl.models.Model]:
    """The models compared, at their published (or studied) sizes, in eval mode."""
    torch.manual_seed(0)
    models = {
        "NDT (4 layers x 2 heads, FF 128, full attention)": dl.models.NDT(N_NEURONS),
        "NDT, attention band +-20 bins": dl.models.NDT(N_NEURONS, **BAND),
        "LFADS, published sizes, controller": dl.models.LFADS(N_NEURONS),
        "LFADS, published sizes, no controller": dl.models.LFADS(N_NEURONS, co_dim=0),
        "GRU-SAE (GRU-25)": dl.models.SAE(N_NEURONS, latent_dim=25, generator="gru"),
        "NODE-SAE (NODE-3, rk4)": dl.models.SAE(N_NEURONS, latent_dim=3, generator="node"),
    }
    return {name: model.eval() for name, model in models.items()}


def clock(device: torch.device) -> float:
    """The time, after every queued GPU kernel has finished."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def interleaved_ms(calls: dict[str, Callable[[], object]], device: torch.device,
                   rounds: int = ROUNDS, per_round: int = CALLS,
                   warmup: int = WARMUP) -> dict[str, float]:
    """Median milliseconds of each call, measured in interleaved rounds after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(warmup):
            call()
    for _ in range(rounds):
        for name, call in calls.items():
            for _ in range(per_round):
                tic = clock(device)
                call()
                times[name].append(clock(device) - tic)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def model_rows(models: dict, trial: torch.Tensor, batch: torch.Tensor, threads: int,
               device: torch.device) -> dict[str, dict[str, float]]:
    """Batch-1 forward and ``infer`` latency and batch-256 throughput of every model."""
    one = trial.cpu().numpy()

    def forward(model, spikes):
        with torch.inference_mode():
            return model(spikes)

    calls = {}
    for n, m in models.items():  # forward and infer() side by side, in the same rounds
        calls[n, "forward"] = lambda m=m: forward(m, trial)
        calls[n, "infer"] = lambda m=m: m.infer(one, threads=threads)
    single = interleaved_ms(calls, device)
    batched = interleaved_ms({n: (lambda m=m: forward(m, batch)) for n, m in models.items()},
                             device, rounds=3, per_round=2, warmup=2)
    return {n: {"forward": single[n, "forward"], "infer": single[n, "infer"],
                "throughput": BATCH / (batched[n] / 1e3)} for n in models}


def old_mask(model: dl.models.NDT) -> Callable:
    """The band mask as dynlens built it before: a boolean mask, rebuilt on every call
    (which every encoder layer then converts to an additive float mask)."""
    return lambda n_bins, device, dtype=None: torch.isinf(model._band(n_bins, device,
                                                                       torch.float32))


def ndt_variants(model: dl.models.NDT, spikes: torch.Tensor) -> dict[str, Callable]:
    """The NDT's inference path, one change at a time (each a zero-argument call)."""

    def run(grad_off, fused: bool, cached: bool) -> Callable:
        def call():
            model.cpu_fast_path = fused
            if not cached:
                model.attention_mask = old_mask(model)
            try:
                with grad_off():
                    return model(spikes)["log_rates"]
            finally:
                for name in ("attention_mask", "cpu_fast_path"):
                    model.__dict__.pop(name, None)
        return call

    return {
        "before: no_grad, PyTorch's fused encoder-layer kernel (its eval default), band mask "
        "rebuilt per call": run(torch.no_grad, True, False),
        "+ torch.inference_mode instead of no_grad": run(torch.inference_mode, True, False),
        "+ band mask built once and cached": run(torch.inference_mode, True, True),
        "+ layers on their scaled_dot_product_attention path, fused kernel off (dynlens now)":
            run(torch.inference_mode, False, True),
    }


def infer_variants(model: dl.models.NDT, trial: torch.Tensor) -> dict[str, Callable]:
    """The public call on one trial: now, and with the per-call work ``Model.run_batches``
    did before (both mode switches and the parameter count, emulated around today's call)."""
    one, threads = trial.cpu().numpy(), torch.get_num_threads()

    def before():
        model_work(model, 1)
        model.eval()
        model.infer(one, threads=threads)
        model.train(False)

    return {"model.infer() on one trial, before (per-call mode switches and work measure, "
            "emulated)": before,
            "model.infer() on one trial, now": lambda: model.infer(one, threads=threads)}


def compiled(model: dl.models.NDT, trial: torch.Tensor) -> tuple[Callable | None, float]:
    """``torch.compile`` of the NDT and its compile seconds (None where it fails)."""
    tic = time.perf_counter()
    try:
        fast = torch.compile(model)
        with torch.inference_mode():
            fast(trial)
    except (RuntimeError, OSError, ImportError) as err:  # no compiler: the table says so
        print(f"torch.compile unavailable: {err!r}"[:300])
        return None, 0.0
    def call():
        with torch.inference_mode():
            return fast(trial)["log_rates"]

    return call, time.perf_counter() - tic


def ndt_steps(trial: torch.Tensor, batch: torch.Tensor,
              device: torch.device) -> tuple[dict[str, tuple[float, float]], float, float]:
    """Median ms of every step of the NDT's (banded) inference path at batch 1 and at batch
    256 (as trials per second), the variants' largest disagreement and the compile time."""
    torch.manual_seed(0)
    model = dl.models.NDT(N_NEURONS, **BAND).to(device).eval()
    single, batched = ndt_variants(model, trial), ndt_variants(model, batch)
    outputs = [call() for call in batched.values()]
    worst = max(float((o - outputs[-1]).abs().max()) for o in outputs)
    assert worst < 1e-4, f"the NDT variants disagree by {worst}"
    single.update(infer_variants(model, trial))
    fast, seconds = compiled(model, trial)
    if fast is not None:
        single[COMPILED] = fast
    times = interleaved_ms(single, device)
    per_batch = interleaved_ms(batched, device, rounds=3, per_round=2, warmup=2)
    return {k: (times[k], BATCH / (per_batch[k] / 1e3) if k in per_batch else float("nan"))
            for k in times}, worst, seconds


def wait_until_idle(limit_s: float = 1800.0) -> bool:
    """Wait while another job flags the machine busy; True if it was still busy."""
    start = time.time()
    while BUSY_FLAG.exists() and time.time() - start < limit_s:
        time.sleep(30)
    return BUSY_FLAG.exists()


def measure(device: torch.device) -> dict:
    """Every table, at every thread count."""
    data = dl.simulate("chaotic_rnn", n_neurons=N_NEURONS, n_trials=BATCH, n_bins=N_BINS,
                       seed=0)
    spikes = torch.as_tensor(data.spikes, dtype=torch.float32, device=device)
    trial, batch = spikes[:1], spikes
    models = {n: m.to(device) for n, m in build_models().items()}
    results = {}
    for threads in THREADS:
        with ThreadPolicy(threads):
            rows = model_rows(models, trial, batch, threads, device)
            steps, agreement, compile_s = ndt_steps(trial, batch, device)
        results[threads] = {"rows": rows, "steps": steps, "agreement": agreement,
                            "compile_s": compile_s}
    return results


def latency_table(results: dict) -> list[str]:
    cols = " | ".join(f"forward, {t} thr" for t in results) + " | " + \
        " | ".join(f"infer(), {t} thr" for t in results)
    lines = [f"| model | {cols} | slower than NDT (forward, {min(results)} thr) |",
             "|---" * (2 + 2 * len(results)) + "|"]
    first = results[min(results)]["rows"]
    ndt = first[next(iter(first))]["forward"]
    for name in first:
        fwd = " | ".join(f"{r['rows'][name]['forward']:.2f}" for r in results.values())
        inf = " | ".join(f"{r['rows'][name]['infer']:.2f}" for r in results.values())
        lines.append(f"| {name} | {fwd} | {inf} | {first[name]['forward'] / ndt:.1f}x |")
    return lines


def throughput_table(results: dict) -> list[str]:
    lines = ["| model | " + " | ".join(f"{t} thread(s)" for t in results) + " |",
             "|---" * (1 + len(results)) + "|"]
    for name in results[min(results)]["rows"]:
        cells = " | ".join(f"{r['rows'][name]['throughput']:,.0f}" for r in results.values())
        lines.append(f"| {name} | {cells} |")
    return lines


def steps_table(results: dict) -> list[str]:
    lines = ["| NDT inference path (band +-20 bins) | " +
             " | ".join(f"batch 1: ms, {t} thr" for t in results) + " | " +
             " | ".join(f"batch 256: trials/s, {t} thr" for t in results) +
             f" | batch 1, {min(results)} thr: vs before |",
             "|---" * (2 + 2 * len(results)) + "|"]
    first = results[min(results)]["steps"]
    before = {False: next(iter(first.values()))[0],  # the forward pass, and infer()
              True: next(v for k, v in first.items() if k.startswith("model.infer"))[0]}
    for step in first:
        ms = " | ".join(f"{r['steps'].get(step, (np.nan,))[0]:.3f}" for r in results.values())
        rate = " | ".join(_rate(r["steps"].get(step, (0, np.nan))[1])
                          for r in results.values())
        gain = before[step.startswith("model.infer")] / first[step][0]
        lines.append(f"| {step} | {ms} | {rate} | {gain:.2f}x |")
    stalled = [t for t, r in results.items()
               if r["steps"][next(iter(r["steps"]))][0] > 10 * next(iter(first.values()))[0]]
    if stalled:
        lines += ["", (f"At {', '.join(map(str, stalled))} thread(s) the batch-1 steps above "
                       "waited for a core on nearly every call (the neighbours' load peaked "
                       "then): that column says nothing about the steps themselves.")]
    compile_s = [f"{r['compile_s']:.0f} s" for r in results.values() if r["compile_s"]]
    if compile_s:
        lines += ["", (f"Compiling took {', '.join(compile_s)} (by thread count; inductor's "
                       "on-disk cache, warm from earlier runs, shortens it; cold, it took about "
                       "20 s here).")]
    return lines


def _rate(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:,.0f}"


def goals(results: dict) -> list[str]:
    """The issue's goals, met or not, at every thread count (no rounding in our favour)."""
    lines = []
    for threads, r in results.items():
        rows = r["rows"]
        names = list(rows)
        ndt = rows[names[0]]["forward"]
        with_co, without_co = (rows[names[i]]["forward"] / ndt for i in (2, 3))
        lines.append(
            f"- {threads} thread(s): NDT {ndt:.3f} ms per trial (goal < 1 ms: "
            f"{_met(ndt < 1)}); LFADS with its controller (the published model, dynlens's "
            f"default) takes {with_co:.1f}x as long (goal >= 6x: {_met(with_co >= 6)}), LFADS "
            f"without a controller {without_co:.1f}x ({_met(without_co >= 6)}).")
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(cpu: dict, gpu: dict | None, busy: bool, load: tuple) -> str:
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}; "
               f"load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    agreement = max(r["agreement"] for r in cpu.values())
    lines = [
        "# Inference speed: NDT, LFADS, GRU-SAE and NODE-SAE, like for like", "",
        (f"Machine: {machine}. One trial: 100 bins x 50 neurons (chaotic-RNN recipe). Eval "
         "mode, `torch.inference_mode`, interleaved rounds after a warm-up; medians of "
         f"{ROUNDS * CALLS} calls per model (batch 1), thread count as in each column. "
         "Written by `benchmarks/bench_inference.py`."),
    ]
    if busy:
        lines += ["", ("**The machine was loaded** (another job's busy flag stayed up, load "
                       "average above): absolute times are slower than on an idle machine; the "
                       "ratios, measured side by side in interleaved rounds, stay valid. Beside "
                       "a busy neighbour a second torch thread mostly waits for a core (see "
                       "`bench_threads.md`), so the 2-thread columns are slower and noisier "
                       "than the 1-thread ones here; read the 1-thread columns.")]
    lines += ["", "## Latency of one trial (ms)", "", *latency_table(cpu), "",
              ("`infer()` is the public call on one trial (a NumPy array in, NumPy arrays out, "
               "the thread policy applied); `forward` the model's forward pass alone."), "",
              "Goals of issue 14:", "", *goals(cpu), "",
              "## Throughput at batch 256 (trials per second)", "", *throughput_table(cpu), "",
              "## What made NDT's inference fast", "", *steps_table(cpu), "",
              (f"All NDT variants give the same log-rates (to {agreement:.1e}). The fused kernel "
               "is `torch._transformer_encoder_layer_fwd`, which `nn.TransformerEncoderLayer` "
               "takes by itself in eval mode without gradients when the head count is even; "
               "its attention is a batched matrix product and a softmax. Without it each "
               "layer runs `F.multi_head_attention_forward`, whose attention is "
               "`F.scaled_dot_product_attention` (a fused kernel too); `NDT.cpu_fast_path = "
               "False` (the default) takes that path on the CPU. The old path built a boolean "
               "band mask on every call, which each of the 4 layers converted to an additive "
               "float mask; the cached mask is additive from the start.")]
    if gpu is not None:
        lines += ["", "## GPU rows", "", *latency_table(gpu), "", *throughput_table(gpu)]
    return "\n".join(lines) + "\n"


def main() -> None:
    busy = wait_until_idle(0.0 if "--now" in sys.argv else 1800.0)
    load = os.getloadavg()
    cpu = measure(torch.device("cpu"))
    gpu = None
    if torch.cuda.is_available():
        global THREADS
        THREADS = (1,)
        gpu = measure(torch.device("cuda"))
    with atomic_path(HERE / "bench_inference.json") as tmp:  # the raw numbers
        tmp.write_text(json.dumps({"cpu": cpu, "gpu": gpu, "busy": busy, "load": load},
                                  indent=1))
    text = report(cpu, gpu, busy or load[0] > 1.5, load)
    with atomic_path(HERE / "bench_inference.md") as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
