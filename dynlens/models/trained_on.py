"""What a model was trained on, and the one message that says when given data differ from it.

:func:`dynlens.fit` records :func:`training_record` of its data on the model
(``model.trained_on``, a plain dict that checkpoints save and load); ``dl.evaluate``,
``dynlens evaluate``, ``dynlens analyze`` and the analysis report all ask
:func:`other_data_message` whether the data they are given are those, and say its answer in
one line. A model without a record (an old checkpoint, an untrained model) never warns.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

__all__ = ["other_data_message", "training_record"]

#: Hex digits of the spikes' SHA-256 kept as the fingerprint (enough to tell datasets apart).
_FINGERPRINT_DIGITS = 12


def _fingerprint(spikes: Any) -> str:
    """A hash of the spike counts (shape and values), the same for a dataset and its file."""
    counts = np.ascontiguousarray(np.asarray(spikes, dtype=np.float64))
    digest = hashlib.sha256(repr(counts.shape).encode())
    digest.update(counts.tobytes())
    return digest.hexdigest()[:_FINGERPRINT_DIGITS]


def training_record(data: Any) -> dict[str, Any]:
    """What identifies a dataset a model is trained on, as a JSON-ready dict.

    Parameters
    ----------
    data : NeuralDataset
        The data; their ``metadata`` gives the system and its parameters when
        :func:`dynlens.simulate` made them (else both are None).

    Returns
    -------
    dict
        ``system``, ``params``, ``n_neurons``, ``n_trials``, ``n_bins``, ``bin_width`` and
        ``fingerprint`` (the first 12 hex digits of a SHA-256 of the spike counts).

    Examples
    --------
    >>> import dynlens as dl
    >>> data = dl.simulate("lorenz", n_neurons=4, n_trials=6, n_bins=5, seed=0)
    >>> record = training_record(data)
    >>> record["system"], record["params"]["rho"], record["n_neurons"], len(record["fingerprint"])
    ('lorenz', 28.0, 4, 12)
    >>> training_record(data) == record  # the same data, the same record
    True
    """
    metadata = data.metadata if isinstance(getattr(data, "metadata", None), dict) else {}
    spikes = np.asarray(data.spikes)
    params = metadata.get("params")
    return {"system": metadata.get("system"),
            "params": dict(params) if isinstance(params, dict) else None,
            "n_neurons": int(spikes.shape[-1]), "n_trials": int(spikes.shape[0]),
            "n_bins": int(spikes.shape[1]),
            "bin_width": None if data.bin_width is None else float(data.bin_width),
            "fingerprint": _fingerprint(spikes)}


def other_data_message(model: Any, data: Any) -> str | None:
    """One line saying how ``data`` differ from those ``model`` was trained on, or None.

    The only judge of a mismatch: every surface that warns about one says this message.
    Systems are named when they differ ("trained on lorenz data, given rossler data"), else
    the differences are listed: parameters, neurons, trials and bins, bin width and the
    spikes' fingerprint. None when the model has no record (``model.trained_on`` unset, as
    in checkpoints written before dynlens recorded it) or the data are the same.

    Parameters
    ----------
    model : Model
        A model; its ``trained_on`` record (set by :func:`dynlens.fit`) is read if it has one.
    data : NeuralDataset
        The data it is given.

    Examples
    --------
    >>> import dynlens as dl
    >>> lorenz = dl.simulate("lorenz", n_neurons=4, n_trials=6, n_bins=5, seed=0)
    >>> model = dl.models.SAE(n_neurons=4, latent_dim=3)
    >>> other_data_message(model, lorenz) is None  # untrained: no record
    True
    >>> model.trained_on = training_record(lorenz)
    >>> other_data_message(model, lorenz) is None
    True
    >>> other_data_message(model, dl.simulate("rossler", n_neurons=4, n_trials=6, n_bins=5))
    'the model was trained on lorenz data, given rossler data (bin width 0.015, given 0.1688)'
    >>> other_data_message(model, dl.simulate("lorenz", n_neurons=4, n_trials=6, n_bins=5,
    ...                                       seed=1))[:62]
    'the model was trained on other lorenz data: spikes fingerprint'
    """
    record = getattr(model, "trained_on", None)
    if not isinstance(record, dict):
        return None
    given = training_record(data)
    trained_system, given_system = record.get("system"), given["system"]
    if trained_system != given_system:
        head = (f"the model was trained on {_system(trained_system)}, given "
                f"{_system(given_system)}")
        details = _differences(record, given, fingerprint=False)
        return head + (f" ({'; '.join(details)})" if details else "")
    details = _differences(record, given, fingerprint=True)
    if not details:
        return None
    which = f"other {trained_system} data" if trained_system else "other data"
    return f"the model was trained on {which}: {'; '.join(details)}"


def _system(name: str | None) -> str:
    return f"{name} data" if name else "data of no recorded system"


def _differences(record: dict, given: dict, *, fingerprint: bool) -> list[str]:
    """``"what A, given B"`` for each thing that differs (parameters only within a system)."""
    out = []
    if record.get("system") == given["system"] and record.get("params") != given["params"]:
        before, now = record.get("params") or {}, given["params"] or {}
        keys = [k for k in dict.fromkeys([*before, *now]) if before.get(k) != now.get(k)]
        out.append(f"parameters {_pairs(before, keys)}, given {_pairs(now, keys)}")
    if record.get("n_neurons") != given["n_neurons"]:
        out.append(f"{record.get('n_neurons')} neurons, given {given['n_neurons']}")
    shape = (record.get("n_trials"), record.get("n_bins"))
    if shape != (given["n_trials"], given["n_bins"]):
        out.append(f"{shape[0]} trials of {shape[1]} bins, given {given['n_trials']} of "
                   f"{given['n_bins']}")
    width, now = record.get("bin_width"), given["bin_width"]
    if (width is None) != (now is None) or (
            width is not None and not math.isclose(width, now, rel_tol=1e-9)):
        out.append(f"bin width {_number(width)}, given {_number(given['bin_width'])}")
    if fingerprint and record.get("fingerprint") != given["fingerprint"]:
        out.append(f"spikes fingerprint {record.get('fingerprint')}, given "
                   f"{given['fingerprint']}")
    return out


def _pairs(params: dict, keys: list[str]) -> str:
    return ", ".join(f"{k}={_number(params.get(k))}" for k in keys)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
