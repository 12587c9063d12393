"""The per-process parts the views share: database, hub, broker and write service."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .broker import Broker, make_broker
from .db import Database
from .drafts import DraftService
from .hub import Hub
from .metrics import HubMetrics
from .queries import EventLog
from .service import StoryService


@dataclass
class Runtime:
    """Everything a request may need beyond Flask itself."""

    db: Database
    hub: Hub
    broker: Broker
    service: StoryService
    drafts: DraftService

    @classmethod
    def build(
        cls, database_url: str, broker_url: str, queue_limit: int, events_socket: str = ""
    ) -> Runtime:
        """Wire the parts together for one process."""
        db = Database(database_url)
        hub = Hub(EventLog(db), queue_limit=queue_limit, observer=HubMetrics())
        broker = make_broker(broker_url, hub, events_socket)
        service = StoryService(db, broker.publish)
        return cls(
            db=db, hub=hub, broker=broker, service=service, drafts=DraftService(db, service)
        )


def runtime() -> Runtime:
    """Return the running app's parts."""
    rt: Runtime = current_app.extensions["liveblog"]
    return rt
