"""Browser end-to-end tests: the real app served by daphne, driven by Playwright
in Debian's Chromium.

The server runs as a separate process, exactly as ``make run`` starts it
(debug on, offline providers unless a test overrides the environment), on its
own database: a throwaway SQLite file, or, when ``DATABASE_URL`` points at
PostgreSQL, a dedicated ``<name>_e2e`` database recreated for the session.
Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.serving import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - dev extra not installed
    sync_playwright = None

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(config, items):
    reason = None
    if sync_playwright is None:
        reason = "playwright is not installed"
    elif not Path(CHROMIUM).exists():
        reason = "Debian's chromium is not installed (make test installs it when run as root)"
    if reason:
        for item in items:
            if "tests/e2e/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


def _e2e_database_url() -> str:
    """A dedicated PostgreSQL database for the server when the suite runs on PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return ""
    import psycopg

    parts = urlparse(url)
    name = (parts.path.lstrip("/") or "futureself") + "_e2e"
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(parts._replace(path=f"/{name}"))


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return out.stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(extra_env: dict[str, str] | None = None) -> LiveServer:
    var_dir = Path(tempfile.mkdtemp(prefix="futureself-e2e-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FUTURESELF_", "MISTRAL_", "ELEVENLABS_", "GEMINI_", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "futureself.settings",
            "DJANGO_DEBUG": "1",
            "SECRET_KEY": "e2e-not-secret",
            "FUTURESELF_VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(var_dir / "media"),
            "DATABASE_URL": _e2e_database_url(),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env or {})
    port = free_port()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    log_path = var_dir / "server.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "futureself.serve", "-b", "127.0.0.1", "-p", str(port), "futureself.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path)
    except RuntimeError:
        process.kill()
        raise
    return LiveServer(url=url, env=env, process=process, log_path=log_path)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server_offline() -> Iterator[LiveServer]:
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # caret="initial": Playwright's default caret hiding leaves `style=""` on every input, which
    # htmx then copies while settling a swap, and the CSP (style-src 'self') reports each copy.
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path
