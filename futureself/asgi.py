"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne (``manage.py runserver`` uses it too, since ``daphne`` is the
first installed app).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "futureself.settings")


def _plain_autobahn_log_arguments() -> None:
    """Autobahn (daphne's WebSocket layer) colours the arguments of its debug log calls with
    click whenever click is importable, on every frame sent, even with debug logging off:
    about 2% of daphne's CPU under voice load. Colours in logs are of no use here."""
    try:
        from autobahn import util
    except ImportError:
        return
    util._HAS_CLICK = False


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
