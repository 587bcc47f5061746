"""A GRU layer's recurrence as one autograd node with a hand-written backward (for CPU training).

torch's fused ``nn.GRU`` has no fused backward on CPU: autograd records a dozen ops per time
step and runs their backward one by one, with two small weight-gradient matmuls per step.
Here the input projections of all steps are one matmul (left to autograd, whose matmul
backward then gives the input-weight gradients in one go too); the recurrence loops over
time in about ten ops per step without recording anything; the backward computes the gates'
slopes (:func:`gate_slopes`) for a chunk of steps at once, then walks the chunk back in five
ops per step (one of them the ``d gh @ W_hh`` matmul), and the recurrent-weight gradient is
one matmul per chunk. Several layers of one hidden size share the loop (batched matmuls):
both directions of a bidirectional GRU, or LFADS's two encoders (:func:`run_grus`). The math
is torch's GRU (gate order reset, update, candidate)::

    r = sigmoid(gi_r + W_hr h + b_hr)      z = sigmoid(gi_z + W_hz h + b_hz)
    n = tanh(gi_n + r (W_hn h + b_hn))     h' = (1 - z) n + z h

with ``gi = W_ih x + b_ih``. :func:`run_gru` runs an ``nn.GRU`` module (its parameters, so
checkpoints are unchanged) this way when a gradient is wanted on a CPU and the layer is small
enough to gain (:func:`wants_hand_backward`), and through the module itself otherwise (no
gradient: the fused forward is faster; CUDA: cuDNN is; large layers: the matmuls, the same
either way, dominate). :func:`gru_step`, :func:`gate_slopes`, :func:`chunks` and
:func:`stack_steps` are shared with the LFADS controller loop
(:mod:`dynlens.models.lfads_loop`), which walks back with flat slopes of its own;
:func:`gate_grads` and :func:`gru_step_back` are this module's backward steps.
:func:`hand_backward` switches the hand-written paths off (in the calling thread) for
comparisons.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

__all__ = [
    "chunks",
    "enabled",
    "gate_grads",
    "gate_slopes",
    "gru_recurrence",
    "gru_states",
    "gru_step",
    "gru_step_back",
    "hand_backward",
    "run_gru",
    "run_grus",
    "stack_steps",
    "wants_hand_backward",
]

# Which hand-written backwards are on (both by default); ``hand_backward`` switches them, so
# that tests and benchmarks can run the previous autograd path on the same weights. A context
# variable, so that a switch in one thread (or asyncio task) leaves the others' training alone.
_SWITCHES = ("sequence", "loop")
_ENABLED: ContextVar[frozenset[str]] = ContextVar("dynlens_hand_backward",
                                                  default=frozenset(_SWITCHES))


@contextmanager
def hand_backward(sequence: bool = True, loop: bool = True) -> Iterator[None]:
    """Switch the hand-written backwards on or off inside a ``with`` block.

    Parameters
    ----------
    sequence : bool
        GRU layers (LFADS's encoders, its generator without a controller) through
        :func:`gru_recurrence`; off: torch's ``nn.GRU`` with autograd.
    loop : bool
        LFADS's controller-generator loop as one autograd node
        (:mod:`dynlens.models.lfads_loop`); off: ``nn.GRUCell`` steps with autograd.

    Examples
    --------
    >>> from dynlens.models.gru_sequence import enabled, hand_backward
    >>> with hand_backward(sequence=False):
    ...     enabled("sequence"), enabled("loop")
    (False, True)
    >>> enabled("sequence")
    True
    """
    on = {"sequence": bool(sequence), "loop": bool(loop)}
    token = _ENABLED.set(frozenset(name for name in _SWITCHES if on[name]))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def enabled(name: str) -> bool:
    """Whether the hand-written backward ``name`` ("sequence" or "loop") is on.

    Examples
    --------
    >>> enabled("loop")
    True
    """
    if name not in _SWITCHES:
        raise KeyError(f"name: expected one of {_SWITCHES}, found {name!r}")
    return name in _ENABLED.get()


# -- one step forward (shared with the LFADS loop) and back --------------------------------
def gru_step(gi: torch.Tensor, h: torch.Tensor, weight_hh_t: torch.Tensor,
             bias_hh: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One GRU step from the input projection ``gi``; returns ``h', (r, z), n, gh``.

    ``weight_hh_t`` is ``W_hh`` transposed (``[..., hidden, 3 hidden]``; a leading direction
    axis is batched); ``gh = W_hh h + b_hh``. The gates and ``gh`` are what the backward
    needs (:func:`gate_slopes`).

    Examples
    --------
    >>> import torch
    >>> cell = torch.nn.GRUCell(3, 4)
    >>> x, h = torch.randn(2, 3), torch.randn(2, 4)
    >>> gi = x @ cell.weight_ih.T + cell.bias_ih
    >>> new = gru_step(gi, h, cell.weight_hh.T, cell.bias_hh)[0]
    >>> bool(torch.allclose(new, cell(x, h), atol=1e-6))
    True
    """
    size = h.shape[-1]
    gh = (torch.baddbmm(bias_hh, h, weight_hh_t) if h.dim() == 3
          else torch.addmm(bias_hh, h, weight_hh_t))
    gi_rz, gi_n = gi.split_with_sizes((2 * size, size), -1)  # not .split: a Python wrapper
    gh_rz, gh_n = gh.split_with_sizes((2 * size, size), -1)
    rz = torch.add(gi_rz, gh_rz).sigmoid_()
    r, z = rz.chunk(2, -1)
    n = torch.addcmul(gi_n, r, gh_n).tanh_()
    return torch.lerp(n, h, z), rz, n, gh  # lerp: n + z (h - n)


def gate_slopes(h_prev: torch.Tensor, rz: torch.Tensor, n: torch.Tensor,
                gh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Derivatives of GRU steps' new states with respect to their ``gh`` and ``gi``.

    A step's gate gradients are its new state's gradient times these, gate block by gate
    block, so the backward loop needs one multiplication per step for them; computed for
    many steps at once (any leading axes) from what :func:`gru_step` returned. Returns
    ``(slope_gh, slope_gi, z)``, the slopes ``[..., 3, hidden]`` (reset, update, candidate).

    Examples
    --------
    >>> import torch
    >>> cell = torch.nn.GRUCell(2, 3)
    >>> x, h = torch.randn(1, 2), torch.randn(1, 3)
    >>> gi = (x @ cell.weight_ih.T + cell.bias_ih).detach().requires_grad_()
    >>> new, *saved = gru_step(gi, h, cell.weight_hh.T, cell.bias_hh)
    >>> slope_gh, slope_gi, z = gate_slopes(h, *[s.detach() for s in saved])
    >>> new[0, 0].backward()
    >>> bool(torch.allclose(gi.grad[0, 0::3], slope_gi[0, :, 0]))  # unit 0's three gates
    True
    """
    size = n.shape[-1]
    r, z = rz.chunk(2, -1)
    keep = 1 - z
    slope_n = torch.addcmul(keep, keep * n, n, value=-1)  # (1 - z) tanh'
    slope_z = (h_prev - n) * z * keep  # sigmoid' = z (1 - z)
    slope_r = slope_n * gh[..., 2 * size:] * torch.addcmul(r, r, r, value=-1)
    return (torch.stack([slope_r, slope_z, slope_n * r], -2),
            torch.stack([slope_r, slope_z, slope_n], -2), z)


def gate_grads(slope: torch.Tensor, dh: torch.Tensor) -> torch.Tensor:
    """Gate gradients ``[..., 3 hidden]`` of steps from their new states' gradients ``dh``
    and a slope of :func:`gate_slopes` (``[..., 3, hidden]``).

    Examples
    --------
    >>> import torch
    >>> gate_grads(torch.ones(1, 3, 2), torch.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]]
    """
    return (slope * dh.unsqueeze(-2)).flatten(-2)


def gru_step_back(dh: torch.Tensor, slope_gh: torch.Tensor, z: torch.Tensor,
                  weight_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward of one GRU step from ``dh`` (its new state's total gradient).

    Returns ``(d gh, d h_prev)``; ``slope_gh`` and ``z`` are the step's from
    :func:`gate_slopes` (``d gi`` is :func:`gate_grads` of ``slope_gi``).

    Examples
    --------
    >>> import torch
    >>> cell = torch.nn.GRUCell(2, 3)
    >>> x, h = torch.randn(1, 2), torch.randn(1, 3, requires_grad=True)
    >>> gi = x @ cell.weight_ih.T + cell.bias_ih
    >>> new, *saved = gru_step(gi, h, cell.weight_hh.T, cell.bias_hh)
    >>> slope_gh, _, z = gate_slopes(h.detach(), *[s.detach() for s in saved])
    >>> dh = torch.randn(1, 3)
    >>> d_gh, dh_prev = gru_step_back(dh, slope_gh, z, cell.weight_hh.detach())
    >>> new.backward(dh)
    >>> bool(torch.allclose(dh_prev, h.grad, atol=1e-6))
    True
    """
    d_gh = gate_grads(slope_gh, dh)
    mm = torch.baddbmm if dh.dim() == 3 else torch.addmm
    return d_gh, mm(dh * z, d_gh, weight_hh)


# numbers in a chunk's slopes: 512 kB in float32, so that a chunk's tensors stay in cache and
# come back from the allocator's free lists (larger ones measured slower here, page faults);
# tests lower it to check chunked backwards
CHUNK_NUMEL = 2**17


def chunks(n_steps: int, step_numel: int, budget: int | None = None) -> list[tuple[int, int]]:
    """Step ranges ``[t0, t1)`` whose slopes (``step_numel`` numbers a step) fit ``budget``
    (default ``CHUNK_NUMEL``).

    The backward computes :func:`gate_slopes` a chunk of steps at a time: fewer ops than
    step by step, and smaller tensors than all steps at once (which cost page faults).

    Examples
    --------
    >>> chunks(10, step_numel=300_000, budget=1_000_000)
    [(0, 3), (3, 6), (6, 9), (9, 10)]
    """
    budget = CHUNK_NUMEL if budget is None else budget
    size = max(1, min(n_steps, budget // max(1, step_numel)))
    return [(t0, min(t0 + size, n_steps)) for t0 in range(0, n_steps, size)]


def stack_steps(steps: Sequence[torch.Tensor], dim: int = 0) -> torch.Tensor:
    """``torch.stack`` that gives a view, not a copy, of a single step (chunks of one step:
    large layers).

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(2, 3)
    >>> stack_steps([x], 1).shape, stack_steps([x, x]).shape
    (torch.Size([2, 1, 3]), torch.Size([2, 2, 3]))
    >>> stack_steps([x]).data_ptr() == x.data_ptr()
    True
    """
    return steps[0].unsqueeze(dim) if len(steps) == 1 else torch.stack(steps, dim)


def _outer_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum over steps and trials of a^T b`` per direction: ``[D, T, B, i], [D, T, B, j]
    -> [D, i, j]`` as one batched matmul (the weight gradient of many steps at once)."""
    d = a.shape[0]
    return torch.bmm(a.reshape(d, -1, a.shape[-1]).transpose(1, 2), b.reshape(d, -1, b.shape[-1]))


def _previous(states: torch.Tensor, h0: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
    """The states steps ``t0 .. t1 - 1`` read (``h0`` before step 0), axis 1 the steps."""
    if t0:
        return states[:, t0 - 1:t1 - 1]
    return torch.cat([h0.unsqueeze(1), states[:, :t1 - 1]], 1)


class _GRURecurrence(torch.autograd.Function):
    """The recurrence of ``D`` GRU layers at once: ``h0 [D, B, H]``, ``weight_hh [D, 3H, H]``,
    ``bias_hh [D, 3H]``, then each layer's ``gi [T, B, 3H]`` -> states ``[D, T, B, H]``."""

    @staticmethod
    def forward(ctx, h0: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor,
                *gi: torch.Tensor) -> torch.Tensor:
        weight_t, bias, h = weight_hh.transpose(1, 2), bias_hh[:, None], h0
        # one layer: its steps' views; several: their steps stacked one step at a time
        # (small tensors come back from the allocator's free lists, large ones fault pages)
        inputs = (gi[0].unsqueeze(0).unbind(1) if len(gi) == 1
                  else map(torch.stack, zip(*(g.unbind(0) for g in gi))))
        steps = []
        for gi_t in inputs:
            h, *saved = gru_step(gi_t, h, weight_t, bias)
            steps.append((h, *saved))
        states, *ctx.steps = zip(*steps)  # intermediates on ctx: no reference cycle
        states = torch.stack(states, 1)
        ctx.save_for_backward(h0, weight_hh, states)
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h0, weight_hh, states = ctx.saved_tensors
        d_out, dh = d_states.unbind(1), torch.zeros_like(h0)
        d_w, d_b, d_gi = torch.zeros_like(weight_hh), h0.new_zeros(weight_hh.shape[:2]), []
        for t0, t1 in reversed(chunks(len(d_out), 6 * h0.numel())):
            h_prev = _previous(states, h0, t0, t1)
            slope_gh, slope_gi, z = gate_slopes(
                h_prev, *(stack_steps(x[t0:t1], 1) for x in ctx.steps))
            slopes, zs = slope_gh.unbind(1), z.unbind(1)
            d_gh, d_h = [], []
            for s in range(t1 - t0 - 1, -1, -1):
                d_h.append(d_out[t0 + s] + dh)
                d_gh_s, dh = gru_step_back(d_h[-1], slopes[s], zs[s], weight_hh)
                d_gh.append(d_gh_s)
            d_gh = stack_steps(d_gh[::-1], 1)
            d_w += _outer_sum(d_gh, h_prev)
            d_b += d_gh.sum((1, 2))
            d_gi.append(gate_grads(slope_gi, stack_steps(d_h[::-1], 1)))  # the chunk at once
        # one tensor per layer, steps in order (a buffer for all layers is twice as large,
        # past the size the allocator recycles)
        d_gi = [torch.cat(x) for x in zip(*(chunk.unbind(0) for chunk in reversed(d_gi)))]
        return dh, d_w, d_b, *d_gi


def gru_recurrence(gi: Sequence[torch.Tensor], h0: torch.Tensor, weight_hh: torch.Tensor,
                   bias_hh: torch.Tensor) -> torch.Tensor:
    """States of ``D`` GRU layers from their input projections, with a hand-written backward.

    Parameters
    ----------
    gi : sequence of Tensor
        Per layer, ``W_ih x_t + b_ih`` for every step, ``[T, B, 3H]`` (time-major).
    h0 : Tensor
        Initial states ``[D, B, H]``.
    weight_hh, bias_hh : Tensor
        Recurrent weights ``[D, 3H, H]`` and biases ``[D, 3H]``.

    Returns
    -------
    Tensor
        States after each step ``[D, T, B, H]``.

    Examples
    --------
    >>> import torch
    >>> gru = torch.nn.GRU(3, 4)
    >>> x, h0 = torch.randn(5, 2, 3), torch.randn(1, 2, 4)
    >>> gi = x @ gru.weight_ih_l0.T + gru.bias_ih_l0
    >>> states = gru_recurrence([gi], h0, gru.weight_hh_l0[None], gru.bias_hh_l0[None])
    >>> bool(torch.allclose(states[0], gru(x, h0)[0], atol=1e-6))
    True
    """
    return _GRURecurrence.apply(h0, weight_hh, bias_hh, *gi)


def gru_states(x: torch.Tensor, h0: torch.Tensor, weight_ih: torch.Tensor,
               weight_hh: torch.Tensor, bias_ih: torch.Tensor,
               bias_hh: torch.Tensor) -> torch.Tensor:
    """One GRU layer over ``x [B, T, in]`` from ``h0 [B, H]``: states ``[B, T, H]``.

    The input projection is one matmul over all steps; the recurrence is
    :func:`gru_recurrence`.

    Examples
    --------
    >>> import torch
    >>> cell = torch.nn.GRUCell(2, 3)
    >>> x, h = torch.randn(4, 6, 2), torch.randn(4, 3)
    >>> states = gru_states(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> bool(torch.allclose(states[:, 0], cell(x[:, 0], h), atol=1e-6))
    True
    """
    gi = F.linear(x.transpose(0, 1), weight_ih, bias_ih)
    return gru_recurrence([gi], h0[None], weight_hh[None], bias_hh[None])[0].transpose(0, 1)


# The largest batch x hidden size a GRU layer takes the hand-written backward at. Measured
# against torch's nn.GRU at 1 thread, fused forward and autograd backward, 100 steps: 1.7x
# (bidirectional) and 1.5x (one direction) faster at 32 x 32, 1.3x at 32 x 64, 1.0-1.2x at
# 4096 (32 x 128, 64 x 64, 128 x 32), 0.85-0.97x from 8192 up (64 x 128 to 128 x 200), where
# the matmuls, the same on both paths, take most of the time and the backward's extra
# memory traffic shows.
SEQUENCE_MAX_WORK = 4096


def wants_hand_backward(x: torch.Tensor, module: nn.Module) -> bool:
    """Whether a GRU layer of ``module`` on ``x`` (batch first) should run through
    :func:`gru_recurrence`.

    Yes on a CPU when a gradient is wanted (of ``x`` or of the module's parameters), the
    batch times the hidden size is at most ``SEQUENCE_MAX_WORK`` and the ``sequence``
    switch of :func:`hand_backward` is on; otherwise torch's fused forward (or cuDNN) is
    as fast or faster.

    Examples
    --------
    >>> import torch
    >>> gru = torch.nn.GRU(2, 3, batch_first=True)
    >>> x = torch.zeros(4, 10, 2)
    >>> wants_hand_backward(x, gru)
    True
    >>> with torch.no_grad():
    ...     wants_hand_backward(x, gru)
    False
    >>> wants_hand_backward(torch.zeros(128, 10, 2), torch.nn.GRU(2, 200))  # large: nn.GRU
    False
    """
    if not enabled("sequence") or x.device.type != "cpu" or not torch.is_grad_enabled():
        return False
    if x.shape[0] * module.hidden_size > SEQUENCE_MAX_WORK:
        return False
    return x.requires_grad or any(p.requires_grad for p in module.parameters())


def run_gru(gru: nn.GRU, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``gru(x)`` for a one-layer, batch-first ``nn.GRU`` (uni- or bidirectional) from zero
    states, through :func:`gru_recurrence` when training on a CPU; same outputs ``(out, h_n)``.

    Examples
    --------
    >>> import torch
    >>> gru = torch.nn.GRU(3, 4, batch_first=True, bidirectional=True)
    >>> x = torch.randn(2, 5, 3)
    >>> out, h_n = run_gru(gru, x)  # parameters want gradients: the hand-written backward
    >>> ref_out, ref_h_n = gru(x)
    >>> bool(torch.allclose(out, ref_out, atol=1e-6) and torch.allclose(h_n, ref_h_n, atol=1e-6))
    True
    """
    return run_grus([gru], x)[0]


def run_grus(grus: Sequence[nn.GRU], x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`run_gru` for several GRUs on the same input; those of one hidden size share
    one loop over time when training on a CPU (LFADS's two encoders: half the steps' ops).

    Examples
    --------
    >>> import torch
    >>> grus = [torch.nn.GRU(3, 4, batch_first=True, bidirectional=True),
    ...         torch.nn.GRU(3, 4, batch_first=True)]
    >>> x = torch.randn(2, 5, 3)
    >>> [tuple(out.shape) for out, _ in run_grus(grus, x)]
    [(2, 5, 8), (2, 5, 4)]
    >>> bool(torch.allclose(run_grus(grus, x)[1][0], grus[1](x)[0], atol=1e-6))
    True
    """
    hand = [wants_hand_backward(x, gru) for gru in grus]
    sizes = {gru.hidden_size for gru, h in zip(grus, hand) if h}
    if len(sizes) > 1:  # one loop per hidden size
        return [run_grus([gru], x)[0] for gru in grus]
    joint = iter(_run_hand([gru for gru, h in zip(grus, hand) if h], x))
    return [next(joint) if h else gru(x) for gru, h in zip(grus, hand)]


def _run_hand(grus: Sequence[nn.GRU], x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """GRUs of one hidden size through one :func:`gru_recurrence`; ``nn.GRU``'s outputs."""
    if not grus:
        return []
    x_tm = x.transpose(0, 1)  # time-major: every step's slice is contiguous
    layers = [(gru, suffix) for gru in grus
              for suffix in ([""] + (["_reverse"] if gru.bidirectional else []))]
    # a reverse direction runs forward on flipped time
    gi = [F.linear(x_tm.flip(0) if suffix else x_tm, getattr(gru, f"weight_ih_l0{suffix}"),
                   getattr(gru, f"bias_ih_l0{suffix}")) for gru, suffix in layers]
    h0 = x.new_zeros(len(layers), x.shape[0], grus[0].hidden_size)
    states = gru_recurrence(
        gi, h0, torch.stack([getattr(gru, f"weight_hh_l0{sfx}") for gru, sfx in layers]),
        torch.stack([getattr(gru, f"bias_hh_l0{sfx}") for gru, sfx in layers]))
    outputs, layer = [], 0
    for gru in grus:
        n_dir = 2 if gru.bidirectional else 1
        per_direction = [states[layer]] + ([states[layer + 1].flip(0)] if n_dir == 2 else [])
        outputs.append((torch.cat(per_direction, -1).transpose(0, 1),
                        states[layer:layer + n_dir, -1]))
        layer += n_dir
    return outputs
