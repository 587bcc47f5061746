"""The ``dynlens`` command: a thin layer over the Python API.

Run ``dynlens --help`` or ``dynlens COMMAND --help``. Importing this module imports neither
torch nor the rest of dynlens: each command imports what it needs when it runs, so that
``dynlens --help`` and ``dynlens --version`` answer at once.

A user's mistake (a misspelt name, a missing file, an output path that cannot be written)
ends in one line on stderr and exit status 2, before any long work; ``docs/cli_mistakes.md``
lists the mistakes the command was tried with and what it answered.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from .. import __version__
from .durations import DEMO_FAST

__all__ = ["DATA_SUFFIXES", "build_parser", "main"]

# The names of systems, model families, generators and demo models are read from the API's
# registries after parsing (`dynlens --help` imports no torch); `--import MODULE` lets a
# user's module register its own first.
#: Dataset files: dynlens's own (``.h5``/``.hdf5``, ``.npz``) and LFADS HDF5 files.
DATA_SUFFIXES = (".h5", ".hdf5", ".npz")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes end in one line (the usage stays in ``--help``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class _Formatter(argparse.HelpFormatter):
    """Shows each option's default after its help, unless the help already says it, and
    keeps the lines of the examples as they are."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (action.option_strings and "default" not in text and default is not None
                and default is not False and default is not argparse.SUPPRESS
                and not isinstance(default, list)):
            text += " (default: %(default)s)"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _number(kind: type, low: float, strict: bool, what: str):
    """An argparse type: ``kind`` above (or from) ``low``, refused in one line otherwise."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}") from None
        if not value >= low or (strict and value == low):  # NaN is not >= anything
            raise argparse.ArgumentTypeError(f"expected {what}, found {text!r}")
        return value

    convert.__name__ = what  # argparse names the type in some messages
    return convert


_positive = _number(int, 0, True, "a positive integer")
_count = _number(int, 0, False, "a non-negative integer")
_positive_float = _number(float, 0.0, True, "a positive number")


def _threads_arg(text: str) -> int | str:
    """``--threads``: "auto" or a positive integer (checked without importing torch)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, found {text!r}")
    return value


def _named(err: Exception, name: str) -> Exception:
    """``err`` with the API's argument name ``path`` replaced by the command's ``name``."""
    text = str(err)
    return type(err)(f"{name}: {text[6:]}") if text.startswith("path: ") else err


def _read_data(path: Path, name: str = "data"):
    """A dataset file: dynlens's own (``.h5``/``.npz``) or an LFADS HDF5 file."""
    from ..data import load_dataset, read_lfads_h5
    from ..data.io import FORMAT_MARKER
    from ..errors import DynlensError, DynlensFileFormatError, DynlensValueError
    from ..utils import check_readable_file

    if path.suffix.lower() == ".pt":
        raise DynlensValueError(
            f"{name}: expected a dataset file ({', '.join(DATA_SUFFIXES)}), found the "
            f"checkpoint {str(path)!r} (arguments in the wrong order?)")
    check_readable_file(path, name)
    keys, marker = _hdf5_keys(path) if path.suffix.lower() in (".h5", ".hdf5") else ([], None)
    try:
        if marker is None or marker == FORMAT_MARKER:
            return load_dataset(path)
        if not any(key.endswith("_data") for key in keys):  # neither layout of LFADS
            raise DynlensFileFormatError(
                f"{name}: expected a dynlens dataset or an LFADS HDF5 file, found neither in "
                f"{str(path)!r} (keys {keys[:8]})")
        return read_lfads_h5(path)
    except DynlensError as err:
        raise _named(err, name) from err


