"""CSP on every HTML page of a whole session, and model output always escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from conversations.models import Debrief, Message
from futureself.limits import rate_limit_owner
from futureself.ownership import Owner
from futureself.providers import registry
from tests.builders import make_conversation, make_future_self, make_profile, sample_card
from tests.fakes.providers import FakeChat, FakeImageGenerator, FakeTextToSpeech
from tests.futureself.offline_session import run_offline_session

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("pwned")</script>'
IMG = '<img src=x onerror="alert(1)">'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _script_nonce(policy: str) -> str | None:
    """The policy's script nonce; Django adds one only to responses whose template used it."""
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src
    assert "unsafe-eval" not in script_src
    match = re.search(r"'nonce-([^']+)'", script_src)
    return match.group(1) if match else None


@pytest.fixture
def offline():
    with registry.use_providers(
        chat=FakeChat(fallback_offline=True), tts=FakeTextToSpeech(), image=FakeImageGenerator()
    ):
        yield


@pytest.fixture
def session(alice_client, offline, settings):
    settings.RATE_LIMITS_ENABLED = False
    return run_offline_session(alice_client)


def test_every_html_page_of_a_session_carries_the_csp_and_no_inline_code(session, client, alice):
    visits = [(v.label, v.response) for v in session.html_visits()]
    anonymous = Client()
    for label, url in (("login", "/accounts/login/"), ("signup", "/accounts/signup/"), ("data, guest", "/me/")):
        visits.append((label, anonymous.get(url)))
    assert len(visits) >= 25
    for label, response in visits:
        # htmx partials are swapped into a page that already carries the policy; full pages carry it themselves.
        html = response.content.decode()
        policy = response.headers.get("Content-Security-Policy")
        assert policy, label
        nonce = _script_nonce(policy)
        if html.lstrip().lower().startswith("<!doctype"):
            assert nonce, label
            assert f'nonce="{nonce}"' in html, label  # htmx and our scripts load with it
        for tag, attrs in _tags(html):
            assert not [name for name in attrs if name.startswith("on")], (label, tag, attrs)
            assert "style" not in attrs, (label, tag, attrs)
            if tag == "script":
                assert nonce, label
                assert attrs.get("nonce") == nonce, (label, attrs)
            if tag == "style":
                pytest.fail(f"inline <style> on {label}")


def test_a_refused_request_page_carries_the_csp_too(alice_client, alice, settings):
    settings.RATE_LIMITS = {"provider_user": (1, 60)}
    settings.RATE_LIMITS_ENABLED = True
    cache.clear()
    rate_limit_owner(owner=Owner(user_id=alice.pk), ip=None, scope="provider")
    from interviews.models import Interview

    interview = Interview.objects.create(owner=alice)
    response = alice_client.post(f"/interview/{interview.pk}/ask/", HTTP_ACCEPT="text/html")
    assert response.status_code == 429
    nonce = _script_nonce(response.headers["Content-Security-Policy"])
    assert all(attrs.get("nonce") == nonce for tag, attrs in _tags(response.content.decode()) if tag == "script")


def test_our_templates_have_no_inline_handlers_styles_or_unnonced_scripts():
    roots = [Path(settings.BASE_DIR) / "templates"]
    offenders = []
    for root in roots:
        for path in root.rglob("*.html"):
            text = path.read_text()
            if re.search(r"\son[a-z]+\s*=", text) or re.search(r"\sstyle\s*=", text) or "<style" in text:
                offenders.append(str(path))
            for script in re.findall(r"<script\b[^>]*>", text):
                if 'nonce="{{ csp_nonce }}"' not in script:
                    offenders.append(f"{path}: {script}")
            if "javascript:" in text:
                offenders.append(f"{path}: javascript: URL")
    assert offenders == []


# --- model output is escaped -------------------------------------------------------------------


@pytest.fixture
def poisoned(alice):
    profile = make_profile(
        owner=alice,
        name=SCRIPT,
        occupation=IMG,
        values=[{"text": IMG, "evidence": SCRIPT}],
    )
    card = sample_card(title=SCRIPT, summary=IMG)
    card["memories"][0]["text"] = SCRIPT
    future_self = make_future_self(profile=profile, **{k: v for k, v in card.items() if k != "path"})
    conversation = make_conversation(
        future_self=future_self, messages=[("user", "Hello"), ("future_self", SCRIPT + IMG)]
    )
    Debrief.objects.create(
        conversation=conversation,
        data={
            "summary": SCRIPT,
            "insights": [IMG],
            "advice": [SCRIPT],
            "next_steps": [IMG],
            "questions_to_reflect": [SCRIPT],
        },
    )
    return {"profile": profile, "future_self": future_self, "conversation": conversation}


def _assert_escaped(html: str, where: str) -> None:
    assert SCRIPT not in html, where
    assert "<img src=x" not in html, where
    assert 'onerror="alert' not in html, where
    assert "&lt;script&gt;" in html or "&lt;img" in html, where


def test_model_output_is_escaped_on_every_page(alice_client, poisoned, offline):
    assert Message.objects.filter(text__contains="<script>").exists()
    pages = {
        "profile": f"/profile/{poisoned['profile'].pk}/",
        "futures": f"/futures/{poisoned['future_self'].generation_id}/",
        "conversation": f"/conversations/{poisoned['conversation'].pk}/",
        "debrief": f"/conversations/{poisoned['conversation'].pk}/debrief/",
        "export": "/me/export/",
    }
    for where, url in pages.items():
        response = alice_client.get(url)
        assert response.status_code == 200, where
        _assert_escaped(response.content.decode(), where)


def test_the_conversation_api_returns_model_output_as_data_not_markup(alice_api, poisoned):
    body = alice_api.get(f"/api/conversation/{poisoned['conversation'].pk}").json()
    assert body["messages"][1]["text"] == SCRIPT + IMG  # JSON carries it verbatim; clients must escape it
    assert alice_api.get(f"/api/conversation/{poisoned['conversation'].pk}")["Content-Type"].startswith(
        "application/json"
    )


def test_our_scripts_never_turn_text_into_markup():
    offenders = []
    for path in (Path(settings.BASE_DIR) / "static" / "js").rglob("*.js"):
        text = path.read_text()
        for pattern in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            if pattern in text:
                offenders.append(f"{path.name}: {pattern}")
    assert offenders == []
