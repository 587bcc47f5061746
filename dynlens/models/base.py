"""The contract every model family meets, and the registry that names them.

:func:`dynlens.fit`, :func:`dynlens.evaluate`, checkpoints, the command line and the analysis
report talk to a model only through this contract, so a new family (LFADS, a transformer,
your own) is one new module plus one :func:`register` call.

A model is a :class:`Model`: a ``torch.nn.Module`` with

- ``model_type`` (class attribute): its registry name, written into checkpoints;
- ``config``: a dataclass instance with ``to_dict()``; ``type(model)(**config.to_dict())``
  rebuilds the model (checkpoints store it as JSON);
- ``n_neurons`` and ``heldout_neurons``: neurons it predicts, and those it predicts but is
  never given as input (co-smoothing);
- ``n_forward``: forward-prediction bins at the end of every trial, predicted but never given
  as input (the Neural Latents Benchmark's fp-bps); ``config.n_forward`` None means unset:
  ``fit`` takes the data's (``adopt_forward``) and ``infer`` follows the data;
- ``loss(batch, *, n_bins=None, epoch=0) -> LossTerms``: the training loss of a batch of spike
  counts ``[trials, bins, n_neurons]`` (``n_bins``: score only the first bins, for gradual
  trial lengthening; ``epoch``: for ramped regularisers), with its named terms;
- ``infer(data, batch_size=..., threads="auto") -> Inference``;
- ``dynamics``: a :class:`~dynlens.dynamics.Dynamics` when the model has one; otherwise
  reading it raises :class:`~dynlens.errors.DynlensNoDynamicsError` saying why;
- ``fit_defaults()``: its own default training settings (any :func:`~dynlens.fit` setting);
- ``label``: a short name for reports;
- ``latent_option`` (class attribute, default ``"latent_dim"``): the configuration keyword
  that sets its latent size (what a sweep's ``latent_dims`` axis varies);
- ``loss_label`` (class attribute, default ``"loss"``): what ``loss`` returns, in words;
- ``n_ext_inputs`` (default 0): external inputs it takes; ``fit`` then passes
  ``inputs=`` (from ``data.inputs``) to ``loss`` and ``infer`` reads them from the data;
- ``from_config(config_dict)`` and ``save(path)`` (inherited).

:data:`CONTRACT` names these members and :func:`check_model` is the one gate: it names, in
one error, everything a model lacks. ``fit``, ``evaluate`` and checkpoints call it.

Examples
--------
>>> import dynlens as dl
>>> dl.models.available()
['lfads', 'ndt', 'sae']
>>> model = dl.models.build("sae", n_neurons=4, latent_dim=2, generator="gru")
>>> type(model).__name__, model.fit_defaults()["lr"]
('SAE', 0.01)
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import DynlensNoDynamicsError, DynlensTypeError, DynlensValueError
from ..threads import ThreadPolicy, model_work
from ..utils import check_choice, check_keywords, check_nonnegative_int, check_positive_int
from .inference import Inference

__all__ = ["CONTRACT", "LossTerms", "Model", "available", "build", "check_forward",
           "check_heldout", "check_model", "get", "inputs_of", "register", "spikes_of"]

#: The model contract: every member :func:`check_model` checks (all but ``dynamics``,
#: which a model may lack), and what it is. ``docs/design.md``'s contract table lists these.
CONTRACT: dict[str, str] = {
    "model_type": "class attribute: its registry name, written into checkpoints",
    "config": "a dataclass instance with to_dict(), saved as JSON in checkpoints",
    "from_config": "classmethod rebuilding the model from config.to_dict()",
    "n_neurons": "the neurons it predicts (held-in plus held-out)",
    "heldout_neurons": "neurons predicted but never given as input",
    "n_forward": "forward-prediction bins at the end of every trial",
    "adopt_forward": "adopt_forward(n): take the data's forward bins (fit calls it)",
    "loss": "loss(batch, *, n_bins=None, epoch=0) -> LossTerms",
    "loss_label": "class attribute: what loss returns, in words (the learning curves' label)",
    "infer": "infer(data, batch_size=512, threads='auto') -> Inference",
    "fit_defaults": "fit_defaults() -> dict of dynlens.fit settings",
    "latent_option": "class attribute: the config keyword setting its latent size",
    "n_ext_inputs": "external inputs it takes (0: none)",
    "label": "a short name for reports",
    "save": "save(path): tensors plus the JSON config, atomically",
    "dynamics": "its generator, a Dynamics; optional (reading it may raise "
                "DynlensNoDynamicsError)",
}


@dataclass(frozen=True)
class LossTerms:
    """A batch's training loss and its named parts.

    Attributes
    ----------
    total : torch.Tensor
        The scalar that ``fit`` minimises.
    terms : dict of str to float
        Named parts and weights (e.g. ``{"nll": ..., "kl_ic": ..., "kl_weight": ...}``),
        recorded by ``fit`` as history columns ``train_<name>`` (their mean over batches).
        A model whose loss has one part may leave it empty.

    Examples
    --------
    >>> import torch
    >>> from dynlens.models import SAE, poisson_nll
    >>> log_rates, spikes = torch.zeros(2, 5, 3), torch.ones(2, 5, 3)
    >>> terms = LossTerms(poisson_nll(log_rates, spikes), {"nll": 1.0})
    >>> round(float(terms.total), 4), terms.terms  # rate 1, count 1: a NLL of 1 per entry
    (1.0, {'nll': 1.0})
    >>> out = SAE(n_neurons=3, latent_dim=2, generator="gru").loss(spikes)
    >>> type(out).__name__, out.total.shape, out.total.requires_grad, out.terms
    ('LossTerms', torch.Size([]), True, {})
    """

    total: torch.Tensor
    terms: dict[str, float] = field(default_factory=dict)


class Model(nn.Module):
    """Base class of every dynlens model family (see the module docstring for the contract).

    Subclasses set ``model_type`` and ``config``, and implement ``loss`` and ``infer``;
    those with a generator register it as the submodule ``dynamics``.

    Examples
    --------
    A family of one learnable rate per neuron, constant in time (no generator):

    >>> import dataclasses, numpy as np, torch
    >>> from dynlens.models import Inference, poisson_nll
    >>> @dataclasses.dataclass
    ... class MeanRateConfig:
    ...     n_neurons: int
    ...     def to_dict(self):
    ...         return dataclasses.asdict(self)
    >>> class MeanRate(Model):
    ...     model_type = "mean_rate"
    ...     def __init__(self, n_neurons):
    ...         super().__init__()
    ...         self.config = MeanRateConfig(n_neurons)
    ...         self.log_rate = torch.nn.Parameter(torch.zeros(n_neurons))
    ...     def loss(self, batch, *, n_bins=None, epoch=0):
    ...         return LossTerms(poisson_nll(self.log_rate.expand_as(batch), batch))
    ...     def infer(self, data, batch_size=512, threads="auto"):
    ...         spikes = spikes_of(data, self.n_neurons)
    ...         log_rates = self.log_rate.detach().expand(*spikes.shape).numpy()
    ...         return Inference(rates=np.exp(log_rates), log_rates=log_rates)
    >>> model = MeanRate(n_neurons=3)
    >>> model.n_neurons, model.heldout_neurons, model.n_forward, model.label
    (3, [], 0, 'MeanRate')
    >>> round(float(model.loss(torch.ones(2, 4, 3)).total.detach()), 4)  # rate 1, count 1
    1.0
    >>> model.infer(np.zeros((2, 4, 3)))
    Inference(rates=(2, 4, 3), latents=None)
    >>> MeanRate.from_config(model.config.to_dict()).config == model.config
    True
    >>> model.dynamics
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensNoDynamicsError: model.dynamics: a MeanRate model has no generator ...
    """

    model_type: ClassVar[str] = ""
    latent_option: ClassVar[str] = "latent_dim"
    #: External inputs it takes (``data.inputs`` columns); 0: none.
    n_ext_inputs: int = 0
    #: What ``loss`` returns, in words: the y label of the learning curves (``fit`` records
    #: it in ``history.attrs["loss_label"]``).
    loss_label: ClassVar[str] = "loss"
    config: Any

    @property
    def n_neurons(self) -> int:
        """Neurons the model predicts (held-in plus held-out)."""
        return int(self.config.n_neurons)

    @property
    def heldout_neurons(self) -> list[int]:
        """Neurons predicted but never given as input."""
        return [int(i) for i in getattr(self.config, "heldout_neurons", [])]

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "config" and hasattr(value, "n_neurons"):  # no family has to remember it
            self.register_neuron_indices()

    def register_neuron_indices(self) -> None:
        """Buffers ``heldin_index`` (the neurons given as input) and ``heldout_index``, from
        ``config``; not saved in checkpoints (the config rebuilds them). Called whenever
        ``config`` is set."""
        held = set(self.heldout_neurons)
        self.register_buffer("heldin_index", torch.tensor(
            [i for i in range(self.n_neurons) if i not in held], dtype=torch.long),
            persistent=False)
        self.register_buffer("heldout_index", torch.tensor(sorted(held), dtype=torch.long),
                             persistent=False)

    @property
    def n_forward(self) -> int:
        """Forward-prediction bins at the end of every trial (0 while unset)."""
        return int(getattr(self.config, "n_forward", None) or 0)

    def adopt_forward(self, n_forward: int) -> None:
        """Take the data's forward-prediction bins (``fit`` calls this before training).

        An unset ``config.n_forward`` (None) becomes ``n_forward``; a set one must equal it.
        """
        current = getattr(self.config, "n_forward", None)
        if n_forward and not hasattr(self.config, "n_forward"):
            raise DynlensValueError(
                f"data: a {type(self).__name__} cannot predict forward bins; expected data "
                f"with n_forward=0, found {n_forward}")
        if current is None and n_forward:
            self.config.n_forward = int(n_forward)
        elif current is not None and current != n_forward:
            raise _forward_mismatch(current, n_forward)

    def forward_bins_of(self, data: Any) -> int:
        """The forward bins ``infer`` leaves out of the input: the data's when ``data`` is a
        NeuralDataset (checked against a set ``config.n_forward``), else the model's."""
        found = getattr(data, "n_forward", None)
        current = getattr(self.config, "n_forward", None)
        if found is None:
            return self.n_forward
        if current is not None and current != found:
            raise _forward_mismatch(current, found)
        return int(found)

    def input_spikes(self, spikes: torch.Tensor, n_forward: int | None = None) -> torch.Tensor:
        """What the model may see of ``spikes`` ``[batch, bins, n_neurons]``: the held-in
        neurons of all but the last ``n_forward`` bins (default: the model's)."""
        if spikes.ndim != 3 or spikes.shape[-1] != self.n_neurons:
            raise DynlensValueError(
                f"spikes: expected shape [batch, bins, {self.n_neurons}], found "
                f"{tuple(spikes.shape)}")
        n_forward = self.n_forward if n_forward is None else n_forward
        if spikes.shape[1] <= n_forward:
            raise DynlensValueError(
                f"spikes: expected more bins than the {n_forward} forward-prediction bin(s), "
                f"found {spikes.shape[1]}")
        return spikes[:, :spikes.shape[1] - n_forward].index_select(-1, self.heldin_index)

    def loss_weights(self, nll: torch.Tensor, heldin_scored: torch.Tensor | None,
                     n_bins: int | None = None) -> torch.Tensor:
        """1 where a reconstruction loss scores an entry of ``nll`` ``[trials, bins,
        neurons]``, else 0.

        Held-out neurons and forward-prediction bins are always scored; held-in neurons of
        the input bins where ``heldin_scored`` (``[trials, input bins, held-in or 1]``) is
        True (all when None); nothing after the first ``n_bins`` bins.
        """
        weight = torch.ones_like(nll)
        if heldin_scored is not None:
            shown = weight[:, :heldin_scored.shape[1]]
            shown[..., self.heldin_index] = heldin_scored.to(nll.dtype).expand(
                *heldin_scored.shape[:2], len(self.heldin_index))
        if n_bins is not None:
            weight[:, n_bins:] = 0
        return weight

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    @property
    def label(self) -> str:
        """A short name for reports and tables (e.g. ``"NODE-3"``)."""
        return type(self).__name__

    def loss(self, batch: torch.Tensor, *, n_bins: int | None = None,
             epoch: int = 0) -> LossTerms:
        """The training loss of ``batch`` ``[trials, bins, n_neurons]``."""
        raise NotImplementedError(f"{type(self).__name__}.loss")

    def infer(self, data: Any, batch_size: int = 512, threads: int | str = "auto") -> Inference:
        """Rates, log-rates, latents, ... for every trial of ``data`` (a
        :class:`~dynlens.data.NeuralDataset` or spike counts ``[trials, bins, n_neurons]``).

        Runs :meth:`infer_batches`: in eval mode, without gradients, in batches of
        ``batch_size`` trials on the model's device, with ``threads`` torch CPU threads
        meanwhile (see :mod:`dynlens.threads`); forward-prediction bins are predicted,
        never read. A family supplies :meth:`infer_batch` (or overrides ``infer`` whole).
        """
        if type(self).infer_batch is Model.infer_batch:
            raise NotImplementedError(f"{type(self).__name__}.infer_batch")
        return self.infer_batches(data, batch_size, threads)

    def infer_batches(self, data: Any, batch_size: int = 512, threads: int | str = "auto",
                      **options: Any) -> Inference:
        """The shared wiring of ``infer``: the spikes, forward bins and external inputs of
        ``data``, checked, through :meth:`infer_batch` (given ``options``) batch by batch
        (:meth:`run_batches`), concatenated into an :class:`Inference`."""
        spikes = spikes_of(data, self.n_neurons)
        n_forward = self.forward_bins_of(data)
        inputs = self.external_inputs(data)

        def step(rows: slice) -> dict[str, np.ndarray]:
            u = None if inputs is None else torch.as_tensor(inputs[rows], device=self.device)
            out = self.infer_batch(torch.as_tensor(spikes[rows], device=self.device),
                                   n_forward=n_forward, inputs=u, **options)
            return {key: value.cpu().numpy() for key, value in out.items()}

        return Inference.from_arrays(self.run_batches(len(spikes), batch_size, threads, step))

    def infer_batch(self, spikes: torch.Tensor, *, n_forward: int,
                    inputs: torch.Tensor | None = None, **options: Any) -> dict[str, torch.Tensor]:
        """One batch of ``infer``: spike counts ``[trials, bins, n_neurons]`` (float32, on the
        model's device), the forward bins not to read, the external inputs (None unless
        ``n_ext_inputs``) -> tensors named as :class:`Inference`'s fields (``log_rates`` or
        ``rates``, ``latents``, ...; other names go to its ``extras``)."""
        raise NotImplementedError(f"{type(self).__name__}.infer_batch")

    def external_inputs(self, data: Any) -> np.ndarray | None:
        """``data.inputs`` as float32 when the model takes ``n_ext_inputs`` of them, else None
        (:func:`inputs_of`)."""
        return inputs_of(data, self.n_ext_inputs)

    def fit_defaults(self) -> dict[str, Any]:
        """Training settings this model uses unless ``fit`` is told otherwise."""
        return {}

    @torch.inference_mode()
    def run_batches(self, n_trials: int, batch_size: int, threads: int | str,
                    step: Any) -> dict[str, np.ndarray]:
        """``step(slice)`` -> dict of arrays, for every batch of trials, concatenated.

        The shared frame of ``infer``: eval mode (every module's own mode restored
        afterwards), inference mode (no gradients, no autograd bookkeeping), the thread
        policy, batches of ``batch_size`` trials. Cheap for one trial: a model already in eval
        mode is not switched, and the work measure is taken only for ``threads="auto"``.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        modes = {module: module.training for module in self.modules()}
        if any(modes.values()):
            self.eval()
        work = model_work(self, min(batch_size, n_trials)) if isinstance(threads, str) else None
        try:
            with ThreadPolicy(threads, work=work):
                parts = [step(slice(s, s + batch_size)) for s in range(0, n_trials, batch_size)]
        finally:
            for module, training in modes.items():
                module.training = training
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def no_dynamics_reason(self) -> str:
        """Why this model has no ``dynamics``, and what to use instead (for the error)."""
        return (f"a {type(self).__name__} model has no generator to open; use its latents "
                f"(model.infer(data).latents) with the alignment metrics instead")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Rebuild a model from ``config.to_dict()`` (checkpoints call this)."""
        return cls(**config)

    def save(self, path) -> None:
        """Write tensors plus the JSON config to ``path`` atomically (see ``load_model``)."""
        from .checkpoint import save_model

        save_model(self, path)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "dynamics":
                raise DynlensNoDynamicsError(f"model.dynamics: {self.no_dynamics_reason()}") \
                    from None
            raise


