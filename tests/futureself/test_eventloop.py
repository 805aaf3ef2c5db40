"""The server's event loop: uvloop by default, asyncio's when asked, chosen before daphne makes it."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import uvloop

from futureself import eventloop
from tests.serving import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_policy():
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


def test_uvloop_is_the_default_where_it_is_installed(monkeypatch):
    monkeypatch.delenv(eventloop.SETTING, raising=False)

    assert eventloop.configured() == "uvloop"


def test_the_setting_picks_the_loop_and_a_typo_is_refused(monkeypatch):
    monkeypatch.setenv(eventloop.SETTING, " AsyncIO ")
    assert eventloop.configured() == "asyncio"

    monkeypatch.setenv(eventloop.SETTING, "uv-loop")
    with pytest.raises(eventloop.EventLoopNotAvailable, match="uvloop, asyncio"):
        eventloop.configured()


def test_asking_for_uvloop_where_it_is_missing_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(eventloop, "_uvloop", lambda: None)
    monkeypatch.delenv(eventloop.SETTING, raising=False)
    assert eventloop.configured() == "asyncio"  # the default falls back quietly

    monkeypatch.setenv(eventloop.SETTING, "uvloop")
    with pytest.raises(eventloop.EventLoopNotAvailable, match="pip install uvloop"):
        eventloop.configured()


def test_factories_make_loops_of_the_named_kind():
    for name, kind in (("uvloop", uvloop.Loop), ("asyncio", asyncio.SelectorEventLoop)):
        loop = eventloop.factory(name)()
        try:
            assert isinstance(loop, kind)
        finally:
            loop.close()


def test_install_makes_new_loops_of_the_configured_kind(monkeypatch, restore_policy):
    monkeypatch.setenv(eventloop.SETTING, "uvloop")
    assert eventloop.install() == "uvloop"
    loop = asyncio.new_event_loop()
    assert isinstance(loop, uvloop.Loop)
    loop.close()

    monkeypatch.setenv(eventloop.SETTING, "asyncio")
    assert eventloop.install() == "asyncio"
    loop = asyncio.new_event_loop()
    assert not isinstance(loop, uvloop.Loop)
    loop.close()


async def test_the_suite_itself_runs_on_the_configured_loop():
    kind = uvloop.Loop if eventloop.configured() == "uvloop" else asyncio.SelectorEventLoop
    assert isinstance(asyncio.get_running_loop(), kind)


def _daphne_loop_after(entry: str, **env: str) -> str:
    """The type of the loop daphne builds its reactor on, when ``entry`` runs before it is imported."""
    code = f"{entry}\nimport daphne.server\nprint(type(daphne.server.twisted_loop).__module__)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "futureself.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_daphne_builds_its_reactor_on_uvloop_when_the_loop_is_installed_first():
    assert _daphne_loop_after("from futureself import eventloop; eventloop.install()") == "uvloop"
    assert _daphne_loop_after("") == "asyncio.unix_events"  # what plain `daphne` would have done
    opted_out = _daphne_loop_after(
        "from futureself import eventloop; eventloop.install()", FUTURESELF_EVENT_LOOP="asyncio"
    )
    assert opted_out == "asyncio.unix_events"


def test_manage_py_installs_the_loop_before_django_loads_daphne():
    # manage.py's main() runs eventloop.install() before Django imports the daphne app.
    entry = "import sys; sys.argv = ['manage.py', 'check']; import manage; manage.main()"
    assert _daphne_loop_after(entry).splitlines()[-1] == "uvloop"


def test_serve_takes_daphnes_arguments_under_its_own_name():
    result = subprocess.run(
        [sys.executable, "-m", "futureself.serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m futureself.serve ")
    assert "--proxy-headers" in result.stdout  # daphne's own options


def test_serve_runs_daphne_on_uvloop_and_stops_cleanly_on_sigint(tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "futureself.settings",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "serve-test-not-secret",
        "SECURE_SSL_REDIRECT": "0",  # plain http on loopback
        "FUTURESELF_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
    }
    env.pop(eventloop.SETTING, None)
    command = [sys.executable, "-m", "futureself.serve", "-b", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "futureself.asgi:application"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "serving on the uvloop event loop" in log.read_text()
