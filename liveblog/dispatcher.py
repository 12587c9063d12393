"""The webhook dispatcher: a process of its own under `liveblog serve` that POSTs events.

Imports nothing from Flask (its `main` builds the app once, for the configuration). The
event log is the queue: each endpoint keeps a cursor per story (`cursors.py`), moved
only after a 2xx, so every event is delivered at least once, in `seq` order per story,
across restarts. One request in flight per endpoint, a bounded pool overall; a failure
waits with exponential backoff and full jitter, and an endpoint failing for longer than
`LIVEBLOG_WEBHOOK_PAUSE_AFTER` is paused (the desk's webhooks page says so). The process
wakes on new events and scans anyway every few seconds; only one delivers at a time
(`wakeups.py`). Frames are read at delivery time, so a post taken down meanwhile is
delivered as the log now holds it: scrubbed.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from .cursors import Pending, advance, next_event
from .db import Database
from .endpoints import post
from .models import Webhook, WebhookAttempt, WebhookState, utcnow
from .wakeups import leadership, watch_log, watch_redis
from .webhooks import allow_private, record_attempt, sign, unseal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """How the dispatcher paces itself."""

    timeout: float = 10.0  # seconds a partner has to answer
    concurrency: int = 8  # requests in flight at once, over every endpoint
    retry_base: float = 1.0  # first backoff ceiling, in seconds; doubled at each failure
    retry_cap: float = 3600.0  # the longest wait between two attempts
    pause_after: float = 86400.0  # seconds of failing in a row before the endpoint is paused
    scan_seconds: float = 5.0  # look for due endpoints at least this often
    batch: int = 100  # events sent to one endpoint before others get their turn

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read LIVEBLOG_WEBHOOK_* values, keeping the defaults for those not set."""
        names = {
            "timeout": "LIVEBLOG_WEBHOOK_TIMEOUT",
            "concurrency": "LIVEBLOG_WEBHOOK_CONCURRENCY",
            "retry_base": "LIVEBLOG_WEBHOOK_RETRY_BASE",
            "retry_cap": "LIVEBLOG_WEBHOOK_RETRY_CAP",
            "pause_after": "LIVEBLOG_WEBHOOK_PAUSE_AFTER",
        }
        found: dict[str, Any] = {}
        for field, key in names.items():
            if config.get(key) not in (None, ""):
                kind = int if field == "concurrency" else float
                try:
                    value = kind(config[key])
                except ValueError:
                    log.error("%s=%r is not a number: keeping the default", key, config[key])
                    continue
                if value > 0:
                    found[field] = value
        return cls(**found)


def backoff(failures: int, settings: Settings) -> float:
    """Return the wait before the next attempt: full jitter under a doubling ceiling."""
    ceiling = min(settings.retry_cap, settings.retry_base * 2 ** min(failures - 1, 40))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


