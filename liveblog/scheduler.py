"""The scheduler: publishes scheduled drafts when their time comes.

Imports nothing from Flask. Its only state is the database (`drafts.state = 'scheduled'`,
`publish_at`), so it survives restarts: a draft that fell due while the server was down is
published at the next start. `liveblog serve` runs one, as a thread of the write process
(`appserver.py --scheduler`); each draft is claimed in its post's own transaction
(`DraftService.publish_due`), so a second scheduler, or one killed half-way, never
publishes a draft twice.
"""

from __future__ import annotations

import logging
import threading

from .drafts import DraftService

log = logging.getLogger(__name__)
#: How often it looks for due drafts (seconds): one indexed query each time.
INTERVAL = 1.0


class Scheduler:
    """A daemon thread that publishes due drafts every `interval` seconds."""

    def __init__(self, drafts: DraftService, interval: float = INTERVAL) -> None:
        self.drafts = drafts
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liveblog-scheduler", daemon=True)

    def start(self) -> Scheduler:
        """Start looking for due drafts."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join(10)

    def run_once(self) -> int:
        """Publish every draft that is due now; return how many."""
        total = 0
        while True:
            published = self.drafts.publish_due()
            total += published
            if published == 0:
                return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                count = self.run_once()
                if count:
                    log.info("published %d scheduled draft(s)", count)
            except Exception:  # a database outage: try again on the next round
                log.exception("the scheduler could not publish due drafts")
            self._stop.wait(self.interval)
