"""Evaluate any Dynamics batched, with exact Jacobians, without touching its parameters.

Everything the analysis layer computes goes through :class:`Evaluator`: it validates the
object once (:func:`~dynlens.dynamics.check_dynamics`), converts states and the constant
input to the dynamics' own dtype and device, and evaluates under ``torch.no_grad`` with
``torch.func`` transforms, which differentiate with respect to the states only. No
parameter's ``requires_grad`` or ``.grad`` is ever touched; modules are evaluated in eval
mode (dropout off) and their ``training`` flags are restored afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..dynamics import DynamicsInfo, call_dynamics, check_dynamics, eval_mode
from ..errors import DynlensTypeError, DynlensValueError
from ..utils import as_numpy

__all__ = ["Evaluator", "as_states", "constant_input"]

_SHAPES = {1: "[{dim}]", 2: "[n, {dim}]", 3: "[trials, bins, {dim}]"}


def as_states(array: Any, name: str, dim: int | None = None, *,
              ndims: tuple[int, ...] = (1, 2, 3)) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate an array of states or samples: ``(finite float64 [n, d], leading shape)``.

    ``array`` (NumPy, torch or nested lists) must have one of the numbers of axes ``ndims``
    (1: one state ``[d]``, 2: ``[n, d]``, 3: ``[trials, bins, d]``), ``d == dim`` when
    ``dim`` is given, at least one entry, real numbers and no NaN/inf. Every error names
    ``name``, what was expected and what was found.

    Examples
    --------
    >>> flat, lead = as_states(np.zeros((2, 5, 3)), "x", 3)
    >>> flat.shape, lead
    ((10, 3), (2, 5))
    >>> as_states([[1.0, 2.0]], "x", 3)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: x: expected shape [trials, bins, 3], [n, 3] or [3], ...
    """
    arr = as_numpy(array, name)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise DynlensTypeError(
            f"{name}: expected an array of real numbers, found dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim not in ndims or (dim is not None and arr.shape[-1] != dim):
        width = "dim" if dim is None else dim
        shapes = [_SHAPES[n].format(dim=width) for n in sorted(ndims, reverse=True)]
        listed = shapes[0] if len(shapes) == 1 else (
            ", ".join(shapes[:-1]) + " or " + shapes[-1])
        raise DynlensValueError(f"{name}: expected shape {listed}, found shape {arr.shape}")
    if arr.size == 0:
        raise DynlensValueError(
            f"{name}: expected at least one state, found none (shape {arr.shape})")
    flat = arr.reshape(-1, arr.shape[-1])
    bad = ~np.isfinite(flat)
    if bad.any():
        raise DynlensValueError(
            f"{name}: expected finite values, found {int(bad.sum())} NaN/inf entries")
    return flat, arr.shape[:-1]


def constant_input(inputs: Any) -> np.ndarray | None:
    """A constant input as a finite float64 array ``[n_inputs]`` (None stays None)."""
    if inputs is None:
        return None
    u = as_numpy(inputs, "inputs").astype(np.float64)
    if u.ndim != 1 or u.size == 0 or not np.all(np.isfinite(u)):
        raise DynlensValueError(
            f"inputs: expected a finite constant input of shape [n_inputs], "
            f"found shape {u.shape}"
        )
    return u


class Evaluator:
    """Batched values and Jacobians of a Dynamics at a fixed constant input.

    Parameters
    ----------
    dynamics : Dynamics or callable with ``dim`` and ``kind``
    inputs : array-like of shape [n_inputs], optional
        Constant input ``u`` passed to every evaluation (``None``: call without input).
    """

    def __init__(self, dynamics: Any, inputs: Any = None, name: str = "dynamics") -> None:
        u = constant_input(inputs)
        self.info: DynamicsInfo = check_dynamics(dynamics, name, inputs=u)
        self.dynamics = dynamics
        self.dim, self.kind, self.dt = self.info.dim, self.info.kind, self.info.dt
        self.dtype, self.device = self.info.dtype, self.info.device
        if not self.dtype.is_floating_point:
            raise DynlensTypeError(f"{name}: expected floating-point dynamics, found {self.dtype}")
        self.eps = float(torch.finfo(self.dtype).eps)
        self.u: torch.Tensor | None = (
            None if u is None else torch.as_tensor(u, dtype=self.dtype, device=self.device))
        jac = getattr(dynamics, "jacobian", None)
        # An analytic Jacobian (ground-truth systems, dynlens's GRU cells) replaces automatic
        # differentiation wherever a Jacobian is needed.
        self._analytic_jacobian = jac if callable(jac) else None

    # -- conversion -------------------------------------------------------------------
    def tensor(self, x: Any) -> torch.Tensor:
        """States as a tensor of the dynamics' dtype and device."""
        return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x,
                               dtype=self.dtype, device=self.device)

    # -- evaluation -------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The dynamics' output ``F(x, u)`` (map) or ``f(x, u)`` (field) at the constant input.

        Called as it is: no conversion, gradient mode or eval mode is applied here.
        """
        u = None if self.u is None else self.u.expand(*x.shape[:-1], self.u.shape[0])
        return call_dynamics(self.dynamics, x, u)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x, u) - x`` for a map, ``f(x, u)`` for a vector field; batched ``[n, dim]``."""
        out = self(x)
        if out.shape != x.shape:
            raise DynlensValueError(
                f"dynamics: expected forward(x) to return shape {tuple(x.shape)}, "
                f"found {tuple(out.shape)}"
            )
        return out - x if self.kind == "discrete" else out

    def q(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed-point objective ``0.5 ||residual||^2`` per state."""
        with torch.no_grad(), eval_mode(self.dynamics):
            return 0.5 * self.residual(x).pow(2).sum(-1)

    def residual_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual ``[n, dim]`` and its Jacobian ``[n, dim, dim]`` (exact, by torch.func)."""
        with torch.no_grad(), eval_mode(self.dynamics):
            return self._residual_and_jacobian(x)

    def analytic_residual_jacobian(self, x: torch.Tensor) -> torch.Tensor | None:
        """The residual's Jacobian from the object's own ``jacobian``, or None without one."""
        analytic = self._analytic(x)
        if analytic is not None and self.kind == "discrete":
            analytic = analytic - torch.eye(self.dim, dtype=analytic.dtype, device=analytic.device)
        return analytic

    def _residual_and_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        analytic = self.analytic_residual_jacobian(x)
        if analytic is not None:
            return self.residual(x), analytic
        # The rows of a batch are independent (the Dynamics contract), so the Jacobian of
        # sum_b r_b with respect to x_b is row b's Jacobian: one batched reverse pass per
        # output coordinate, cheaper than vmapping jacrev over the rows.
        def summed(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            r = self.residual(z)
            return r.sum(0), r

        try:
            jac, res = torch.func.jacrev(summed, has_aux=True)(x)
            return res, jac.permute(1, 0, 2)
        except (RuntimeError, NotImplementedError, ValueError):
            pass

        def one(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            r = self.residual(z[None])[0]
            return r, r

        try:
            jac, res = torch.func.vmap(torch.func.jacrev(one, has_aux=True))(x)
            return res, jac
        except (RuntimeError, NotImplementedError, ValueError):
            pass  # not vmappable over samples (e.g. data-dependent control flow)
        # Last resort: plain autograd, one backward pass per output coordinate.
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            res = self.residual(xg)
            rows = [torch.autograd.grad(res[:, i].sum(), xg, retain_graph=True)[0]
                    for i in range(self.dim)]
        return res.detach(), torch.stack(rows, dim=1)

    def vjp(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``J(x)^T w`` per row (exact, one batched reverse pass), ``J`` the residual's Jacobian."""
        w = w.to(x.dtype)
        try:
            return torch.func.vjp(self.residual, x)[1](w)[0]
        except (RuntimeError, NotImplementedError, ValueError):
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                return torch.autograd.grad(self.residual(xg), xg, w)[0].detach()

    def jvp(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``J(x) v`` per row (exact, one batched forward-mode pass)."""
        v = v.to(x.dtype)
        try:
            return torch.func.jvp(self.residual, (x,), (v,))[1]
        except (RuntimeError, NotImplementedError, ValueError):
            with torch.enable_grad():
                return torch.autograd.functional.jvp(self.residual, x, v)[1].detach()

    def _analytic(self, x: torch.Tensor) -> torch.Tensor | None:
        """The object's own ``jacobian`` (of the dynamics, not the residual), or None.

        Called as ``jacobian(x)`` without an input and ``jacobian(x, u)`` with one; a
        failure or a wrong shape falls back to automatic differentiation for the rest of
        this evaluator's life (the search asks for Jacobians many times).
        """
        if self._analytic_jacobian is None:
            return None
        try:
            with torch.no_grad():
                if self.u is None:
                    jac = self._analytic_jacobian(x)
                else:
                    jac = self._analytic_jacobian(x, self.u.expand(x.shape[0], self.u.shape[0]))
            jac = torch.as_tensor(as_numpy(jac, "dynamics.jacobian(x)") if not
                                  isinstance(jac, torch.Tensor) else jac,
                                  dtype=self.dtype, device=self.device)
        except (TypeError, ValueError, RuntimeError):
            jac = None
        if jac is None or jac.shape != (x.shape[0], self.dim, self.dim):
            self._analytic_jacobian = None
            return None
        return jac

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """Jacobian of the dynamics itself (``dF/dx`` or ``df/dx``), ``[n, dim, dim]``.

        Uses the object's analytic ``jacobian`` when it has one (see :meth:`_analytic`).
        """
        analytic = self._analytic(x)
        if analytic is not None:
            return analytic
        _, jac = self.residual_and_jacobian(x)
        if self.kind == "discrete":
            jac = jac + torch.eye(self.dim, dtype=jac.dtype, device=jac.device)
        return jac
