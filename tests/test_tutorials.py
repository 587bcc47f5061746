"""The tutorial notebooks in tutorials/ run, and the committed ones carry a full run's outputs.

- Every notebook runs from top to bottom without an error in small mode
  (``DYNLENS_TUTORIAL_SMALL=1``, which every notebook reads in its first code cell), in a
  kernel of the running interpreter, on a copy, in a temporary working directory: nothing is
  written into the repository. Two notebooks run at a time, each kernel on one thread: a
  small-mode notebook is mostly one core's work (kernel start, imports, tiny models), so the
  second core would otherwise idle.
- Every committed notebook has outputs for every code cell, no error output, at least one
  figure, and comes from a full-size run (its first code cell printed ``small mode: False``).

New notebooks are picked up by the glob.
"""

from __future__ import annotations

import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
#: The kernel the notebooks run in here: this interpreter, whatever ``python3`` means on PATH.
KERNEL = "dynlens-tutorials"
#: Seconds one cell may take in small mode (each whole notebook takes well under a minute).
CELL_TIMEOUT = 600
#: Notebooks run at once (one per core of the 2-core machine the suite is sized for).
AT_ONCE = 2


def _name(path: Path) -> str:
    return path.name


def test_there_are_tutorials():
    assert NOTEBOOKS, f"no notebooks in {TUTORIALS}"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec for this interpreter in a temporary Jupyter data directory, found
    through JUPYTER_PATH, and small mode set for the kernels the tests start."""
    prefix = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(kernel_name=KERNEL, display_name="dynlens tests", prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        patch.setenv("DYNLENS_TUTORIAL_SMALL", "1")
        # two kernels at once: torch's default of a thread per core would oversubscribe
        patch.setenv("OMP_NUM_THREADS", "1")
        yield KERNEL


def _execute(notebook: Path, kernel: str, folder: Path):
    """Run a copy of ``notebook`` in ``folder`` and return it with its outputs."""
    copy = folder / notebook.name
    shutil.copyfile(notebook, copy)  # never the committed file
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    return nb


@pytest.fixture(scope="module")
def executed(kernel, tmp_path_factory):
    """Every notebook run in small mode, ``AT_ONCE`` at a time: {name: finished future}, whose
    ``result()`` is the executed notebook or raises the notebook's error in its own test."""
    with ThreadPoolExecutor(AT_ONCE) as pool:
        futures = {path.name: pool.submit(_execute, path, kernel,
                                          tmp_path_factory.mktemp(path.stem))
                   for path in NOTEBOOKS}
    return futures  # the with block waited for all of them


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_name)
def test_notebook_runs_in_small_mode(notebook, executed):
    nb = executed[notebook.name].result()
    errors = [output for cell in nb.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "small mode: True" in "".join(o.get("text", "") for o in first.outputs), \
        "the kernel did not see DYNLENS_TUTORIAL_SMALL=1"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=_name)
def test_committed_notebook_has_full_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{notebook.name} has no code cells"
    first = code[0]
    assert 'os.environ.get("DYNLENS_TUTORIAL_SMALL") == "1"' in first.source, \
        "the first code cell must read the small-mode switch"
    without = [i for i, cell in enumerate(nb.cells)
               if cell.cell_type == "code" and not cell.outputs]
    assert not without, f"{notebook.name}: code cells without outputs: {without}"
    errors = [f"cell {i}: {output.get('ename')}: {output.get('evalue')}"
              for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{notebook.name}: error outputs: {errors}"
    images = [output for cell in code for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert images, f"{notebook.name} has no figure"
    printed = "".join(output.get("text", "") for output in first.outputs)
    assert "small mode: False" in printed, \
        f"{notebook.name}: the committed outputs must come from a full-size run"


def test_the_kernel_is_this_interpreter(kernel):
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel)
    assert spec.argv[0] == sys.executable
