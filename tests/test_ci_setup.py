"""``.ci/setup`` builds the virtualenv on the newest Python >= 3.12 it finds, or on ``PYTHON`` when set."""

import os
import subprocess
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / ".ci" / "setup"


def _find_python(home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the script's ``find_python`` alone, with ``home`` as the user's home."""
    function = SETUP.read_text().split("find_python() {", 1)[1].split("\n}\n", 1)[0]
    script = f"find_python() {{{function}\n}}\nfind_python"
    return subprocess.run(
        ["bash", "-c", script],
        env={"PATH": os.environ["PATH"], "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _pyenv_python(home: Path, version: str, minor: int) -> Path:
    """A stand-in interpreter under ~/.pyenv that answers the version question as 3.<minor> would."""
    exe = home / ".pyenv" / "versions" / version / "bin" / "python3"
    exe.parent.mkdir(parents=True)
    exe.write_text(f"#!/bin/sh\necho {300 + minor}\n")
    exe.chmod(0o755)
    return exe


def test_the_newest_python_found_is_taken(tmp_path):
    # 3.18 and 3.19: newer than any real Python on the machine, which is among the candidates too.
    _pyenv_python(tmp_path, "3.18.0", 18)
    newest = _pyenv_python(tmp_path, "3.19.2", 19)

    found = _find_python(tmp_path)

    assert found.returncode == 0
    assert found.stdout.strip() == str(newest)


def test_python_set_in_the_environment_is_taken_as_it_is(tmp_path):
    older = _pyenv_python(tmp_path, "3.18.0", 18)
    _pyenv_python(tmp_path, "3.19.2", 19)

    found = _find_python(tmp_path, PYTHON=str(older))

    assert found.stdout.strip() == str(older)


def test_a_python_older_than_3_12_is_refused(tmp_path):
    too_old = _pyenv_python(tmp_path, "3.11.7", 11)

    found = _find_python(tmp_path, PYTHON=str(too_old))

    assert found.returncode != 0
    assert found.stdout == ""
