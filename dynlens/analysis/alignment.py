"""Affine maps between latent spaces (a model's latents onto the true ones, or back)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score

from ..errors import DynlensNotFittedError, DynlensTypeError, DynlensValueError
from ._prepare import as_states

__all__ = ["AffineAlignment"]

_NDIMS = (2, 3)  # samples: [trials, bins, dim] or [n, dim]


def _states(value: Any, name: str, *args: Any, **kwargs: Any) -> tuple[np.ndarray, tuple]:
    """``as_states``, refusing None and a whole dataset with a message that says what to pass
    (data without truth have ``latents`` None)."""
    if value is None:
        raise DynlensValueError(
            f"{name}: expected latents [trials, bins, dim] or [samples, dim], found None; data "
            f"without truth have no true latents (data.latents is None), so there is nothing "
            f"to align with")
    if hasattr(value, "spikes") and hasattr(value, "splits"):
        hint = ("pass its true latents, data.latents" if getattr(value, "latents", None)
                is not None else "it has no true latents (data.latents is None), so there is "
                                 "nothing to align with")
        raise DynlensTypeError(
            f"{name}: expected latents [trials, bins, dim] or [samples, dim], found a "
            f"{type(value).__name__}; {hint}")
    return as_states(value, name, *args, **kwargs)


class AffineAlignment(TransformerMixin, BaseEstimator):
    """Affine map ``target ~ source @ coef_.T + intercept_`` fitted by least squares.

    A scikit-learn estimator (``LinearRegression``, or ``Ridge`` when ``ridge > 0``, does
    the fitting). To put a model's fixed points into true coordinates, fit it with the
    model's latents as ``source`` and the true latents as ``target``.

    Parameters
    ----------
    ridge : float
        L2 penalty on ``coef_`` (0: ordinary least squares).
    fit_intercept : bool
        Fit ``intercept_`` (else it is zero).

    Attributes
    ----------
    coef_ : ndarray [target_dim, source_dim]
    intercept_ : ndarray [target_dim]
    n_features_in_ : int
        Source dimension.
    n_targets_ : int
        Target dimension.

    Notes
    -----
    Direction matters. ``score`` is the coefficient of determination of the target, averaged
    uniformly over target dimensions. Scored from true to inferred latents (the published
    "state R2"), invented dimensions of the inferred space that no true dimension explains
    pull the score down; scored from inferred to true it asks only whether the true state
    can be decoded, and extra inferred dimensions do not hurt.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 3))
    >>> a = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 3.0]])
    >>> align = AffineAlignment().fit(z, z @ a.T + 1.0)
    >>> np.allclose(align.coef_, a), np.allclose(align.intercept_, 1.0)
    (True, True)
    >>> round(align.score(z, z @ a.T + 1.0), 6)
    1.0
    """

    def __init__(self, ridge: float = 0.0, fit_intercept: bool = True) -> None:
        self.ridge = ridge
        self.fit_intercept = fit_intercept

    def fit(self, source: Any, target: Any) -> AffineAlignment:
        """Fit the map from ``source`` [..., source_dim] to ``target`` [..., target_dim]."""
        if isinstance(self.ridge, bool) or not isinstance(
                self.ridge, (int, float, np.integer, np.floating)) or not np.isfinite(
                self.ridge) or self.ridge < 0:
            raise DynlensValueError(f"ridge: expected a non-negative number, found {self.ridge!r}")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise DynlensTypeError(
                f"fit_intercept: expected True or False, found {self.fit_intercept!r}")
        src, src_lead = _states(source, "source", ndims=_NDIMS)
        tgt, tgt_lead = _states(target, "target", ndims=_NDIMS)
        if src_lead != tgt_lead:
            raise DynlensValueError(
                f"target: expected the same leading shape as source {src_lead} "
                f"(one target per source sample), found {tgt_lead}")
        reg = (Ridge(alpha=float(self.ridge), fit_intercept=bool(self.fit_intercept))
               if self.ridge > 0 else LinearRegression(fit_intercept=bool(self.fit_intercept)))
        reg.fit(src, tgt)
        self.coef_ = np.atleast_2d(np.asarray(reg.coef_, dtype=np.float64))
        self.intercept_ = np.broadcast_to(np.asarray(reg.intercept_, dtype=np.float64),
                                          (tgt.shape[1],)).copy()
        self.n_features_in_ = src.shape[1]
        self.n_targets_ = tgt.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise DynlensNotFittedError(
                "alignment: this AffineAlignment is not fitted yet; call fit(source, target) "
                "first")

    def transform(self, source: Any) -> np.ndarray:
        """Map ``source`` [..., source_dim] to target coordinates [..., target_dim]."""
        self._check_fitted()
        src, lead = _states(source, "source", self.n_features_in_, ndims=_NDIMS)
        return (src @ self.coef_.T + self.intercept_).reshape(*lead, self.n_targets_)

    def predict(self, source: Any) -> np.ndarray:
        """Same as :meth:`transform` (scikit-learn regressor naming)."""
        return self.transform(source)

    def inverse_transform(self, target: Any) -> np.ndarray:
        """Map target coordinates back to the source space.

        Exact when ``coef_`` is square and invertible; the least-squares preimage when the
        map is injective (target_dim > source_dim, full column rank). Raises when the map
        loses dimensions, since the preimage is then not unique.
        """
        self._check_fitted()
        tgt, lead = _states(target, "target", self.n_targets_, ndims=_NDIMS)
        rank = np.linalg.matrix_rank(self.coef_)
        if rank < self.n_features_in_:
            raise DynlensValueError(
                f"alignment: expected an injective map to invert, found coef_ of shape "
                f"{self.coef_.shape} with rank {rank} < {self.n_features_in_} source dimensions")
        sol = np.linalg.lstsq(self.coef_, (tgt - self.intercept_).T, rcond=None)[0].T
        return sol.reshape(*lead, self.n_features_in_)

    def score(self, source: Any, target: Any) -> float:
        """R2 of ``target`` predicted from ``source``, averaged uniformly over target dims."""
        self._check_fitted()
        src, lead = _states(source, "source", self.n_features_in_, ndims=_NDIMS)
        tgt, tgt_lead = _states(target, "target", self.n_targets_, ndims=_NDIMS)
        if lead != tgt_lead:
            raise DynlensValueError(
                f"target: expected the same leading shape as source {lead}, found {tgt_lead}")
        return float(r2_score(tgt, src @ self.coef_.T + self.intercept_,
                              multioutput="uniform_average"))
