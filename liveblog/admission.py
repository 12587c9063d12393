"""Admission of WebSocket readers: a cap on concurrent readers per client address.

Imports nothing from Flask and does no I/O. One `AddressSlots` per server process counts
the open live connections of each client address; the live view takes a slot before the
upgrade and gives it back when the connection ends, so a refusal costs no handshake.
"""

from __future__ import annotations

import threading


class AddressSlots:
    """Count open connections per address and refuse one past `limit` (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        """Take a slot for the address; return False when it already holds `limit`."""
        with self._lock:
            held = self._open.get(address, 0)
            if self.limit and held >= self.limit:
                return False
            self._open[address] = held + 1
            return True

    def give_back(self, address: str) -> None:
        """Return a slot taken for the address."""
        with self._lock:
            held = self._open.get(address, 0) - 1
            if held > 0:
                self._open[address] = held
            else:
                self._open.pop(address, None)

    def held(self, address: str) -> int:
        """Return how many slots the address holds now."""
        with self._lock:
            return self._open.get(address, 0)

    def addresses(self) -> int:
        """Return how many addresses hold a slot."""
        with self._lock:
            return len(self._open)
