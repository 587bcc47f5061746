"""dynlens's own dataset files: ``.h5`` (HDF5) and ``.npz`` (NumPy), written atomically.

HDF5 layout (``.h5`` / ``.hdf5``)
---------------------------------
- root attributes: ``format = "dynlens.NeuralDataset"`` (the marker that tells dynlens files
  from foreign ones), ``format_version``, ``metadata`` (a JSON string), ``bin_width``
  (a float; absent when unknown) and ``n_forward`` (an int; absent when 0);
- datasets ``spikes`` [trials, bins, neurons] (integer counts) and, where known, ``latents``,
  ``rates``, ``log_rates``, ``inputs``; ``heldout_neurons`` (1-D int, possibly empty);
- group ``splits`` with one 1-D int dataset per split name (``train``, ``valid``, ``test``).

NPZ layout (``.npz``, read with ``allow_pickle=False``)
-------------------------------------------------------
Arrays ``format`` (the same marker string), ``format_version``, ``metadata`` (JSON string),
``spikes``, the truth arrays where known, ``bin_width`` (0-d float, absent when unknown),
``n_forward`` (0-d int, absent when 0), ``heldout_neurons`` and ``split_<name>`` for every
split.

``format_version`` is 1, or 2 for data with forward-prediction bins: a reader that predates
them (version 1) refuses such a file rather than hand a model the bins it must not see.

Files are written to a temporary file beside the target and renamed onto it only when complete,
so an interrupted save leaves any previous file intact.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from dynlens.data import NeuralDataset, load_dataset
>>> data = NeuralDataset.from_arrays(np.ones((10, 4, 3), int), bin_width=0.5,
...                                  metadata={"source": "example"})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "data.h5"
>>> data.save(path)
>>> back = load_dataset(path)
>>> back.spikes.shape, back.bin_width, back.metadata
((10, 4, 3), 0.5, {'source': 'example'})
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np

from ..errors import (
    DynlensError,
    DynlensFileFormatError,
    DynlensTypeError,
    DynlensValueError,
)
from ..utils import atomic_path, check_readable_file
from .dataset import NeuralDataset

__all__ = ["FORMAT_MARKER", "FORMAT_VERSION", "load_dataset", "save_dataset"]

FORMAT_MARKER = "dynlens.NeuralDataset"
FORMAT_VERSION = 2
_H5_SUFFIXES = (".h5", ".hdf5")
_NPZ_SUFFIXES = (".npz",)
_ARRAYS = ("spikes", "latents", "rates", "log_rates", "inputs")


def _check_path(path, name: str = "path") -> tuple[Path, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise DynlensTypeError(f"{name}: expected a file path, found {type(path).__name__}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _H5_SUFFIXES:
        return path, "h5"
    if suffix in _NPZ_SUFFIXES:
        return path, "npz"
    raise DynlensValueError(
        f"{name}: expected a file ending in .h5, .hdf5 or .npz, found {str(path)!r}"
    )


def save_dataset(data: NeuralDataset, path: str | os.PathLike) -> None:
    """Write ``data`` to ``path`` in dynlens's own layout, chosen by the extension.

    Parameters
    ----------
    data : NeuralDataset
    path : str or PathLike
        Ends in ``.h5``/``.hdf5`` (HDF5) or ``.npz``. Parent folders are created. The write is
        atomic: a temporary file is renamed onto ``path`` only when complete.
    """
    if not isinstance(data, NeuralDataset):
        raise DynlensTypeError(f"data: expected a NeuralDataset, found {type(data).__name__}")
    path, kind = _check_path(path)
    writer = _write_h5 if kind == "h5" else _write_npz
    with atomic_path(path) as tmp:
        writer(data, tmp)


def _version(data: NeuralDataset) -> int:
    """The oldest format version that holds ``data`` (2 only for forward-prediction bins)."""
    return 2 if data.n_forward else 1


def _write_h5(data: NeuralDataset, tmp: Path) -> None:
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT_MARKER
        f.attrs["format_version"] = _version(data)
        f.attrs["metadata"] = json.dumps(data.metadata)
        if data.bin_width is not None:
            f.attrs["bin_width"] = float(data.bin_width)
        if data.n_forward:
            f.attrs["n_forward"] = int(data.n_forward)
        for name in _ARRAYS:
            arr = getattr(data, name)
            if arr is not None:
                f.create_dataset(name, data=arr, compression="gzip", compression_opts=4,
                                 shuffle=True)
        f.create_dataset("heldout_neurons", data=data.heldout_neurons)
        group = f.create_group("splits")
        for name, idx in data.splits.items():
            group.create_dataset(name, data=idx)


def _write_npz(data: NeuralDataset, tmp: Path) -> None:
    arrays = {
        "format": np.array(FORMAT_MARKER),
        "format_version": np.array(_version(data)),
        "metadata": np.array(json.dumps(data.metadata)),
        "heldout_neurons": data.heldout_neurons,
    }
    if data.bin_width is not None:
        arrays["bin_width"] = np.array(float(data.bin_width))
    if data.n_forward:
        arrays["n_forward"] = np.array(int(data.n_forward))
    for name in _ARRAYS:
        arr = getattr(data, name)
        if arr is not None:
            arrays[name] = arr
    for name, idx in data.splits.items():
        arrays[f"split_{name}"] = idx
    # A file object, not a name: np.savez would append ".npz" to the temporary name.
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def load_dataset(path: str | os.PathLike) -> NeuralDataset:
    """Read a dataset written by :meth:`NeuralDataset.save` (``.h5``/``.hdf5`` or ``.npz``).

    Parameters
    ----------
    path : str or PathLike
        The file; its extension chooses the reader.

    Raises
    ------
    DynlensValueError
        If the extension is not one of ``.h5``, ``.hdf5``, ``.npz``.
    DynlensFileNotFoundError
        If ``path`` does not exist.
    DynlensFileFormatError
        If the file is empty, corrupt, not a dynlens dataset (an LFADS HDF5 file is pointed to
        :func:`dynlens.data.read_lfads_h5`), or holds invalid arrays. The message names the path.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from dynlens.data import simulate
    >>> data = simulate("arneodo", n_neurons=4, n_trials=10, n_bins=20, seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "arneodo.h5"
    >>> data.save(path)
    >>> back = load_dataset(path)
    >>> bool(np.array_equal(back.spikes, data.spikes)), back.metadata["system"]
    (True, 'arneodo')
    """
    path, kind = _check_path(path)
    check_readable_file(path)
    reader = _read_h5 if kind == "h5" else _read_npz
    try:
        fields = reader(path)
    except DynlensError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise DynlensFileFormatError(
            f"path: {str(path)!r} could not be read as a dynlens dataset ({err})"
        ) from err
    try:
        return NeuralDataset(**fields)
    except DynlensError as err:
        raise DynlensFileFormatError(
            f"path: {str(path)!r} holds an invalid dataset: {err}"
        ) from err


def _foreign(path: Path, found: str) -> DynlensFileFormatError:
    hint = ""
    if "train_data" in found or "encod_data" in found:
        hint = "; it looks like an LFADS HDF5 file: use dynlens.data.read_lfads_h5"
    return DynlensFileFormatError(
        f"path: expected a dynlens dataset file (format marker {FORMAT_MARKER!r}) at "
        f"{str(path)!r}, found {found}{hint}"
    )


def _check_version(path: Path, version) -> None:
    if int(version) > FORMAT_VERSION:
        raise DynlensFileFormatError(
            f"path: {str(path)!r} has format_version {int(version)}, newer than this dynlens "
            f"reads ({FORMAT_VERSION}); upgrade dynlens"
        )


def _read_h5(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        marker = f.attrs.get("format")
        if isinstance(marker, bytes):
            marker = marker.decode()
        if marker != FORMAT_MARKER:
            raise _foreign(path, f"keys {sorted(f.keys())} and format {marker!r}")
        _check_version(path, f.attrs.get("format_version", 0))
        fields = {name: f[name][()] for name in _ARRAYS if name in f}
        if "spikes" not in fields:
            raise DynlensFileFormatError(f"path: {str(path)!r} has no 'spikes' dataset")
        fields["heldout_neurons"] = f["heldout_neurons"][()] if "heldout_neurons" in f else None
        fields["splits"] = ({k: v[()] for k, v in f["splits"].items()} if "splits" in f else {})
        fields["bin_width"] = float(f.attrs["bin_width"]) if "bin_width" in f.attrs else None
        fields["n_forward"] = int(f.attrs.get("n_forward", 0))
        fields["metadata"] = json.loads(f.attrs.get("metadata", "{}"))
    return fields


def _read_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        if "format" not in z.files or str(z["format"]) != FORMAT_MARKER:
            raise _foreign(path, f"arrays {sorted(z.files)}")
        _check_version(path, z["format_version"] if "format_version" in z.files else 0)
        fields = {name: z[name] for name in _ARRAYS if name in z.files}
        if "spikes" not in fields:
            raise DynlensFileFormatError(f"path: {str(path)!r} has no 'spikes' array")
        fields["heldout_neurons"] = z["heldout_neurons"] if "heldout_neurons" in z.files else None
        fields["splits"] = {k[len("split_"):]: z[k] for k in z.files if k.startswith("split_")}
        fields["bin_width"] = float(z["bin_width"]) if "bin_width" in z.files else None
        fields["n_forward"] = int(z["n_forward"]) if "n_forward" in z.files else 0
        fields["metadata"] = json.loads(str(z["metadata"])) if "metadata" in z.files else {}
    return fields
