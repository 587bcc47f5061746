"""User mistakes tried on the `dynlens` command: each ends in exit status 2 and one line on
stderr (no traceback) that names what was expected and what was found, before any work and
without writing a file.

``docs/cli_mistakes.md`` is this list with the answers the command gave, rendered by
:func:`render`; a test checks that the page matches what the command answers now. After
changing a message, rewrite the page with ``python3 tests/test_cli_mistakes.py``.
"""

from __future__ import annotations

import io
import os
import shlex
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

import dynlens as dl
from dynlens.app.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli_mistakes.md"

#: (what the user did, the command's arguments, a part of the answer that must be there).
MISTAKES: list[tuple[str, str, str]] = [
    ("no command", "", "required: COMMAND"),
    ("a misspelt command", "simualte arneodo --out new.h5", "invalid choice: 'simualte'"),
    ("a misspelt option", "demo --fats", "unrecognized arguments: --fats"),
    ("`--threads` of 0", "demo --threads 0", "expected 'auto' or a positive integer"),
    ("`--threads` as a word", "train data.h5 --out model.pt --threads many",
     "expected 'auto' or a positive integer, found 'many'"),
    # simulate
    ("a misspelt system", "simulate arneodoo --out new.h5", "did you mean 'arneodo'?"),
    ("no `--out`", "simulate arneodo", "required: --out"),
    ("`--out` naming a folder", "simulate arneodo --out folder",
     "found the existing folder 'folder'"),
    ("`--out` of an unknown file type", "simulate arneodo --out new.csv",
     "ending in .h5, .hdf5, .npz"),
    ("`--out` below a file", "simulate arneodo --out notes.txt/new.h5",
     "below the file 'notes.txt'"),
    ("zero trials", "simulate arneodo --out new.h5 --trials 0",
     "--trials: expected a positive integer, found '0'"),
    ("a number as a word", "simulate arneodo --out new.h5 --trials ten",
     "--trials: expected a positive integer, found 'ten'"),
    ("every neuron held out", "simulate arneodo --out new.h5 --neurons 5 --heldout 5",
     "n_heldout"),
    ("`--out` naming a dataset file that exists", "simulate rossler --out data.h5",
     "expected a new file, found the existing file 'data.h5' (--force replaces it)"),
    ("a system of one's own, its module not imported", "simulate my_system --out new.h5",
     "--import the module that registers it"),
    # train
    ("a data file that does not exist", "train missing.h5 --out model.pt",
     "no such file 'missing.h5'"),
    ("a checkpoint given as the data", "train sae.pt --out model.pt",
     "found the checkpoint 'sae.pt'"),
    ("`--out` naming a dataset file (it would be overwritten)", "train data.h5 --out data.npz",
     "not ending in .h5, .hdf5, .npz"),
    ("`--out` naming a folder", "train data.h5 --out folder", "existing folder 'folder'"),
    ("`--out` naming a model that exists", "train data.h5 --out sae.pt",
     "found the existing file 'sae.pt' (--force replaces it)"),
    ("a generator given as the model", "train data.h5 --out model.pt --model node",
     "use --model sae --generator node"),
    ("an unknown model family", "train data.h5 --out model.pt --model lfad",
     "did you mean 'lfads'?"),
    ("an SAE option for another family",
     "train data.h5 --out model.pt --model lfads --generator gru", "--generator: an SAE option"),
    ("`--set` without a value", "train data.h5 --out model.pt --set latent_dim",
     "--set: expected KEY=VALUE"),
    ("`--set` of an unknown setting", "train data.h5 --out model.pt --set latent_size=4",
     "latent_size"),
    ("a setting given twice",
     "train data.h5 --out model.pt --set latent_dim=2 --set latent_dim=4",
     "expected each setting once, found it twice"),
    ("a setting given as a flag and with `--set`",
     "train data.h5 --out model.pt --generator gru --set generator=node",
     "found it twice: --generator gru and --set generator=node"),
    ("a misspelt generator", "train data.h5 --out model.pt --generator grus",
     "did you mean 'gru'?"),
    ("a generator of one's own, its module not imported",
     "train data.h5 --out model.pt --generator low_rank", "--import the module"),
    ("an `--import` of a module that does not exist",
     "train data.h5 --out model.pt --import my_modles", "No module named 'my_modles'"),
    ("an `--import` of a module with a mistake in it",
     "train data.h5 --out model.pt --import my_models.py", "at my_models.py:2: AttributeError"),
    ("a negative learning rate", "train data.h5 --out model.pt --lr -1",
     "--lr: expected a positive number"),
    ("zero epochs", "train data.h5 --out model.pt --max-epochs 0",
     "--max-epochs: expected a positive integer"),
    ("an unknown device", "train data.h5 --out model.pt --device gpu", "device: expected"),
    ("an HDF5 file that is neither dynlens's nor LFADS's", "train other.h5 --out model.pt",
     "expected a dynlens dataset or an LFADS HDF5 file, found neither in 'other.h5'"),
    ("a text file named .h5", "train broken.h5 --out model.pt",
     "data: 'broken.h5' could not be read"),
    ("a dataset file given as the model", "analyze data.npz data.h5", "the model comes first"),
    ("a damaged checkpoint", "evaluate broken.pt data.h5", "model: "),
    # evaluate
    ("no data file", "evaluate sae.pt", "required: data"),
    ("model and data swapped", "evaluate data.h5 sae.pt", "the model comes first"),
    ("a checkpoint that does not exist", "evaluate missing.pt data.h5",
     "no such file 'missing.pt'"),
    ("a misspelt split", "evaluate sae.pt data.h5 --split training",
     "--split: expected one of the data's splits 'train', 'valid', 'test', found 'training'"),
    ("a model of other neurons", "evaluate sae6.pt data.h5",
     "expected the 6 neurons the model was trained on, found 5"),
    # analyze
    ("`--out` naming a file", "analyze sae.pt data.h5 --out notes.txt",
     "expected a folder to write into, found the existing file 'notes.txt'"),
    ("`--out` naming a report folder that holds files", "analyze sae.pt data.h5 --out report",
     "found 'report' holding files (--force replaces it)"),
    ("`--force` on the folder that holds the inputs",
     "analyze sae.pt data.h5 --out . --force", "write into another folder"),
    ("a misspelt system", "analyze sae.pt data.h5 --system lorenzz", "did you mean 'lorenz'?"),
    ("a system of another dimension", "analyze sae.pt data.h5 --system bistable2d",
     "dimension 3"),
    ("a model without dynamics", "analyze ndt.pt data.h5", "no dynamics"),
    ("a misspelt split", "analyze sae.pt data.h5 --split training",
     "--split: expected one of the data's splits"),
    ("a model of other neurons", "analyze sae6.pt data.h5", "found 5"),
    ("several models, one of other neurons", "analyze sae.pt sae6.pt data.h5", "found 5"),
    ("several models, one without dynamics", "analyze sae.pt ndt.pt data.h5", "no dynamics"),
    # demo and sweep
    ("`--out` naming a file", "demo --out notes.txt",
     "expected a folder to write into, found the existing file 'notes.txt'"),
    ("`--out` naming a report folder that holds files", "demo --out report",
     "(--force replaces it)"),
    ("a generator as the model", "demo --model node", "with --model sae"),
    ("an unknown model", "demo --model lfad", "did you mean 'lfads'?"),
    ("no specification", "sweep --out runs", "expected SPEC.toml and --out DIR"),
    ("a specification that does not exist", "sweep missing.toml --out runs", "missing.toml"),
]


