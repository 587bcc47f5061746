"""Batched solution of ``r(x) = 0`` for many candidates: optional Adam steps, then a dogleg
trust-region method with Broyden-updated Newton directions.

``r`` is the residual (``F(x) - x`` for a map, ``f(x)`` for a vector field) and the
objective ``q = 0.5 ||r||^2``. Every candidate has its own trust radius ``delta`` and takes
Powell's dogleg step: the Newton point ``P = -H r`` when it lies within ``delta``, else the
point of the path from the Cauchy point (the minimiser of the local model along the
gradient ``g = J^T r``) towards ``P`` at distance ``delta``. The local model along a step
``s``, ``0.5 ||r + J s||^2``, is exact: ``J P`` and ``J g`` come from Jacobian-vector
products (one batched forward-mode pass each) and ``g`` from one reverse pass, so the
ratio ``rho`` of actual to predicted decrease decides acceptance and the next radius as in
any trust-region method. Three radii (``delta``, ``delta / 4``, ``delta / 16``) are tried in
one batched evaluation and the longest acceptable step is taken: a rejection costs
residual evaluations, never a refactorisation.

``H`` approximates the regularised inverse ``(J^T J + mu I)^-1 J^T`` (``mu`` = 1e-6 times
the mean of ``diag(J^T J)``: the pseudo-inverse on sheets of fixed points, where ``J`` is
singular). It is computed from the exact Jacobian (the dynamics' own ``jacobian`` when it
has one, else ``torch.func``) at the start, after every tenth accepted step, and whenever
no radius was accepted since an update; between, Broyden's rank-1 update (Sherman-Morrison
form) follows each accepted step, since an exact Jacobian with its factorisation costs far
more than an update in many dimensions.

The factorisations run in the dynamics' dtype, at least float32 (float64 for the rows where
a float32 Cholesky fails): the accuracy of ``H`` only sets the rate of convergence, since every
acceptance is decided on exactly evaluated residuals. In up to 16 dimensions every accepted
step gets an exact Jacobian instead (cheap there, and fewer dispatches than three products).

Why these choices, and what they were measured against: ``benchmarks/bench_fixed_points.md``
("Design notes and past measurements").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from ..dynamics import eval_mode
from ._cluster import components
from ._prepare import Evaluator

__all__ = ["SolveResult", "solve"]

_MU = 1e-6  # Tikhonov regularisation of the Newton direction, relative to mean(diag(J^T J))
_REFRESH = 10  # accepted Broyden updates before the exact Jacobian is recomputed
_RADII = (1.0, 0.25, 0.0625)  # trial steps per iteration, as fractions of the trust radius
_RHO_MIN = 1e-4  # smallest ratio of actual to predicted decrease that accepts a step
_SMALL_DIM = 16  # up to this dimension, every accepted step recomputes the exact Jacobian


@dataclass
class SolveResult:
    x: torch.Tensor  # [n, dim] in the dynamics' dtype
    q: torch.Tensor  # [n] float64
    n_iter: torch.Tensor  # [n] trust-region iterations used per candidate
    n_adam: int
    merged: torch.Tensor  # [n] bool: stopped next to an already converged candidate
    n_jacobians: int = 0  # exact Jacobians computed (one per candidate and refresh)


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


def _mv(mat: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched ``mat @ v``, computed as ``v^T mat^T`` (the faster form in CPU bmm)."""
    return torch.bmm(v.to(mat.dtype).unsqueeze(1), mat.transpose(1, 2)).squeeze(1)


