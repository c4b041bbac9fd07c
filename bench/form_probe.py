"""A visitor who only opens the form page, again and again: bench.load.FormProbe's process.

    python -m bench.form_probe BASE_URL SECONDS

GETs BASE_URL/ one after the other for SECONDS, then prints one JSON line:
the latency of each GET, and what went wrong with those that failed.
"""

import json
import sys
import time

import requests

from bench.load import REQUEST_TIMEOUT
from harness.processes import HttpClient


def time_form_page(base_url: str, seconds: float, timeout: float) -> tuple[list[float], list[str]]:
    """GET base_url/ one after the other for `seconds`, each within `timeout`: the latency of each
    answered GET, and what went wrong with the others."""
    visitor = HttpClient(base_url)
    latencies, failures = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            visitor.get("/", timeout=timeout).raise_for_status()
            latencies.append(time.monotonic() - started)
        except requests.RequestException as exc:
            failures.append(repr(exc))
    return latencies, failures


def main(base_url: str, seconds: float) -> None:
    latencies, failures = time_form_page(base_url, seconds, REQUEST_TIMEOUT)
    print(json.dumps({"latencies": latencies, "failures": failures}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