def _write_files(where: Path) -> None:
    """The files the mistakes are tried on: a small dataset, untrained models, a folder, a
    report folder, a text file, a user's module with a typo, a foreign HDF5 file and a broken
    one."""
    data = dl.simulate("arneodo", n_neurons=5, n_trials=12, n_bins=8, seed=0)
    data.save(where / "data.h5")
    dl.models.SAE(n_neurons=5, latent_dim=3, hidden_size=8, encoder_size=4).save(
        where / "sae.pt")
    dl.models.SAE(n_neurons=6, latent_dim=3, hidden_size=8, encoder_size=4).save(
        where / "sae6.pt")
    dl.models.NDT(n_neurons=5, d_model=8, n_layers=1, n_heads=1, ff_dim=8).save(
        where / "ndt.pt")
    (where / "folder").mkdir()
    (where / "report").mkdir()
    (where / "report" / "report.md").write_text("# an earlier report\n")
    (where / "my_models.py").write_text(
        "import dynlens as dl\ndl.models.register_generatr('low_rank', None)\n")
    (where / "notes.txt").write_text("notes\n")
    (where / "broken.h5").write_text("not HDF5\n")
    (where / "broken.pt").write_text("not a checkpoint\n")
    with h5py.File(where / "other.h5", "w") as f:
        f["counts"] = np.zeros((3, 4), dtype=int)