def _contract_problem(model: Any, name: str) -> str | None:
    """What is wrong with ``model``'s contract member ``name`` (None: nothing)."""
    try:
        value = getattr(model, name)
    except Exception as err:  # noqa: BLE001 - a property failing means the member is missing
        return f"{name} ({type(err).__name__}: {err})" if not isinstance(
            err, AttributeError) else name
    expected = {"model_type": "a non-empty str", "loss_label": "a str", "label": "a str",
                "latent_option": "a str"}.get(name)
    if expected is not None and not (isinstance(value, str) and (value or name != "model_type")):
        return f"{name} ({expected}, found {value!r})"
    if name in ("n_neurons", "n_forward", "n_ext_inputs") and not (
            isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0):
        return f"{name} (an int >= 0, found {value!r})"
    if name == "config" and not callable(getattr(value, "to_dict", None)):
        return "config.to_dict()"
    if name == "loss" and type(model).loss is Model.loss:
        return "loss (not implemented)"
    if name == "infer" and type(model).infer is Model.infer and (
            type(model).infer_batch is Model.infer_batch):
        return "infer (not implemented: neither infer nor infer_batch)"
    if name in ("from_config", "adopt_forward", "loss", "infer", "fit_defaults",
                "save") and not callable(value):
        return f"{name}()"
    return None


