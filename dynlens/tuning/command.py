"""``dynlens tune SPEC.toml --out DIR``: :func:`dynlens.tune` from a TOML specification.

The specification names the family, the data, the space and the search's settings::

    family = "lfads"
    data = "recording.h5"          # a file dl.load_dataset reads (relative to this file),
                                   # or a table of dl.simulate keywords: {system = "lorenz"}
    num_samples = 16
    scheduler = "pbt"              # or "asha" (default)
    max_epochs = 200               # optional: the family's default
    metric = "valid_loss"          # optional

    [space]
    lr = ["loguniform", 1e-4, 1e-2]
    dropout = ["uniform", 0.0, 0.5]

    [fixed]                        # optional: settings every trial uses
    gen_dim = 64

Importing this module imports neither torch nor Ray (``dynlens --help`` reads it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["SPEC_KEYS", "add_arguments", "read_spec", "run"]

SPEC_KEYS = ("family", "data", "num_samples", "scheduler", "metric", "max_epochs", "space",
             "fixed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's own arguments (the shared ones, ``--threads`` and ``--import``, are the
    ``dynlens`` parser's).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``tune`` sub-command's parser.
    """
    parser.add_argument("spec", help="the search specification (TOML)")
    parser.add_argument("--out", required=True,
                        help="the search folder (one holding this search is resumed)")
    parser.add_argument("--address", default=None,
                        help="a Ray cluster ('auto' or ray://host:port); default: a local Ray "
                             "instance started for the search")
    parser.add_argument("--quiet", action="store_true", help="no Ray Tune status table")


def read_spec(path: str | Path) -> dict:
    """The keywords of :func:`dynlens.tune` that a specification file gives (data loaded).

    Parameters
    ----------
    path : path
        The TOML file.

    Returns
    -------
    dict
        ``family``, ``data`` (a NeuralDataset), ``space``, ``num_samples`` and the optional
        ``scheduler``, ``metric``, ``max_epochs``, plus the ``fixed`` settings as keywords.
    """
    from ..errors import DynlensValueError
    from ..sweeps import DatasetSpec
    from ..utils import check_keywords, check_readable_file, parse_toml

    path = check_readable_file(Path(path), "spec")
    spec = parse_toml(path.read_text(), str(path))
    check_keywords(spec, SPEC_KEYS, f"spec {path.name}")
    missing = [k for k in ("family", "data", "num_samples", "space") if k not in spec]
    if missing:
        raise DynlensValueError(f"spec: expected {missing} in {path}, found none")
    entry = spec.pop("data")
    entry = {"path": entry} if isinstance(entry, str) else entry
    spec["data"] = DatasetSpec.parse(entry, {}, path.resolve().parent).load()
    return {**spec.pop("fixed", {}), **spec}


def run(args: argparse.Namespace, announce: Any) -> int:
    """Run (or resume) the search of ``args.spec`` into ``args.out``; print the best trial.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``dynlens tune`` arguments.
    announce : callable
        Called once everything is checked, just before the search starts.
    """
    from ..utils import atomic_path, check_output_path
    from .search import tune

    check_output_path(args.out, "--out", folder=True)
    keywords = read_spec(args.spec)
    announce()
    result = tune(out=args.out, threads=args.threads, address=args.address,
                  progress=not args.quiet, **keywords)
    table = result.table()
    print(f"{int((table.status == 'done').sum())} of {len(table)} trials done; records in "
          f"{Path(args.out) / 'trials.json'}")
    if result.best_trial_id is not None:
        figure = Path(args.out) / "search.png"
        with atomic_path(figure) as tmp:
            result.plot().savefig(tmp, format="png", dpi=110)
        best = table.set_index("trial_id").loc[result.best_trial_id, "best_valid_loss"]
        print(f"best: {json.dumps(result.best_config)} (best_valid_loss {best:.4g}); "
              f"figure {figure}")
    return 0
