"""How long the demo takes: the one statement that every place quoting it repeats.

``dynlens demo --help``, the demo's report note, ``run_demo``'s docstring, the README and
docs/guide.md all say :data:`DEMO_FAST` and :data:`DEMO_FULL` word for word
(``tests/test_durations.py`` checks it), so a new measurement is written here once.

Measurements (idle 2-core x86_64 machines, torch 2.13 on the CPU):

- ``dynlens demo --fast``: 169-198 s idle and 182 s beside one busy process (issue 26: NODE-3
  training 95 s of it); ``benchmarks/bench_threads.md`` recorded 106 s idle and 100 s beside
  the busy process on another such machine. The thread policy holds: a busy neighbour costs
  no more than the spread between machines.
- ``dynlens demo``: 895 s idle.
- Where the ``--fast`` time goes (cProfile, the version before and after the fixed-point
  graph's thread policy and bound, side by side on a 2-core machine with about 13 other
  busy processes, so every figure is inflated alike): training 1343 s of 1540 s in both;
  the two fixed-point graphs 47 s before, 6 s after; simulation 40 s; the rest of the
  analysis under 40 s. Training is what a shorter ``--fast`` would have to cut.

Examples
--------
>>> DEMO_FAST
'about 2 to 3.5 minutes on 2 CPU cores'
"""

from __future__ import annotations

__all__ = ["DEMO_FAST", "DEMO_FULL"]

#: ``dynlens demo --fast`` on 2 CPU cores, idle or beside one busy process.
DEMO_FAST = "about 2 to 3.5 minutes on 2 CPU cores"
#: ``dynlens demo`` (the published data size) on 2 idle CPU cores.
DEMO_FULL = "about 15 minutes on 2 CPU cores"
