import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_model_change_has_its_migration(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "futureself.settings", "DJANGO_DEBUG": "1"}
    env["FUTURESELF_VAR_DIR"] = str(tmp_path)
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
