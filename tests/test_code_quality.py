"""The lint and format checks run with the suite, so CI fails on either."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(args):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_engines_never_import_a_vendor_sdk():
    vendor_imports = ("import mistralai", "from mistralai", "import elevenlabs", "from elevenlabs", "google.genai")
    offenders = [
        str(path.relative_to(ROOT))
        for app in ("interviews", "personas", "conversations")
        for path in (ROOT / app).rglob("*.py")
        if any(marker in path.read_text(encoding="utf-8") for marker in vendor_imports)
    ]
    assert offenders == []
