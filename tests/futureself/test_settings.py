import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from futureself.config import (
    cache_config,
    channel_layers_config,
    crisis_resources_config,
    database_config,
    image_provider_choice,
    provider_choice,
)
from futureself.env import env_bool, load_dotenv

ROOT = Path(__file__).resolve().parents[2]


def test_no_database_url_means_sqlite_in_var(tmp_path):
    config = database_config("", sqlite_path=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")


def test_database_url_switches_to_postgresql(tmp_path):
    config = database_config("postgres://app:pw@db.internal:5433/futureself", sqlite_path=tmp_path / "x")
    assert config["ENGINE"] == "futureself.db.postgresql"  # Django's, health-checked only after idle
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (600, True)
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "futureself",
        "app",
    )


def test_the_redis_layer_outwaits_its_own_blocking_receive():
    from channels_redis.core import RedisChannelLayer

    host = channel_layers_config("redis://cache:6379/2")["default"]["CONFIG"]["hosts"][0]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout


def test_no_redis_url_means_in_memory_layer_and_local_cache():
    assert channel_layers_config("")["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert cache_config("")["default"]["BACKEND"].endswith("LocMemCache")


def test_redis_url_switches_layer_and_cache_to_redis():
    layer = channel_layers_config("redis://cache:6379/2")["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == ["redis://cache:6379/2"]
    cache = cache_config("redis://cache:6379/2")["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://cache:6379/2"


def test_providers_default_to_vendor_when_key_set_else_offline():
    assert provider_choice("", vendor="mistral", vendor_key="k", allowed={"mistral", "offline"}) == "mistral"
    assert provider_choice("", vendor="mistral", vendor_key="", allowed={"mistral", "offline"}) == "offline"
    assert provider_choice("offline", vendor="mistral", vendor_key="k", allowed={"mistral", "offline"}) == "offline"
    with pytest.raises(ValueError, match="unknown provider"):
        provider_choice("openai", vendor="mistral", vendor_key="k", allowed={"mistral", "offline"})


def test_image_provider_prefers_gemini_then_mistral_then_offline():
    assert image_provider_choice("", gemini_key="g", mistral_key="m") == "gemini"
    assert image_provider_choice("", gemini_key="", mistral_key="m") == "mistral"
    assert image_provider_choice("", gemini_key="", mistral_key="") == "offline"


def _settings_in_subprocess(env: dict[str, str], expression: str):
    """Import the real settings module in a clean interpreter with ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "FUTURESELF_"))}
    for key in ("MISTRAL_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY", "SECRET_KEY", "DJANGO_DEBUG"):
        clean[key] = ""
    clean.update({"DJANGO_SETTINGS_MODULE": "futureself.settings", **env})
    code = (
        f"import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({expression}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=False, timeout=60
    )
    return out


def test_settings_module_switches_everything_from_the_environment(tmp_path):
    out = _settings_in_subprocess(
        {
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://u@127.0.0.1:5432/fs",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "MISTRAL_API_KEY": "m-key",
            "ELEVENLABS_API_KEY": "e-key",
            "FUTURESELF_VAR_DIR": str(tmp_path),
        },
        "[s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CACHES['default']['BACKEND'],"
        " s.FUTURESELF_CHAT_PROVIDER, s.FUTURESELF_STT_PROVIDER, s.FUTURESELF_TTS_PROVIDER,"
        " s.FUTURESELF_IMAGE_PROVIDER, s.DEBUG]",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        "futureself.db.postgresql",
        "channels_redis.core.RedisChannelLayer",
        "django.core.cache.backends.redis.RedisCache",
        "mistral",
        "elevenlabs",
        "elevenlabs",
        "mistral",
        False,
    ]


def test_settings_module_defaults_are_embedded(tmp_path):
    out = _settings_in_subprocess(
        {"DJANGO_DEBUG": "1", "FUTURESELF_VAR_DIR": str(tmp_path)},
        "[s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.CHANNEL_LAYERS['default']['BACKEND'],"
        " s.FUTURESELF_CHAT_PROVIDER, s.FUTURESELF_IMAGE_PROVIDER]",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        "django.db.backends.sqlite3",
        str(tmp_path / "futureself.sqlite3"),
        "channels.layers.InMemoryChannelLayer",
        "offline",
        "offline",
    ]


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    out = _settings_in_subprocess({"FUTURESELF_VAR_DIR": str(tmp_path)}, "1")
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_media_storage_and_its_options_come_from_the_environment(tmp_path):
    out = _settings_in_subprocess(
        {
            "DJANGO_DEBUG": "1",
            "FUTURESELF_VAR_DIR": str(tmp_path),
            "FUTURESELF_MEDIA_STORAGE": "django.core.files.storage.InMemoryStorage",
            "FUTURESELF_MEDIA_STORAGE_OPTIONS": '{"base_url": "/private-media/", "file_permissions_mode": 384}',
        },
        "[s.STORAGES['default'], type(media := __import__('django.core.files.storage', fromlist=['x'])"
        ".storages['default']).__name__, media.base_url]",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"base_url": "/private-media/", "file_permissions_mode": 384},
        },
        "InMemoryStorage",
        "/private-media/",
    ]


def test_media_storage_defaults_to_the_file_system_without_options(tmp_path):
    out = _settings_in_subprocess({"DJANGO_DEBUG": "1", "FUTURESELF_VAR_DIR": str(tmp_path)}, "s.STORAGES['default']")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {}}


@pytest.mark.parametrize("options", ['{"bucket_name": "media",}', '["bucket_name"]'])
def test_invalid_media_storage_options_stop_the_start_without_echoing_them(tmp_path, options):
    out = _settings_in_subprocess(
        {"DJANGO_DEBUG": "1", "FUTURESELF_VAR_DIR": str(tmp_path), "FUTURESELF_MEDIA_STORAGE_OPTIONS": options},
        "1",
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured: FUTURESELF_MEDIA_STORAGE_OPTIONS must be a JSON object" in out.stderr
    assert "bucket_name" not in out.stderr


BUILT_IN = {"GB": [{"name": "Samaritans", "contact": "116 123"}], "INTL": [{"name": "Befrienders", "contact": "x"}]}


def test_crisis_resources_from_the_environment_add_or_replace_countries():
    table = crisis_resources_config(
        BUILT_IN,
        {
            "de": [{"name": "TelefonSeelsorge", "contact": "0800 111 0 111"}],
            "GB": [{"name": "Shout", "contact": "85258"}],
        },
    )

    assert table["DE"] == [{"name": "TelefonSeelsorge", "contact": "0800 111 0 111"}]  # found by its upper-case code
    assert table["GB"] == [{"name": "Shout", "contact": "85258"}]
    assert table["INTL"] == BUILT_IN["INTL"]
    assert BUILT_IN["GB"] == [{"name": "Samaritans", "contact": "116 123"}]  # the defaults are not changed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DE": [{"name": "TelefonSeelsorge"}]}, r'CRISIS_RESOURCES_JSON\["DE"\] .* Field required at 0\.contact'),
        ({"DE": {"name": "TelefonSeelsorge", "contact": "0800"}}, r'CRISIS_RESOURCES_JSON\["DE"\] must be a list'),
        ({"Germany": []}, "'Germany' is not a country code"),
    ],
)
def test_a_malformed_crisis_resource_stops_the_start_naming_the_country(extra, message):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=message):
        crisis_resources_config(BUILT_IN, extra)


def test_crisis_resources_json_that_is_not_json_stops_the_start(tmp_path):
    out = _settings_in_subprocess(
        {"DJANGO_DEBUG": "1", "FUTURESELF_VAR_DIR": str(tmp_path), "CRISIS_RESOURCES_JSON": '{"DE": [}'}, "1"
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured: CRISIS_RESOURCES_JSON must be a JSON object" in out.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "FUTURESELF_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "futureself.settings",
            "SECRET_KEY": "k3y-" + "z9Q!x" * 12,
            "DJANGO_DEBUG": "",
            "ALLOWED_HOSTS": "futureself.example.com",
            "FUTURESELF_VAR_DIR": str(tmp_path),
        }
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues (0 silenced)" in out.stdout


DOTENV_NAMES = ("FS_TEST_PLAIN", "FS_TEST_QUOTED", "FS_TEST_EXPORTED", "FS_TEST_REAL", "FS_TEST_HASH", "FS_TEST_EMPTY")


@pytest.fixture
def dotenv(tmp_path, monkeypatch):
    for name in (*DOTENV_NAMES, "DJANGO_DEBUG"):
        # setenv first so monkeypatch restores the original state of what load_dotenv sets.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    path = tmp_path / ".env"
    path.write_text(
        "# a comment line\n"
        "\n"
        "FS_TEST_PLAIN=plain value\n"
        'FS_TEST_QUOTED="quoted # not a comment"  # a comment\n'
        "export FS_TEST_EXPORTED='single'\n"
        "FS_TEST_REAL=from the file\n"
        "FS_TEST_HASH=ab#cd\n"
        "FS_TEST_EMPTY=                 # nothing set, as in .env.example\n"
        "DJANGO_DEBUG=1                      # `make run` sets this; never in production\n"
        "not a setting\n",
        encoding="utf-8",
    )
    return path


def test_dotenv_sets_what_the_file_defines(dotenv):
    load_dotenv(dotenv)
    assert os.environ["FS_TEST_PLAIN"] == "plain value"
    assert os.environ["FS_TEST_QUOTED"] == "quoted # not a comment"
    assert os.environ["FS_TEST_EXPORTED"] == "single"
    assert os.environ["FS_TEST_HASH"] == "ab#cd"
    assert os.environ["FS_TEST_EMPTY"] == ""


def test_a_line_uncommented_from_env_example_keeps_its_value_without_the_comment(dotenv):
    load_dotenv(dotenv)
    assert os.environ["DJANGO_DEBUG"] == "1"
    assert env_bool("DJANGO_DEBUG") is True


def test_the_real_environment_wins_over_dotenv(dotenv, monkeypatch):
    monkeypatch.setenv("FS_TEST_REAL", "from the environment")
    monkeypatch.setenv("FS_TEST_EMPTY", "set for real")
    load_dotenv(dotenv)
    assert os.environ["FS_TEST_REAL"] == "from the environment"
    assert os.environ["FS_TEST_EMPTY"] == "set for real"


def test_a_missing_dotenv_changes_nothing(tmp_path):
    before = dict(os.environ)
    load_dotenv(tmp_path / "no-such.env")
    assert dict(os.environ) == before


def test_dotenv_tests_leave_the_environment_as_they_found_it():
    assert not any(name in os.environ for name in DOTENV_NAMES)
