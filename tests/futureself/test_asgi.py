"""The ASGI entry point's tuning of daphne's WebSocket layer and of the garbage collector."""

import gc


def test_autobahn_builds_its_per_frame_debug_log_arguments_cheaply():
    from autobahn import util
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    import futureself.asgi  # noqa: F401  (applies the tuning on import)

    assert util._HAS_CLICK is False
    name = protocol.hltype(protocol.WebSocketProtocol.sendData)
    assert name == "<WebSocketProtocol.sendData>"  # still names the method, without colours or inspect
    assert twisted_websocket.hltype is protocol.hltype


def test_the_start_up_heap_is_frozen():
    import futureself.asgi  # noqa: F401  (freezes on import)

    assert gc.get_freeze_count() > 50_000  # Django, the apps and what they import: out of full collections


def test_the_collector_runs_less_often_than_pythons_default_and_stays_on():
    from futureself import asgi  # tunes the collector on import

    young, middle, oldest = gc.get_threshold()
    assert young == asgi.YOUNG_COLLECTION_AFTER == 20_000  # Python's default: 700
    assert middle == 10  # Python's default, kept
    assert oldest == asgi.FULL_COLLECTION_AFTER == 100  # Python's default: 10
    assert gc.isenabled()


def test_the_configured_providers_modules_are_imported_before_the_freeze(settings, monkeypatch):
    from futureself.providers import registry

    settings.FUTURESELF_CHAT_PROVIDER = "mistral"
    settings.FUTURESELF_STT_PROVIDER = "elevenlabs"
    settings.FUTURESELF_TTS_PROVIDER = "offline"
    settings.FUTURESELF_IMAGE_PROVIDER = "gemini"
    settings.MISTRAL_API_KEY = "test-key-not-real"
    settings.SAFETY_MODERATION_ENABLED = True
    imported = []
    monkeypatch.setattr(registry.importlib, "import_module", imported.append)

    registry.import_configured()

    assert sorted(set(imported)) == [
        "futureself.providers.elevenlabs",
        "futureself.providers.gemini",
        "futureself.providers.mistral",
        "futureself.providers.offline",
    ]
