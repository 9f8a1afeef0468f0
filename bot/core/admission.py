"""What is being answered right now, in this process: per-user reservations that rate limits count
with the finished requests in the audit log, and the global cap on answers generated at once.

Rate limits read the audit log, which holds a request only once it is finished. A burst of requests
that all start before the first one finishes would each see the same count and all pass. So a
request reserves its place *before* the audit log is read, and counts every earlier request of the
same person that is still running; it gives the place back only after its own audit record is
written. In between, a request may be counted twice (running and recorded): stricter, never looser.

Per process: with several replicas, a burst spread over them can pass up to one limit's worth on
each until the first records land. No I/O, no awaits: asyncio runs each method to the end.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = ["Admission", "Reservation", "Slot"]


@dataclass(eq=False)
class Reservation:
    """One request's place in its person's queue."""

    user: str
    ticket: int
    #: Requests of the same person that were running when this one reserved.
    ahead: int
    released: bool = field(default=False)


@dataclass(eq=False)
class Slot:
    """Permission to generate one answer now."""

    released: bool = field(default=False)


class Admission:
    """Per-user reservations and the global cap; one per process, shared by every platform."""

    def __init__(self, max_concurrent: int = 32) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self._tickets = itertools.count(1)
        self._running: dict[str, set[int]] = {}
        self._answering = 0

    def reserve(self, user: str) -> Reservation:
        """Take a place for ``user`` (an email); call before reading the audit log's count."""
        key = user.strip().lower()
        running = self._running.setdefault(key, set())
        reservation = Reservation(key, next(self._tickets), len(running))
        running.add(reservation.ticket)
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give the place back, once the request's audit record is written (or it ended without one).
        Releasing twice is harmless."""
        if reservation.released:
            return
        reservation.released = True
        running = self._running.get(reservation.user)
        if running is None:
            return
        running.discard(reservation.ticket)
        if not running:
            del self._running[reservation.user]

    def running(self, user: str) -> int:
        """Requests of ``user`` running now."""
        return len(self._running.get(user.strip().lower(), ()))

    def try_answer(self) -> Slot | None:
        """A slot to generate an answer, or None when ``max_concurrent`` answers are under way."""
        if self._answering >= self.max_concurrent:
            return None
        self._answering += 1
        return Slot()

    def done(self, slot: Slot) -> None:
        """Give the slot back; releasing twice is harmless."""
        if not slot.released:
            slot.released = True
            self._answering -= 1

    @property
    def answering(self) -> int:
        """Answers being generated now."""
        return self._answering
