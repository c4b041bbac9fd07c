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


def main(base_url: str, seconds: float) -> None:
    visitor = HttpClient(base_url)
    latencies, failures = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            visitor.get("/", timeout=REQUEST_TIMEOUT).raise_for_status()
            latencies.append(time.monotonic() - started)
        except requests.RequestException as exc:
            failures.append(repr(exc))
    print(json.dumps({"latencies": latencies, "failures": failures}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
