"""Batched minimisation of the fixed-point objective: optional Adam steps, then Levenberg-Marquardt.

The optional Adam phase (joint over all candidates, gradients with respect to the states
only) moves candidates from noisy starting states into the valleys of q. It paid off with a
threefold damping decrease; with the thousandfold one used now it found fewer fixed points on
a trained 64-unit GRU and cost most of the time on 3-d fields, so
:func:`~dynlens.analysis.find_fixed_points` skips it by default.

Every candidate has its own damping ``lam``: the step solves
``(J^T J + lam * mean(diag(J^T J)) I) dx = -J^T r`` for the residual ``r`` (``F(x) - x`` or
``f(x)``) and its exact Jacobian ``J``. Accepted steps shrink ``lam`` a thousandfold
(almost pure Gauss-Newton: quadratic convergence at isolated fixed points, and long steps
along the nearly flat valleys of a trained GRU; shrinking it only threefold found 4x fewer
fixed points there in the same number of iterations), rejected ones raise it fourfold
(towards short gradient steps). Damping keeps the step defined on lines and sheets of fixed
points, where ``J`` is singular. (Transtrum's geodesic acceleration, one more residual
evaluation and solve per step, was tried and dropped: on a trained 64-unit GRU it took 1.7x
the time and found fewer fixed points.) The
linear algebra runs in float64 whatever the dynamics' dtype, so a float32 model is limited
only by the precision of its own evaluation (float32 normal equations were about twice as
fast but lost most of the converged points of a trained GRU).

Work is spent only where it can pay: a trial step costs one residual evaluation, and the
Jacobian (and ``J^T J``) is recomputed only where a step was accepted (a rejected step
retries from the stored one with a larger damping); candidates that come within the merge
distance of a converged one, or of another candidate with smaller q, stop as duplicates, so
many starts falling into one fixed point cost one candidate's iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from ._cluster import components
from ._prepare import Evaluator, eval_mode

__all__ = ["SolveResult", "solve"]

_LAM_MIN, _LAM_MAX, _LAM0 = 1e-12, 1e10, 1e-3
_DOWN, _UP = 1000.0, 4.0  # damping after an accepted / a rejected step


@dataclass
class SolveResult:
    x: torch.Tensor  # [n, dim] in the dynamics' dtype
    q: torch.Tensor  # [n] float64
    n_iter: torch.Tensor  # [n] Levenberg-Marquardt iterations used per candidate
    n_adam: int
    merged: torch.Tensor  # [n] bool: stopped next to an already converged candidate


def _adam(ev: Evaluator, x: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """Joint Adam steps on sum(q) (gradients with respect to the states only)."""
    x = x.clone()
    if steps <= 0:
        return x
    opt = torch.optim.Adam([x], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            xg = x.detach().requires_grad_(True)
            total = 0.5 * ev.residual(xg).pow(2).sum()
            (x.grad,) = torch.autograd.grad(total, [xg])
            opt.step()
    return x.detach()


def _merge(x: torch.Tensor, q: torch.Tensor, active: torch.Tensor, merged: torch.Tensor,
           tol_q: float, merge_tol: float) -> None:
    """Stop active candidates within ``merge_tol`` of a better one (in place).

    Candidates still moving or converged are chained within ``merge_tol`` (KD-tree pairs);
    in each chain the converged candidate of smallest q (else the one of smallest q) goes on
    and every other active member is marked ``merged``: it would end as a duplicate.
    """
    pool = (active | (q <= tol_q)) & ~merged
    ids = pool.nonzero().squeeze(1)
    if ids.numel() < 2:
        return
    pts = x[ids].double().cpu().numpy()
    pairs = cKDTree(pts).query_pairs(merge_tol, output_type="ndarray")
    if not len(pairs):
        return
    labels = components(len(pts), pairs)
    qs = q[ids].cpu().numpy()
    rank = np.where(qs <= tol_q, 0, 1)  # converged candidates represent their chain first
    order = np.lexsort((qs, rank, labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    loser = np.zeros(len(pts), dtype=bool)
    loser[order[~first]] = True
    hit = ids[torch.as_tensor(loser, device=x.device)]
    hit = hit[active[hit]]
    merged[hit] = True
    active[hit] = False


def solve(ev: Evaluator, x0: torch.Tensor, *, tol_q: float, max_iter: int, adam_steps: int,
          adam_lr: float, patience: int, center: torch.Tensor, radius: float,
          merge_tol: float = 0.0, progress: bool = False) -> SolveResult:
    """Drive every row of ``x0`` to a zero (or a local minimum) of q; see the module docstring.

    A candidate stops when it is converged (``q <= tol_q`` and the next step no longer
    halves q: it sits at the rounding floor), when its step is below rounding of x, when
    its damping exceeds ``1e10`` (a local minimum of q with ``q > 0``: a slow point), when q
    has not fallen tenfold in ``patience`` iterations (creeping along a slow manifold), when
    it leaves the ball of ``radius`` around ``center`` (it would be dropped as an outlier),
    when it comes within ``merge_tol`` of a converged candidate or of another candidate with
    smaller q (``merged``: it would end as a duplicate, so only one goes on), or after
    ``max_iter`` iterations. Jacobians are recomputed only at accepted steps.
    """
    with torch.no_grad(), eval_mode(ev.dynamics):
        x = _adam(ev, x0, adam_steps, adam_lr)
        n, dim = x.shape
        f64 = {"dtype": torch.float64, "device": x.device}
        r = ev.residual(x)
        q = 0.5 * r.double().pow(2).sum(-1)
        lam = torch.full((n,), _LAM0, **f64)
        n_iter = torch.zeros(n, dtype=torch.long, device=x.device)
        q_ref = q.clone()  # q when the candidate last made tenfold progress
        since = torch.zeros(n, dtype=torch.long, device=x.device)
        active = torch.isfinite(q) & (q > 0)
        merged = torch.zeros(n, dtype=torch.bool, device=x.device)
        if merge_tol > 0:
            _merge(x, q, active, merged, tol_q, merge_tol)
        # The normal matrices J^T J and gradients J^T r, kept in float64 and updated only
        # where a candidate moved (rejected steps reuse them with a larger damping).
        ata = torch.zeros(n, dim, dim, **f64)
        jtr = torch.zeros(n, dim, **f64)

        def update_jacobians(where: torch.Tensor) -> None:
            j = ev._residual_and_jacobian(x[where])[1].double()
            jt = j.transpose(1, 2)
            ata[where] = jt @ j
            jtr[where] = (jt @ r[where].double().unsqueeze(-1)).squeeze(-1)

        idx = active.nonzero().squeeze(1)
        if max_iter > 0 and idx.numel():
            update_jacobians(idx)
        eps = ev.eps
        bar = tqdm(total=max_iter, disable=not progress, desc="fixed points", unit="iter",
                   leave=False)
        for _ in range(max_iter):
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            bar.update(1)
            bar.set_postfix(active=idx.numel(), converged=int((q <= tol_q).sum()), refresh=False)
            # clone, or gather (a copy either way): the damping is added in place
            damped = ata.clone() if idx.numel() == n else ata[idx]
            xa = x[idx].double()
            diag = damped.diagonal(dim1=1, dim2=2)
            scale = diag.mean(-1).clamp_min(torch.finfo(torch.float64).tiny)
            diag.add_((lam[idx] * scale)[:, None])
            chol, info = torch.linalg.cholesky_ex(damped)
            step = -torch.cholesky_solve(jtr[idx].unsqueeze(-1), chol).squeeze(-1)
            xt = (xa + step).to(x.dtype)
            rt = ev.residual(xt)
            qt = 0.5 * rt.double().pow(2).sum(-1)
            qa = q[idx]
            accept = torch.isfinite(qt) & (qt < qa) & (info == 0)
            # Converged: below tolerance and no longer improving quickly (rounding floor).
            done = (qa <= tol_q) & ~(accept & (qt < 0.5 * qa))
            tiny_step = step.norm(dim=-1) <= 4 * eps * (xa.norm(dim=-1) + eps)
            upd = idx[accept]
            x[upd], r[upd], q[upd] = xt[accept], rt[accept], qt[accept]
            lam[idx] = torch.where(accept, lam[idx] / _DOWN, lam[idx] * _UP).clamp(_LAM_MIN, 2 * _LAM_MAX)
            n_iter[idx] += 1
            progress = q[idx] <= 0.1 * q_ref[idx]
            q_ref[idx] = torch.where(progress, q[idx], q_ref[idx])
            since[idx] = torch.where(progress, 0, since[idx] + 1)
            outside = (x[idx].double() - center).norm(dim=-1) > radius
            stop = (done | tiny_step | (lam[idx] > _LAM_MAX) | (q[idx] == 0) | outside
                    | ((since[idx] >= patience) & (q[idx] > tol_q)))
            active[idx[stop]] = False
            if merge_tol > 0:
                _merge(x, q, active, merged, tol_q, merge_tol)
            # A Jacobian is needed only where a candidate moved and goes on.
            upd = upd[active[upd]]
            if upd.numel():
                update_jacobians(upd)
        bar.close()
    return SolveResult(x=x, q=q, n_iter=n_iter, n_adam=adam_steps, merged=merged)
