"""The ``dynlens`` command: a thin layer over the Python API.

Run ``dynlens --help`` or ``dynlens COMMAND --help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    report = run_demo(args.out, model=args.model, fast=args.fast, seed=args.seed,
                      device=args.device, progress=not args.quiet, threads=args.threads)
    print(f"report written to {report}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ..data import simulate

    data = simulate(args.system, n_neurons=args.neurons, n_trials=args.trials, n_bins=args.bins,
                    pts_per_period=args.pts_per_period, seed=args.seed, n_heldout=args.heldout,
                    independent_trials=args.independent_trials or None)
    data.save(args.out)
    print(data)
    print(f"saved to {args.out}")
    return 0


def _model_options(args: argparse.Namespace) -> dict:
    """The model's keywords: the SAE's own flags (for ``--model sae``), then ``--set``."""
    from ..errors import DynlensValueError

    sae_flags = {"generator": args.generator, "latent_dim": args.latent_dim,
                 "hidden_size": args.hidden_size}
    given = {k: v for k, v in sae_flags.items() if v is not None}
    if args.model != "sae" and given:
        raise DynlensValueError(
            f"--{next(iter(given)).replace('_', '-')}: an SAE option; for --model "
            f"{args.model} pass its settings as --set KEY=VALUE")
    options = {"generator": "node", "latent_dim": 3, **given} if args.model == "sae" else {}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise DynlensValueError(f"--set: expected KEY=VALUE, found {item!r}")
        try:
            options[key.replace("-", "_")] = json.loads(text)
        except json.JSONDecodeError:
            options[key.replace("-", "_")] = text
    return options


def _cmd_train(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..models import build
    from ..training import fit
    from ..utils import seed_everything

    data = load_dataset(args.data)
    seed_everything(args.seed)  # the initial weights too
    model = build(args.model, n_neurons=data.n_neurons,
                  heldout_neurons=[int(i) for i in data.heldout_neurons],
                  **_model_options(args))
    settings = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    history = fit(model, data, seed=args.seed, device=args.device,
                  checkpoint_dir=args.checkpoint_dir, progress=not args.quiet, **settings)
    model.save(args.out)
    print(f"trained {model.label}: {len(history)} epochs, best valid loss "
          f"{history.valid_loss.min():.5f}; model saved to {args.out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..analysis import evaluate
    from ..data import load_dataset
    from ..models import load_model

    row = evaluate(load_model(args.model, device=args.device), load_dataset(args.data),
                   split=args.split)
    print(json.dumps(row, indent=2))
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..models import load_model
    from .analyze import run_analysis

    report = run_analysis(load_model(args.model, device=args.device), load_dataset(args.data),
                          args.out, system=args.system, split=args.split,
                          n_inits=args.n_inits, seed=args.seed, progress=not args.quiet,
                          lyapunov_steps=args.lyapunov_steps)
    print(f"report written to {report}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..errors import DynlensValueError
    from ..sweeps import Sweep, sweep_status

    if args.status:
        counts = sweep_status(args.status)
        print(", ".join(f"{n} {state}" for state, n in counts.items()) + f" ({args.status})")
        return 0
    if args.spec is None or args.out is None:
        raise DynlensValueError("sweep: expected SPEC.toml and --out DIR (or --status DIR)")
    table = Sweep.from_toml(args.spec).run(
        args.out, executor=args.executor, workers=args.workers, address=args.address,
        threads=args.threads, device=args.device, gpus_per_run=args.gpus_per_run,
        progress=not args.quiet)
    done = int((table.status == "done").sum())
    print(f"{done} of {len(table)} runs done, {int((table.status == 'failed').sum())} failed; "
          f"table written to {Path(args.out) / 'results.csv'}")
    return 0


def _threads_arg(text: str) -> int | str:
    from ..errors import DynlensError
    from ..threads import check_threads

    try:
        return check_threads(int(text) if text.lstrip("-").isdigit() else text)
    except DynlensError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _add_demo(commands, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser("demo", parents=[common],
                          help="simulate data, train models, analyse them, write a report",
                          description="Simulate Arneodo spiking data, train NODE and GRU "
                                      "autoencoders (or LFADS, or an NDT), open them and write "
                                      "a report (report.md and a self-contained report.html) "
                                      "with figures.")
    demo.add_argument("--out", type=Path, default=Path("dynlens-demo"),
                      help="report folder (default: ./dynlens-demo)")
    demo.add_argument("--fast", action="store_true",
                      help="smaller data and shorter training (under 2 minutes); the report "
                           "says so")
    demo.add_argument("--model", default="sae", metavar="{sae,lfads,ndt}",
                      help="sae: NODE-3 and GRU-3 autoencoders (default); lfads: LFADS without "
                           "a controller; ndt: a Neural Data Transformer (no dynamics, so no "
                           "fixed points)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_cmd_demo)


def _add_simulate(commands, common: argparse.ArgumentParser) -> None:
    sim = commands.add_parser("simulate", parents=[common],
                         help="simulate spiking data from a ground-truth system")
    sim.add_argument("system", help="system name, e.g. arneodo, lorenz, rossler, chaotic_rnn")
    sim.add_argument("--out", type=Path, required=True, help="output file (.h5 or .npz)")
    sim.add_argument("--neurons", type=int, default=10)
    sim.add_argument("--trials", type=int, default=2000)
    sim.add_argument("--bins", type=int, default=70)
    sim.add_argument("--pts-per-period", type=int, default=None)
    sim.add_argument("--heldout", type=int, default=0, help="held-out neurons for co-smoothing")
    sim.add_argument("--independent-trials", action="store_true",
                     help="start each trial from its own point on the attractor")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(func=_cmd_simulate)


def _add_train(commands, common: argparse.ArgumentParser) -> None:
    from ..models import available

    train = commands.add_parser("train", parents=[common],
                                help="train a model (an SAE, LFADS, ...) on a dataset file")
    train.add_argument("data", type=Path, help="dataset file (.h5 or .npz, see `dynlens simulate`)")
    train.add_argument("--out", type=Path, required=True, help="model checkpoint to write (.pt)")
    train.add_argument("--model", default="sae", choices=available(),
                       help="model family (default: sae)")
    train.add_argument("--generator", "--dynamics", default=None,
                       help="SAE generator: node, gru, rnn, node_discrete, lds (default: node); "
                            "--dynamics is its old name")
    train.add_argument("--latent-dim", type=int, default=None, help="SAE latent size (default 3)")
    train.add_argument("--hidden-size", type=int, default=None, help="SAE NODE MLP width")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any setting of the model family, e.g. --set co_dim=0 --set "
                            "gen_dim=64 for LFADS (values read as JSON when they parse)")
    train.add_argument("--max-epochs", type=int, default=None)
    train.add_argument("--checkpoint-dir", type=Path, default=None,
                       help="write best/last checkpoints here and resume from them")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_cmd_train)


def _add_evaluate(commands, common: argparse.ArgumentParser) -> None:
    ev = commands.add_parser("evaluate", parents=[common],
                        help="every metric the data's truth allows, as JSON")
    ev.add_argument("model", type=Path, help="model checkpoint (.pt)")
    ev.add_argument("data", type=Path, help="dataset file")
    ev.add_argument("--split", default="test")
    ev.add_argument("--device", default="cpu")
    ev.set_defaults(func=_cmd_evaluate)


def _add_analyze(commands, common: argparse.ArgumentParser) -> None:
    an = commands.add_parser("analyze", parents=[common],
                        help="open a trained model: fixed points, graph, comparison "
                                        "with the true system, as a report",
                        description="Find the fixed points of a trained model's generator on "
                                    "its latents, draw their spectra and graph, align its "
                                    "latents with the true ones and compare its fixed points "
                                    "with the true system's; writes report.md, figures, CSV "
                                    "tables and summary.json.")
    an.add_argument("model", type=Path, help="model checkpoint (.pt)")
    an.add_argument("data", type=Path, help="dataset file")
    an.add_argument("--out", type=Path, default=Path("dynlens-analysis"),
                    help="report folder (default: ./dynlens-analysis)")
    an.add_argument("--system", default=None,
                    help="true system to compare with (default: the one the data were "
                         "simulated from, when recorded)")
    an.add_argument("--split", default="train",
                    help="split whose latents start the search and fit the alignment")
    an.add_argument("--n-inits", type=int, default=1024, help="fixed-point search starts")
    an.add_argument("--lyapunov-steps", type=int, default=None,
                    help="bins per start of the Lyapunov spectra (default 2000 for fields, "
                         "5000 for maps)")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--device", default="cpu")
    an.add_argument("--quiet", action="store_true")
    an.set_defaults(func=_cmd_analyze)


def _add_sweep(commands, common: argparse.ArgumentParser) -> None:
    sweep = commands.add_parser(
        "sweep", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run an ablation sweep from a TOML specification (resumable)",
        description="Train every run of a sweep specification into a folder and write its "
                    "results table (results.csv). Rerunning into the same folder skips "
                    "finished runs.",
        epilog="example:\n  dynlens sweep spec.toml --out runs/ --workers 2\n"
               "  dynlens sweep --status runs/")
    sweep.add_argument("spec", nargs="?", help="the sweep specification (TOML)")
    sweep.add_argument("--out", help="the sweep folder")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local")
    sweep.add_argument("--workers", type=int, default=1, help="runs at a time (default 1)")
    sweep.add_argument("--address", default=None,
                       help="Ray: an existing cluster ('auto' or host:port); default: a local "
                            "Ray instance started for the sweep")
    sweep.add_argument("--gpus-per-run", type=float, default=0.0, help="Ray: GPUs per run")
    sweep.add_argument("--status", metavar="DIR", default=None,
                       help="only count the done / failed / running / pending runs in DIR")
    sweep.add_argument("--device", default="cpu")
    sweep.add_argument("--quiet", action="store_true")
    sweep.set_defaults(func=_cmd_sweep)


def build_parser() -> argparse.ArgumentParser:
    """The ``dynlens`` argument parser: one sub-command per job, each with ``--threads``."""
    parser = argparse.ArgumentParser(
        prog="dynlens",
        description="Simulate spiking data from known dynamics, train sequential autoencoders, "
                    "and check whether the learned dynamics are the true ones.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_threads_arg, default="auto",
                        help="torch CPU threads: 'auto' (default: the cores other processes "
                             "leave free, re-checked every epoch) or a number")

    for add in (_add_demo, _add_simulate, _add_train, _add_evaluate, _add_analyze, _add_sweep):
        add(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynlens`` console script."""
    from ..errors import DynlensError
    from ..threads import ThreadPolicy, describe

    args = build_parser().parse_args(argv)
    try:
        if args.command != "demo" or args.quiet:  # the demo's own first line says it otherwise
            # stderr, so that `dynlens evaluate ... > row.json` stays valid JSON
            print(f"dynlens {args.command}: {describe(args.threads)}", file=sys.stderr,
                  flush=True)
        with ThreadPolicy(args.threads):
            return args.func(args)
    except DynlensError as err:
        print(f"dynlens {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
