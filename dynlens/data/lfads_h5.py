"""Read and write the HDF5 layouts of LFADS (2016) and lfads-torch.

Original LFADS (``layout="lfads"``)
    ``train_data``, ``valid_data``: integer counts [trials, bins, neurons]; optional
    ``train_ext_input`` / ``valid_ext_input`` (inputs), ``train_truth`` / ``valid_truth`` (true
    rates **times** ``conversion_factor``), ``conversion_factor`` (a scalar), ``train_inds`` /
    ``valid_inds`` (each trial's position in the full dataset).
lfads-torch (``layout="lfads_torch"``)
    ``{split}_encod_data`` (the held-in neurons the encoder sees) and ``{split}_recon_data``
    (the neurons to reconstruct: held-in first, then held-out; it may also hold extra forward
    bins) for ``split`` in train/valid/test, with the same optional ``{split}_ext_input``,
    ``{split}_truth``, ``{split}_inds`` and ``conversion_factor``.

On reading, the layout is detected from the keys; truth is divided by ``conversion_factor``
(giving expected counts per bin when the file was written by dynlens, whose default factor is
1); trials are put back in their original order when ``{split}_inds`` allow it (else train,
then valid, then test); recon neurons beyond the encod ones become ``heldout_neurons``. A
split with ``encod_data`` but no ``recon_data`` (e.g. the hidden test set of an NLB file) is
skipped.

dynlens also writes a few extra keys that both LFADS codes ignore, so that its own round trips
are exact: ``test_*`` in the original layout, ``{split}_latents`` (true latents) and the root
attributes ``dynlens_metadata``, ``dynlens_bin_width``, ``dynlens_heldout_neurons`` and
``dynlens_neuron_order`` (JSON).

LFADS output keys (both layouts), written by ``write_lfads_h5(..., inference=...)`` and read by
:func:`read_lfads_output`, one set per split, rows in the order of ``{split}_data`` /
``{split}_recon_data``:

``{split}_output_params``
    Inferred rates [trials, bins, neurons] **times** ``conversion_factor`` (like truth), the
    neurons in the order of the data keys.
``{split}_factors``
    Factors [trials, bins, n_factors].
``{split}_gen_states``
    Generator states [trials, bins, gen_dim] (a dynlens model's ``latents``).
``{split}_ic_mean``, ``{split}_ic_std``
    Posterior mean and standard deviation of the initial condition [trials, ic_dim].
``{split}_co_means``
    Inferred inputs [trials, bins, co_dim].

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from dynlens.data import NeuralDataset, read_lfads_h5, write_lfads_h5
>>> rng = np.random.default_rng(0)
>>> rates = rng.uniform(0.5, 2.0, size=(20, 8, 4))
>>> data = NeuralDataset.from_arrays(rng.poisson(rates), rates=rates)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "lfads.h5"
>>> write_lfads_h5(data, path, conversion_factor=100.0)
>>> back = read_lfads_h5(path)
>>> bool(np.array_equal(back.spikes, data.spikes)), bool(np.allclose(back.rates, data.rates))
(True, True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from ..errors import (
    DynlensError,
    DynlensFileFormatError,
    DynlensTypeError,
    DynlensValueError,
)
from ..utils import (
    as_numpy,
    atomic_path,
    check_choice,
    check_positive_float,
    check_readable_file,
)
from .dataset import SPLIT_NAMES, NeuralDataset

__all__ = ["LAYOUTS", "OUTPUT_KEYS", "read_lfads_h5", "read_lfads_output", "write_lfads_h5"]

LAYOUTS = ("lfads", "lfads_torch")

#: LFADS output keys (without the ``{split}_`` prefix), in the order they are written.
OUTPUT_KEYS = ("output_params", "factors", "gen_states", "ic_mean", "ic_std", "co_means")


def _as_path(path, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise DynlensTypeError(f"{name}: expected a file path, found {type(path).__name__}")
    return Path(path)


def write_lfads_h5(data: NeuralDataset, path: str | os.PathLike, conversion_factor: float = 1.0,
                   layout: str = "lfads", inference=None) -> None:
    """Write ``data`` as an LFADS HDF5 file, atomically.

    Parameters
    ----------
    data : NeuralDataset
        Every trial must belong to a split; ``train`` must exist.
    path : str or PathLike
        Target file (any extension; ``.h5`` is usual).
    conversion_factor : float
        Truth is stored as ``rates * conversion_factor`` (``rates`` in expected counts per bin).
        The default 1.0 stores counts per bin; ``1 / bin_width_in_seconds`` would store Hz.
    layout : {"lfads", "lfads_torch"}
        ``"lfads"``: original keys ``{split}_data`` (all neurons). ``"lfads_torch"``:
        ``{split}_encod_data`` (held-in neurons) and ``{split}_recon_data`` (held-in, then
        held-out neurons).
    inference : Inference or object, optional
        A model's outputs for **all** trials of ``data``, in data order: any object with the
        attributes of :class:`dynlens.Inference` (read by name, nothing else is required).
        When given, the file also gets the LFADS output keys of every split (see the module
        docstring): ``rates`` [trials, bins, neurons] (required) -> ``output_params`` (times
        ``conversion_factor``, neurons reordered like the data keys), ``latents`` ->
        ``gen_states``, ``initial_conditions`` [trials, ic_dim] -> ``ic_mean``, ``factors``
        -> ``factors``, ``inputs`` -> ``co_means`` and ``extras["ic_std"]`` -> ``ic_std``. An
        attribute that is missing or None writes no key.

    Raises
    ------
    DynlensValueError
        If ``layout`` or ``conversion_factor`` is invalid, a trial is in no split, there is no
        ``train`` split, or an ``inference`` array does not cover ``data``'s trials, bins or
        neurons.
    DynlensTypeError
        If ``data`` is not a NeuralDataset, ``path`` not a path, or ``inference`` has no
        ``rates`` or holds something that is not an array of numbers.

    Examples
    --------
    >>> import tempfile, pathlib, types
    >>> from dynlens.data import read_lfads_output, simulate, write_lfads_h5
    >>> data = simulate("arneodo", n_neurons=4, n_trials=10, n_bins=5, seed=0)
    >>> fake = types.SimpleNamespace(rates=data.rates, latents=data.latents)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.h5"
    >>> write_lfads_h5(data, path, inference=fake)
    >>> out = read_lfads_output(path)
    >>> sorted(out), sorted(out["train"])
    (['test', 'train', 'valid'], ['gen_states', 'output_params'])
    """
    if not isinstance(data, NeuralDataset):
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    path = _as_path(path)
    conversion_factor = check_positive_float(conversion_factor, "conversion_factor")
    layout = check_choice(layout, LAYOUTS, "layout")
    if "train" not in data.splits:
        raise DynlensValueError(
            f"data.splits: expected a 'train' split for the LFADS layout, found "
            f"{sorted(data.splits) or 'no splits'}"
        )
    covered = np.concatenate(list(data.splits.values()))
    if covered.size != data.n_trials:
        raise DynlensValueError(
            f"data.splits: expected every trial in a split for the LFADS layout, found "
            f"{data.n_trials - covered.size} of {data.n_trials} trials in none"
        )
    outputs = {} if inference is None else _inference_outputs(inference, data)
    # lfads-torch puts held-in neurons first and held-out ones last in recon_data.
    order = (np.concatenate([data.heldin_neurons, data.heldout_neurons])
             if layout == "lfads_torch" else np.arange(data.n_neurons))
    # forward-prediction bins: lfads-torch keeps them out of encod_data (the encoder's input)
    n_fwd = data.n_forward or int(data.metadata.get("lfads_forward_bins", 0))
    n_fwd = n_fwd if layout == "lfads_torch" and 0 < n_fwd < data.n_bins else 0
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["dynlens_metadata"] = json.dumps(data.metadata)
        if data.bin_width is not None:
            f.attrs["dynlens_bin_width"] = float(data.bin_width)
        f.attrs["dynlens_heldout_neurons"] = json.dumps(data.heldout_neurons.tolist())
        f.attrs["dynlens_n_forward"] = int(data.n_forward)
        f.attrs["dynlens_neuron_order"] = json.dumps(order.tolist())
        f.create_dataset("conversion_factor", data=conversion_factor)
        for name, idx in data.splits.items():
            spikes = data.spikes[idx][..., order]
            if layout == "lfads":
                f.create_dataset(f"{name}_data", data=spikes, compression="gzip")
            else:
                n_in = data.heldin_neurons.size
                encod = spikes[:, :data.n_bins - n_fwd, :n_in]
                f.create_dataset(f"{name}_encod_data", data=encod, compression="gzip")
                f.create_dataset(f"{name}_recon_data", data=spikes, compression="gzip")
            f.create_dataset(f"{name}_inds", data=idx)
            if data.rates is not None:
                f.create_dataset(f"{name}_truth", data=data.rates[idx][..., order]
                                 * conversion_factor, compression="gzip")
            if data.inputs is not None:
                f.create_dataset(f"{name}_ext_input", data=data.inputs[idx], compression="gzip")
            if data.latents is not None:
                f.create_dataset(f"{name}_latents", data=data.latents[idx], compression="gzip")
            for key, values in outputs.items():
                values = values[idx]
                if key == "output_params":
                    values = values[..., order] * conversion_factor
                f.create_dataset(f"{name}_{key}", data=values, compression="gzip")


# Where each output key comes from: (attribute of an Inference, its axes after the trials).
_OUTPUT_SOURCES = {"output_params": ("rates", ("bins", "neurons")),
                   "factors": ("factors", ("bins", "n_factors")),
                   "gen_states": ("latents", ("bins", "gen_dim")),
                   "ic_mean": ("initial_conditions", ("ic_dim",)),
                   "ic_std": ("extras['ic_std']", ("ic_dim",)),
                   "co_means": ("inputs", ("bins", "co_dim"))}


def _inference_outputs(inference, data: NeuralDataset) -> dict[str, np.ndarray]:
    """The output arrays of ``inference`` (all trials, data order) by output key, checked.

    ``inference`` is read by attribute name only (the data layer does not import models).
    """
    if getattr(inference, "rates", None) is None:
        raise DynlensTypeError(
            f"inference: expected an object with rates [trials, bins, neurons] like "
            f"dynlens.Inference, found {type(inference).__name__} without rates"
        )
    extras = getattr(inference, "extras", None)
    if extras is not None and not isinstance(extras, Mapping):
        raise DynlensTypeError(
            f"inference: expected extras to be a dict, found {type(extras).__name__}"
        )
    sizes = {"trials": (data.n_trials, "data.n_trials"), "bins": (data.n_bins, "data.n_bins"),
             "neurons": (data.n_neurons, "data.n_neurons")}
    outputs = {}
    for key, (attr, axes) in _OUTPUT_SOURCES.items():
        if key == "ic_std":
            value = None if extras is None else extras.get("ic_std")
        else:
            value = getattr(inference, attr, None)
        if value is None:
            continue
        array = as_numpy(value, f"inference.{attr}")
        axes = ("trials", *axes)
        if array.ndim != len(axes):
            raise DynlensValueError(
                f"inference: expected {attr} of shape [{', '.join(axes)}], found shape "
                f"{array.shape}"
            )
        for axis, what in enumerate(axes):
            if what in sizes and array.shape[axis] != sizes[what][0]:
                raise DynlensValueError(
                    f"inference: expected {attr} for {sizes[what][0]} {what} "
                    f"({sizes[what][1]}), found {array.shape[axis]}"
                )
        outputs[key] = array
    return outputs


def _detect_layout(keys) -> str | None:
    if any(f"{s}_encod_data" in keys or f"{s}_recon_data" in keys for s in SPLIT_NAMES):
        return "lfads_torch"
    if any(f"{s}_data" in keys for s in SPLIT_NAMES):
        return "lfads"
    return None


def read_lfads_h5(path: str | os.PathLike) -> NeuralDataset:
    """Read an LFADS or lfads-torch HDF5 file into a :class:`NeuralDataset`.

    The layout is detected from the keys (see the module docstring). True rates come back in
    the file's truth units divided by ``conversion_factor``.

    Parameters
    ----------
    path : str or PathLike
        An HDF5 file in the LFADS or the lfads-torch layout.

    Raises
    ------
    DynlensFileNotFoundError
        If ``path`` does not exist.
    DynlensFileFormatError
        If the file is empty, not HDF5, has neither layout's keys, or holds arrays whose shapes
        disagree across splits. The message names the path.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from dynlens.data import simulate
    >>> data = simulate("lorenz", n_neurons=4, n_trials=10, n_bins=20, n_heldout=1, seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lorenz_lfads.h5"
    >>> write_lfads_h5(data, path, layout="lfads_torch")  # held-in neurons in encod_data
    >>> back = read_lfads_h5(path)
    >>> bool(np.array_equal(back.spikes, data.spikes)), back.heldout_neurons.tolist()
    (True, [3])
    """
    path = _as_path(path)
    fields = _read_h5(path, _read_fields)
    try:
        return NeuralDataset(**fields)
    except DynlensError as err:
        raise DynlensFileFormatError(f"path: {str(path)!r} holds invalid data: {err}") from err


def _attr_json(f: h5py.File, key: str, default):
    return json.loads(f.attrs[key]) if key in f.attrs else default


def _conversion_factor(f: h5py.File, path: Path) -> float:
    """The file's ``conversion_factor`` (1.0 when absent); it must be positive and finite."""
    cf = float(np.asarray(f["conversion_factor"][()])) if "conversion_factor" in f else 1.0
    if not np.isfinite(cf) or cf <= 0:
        raise DynlensFileFormatError(
            f"path: expected a positive conversion_factor in {str(path)!r}, found {cf}"
        )
    return cf


def _neuron_order(f: h5py.File, n_neurons: int) -> np.ndarray:
    """The file's neuron order as dynlens wrote it (identity when absent or inconsistent)."""
    order = np.asarray(_attr_json(f, "dynlens_neuron_order", list(range(n_neurons))))
    if order.shape != (n_neurons,) or not np.array_equal(np.sort(order), np.arange(n_neurons)):
        order = np.arange(n_neurons)
    return order


def _read_parts(f: h5py.File, path: Path) -> tuple[str, list[str], float, dict]:
    """The file's layout, split names, conversion factor and arrays."""
    keys = set(f.keys())
    layout = _detect_layout(keys)
    if layout is None:
        raise DynlensFileFormatError(
            f"path: expected LFADS keys ('train_data'/'valid_data' or "
            f"'train_encod_data'/'train_recon_data') in {str(path)!r}, found {sorted(keys)}"
        )
    data_key = "_data" if layout == "lfads" else "_recon_data"
    names = [s for s in SPLIT_NAMES if f"{s}{data_key}" in keys]
    if not names:
        raise DynlensFileFormatError(
            f"path: {str(path)!r} has encod_data but no recon_data keys, found {sorted(keys)}"
        )
    cf = _conversion_factor(f, path)

    parts: dict[str, dict[str, np.ndarray]] = {}
    for s in names:
        part = {"spikes": f[f"{s}{data_key}"][()]}
        for field, key in (("rates", "truth"), ("inputs", "ext_input"), ("latents", "latents"),
                           ("inds", "inds"), ("encod", "encod_data")):
            if f"{s}_{key}" in keys:
                part[field] = f[f"{s}_{key}"][()]
        if "rates" in part:
            part["rates"] = part["rates"] / cf
        parts[s] = part

    _check_parts(parts, names, data_key, path)
    return layout, names, cf, parts


def _check_parts(parts: dict, names: list[str], data_key: str, path: Path) -> None:
    """Every split has the same bins and neurons, and the same optional fields."""
    first = parts[names[0]]["spikes"]
    for s in names:
        sp = parts[s]["spikes"]
        if sp.ndim != 3 or sp.shape[1:] != first.shape[1:]:
            raise DynlensFileFormatError(
                f"path: expected {s}{data_key} in {str(path)!r} to have shape [trials, "
                f"{first.shape[1]}, {first.shape[2]}] like {names[0]}, found {sp.shape}"
            )
        for field in ("rates", "inputs", "latents"):
            present = [field in parts[t] for t in names]
            if any(present) and not all(present):
                raise DynlensFileFormatError(
                    f"path: {str(path)!r} has {field} for some splits but not others"
                )


def _heldout_and_metadata(f: h5py.File, path: Path, layout: str, names: list[str],
                          parts: dict) -> tuple[np.ndarray, dict]:
    """Held-out neurons (lfads-torch: the neurons missing from encod_data) and metadata."""
    first = parts[names[0]]["spikes"]
    n_neurons = first.shape[2]
    metadata = _attr_json(f, "dynlens_metadata", {})
    heldout = np.zeros(0, dtype=np.int64)
    if layout == "lfads_torch":
        encod = parts[names[0]].get("encod")
        if encod is not None:
            n_in = encod.shape[2]
            heldout = np.arange(n_in, n_neurons)
            n_fwd = first.shape[1] - encod.shape[1]
            if n_fwd > 0:
                metadata["lfads_forward_bins"] = int(n_fwd)
            for s in names:
                enc, rec = parts[s].get("encod"), parts[s]["spikes"]
                if enc is None or not np.array_equal(enc, rec[:, :enc.shape[1], :n_in]):
                    raise DynlensFileFormatError(
                        f"path: expected {s}_encod_data in {str(path)!r} to equal the first "
                        f"{n_in} neurons of {s}_recon_data"
                    )
    else:
        heldout = np.asarray(_attr_json(f, "dynlens_heldout_neurons", []), dtype=np.int64)
    return heldout, metadata


def _trial_positions(parts: dict, names: list[str]) -> tuple[np.ndarray, list[int]]:
    """Where each stored trial goes in the whole data set, and the split sizes."""
    # Put trials back in their original positions when the inds allow it.
    sizes = [parts[s]["spikes"].shape[0] for s in names]
    total = sum(sizes)
    if all("inds" in parts[s] for s in names):
        position = np.concatenate([np.asarray(parts[s]["inds"]).ravel() for s in names])
        if position.size != total or not np.array_equal(np.sort(position), np.arange(total)):
            position = np.arange(total)
    else:
        position = np.arange(total)
    position = position.astype(np.int64)
    return position, sizes


def _read_fields(f: h5py.File, path: Path) -> dict:
    layout, names, cf, parts = _read_parts(f, path)
    heldout, metadata = _heldout_and_metadata(f, path, layout, names, parts)
    n_neurons = parts[names[0]]["spikes"].shape[2]
    # Undo the neuron reordering dynlens applied when writing (held-out neurons moved last).
    order = _neuron_order(f, n_neurons)
    inverse = np.argsort(order)
    heldout = np.sort(order[heldout])

    position, sizes = _trial_positions(parts, names)

    def gather(field: str, neurons: bool):
        if field not in parts[names[0]]:
            return None
        stacked = np.concatenate([parts[s][field] for s in names])
        out = np.empty_like(stacked)
        out[position] = stacked[..., inverse] if neurons else stacked
        return out

    bounds = np.cumsum([0, *sizes])
    splits = {s: np.sort(position[bounds[i]:bounds[i + 1]]) for i, s in enumerate(names)}
    bin_width = float(f.attrs["dynlens_bin_width"]) if "dynlens_bin_width" in f.attrs else None
    if "dynlens_metadata" not in f.attrs:  # a foreign file: say where the data came from
        metadata = {"source_format": layout, "source_path": str(path), "conversion_factor": cf,
                    **metadata}
    # forward bins: recorded by dynlens, else the bins lfads-torch's encod_data leaves out
    n_forward = int(f.attrs.get("dynlens_n_forward", metadata.get("lfads_forward_bins", 0)))
    return {"spikes": gather("spikes", True), "rates": gather("rates", True),
            "inputs": gather("inputs", False), "latents": gather("latents", False),
            "splits": splits, "heldout_neurons": heldout, "bin_width": bin_width,
            "metadata": metadata, "n_forward": n_forward}


def read_lfads_output(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Read the LFADS output keys of an HDF5 file, split by split.

    Parameters
    ----------
    path : str or PathLike
        An LFADS HDF5 file holding output keys (``{split}_output_params``, ``{split}_factors``,
        ``{split}_gen_states``, ``{split}_ic_mean``, ``{split}_ic_std``, ``{split}_co_means``),
        e.g. one written by ``write_lfads_h5(..., inference=...)``.

    Returns
    -------
    dict of str -> dict of str -> ndarray
        ``out[split][key]`` for every output key in the file, the key without its split prefix
        (``out["train"]["factors"]``); keys and splits that are absent are left out. Rows are
        in the order of the split's data rows (``{split}_inds`` says where each trial sits in
        the whole data set). ``output_params`` comes back in expected counts per bin, i.e.
        divided by the file's ``conversion_factor`` (like truth in :func:`read_lfads_h5`), with
        dynlens's neuron reordering undone, so its neurons match ``read_lfads_h5(path)``.

    Raises
    ------
    DynlensFileNotFoundError
        If ``path`` does not exist.
    DynlensFileFormatError
        If the file is empty, not HDF5, or holds no output key. The message names the path.

    Examples
    --------
    >>> import tempfile, pathlib, types
    >>> import numpy as np
    >>> from dynlens.data import read_lfads_output, simulate, write_lfads_h5
    >>> data = simulate("arneodo", n_neurons=4, n_trials=10, n_bins=5, n_heldout=1, seed=0)
    >>> fake = types.SimpleNamespace(rates=data.rates, initial_conditions=data.latents[:, 0])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.h5"
    >>> write_lfads_h5(data, path, conversion_factor=100.0, layout="lfads_torch", inference=fake)
    >>> out = read_lfads_output(path)
    >>> valid = data.splits["valid"]
    >>> bool(np.allclose(out["valid"]["output_params"], data.rates[valid]))
    True
    >>> bool(np.array_equal(out["valid"]["ic_mean"], data.latents[valid, 0]))
    True
    """
    return _read_h5(_as_path(path), _read_outputs)


def _read_h5(path: Path, read):
    """``read(file, path)`` on an open HDF5 file; h5py's errors become a file-format error."""
    check_readable_file(path)
    try:
        with h5py.File(path, "r") as f:
            return read(f, path)
    except DynlensError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DynlensFileFormatError(
            f"path: {str(path)!r} could not be read as an LFADS HDF5 file ({err})"
        ) from err


def _read_outputs(f: h5py.File, path: Path) -> dict[str, dict[str, np.ndarray]]:
    keys = set(f.keys())
    out = {s: {k: f[f"{s}_{k}"][()] for k in OUTPUT_KEYS if f"{s}_{k}" in keys}
           for s in SPLIT_NAMES}
    out = {s: arrays for s, arrays in out.items() if arrays}
    if not out:
        raise DynlensFileFormatError(
            f"path: expected LFADS output keys ('{{split}}_' + one of {', '.join(OUTPUT_KEYS)}) "
            f"in {str(path)!r}, found {sorted(keys)}"
        )
    cf = _conversion_factor(f, path)
    for arrays in out.values():
        rates = arrays.get("output_params")
        if rates is not None:  # undo the neuron reordering and the conversion factor
            arrays["output_params"] = rates[..., np.argsort(_neuron_order(f, rates.shape[-1]))] / cf
    return out
