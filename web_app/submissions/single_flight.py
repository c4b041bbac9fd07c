"""A check that many callers want at once, run once: its answer reused while it is fresh."""

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .health import PartState


@dataclass(frozen=True)
class HealthReport:
    """Every part's state, when it was checked, and when this process came to know it (time.monotonic())."""

    parts: "dict[str, PartState]"
    checked_at: float = field(default_factory=time.monotonic)
    known_at: float = field(default_factory=time.monotonic)

    @property
    def healthy(self) -> bool:
        return all(part.up for part in self.parts.values())

    def age(self) -> float:
        return time.monotonic() - self.checked_at


class SingleFlight:
    """At most one health check in flight in this process; the others reuse its answer.

    `check` returns the parts' states, or a whole HealthReport when it knows better
    when they were checked (a state another process checked).
    """

    def __init__(self, check):
        self.check = check
        self.last: HealthReport | None = None
        self._lock = threading.Lock()
        self._in_flight: threading.Event | None = None

    def _take_flight(self) -> threading.Event | None:
        """The event to set when this caller's check is done; None when another check runs."""
        with self._lock:
            if self._in_flight is not None:
                return None
            self._in_flight = threading.Event()
            return self._in_flight

    def _fly(self, done: threading.Event) -> None:
        try:
            answer = self.check()
            self.last = answer if isinstance(answer, HealthReport) else HealthReport(answer)
        finally:
            with self._lock:
                self._in_flight = None
            done.set()

    def report(self, max_age: float, wait: float) -> HealthReport | None:
        """A report at most max_age old: the last one, one checked now, or the one in flight (waiting `wait` s).

        When the check in flight takes longer than `wait`, the last report, older, or None before the first.
        """
        last = self.last
        if last is not None and last.age() <= max_age:
            return last
        done = self._take_flight()
        if done is not None:
            self._fly(done)
            return self.last
        with self._lock:
            in_flight = self._in_flight
        if in_flight is not None:
            in_flight.wait(wait)
        return self.last

    def refresh_in_background(self, max_age: float, wait: float = 0) -> None:
        """Check again in one background thread when the last report came more than max_age ago, unless a
        check runs; then wait for that check `wait` seconds at most."""
        last = self.last
        if last is not None and time.monotonic() - last.known_at <= max_age:
            return
        done = self._take_flight()
        if done is not None:
            threading.Thread(target=self._fly, args=(done,), name="health-check", daemon=True).start()
        else:
            with self._lock:
                done = self._in_flight
        if wait and done is not None:
            done.wait(wait)
