"""How many CPU threads torch may use: the ``threads`` setting of every long-running entry point.

torch splits every operation across its intra-op thread pool and waits at a barrier for all of
them. The models dynlens trains are small (a few latent units, batches of 64-650 trials). On an idle
2-core machine a second thread saves 13-34 % of an epoch, but beside one other busy process
every split waits for a thread that the scheduler has given to the neighbour, and an epoch
takes 2.2-3.7x as long with 2 threads as with 1. Numbers: ``benchmarks/bench_threads.md``.

``threads="auto"`` (the default everywhere) therefore counts the cores that other processes
are using *right now* (from ``/proc/stat``, minus this process's own CPU time) and uses only
the free ones, re-checked once per epoch while training, never more than the work can use (a
cap that grows with parameters x batch; see :func:`auto_threads`). An integer is used as
given. The caller's own setting (``torch.get_num_threads()``) is restored afterwards.

Examples
--------
>>> import torch
>>> from dynlens.threads import ThreadPolicy
>>> before = torch.get_num_threads()
>>> with ThreadPolicy(1) as policy:
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from typing_extensions import Self

from .errors import DynlensTypeError, DynlensValueError
from .utils import short_repr

__all__ = [
    "ThreadPolicy",
    "auto_threads",
    "available_cores",
    "check_threads",
    "describe",
    "model_work",
    "other_load",
]

# A neighbour counts as busy once it uses this fraction of a core: a browser tab or an idle
# notebook kernel stays below it, a CPU-bound process squeezed by our own threads (about
# 0.5-1 core) does not.
_BUSY_CORE_FRACTION = 0.3
# Load measured over a shorter interval than this is too noisy; older than _STALE_S, stale.
_MIN_INTERVAL_S = 0.05
_STALE_S = 10.0


def check_threads(threads) -> int | str:
    """Return ``threads`` if it is ``"auto"`` or a positive integer, else raise naming it.

    Parameters
    ----------
    threads : "auto" or int
        The ``threads`` setting to check (a NumPy integer is returned as an int).

    Examples
    --------
    >>> check_threads("auto"), check_threads(2)
    ('auto', 2)
    >>> check_threads(0)
    Traceback (most recent call last):
    ...
    dynlens.errors.DynlensValueError: threads: expected 'auto' or a positive integer, found 0
    """
    if isinstance(threads, str):
        if threads == "auto":
            return threads
        raise DynlensValueError(
            f"threads: expected 'auto' or a positive integer, found {short_repr(threads)}"
        )
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise DynlensTypeError(
            f"threads: expected 'auto' or a positive integer, found {short_repr(threads)}"
        )
    if int(threads) < 1:
        raise DynlensValueError(
            f"threads: expected 'auto' or a positive integer, found {short_repr(threads)}"
        )
    return int(threads)


def available_cores() -> int:
    """CPU cores this process may run on (affinity mask and cgroup quota, when set).

    Examples
    --------
    >>> import os
    >>> 1 <= available_cores() <= (os.cpu_count() or 1)
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:  # cgroup v2 quota, e.g. a container limited to 2 CPUs on a larger host
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


@dataclass
class _Snapshot:
    wall: float
    busy_s: float | None  # CPU seconds spent busy on the whole machine (None: not measurable)
    own_s: float          # CPU seconds of this process (all its threads)


def _snapshot() -> _Snapshot:
    busy = None
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user
    except (OSError, ValueError, IndexError):
        pass
    return _Snapshot(time.monotonic(), busy, time.process_time())


class _LoadMonitor:
    """Remembers the last snapshot, so that back-to-back calls need no waiting."""

    def __init__(self) -> None:
        self.last = _snapshot()
        self.load: float | None = None  # the last measurement

    def other_load(self) -> float:
        now = _snapshot()
        if now.busy_s is None:
            return _loadavg_guess()
        age = now.wall - self.last.wall
        if age < _MIN_INTERVAL_S and self.load is not None:
            return self.load  # nested or back-to-back calls: the measurement is current
        if age > _STALE_S or self.last.busy_s is None:
            self.last, age = now, 0.0
        if age < _MIN_INTERVAL_S:
            time.sleep(_MIN_INTERVAL_S - age)
            now = _snapshot()
        interval = now.wall - self.last.wall
        self.load = max(0.0, ((now.busy_s - self.last.busy_s) - (now.own_s - self.last.own_s))
                        / interval)
        self.last = now
        return self.load


def _loadavg_guess() -> float:
    """Where /proc/stat is missing: the 1-minute load average (includes this process)."""
    try:
        return max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # Windows
        return 0.0


_MONITOR = _LoadMonitor()


def other_load() -> float:
    """Cores' worth of CPU time that *other* processes used since the last call (Linux).

    The first call, or one more than 10 s after the previous, measures over 50 ms.
    Elsewhere the 1-minute load average (less one core for this process) stands in.

    Examples
    --------
    >>> busy = other_load()  # depends on the machine: about 0.0 when nothing else runs
    >>> isinstance(busy, float) and busy >= 0.0
    True
    """
    return _MONITOR.other_load()


