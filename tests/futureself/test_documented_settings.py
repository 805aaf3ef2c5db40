"""Every setting read from the environment is documented in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_in_env_example():
    settings_source = (ROOT / "futureself" / "settings.py").read_text()
    names = set(re.findall(r'env_(?:str|bool|int|float|list|json)\("([A-Z][A-Z0-9_]+)"', settings_source))
    example = (ROOT / ".env.example").read_text()
    missing = sorted(name for name in names if name not in example)
    assert missing == []
