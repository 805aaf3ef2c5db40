"""The in-process benchmarks still run to their table (their numbers are judged in docs/performance.md,
not here): the API one had stopped at a 429 once rate limits landed, and nothing noticed."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(*args: str) -> subprocess.CompletedProcess:
    # bench/_common.setup_django drops DATABASE_URL and REDIS_URL itself: in-memory SQLite always.
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_the_api_benchmark_reaches_every_endpoint():
    result = run_bench("bench/api.py", "--rounds", "1")

    # Exit 1 may only mean a bound missed on a busy machine; a refused request stops it without a table.
    assert "answered" not in result.stdout + result.stderr, result.stdout[-2000:] + result.stderr[-2000:]
    assert "endpoints within their bounds" in result.stdout


def test_the_cost_growth_benchmark_plateaus():
    result = run_bench("bench/cost_growth.py")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "plateau: last third / middle third" in result.stdout