def answer(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``dynlens ARGV`` in-process; argparse's mistakes end in SystemExit."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def render(rows: list[tuple[str, str, str]]) -> str:
    """The page: one table row per mistake, the answer as the command printed it."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# User mistakes the `dynlens` command was tried with",
        "",
        "Each row is a mistake a new user makes, the command as typed, and the one line the",
        "command answered on stderr; each exits with status 2 before any long work, with no",
        "traceback and without writing a file. The files named are those a user has at hand:",
        "`data.h5` (from `dynlens simulate`, 5 neurons), `sae.pt` and `ndt.pt` (from `dynlens",
        "train`), `sae6.pt` (a model of 6 neurons), a folder `folder`, a folder `report`",
        "holding an earlier report, a text file `notes.txt`, a module of the user's",
        "`my_models.py` with a typo on line 2, an HDF5 file of another program `other.h5`",
        "and a text file named `broken.h5`.",
        "",
        "This page is generated by `tests/test_cli_mistakes.py` from what the command answers;",
        "the test suite fails when an answer changes and the page was not rewritten",
        "(`python3 tests/test_cli_mistakes.py`).",
        "",
        "| mistake | command | answer (exit status 2) |",
        "|---|---|---|",
    ]
    for what, command, said in rows:
        typed = f"dynlens {command}".strip()
        lines.append(f"| {cell(what)} | `{cell(typed)}` | `` {cell(said)} `` |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    where = tmp_path_factory.mktemp("user")
    _write_files(where)
    return where


def _listing(where: Path) -> list[str]:
    return sorted(str(p.relative_to(where)) for p in where.rglob("*"))


def _try_all(workdir: Path, capsys) -> list[tuple[str, str, str, int, str]]:
    """Each mistake's answer: (what, command, stderr line, code, stdout)."""
    before = _listing(workdir)
    results = []
    here = os.getcwd()
    os.chdir(workdir)
    try:
        for what, command, _ in MISTAKES:
            code, out, err = answer(shlex.split(command), capsys)
            results.append((what, command, err.rstrip("\n"), code, out))
            assert _listing(workdir) == before, f"{command!r} wrote a file"
    finally:
        os.chdir(here)
    return results


def test_every_mistake_ends_in_one_line_and_exit_2(workdir, capsys):
    results = _try_all(workdir, capsys)
    for (what, command, err, code, out), (_, _, expected) in zip(results, MISTAKES):
        shown = f"dynlens {command}: {err!r}"
        assert code == 2, shown
        assert "\n" not in err and "Traceback" not in err and out == "", shown
        assert err.startswith("dynlens") and " error: " in err, shown
        assert expected in err, shown


def test_the_docs_page_lists_the_answers_given_now(workdir, capsys):
    results = _try_all(workdir, capsys)
    page = render([(what, command, err) for what, command, err, _, _ in results])
    assert DOC.read_text() == page, (
        "docs/cli_mistakes.md is stale: rewrite it with `python3 tests/test_cli_mistakes.py`")


class _Capture:
    """``capsys`` outside pytest, for rewriting the page."""

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()

    def readouterr(self) -> SimpleNamespace:
        out, err = self.out.getvalue(), self.err.getvalue()
        for buffer in (self.out, self.err):
            buffer.seek(0)
            buffer.truncate()
        return SimpleNamespace(out=out, err=err)


if __name__ == "__main__":  # rewrite docs/cli_mistakes.md
    import contextlib
    import tempfile

    capture = _Capture()
    with tempfile.TemporaryDirectory() as tmp:
        _write_files(Path(tmp))
        with contextlib.redirect_stdout(capture.out), contextlib.redirect_stderr(capture.err):
            found = _try_all(Path(tmp), capture)
    DOC.write_text(render([(what, command, err) for what, command, err, _, _ in found]))
    print(f"wrote {DOC}")