def check_model(model: Any, name: str = "model", *, needs: Iterable[str] | None = None) -> Model:
    """Return ``model`` if it meets the model contract, else raise naming all it lacks.

    The one gate of :func:`dynlens.fit`, :func:`dynlens.evaluate` and checkpoints: each
    member of :data:`CONTRACT` (``dynamics`` is optional) must be there, of the right kind.

    Parameters
    ----------
    model : object
        A dynlens model (a subclass of :class:`Model` gets every member but ``model_type``,
        ``config``, ``loss`` and ``infer`` from the base class).
    name : str
        The argument's name, for the message.
    needs : iterable of str, optional
        Only these members (a caller that uses fewer: :func:`dynlens.evaluate` scores any
        object with ``infer``); all by default.

    Raises
    ------
    DynlensTypeError
        Naming every member that is missing or wrong, in one message.

    Examples
    --------
    >>> import torch
    >>> import dynlens as dl
    >>> dl.models.check_model(dl.models.SAE(n_neurons=4)).label
    'NODE-3'
    >>> dl.models.check_model(object(), needs=["infer"])
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: model: a object is not a dynlens model (subclass dynlens.models.Model); it lacks infer
    >>> dl.models.check_model(torch.nn.Linear(2, 2))
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: model: a Linear is not a dynlens model (subclass dynlens.models.Model); it lacks model_type, config, ...
    """  # noqa: E501
    members = [m for m in CONTRACT if m != "dynamics"] if needs is None else list(needs)
    unknown = sorted(set(members) - set(CONTRACT))
    if unknown:
        raise DynlensValueError(f"needs: expected members of CONTRACT, found {unknown}")
    if needs is None and not isinstance(model, nn.Module):
        raise DynlensTypeError(
            f"{name}: expected a dynlens model (an nn.Module subclassing dynlens.models.Model), "
            f"found {type(model).__name__}")
    problems = [p for p in (_contract_problem(model, member) for member in members) if p]
    if problems:
        raise DynlensTypeError(
            f"{name}: a {type(model).__name__} is not a dynlens model (subclass "
            f"dynlens.models.Model); it lacks {', '.join(problems)}")
    return model


