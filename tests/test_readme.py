"""The README's two commands: the second is exactly what CI runs, and the text says truthfully
which torch the first one installs, with the CPU-only route."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL)]


def test_the_second_readme_command_is_what_ci_runs():
    first, second = _bash_blocks((REPO / "README.md").read_text())[:2]
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert second == ci
    assert first.startswith("python3 -m pip install torch==2.13.0 && ")
    assert first.endswith("dynlens demo")


def test_the_readme_says_which_torch_the_public_index_gives():
    text = " ".join((REPO / "README.md").read_text().split())
    assert "the public package index (PyPI) on Linux, `torch==2.13.0` is the CUDA build" in text
    assert ("python3 -m pip install torch==2.13.0 --index-url "
            "https://download.pytorch.org/whl/cpu") in text
    assert "so no CUDA packages are pulled" not in text  # the old claim, true only locally