def _hdf5_keys(path: Path) -> tuple[list[str], str | None]:
    """An HDF5 file's top-level keys and dynlens format marker (``""`` when it has none);
    ``([], None)`` when it is not HDF5 (``load_dataset`` then says so)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            marker = f.attrs.get("format", "")
            keys = sorted(f.keys())
    except OSError:
        return [], None
    return keys, marker.decode() if isinstance(marker, bytes) else str(marker)


def _read_model(path: Path, device: str):
    """A model checkpoint, refusing a dataset given in its place."""
    from ..errors import DynlensError, DynlensValueError
    from ..models import load_model
    from ..utils import check_readable_file

    if path.suffix.lower() in DATA_SUFFIXES:
        raise DynlensValueError(
            f"model: expected a model checkpoint (.pt, from `dynlens train`), found the "
            f"dataset file {str(path)!r} (the model comes first, then the data)")
    try:
        return load_model(check_readable_file(path, "model"), device=device)
    except DynlensError as err:
        raise _named(err, "model") from err


def _check_pair(model, data, args: argparse.Namespace, which: str = "the model") -> None:
    """The model (``which``, in the message) reads the data's neurons, and ``--split`` names
    one of the data's splits."""
    from ..errors import DynlensValueError
    from ..models import check_model

    n_model = check_model(model, needs=["n_neurons"]).n_neurons
    if n_model != data.n_neurons:
        raise DynlensValueError(
            f"data: expected the {n_model} neurons {which} was trained on, found "
            f"{data.n_neurons} in {str(args.data)!r} (a model of other data?)")
    if args.split is not None and args.split not in data.splits:
        raise DynlensValueError(
            f"--split: expected one of the data's splits {', '.join(map(repr, data.splits))}, "
            f"found {args.split!r}")


def _holds_files(folder: Path) -> bool:
    """An existing, non-empty folder: what --force must be given to replace."""
    return folder.is_dir() and any(folder.iterdir())


def _check_new(path: Path, name: str, force: bool, *, folder: bool = False,
               inputs: tuple[Path, ...] = ()) -> None:
    """Nothing lost: an existing file or non-empty folder at ``path`` is replaced only with
    ``--force``, and never a folder that holds the command's inputs or the working folder."""
    from ..errors import DynlensValueError

    shown = str(path)
    if not folder:
        if path.is_file() and not force:
            raise DynlensValueError(
                f"{name}: expected a new file, found the existing file {shown!r} (--force "
                f"replaces it)")
        return
    if not _holds_files(path):
        return
    if not force:
        raise DynlensValueError(
            f"{name}: expected a new or empty folder, found {shown!r} holding files (--force "
            f"replaces it)")
    target = path.resolve()
    held = next((p for p in (*inputs, Path.cwd()) if p.resolve().is_relative_to(target)), None)
    if held is not None:
        raise DynlensValueError(
            f"{name}: expected a folder --force may replace, found {shown!r} holding "
            f"{str(held)!r}; write into another folder")


@contextlib.contextmanager
def _replacing(folder: Path) -> Iterator[Path]:
    """Where to write ``folder``: itself when new or empty, else a temporary folder beside it
    that takes its place only once the command has finished (a failure leaves it as it was)."""
    import shutil
    import tempfile

    if not _holds_files(folder):
        yield folder
        return
    new = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    try:
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    folder.rename(old / folder.name)
    new.rename(folder)
    shutil.rmtree(old)


def _import_modules(names: list[str]) -> None:
    """``--import``: each module (a name, or a path to a .py file) registers what it adds."""
    import importlib
    import traceback

    from ..errors import DynlensValueError

    for name in names:
        module, folder = name, None
        if name.endswith(".py"):
            path = Path(name)
            if not path.is_file():
                raise DynlensValueError(f"--import: expected a module or a .py file, found no "
                                        f"file {name!r}")
            module, folder = path.stem, str(path.resolve().parent)
            loaded = sys.modules.get(module)
            if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() \
                    != path.resolve():
                raise DynlensValueError(
                    f"--import: {name!r} is named like the module {module!r} already imported "
                    f"from {getattr(loaded, '__file__', 'elsewhere')}; rename the file")
            if folder not in sys.path:
                sys.path.insert(0, folder)  # also how sweep workers find it by name
        elif os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.append(os.getcwd())  # as `python -m` would find a module of the folder
        try:
            importlib.import_module(module)
        except Exception as err:  # a user's module may fail in any way
            frame = traceback.extract_tb(err.__traceback__)[-1]
            where = f" at {Path(frame.filename).name}:{frame.lineno}" \
                if not frame.filename.startswith("<") else ""
            said = " ".join(str(err).split())
            raise DynlensValueError(
                f"--import: importing {name!r} failed{where}: {type(err).__name__}: "
                f"{said}") from err