def _work_cap(work: float | None) -> int:
    """Threads the work can use: 1 below 1 M parameter-trials, then 2, one more per 4x.

    Measured on 2 cores (``benchmarks/bench_threads.md``, whole epochs): from the demo's
    models at batch 64 (1.9 M parameters x batch) to NODE-3 at the published batch of 650
    (20 M) a second thread saves 13-34 % of an epoch on the idle machine; test-sized jobs
    below 1 M (a few thousand parameters, batches of 16-32) gain nothing and lose up to 20 %.
    Beyond 2 threads (at most 8) the rule is a cautious extrapolation, not measured.
    """
    if work is None:
        return 8
    if work < 1e6:
        return 1
    return int(min(8, 2 + math.floor(math.log(work / 1e6, 4))))


def auto_threads(work: float | None = None) -> int:
    """The thread count ``"auto"`` picks now: the free cores, capped by the work.

    Parameters
    ----------
    work : float, optional
        Parameters x batch size of the job (None: no cap beyond 8).

    Examples
    --------
    >>> auto_threads(work=1e4)  # a tiny job: one thread whatever the machine
    1
    >>> 1 <= auto_threads(work=3e4 * 650) <= available_cores()
    True
    """
    free = available_cores() - math.ceil(max(0.0, other_load() - _BUSY_CORE_FRACTION))
    return max(1, min(free, _work_cap(work)))


_ACTIVE: list[ThreadPolicy] = []  # the policies whose ``with`` block is running, innermost last


class ThreadPolicy:
    """Set torch's intra-op thread count for a job and restore the caller's afterwards.

    Parameters
    ----------
    threads : "auto" or int
        ``"auto"``: the free cores, capped by ``work`` (see :func:`auto_threads`), re-chosen
        at every :meth:`update`; an integer: exactly that many.
    work : float, optional
        Parameters x batch size of the job, for the ``"auto"`` cap.

    Use as a context manager; ``update()`` re-checks the machine (``fit`` calls it once per
    epoch, so a neighbour that starts mid-run costs at most one slow epoch). The count in use
    is ``policy.threads``. An ``"auto"`` policy inside the block of a policy with an integer
    count keeps that count (``evaluate(..., threads=1)`` calling ``model.infer``), so an
    explicit choice holds all the way down; inside an ``"auto"`` block it chooses for itself.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with ThreadPolicy(1) as policy:
    ...     print(policy.threads, torch.get_num_threads())
    ...     with ThreadPolicy("auto") as inner:  # an explicit count holds all the way down
    ...         print(inner.threads)
    1 1
    1
    >>> with ThreadPolicy("auto", work=1e4) as policy:  # a tiny job: one thread
    ...     policy.threads
    1
    >>> torch.get_num_threads() == before  # the caller's setting is back
    True
    """

    def __init__(self, threads: int | str = "auto", work: float | None = None) -> None:
        self.requested = check_threads(threads)
        self.work = work
        self.threads = 0
        self._saved: int | None = None

    def update(self) -> int:
        """Choose (``"auto"``) or apply the thread count; returns it."""
        explicit_outer = any(p.requested != "auto" for p in _ACTIVE if p is not self)
        if self.requested != "auto":
            wanted = self.requested
        elif explicit_outer:
            wanted = torch.get_num_threads()
        else:
            wanted = auto_threads(self.work)
        if wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
        self.threads = wanted
        return wanted

    def __enter__(self) -> Self:
        self._saved = torch.get_num_threads()
        self.update()
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        if self._saved is not None and torch.get_num_threads() != self._saved:
            torch.set_num_threads(self._saved)
        self._saved = None


def describe(threads: int | str) -> str:
    """One line saying which thread count a command uses, for its first line of output.

    Parameters
    ----------
    threads : "auto" or int
        The command's ``threads`` setting; for ``"auto"`` the line gives the cores and how
        busy other work keeps them now.

    Examples
    --------
    >>> describe(1)
    'torch threads: 1 (as asked)'
    """
    threads = check_threads(threads)
    if threads != "auto":
        return f"torch threads: {threads} (as asked)"
    cores, busy = available_cores(), other_load()
    return (f"torch threads: auto ({cores} core{'s' if cores > 1 else ''}, "
            f"{busy:.1f} busy with other work now; each job uses the free ones up to what its "
            f"size can use, re-checked every epoch; --threads N to fix it)")


def model_work(model, batch_size: int, dim: int = 0) -> float:
    """Parameters x batch size: the work measure of :class:`ThreadPolicy`.

    ``model`` is any object; one without parameters (a plain function, a ground-truth
    system) counts ``dim**2`` (its Jacobian) instead.

    Parameters
    ----------
    model : object
        A torch module (its ``parameters()`` are counted) or any other object.
    batch_size : int
        Trials (or states) processed together.
    dim : int
        State dimension: ``dim**2`` is the least the work counts per trial.

    Examples
    --------
    >>> import torch
    >>> model_work(torch.nn.Linear(3, 2), batch_size=10)  # (6 weights + 2 biases) x 10
    80.0
    >>> model_work(lambda x: -x, batch_size=10, dim=3)  # no parameters: dim**2 x 10
    90.0
    """
    parameters = getattr(model, "parameters", None)
    size = sum(p.numel() for p in parameters()) if callable(parameters) else 0
    return float(max(size, dim * dim)) * batch_size
