"""Exceptions raised by dynlens.

Every error dynlens raises on bad input is a :class:`DynlensError`. Each concrete
class also derives from the matching built-in exception, so ``except ValueError``
keeps working in user code. Messages name the argument, what was expected and what
was found.

Examples
--------
>>> from dynlens.errors import DynlensValueError, DynlensError
>>> try:
...     raise DynlensValueError("n_neurons: expected a positive integer, found -3")
... except ValueError as err:
...     isinstance(err, DynlensError)
True
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = [
    "DynlensDivergenceError",
    "DynlensError",
    "DynlensFileFormatError",
    "DynlensFileNotFoundError",
    "DynlensMissingDependencyError",
    "DynlensNoDynamicsError",
    "DynlensNotFittedError",
    "DynlensNotRegisteredError",
    "DynlensOtherDataWarning",
    "DynlensTypeError",
    "DynlensUnsafeCheckpointError",
    "DynlensValueError",
    "DynlensWarning",
]


class DynlensError(Exception):
    """Base class of every error dynlens raises on purpose.

    Examples
    --------
    >>> import dynlens as dl
    >>> try:
    ...     dl.simulate("lorentz")
    ... except dl.DynlensError as err:  # each one is also a ValueError, TypeError, ...
    ...     print(type(err).__name__, isinstance(err, ValueError))
    DynlensValueError True
    """


class DynlensValueError(DynlensError, ValueError):
    """An argument has the right type but a wrong value, shape or content."""


class DynlensTypeError(DynlensError, TypeError):
    """An argument has the wrong type."""


class DynlensFileNotFoundError(DynlensError, FileNotFoundError):
    """A path that should exist does not."""


class DynlensFileFormatError(DynlensError, ValueError):
    """A file exists but is empty, corrupt, or not in the expected format."""


class DynlensDivergenceError(DynlensError, RuntimeError):
    """Training produced NaN/inf or diverged; the best checkpoint was kept."""


class DynlensUnsafeCheckpointError(DynlensFileFormatError):
    """A checkpoint holds something other than tensors and JSON (e.g. pickled objects)."""


class DynlensMissingDependencyError(DynlensError, ImportError):
    """A function needs an optional package that is not installed; the message names the
    extra that installs it."""


class DynlensNoDynamicsError(DynlensError, AttributeError):
    """A model without a generator (e.g. a transformer) was asked for its ``dynamics``.

    Also an ``AttributeError``, so ``hasattr(model, "dynamics")`` is False for such models.
    """


class DynlensNotRegisteredError(DynlensValueError):
    """A name that nothing registered (e.g. a checkpoint's SAE generator); the message names
    the module to import, which registers it."""


class DynlensNotFittedError(DynlensValueError, NotFittedError):
    """An estimator was used before ``fit`` (also scikit-learn's ``NotFittedError``).

    Examples
    --------
    >>> import numpy as np
    >>> import dynlens as dl
    >>> dl.AffineAlignment().transform(np.zeros((2, 3)))
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensNotFittedError: alignment: this AffineAlignment is not fitted yet; ...
    """


class DynlensWarning(UserWarning):
    """Base class of every warning dynlens gives on purpose (the ``dynlens`` command prints
    each as one line)."""


class DynlensOtherDataWarning(DynlensWarning):
    """A model is given data other than those it was trained on (see
    :func:`dynlens.models.other_data_message`).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("trained on lorenz data, given rossler data", DynlensOtherDataWarning)
    >>> issubclass(caught[0].category, DynlensWarning), str(caught[0].message)[:17]
    (True, 'trained on lorenz')
    """
