"""docs/security.md lists every limit settings.py defines, with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "futureself" / "settings.py").read_text()
DOC = (ROOT / "docs" / "security.md").read_text()
# Words that make a setting a limit: sizes, counts, rates, budgets, deadlines, retries, concurrency, retention.
LIMIT_WORDS = re.compile(r"(?:^|_)(?:MAX|MIN|LIMITS?|BUDGETS?|TIMEOUTS?|RETRY|CONCURRENCY|RETENTION)(?:_|$)")
ENV_CALL = re.compile(r'env_(?:str|bool|int|float|list|json)\("([A-Z][A-Z0-9_]+)"(?:,\s*([0-9_.]+))?')
SETTING = re.compile(r"^([A-Z][A-Z0-9_]+)(?:: [^=]+)? = ", re.MULTILINE)


def limit_names() -> set[str]:
    env_names = {name for name, _ in ENV_CALL.findall(SETTINGS)}
    setting_names = set(SETTING.findall(SETTINGS))
    return {name for name in env_names | setting_names if LIMIT_WORDS.search(name)}


def test_the_source_scan_finds_the_known_limits():
    names = limit_names()
    assert {
        "VOICE_MAX_FRAME_BYTES",
        "RATE_LIMIT_WS_TURN_USER",
        "BUDGET_TTS_CHARACTERS_PER_DAY",
        "PROVIDER_TIMEOUT_STT_FINAL",
        "INTERVIEW_MAX_TURNS",
        "DATA_UPLOAD_MAX_MEMORY_SIZE",
        "MESSAGE_MAX_CHARS",
    } <= names


@pytest.mark.parametrize("name", sorted(limit_names()))
def test_every_limit_setting_is_documented(name):
    assert re.search(rf"`{name}[`=]", DOC), name


@pytest.mark.parametrize(
    ("name", "default"), [(n, d) for n, d in ENV_CALL.findall(SETTINGS) if d and LIMIT_WORDS.search(n)]
)
def test_its_documented_default_is_the_one_in_settings(name, default):
    value = float(default.replace("_", ""))
    # The default is on a line that names the setting, written as the doc writes numbers (60 s, 1,920,000, 300 ms).
    lines = [line for line in DOC.splitlines() if name in line]
    numbers = {float(n.replace(",", "")) for line in lines for n in re.findall(r"\d[\d,]*(?:\.\d+)?", line)}
    if name.startswith("RATE_LIMIT_"):
        numbers |= {float(n) for line in lines for n in re.findall(r"\| (\d+) / ", line)}
    assert value in numbers, (name, value, lines)
