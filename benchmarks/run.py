"""Run every benchmark, one after the other, and rewrite their committed tables.

    python3 benchmarks/run.py                 # all (about an hour on 2 CPU cores)
    python3 benchmarks/run.py fixed_points    # only the named ones
    python3 benchmarks/run.py inference       # NDT, LFADS and SAE inference speed

Every ``bench_<name>.py`` in this folder is found by its file name, so a new benchmark joins
the run by being put in this folder.

Each ``bench_<name>.py`` writes ``bench_<name>.md`` (and figures) next to itself; see its
docstring for what it measures. They run in sequence, never side by side: every table
compares methods within one run, and two benchmarks at once on a shared machine would
distort each other's timings.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the benchmarks (``bench_<name>.py``), sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"benchmarks: expected names from {available()}, found {unknown}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        start = time.perf_counter()
        print(f"== bench_{name}.py", flush=True)
        code = subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")])
        print(f"== bench_{name}.py: exit {code} after {time.perf_counter() - start:.0f} s",
              flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
