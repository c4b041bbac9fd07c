"""Closed-loop load: each client is a browser that GETs the form, POSTs it, follows the redirect."""

import itertools
import threading
import time
from dataclasses import dataclass, field

import requests

from harness.processes import HttpClient, post_duration

# Bounds every request; the seed's page never answers without its worker.
REQUEST_TIMEOUT = 60

submission_numbers = itertools.count()


@dataclass
class Sample:
    ended: float
    seconds: float  # the whole cycle: GET form, POST, GET the page it redirects to
    post_seconds: float  # from the POST to the result page: what the user waits for
    expected: str
    ok: bool
    page_url: str


@dataclass
class Load:
    """Closed-loop browsers against base_url until stopped; keeps one Sample per submission."""

    base_url: str
    clients: int
    samples: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]

    def _client(self):
        browser = HttpClient(self.base_url)
        while not self._stop.is_set():
            first, second = f"s{next(submission_numbers)}", "dogs"
            expected = f"{first} es {second}"
            started = time.monotonic()
            try:
                page = browser.submit(first, second, timeout=REQUEST_TIMEOUT)
            except requests.RequestException as exc:
                self.errors.append(repr(exc))
                continue
            ended = time.monotonic()
            post_seconds = post_duration(page)
            ok = page.status_code == 200 and expected in page.text
            self.samples.append(Sample(ended, ended - started, post_seconds, expected, ok, page.url))

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.ended <= end]