def _vm(v: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
    """Batched ``v^T mat``."""
    return torch.bmm(v.to(mat.dtype).unsqueeze(1), mat).squeeze(1)


def _regularised_inverse(j: torch.Tensor) -> torch.Tensor:
    """``(J^T J + mu mean(diag) I)^-1 J^T`` per row, in ``j``'s dtype (float64 where a
    lower-precision Cholesky fails)."""
    jt = j.transpose(1, 2)
    a = torch.bmm(jt, j)
    diag = a.diagonal(dim1=1, dim2=2)
    diag.add_((_MU * diag.mean(-1).clamp_min(torch.finfo(a.dtype).tiny))[:, None])
    chol, info = torch.linalg.cholesky_ex(a)
    h = torch.bmm(torch.cholesky_inverse(chol), jt)
    bad = info != 0
    if bad.any() and j.dtype != torch.float64:
        h[bad] = _regularised_inverse(j[bad].double()).to(h.dtype)
    elif bad.any():
        h[bad] = 0.0  # no Newton direction: the dogleg falls back to the gradient
    return h


class _Candidates:
    """Per-candidate state of the active candidates only (rows are dropped as they stop).

    ``x`` (dynamics' dtype), residual ``r`` and ``q`` (float64), the inverse model ``h``,
    the Newton point ``p`` and gradient ``g`` with their images ``jp``, ``jg`` under the
    exact Jacobian, the trust radius, the age of ``h`` in Broyden updates, and the patience
    counters.
    """

    _FIELDS = ("rows", "x", "r", "q", "h", "p", "g", "jp", "jg", "delta", "age", "since",
               "q_ref")

    def __init__(self, ev: Evaluator, rows: torch.Tensor, x: torch.Tensor, r: torch.Tensor,
                 q: torch.Tensor) -> None:
        self.ev = ev
        self.n_jacobians = 0
        m, dim = x.shape
        f64 = {"dtype": torch.float64, "device": x.device}
        self.rows, self.x, self.r, self.q = rows, x, r.double(), q
        # Linear algebra in the dynamics' dtype, but at least float32 (no half-precision
        # Cholesky).
        la = ev.dtype if ev.dtype in (torch.float32, torch.float64) else torch.float32
        self.h = torch.zeros(m, dim, dim, dtype=la, device=x.device)
        self.p, self.g, self.jp, self.jg = (torch.zeros(m, dim, **f64) for _ in range(4))
        self.delta = torch.zeros(m, **f64)
        self.age = torch.zeros(m, dtype=torch.long, device=x.device)
        self.since = torch.zeros(m, dtype=torch.long, device=x.device)
        self.q_ref = q.clone()

    def __len__(self) -> int:
        return self.rows.numel()

    def keep(self, mask: torch.Tensor) -> None:
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def refresh(self, sel: torch.Tensor) -> None:
        """Exact Jacobian and inverse model at rows ``sel`` (their Newton points restart)."""
        j = self.ev.residual_and_jacobian(self.x[sel])[1].to(self.h.dtype)
        self.n_jacobians += sel.numel()
        h = _regularised_inverse(j)
        self.h[sel] = h.to(self.h.dtype)
        self.age[sel] = 0
        r = self.r[sel]
        p = -_mv(h, r).double()
        g = _vm(r, j).double()
        self.p[sel], self.g[sel] = p, g
        self.jp[sel], self.jg[sel] = _mv(j, p).double(), _mv(j, g).double()

    def broyden(self, moved: torch.Tensor, s: torch.Tensor, r_old: torch.Tensor) -> torch.Tensor:
        """Rank-1 update of ``h`` where ``moved`` (step ``s``, residual was ``r_old``); new
        Newton points, exact gradients and their images there. Returns the rows whose
        update was ill-defined or whose ``h`` is due for an exact refresh."""
        if self.x.shape[1] <= _SMALL_DIM:
            # In a few dimensions an exact Jacobian (analytic, or dim reverse passes in one
            # call) and its factorisation cost less than three separate products, which are
            # mostly dispatch there: every accepted step gets an exact refresh.
            return moved.clone()
        w = moved.to(torch.float64)[:, None]
        y = (self.r - r_old) * w
        hy = _mv(self.h, y).double()
        sh = _vm(s, self.h)
        den = (s * hy).sum(-1)
        ok = den.abs() > 1e-6 * s.norm(dim=-1) * hy.norm(dim=-1)
        u = (s - hy) / torch.where(ok, den, 1.0).unsqueeze(-1) * (w * ok[:, None])
        self.h.baddbmm_(u.to(self.h.dtype).unsqueeze(-1), sh.unsqueeze(1))  # in place
        idx = moved.nonzero().squeeze(1)
        self.age[idx] += 1
        x, r = self.x[idx], self.r[idx]
        p = -_mv(self.h, self.r).double()[idx]
        g = self.ev.vjp(x, r).double()
        jp, jg = self.ev.jvp(x, p).double(), self.ev.jvp(x, g).double()
        self.p[idx], self.g[idx], self.jp[idx], self.jg[idx] = p, g, jp, jg
        due = torch.zeros_like(moved)
        due[idx] = ~ok[idx] | (self.age[idx] >= _REFRESH)
        return due


def _dogleg(c: _Candidates, radii: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Dogleg steps ``[k, m, dim]`` for the trust radii ``delta * radii`` and their images
    under the exact Jacobian."""
    tiny = torch.finfo(torch.float64).tiny
    gg = c.g.pow(2).sum(-1)
    ng = gg.sqrt().clamp_min(tiny)
    coef = -gg / c.jg.pow(2).sum(-1).clamp_min(tiny)  # Cauchy point = coef * g
    n_cauchy = coef.abs() * ng
    n_newton = c.p.norm(dim=-1)
    d = c.delta[None] * radii[:, None]  # [k, m]
    newton = (n_newton[None] <= d) & (n_newton[None] > 0)
    gradient = ~newton & ((n_cauchy[None] >= d) | (n_newton[None] == 0))
    # Between: the point at distance d on the segment from the Cauchy to the Newton point.
    cp = coef[:, None] * c.g
    seg = c.p - cp
    a = seg.pow(2).sum(-1)[None]
    b = 2 * (cp * seg).sum(-1)[None]
    cc = n_cauchy[None] ** 2 - d ** 2
    tau = (-b + (b * b - 4 * a * cc).clamp_min(0).sqrt()) / (2 * a).clamp_min(tiny)
    alpha = torch.where(newton, 1.0, torch.where(gradient, 0.0, tau))
    beta = torch.where(newton, 0.0,
                       torch.where(gradient, -d / ng[None], (1 - tau) * coef[None]))
    steps = alpha[..., None] * c.p[None] + beta[..., None] * c.g[None]
    images = alpha[..., None] * c.jp[None] + beta[..., None] * c.jg[None]
    return steps, images


def _trial_steps(ev: Evaluator, c: _Candidates, radii: torch.Tensor, dtype: torch.dtype
                 ) -> tuple[torch.Tensor, ...]:
    """Try the dogleg steps of every trust radius in one batched evaluation; per candidate,
    whether one is accepted and the longest acceptable one (radii are in decreasing order):
    ``accept``, step ``s``, new state, its residual and q, and its ratio ``rho`` of actual to
    predicted decrease."""
    k, (m, dim) = len(radii), c.x.shape
    steps, images = _dogleg(c, radii)
    predicted = c.q[None] - 0.5 * (c.r[None] + images).pow(2).sum(-1)
    xt = (c.x.double()[None] + steps).reshape(k * m, dim).to(dtype)
    rt = ev.residual(xt).double()
    qt = 0.5 * rt.pow(2).sum(-1).reshape(k, m)
    rho = (c.q[None] - qt) / predicted.clamp_min(torch.finfo(torch.float64).tiny)
    ok = torch.isfinite(qt) & (qt < c.q[None]) & (rho > _RHO_MIN)
    accept = ok.any(0)
    pick = torch.where(accept, ok.to(torch.int8).argmax(0), 0) * m + torch.arange(
        m, device=c.x.device)
    return (accept, steps.reshape(k * m, dim)[pick], xt[pick], rt[pick],
            qt.reshape(-1)[pick], rho.reshape(-1)[pick])


def solve(ev: Evaluator, x0: torch.Tensor, *, tol_q: float, max_iter: int, adam_steps: int,
          adam_lr: float, patience: int, center: torch.Tensor, radius: float,
          merge_tol: float = 0.0, progress: bool = False) -> SolveResult:
    """Drive every row of ``x0`` to a zero (or a local minimum) of q; see the module docstring.

    A candidate stops when it is converged (``q <= tol_q`` and the next step no longer
    halves q: it sits at the rounding floor; or ``q <= eps tol_q``), when its trust radius
    falls below rounding of x (a local minimum of q with ``q > 0``: a slow point), when q
    has not fallen tenfold in ``patience`` iterations (creeping along a slow manifold), when
    it leaves the ball of ``radius`` around ``center`` (it would be dropped as an outlier),
    when it comes within ``merge_tol`` of a converged candidate or of another candidate with
    smaller q (``merged``: it would end as a duplicate, so only one goes on), or after
    ``max_iter`` iterations.
    """
    with torch.no_grad(), eval_mode(ev.dynamics):
        X = _adam(ev, x0, adam_steps, adam_lr)
        n = X.shape[0]
        dev = X.device
        r0 = ev.residual(X)
        Q = 0.5 * r0.double().pow(2).sum(-1)
        n_iter = torch.zeros(n, dtype=torch.long, device=dev)
        active = torch.isfinite(Q) & (Q > 0)
        merged = torch.zeros(n, dtype=torch.bool, device=dev)
        if merge_tol > 0:
            _merge(X, Q, active, merged, tol_q, merge_tol)
        rows = active.nonzero().squeeze(1)
        c = _Candidates(ev, rows, X[rows], r0[rows], Q[rows])
        if max_iter > 0 and len(c):
            c.refresh(torch.arange(len(c), device=dev))
            c.delta = c.p.norm(dim=-1)  # the first trial is the full Newton step
        radii = torch.tensor(_RADII, dtype=torch.float64, device=dev)
        eps = ev.eps
        bar = tqdm(total=max_iter, disable=not progress, desc="fixed points", unit="iter",
                   leave=False)
        for _ in range(max_iter):
            m = len(c)
            if m == 0:
                break
            bar.update(1)
            bar.set_postfix(active=m, converged=int((Q <= tol_q).sum()), refresh=False)
            xa = c.x.double()
            accept, s, xt, rt, q_new, rho_s = _trial_steps(ev, c, radii, X.dtype)
            s_norm = s.norm(dim=-1)
            # Converged: below tolerance and no longer improving quickly (the rounding floor),
            # or far below it (points at the origin have no floor).
            done = (c.q <= tol_q) & (~(accept & (q_new < 0.5 * c.q)) | (c.q <= tol_q * eps))
            tiny = c.delta * radii[0] <= 4 * eps * (xa.norm(dim=-1) + eps)
            c.delta = torch.where(
                accept,
                torch.where(rho_s > 0.75, torch.maximum(c.delta, 2 * s_norm),
                            torch.where(rho_s > 0.25, s_norm, 0.5 * s_norm)),
                c.delta * radii[-1] * 0.25)
            r_old = c.r
            c.x = torch.where(accept[:, None], xt, c.x)
            c.r = torch.where(accept[:, None], rt, c.r)
            c.q = torch.where(accept, q_new, c.q)
            n_iter[c.rows] += 1
            progressed = c.q <= 0.1 * c.q_ref
            c.q_ref = torch.where(progressed, c.q, c.q_ref)
            c.since = torch.where(progressed, 0, c.since + 1)
            outside = (c.x.double() - center).norm(dim=-1) > radius
            stop = (done | tiny | (c.q == 0) | outside
                    | ((c.since >= patience) & (c.q > tol_q)))
            X[c.rows], Q[c.rows] = c.x, c.q
            active[c.rows[stop]] = False
            if merge_tol > 0:
                _merge(X, Q, active, merged, tol_q, merge_tol)
            going = active[c.rows]
            if not going.all():
                c.keep(going)
                accept, s, r_old = accept[going], s[going], r_old[going]
                if len(c) == 0:
                    break
            due = c.broyden(accept, s, r_old) if accept.any() else torch.zeros_like(accept)
            # No radius accepted since the last update: the model, not the radius, is wrong.
            due |= ~accept & (c.age > 0)
            if due.any():
                c.refresh(due.nonzero().squeeze(1))
        bar.close()
        X[c.rows], Q[c.rows] = c.x, c.q
    return SolveResult(x=X, q=Q, n_iter=n_iter, n_adam=adam_steps, merged=merged,
                       n_jacobians=c.n_jacobians)