def _show_warning(command: str):
    """``warnings.showwarning`` for a command: dynlens's own warnings as one line each."""
    import warnings

    from ..errors import DynlensWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DynlensWarning):
            print(f"dynlens {command}: warning: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, filename, lineno, file, line)

    return show


def _cmd_demo(args: argparse.Namespace, announce) -> int:
    from ..utils import check_output_path
    from .demo import MODELS, run_demo

    check_output_path(args.out, "--out", folder=True)
    _check_new(args.out, "--out", args.force, folder=True)
    _check_model_name(args.model, tuple(MODELS), "the demo trains NODE and GRU SAEs with "
                                                 "--model sae", importable=False)
    if args.quiet:  # otherwise the demo's own first line says it
        announce()
    with _replacing(args.out) as out:
        report = run_demo(out, model=args.model, fast=args.fast, seed=args.seed,
                          device=args.device, progress=not args.quiet, threads=args.threads)
    report = args.out / report.relative_to(out)
    print(f"report written to {report} and {report.with_suffix('.html')}")
    return 0


def _cmd_simulate(args: argparse.Namespace, announce) -> int:
    from ..data import simulate
    from ..systems import available
    from ..utils import check_output_path

    out = check_output_path(args.out, "--out", suffixes=DATA_SUFFIXES)
    _check_new(out, "--out", args.force)
    _check_name(args.system, available(), "system")
    data = simulate(args.system, n_neurons=args.neurons, n_trials=args.trials, n_bins=args.bins,
                    pts_per_period=args.pts_per_period, seed=args.seed, n_heldout=args.heldout,
                    n_forward=args.forward, independent_trials=args.independent_trials or None)
    data.save(out)  # atomically: an interruption leaves any old file as it was
    print(data)
    print(f"saved to {out}; next: dynlens train {shlex.quote(str(out))} --out model.pt")
    return 0


def _model_options(args: argparse.Namespace) -> dict:
    """The model's keywords: the SAE's own flags (for ``--model sae``), then ``--set``, each
    key given once."""
    from ..errors import DynlensValueError
    from ..models import available_generators

    sae_flags = {"generator": args.generator, "latent_dim": args.latent_dim,
                 "hidden_size": args.hidden_size}
    given = {k: v for k, v in sae_flags.items() if v is not None}
    if args.model != "sae" and given:
        raise DynlensValueError(
            f"--{next(iter(given)).replace('_', '-')}: an SAE option; for --model "
            f"{args.model} pass its settings as --set KEY=VALUE")
    if args.generator is not None:
        _check_name(args.generator, available_generators(), "--generator")
    options = dict(given)
    said = {k: f"--{k.replace('_', '-')} {v}" for k, v in given.items()}  # as typed
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise DynlensValueError(f"--set: expected KEY=VALUE, found {item!r}")
        key = key.replace("-", "_")
        if key in said:
            raise DynlensValueError(
                f"--set {key}: expected each setting once, found it twice: {said[key]} and "
                f"--set {item}")
        said[key] = f"--set {item}"
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def _check_name(value: str, names, name: str, importable: bool = True) -> None:
    """One of the registry's ``names``; one unlike all of them may be the user's own, whose
    module was not imported (the command then says how)."""
    from ..errors import DynlensValueError
    from ..utils import check_choice

    try:
        check_choice(value, list(names), name)
    except DynlensValueError as err:
        if not importable or "did you mean" in str(err):
            raise
        raise DynlensValueError(
            f"{err} (one of yours? --import the module that registers it)") from None


def _check_model_name(name: str, choices: tuple[str, ...], hint: str,
                      importable: bool = True) -> None:
    """``--model``: one of ``choices``; an SAE generator's name gets ``hint``."""
    from ..errors import DynlensValueError
    from ..models import available_generators

    if name not in choices and name in available_generators():
        raise DynlensValueError(
            f"--model: expected one of {', '.join(map(repr, choices))}, found {name!r}, an SAE "
            f"generator: {hint.format(name=name)}")
    _check_name(name, choices, "--model", importable)


def _show_defaults(args: argparse.Namespace) -> int:
    """``dynlens train --show-defaults``: the family's own training settings, as JSON."""
    from dataclasses import asdict

    from ..models import build
    from ..training.fit import default_fit_config

    model = build(args.model, n_neurons=2, **_model_options(args))
    print(json.dumps({"model": model.label, **asdict(default_fit_config(model))}, indent=2))
    return 0


def _cmd_train(args: argparse.Namespace, announce) -> int:
    from ..models import available, build
    from ..training import fit
    from ..training.fit import default_fit_config
    from ..utils import check_output_path, resolve_device, seed_everything

    _check_model_name(args.model, tuple(available()), "use --model sae --generator {name}")
    if args.show_defaults:
        return _show_defaults(args)
    check_output_path(args.out, "--out", refuse=DATA_SUFFIXES)
    _check_new(args.out, "--out", args.force)
    if args.checkpoint_dir is not None:  # an existing one is resumed from, on purpose
        check_output_path(args.checkpoint_dir, "--checkpoint-dir", folder=True)
    options = _model_options(args)
    resolve_device(args.device)
    data = _read_data(args.data)
    seed_everything(args.seed)  # the initial weights too
    model = build(args.model, n_neurons=data.n_neurons,
                  heldout_neurons=[int(i) for i in data.heldout_neurons], **options)
    settings = {k: v for k, v in (("max_epochs", args.max_epochs),
                                  ("batch_size", args.batch_size), ("lr", args.lr))
                if v is not None}
    config = default_fit_config(model, **settings)  # refused here, before any work
    announce()
    history = fit(model, data, seed=args.seed, device=args.device,
                  checkpoint_dir=args.checkpoint_dir, progress=not args.quiet, **settings)
    model.save(args.out)  # atomically, with what it was trained on
    print(f"trained {model.label}: {len(history)} epochs (batch size {config.batch_size}, "
          f"learning rate {config.lr:g}), best valid loss {history.valid_loss.min():.5f}; "
          f"model saved to {args.out}; next: dynlens evaluate "
          f"{shlex.join([str(args.out), str(args.data)])}")
    return 0


def _cmd_evaluate(args: argparse.Namespace, announce) -> int:
    from ..analysis import evaluate

    model = _read_model(args.model, args.device)
    data = _read_data(args.data)
    _check_pair(model, data, args)
    announce()
    row = evaluate(model, data, split=args.split)  # warns (one line) on other data
    if args.split is None and row["split"] != "test":
        print(f"dynlens evaluate: the data have no 'test' split; scored the {row['split']!r} "
              f"split (--split to choose)", file=sys.stderr)
    print(json.dumps(row, indent=2))
    return 0


def _model_names(paths: list[Path], models: list) -> list[str]:
    """The models' names in a report of several: each one's label, with its file's name when
    two share a label ("NODE-3 (node3_s0)")."""
    labels = [model.label for model in models]
    names = [f"{label} ({path.stem})" if labels.count(label) > 1 else label
             for label, path in zip(labels, paths)]
    return [f"{name} #{i}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def _cmd_analyze(args: argparse.Namespace, announce) -> int:
    from ..analysis import true_system
    from ..utils import check_output_path
    from .analyze import _check, other_data_note, other_system_warning, run_analysis
    from .analyze_models import run_model_agreement

    check_output_path(args.out, "--out", folder=True)
    _check_new(args.out, "--out", args.force, folder=True, inputs=(*args.model, args.data))
    models = [_read_model(path, args.device) for path in args.model]
    data = _read_data(args.data)
    truth = true_system(data, args.system)
    several = len(models) > 1  # then each message names its model's file
    for model, path in zip(models, args.model):
        _check_pair(model, data, args, f"the model {str(path)!r}" if several else "the model")
        _check(model, data, truth, args.split)  # before any work
    for warning in (other_system_warning(data, truth),
                    *(other_data_note(model, data, repr(str(path)) if several else None)
                      for model, path in zip(models, args.model))):
        if warning:
            print(f"dynlens analyze: warning: {warning}", file=sys.stderr)
    announce()
    options = {"system": args.system, "split": args.split, "n_inits": args.n_inits,
               "seed": args.seed, "progress": not args.quiet,
               "lyapunov_steps": args.lyapunov_steps, "threads": args.threads}
    with _replacing(args.out) as out:
        if not several:
            report = run_analysis(models[0], data, out, **options)
        else:
            names = _model_names(args.model, models)
            report = run_model_agreement(dict(zip(names, models)), data, out,
                                         files=dict(zip(names, args.model)), **options)
    report = args.out / report.relative_to(out)
    print(f"report written to {report} and {report.with_suffix('.html')}")
    return 0


def _cmd_sweep(args: argparse.Namespace, announce) -> int:
    from ..errors import DynlensValueError
    from ..sweeps import Sweep, SweepFolder, sweep_status
    from ..utils import check_output_path

    if args.status:
        counts = sweep_status(args.status)
        print(", ".join(f"{n} {state}" for state, n in counts.items()) + f" ({args.status})")
        return 0
    if args.spec is None or args.out is None:
        raise DynlensValueError("sweep: expected SPEC.toml and --out DIR (or --status DIR)")
    check_output_path(args.out, "--out", folder=True)  # an existing one is resumed
    sweep = Sweep.from_toml(args.spec)
    if args.no_keep_models:
        sweep.keep_models = False
    if args.agreement and not sweep.keep_models:  # refused before hours of training
        raise DynlensValueError("--agreement: expected a sweep that keeps its models, found "
                                "--no-keep-models or keep_models = false in the "
                                "specification; cross-seed agreement compares the models")
    announce()
    table = sweep.run(
        args.out, executor=args.executor, workers=args.workers, address=args.address,
        threads=args.threads, device=args.device, gpus_per_run=args.gpus_per_run,
        progress=not args.quiet)
    done = int((table.status == "done").sum())
    print(f"{done} of {len(table)} runs done, {int((table.status == 'failed').sum())} failed; "
          f"table written to {SweepFolder(args.out).results}")
    if args.agreement:
        _sweep_agreement(args)
    return 0


def _sweep_agreement(args: argparse.Namespace) -> None:
    """``dynlens sweep --agreement``: the cross-seed agreement columns (agreement.csv), then
    the truth-free recommendation per dataset with its reasons."""
    from ..sweeps import SweepFolder, agreement, select

    table = agreement(args.out, n_inits=args.agreement_n_inits, progress=not args.quiet,
                      threads=args.threads)
    print(f"cross-seed agreement written to {SweepFolder(args.out).agreement}")
    for dataset in dict.fromkeys(table["dataset"]):
        if not (table[table["dataset"] == dataset]["status"] == "done").any():
            print(f"{dataset}: no finished run to choose from")
            continue
        print(f"{dataset}: {select(table, dataset=dataset).summary()}")


def _command(commands, name: str, common: argparse.ArgumentParser, *, help: str,
             description: str, examples: list[str]) -> argparse.ArgumentParser:
    """A sub-command with the shared options, a description and examples."""
    return commands.add_parser(
        name, parents=[common], help=help, description=description,
        formatter_class=_Formatter,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples))


def _device_quiet_seed(parser: argparse.ArgumentParser, *, quiet: bool = True,
                       seed: bool = True) -> None:
    parser.add_argument("--device", default="cpu",
                        help="where the model runs: cpu, cuda, cuda:N or auto (a GPU if any)")
    if seed:
        parser.add_argument("--seed", type=_count, default=0,
                            help="random seed (the same seed gives the same result)")
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _force(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {what} (without it, the command refuses "
                             f"before any work)")


def _imports(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import a module of yours (a name, or a path to a .py file) that "
                             "registers model families, SAE generators or systems, before the "
                             "names are checked; repeatable")


def _add_demo(commands, common: argparse.ArgumentParser) -> None:
    demo = _command(
        commands, "demo", common,
        help="simulate data, train models, analyse them, write a report",
        description="Simulate Arneodo spiking data, train NODE and GRU autoencoders (or "
                    "LFADS, or an NDT), open them and write a report (report.md and a "
                    "self-contained report.html) with figures.",
        examples=[f"dynlens demo --fast            # {DEMO_FAST}",
                  "dynlens demo --model lfads --out lfads-demo"])
    demo.add_argument("--out", type=Path, default=Path("dynlens-demo"),
                      help="report folder, created if needed")
    demo.add_argument("--fast", action="store_true",
                      help=f"smaller data and shorter training ({DEMO_FAST}); the report "
                           "says so")
    demo.add_argument("--model", default="sae", metavar="MODEL",
                      help="sae: NODE-3 and GRU-3 autoencoders (default); lfads: LFADS without "
                           "a controller; ndt: a Neural Data Transformer (no dynamics, so no "
                           "fixed points)")
    _force(demo, "report folder that holds files")
    _device_quiet_seed(demo)
    demo.set_defaults(func=_cmd_demo)


def _add_simulate(commands, common: argparse.ArgumentParser) -> None:
    sim = _command(
        commands, "simulate", common,
        help="simulate spiking data from a ground-truth system",
        description="Simulate Poisson spike counts from a system whose dynamics are known "
                    "(the published recipe: log-rates from a random linear readout of its "
                    "latent trajectory) and save them with the truth (latents, rates) and "
                    "train/valid/test splits.",
        examples=["dynlens simulate arneodo --out arneodo.h5",
                  "dynlens simulate lorenz --out lorenz.npz --trials 500 --heldout 3"])
    sim.add_argument("system", metavar="SYSTEM",
                     help="the ground-truth system: a name of dl.systems.available() (a "
                          "misspelt one lists them), or one your --import module registers")
    sim.add_argument("--out", type=Path, required=True,
                     help=f"dataset file to write ({', '.join(DATA_SUFFIXES)})")
    sim.add_argument("--neurons", type=_positive, default=10, help="neurons")
    sim.add_argument("--trials", type=_positive, default=2000, help="trials")
    sim.add_argument("--bins", type=_positive, default=70, help="time bins per trial")
    sim.add_argument("--pts-per-period", type=_positive, default=None,
                     help="bins per period of the system's oscillation (default: the "
                          "system's published value)")
    sim.add_argument("--heldout", type=_count, default=0,
                     help="held-out neurons for co-smoothing (never given to the encoder)")
    sim.add_argument("--forward", type=_count, default=0,
                     help="forward-prediction bins simulated after --bins (never given to "
                          "the encoder; scored as fp-bps)")
    sim.add_argument("--independent-trials", action="store_true",
                     help="start each trial from its own point on the attractor (default: "
                          "the system's published recipe)")
    sim.add_argument("--seed", type=_count, default=0,
                     help="random seed (the same seed gives the same data)")
    _force(sim, "dataset file")
    _imports(sim)
    sim.set_defaults(func=_cmd_simulate)


def _add_train(commands, common: argparse.ArgumentParser) -> None:
    train = _command(
        commands, "train", common,
        help="train a model (an SAE, LFADS, ...) on a dataset file",
        description="Train a model on a dataset file (one written by `dynlens simulate` or "
                    "NeuralDataset.save, or an LFADS HDF5 file) with dl.fit: early stopping "
                    "on the valid split, then the best weights are saved.",
        examples=["dynlens train arneodo.h5 --out node3.pt",
                  "dynlens train arneodo.h5 --out gru3.pt --generator gru --max-epochs 100",
                  "dynlens train lfads_data.h5 --out lfads.pt --model lfads --set co_dim=0",
                  "dynlens train --model lfads --show-defaults"])
    train.add_argument("data", type=Path, nargs="?",
                       help="dataset file (.h5/.npz from `dynlens simulate`, or LFADS HDF5)")
    train.add_argument("--out", type=Path, help="model checkpoint to write (.pt)")
    train.add_argument("--model", default="sae", metavar="FAMILY",
                       help="model family: a name of dl.models.available() (sae, lfads, ndt "
                            "and any your --import module registers)")
    train.add_argument("--generator", "--dynamics", default=None, metavar="NAME",
                       help="SAE generator: a name of dl.models.available_generators() "
                            "(default: the SAE's own, node; --dynamics is its old name)")
    train.add_argument("--latent-dim", type=_positive, default=None,
                       help="SAE latent size (default: the SAE's own, 3)")
    train.add_argument("--hidden-size", type=_positive, default=None,
                       help="SAE generator width (default: the generator's own)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any setting of the model family, e.g. --set co_dim=0 --set "
                            "gen_dim=64 for LFADS (values read as JSON when they parse)")
    train.add_argument("--max-epochs", type=_positive, default=None,
                       help="most epochs; training stops earlier when the valid loss stops "
                            "improving (default: the model's own; --show-defaults)")
    train.add_argument("--batch-size", type=_positive, default=None,
                       help="trials per batch (default: the model's own; --show-defaults)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="peak learning rate (default: the model's own; --show-defaults)")
    train.add_argument("--show-defaults", action="store_true",
                       help="print the training settings of --model (and --generator, --set) "
                            "as JSON and stop; no DATA or --out needed")
    train.add_argument("--checkpoint-dir", type=Path, default=None,
                       help="write best/last checkpoints here and resume from them (default: "
                            "none)")
    _force(train, "model checkpoint")
    _imports(train)
    _device_quiet_seed(train)
    train.set_defaults(func=_cmd_train)


def _add_evaluate(commands, common: argparse.ArgumentParser) -> None:
    ev = _command(
        commands, "evaluate", common, help="every metric the data's truth allows, as JSON",
        description="Score a trained model on one split of a dataset: rate R2, state and "
                    "decode R2 (affine maps fitted on the train split), bits per spike, ... "
                    "as one JSON object on stdout (dl.evaluate).",
        examples=["dynlens evaluate node3.pt arneodo.h5 > metrics.json",
                  "dynlens evaluate lfads.pt lfads_data.h5 --split valid"])
    ev.add_argument("model", type=Path, help="model checkpoint (.pt, from `dynlens train`)")
    ev.add_argument("data", type=Path, help="dataset file (.h5/.npz, or LFADS HDF5)")
    ev.add_argument("--split", default=None,
                    help="split to score: train, valid or test (default: test, or valid when "
                         "the data have no test split, as LFADS files)")
    _imports(ev)
    _device_quiet_seed(ev, quiet=False, seed=False)
    ev.set_defaults(func=_cmd_evaluate)


def _add_analyze(commands, common: argparse.ArgumentParser) -> None:
    an = _command(
        commands, "analyze", common,
        help="open trained models: fixed points, graph, comparison with the true system, "
             "agreement between models, as a report",
        description="Find the fixed points of a trained model's generator on its latents, "
                    "draw their spectra and graph, align its latents with the true ones and "
                    "compare its fixed points with the true system's; writes report.md, "
                    "report.html, figures, CSV tables and summary.json. With several models "
                    "(seeds, sizes, architectures fitted to the same data), each is opened "
                    "and then all are compared with each other, no truth needed "
                    "(dl.agreement: an 'Agreement between models' section, agreement.csv).",
        examples=["dynlens analyze node3.pt arneodo.h5 --out node3-analysis",
                  "dynlens analyze gru3.pt arneodo.h5 --n-inits 256 --quiet",
                  "dynlens analyze node3_s0.pt node3_s1.pt gru25.pt recording.h5 --out agree"])
    an.add_argument("model", type=Path, nargs="+",
                    help="model checkpoint (.pt, from `dynlens train`); several: each is "
                         "analysed, then they are compared with each other")
    an.add_argument("data", type=Path, help="dataset file (.h5/.npz, or LFADS HDF5)")
    an.add_argument("--out", type=Path, default=Path("dynlens-analysis"),
                    help="report folder, created if needed")
    an.add_argument("--system", default=None, metavar="SYSTEM",
                    help="true system to compare with: a name of dl.systems.available() "
                         "(default: the one the data were simulated from, when recorded)")
    an.add_argument("--split", default="train",
                    help="split whose latents start the search and fit the alignment")
    an.add_argument("--n-inits", type=_positive, default=1024, help="fixed-point search starts")
    an.add_argument("--lyapunov-steps", type=_positive, default=None,
                    help="bins per start of the Lyapunov spectra (default: 2000 for fields, "
                         "5000 for maps)")
    _force(an, "report folder that holds files")
    _imports(an)
    _device_quiet_seed(an)
    an.set_defaults(func=_cmd_analyze)


def _add_sweep(commands, common: argparse.ArgumentParser) -> None:
    sweep = _command(
        commands, "sweep", common,
        help="run an ablation sweep from a TOML specification (resumable)",
        description="Train every run of a sweep specification into a folder and write its "
                    "results table (results.csv). Rerunning into the same folder skips "
                    "finished runs.",
        examples=["dynlens sweep spec.toml --out runs/ --workers 2",
                  "dynlens sweep spec.toml --out runs/ --agreement   # which family and size?",
                  "dynlens sweep --status runs/"])
    sweep.add_argument("spec", nargs="?", help="the sweep specification (TOML)")
    sweep.add_argument("--out", help="the sweep folder (needed with SPEC)")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: one process per run on this machine; ray: a Ray cluster")
    sweep.add_argument("--workers", type=_positive, default=1, help="runs at a time")
    sweep.add_argument("--address", default=None,
                       help="Ray: an existing cluster ('auto' or host:port); default: a local "
                            "Ray instance started for the sweep")
    sweep.add_argument("--gpus-per-run", type=_number(float, 0.0, False, "a number >= 0"),
                       default=0.0, help="Ray: GPUs per run")
    sweep.add_argument("--status", metavar="DIR", default=None,
                       help="only count the done / failed / running / pending runs in DIR")
    sweep.add_argument("--agreement", action="store_true",
                       help="after the runs, compare each cell's seeds with each other "
                            "(dl.sweeps.agreement: agreement.csv) and print the truth-free "
                            "recommendation of a family and latent size per dataset "
                            "(dl.sweeps.select) with its reasons")
    sweep.add_argument("--agreement-n-inits", type=_positive, default=256,
                       help="--agreement: fixed-point search starts per model")
    sweep.add_argument("--no-keep-models", action="store_true",
                       help="do not keep each run's model.pt (saves disk; the same as "
                            "keep_models = false in SPEC; --agreement then has nothing to "
                            "compare)")
    _imports(sweep)
    _device_quiet_seed(sweep, seed=False)
    sweep.set_defaults(func=_cmd_sweep)


def _add_tune(commands, common: argparse.ArgumentParser) -> None:
    from ..tuning import command  # argparse only: no torch, no Ray

    tune = _command(
        commands, "tune", common,
        help="search a model family's settings with Ray Tune (resumable; dynlens[tune])",
        description="Search the settings of a TOML specification (family, data, space) with "
                    "Ray Tune, every trial trained by dl.fit, into a folder (docs/tuning.md).",
        examples=["dynlens tune search.toml --out search/",
                  "dynlens tune search.toml --out search/ --address auto"])
    command.add_arguments(tune)
    _imports(tune)
    tune.set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    """The ``dynlens`` argument parser: one sub-command per job, each with ``--threads``."""
    parser = _Parser(
        prog="dynlens", formatter_class=_Formatter,
        description="Simulate spiking data from known dynamics, train sequential autoencoders, "
                    "and check whether the learned dynamics are the true ones.",
        epilog="examples:\n  dynlens demo --fast\n  dynlens simulate arneodo --out arneodo.h5\n"
               "  dynlens train arneodo.h5 --out node3.pt\n"
               "  dynlens analyze node3.pt arneodo.h5 --out node3-analysis")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_threads_arg, default="auto",
                        help="torch CPU threads: 'auto' (default: the cores other processes "
                             "leave free, re-checked every epoch) or a number")

    for add in (_add_demo, _add_simulate, _add_train, _add_evaluate, _add_analyze, _add_sweep,
                _add_tune):
        add(sub, common)
    parser.commands = sub.choices  # so that a command's own mistakes point to its --help
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynlens`` console script.

    Returns 0 on success, 2 on a user's mistake (one line on stderr: the command, ``error:``
    and what was expected and found), 1 when the system refuses a file operation and 130 when
    interrupted.
    """
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "train" and not args.show_defaults:  # both optional only for that
        missing = [shown for shown, given in (("data", args.data), ("--out", args.out))
                   if given is None]
        if missing:
            parser.commands["train"].error(
                f"the following arguments are required: {', '.join(missing)}")
    import warnings

    from ..errors import DynlensError, DynlensWarning  # after parsing: --help needs no torch
    from ..threads import ThreadPolicy, describe

    def announce() -> None:
        """The thread count, on stderr (so that `dynlens evaluate ... > row.json` stays
        JSON), once the arguments are checked and just before the long work."""
        print(f"dynlens {args.command}: {describe(args.threads)}", file=sys.stderr, flush=True)

    try:
        with ThreadPolicy(args.threads), warnings.catch_warnings():
            warnings.showwarning = _show_warning(args.command)
            warnings.simplefilter("always", DynlensWarning)
            _import_modules(getattr(args, "imports", []))
            return args.func(args, announce)
    except DynlensError as err:
        print(f"dynlens {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # whoever read stdout (`| head`) went away: nothing to add
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as err:
        print(f"dynlens {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dynlens {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
