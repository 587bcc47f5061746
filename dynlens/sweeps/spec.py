"""The sweep specification: a grid of datasets x models x latent sizes x seeds.

A :class:`Sweep` is plain data (lists, dicts, numbers, strings), so it reads from and writes to
TOML unchanged. :meth:`Sweep.runs` expands it into :class:`RunSpec` objects, one per run, after
checking everything that can be checked before any training starts.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DynlensTypeError, DynlensValueError
from ..utils import (
    check_choice,
    check_keywords,
    check_nonnegative_int,
    check_positive_int,
    parse_toml,
)

__all__ = ["DatasetSpec", "ModelSpec", "RunSpec", "Sweep"]

_NAME = re.compile(r"^[A-Za-z0-9_.]+$")  # run ids join names with "-": keep "-" out of them
# dl.fit keywords the sweep sets itself for every run.
_FIT_RESERVED = ("seed", "threads", "progress", "device", "checkpoint_dir", "resume", "callback")
_ANALYSIS_DEFAULTS = {"fixed_points": True, "n_inits": 1024, "split": "test"}


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise DynlensValueError(
            f"{what}: expected a name of letters, digits, '_' or '.', found {name!r}")
    return name


def _check_table(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise DynlensTypeError(f"{what}: expected a table (dict), found {type(value).__name__}")
    return dict(value)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a sweep: a simulated system or a file of the user's.

    ``options`` are :func:`dynlens.simulate` keywords (the sweep's ``data`` table updated by
    the entry's own keys); ``path`` names a file :func:`dynlens.load_dataset` reads.

    Attributes
    ----------
    name : str
        The dataset's label in run ids and the results table.
    system : str or None
        The simulated system's name (None for a file).
    path : str or None
        The data file (None for a simulated system).
    options : dict
        The :func:`dynlens.simulate` keywords of a simulated system.

    Examples
    --------
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo", {"name": "lorenz50", "system": "lorenz",
    ...                                       "n_neurons": 50}],
    ...                  models=["node"], latent_dims=[3], seeds=[0], data={"n_trials": 100})
    >>> for spec in sweep.datasets:
    ...     print(spec.name, spec.system, spec.options)
    arneodo arneodo {'n_trials': 100}
    lorenz50 lorenz {'n_trials': 100, 'n_neurons': 50}
    >>> sweep.datasets[0].load().n_trials  # simulated with those keywords
    100
    """

    name: str
    system: str | None = None
    path: str | None = None
    options: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, entry: Any, shared: dict, base: Path | None) -> DatasetSpec:
        from .. import systems

        if isinstance(entry, str):
            entry = {"system": entry}
        entry = _check_table(entry, "systems entry")
        if ("system" in entry) == ("path" in entry):
            raise DynlensValueError(
                f"systems entry: expected exactly one of 'system' (a simulated system) or "
                f"'path' (a data file), found {entry!r}")
        if "path" in entry:
            path = Path(entry.pop("path")).expanduser()
            path = path if path.is_absolute() or base is None else base / path
            name = _check_name(entry.pop("name", path.stem), "systems entry name")
            check_keywords(entry, (), f"systems entry {name!r} (a data file)")
            return cls(name=name, path=str(path))
        system = check_choice(entry.pop("system"), systems.available(), "systems entry system")
        name = _check_name(entry.pop("name", system), "systems entry name")
        options = {**shared, **entry}
        _check_simulate_keywords(options, name)
        return cls(name=name, system=system, options=options)

    def to_entry(self, shared: dict) -> str | dict:
        """The TOML form: the bare system name when nothing differs from ``shared``."""
        if self.path is not None:
            return {"name": self.name, "path": self.path}
        own = {k: v for k, v in self.options.items() if shared.get(k, _MISSING) != v}
        if not own and self.name == self.system:
            return self.system
        return {"name": self.name, "system": self.system, **own}

    def load(self):
        """Simulate the dataset (seed ``options["seed"]``, default 0) or read the file."""
        from .. import data

        if self.path is not None:
            return data.load_dataset(self.path)
        return data.simulate(self.system, **{"seed": 0, **self.options})


_MISSING = object()


