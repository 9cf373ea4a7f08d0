"""How many webhook bodies are read at once before their signature is checked.

GitHub signs the whole body (``X-Hub-Signature-256``), so no signature can be checked
before the body is read: a sender without the secret can make the service hold a body
while it arrives. What such a sender can cost is bounded three ways (docs/webhooks.md):

1. everything the headers decide is refused before a byte of the body is read, and the
   connection is closed rather than drained: a missing or malformed signature header, a
   declared size over the 25 MB GitHub caps deliveries at;
2. a body is read up to that limit at most, and within the body timeout;
3. at most ``limit`` bodies are read at once before their signature is checked (this
   module). Past it, the answer is a 503 with ``Retry-After`` at once, and the
   connection is closed with the body unread.

So the memory unverified bodies take is at most ``limit`` times 25 MB, whatever arrives. A
delivery leaves the count as soon as its signature matches, before its JSON is decoded
or the database is touched, so verified work never waits on unverified bytes. GitHub does
not retry a 503 by itself; the delivery sweeper (github/deliveries.py) has it redeliver
what failed, so a delivery refused while the service is busy is delayed, not lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client import Gauge


class TooManyUnverifiedBodies(Exception):
    """``limit`` bodies are already being read before their signature is checked."""


class UnverifiedBodies:
    """The count of webhook bodies being read and not yet verified, at most ``limit``.

    A plain counter, not a semaphore: nothing ever waits for a place (a waiting request
    would hold its connection and its unread body just the same), it is refused.
    """

    def __init__(self, limit: int, gauge: Gauge | None = None) -> None:
        if limit < 1:
            raise ValueError(f"the limit of unverified bodies must be at least 1, not {limit}")
        self.limit = limit
        self.reading = 0
        self._gauge = gauge

    @contextlib.contextmanager
    def place(self) -> Iterator[None]:
        """Hold one place while a body is read and its signature checked, or raise
        `TooManyUnverifiedBodies` at once when none is free."""
        if self.reading >= self.limit:
            raise TooManyUnverifiedBodies(
                f"{self.reading} webhook bodies are being read before their signature is checked"
            )
        self._count(+1)
        try:
            yield
        finally:
            self._count(-1)

    def _count(self, change: int) -> None:
        self.reading += change
        if self._gauge is not None:
            self._gauge.set(self.reading)
