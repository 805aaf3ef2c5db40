"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne (``manage.py runserver`` uses it too, since ``daphne`` is the
first installed app).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "futureself.settings")


def _plain_autobahn_log_arguments() -> None:
    """Autobahn (daphne's WebSocket layer) builds the arguments of its debug log calls on every
    frame sent, even with debug logging off: it colours them with click whenever click is
    importable (about 2% of daphne's CPU under voice load), and names the sending method through
    ``inspect`` and string splitting (another 1%). Colours in logs are of no use here, and the
    method's qualified name says the same for a fraction of the cost."""
    try:
        from autobahn import util
        from autobahn.twisted import websocket as twisted_websocket
        from autobahn.websocket import protocol
    except ImportError:
        return
    util._HAS_CLICK = False

    def plain_type_name(obj: object) -> str:
        return f"<{getattr(obj, '__qualname__', 'unknown')}>"

    protocol.hltype = twisted_websocket.hltype = plain_type_name


_plain_autobahn_log_arguments()
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from futureself.channels_auth import websocket_application  # noqa: E402
from futureself.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(URLRouter(websocket_urlpatterns)),
    }
)


def _freeze_startup_heap() -> None:
    """Keep the objects that live as long as the process out of the garbage collector's full passes.

    Django, the apps and the vendor SDKs leave ~150,000 objects behind at start-up; every
    full (generation 2) collection walked all of them, a 75-125 ms pause of the server's one
    thread (measured in daphne during the voice benchmark): any reply in flight stalls for it.
    Frozen, they are skipped (the pauses fell to ~30 ms) and are still freed by reference
    counting if they ever go. The configured providers' modules are imported first so their
    SDKs' import-time objects are frozen too.
    """
    from futureself.providers import registry

    registry.import_configured()
    gc.collect()
    gc.freeze()


# The young generation is collected after this many new container objects, not Python's 700.
# A spoken turn makes ~10,000 of them, and with one conversation each young pass took ~0.13 ms:
# some 15 passes a turn, ~2 ms of its overhead (one conversation, back-to-back benchmark runs:
# overhead p50 15.7 and 16.1 ms with 700, 13.9 and 13.6 ms with 20,000). At 200 conversations
# the ~1,000 passes of a run took 1.7-1.9 s of the server's one thread, ~30 of 15 ms each with
# 20,000 (0.44 s in all; measured with ``gc.callbacks`` in daphne); the latency there moved
# within the runs' spread. The price: young cyclic garbage waits longer to be freed.
YOUNG_COLLECTION_AFTER = 20_000

# Full collections only after this many collections of the middle generation (Python's default
# is 10). What a full pass walks grows with the open conversations (~750 objects each): at 200
# voice conversations each pass paused the server 80-170 ms, and with the default they came
# every few seconds (nine in a 105-second benchmark run that ended at 200; every reply in flight
# waited for each). With 100, one in the same run. The price: cyclic garbage that reaches the
# oldest generation waits longer to be freed, 50-80 KiB more resident memory per conversation.
FULL_COLLECTION_AFTER = 100


def _collect_less_often() -> None:
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, FULL_COLLECTION_AFTER)


_freeze_startup_heap()
_collect_less_often()
