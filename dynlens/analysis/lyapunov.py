"""Lyapunov spectra and the Kaplan-Yorke dimension of any Dynamics, learned or true.

The standard QR (Benettin) method: tangent vectors ``Y`` ride along a trajectory, ``Y`` grows
as the linearised dynamics say (a map: ``Y <- J(x) Y``; a field: ``dY/dt = J(x) Y``, the
variational equations, integrated together with ``x`` by RK4 through the one
:func:`~dynlens.dynamics.rollout`, or by scipy's DOP853 or BDF: ``method`` of
:func:`lyapunov_spectrum`), and every so often ``Y = Q R`` is re-orthonormalised; the
exponents are the average growth rates ``log |R_ii|``. Jacobians are the dynamics' own
(analytic for ground-truth systems and dynlens's GRU cells, exact automatic differentiation
otherwise). Several starting states run as one batch.

By default the run goes on, round by round, until the exponents stop moving (the criterion
is in :func:`lyapunov_spectrum`), and every exponent comes with a standard error. What is known
exactly is used and checked: a flow that does not come to rest has one exponent 0 (the one
along the flow: reported, set to 0 in the Kaplan-Yorke dimension, and its estimate checked
against 0), and a full spectrum sums to the mean divergence ``tr J`` of the field (mean
``log |det J|`` of a map), integrated alongside (reported as a check). The Kaplan-Yorke
dimension carries its error and is NaN, with a note, where it is not defined or not resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..dynamics import Dynamics, eval_mode, rollout
from ..errors import DynlensValueError
from ..utils import check_choice, check_nonnegative_int, check_positive_float, check_positive_int
from ._prepare import Evaluator, as_states
from ._scipy_stepper import SOLVERS, ScipyStepper

__all__ = ["LyapunovSpectrum", "kaplan_yorke_dimension", "lyapunov_spectrum"]

# Re-orthonormalise before the tangent vectors' growth ratio passes this (float32 keeps ~7
# digits): blocks of bins between QR steps shrink or grow to keep it between these bounds.
_MAX_LOG_RATIO = 12.0
_MIN_LOG_RATIO = 3.0


def kaplan_yorke_dimension(exponents: Any) -> float:
    """The Kaplan-Yorke (Lyapunov) dimension ``j + sum_{i<=j} l_i / |l_{j+1}|``.

    ``j`` is the largest number of leading exponents (sorted descending) with a non-negative
    sum. All sums positive: the dimension is the number of exponents; a negative first
    exponent: 0.

    Parameters
    ----------
    exponents : array-like
        Finite Lyapunov exponents, in any order (they are sorted here).

    Examples
    --------
    >>> round(kaplan_yorke_dimension([0.9056, 0.0, -14.5723]), 3)  # Lorenz
    2.062
    >>> kaplan_yorke_dimension([-0.5, -1.0])  # a stable fixed point
    0.0
    """
    lam = np.sort(np.asarray(exponents, dtype=np.float64).ravel())[::-1]
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise DynlensValueError(
            f"exponents: expected finite Lyapunov exponents, found {lam.tolist()}")
    sums = np.cumsum(lam)
    j = int(np.sum(sums >= 0))
    if j == 0:
        return 0.0
    if j == lam.size:
        return float(lam.size)
    return float(j + sums[j - 1] / abs(lam[j]))


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """The result of :func:`lyapunov_spectrum`: exponents with their standard errors, and
    checks against what is known exactly.

    Attributes
    ----------
    exponents : ndarray [k]
        Mean over the starting states, descending; per unit of the system's own time for
        continuous dynamics (``dt`` is one bin), per step for maps.
    spread : ndarray [k]
        Standard deviation of each exponent over the starting states.
    per_start : ndarray [n_starts, k]
        Each starting state's estimate.
    trace_time : ndarray [m]
        Times (or steps) at which the running estimate was recorded.
    trace : ndarray [m, k]
        Running estimate (mean over starts) at those times: the convergence trace.
    kind : {"continuous", "discrete"}
    dt : float or None
        One bin of the dynamics, in its own time units.
    error : ndarray [k]
        Standard error of each exponent: the larger of the spread over starts over
        ``sqrt(n_starts)`` and the spread of the start-averaged rate over the run's rounds
        over ``sqrt(n_rounds)`` (batch means: honest when starts stay correlated).
    tolerance : ndarray [k]
        The accuracy the run aimed at (see :func:`lyapunov_spectrum`).
    converged : bool
        Whether the stopping criterion held when the run ended.
    n_steps : int
        Bins (steps of a map) measured per start.
    divergence : float
        Mean divergence ``tr J`` of the field (mean ``log |det J|`` of a map) along the
        measured trajectories: what the sum of a full spectrum must equal.
    divergence_error : float
        Its standard error.
    sum_error : float
        Standard error of :attr:`sum`.
    zero_index : int or None
        For the full spectrum of a flow that does not come to rest: the index of the exponent
        along the flow, which is 0 exactly; None otherwise.
    kaplan_yorke : float
        Kaplan-Yorke dimension of the exponents (the flow's exponent set to its known 0);
        NaN when it is not defined or not resolved (:attr:`kaplan_yorke_note` says why).
    kaplan_yorke_error : float
        Its standard error (linearised).
    kaplan_yorke_note : str
        Empty when the dimension is resolved, else why no number is given.
    checks : dict
        ``converged``; ``zero_exponent``: the flow's exponent within 3 standard errors of 0,
        plus 1e-3 of the largest |exponent| for RK4's error (None when not applicable);
        ``sum_is_divergence``: the sum within 3 standard errors (plus that allowance) of
        :attr:`divergence` (None for a partial spectrum).
    n_dropped : int
        Starts dropped because their trajectory or tangent vectors left the finite numbers
        (a start that escapes the attractor's basin); the result is the others'.
    method : {"rk4", "dop853", "bdf"} or None
        How a field and its tangent vectors were integrated (see ``method`` of
        :func:`lyapunov_spectrum`); None for a map.
    substeps : int or None
        RK4 steps per bin (None for scipy's solvers and for a map).

    Examples
    --------
    The map ``x <- diag(0.5, 0.25) x`` has the exponents ``log 0.5`` and ``log 0.25`` per
    step:

    >>> import numpy as np, torch
    >>> import dynlens as dl
    >>> class Shrink(dl.Dynamics):
    ...     def __init__(self):
    ...         super().__init__(dim=2, kind="discrete")
    ...     def forward(self, x, u=None):
    ...         return x * torch.tensor([0.5, 0.25], dtype=x.dtype)
    >>> spec = dl.lyapunov_spectrum(Shrink(), [1.0, 1.0], n_steps=200, n_starts=4)
    >>> spec  # doctest: +ELLIPSIS
    LyapunovSpectrum([-0.6931 +- 0.0000, -1.3863 +- 0.0000] per step; Kaplan-Yorke 0.000 ...)
    >>> spec.n_steps, spec.converged, spec.kaplan_yorke_error
    (200, True, 0.0)
    >>> bool(np.allclose(spec.exponents, np.log([0.5, 0.25])))
    True
    >>> bool(np.isclose(spec.sum, spec.divergence)), spec.checks["sum_is_divergence"]
    (True, True)
    >>> (spec.per_time(0.5) / spec.exponents).tolist()  # per time unit when a bin lasts 0.5
    [2.0, 2.0]
    """

    exponents: np.ndarray
    spread: np.ndarray
    per_start: np.ndarray
    trace_time: np.ndarray
    trace: np.ndarray
    kind: str
    dt: float | None
    error: np.ndarray
    tolerance: np.ndarray
    converged: bool
    n_steps: int
    divergence: float
    divergence_error: float
    sum_error: float
    zero_index: int | None
    kaplan_yorke: float
    kaplan_yorke_error: float
    kaplan_yorke_note: str
    checks: dict
    n_dropped: int = 0
    method: str | None = None
    substeps: int | None = None

    @property
    def sum(self) -> float:
        """Sum of the exponents: the mean divergence of the field (the mean log |det J| of a
        map) along the trajectory, for a full spectrum."""
        return float(self.exponents.sum())

    @property
    def per_bin(self) -> np.ndarray:
        """The exponents per bin (per step of a map; times ``dt`` for a field)."""
        return self.exponents * (self.dt if self.kind == "continuous" else 1.0)

    def per_time(self, bin_width: float) -> np.ndarray:
        """The exponents per unit of another clock in which one bin lasts ``bin_width``:
        e.g. a model of data binned at ``data.bin_width`` of the true system's time, in the
        true system's units, whatever the model's own time (a map's steps, a NODE's
        ``bin_dt``)."""
        return self.rescaled(bin_width).exponents

    def rescaled(self, bin_width: float) -> LyapunovSpectrum:
        """This spectrum (exponents, errors, divergence, trace) per unit of a clock in which
        one bin lasts ``bin_width`` (see :meth:`per_time`)."""
        unit = self.dt if self.kind == "continuous" else 1.0
        factor = unit / check_positive_float(bin_width, "bin_width")
        return replace(self, exponents=self.exponents * factor, spread=self.spread * factor,
                       per_start=self.per_start * factor, trace=self.trace * factor,
                       error=self.error * factor, tolerance=self.tolerance * factor,
                       divergence=self.divergence * factor,
                       divergence_error=self.divergence_error * factor,
                       sum_error=self.sum_error * factor,
                       trace_time=self.trace_time / unit * bin_width,
                       kind="continuous", dt=bin_width)

    def __repr__(self) -> str:
        unit = "per time unit" if self.kind == "continuous" else "per step"
        values = ", ".join(f"{v:.4f} +- {s:.4f}" for v, s in zip(self.exponents, self.error))
        ky = (f"Kaplan-Yorke {self.kaplan_yorke:.3f} +- {self.kaplan_yorke_error:.3f}"
              if not self.kaplan_yorke_note else f"Kaplan-Yorke {self.kaplan_yorke_note}")
        steps = "steps" if self.kind == "discrete" else "bins"
        state = "converged" if self.converged else "not converged"
        dropped = f" ({self.n_dropped} dropped: escaped)" if self.n_dropped else ""
        how = ("" if self.method is None else f"; {self.method.upper()}" + (
            f", {self.substeps} substeps/bin" if self.substeps else ""))
        return (f"LyapunovSpectrum([{values}] {unit}; {ky}; {len(self.per_start)} starts"
                f"{dropped}, {self.n_steps} {steps}, {state}{how})")


class _Tangent(Dynamics):
    """The dynamics with its tangent vectors and the running volume growth: state
    ``[x, vec(Y), c]`` with ``dc/dt = tr J(x)`` (a field) or ``c <- c + log |det J(x)|`` (a
    map); just ``x`` when ``k`` is 0."""

    def __init__(self, ev: Evaluator, k: int) -> None:
        super().__init__(dim=ev.dim * (1 + k) + (k > 0), kind=ev.kind, dt=ev.dt)
        self.ev, self.k = ev, k
        self.dtype, self.device = ev.dtype, ev.device  # what check_dynamics would probe for

    def forward(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        if self.k == 0:
            return self.ev(z)
        d = self.ev.dim
        x, y = z[:, :d], z[:, d:-1].reshape(-1, d, self.k)
        jac = self.ev.jacobian(x)
        if self.ev.kind == "continuous":
            volume = jac.diagonal(dim1=-2, dim2=-1).sum(-1)
        else:
            volume = z[:, -1] + torch.linalg.slogdet(jac)[1]
        return torch.cat([self.ev(x), (jac @ y).reshape(-1, d * self.k), volume[:, None]], 1)


def lyapunov_spectrum(dynamics: Any, x0: Any, n_steps: int | None = None,
                      dt: float | None = None, seed: int = 0, *, k: int | None = None,
                      n_starts: int = 64, transient: int | None = None,
                      substeps: int | None = None, inputs: Any = None, rtol: float = 0.02,
                      max_steps: int | None = None, method: str = "auto") -> LyapunovSpectrum:
    """The Lyapunov spectrum (or its first ``k`` exponents) by the QR method, run until it
    stops moving, with a standard error per exponent.

    The measurement runs in rounds of 250 bins (500 steps of a map). After each round from
    the fourth on, the run stops when, for every exponent ``i``, (a) its standard error
    (:attr:`LyapunovSpectrum.error`) is at most ``tol_i``, (b) the running estimate moved
    by at most ``tol_i`` since half the run and (c) for a flow's full spectrum, the
    exponent along the flow is within 3 standard errors (plus 1e-3 of the largest |exponent|
    for RK4's error) of 0. Here
    ``tol_i = max(rtol * max(|l_1|, |l_i|), floor)`` with ``floor = 1e-4 * max_i |l_i|``;
    or when ``max_steps`` bins were measured (then ``converged`` is False). Given
    ``n_steps``, exactly that many bins are measured and the criterion is only reported.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
        A map or a vector field: a model's generator, a ground-truth system, your own module.
    x0 : array-like [dim] or [n, dim]
        One state (``n_starts`` starting states are then taken near the end of its
        transient trajectory, each nudged by 1e-2 of the trajectory's spread and run
        ``transient`` bins further, so that chaos makes them independent) or several
        (each used as a start). A start whose trajectory or tangent vectors leave the
        finite numbers is dropped (``n_dropped``); only when every start does is it an
        error.
    n_steps : int, optional
        Bins (steps of a map) measured per start. Default: until converged (see above).
    dt : float, optional
        One bin of a continuous field in its own time units (default ``dynamics.dt``, else
        1); integrated as ``method`` says. Ignored for maps.
    seed : int
        Seeds the initial tangent vectors and the nudges of the starting states.
    k : int, optional
        Number of exponents (default: all ``dim``).
    n_starts : int
        Starting states when ``x0`` is one state (they run as one batch, so many cost little
        more than one).
    transient : int, optional
        Bins discarded before measuring, by the trajectory and again by the tangent vectors
        (default ``n_steps // 10``, or one round when converging).
    substeps : int, optional
        RK4 steps per bin for continuous dynamics (``method`` "rk4" or "auto", which then
        runs RK4); default: enough to keep the step times the largest |eigenvalue| of the
        Jacobian at the starting states under 0.5, then doubled (at most 4 times) while a
        step-doubling check fails: from states along the second half of the transient, the
        tangent growth rates over 4 bins at ``s`` and at ``2 s`` substeps, averaged over
        those states, differ by more than 1e-3 of the largest of those rates (the checks'
        allowance for RK4). The eigenvalues miss what a kink does (a piecewise-linear
        field's Jacobian is piecewise constant and jumps); the check sees it.
    inputs : array-like [n_inputs], optional
        A constant input to the dynamics.
    rtol : float
        Relative accuracy aimed at (see above).
    max_steps : int, optional
        The most bins measured per start when converging (default 40 rounds: 10000 bins,
        20000 steps of a map); raise it for slowly converging dynamics.
    method : {"auto", "rk4", "dop853", "bdf"}
        How a field and its tangent vectors are integrated, bin by bin, all starts as one
        system (ignored for maps). "rk4": ``substeps`` fixed RK4 steps per bin. "dop853":
        scipy's explicit order-8 solver with error control (relative tolerance 1e-7),
        whose steps shorten where the field changes fast. "bdf": scipy's implicit BDF
        (relative tolerance 1e-8, Newton on the field's exact Jacobian) for a stiff field.
        "auto": "bdf" for the leading ``k < dim`` exponents of a stiff field (RK4 would
        need more than 8 substeps per bin, at ``x0`` or at the starting states, for
        directions that decay at least 4 times faster than any other rate), else "rk4".
        A full spectrum gains nothing from BDF: its most contracting tangent vector decays
        at the field's fastest rate, which every solver must resolve.
        The result says which ran (:attr:`LyapunovSpectrum.method`).

    Returns
    -------
    LyapunovSpectrum

    Examples
    --------
    >>> import numpy as np, dynlens as dl
    >>> lorenz = dl.systems.get("lorenz")
    >>> spec = dl.lyapunov_spectrum(lorenz, lorenz.default_x0, n_steps=500, n_starts=32)
    >>> bool(abs(spec.sum + 13.6667) < 1e-3)  # the divergence -(sigma + 1 + beta)
    True
    >>> bool(abs(spec.exponents[0] - 0.906) < 4 * spec.error[0] + 0.02)  # textbook 0.9056
    True
    >>> spec.zero_index, spec.checks["sum_is_divergence"]
    (1, True)
    """
    ev = Evaluator(dynamics, inputs)
    k = ev.dim if k is None else check_positive_int(k, "k")
    if k > ev.dim:
        raise DynlensValueError(f"k: expected at most dim={ev.dim} exponents, found {k}")
    continuous = ev.kind == "continuous"
    rtol = check_positive_float(rtol, "rtol")
    round_bins = _ROUND_BINS[ev.kind]
    converge = n_steps is None
    if converge:
        limit = check_positive_int(max_steps if max_steps is not None
                                   else _MAX_ROUNDS * round_bins, "max_steps")
        round_bins = min(round_bins, limit)
    elif max_steps is not None:
        raise DynlensValueError(
            "max_steps: expected None when n_steps is given (n_steps fixes the run; "
            f"max_steps bounds a converging one), found {max_steps!r}")
    else:
        limit = check_positive_int(n_steps, "n_steps")
        round_bins = -(-limit // _FIXED_ROUNDS)
    transient = check_nonnegative_int(
        transient if transient is not None else (round_bins if converge else limit // 10),
        "transient")
    bin_ = check_positive_float(dt if dt is not None else (ev.dt or 1.0), "dt")
    seed = check_nonnegative_int(seed, "seed")
    starts = as_states(x0, "x0", ev.dim, ndims=(1, 2))[0]
    n_starts = check_positive_int(n_starts, "n_starts")
    fixed = None if substeps is None else check_positive_int(substeps, "substeps")
    method = check_choice(method, _METHODS, "method")
    if continuous and fixed is not None and method in SOLVERS:
        raise DynlensValueError(
            f"substeps: expected None with method={method!r} (substeps are RK4's), "
            f"found {substeps!r}")
    unit = bin_ if continuous else 1.0
    with torch.no_grad(), eval_mode(dynamics):
        x = ev.tensor(starts)
        if continuous and fixed is None:
            method = "rk4" if method == "auto" and k == ev.dim else method
            step, x = _onto_attractor(ev, x, bin_, method, (n_starts, transient, seed))
        else:
            step = _Stepper(ev, bin_ if continuous else None, fixed or 1)
            x = _starting_states(step, x, n_starts, transient, seed)
        run = _QRRun(step, x, k, seed)
        run.advance(transient)  # the tangent vectors turn towards the growing directions
        est = _Estimate(k, unit, rtol)
        while est.done < limit:
            n = min(round_bins, limit - est.done)
            est.add(*run.advance(n, est.record), n)
            if converge and est.n_rounds >= _MIN_ROUNDS and est.converged(run, ev):
                break
        result = est.result(run, ev, bin_ if continuous else None)
    if not continuous:
        return result
    return replace(result, method=step.method, substeps=step.substeps)


def _onto_attractor(ev: Evaluator, x: torch.Tensor, bin_: float, method: str,
                    starts: tuple[int, int, int]) -> tuple[Any, torch.Tensor]:
    """The stepper of a field's measurement and its starting states (``starts``:
    ``n_starts, transient, seed``). RK4 runs onto the attractor with twice the substeps
    needed at ``x0`` (a first guess) and measures with those needed at the starting states;
    "auto" (for a partial spectrum) turns to BDF where the field is :func:`_stiff` there."""
    if method in SOLVERS:
        step = ScipyStepper(ev, bin_, method)
        return step, _starting_states(step, x, *starts)
    guess = _default_substeps(ev, x, bin_)
    if method == "auto" and _stiff(ev, x, guess):
        step = ScipyStepper(ev, bin_, "bdf")
        return step, _starting_states(step, x, *starts)
    x, path = _starting_states(_Stepper(ev, bin_, 2 * guess), x, *starts, path=True)
    needed = _default_substeps(ev, x, bin_)  # measured on the attractor
    if method == "auto" and _stiff(ev, x, needed):
        return ScipyStepper(ev, bin_, "bdf"), x
    return _Stepper(ev, bin_, _doubled_substeps(ev, path, bin_, needed)), x


_ROUND_BINS = {"continuous": 250, "discrete": 500}  # a round: the unit of batch means
_METHODS = ("auto", "rk4", *SOLVERS)
_MAX_RK4_SUBSTEPS = 8  # "auto" takes BDF above this for a partial spectrum (see method) ...
_STIFF_RATIO = 4.0  # ... when decaying directions set them, this many times the others' rate
_MIN_ROUNDS = 4  # before the criterion is tried
_MAX_ROUNDS = 40  # the default bound on a converging run
_FIXED_ROUNDS = 8  # rounds of a run of given length
_N_SIGMA = 3.0  # a check holds within this many standard errors (plus the allowance)
_FLOOR = 1e-4  # the floor of the tolerance, relative to the largest |exponent|
_NUMERIC = 1e-3  # what the checks allow for RK4's error, relative to the largest |exponent|
_CHECK_BINS = 4  # the step-doubling check of the substeps (see substeps): bins a comparison,
_CHECK_POINTS = 64  # ... states it starts from (at most),
_CHECK_TOL = _NUMERIC  # ... the gap it allows, relative to the largest growth rate: the
# checks' allowance (CellularNeuralNetwork's kinks: gaps 8e-3, 1.5e-3, 9.8e-4 at 1, 2, 4 substeps)
_MAX_DOUBLINGS = 4  # ... and how often it doubles the substeps at most
_NUDGE = 1e-2  # starting states' nudges, relative to the trajectory's spread: chaos separates
# the starts within ~5 Lyapunov times; small, to stay in the basin


def _standard_error(per_round: np.ndarray, per_start: np.ndarray) -> np.ndarray:
    """The larger of the two standard errors of a mean: over starts (valid for independent
    starts) and over rounds (batch means: valid when rounds outlast correlations)."""
    se = np.zeros(per_start.shape[1:])
    if len(per_round) > 1:
        se = np.maximum(se, per_round.std(0, ddof=1) / np.sqrt(len(per_round)))
    if len(per_start) > 1:
        se = np.maximum(se, per_start.std(0, ddof=1) / np.sqrt(len(per_start)))
    return se if len(per_round) > 1 or len(per_start) > 1 else np.full_like(se, np.nan)


class _Estimate:
    """Running sums of the measurement, round by round, and what they say."""

    def __init__(self, k: int, unit: float, rtol: float) -> None:
        self.k, self.unit, self.rtol = k, unit, rtol
        self.done, self.logs, self.volume = 0, None, None
        self.rounds: list[np.ndarray] = []  # per round: start-averaged [k exponents, volume]
        self.trace_t: list[int] = []
        self.trace: list[np.ndarray] = []

    @property
    def n_rounds(self) -> int:
        return len(self.rounds)

    def record(self, bins: int, logs: np.ndarray, alive: np.ndarray) -> None:
        """The running estimate after ``bins`` more bins of the current round, over the
        starts still ``alive`` (indices into the round's first starts)."""
        total = logs if self.logs is None else self.logs[alive] + logs
        self.trace_t.append(self.done + bins)
        self.trace.append(total.mean(0) / ((self.done + bins) * self.unit))

    def add(self, logs: np.ndarray, volume: np.ndarray, alive: np.ndarray, n: int) -> None:
        """Add a round of ``n`` bins; starts not ``alive`` at its end leave the sums."""
        self.logs = logs if self.logs is None else self.logs[alive] + logs
        self.volume = volume if self.volume is None else self.volume[alive] + volume
        self.done += n
        self.rounds.append(np.append(logs.mean(0), volume.mean()) / (n * self.unit))

    def _state(self) -> tuple[np.ndarray, ...]:
        """Sorted exponents, per start, per round, errors and tolerances."""
        per_start = self.logs / (self.done * self.unit)
        order = np.argsort(-per_start.mean(0))
        per_start, rounds = per_start[:, order], np.asarray(self.rounds)[:, :-1][:, order]
        lam = per_start.mean(0)
        floor = max(_FLOOR * float(np.abs(lam).max()), 1e-12 / self.unit)
        tol = np.maximum(self.rtol * np.maximum(abs(lam[0]), np.abs(lam)), floor)
        allowance = max(_NUMERIC * float(np.abs(lam).max()), 1e-12 / self.unit)
        return lam, per_start, rounds, _standard_error(rounds, per_start), tol, allowance, order

    def converged(self, run: _QRRun, ev: Evaluator) -> bool:
        lam, _, rounds, err, tol, allowance, _ = self._state()
        return _criterion(lam, rounds, err, tol, allowance, _zero_index(lam, run, ev))[0]

    def result(self, run: _QRRun, ev: Evaluator, dt: float | None) -> LyapunovSpectrum:
        lam, per_start, rounds, err, tol, allowance, order = self._state()
        zero = _zero_index(lam, run, ev)
        volume_start = self.volume / (self.done * self.unit)
        volume_rounds = np.asarray(self.rounds)[:, -1]
        divergence = float(volume_start.mean())
        divergence_error = float(_standard_error(volume_rounds[:, None],
                                                 volume_start[:, None])[0])
        sum_error = float(_standard_error(rounds.sum(1, keepdims=True),
                                          per_start.sum(1, keepdims=True))[0])
        converged, zero_ok = _criterion(lam, rounds, err, tol, allowance, zero)
        checks = {
            "converged": converged,
            "zero_exponent": zero_ok,
            "sum_is_divergence": None if self.k < ev.dim else bool(
                abs(lam.sum() - divergence) <= _N_SIGMA * sum_error + allowance),
        }
        ky, ky_error, note = _kaplan_yorke(lam, rounds, per_start, zero, ev.dim, allowance)
        return LyapunovSpectrum(
            exponents=lam, spread=per_start.std(0), per_start=per_start,
            trace_time=np.asarray(self.trace_t, dtype=np.float64) * self.unit,
            trace=np.asarray(self.trace)[:, order], kind=ev.kind, dt=dt, error=err,
            tolerance=tol, converged=converged, n_steps=self.done, divergence=divergence,
            divergence_error=divergence_error, sum_error=sum_error, zero_index=zero,
            kaplan_yorke=ky, kaplan_yorke_error=ky_error, kaplan_yorke_note=note,
            checks=checks, n_dropped=run.n_dropped)


def _criterion(lam: np.ndarray, rounds: np.ndarray, err: np.ndarray, tol: np.ndarray,
               allowance: float, zero: int | None) -> tuple[bool, bool | None]:
    """Whether the stopping criterion of :func:`lyapunov_spectrum` holds, and whether the
    flow's exponent is within its error (plus the allowance) of 0 (None: no such exponent)."""
    half = rounds[: max(1, len(rounds) // 2)].mean(0)
    zero_ok = None if zero is None else bool(abs(lam[zero]) <= _N_SIGMA * err[zero] + allowance)
    return bool(np.all(err <= tol) and np.all(np.abs(lam - half) <= tol)
                and zero_ok is not False), zero_ok


def _zero_index(lam: np.ndarray, run: _QRRun, ev: Evaluator) -> int | None:
    """The exponent along the flow (the one nearest 0) of a full spectrum of a field whose
    trajectories still move (a flow that comes to rest has none)."""
    if ev.kind != "continuous" or len(lam) != ev.dim:
        return None
    with torch.no_grad():
        speed = torch.linalg.vector_norm(ev(run.x), dim=-1).double() * run.step.bin
        size = 1.0 + torch.linalg.vector_norm(run.x, dim=-1).double()
    if float(torch.median(speed / size)) <= np.sqrt(ev.eps):
        return None
    return int(np.argmin(np.abs(lam)))


def _kaplan_yorke(lam: np.ndarray, rounds: np.ndarray, per_start: np.ndarray,
                  zero: int | None, dim: int, allowance: float) -> tuple[float, float, str]:
    """Kaplan-Yorke dimension, its linearised standard error, and why it is not given (an
    empty note when it is). The flow's exponent is set to its known 0 first; a sum that
    decides ``j`` and ends at an estimated exponent must be further than 3 standard errors
    (plus the allowance) from 0."""
    if zero is not None:
        lam, rounds, per_start = lam.copy(), rounds.copy(), per_start.copy()
        lam[zero], rounds[:, zero], per_start[:, zero] = 0.0, 0.0, 0.0
    k = len(lam)
    sums = np.cumsum(lam)
    sum_errors = _standard_error(np.cumsum(rounds, 1), np.cumsum(per_start, 1))
    j = int(np.sum(sums >= 0))
    if j == k and k < dim:
        return np.nan, np.nan, (f"not defined: the {k} exponents computed sum to "
                                f"{sums[-1]:+.4f} >= 0; it needs more of the {dim}")
    for m in (j, j + 1):  # the sums whose signs decide j (one ending at the known 0: known)
        if 1 <= m <= k and m - 1 != zero and abs(sums[m - 1]) <= (
                _N_SIGMA * sum_errors[m - 1] + allowance):
            return np.nan, np.nan, (
                f"not resolved: the sum of the first {m} exponents, {sums[m - 1]:+.4f} +- "
                f"{sum_errors[m - 1]:.4f}, is within its error of 0")
    if j == k:
        return np.nan, np.nan, (f"not defined: the exponents sum to {sums[-1]:+.4f} > 0 "
                                "(volumes grow: no attractor)")
    value = kaplan_yorke_dimension(lam)
    if j == 0:
        return value, 0.0, ""
    grad = np.zeros(k)
    grad[:j] = 1.0 / abs(lam[j])
    grad[j] = sums[j - 1] / lam[j] ** 2
    error = _standard_error(rounds @ grad[:, None], per_start @ grad[:, None])[0]
    return value, float(error), ""


def _default_substeps(ev: Evaluator, x: torch.Tensor, bin_: float) -> int:
    """RK4 steps per bin keeping ``h * rho(J) <= 0.5`` at the given states (``rho``: 1.5
    times the largest |eigenvalue| of the field's Jacobian there, a margin for the parts of
    the attractor they miss): RK4's error then stays within the checks' allowance (the
    sum of Rossler's exponents within 3e-4 of its divergence; 0.25 halves it at twice the
    cost)."""
    lam = _eigenvalues(ev, x)
    if not len(lam):
        return 1
    rho = 1.5 * float(lam.abs().max())
    return max(1, int(np.ceil(bin_ * rho / 0.5)))


def _doubled_substeps(ev: Evaluator, points: torch.Tensor, bin_: float,
                      substeps: int) -> int:
    """``substeps`` doubled (at most ``_MAX_DOUBLINGS`` times) until the step-doubling
    check of ``lyapunov_spectrum`` (see ``substeps`` there) holds at the states ``points``.
    The check is the tangent growth's own: a kink's error in the states is small, but the
    Jacobian jumps there and RK4 integrates the tangent vectors across it to first order."""
    points = points[torch.isfinite(points).all(1)]
    points = points[:: max(1, len(points) // _CHECK_POINTS)].contiguous()
    if not len(points):
        return substeps
    coarse = _growth_rates(ev, points, bin_, substeps)
    for _ in range(_MAX_DOUBLINGS):
        fine = _growth_rates(ev, points, bin_, 2 * substeps)
        if _check_gap(coarse, fine) <= _CHECK_TOL:
            return substeps
        substeps, coarse = 2 * substeps, fine
    return substeps


def _check_gap(coarse: torch.Tensor, fine: torch.Tensor) -> float:
    """The step-doubling gap: the largest start-averaged difference of the growth rates at
    ``s`` and ``2 s`` substeps, relative to the largest start-averaged rate, over the
    directions every start that resolved any resolved (0 when none)."""
    both = torch.isfinite(coarse) & torch.isfinite(fine)
    rows = both.any(1)
    used = both[rows].all(0) if bool(rows.any()) else both.any(0)
    if not bool(used.any()):
        return 0.0
    rows = both[:, used].all(1)
    coarse, fine = coarse[rows][:, used], fine[rows][:, used]
    scale = float(fine.mean(0).abs().max())
    gap = float((coarse - fine).mean(0).abs().max())
    return gap / scale if scale > 0 else 0.0


def _growth_rates(ev: Evaluator, x: torch.Tensor, bin_: float, substeps: int) -> torch.Tensor:
    """Growth rates ``log |R_ii|`` per time unit ``[n, dim]`` of unit tangent vectors over
    ``_CHECK_BINS`` bins from states ``x``, by RK4 at ``substeps`` a bin with a QR step every
    bin; NaN where a start left the finite numbers, or where a direction shrank by more than
    ``sqrt(eps)`` in one bin (its growth is then rounding noise, as in the measurement)."""
    step, y = _Stepper(ev, bin_, substeps), torch.eye(ev.dim, dtype=x.dtype, device=x.device)
    y, logs = y.expand(len(x), -1, -1).contiguous(), torch.zeros(len(x), ev.dim)
    for _ in range(_CHECK_BINS):
        x, y, _ = step.tangents(x, y, 1)
        q, r = torch.linalg.qr(y.nan_to_num())
        grow = torch.log(r.diagonal(dim1=1, dim2=2).abs()).double().cpu()
        ok = torch.isfinite(y).all((1, 2)).cpu()[:, None] & (grow > 0.5 * np.log(ev.eps))
        logs = torch.where(ok, logs + grow, torch.nan)
        y = q
    return logs.double() / (_CHECK_BINS * bin_)


def _eigenvalues(ev: Evaluator, x: torch.Tensor) -> torch.Tensor:
    """The eigenvalues of the field's Jacobian at the finite ones of states ``x``."""
    x = x[torch.isfinite(x).all(1)]  # a start that escaped in the transient is dropped later
    with torch.no_grad():
        return torch.linalg.eigvals(ev.jacobian(x).double()) if len(x) else torch.zeros(0)


def _stiff(ev: Evaluator, x: torch.Tensor, substeps: int) -> bool:
    """Whether BDF pays for the leading exponents at states ``x``: RK4 needs more than
    ``_MAX_RK4_SUBSTEPS`` substeps, and for directions that decay (eigenvalues with
    ``Re < 0`` and ``|Im| < |Re|``, which the leading tangent vectors do not follow) at
    least ``_STIFF_RATIO`` times faster than every other rate (measured in
    studies/lyapunov_dysts/solvers.csv: on AtmosphericRegime, whose fast rates oscillate,
    BDF takes 6 times RK4's field evaluations)."""
    if substeps <= _MAX_RK4_SUBSTEPS:
        return False
    lam = _eigenvalues(ev, x).flatten()
    damped = (lam.real < 0) & (lam.imag.abs() < -lam.real)
    if not bool(damped.any()):
        return False
    other = float(lam[~damped].abs().max()) if bool((~damped).any()) else 0.0
    return float(lam[damped].abs().max()) >= _STIFF_RATIO * other


class _Stepper:
    """Advances states, or states with tangents, by whole bins through :func:`rollout`."""

    method = "rk4"

    def __init__(self, ev: Evaluator, bin_: float | None, substeps: int) -> None:
        self.ev, self.bin, self.substeps = ev, bin_, substeps

    def _with_dt(self, dynamics: Dynamics) -> Dynamics:
        if self.bin is not None:
            dynamics.dt = self.bin
        return dynamics

    def states(self, x: torch.Tensor, n_bins: int) -> torch.Tensor:
        """The states of ``n_bins`` further bins ``[n, n_bins, dim]`` (no tangents)."""
        field = self._with_dt(_Tangent(self.ev, 0))
        return rollout(field, x, n_bins + 1, solver="rk4", substeps=self.substeps)[:, 1:]

    def tangents(self, x: torch.Tensor, y: torch.Tensor,
                 n_bins: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """State, tangent vectors and summed volume growth ``n_bins`` bins later."""
        d, k = x.shape[1], y.shape[2]
        field = self._with_dt(_Tangent(self.ev, k))
        z0 = torch.cat([x, y.reshape(-1, d * k), torch.zeros_like(x[:, :1])], 1)
        z = rollout(field, z0, n_bins + 1, solver="rk4", substeps=self.substeps)[:, -1]
        return z[:, :d], z[:, d:-1].reshape(-1, d, k), z[:, -1]


def _starting_states(step: _Stepper, x: torch.Tensor, n_starts: int, transient: int,
                     seed: int, path: bool = False) -> Any:
    """After ``transient`` bins: the states themselves (several given); or, from one,
    ``n_starts`` states of the second half of its transient, each nudged (the first excepted)
    by ``_NUDGE`` times the spread of that half and run ``transient`` bins further as a batch,
    so that chaos separates them. A nudged start that escapes (leaves the finite numbers or
    goes ten times further out than the trajectory did) is replaced by its un-nudged state.
    With ``path``: also states spread over the attractor (the second half of that transient,
    else the starting states), where :func:`_doubled_substeps` checks the step."""
    if x.shape[0] > 1 or n_starts == 1:
        starts = step.states(x, transient)[:, -1] if transient else x
    elif not transient:
        starts = x.expand(n_starts, -1).contiguous()
    else:
        trajectory = step.states(x, transient)[0]
        starts = _nudged_starts(step, trajectory, x, n_starts, transient, seed)
        return (starts, trajectory[transient // 2:]) if path else starts
    return (starts, starts) if path else starts


def _nudged_starts(step: _Stepper, path: torch.Tensor, x: torch.Tensor, n_starts: int,
                   transient: int, seed: int) -> torch.Tensor:
    """The nudged starting states of :func:`_starting_states` from the transient ``path``
    of one state ``x``."""
    spacing = max(1, transient // (2 * n_starts))
    picks = path[(transient - 1 - spacing * torch.arange(n_starts)) % transient]
    tail = path[min(transient // 2, transient - 2):]  # two states at least
    scale = tail.std(0) if len(tail) > 1 else path[-1].abs()
    gen = torch.Generator().manual_seed(seed + 1)
    nudge = torch.randn(n_starts, x.shape[1], generator=gen, dtype=torch.float64)
    nudge[0] = 0.0
    with np.errstate(all="ignore"):
        moved = step.states(picks + _NUDGE * scale * nudge.to(x.dtype).to(x.device),
                            transient)[:, -1]
    reach = 10.0 * float(torch.linalg.vector_norm(path, dim=-1).max()) + 1.0
    kept = torch.isfinite(moved).all(-1) & (torch.linalg.vector_norm(moved, dim=-1) < reach)
    return torch.where(kept[:, None], moved, picks).contiguous()


class _QRRun:
    """States and orthonormal tangent vectors of all starts, advanced by whole bins with a
    QR step whenever their growth needs one (and at the end of every advance)."""

    def __init__(self, step: _Stepper, x: torch.Tensor, k: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.step, self.x, self.block, self.n_dropped = step, x, 1, 0
        self.y = torch.linalg.qr(torch.randn(x.shape[0], x.shape[1], k, generator=gen,
                                             dtype=torch.float64))[0].to(x.dtype).to(x.device)

    def advance(self, n_bins: int,
                record=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Summed ``log |R_ii|`` ``[m, k]`` and volume growth ``[m]`` over ``n_bins`` bins of
        the ``m`` starts still finite at the end, and their indices among the ``n`` starts
        it began with (a start that leaves the finite numbers is dropped; all of them, an
        error). ``record(bins, logs, alive)`` is called after every QR step."""
        n, k = self.y.shape[0], self.y.shape[2]
        logs, volume, done, alive = np.zeros((n, k)), np.zeros(n), 0, np.arange(n)
        while done < n_bins:
            block = min(self.block, n_bins - done)
            with np.errstate(all="ignore"):
                self.x, y, grown = self.step.tangents(self.x, self.y, block)
            ok = (torch.isfinite(self.x).all(1) & torch.isfinite(y).all((1, 2))
                  & torch.isfinite(grown))
            q, r = torch.linalg.qr(y if bool(ok.all()) else y.nan_to_num())
            diag = r.diagonal(dim1=1, dim2=2)
            grow = torch.log(diag.abs()).double().cpu().numpy()
            finite = np.isfinite(grow).all(1) & ok.cpu().numpy()
            if not finite.any():
                raise DynlensValueError(
                    "dynamics: the trajectory or its tangent vectors left the finite numbers "
                    "from every start; start on the attractor or shorten dt")
            if not finite.all():  # an escaped start: the others go on without it
                keep = torch.as_tensor(np.flatnonzero(finite), device=self.x.device)
                self.x, q, diag, grown = self.x[keep], q[keep], diag[keep], grown[keep]
                grow, logs, volume = grow[finite], logs[finite], volume[finite]
                alive, self.n_dropped = alive[finite], self.n_dropped + int((~finite).sum())
            self.y = q * torch.sign(diag)[:, None, :]
            logs += grow
            volume += grown.double().cpu().numpy()
            done += block
            if record is not None:
                record(done, logs, alive)
            ratio = max(float(np.abs(grow).max()), float(np.max(grow.max(1) - grow.min(1))))
            if ratio < _MIN_LOG_RATIO:
                self.block *= 2
            elif ratio > _MAX_LOG_RATIO and self.block > 1:
                self.block //= 2
        return logs, volume, alive
