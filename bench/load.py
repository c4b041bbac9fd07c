"""Closed-loop load: each client is a browser that GETs the form, POSTs it, follows the redirect."""

import itertools
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from harness.processes import REPO_DIR, HttpClient, post_duration

# Bounds every request; the seed's page never answers without its worker.
REQUEST_TIMEOUT = 60

submission_numbers = itertools.count()


@dataclass
class Sample:
    ended: float
    # When the POST was answered: the submission's moment. The cycle's end can lag it by a whole
    # queue (the seed's page after the redirect waits behind every POST its four processes hold).
    post_ended: float
    seconds: float  # the whole cycle: GET form, POST, GET the page it redirects to
    post_seconds: float  # from the POST to the page it leads to: what the user waits for
    expected: str
    ok: bool
    page_url: str
    browser: int  # which of the load's browsers made it


def browser_medians(samples: list[Sample]) -> list[float]:
    """Each browser's median cycle among `samples`, in seconds: how evenly the web serves them."""
    cycles: dict[int, list[float]] = {}
    for sample in samples:
        cycles.setdefault(sample.browser, []).append(sample.seconds)
    return [statistics.median(seconds) for seconds in cycles.values()]


def shows_result(page: requests.Response, expected: str) -> bool:
    """The project's check: the page the POST led to shows the result."""
    return page.status_code == 200 and expected in page.text


@dataclass
class Load:
    """Closed-loop browsers against base_url until stopped; keeps one Sample per submission.

    `fields` names the form's two inputs; `answered(page, expected)` says whether
    the page a POST led to is the answer the web app promises.
    """

    base_url: str
    clients: int
    fields: tuple[str, str] = ("first", "second")
    answered: Callable[[requests.Response, str], bool] = shows_result
    samples: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(number,), daemon=True) for number in range(self.clients)
        ]
        self._landed = 0
        self._landed_lock = threading.Lock()

    def _client(self, number: int):
        browser = HttpClient(self.base_url)
        # The visitor lands on the form page first, as a browser does before it submits.
        try:
            browser.get("/", timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            self.errors.append(repr(exc))
        with self._landed_lock:
            self._landed += 1
        while not self._stop.is_set():
            first, second = f"s{next(submission_numbers)}", "dogs"
            expected = f"{first} es {second}"
            started = time.monotonic()
            try:
                page = browser.submit(first, second, fields=self.fields, timeout=REQUEST_TIMEOUT)
            except requests.RequestException as exc:
                self.errors.append(repr(exc))
                continue
            ended = time.monotonic()
            post_ended = ended - page.elapsed.total_seconds() if page.history else ended
            post_seconds = post_duration(page)
            ok = self.answered(page, expected)
            self.samples.append(
                Sample(ended, post_ended, ended - started, post_seconds, expected, ok, page.url, number)
            )

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def wait_until_landed(self, timeout: float) -> int:
        """Wait until every client has had its first page, `timeout` seconds at most; how many have.

        Hundreds of browsers that connect in the same second queue for the web
        app's accept(); the load is measured once they are all in.
        """
        deadline = time.monotonic() + timeout
        while self._landed < self.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._landed

    def stop(self):
        self._stop.set()
        deadline = time.monotonic() + REQUEST_TIMEOUT + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def between(self, start: float, end: float) -> list[Sample]:
        """The submissions whose POST was answered between `start` and `end`."""
        return [s for s in self.samples if start <= s.post_ended <= end]


class FormProbe:
    """A visitor who only opens the form page, again and again, for `seconds`, while a load runs.

    It runs in a process of its own (bench/form_probe.py), so that the load's
    own threads cannot slow it. Its latencies say whether the waiting
    submissions cost everybody else a slot.
    """

    def __init__(self, base_url: str, seconds: float):
        self.base_url = base_url
        self.seconds = seconds
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._process: subprocess.Popen | None = None

    def start(self) -> "FormProbe":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.form_probe", self.base_url, str(self.seconds)],
            cwd=REPO_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def stop(self):
        """Wait for its last GET, which REQUEST_TIMEOUT bounds, and read what it saw."""
        assert self._process is not None, "the probe was started"
        try:
            output, _ = self._process.communicate(timeout=self.seconds + REQUEST_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            output, _ = self._process.communicate()
        outcome = json.loads(output or '{"latencies": [], "failures": ["the probe was killed"]}')
        self.latencies, self.failures = outcome["latencies"], outcome["failures"]
