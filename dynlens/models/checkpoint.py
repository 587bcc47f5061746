"""Model checkpoints: tensors plus a JSON config, never arbitrary pickled objects."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import (
    DynlensFileFormatError,
    DynlensFileNotFoundError,
    DynlensNotRegisteredError,
    DynlensTypeError,
    DynlensUnsafeCheckpointError,
)
from ..utils import atomic_path, resolve_device
from .base import available, check_model, get

__all__ = ["load_model", "read_checkpoint", "save_model", "write_checkpoint"]

_FORMAT = "dynlens-checkpoint"
_VERSION = 1


def write_checkpoint(path, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (tensors, numbers, strings, lists, dicts) with torch.save."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; refuse anything that needs unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise DynlensFileNotFoundError(
            f"path: expected an existing checkpoint file, found no file at {path}"
        )
    if not zipfile.is_zipfile(path):
        raise DynlensFileFormatError(
            "path: expected a dynlens checkpoint (a torch zip archive), found another kind of "
            f"file at {path}"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise DynlensUnsafeCheckpointError(
            f"path: {path} holds pickled Python objects beyond tensors and JSON "
            f"({', '.join(_unsafe_globals(path)) or 'unknown globals'}); dynlens refuses to "
            f"unpickle it because that could run arbitrary code"
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as err:
        raise DynlensFileFormatError(
            "path: expected a dynlens checkpoint, found an unreadable or corrupt file at "
            f"{path} ({err})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise DynlensFileFormatError(
            f"path: expected a dynlens checkpoint, found a foreign file at {path}"
        )
    return payload


def _unsafe_globals(path: Path) -> list[str]:
    """Names of the Python objects a checkpoint would import when unpickled (read, not run)."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - only used to enrich an error message
        return []


def save_model(model: nn.Module, path) -> None:
    """Save ``model`` (any registered family) as tensors plus its JSON config, atomically.

    What :func:`dynlens.fit` trained it on (``model.trained_on``, see
    :func:`~dynlens.models.training_record`) is saved with it and restored by
    :func:`load_model`, so that evaluating it on other data warns.

    Parameters
    ----------
    model : Model
        A model of a registered family (:func:`~dynlens.models.available`).
    path : str or PathLike
        The file to write (``.pt`` by convention); its folder is created if missing.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> from dynlens.models import SAE
    >>> model = SAE(n_neurons=4, latent_dim=2, generator="gru")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.pt"
    >>> save_model(model, path)
    >>> clone = load_model(path)
    >>> all(torch.equal(a, b)
    ...     for a, b in zip(model.state_dict().values(), clone.state_dict().values()))
    True
    """
    if check_model(model).model_type not in available():
        raise DynlensTypeError(
            f"model: expected a registered dynlens model ({', '.join(available())}), found "
            f"{type(model).__name__}"
        )
    write_checkpoint(path, {
        "format": _FORMAT,
        "version": _VERSION,
        "model_type": model.model_type,
        "config": json.dumps(model.config.to_dict()),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        # what dl.fit trained it on (dynlens.models.training_record), or null
        "trained_on": json.dumps(getattr(model, "trained_on", None)),
    })


def load_model(path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a model saved by :func:`save_model` (or ``best.pt`` written by ``fit``) onto ``device``.

    Loading never unpickles arbitrary objects: a file that needs it raises
    :class:`~dynlens.errors.DynlensUnsafeCheckpointError` without running anything.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file.
    device : str or torch.device
        Where the model's tensors go: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> import dynlens as dl
    >>> model = dl.models.SAE(n_neurons=4, latent_dim=2, generator="gru", heldout_neurons=[3])
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> model.save(folder / "model.pt")
    >>> clone = load_model(folder / "model.pt")
    >>> type(clone).__name__, clone.config == model.config, clone.heldout_neurons
    ('SAE', True, [3])
    >>> spikes = np.ones((2, 5, 4))
    >>> bool(np.allclose(clone.infer(spikes).rates, model.infer(spikes).rates))
    True
    >>> load_model(folder / "missing.pt")
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensFileNotFoundError: path: expected an existing checkpoint file, ...
    """
    payload = read_checkpoint(path)
    model_type = payload.get("model_type")
    if model_type not in available():
        raise DynlensFileFormatError(
            f"path: {path} holds model_type {model_type!r}; expected one of {available()} "
            f"(register a model family with dynlens.models.register before loading)"
        )
    try:
        config = json.loads(payload["config"])
        model = get(model_type).from_config(config)
        model.load_state_dict(payload["state_dict"])
        trained_on = json.loads(payload.get("trained_on", "null"))  # older files: none
        if trained_on is not None:
            model.trained_on = trained_on
    except DynlensNotRegisteredError as err:  # intact, but its generator's module is needed
        raise DynlensNotRegisteredError(f"path: {path} holds a model whose {err}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise DynlensFileFormatError(
            f"path: {path} is a damaged dynlens checkpoint ({err})"
        ) from err
    return model.to(resolve_device(device))
