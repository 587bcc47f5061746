"""The thread policy: explicit counts honoured, the caller's count restored, bad values refused,
``"auto"`` following the load that other processes put on the machine."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import dynlens as dl
from dynlens import threads as th
from dynlens.app.cli import main as cli_main
from dynlens.errors import DynlensError


@pytest.fixture
def caller_threads():
    """The test's own torch thread count (3, to tell it from anything a policy picks)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(saved)


def test_explicit_count_is_used_in_every_epoch_and_the_callers_is_restored(
        make_sae, tiny_data, caller_threads):
    seen = []
    history = dl.fit(make_sae("gru"), tiny_data, max_epochs=3, progress=False, threads=2,
                     callback=lambda epoch, model, row: seen.append(torch.get_num_threads()))
    assert seen == [2, 2, 2] and history["threads"].tolist() == [2, 2, 2]
    assert torch.get_num_threads() == caller_threads


def test_the_callers_count_is_restored_when_fit_raises(make_sae, tiny_data, caller_threads):
    def fail(epoch, model, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dl.fit(make_sae("gru"), tiny_data, max_epochs=3, progress=False, threads=1,
               callback=fail)
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5, True, None])
def test_bad_thread_counts_are_refused_by_every_entry_point(make_sae, tiny_data, bad):
    model = make_sae("gru")
    calls = [
        lambda: dl.fit(model, tiny_data, max_epochs=1, progress=False, threads=bad),
        lambda: model.infer(tiny_data, threads=bad),
        lambda: dl.evaluate(model, tiny_data, threads=bad),
        lambda: dl.find_fixed_points(model.dynamics, np.zeros((4, 3)), n_inits=4,
                                     progress=False, threads=bad),
    ]
    for call in calls:
        with pytest.raises(DynlensError, match="threads: expected 'auto' or a positive"):
            call()


def test_cli_refuses_a_bad_thread_count(capsys):
    with pytest.raises(SystemExit):
        cli_main(["evaluate", "model.pt", "data.h5", "--threads", "0"])
    assert "--threads: expected 'auto' or a positive integer, found '0'" in \
        capsys.readouterr().err


def test_cli_says_its_thread_count_first(tmp_path: Path, capsys):
    # simulate uses no torch (scipy integrates the systems), so only commands that run a
    # model say it, once their arguments are checked
    assert cli_main(["simulate", "arneodo", "--out", str(tmp_path / "d.h5"), "--trials", "10",
                     "--bins", "5", "--neurons", "3", "--threads", "1"]) == 0
    assert "torch threads" not in capsys.readouterr().err
    dl.models.SAE(n_neurons=3, latent_dim=3, hidden_size=8, encoder_size=4).save(
        tmp_path / "m.pt")
    assert cli_main(["evaluate", str(tmp_path / "m.pt"), str(tmp_path / "d.h5"),
                     "--threads", "1"]) == 0
    assert (capsys.readouterr().err.splitlines()[0]
            == "dynlens evaluate: torch threads: 1 (as asked)")


def test_auto_uses_the_free_cores_up_to_what_the_work_can_use(monkeypatch):
    monkeypatch.setattr(th, "available_cores", lambda: 8)
    monkeypatch.setattr(th, "other_load", lambda: 0.0)
    assert th.auto_threads(work=1e4) == 1          # test-sized: one thread even when idle
    assert th.auto_threads(work=2e6) == 2          # the demo's models: a second one pays
    assert th.auto_threads(work=4e6) == 3          # one more per 4x
    assert th.auto_threads(work=1e12) == 8         # capped
    monkeypatch.setattr(th, "other_load", lambda: 0.6)  # a neighbour squeezed to 0.6 core
    assert th.auto_threads(work=1e12) == 7
    monkeypatch.setattr(th, "other_load", lambda: 0.2)  # background noise: ignored
    assert th.auto_threads(work=1e12) == 8
    monkeypatch.setattr(th, "other_load", lambda: 20.0)  # never fewer than one
    assert th.auto_threads(work=1e12) == 1


def test_an_explicit_outer_count_holds_inside_and_auto_inside_auto_chooses(monkeypatch,
                                                                          caller_threads):
    monkeypatch.setattr(th, "auto_threads", lambda work=None: 2)
    with th.ThreadPolicy(1), th.ThreadPolicy("auto") as inner:
        assert inner.threads == 1 and torch.get_num_threads() == 1
    with th.ThreadPolicy("auto"):
        torch.set_num_threads(1)  # e.g. the previous epoch's choice
        with th.ThreadPolicy("auto") as inner:
            assert inner.threads == 2
    assert torch.get_num_threads() == caller_threads


def test_other_load_subtracts_this_process_and_waits_for_a_measurable_interval(monkeypatch):
    # (wall s, machine busy CPU s, this process's CPU s): 2 s in which the machine was busy
    # for 3 CPU-seconds, 1 of them ours -> 1 core's worth of other work
    snapshots = iter([th._Snapshot(0.0, 10.0, 5.0), th._Snapshot(2.0, 13.0, 6.0)])
    monkeypatch.setattr(th, "_snapshot", lambda: next(snapshots))
    monitor = th._LoadMonitor()
    assert monitor.other_load() == pytest.approx(1.0)
    monkeypatch.setattr(th, "_snapshot", lambda: th._Snapshot(2.01, 13.5, 6.0))
    assert monitor.other_load() == pytest.approx(1.0)  # too soon: the last measurement


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="load is read from /proc/stat")
def test_other_load_sees_a_busy_neighbour_and_not_this_process():
    th.other_load()
    time.sleep(0.3)
    idle = th.other_load()  # whatever else this shared machine is doing
    busy_here = time.perf_counter() + 0.3
    while time.perf_counter() < busy_here:  # our own work must not count
        pass
    assert th.other_load() < idle + 0.5
    neighbour = subprocess.Popen([sys.executable, "-c",
                                  "import time\nt = time.time()\nwhile time.time() - t < 5: pass"])
    try:
        time.sleep(0.5)  # interpreter start-up
        th.other_load()
        time.sleep(0.4)
        assert th.other_load() > 0.6
    finally:
        neighbour.kill()
        neighbour.wait()
