"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Served by daphne (``manage.py runserver`` uses it too, since ``daphne`` is the
first installed app).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "futureself.settings")
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
