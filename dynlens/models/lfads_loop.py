"""LFADS's controller-generator loop as one autograd node with a hand-written backward.

Each bin needs the other recurrent network's last output (the controller reads the previous
factors, the generator the controller's inferred input), so the loop cannot be one fused
GRU. Run with ``nn.GRUCell`` steps, autograd records some sixty ops per bin and replays
their backward one by one, two weight-gradient matmuls per matmul. Here the forward runs the
bin's few matmuls and gate ops without recording anything (the controller's projection of
the encoder's output, which needs no recurrence, is one matmul for all bins beforehand), and
the backward walks the bins back with only the matmuls that carry gradients between them;
every weight gradient is a matmul over all bins after the walk. The math per bin ``t``::

    con_t  = GRU_con(W_ci ci_t + b_ih_con + W_cf factor_{t-1}, con_{t-1})
    mean_t, logvar_t = W_co con_t + b_co
    u_t    = mean_t + exp(logvar_t / 2) eps_t            (eps = 0 without sampling)
    g_t    = GRU_gen(gen_in_t + W_gu u_t, g_{t-1})       (gen_in: b_ih_gen + W_ge ext_t)
    factor_t = (mask_t * g_t) W_factor^T                 (mask: state dropout, or ones)

with ``con_{-1} = 0``; ``factor_{-1}`` and ``g_{-1}`` come from the initial condition.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from .gru_sequence import chunks, gate_slopes, gru_step, stack_steps

__all__ = ["LoopWeights", "controlled_loop"]


class LoopWeights(NamedTuple):
    """The weights the controller-generator loop uses (views of LFADS's parameters).

    Examples
    --------
    >>> import torch
    >>> w = LoopWeights(*[torch.zeros(1)] * 9)
    >>> w._fields[:3]
    ('w_cf', 'w_hh_c', 'b_hh_c')
    """

    w_cf: torch.Tensor  # controller input weights of the factors [3C, F]
    w_hh_c: torch.Tensor  # [3C, C]
    b_hh_c: torch.Tensor  # [3C]
    w_co: torch.Tensor  # controller output -> inferred-input mean and log-variance [2K, C]
    b_co: torch.Tensor  # [2K]
    w_gu: torch.Tensor  # generator input weights of the inferred inputs [3G, K]
    w_hh_g: torch.Tensor  # [3G, G]
    b_hh_g: torch.Tensor  # [3G]
    w_factor: torch.Tensor  # row-normalised factor map [F, G]


def _weight_grad(d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``sum over bins and trials of d^T x``: ``[T, B, i], [T, B, j] -> [i, j]``."""
    return d.reshape(-1, d.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _previous(x: torch.Tensor, x0: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
    """What bins ``t0 .. t1 - 1`` read of ``x`` (bin ``t`` reads ``x_{t-1}``, bin 0 ``x0``)."""
    return x[t0 - 1:t1 - 1] if t0 else torch.cat([x0[None], x[:t1 - 1]])


def _chunk_slopes(h_prev: torch.Tensor, rz: torch.Tensor, n: torch.Tensor,
                  gh: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    """:func:`gate_slopes` of a chunk of bins, flat (``[..., 3 hidden]``), bin by bin."""
    slope_gh, slope_gi, z = gate_slopes(h_prev, rz, n, gh)
    return [x.unbind(0) for x in (slope_gh.flatten(-2), slope_gi.flatten(-2), z)]


def _step_back(dh: torch.Tensor, slope_gh: torch.Tensor, slope_gi: torch.Tensor,
               z: torch.Tensor, weight_hh: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """:func:`gru_step_back` and the input-gate gradients, from flat slopes: ``dh`` repeated
    for the three gates once for both (faster than two broadcasts at these sizes)."""
    dh3 = torch.cat([dh, dh, dh], -1)
    d_gh = slope_gh * dh3
    return d_gh, slope_gi * dh3, torch.addmm(dh * z, d_gh, weight_hh)


class _ControlledLoop(torch.autograd.Function):
    """Inputs: ``ci_proj [T, B, 3C]``, ``factor0 [B, F]``, ``g0 [B, G]``, ``gen_in
    [T, B, 3G]``, ``eps [T, B, K]`` or None, ``mask [T, B, G]`` or None, then the nine
    :class:`LoopWeights`. Outputs: states, factors, ``(mean, logvar)`` and ``u`` per bin."""

    @staticmethod
    def forward(ctx, ci_proj, factor0, g0, gen_in, eps, mask, *weights):
        w = LoopWeights(*weights)
        con, g, factor = g0.new_zeros(g0.shape[0], w.w_hh_c.shape[1]), g0, factor0
        w_cf_t, w_hh_c_t, w_co_t = w.w_cf.T, w.w_hh_c.T, w.w_co.T
        w_gu_t, w_hh_g_t, w_factor_t = w.w_gu.T, w.w_hh_g.T, w.w_factor.T
        eps_t = eps.unbind(0) if eps is not None else None
        mask_t = mask.unbind(0) if mask is not None else None
        steps = []
        for t, (ci_t, gen_t) in enumerate(zip(ci_proj.unbind(0), gen_in.unbind(0))):
            con, *saved_c = gru_step(torch.addmm(ci_t, factor, w_cf_t), con, w_hh_c_t,
                                     w.b_hh_c)
            co = torch.addmm(w.b_co, con, w_co_t)
            mean, logvar = co.chunk(2, -1)
            u = mean if eps_t is None else torch.addcmul(mean, torch.exp(0.5 * logvar), eps_t[t])
            g, *saved_g = gru_step(torch.addmm(gen_t, u, w_gu_t), g, w_hh_g_t, w.b_hh_g)
            factor = (g if mask_t is None else g * mask_t[t]) @ w_factor_t
            steps.append((con, g, factor, co, u, *saved_c, *saved_g))
        cons, states, factors, co, us, *ctx.saved = zip(*steps)
        cons, states, factors, co, us = (torch.stack(x) for x in (cons, states, factors, co, us))
        ctx.sampled = eps is not None
        ctx.save_for_backward(factor0, g0, mask, cons, states, factors, co, us, *weights)
        return states, factors, co, us

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states, d_factors, d_co, d_u):
        factor0, g0, mask, cons, states, factors, co, us, *weights = ctx.saved_tensors
        w = LoopWeights(*weights)
        n_co = us.shape[-1]
        con0 = torch.zeros_like(cons[0])
        # d co = d co (given) + (du, du) * (1, d u / d logvar), with d u / d logvar =
        # (u - mean) / 2 (zero without sampling): the second factor for all bins at once
        du_dco = torch.cat([torch.ones_like(us), 0.5 * (us - co[..., :n_co]) if ctx.sampled
                            else torch.zeros_like(us)], -1).unbind(0)
        d_co, d_states = d_co.unbind(0), d_states.unbind(0)
        d_factors, d_u = d_factors.unbind(0), d_u.unbind(0)
        masks = mask.unbind(0) if mask is not None else None
        d_con, dg, dfactor = torch.zeros_like(con0), torch.zeros_like(g0), d_factors[-1]
        d = {k: [] for k in ("gh_c", "gi_c", "gh_g", "gi_g", "co", "fac")}
        for t0, t1 in reversed(chunks(len(d_states), 6 * (con0.numel() + g0.numel()))):
            saved = [stack_steps(x[t0:t1]) for x in ctx.saved]
            slopes_c = _chunk_slopes(_previous(cons, con0, t0, t1), *saved[:3])
            slopes_g = _chunk_slopes(_previous(states, g0, t0, t1), *saved[3:])
            for s in range(t1 - t0 - 1, -1, -1):
                t = t0 + s
                if masks is None:
                    dg = torch.addmm(d_states[t] + dg, dfactor, w.w_factor)
                else:
                    dg = torch.addcmul(d_states[t] + dg, dfactor @ w.w_factor, masks[t])
                d_gh_g, d_gi_g, dg = _step_back(dg, *(x[s] for x in slopes_g), w.w_hh_g)
                du = torch.addmm(d_u[t], d_gi_g, w.w_gu)
                dco = torch.addcmul(d_co[t], torch.cat([du, du], -1), du_dco[t])
                d_gh_c, d_gi_c, d_con = _step_back(torch.addmm(d_con, dco, w.w_co),
                                                   *(x[s] for x in slopes_c), w.w_hh_c)
                for key, value in zip(d, (d_gh_c, d_gi_c, d_gh_g, d_gi_g, dco, dfactor)):
                    d[key].append(value)
                # the factors of bin t - 1 (of the initial condition for bin 0) fed bin t
                dfactor = (torch.addmm(d_factors[t - 1], d_gi_c, w.w_cf) if t
                           else d_gi_c @ w.w_cf)
        d = {k: torch.stack(v[::-1]) for k, v in d.items()}
        grads = LoopWeights(
            w_cf=_weight_grad(d["gi_c"], _previous(factors, factor0, 0, len(factors))),
            w_hh_c=_weight_grad(d["gh_c"], _previous(cons, con0, 0, len(cons))),
            b_hh_c=d["gh_c"].sum((0, 1)),
            w_co=_weight_grad(d["co"], cons), b_co=d["co"].sum((0, 1)),
            w_gu=_weight_grad(d["gi_g"], us),
            w_hh_g=_weight_grad(d["gh_g"], _previous(states, g0, 0, len(states))),
            b_hh_g=d["gh_g"].sum((0, 1)),
            w_factor=_weight_grad(d["fac"], states if mask is None else states * mask))
        return (d["gi_c"], dfactor, dg, d["gi_g"], None, None, *grads)


def controlled_loop(ci_proj: torch.Tensor, factor0: torch.Tensor, g0: torch.Tensor,
                    gen_in: torch.Tensor, weights: LoopWeights, eps: torch.Tensor | None = None,
                    mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """Run the controller and the generator bin by bin, with a hand-written backward.

    Parameters
    ----------
    ci_proj : Tensor
        ``W_ci ci_t + b_ih_con`` for every bin, time-major ``[T, B, 3C]``.
    factor0, g0 : Tensor
        Factors and generator state before the first bin, ``[B, F]`` and ``[B, G]``.
    gen_in : Tensor
        The generator's input projection apart from the inferred inputs, ``[T, B, 3G]``
        (may be an expanded bias).
    weights : LoopWeights
        The loop's weights.
    eps : Tensor, optional
        Standard normal noise ``[T, B, K]`` when sampling inferred inputs; None: their means.
    mask : Tensor, optional
        Dropout mask of the generator states (scaled) ``[T, B, G]`` the factors read.

    Returns
    -------
    tuple of Tensor
        Time-major generator states ``[T, B, G]``, factors ``[T, B, F]``, controller outputs
        (inferred-input mean then log-variance) ``[T, B, 2K]`` and inferred inputs
        ``[T, B, K]``.

    Examples
    --------
    >>> import torch
    >>> T, B, C, G, F, K = 4, 2, 3, 5, 2, 1
    >>> weights = LoopWeights(torch.randn(3 * C, F), torch.randn(3 * C, C), torch.zeros(3 * C),
    ...                       torch.randn(2 * K, C), torch.zeros(2 * K), torch.randn(3 * G, K),
    ...                       torch.randn(3 * G, G), torch.zeros(3 * G), torch.randn(F, G))
    >>> states, factors, co, u = controlled_loop(
    ...     torch.randn(T, B, 3 * C), torch.zeros(B, F), torch.zeros(B, G),
    ...     torch.zeros(3 * G).expand(T, B, 3 * G), weights)
    >>> tuple(states.shape), tuple(factors.shape), bool(torch.equal(u, co[..., :K]))
    ((4, 2, 5), (4, 2, 2), True)
    """
    return _ControlledLoop.apply(ci_proj, factor0, g0, gen_in, eps, mask, *weights)
