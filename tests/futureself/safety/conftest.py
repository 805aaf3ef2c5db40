"""A tiny local stand-in for Mistral's moderation endpoint."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeModeration:
    """Answers ``POST /v1/moderations`` with scripted categories, an error status or a delay."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.categories: dict[str, bool] = {}
        self.scores: dict[str, float] = {}
        self.status = 200
        self.delay = 0.0
        self.body: str | None = None

    def flag(self, category: str, score: float = 0.97) -> None:
        self.categories[category] = True
        self.scores[category] = score

    def response(self) -> tuple[int, str]:
        if self.body is not None:
            return self.status, self.body
        categories = {"selfharm": False, "violence_and_threats": False, "sexual": False, **self.categories}
        scores = {name: self.scores.get(name, 0.01) for name in categories}
        payload = {
            "id": "mod-1",
            "model": "mistral-moderation-latest",
            "results": [{"categories": categories, "category_scores": scores}],
        }
        return self.status, json.dumps(payload)


@pytest.fixture
def fake_moderation(settings):
    fake = FakeModeration()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            fake.requests.append(json.loads(self.rfile.read(length) or b"{}"))
            fake.headers.append(dict(self.headers))
            if fake.delay:
                time.sleep(fake.delay)
            status, body = fake.response()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # the deadline test hangs up before the fake answers; that is the point

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.MISTRAL_API_KEY = "test-key-not-real"
    settings.MISTRAL_SERVER_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.FUTURESELF_CHAT_PROVIDER = "mistral"  # moderation follows chat
    settings.SAFETY_MODERATION_ENABLED = True
    settings.SAFETY_MODERATION_TIMEOUT = 1.0
    yield fake
    server.shutdown()
    server.server_close()
