"""What every test module shares, the tests' and the package's doctests alike.

The suite runs in several processes (pytest-xdist, one file per process at a time), so the
order in which modules meet in one process changes from run to run. Nothing a module registers
may reach the next: a doctest that registers a generator would otherwise change the
"did you mean" of a later CLI test.
"""

from __future__ import annotations

import pytest

# Files whose setup takes longest (notebooks, Ray searches and sweeps) go first, so that the
# processes do not wait on one of them at the end.
SLOW_FIRST = ("test_tutorials.py", "test_tune.py", "test_sweeps.py", "test_report.py",
              "test_cli.py", "test_lyapunov.py")


@pytest.fixture(autouse=True, scope="module")
def _registries_left_as_found():
    from dynlens import systems
    from dynlens.models import base, generator_registry

    registries = (systems._REGISTRY, base._REGISTRY, generator_registry._GENERATORS)
    saved = [dict(registry) for registry in registries]
    yield
    for registry, entries in zip(registries, saved):
        registry.clear()
        registry.update(entries)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order within a file is kept
