"""Tell a backing service's outage apart from a bug: which service, if any, an error means.

Boundary: pure classification, no I/O and nothing from Flask. The web layer answers an
outage with 503 and Retry-After (`web.unavailable`); the hub and broker use it to keep
readers connected while the database or Redis is away.
"""

from __future__ import annotations

import redis.exceptions
from sqlalchemy import exc as sa

#: How long a client should wait before trying again while a service is away (seconds).
RETRY_AFTER = 5

_DATABASE_DOWN = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError)
_BROKER_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def outage_of(error: BaseException) -> str | None:
    """Return "database" or "broker" when `error` means that service is unreachable."""
    if isinstance(error, _DATABASE_DOWN):
        return "database"
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return "database"
    if isinstance(error, _BROKER_DOWN):
        return "broker"
    return None
