"""Settings for futureself, read from the environment (12-factor).

With nothing set the app runs self-contained: SQLite in ``var/``, the in-memory
channel layer, a local-memory cache and the offline providers. Each variable
below switches one part to its production counterpart; ``.env.example`` lists
them all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from futureself.config import (
    cache_config,
    channel_layers_config,
    crisis_resources_config,
    database_config,
    image_provider_choice,
    provider_choice,
)
from futureself.env import env_bool, env_float, env_int, env_json, env_list, env_str, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

VAR_DIR = Path(env_str("FUTURESELF_VAR_DIR") or BASE_DIR / "var")

# --- core --------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# External frontends allowed to call the API and open the conversation socket.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
# Retries of interview answers send Idempotency-Key: external frontends must be allowed to.
CORS_ALLOW_HEADERS = (*default_headers, "idempotency-key")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "django_htmx",
    "ninja",
    "futureself",
    "interviews",
    "personas",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "futureself.urls"
ASGI_APPLICATION = "futureself.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "futureself.context_processors.futureself",
            ],
        },
    }
]

# --- data --------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": database_config(DATABASE_URL, sqlite_path=VAR_DIR / "futureself.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CHANNEL_LAYERS = channel_layers_config(REDIS_URL)
CACHES = cache_config(REDIS_URL)

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30

# --- auth --------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- i18n --------------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static and media ----------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
# Media is never served publicly: avatars and audio go through owner-checked views.
MEDIA_URL = "/media-not-public/"
STORAGES = {
    # Any Django storage backend, configured from the environment alone: e.g. storages.backends.s3.S3Storage
    # with FUTURESELF_MEDIA_STORAGE_OPTIONS='{"bucket_name": "futureself-media", "region_name": "eu-west-3"}'.
    "default": {
        "BACKEND": env_str("FUTURESELF_MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env_json("FUTURESELF_MEDIA_STORAGE_OPTIONS"),
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or "pytest" in sys.modules
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- security ----------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF, "ws:", "wss:"] if DEBUG else [CSP.SELF, "wss:"],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", True) else None

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# --- providers -----------------------------------------------------------------

MISTRAL_API_KEY = env_str("MISTRAL_API_KEY")
MISTRAL_SERVER_URL = env_str("MISTRAL_SERVER_URL") or None
ELEVENLABS_API_KEY = env_str("ELEVENLABS_API_KEY")
ELEVENLABS_BASE_URL = env_str("ELEVENLABS_BASE_URL") or None
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL") or None

FUTURESELF_CHAT_PROVIDER = provider_choice(
    env_str("FUTURESELF_CHAT_PROVIDER"), vendor="mistral", vendor_key=MISTRAL_API_KEY, allowed={"mistral", "offline"}
)
FUTURESELF_STT_PROVIDER = provider_choice(
    env_str("FUTURESELF_STT_PROVIDER"),
    vendor="elevenlabs",
    vendor_key=ELEVENLABS_API_KEY,
    allowed={"elevenlabs", "offline"},
)
FUTURESELF_TTS_PROVIDER = provider_choice(
    env_str("FUTURESELF_TTS_PROVIDER"),
    vendor="elevenlabs",
    vendor_key=ELEVENLABS_API_KEY,
    allowed={"elevenlabs", "offline"},
)
FUTURESELF_IMAGE_PROVIDER = image_provider_choice(
    env_str("FUTURESELF_IMAGE_PROVIDER"), gemini_key=GEMINI_API_KEY, mistral_key=MISTRAL_API_KEY
)

# Model per chat task: a small fast model where latency matters, a stronger one
# for the structured generations.
MISTRAL_MODELS = {
    "interview": env_str("MISTRAL_MODEL_INTERVIEW", "mistral-small-latest"),
    "conversation": env_str("MISTRAL_MODEL_CONVERSATION", "mistral-small-latest"),
    "summary": env_str("MISTRAL_MODEL_SUMMARY", "mistral-small-latest"),
    "profile": env_str("MISTRAL_MODEL_PROFILE", "mistral-medium-latest"),
    "personas": env_str("MISTRAL_MODEL_PERSONAS", "mistral-medium-latest"),
    "debrief": env_str("MISTRAL_MODEL_DEBRIEF", "mistral-medium-latest"),
    "moderation": env_str("MISTRAL_MODEL_MODERATION", "mistral-moderation-latest"),
}
MISTRAL_IMAGE_MODEL = env_str("MISTRAL_IMAGE_MODEL", "mistral-medium-latest")
ELEVENLABS_TTS_MODEL = env_str("ELEVENLABS_TTS_MODEL", "eleven_flash_v2_5")
ELEVENLABS_STT_MODEL = env_str("ELEVENLABS_STT_MODEL", "scribe_v2")
ELEVENLABS_STT_REALTIME_MODEL = env_str("ELEVENLABS_STT_REALTIME_MODEL", "scribe_v2_realtime")
ELEVENLABS_DEFAULT_VOICE_ID = env_str("ELEVENLABS_DEFAULT_VOICE_ID", "JBFqnCBsd6RMkjVDRZzb")
ELEVENLABS_OUTPUT_FORMAT = env_str("ELEVENLABS_OUTPUT_FORMAT", "mp3_44100_128")
GEMINI_IMAGE_MODEL = env_str("GEMINI_IMAGE_MODEL", "gemini-3.1-flash-image")

# Deadlines in seconds, per kind of call (the SDK defaults are minutes).
PROVIDER_TIMEOUTS = {
    "first_token": env_float("PROVIDER_TIMEOUT_FIRST_TOKEN", 10.0),
    "stream_total": env_float("PROVIDER_TIMEOUT_STREAM_TOTAL", 90.0),
    "complete": env_float("PROVIDER_TIMEOUT_COMPLETE", 30.0),
    "structured": env_float("PROVIDER_TIMEOUT_STRUCTURED", 60.0),
    "stt": env_float("PROVIDER_TIMEOUT_STT", 30.0),
    "stt_final": env_float("PROVIDER_TIMEOUT_STT_FINAL", 5.0),
    "tts_first_chunk": env_float("PROVIDER_TIMEOUT_TTS_FIRST_CHUNK", 5.0),
    "image": env_float("PROVIDER_TIMEOUT_IMAGE", 90.0),
}
PROVIDER_RETRY_ATTEMPTS = env_int("PROVIDER_RETRY_ATTEMPTS", 3)
PROVIDER_RETRY_MAX_SECONDS = env_float("PROVIDER_RETRY_MAX_SECONDS", 20.0)
PROVIDER_RETRY_BASE_SECONDS = env_float("PROVIDER_RETRY_BASE_SECONDS", 0.5)

OFFLINE_ESPEAK_BINARY = env_str("OFFLINE_ESPEAK_BINARY", "espeak-ng")

# --- product limits ------------------------------------------------------------

INTERVIEW_MAX_TURNS = env_int("INTERVIEW_MAX_TURNS", 24)
MESSAGE_MAX_CHARS = 4000

# --- safety, privacy and limits (docs/safety.md, docs/security.md) -----------------

# Mistral moderation as a second opinion after the phrase check (needs MISTRAL_API_KEY; fails open).
SAFETY_MODERATION_ENABLED = env_bool("SAFETY_MODERATION_ENABLED", True)
SAFETY_MODERATION_TIMEOUT = env_float("SAFETY_MODERATION_TIMEOUT", 2.0)
SAFETY_MODERATION_CATEGORIES = env_list("SAFETY_MODERATION_CATEGORIES", ["selfharm"])
# Flag a watched category at this score even when the vendor did not; unset = the vendor's own decision.
SAFETY_MODERATION_THRESHOLD = env_float("SAFETY_MODERATION_THRESHOLD", -1.0)
SAFETY_MODERATION_THRESHOLD = None if SAFETY_MODERATION_THRESHOLD < 0 else SAFETY_MODERATION_THRESHOLD
# Whose crisis resources to show when the person's country is unknown ("" = international only).
SAFETY_DEFAULT_COUNTRY = env_str("SAFETY_DEFAULT_COUNTRY", "")
CRISIS_RESOURCES: dict[str, list[dict[str, str]]] = {
    "INTL": [
        {"name": "Find A Helpline: free, confidential support in your country", "contact": "https://findahelpline.com"},
        {"name": "Emergency services", "contact": "Your local emergency number (112 in Europe, 911 in North America)"},
    ],
    "FR": [
        {"name": "3114, numéro national de prévention du suicide (24h/24, gratuit)", "contact": "3114"},
        {"name": "SAMU (urgence médicale)", "contact": "15"},
    ],
    "BE": [
        {"name": "Centre de Prévention du Suicide", "contact": "0800 32 123"},
        {"name": "Zelfmoordlijn", "contact": "1813"},
    ],
    "CH": [{"name": "La Main Tendue / Die Dargebotene Hand", "contact": "143"}],
    "US": [{"name": "988 Suicide & Crisis Lifeline (call or text)", "contact": "988"}],
    "CA": [{"name": "9-8-8 Suicide Crisis Helpline (call or text)", "contact": "988"}],
    "GB": [{"name": "Samaritans (24/7, free)", "contact": "116 123"}],
    "UK": [{"name": "Samaritans (24/7, free)", "contact": "116 123"}],
    "IE": [{"name": "Samaritans (24/7, free)", "contact": "116 123"}],
}
# Extra or replacement countries as JSON: {"DE": [{"name": "TelefonSeelsorge", "contact": "0800 111 0 111"}]}
CRISIS_RESOURCES = crisis_resources_config(CRISIS_RESOURCES, env_json("CRISIS_RESOURCES_JSON"))

# Retention, enforced by `manage.py purge_expired` (run it daily from cron). 0 keeps forever.
GUEST_RETENTION_DAYS = env_int("GUEST_RETENTION_DAYS", 30)
ENDED_CONVERSATION_RETENTION_DAYS = env_int("ENDED_CONVERSATION_RETENTION_DAYS", 0)

# Rate limits: (requests, window in seconds), counted in the cache per person and per IP.
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "provider_user": (env_int("RATE_LIMIT_PROVIDER_USER", 30), 60),
    "provider_ip": (env_int("RATE_LIMIT_PROVIDER_IP", 60), 60),
    "ws_turn_user": (env_int("RATE_LIMIT_WS_TURN_USER", 20), 60),
    "ws_turn_ip": (env_int("RATE_LIMIT_WS_TURN_IP", 40), 60),
    "generation_user": (env_int("RATE_LIMIT_GENERATION_USER", 10), 3600),
    "generation_ip": (env_int("RATE_LIMIT_GENERATION_IP", 20), 3600),
    "export_user": (env_int("RATE_LIMIT_EXPORT_USER", 10), 3600),
}
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
# Per-person daily budgets (UTC days). 0 disables a budget.
DAILY_BUDGETS: dict[str, int] = {
    "llm_tokens": env_int("BUDGET_LLM_TOKENS_PER_DAY", 300_000),
    "tts_characters": env_int("BUDGET_TTS_CHARACTERS_PER_DAY", 40_000),
}

# --- voice (the conversation WebSocket's audio) -----------------------------------

# Binary frames carry the person's utterance (16 kHz 16-bit mono PCM by default: 32,000 bytes a second).
VOICE_MAX_FRAME_BYTES = env_int("VOICE_MAX_FRAME_BYTES", 64_000)  # 2 s of PCM; the browser sends ~100 ms frames
VOICE_MAX_UTTERANCE_BYTES = env_int("VOICE_MAX_UTTERANCE_BYTES", 1_920_000)  # 60 s of PCM
VOICE_MIN_UTTERANCE_MS = env_int("VOICE_MIN_UTTERANCE_MS", 300)  # realtime Scribe needs 0.3 s to commit
# Sentences synthesised at once per reply: sentence N+1 is prepared while N plays.
VOICE_TTS_CONCURRENCY = env_int("VOICE_TTS_CONCURRENCY", 2)
# Off only for the overlap benchmark's baseline: speak the reply once it is completely written.
VOICE_PIPELINED_TTS = env_bool("VOICE_PIPELINED_TTS", True)

# --- logging (never transcript text, audio or keys) ------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}, "websockets": {"level": "WARNING"}},
}
