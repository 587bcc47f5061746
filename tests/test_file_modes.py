"""Files dynlens writes get the permissions the user's umask gives (the atomic write's
temporary file is private until the rename), and a replaced file keeps its own."""

from __future__ import annotations

import os
import stat

import pytest

import dynlens as dl
from dynlens.utils import atomic_path, current_umask


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_current_umask_reads_the_process_umask(umask):
    assert current_umask() == umask
    assert current_umask() == umask  # reading it did not change it


def test_a_new_file_gets_the_umask_permissions(tmp_path, umask):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert mode(tmp) == 0o600  # private while it is written
        tmp.write_text("x")
    assert mode(target) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left


def test_umask_022_gives_0644_for_data_models_and_figures(tmp_path):
    old = os.umask(0o022)
    try:
        data = dl.simulate("arneodo", n_neurons=4, n_trials=8, n_bins=6, seed=0)
        data.save(tmp_path / "data.h5")
        data.save(tmp_path / "data.npz")
        dl.models.SAE(n_neurons=4, latent_dim=3, hidden_size=8,
                      encoder_size=4).save(tmp_path / "model.pt")
        dl.plotting.save_figure(dl.plotting.new_figure()[0], tmp_path / "figure.png")
    finally:
        os.umask(old)
    for name in ("data.h5", "data.npz", "model.pt", "figure.png"):
        assert mode(tmp_path / name) == 0o644, name


def test_a_replaced_file_keeps_its_permissions(tmp_path, umask):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
