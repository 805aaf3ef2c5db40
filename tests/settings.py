"""Settings for the test suite: the project's own settings with the network
shut, offline providers, a throwaway media folder and a fast password hasher.

``DATABASE_URL`` and ``REDIS_URL`` still apply, so the same suite runs on
SQLite + in-memory layer and on PostgreSQL + Redis.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
for _name in ("MISTRAL_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY"):
    os.environ[_name] = ""
for _name in ("CHAT", "STT", "TTS", "IMAGE"):
    os.environ[f"FUTURESELF_{_name}_PROVIDER"] = "offline"
os.environ["DJANGO_DEBUG"] = ""
os.environ.setdefault("FUTURESELF_VAR_DIR", tempfile.mkdtemp(prefix="futureself-tests-var-"))
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="futureself-tests-media-")

from futureself.settings import *  # noqa: E402, F403

SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if REDIS_URL:  # noqa: F405
    # Keep test data away from anything else on the same Redis.
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "futureself-tests:channels"  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = "futureself-tests"  # noqa: F405