def inputs_of(data: Any, n_ext_inputs: int) -> np.ndarray | None:
    """``data.inputs`` as float32, checked against a model taking ``n_ext_inputs`` of them
    (None when it takes none)."""
    if not n_ext_inputs:
        return None
    inputs = getattr(data, "inputs", None)
    if inputs is None or np.shape(inputs)[-1] != n_ext_inputs:
        found = "none" if inputs is None else f"{np.shape(inputs)[-1]}"
        raise DynlensValueError(
            f"data: the model takes {n_ext_inputs} external input(s) from data.inputs; "
            f"found {found}")
    return np.asarray(inputs, dtype=np.float32)


def spikes_of(data: Any, n_neurons: int) -> np.ndarray:
    """Spike counts of a NeuralDataset or an array, validated against the model's neurons."""
    spikes = getattr(data, "spikes", data)
    if isinstance(spikes, torch.Tensor):
        spikes = spikes.detach().cpu().numpy()
    try:
        spikes = np.asarray(spikes, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise DynlensTypeError(
            f"data: expected a NeuralDataset or spike counts [trials, bins, neurons], found "
            f"{type(data).__name__}"
        ) from err
    if spikes.ndim != 3 or spikes.shape[-1] != n_neurons or spikes.shape[0] == 0:
        raise DynlensValueError(
            f"data: expected spike counts of shape [trials, bins, {n_neurons}], "
            f"found {spikes.shape}"
        )
    return spikes


def check_forward(n_forward: Any) -> int | None:
    """``n_forward`` as an int >= 0, or None (unset: ``fit`` takes the data's)."""
    return None if n_forward is None else check_nonnegative_int(n_forward, "n_forward")


def _forward_mismatch(current: int, found: int) -> DynlensValueError:
    return DynlensValueError(
        f"data: the model predicts {current} forward-prediction bin(s) but the data has "
        f"{found}; build the model with n_forward=data.n_forward (or leave it unset for "
        f"dl.fit to take the data's)")


def check_heldout(heldout: Any, n_neurons: int) -> list[int]:
    """``heldout`` as sorted ints: distinct neuron indices in ``[0, n_neurons)``, fewer than
    ``n_neurons`` (some neurons must stay held in), else a DynlensValueError naming it."""
    held = np.asarray(heldout, dtype=int).ravel()
    if held.size and (held.min() < 0 or held.max() >= n_neurons or len(set(held)) != held.size):
        raise DynlensValueError(
            f"heldout_neurons: expected distinct indices in [0, {n_neurons}), "
            f"found {held.tolist()}")
    if held.size >= n_neurons:
        raise DynlensValueError(
            f"heldout_neurons: expected fewer than n_neurons={n_neurons}, found {held.size}")
    return sorted(int(i) for i in held)


_REGISTRY: dict[str, type[Model]] = {}


def register(cls: type[Model]) -> type[Model]:
    """Add a model family to the registry (usable as a class decorator); returns ``cls``.

    Parameters
    ----------
    cls : type
        A subclass of :class:`Model` with a non-empty ``model_type``, its registry name (a
        family registered under the same name before is replaced).

    Examples
    --------
    >>> import dynlens as dl
    >>> dl.models.register(dl.models.SAE) is dl.models.SAE  # again: harmless; or @register
    True
    >>> dl.models.register(dict)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: cls: expected a subclass of dynlens.models.Model, found <class 'dict'>
    >>> class Unnamed(dl.models.Model):  # no model_type
    ...     pass
    >>> dl.models.register(Unnamed)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: cls: expected a non-empty string model_type on Unnamed, found ''
    """  # noqa: E501
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise DynlensTypeError(
            f"cls: expected a subclass of dynlens.models.Model, found {cls!r}")
    if not isinstance(cls.model_type, str) or not cls.model_type:
        raise DynlensTypeError(
            f"cls: expected a non-empty string model_type on {cls.__name__}, found "
            f"{cls.model_type!r}")
    _REGISTRY[cls.model_type] = cls
    return cls


def available() -> list[str]:
    """Names of the registered model families, sorted.

    Examples
    --------
    >>> import dynlens as dl
    >>> names = dl.models.available()
    >>> {"lfads", "ndt", "sae"} <= set(names), names == sorted(names)
    (True, True)
    """
    return sorted(_REGISTRY)


def get(name: str) -> type[Model]:
    """The registered class called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Examples
    --------
    >>> import dynlens as dl
    >>> dl.models.get("sae") is dl.models.SAE
    True
    >>> dl.models.get("sea")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: model: expected one of ..., found 'sea'; did you mean 'sae'?
    """
    return _REGISTRY[check_choice(name, available(), "model")]


def build(name: str, **config: Any) -> Model:
    """Build a registered model family by name from its configuration keywords.

    A keyword the family's constructor does not take is refused with a
    :class:`~dynlens.errors.DynlensTypeError` that lists the ones it takes.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **config
        The family's configuration keywords (those of its config dataclass, e.g.
        :class:`SAEConfig`).

    Examples
    --------
    >>> import dynlens as dl
    >>> dl.models.build("sae", n_neurons=4, latent_dim=2).label
    'NODE-2'
    >>> dl.models.build("sae", n_neurons=4, latent_size=3)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensTypeError: sae: unexpected keyword(s) ['latent_size']; ...
    """
    cls = get(name)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        check_keywords(config, set(params) - {"self"}, name)
    return cls.from_config(config)
