"""Talking by voice in Chromium: its fake microphone plays a spoken WAV, the app streams it to the
ElevenLabs vendor fake's realtime Scribe, and the reply comes back as text and speech."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, start_server, stop_server
from tests.vendor_fakes.fixtures import vendor_fake_server  # noqa: F401
from tests.vendor_fakes.samples import DEFAULT_TRANSCRIPT

SEED = """
from django.contrib.auth import get_user_model
from tests.builders import make_conversation, make_future_self
user = get_user_model().objects.create_user("voice-e2e", "", "a long password 123")
print(make_conversation(future_self=make_future_self(owner=user)).pk)
"""

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng and sox make the microphone's speech"
)


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("mic")
    spoken, mic = folder / "spoken.wav", folder / "mic.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), "I would like to live closer to my family."], check=True)
    subprocess.run(["sox", str(spoken), "-r", "48000", "-c", "1", str(mic), "pad", "0", "2"], check=True)
    return str(mic)


@pytest.fixture
def voice_server(vendor_fake_server):  # noqa: F811
    vendor_fake_server.reset()
    server = start_server(
        {
            "ELEVENLABS_API_KEY": "xi-e2e",
            "ELEVENLABS_BASE_URL": vendor_fake_server.base_url,
            "FUTURESELF_STT_PROVIDER": "elevenlabs",
            "FUTURESELF_TTS_PROVIDER": "elevenlabs",
            "FUTURESELF_CHAT_PROVIDER": "offline",
            "FUTURESELF_IMAGE_PROVIDER": "offline",
        }
    )
    yield server
    stop_server(server)


@pytest.fixture
def mic_page(browser, microphone_wav) -> Iterator:
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
    ]
    with_mic = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    page = with_mic.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    with_mic.close()


def test_holding_the_talk_button_sends_speech_and_the_reply_is_spoken(voice_server, vendor_fake_server, mic_page):  # noqa: F811
    page = mic_page
    conversation_id = voice_server.manage("shell", "-c", SEED).strip().splitlines()[-1]
    page.goto(voice_server.url + "/accounts/login/")
    page.fill("input[name=username]", "voice-e2e")
    page.fill("input[name=password]", "a long password 123")
    page.click("button[type=submit]")
    page.goto(f"{voice_server.url}/conversations/{conversation_id}/")
    talk = page.locator("[data-talk]:not([disabled])")
    talk.wait_for(timeout=5000)

    box = talk.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(2500)
    assert talk.get_attribute("aria-pressed") == "true"
    page.mouse.up()

    heard = page.locator(".bubble--voice")
    heard.wait_for(timeout=10000)
    assert heard.inner_text().endswith(DEFAULT_TRANSCRIPT)
    page.locator(".bubble--future_self").first.wait_for(timeout=10000)
    page.locator(".bubble--streaming").wait_for(state="detached", timeout=15000)
    screenshot(page, "conversation-voice-1280")

    session = vendor_fake_server.last("elevenlabs.realtime")
    streamed = [m for m in session.ws_messages if m.get("audio_base_64")]
    assert len(streamed) >= 10  # about 100 ms a frame for the 2.5 s held
    assert session.ws_messages[-1]["commit"] is True
    speech = vendor_fake_server.received("elevenlabs.tts")
    assert speech
    assert speech[0].query["output_format"] == "pcm_16000"
    assert page.locator("#chat-error").is_hidden()
    assert page.console_errors == []