def _check_simulate_keywords(options: dict, name: str) -> None:
    from ..data import simulate

    allowed = set(inspect.signature(simulate).parameters) - {"system"}
    check_keywords(options, allowed, f"data for {name!r} (dl.simulate keywords)")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a sweep: a registered family and its options.

    ``latent_dims`` overrides the sweep's axis for this model (``[]`` to keep the family's
    own size: then runs are labelled ``d0``); ``fit`` updates the sweep's :func:`dynlens.fit`
    keywords for this model's runs (an ablation without trial lengthening, say).

    Attributes
    ----------
    name : str
        The model's label in run ids and the results table.
    family : str
        The registered model family (:func:`dynlens.models.available`), e.g. ``"sae"``.
    options : dict
        The family's configuration options (``generator``, ``hidden_size``, ...).
    latent_dims : tuple of int or None
        This model's latent sizes (None: the sweep's).
    fit : dict
        :func:`dynlens.fit` keywords updating the sweep's for this model.
    module : str
        The module that registers the family, or else its SAE generator (imported by worker
        processes).

    Examples
    --------
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], seeds=[0], latent_dims=[3], models=[
    ...     "node", {"name": "gru_flat", "model": "sae", "generator": "gru",
    ...              "fit": {"bins_per_group": 0}}])
    >>> node, gru = (run.model for run in sweep.runs())
    >>> node.name, node.family, node.options
    ('node', 'sae', {'generator': 'node'})
    >>> gru.name, gru.options, gru.fit
    ('gru_flat', {'generator': 'gru'}, {'bins_per_group': 0})
    >>> gru.build(n_neurons=10, latent_dim=3).model_type  # an untrained model of this spec
    'sae'
    """

    name: str
    family: str
    options: dict = field(default_factory=dict)
    latent_dims: tuple | None = None
    fit: dict = field(default_factory=dict)
    module: str = field(default="dynlens.models", compare=False)  # where it is registered

    @classmethod
    def parse(cls, entry: Any) -> ModelSpec:
        from .. import models

        if isinstance(entry, str):
            entry = {"name": entry, "model": entry}
        entry = _check_table(entry, "models entry")
        family = entry.pop("model", None) or entry.get("name")
        module = entry.pop("module", None)
        known = set(models.available()) | set(models.available_generators())
        if module and not {family, entry.get("generator", family)} <= known:
            importlib.import_module(module)  # a family or generator of the user's registers
        if family in models.available_generators():  # shorthand: an SAE with that generator
            entry.setdefault("generator", family)
            family = "sae"
        family = check_choice(family, models.available(), "models entry model")
        name = _check_name(entry.pop("name", family), "models entry name")
        dims = entry.pop("latent_dims", None)
        if dims is not None:
            dims = tuple(_check_axis(dims, f"latent_dims of model {name!r}", allow_empty=True))
        fit = _check_fit(_check_table(entry.pop("fit", {}), f"fit of model {name!r}"))
        return cls(name=name, family=family, options=entry, latent_dims=dims, fit=fit,
                   module=_home_module(family, entry.get("generator")))

    def to_entry(self) -> str | dict:
        from ..models import available_generators

        short = {"generator": self.name} if self.family == "sae" else {}
        own_family = not self.module.startswith("dynlens.")
        shorthand = self.name in available_generators() or self.name == self.family
        if self.options == short and self.latent_dims is None and not self.fit and (
                not own_family) and shorthand:
            return self.name
        entry = {"name": self.name, "model": self.family, **self.options}
        if own_family:  # where worker processes (and readers of the TOML) find the family
            entry["module"] = self.module
        if self.latent_dims is not None:
            entry["latent_dims"] = list(self.latent_dims)
        if self.fit:
            entry["fit"] = dict(self.fit)
        return entry

    def build(self, n_neurons: int, latent_dim: int, heldout_neurons=()) -> Any:
        """The model of one run (its latent size set through the family's latent option)."""
        from .. import models

        cls = models.get(self.family)
        config = {"n_neurons": n_neurons, **self.options}
        if latent_dim:
            config[cls.latent_option] = latent_dim
        if len(heldout_neurons):
            config.setdefault("heldout_neurons", [int(i) for i in heldout_neurons])
        return cls.from_config(config)


def _home_module(family: str, generator: Any) -> str:
    """The module worker processes import to find the family, or else its SAE generator."""
    from .. import models

    home = models.get(family).__module__
    if home.startswith("dynlens.") and isinstance(generator, str):
        source = (generator if ":" in generator
                  else models.generator_registry.generator_entry(generator).source)
        home = source.partition(":")[0]
    return home


def _check_axis(values: Any, what: str, *, allow_empty: bool = False,
                check=check_positive_int) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise DynlensTypeError(f"{what}: expected a list, found {values!r}")
    values = [check(v, what) for v in values]
    if not values and not allow_empty:
        raise DynlensValueError(f"{what}: expected at least one value, found an empty list")
    if len(set(values)) != len(values):
        raise DynlensValueError(f"{what}: expected distinct values, found {values}")
    return values


def _check_fit(options: dict) -> dict:
    """``options`` if they are :func:`dynlens.fit` keywords the sweep does not set itself."""
    from ..training import fit
    from ..training.fit import FitConfig

    reserved = sorted(set(options) & set(_FIT_RESERVED))
    if reserved:
        raise DynlensValueError(
            f"fit: the sweep sets {reserved} itself for every run; found them in 'fit'")
    allowed = set(inspect.signature(fit).parameters) | set(FitConfig.__dataclass_fields__)
    # a FitConfig object does not go into TOML: its fields are the flat keywords
    check_keywords(options, allowed - {"model", "data", "settings", "config"},
                   "fit (dl.fit keywords)")
    return options


@dataclass(frozen=True)
class RunSpec:
    """One run: a dataset, a model, a latent size and a seed (``run_id`` names its folder).

    Attributes
    ----------
    dataset : DatasetSpec
        The run's dataset.
    model : ModelSpec
        The run's model.
    latent_dim : int
        The latent size (0: the family's own).
    seed : int
        The seed of model initialisation and training.
    run_id : str
        ``<dataset>-<model>-d<latent_dim>-s<seed>``, the name of the run's folder.

    Examples
    --------
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], models=["gru"], latent_dims=[3, 10], seeds=[0],
    ...                  fit={"max_epochs": 5})
    >>> run = sweep.runs()[1]
    >>> run.run_id, run.latent_dim, run.seed, run.fit_options(sweep.fit)
    ('arneodo-gru-d10-s0', 10, 0, {'max_epochs': 5})
    >>> run.columns()["family"]
    'sae'
    """

    dataset: DatasetSpec
    model: ModelSpec
    latent_dim: int
    seed: int

    @property
    def run_id(self) -> str:
        return f"{self.dataset.name}-{self.model.name}-d{self.latent_dim}-s{self.seed}"

    def fit_options(self, shared: dict) -> dict:
        """The :func:`dynlens.fit` keywords of this run: ``shared`` updated by the model's."""
        return {**shared, **self.model.fit}

    def columns(self) -> dict:
        """The configuration columns of this run's row in the results table."""
        return {"run_id": self.run_id, "dataset": self.dataset.name,
                "system": self.dataset.system or "", "model": self.model.name,
                "family": self.model.family, "latent_dim": self.latent_dim, "seed": self.seed}


_KEYS = ("name", "systems", "models", "latent_dims", "seeds", "data", "fit", "analysis",
         "keep_models")


@dataclass
class Sweep:
    """A grid of training runs: every dataset x model x latent size x seed.

    Parameters
    ----------
    systems : list of str or dict
        Datasets. A system name (``"arneodo"``: :func:`dynlens.simulate` with the ``data``
        keywords), a table ``{"name": "lorenz50", "system": "lorenz", "n_neurons": 50}``
        (its keys update ``data``), or ``{"name": "mine", "path": "recording.h5"}`` (a file
        :func:`dynlens.load_dataset` reads; relative to the TOML file when read from one).
    models : list of str or dict
        Model families: ``"node"``, ``"gru"`` (or another SAE generator), ``"sae"``,
        ``"lfads"``, ``"ndt"``, or a table ``{"name": "node_w256", "model": "sae",
        "generator": "node", "hidden_size": 256}`` whose other keys are the model's options
        (plus ``latent_dims``, ``fit`` and, for a family or SAE generator of your own,
        ``module``: the module that registers it, filled in when you pass one registered in a
        module). A generator's name alone (``"node"``, or one of
        :func:`~dynlens.models.available_generators` of your own) is an SAE with it.
    latent_dims : list of int
        Latent sizes (each family's ``latent_option``: ``latent_dim`` for the SAE and NDT,
        ``gen_dim`` for LFADS). A model table may give its own ``latent_dims``.
    seeds : list of int
        Seeds of model initialisation and training. The data of a simulated system do not
        change with them (``data["seed"]``, default 0, seeds the simulation).
    data : dict
        :func:`dynlens.simulate` keywords shared by every simulated system.
    fit : dict
        :func:`dynlens.fit` keywords (``seed``, ``threads``, ``device`` and ``progress`` are
        set by the sweep).
    analysis : dict
        ``fixed_points`` (bool, default True: fixed points of the trained generator compared
        with the true system's), ``n_inits`` (default 1024), ``split`` (default ``"test"``:
        the split the metrics are computed on).
    name : str
        A label for the sweep.
    keep_models : bool
        Keep each run's trained model (``runs/<run_id>/model.pt``, default True): what
        :func:`dynlens.sweeps.agreement` compares across seeds and what reopening a run
        needs. False saves the disk space of large sweeps; every number of the results table
        is still measured.
    base : Path, optional
        The folder that relative data ``path`` entries are relative to (:meth:`from_toml`
        passes the TOML file's); by default the working directory. Not stored.

    Examples
    --------
    >>> import dynlens as dl
    >>> sweep = dl.Sweep(systems=["arneodo"], models=["node", "gru"], latent_dims=[3, 10],
    ...                  seeds=[0], data={"n_trials": 100}, fit={"max_epochs": 5})
    >>> [run.run_id for run in sweep.runs()]
    ['arneodo-node-d3-s0', 'arneodo-node-d10-s0', 'arneodo-gru-d3-s0', 'arneodo-gru-d10-s0']
    >>> dl.Sweep.from_toml_string(sweep.to_toml_string()) == sweep
    True
    """

    systems: list
    models: list
    latent_dims: list = field(default_factory=lambda: [3])
    seeds: list = field(default_factory=lambda: [0])
    data: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    name: str = "sweep"
    keep_models: bool = True
    base: InitVar[Path | None] = None

    def __post_init__(self, base: Path | None) -> None:
        self.name = _check_name(self.name, "name")
        if not isinstance(self.keep_models, bool):
            raise DynlensTypeError(
                f"keep_models: expected true or false, found {self.keep_models!r}")
        self.data = _check_table(self.data, "data")
        self.fit = _check_table(self.fit, "fit")
        self.analysis = {**_ANALYSIS_DEFAULTS, **_check_table(self.analysis, "analysis")}
        _check_fit(self.fit)
        check_keywords(self.analysis, _ANALYSIS_DEFAULTS, "analysis")
        self.latent_dims = _check_axis(self.latent_dims, "latent_dims")
        self.seeds = _check_axis(self.seeds, "seeds", check=check_nonnegative_int)
        self.systems = list(self._axis(self.systems, "systems"))
        self.models = list(self._axis(self.models, "models"))
        self._datasets = [DatasetSpec.parse(e, self.data, base)
                          for e in self.systems]
        self._models = [ModelSpec.parse(e) for e in self.models]
        for what, specs in (("systems", self._datasets), ("models", self._models)):
            names = [s.name for s in specs]
            if len(set(names)) != len(names):
                raise DynlensValueError(
                    f"{what}: expected distinct names (give tables a 'name'), found {names}")

    @staticmethod
    def _axis(values: Any, what: str) -> list:
        if isinstance(values, (str, dict)) or not isinstance(values, (list, tuple)):
            raise DynlensTypeError(f"{what}: expected a list, found {values!r}")
        if not values:
            raise DynlensValueError(f"{what}: expected at least one entry, found an empty list")
        return [dict(v) if isinstance(v, dict) else v for v in values]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sweep) and self.to_dict() == other.to_dict()

    # -- expansion --------------------------------------------------------------------------
    def runs(self) -> list[RunSpec]:
        """Every run, datasets outermost, then models, latent sizes and seeds."""
        runs = []
        for dataset in self._datasets:
            for model in self._models:
                dims = self.latent_dims if model.latent_dims is None else model.latent_dims
                for dim in dims or [0]:
                    runs.extend(RunSpec(dataset, model, dim, seed) for seed in self.seeds)
        return runs

    @property
    def model_specs(self) -> list[ModelSpec]:
        """The models, parsed (family, options, latent sizes, fit keywords)."""
        return list(self._models)

    @property
    def datasets(self) -> list[DatasetSpec]:
        return list(self._datasets)

    def check_buildable(self, n_neurons: dict[str, int]) -> None:
        """Build every (dataset, model, latent size) once (cheap) so that a combination that
        cannot be built fails before any run starts; ``n_neurons`` maps dataset names to
        their neuron counts."""
        seen = set()
        for run in self.runs():
            key = (run.dataset.name, run.model.name, run.latent_dim)
            if key in seen:
                continue
            seen.add(key)
            try:
                run.model.build(n_neurons[run.dataset.name], run.latent_dim)
            except Exception as err:
                raise DynlensValueError(
                    f"models: {run.model.name!r} with latent size {run.latent_dim} cannot be "
                    f"built for dataset {run.dataset.name!r}: {err}") from err

    # -- TOML --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The specification as plain data (the TOML's content)."""
        return {"name": self.name,
                "systems": [d.to_entry(self.data) for d in self._datasets],
                "models": [m.to_entry() for m in self._models],
                "latent_dims": list(self.latent_dims), "seeds": list(self.seeds),
                "data": dict(self.data), "fit": dict(self.fit),
                "analysis": dict(self.analysis), "keep_models": self.keep_models}

    def to_toml_string(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def to_toml(self, path: str | Path) -> None:
        """Write the specification as TOML (atomically)."""
        from ..utils import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(self.to_toml_string())

    @classmethod
    def from_dict(cls, spec: dict, base: Path | None = None) -> Sweep:
        spec = _check_table(spec, "sweep")
        check_keywords(spec, _KEYS, "sweep")
        for key in ("systems", "models"):
            if key not in spec:
                raise DynlensValueError(f"sweep: expected a '{key}' list, found none")
        return cls(**spec, base=base)

    @classmethod
    def from_toml_string(cls, text: str, base: Path | None = None,
                         source: str = "<string>") -> Sweep:
        return cls.from_dict(parse_toml(text, source), base)

    @classmethod
    def from_toml(cls, path: str | Path) -> Sweep:
        """Read a specification from a TOML file (relative data paths are relative to it)."""
        from ..utils import check_readable_file

        path = check_readable_file(Path(path))
        return cls.from_toml_string(path.read_text(), base=path.resolve().parent,
                                    source=str(path))

    def run(self, out_dir: str | Path, *, executor: str = "local", workers: int = 1,
            address: str | None = None, threads: int | str = "auto", device: str = "cpu",
            gpus_per_run: float = 0.0, progress: bool = True, retry_failed: bool = True):
        """Run every unfinished run into ``out_dir``; returns the results table.

        The one way to run a sweep (the command line's ``dynlens sweep`` calls it).

        Parameters
        ----------
        out_dir : path
            The sweep folder (its layout: :mod:`dynlens.sweeps.layout`). Rerunning into it
            skips finished runs; a folder written with a different specification is refused.
        executor : {"local", "ray"}
        workers : int
            Runs at a time (local), or the CPUs of the Ray instance started for the sweep
            divided by threads per run.
        address : str, optional
            Ray only: an existing cluster (``"auto"`` or an address); default: start a local
            instance for the sweep and stop it afterwards.
        threads : "auto" or int
            torch threads per run; ``"auto"``: the free cores divided among ``workers``.
        device : str
            Where each run trains (``"cuda"`` with Ray: also give ``gpus_per_run``).
        gpus_per_run : float
            Ray only: GPUs reserved per run.
        progress : bool
            A progress bar over runs.
        retry_failed : bool
            Rerun runs recorded as failed (default) or keep their failure.

        Returns
        -------
        pandas.DataFrame
            :func:`~dynlens.sweeps.load_results` of the folder, also written as
            ``results.csv``.

        Examples
        --------
        One tiny run (a few seconds: each run starts a fresh Python process, which imports
        dynlens and the module of each model family, never the calling script or notebook).

        >>> import pathlib, tempfile
        >>> import dynlens as dl
        >>> sweep = dl.Sweep(systems=["arneodo"], models=["gru"], latent_dims=[2], seeds=[0],
        ...                  data={"n_neurons": 4, "n_trials": 20, "n_bins": 10},
        ...                  fit={"max_epochs": 1}, analysis={"fixed_points": False})
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "runs"
        >>> table = sweep.run(folder, threads=1, progress=False)
        >>> table[["run_id", "status", "epochs"]].values.tolist()
        [['arneodo-gru-d2-s0', 'done', 1]]
        >>> sorted(path.name for path in folder.iterdir())
        ['datasets', 'results.csv', 'runs', 'sweep.toml']
        >>> sweep.run(folder, progress=False)["status"].tolist()  # finished: skipped
        ['done']
        """
        from .runner import run_sweep

        return run_sweep(self, out_dir, executor=executor, workers=workers, address=address,
                         threads=threads, device=device, gpus_per_run=gpus_per_run,
                         progress=progress, retry_failed=retry_failed)
