"""Django's PostgreSQL backend, health-checking a persistent connection only after it sat idle.

With ``CONN_HEALTH_CHECKS`` Django pings a reused connection (``SELECT 1``) before the first
query of every request. Channels treats every ``database_sync_to_async`` call as a request, so
the conversation socket paid a ping per database trip: four or five per spoken turn, one of them
before the person's words are saved, each a round trip that wakes the database server. A
connection that answered a query moments ago needs no ping: it is checked only when it has been
idle for ``HEALTH_CHECK_IDLE_SECONDS``. A server that went away within that window fails the
next query once, as without health checks, and the connection is then replaced.
"""

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_IDLE_SECONDS = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    _last_used: float = float("-inf")

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done
            and time.monotonic() - self._last_used < HEALTH_CHECK_IDLE_SECONDS
        ):
            self.health_check_done = True
        super().close_if_health_check_failed()
        self._last_used = time.monotonic()

    def connect(self) -> None:
        super().connect()
        self._last_used = time.monotonic()