class Dispatcher:
    """Deliver every endpoint's pending events, one request at a time per endpoint."""

    def __init__(self, db: Database, app_secret: str, settings: Settings | None = None) -> None:
        self.db = db
        self.app_secret = app_secret
        self.settings = settings or Settings()
        self.wake = threading.Event()
        self.news = 0  # counts the times the log was seen to grow (see `notify`)
        self.stopping = threading.Event()
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.settings.concurrency, "webhook")

    def notify(self) -> None:
        """Tell the dispatcher the log has grown: wake it."""
        self.news += 1
        self.wake.set()

    def due(self) -> tuple[list[int], float]:
        """Return the active endpoints due now and the seconds until the next one is."""
        now = utcnow()
        with self.db.read() as session:
            rows = session.execute(
                select(Webhook.id, Webhook.next_attempt_at).where(
                    Webhook.state == WebhookState.ACTIVE
                )
            ).all()
        ready = [hid for hid, at in rows if at is None or at <= now]
        later = [(at - now).total_seconds() for _, at in rows if at is not None and at > now]
        return ready, min([self.settings.scan_seconds, *later])

    def run_once(self) -> float:
        """Start a drain for every due endpoint not already busy; return how long to wait."""
        ready, wait = self.due()
        for hook_id in ready:
            with self._lock:
                if hook_id in self._busy:
                    continue
                self._busy.add(hook_id)
            self._pool.submit(self._drain_safely, hook_id)
        return wait

    def run(self) -> None:
        """Dispatch until `stopping` is set."""
        while not self.stopping.is_set():
            try:
                wait = self.run_once()
            except Exception:
                log.exception("webhook scan failed")
                wait = self.settings.scan_seconds
            self.wake.wait(max(wait, 0.05))
            self.wake.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _drain_safely(self, hook_id: int) -> None:
        news = self.news
        sent = 0
        try:
            sent = self.drain(hook_id)
        except Exception:
            log.exception("webhook %s: delivery failed", hook_id)
        finally:
            with self._lock:
                self._busy.discard(hook_id)
        if sent or self.news != news:  # there may be more, or news came while it was busy
            self.wake.set()

    def drain(self, hook_id: int) -> int:
        """Send the endpoint's pending events in order until done, failed or a batch is sent.

        Return how many were accepted.
        """
        sent = 0
        for _ in range(self.settings.batch):
            if self.stopping.is_set():
                break
            with self.db.read() as session:
                hook = session.get(Webhook, hook_id)
                if hook is None or hook.state is not WebhookState.ACTIVE:
                    break
                pending = next_event(session, hook)
                url, sealed = hook.url, hook.secret
            if pending is None or not self.deliver(hook_id, url, sealed, pending):
                break
            sent += 1
        return sent

    def deliver(self, hook_id: int, url: str, sealed: str, pending: Pending) -> bool:
        """POST one event, log the attempt, move the cursor on a 2xx; tell whether it went."""
        msg_id = f"{pending.slug}:{pending.seq}"
        now = utcnow()
        body = pending.frame.encode()
        try:
            signature = sign(unseal(sealed, self.app_secret), msg_id, now, pending.frame)
        except ValueError as error:
            answer_status, answer_error, took = None, str(error), 0
        else:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "liveblog-webhooks",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            }
            answer = post(
                url,
                body,
                headers,
                timeout=self.settings.timeout,
                allow_private=allow_private(),
            )
            answer_status, answer_error, took = answer.status, answer.error, answer.duration_ms
        ok = answer_status is not None and 200 <= answer_status < 300
        with self.db.write() as session:
            hook = session.get(Webhook, hook_id, with_for_update=not self.db.is_sqlite)
            if hook is None:  # deleted while the request was out
                return False
            record_attempt(
                session,
                WebhookAttempt(
                    webhook_id=hook_id,
                    slug=pending.slug,
                    seq=pending.seq,
                    status=answer_status,
                    error=answer_error,
                    duration_ms=took,
                ),
            )
            if ok:
                advance(session, hook_id, pending)
                hook.failing_since = None
                hook.failures = 0
                hook.next_attempt_at = None
                return hook.state is WebhookState.ACTIVE
            self._failed(hook)
        return False

    def _failed(self, hook: Webhook) -> None:
        now = utcnow()
        hook.failures += 1
        hook.failing_since = hook.failing_since or now
        hook.next_attempt_at = now + timedelta(seconds=backoff(hook.failures, self.settings))
        failing_for = (now - hook.failing_since).total_seconds()
        if hook.state is WebhookState.ACTIVE and failing_for >= self.settings.pause_after:
            hook.state = WebhookState.PAUSED
            hook.paused_at = now
            hook.pause_reason = f"failing since {hook.failing_since.isoformat()}"
            log.warning("webhook %s paused: failing for %d s", hook.id, failing_for)


def main() -> None:
    """Run the dispatcher until SIGTERM (started by `liveblog serve`)."""
    from . import create_app

    app = create_app()
    rt = app.extensions["liveblog"]
    dispatcher = Dispatcher(
        rt.db, app.config["LIVEBLOG_SECRET_KEY"], Settings.from_config(_settings(app.config))
    )

    def stop(_signum: int, _frame: Any) -> None:
        dispatcher.stopping.set()
        dispatcher.wake.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # `serve` reloads its app processes with it
    with leadership(rt.db, dispatcher.stopping) as leader:
        if not leader:
            return
        threading.Thread(target=watch_log, args=(dispatcher,), daemon=True).start()
        broker_url = app.config.get("LIVEBLOG_BROKER_URL", "")
        if broker_url.startswith(("redis://", "rediss://", "unix://")):
            redis_watch = threading.Thread(
                target=watch_redis, args=(dispatcher, broker_url), daemon=True
            )
            redis_watch.start()
        log.info("webhook dispatcher started")
        dispatcher.run()


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    import os

    return {
        key: config.get(key) or os.environ.get(key, "")
        for key in (
            "LIVEBLOG_WEBHOOK_TIMEOUT",
            "LIVEBLOG_WEBHOOK_CONCURRENCY",
            "LIVEBLOG_WEBHOOK_RETRY_BASE",
            "LIVEBLOG_WEBHOOK_RETRY_CAP",
            "LIVEBLOG_WEBHOOK_PAUSE_AFTER",
        )
    }


if __name__ == "__main__":
    main()
