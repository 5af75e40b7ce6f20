"""The README's "Testing against the exchange with pytest" example, copied into a new project outside the
repository and run there with the installed axis: it passes as it is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Testing against the exchange with pytest"


def _example() -> str:
    """The section's Python block, from README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADING in text, f"no section {HEADING!r} in README.md"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md: the section has no ```python block"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_example_passes_in_a_new_project(tmp_path: Path) -> None:
    project = tmp_path / "agency-project"
    project.mkdir()
    assert ROOT not in project.parents
    (project / "test_exchange.py").write_text(_example(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AXIS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project), "test_exchange.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert re.search(r"\b2 passed\b", done.stdout), done.stdout[-2000:]
