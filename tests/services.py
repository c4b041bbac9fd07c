"""Reach the machine's RabbitMQ and Redis; with CI=true a missing one fails the run."""
import os
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def reachable(url: str, timeout: float = 2) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            return True
    except OSError:
        return False


def require(url: str, what: str):
    """Skip (or, with CI=true, fail) when the service at `url` does not answer."""
    if reachable(url):
        return
    message = f"{what} is not reachable at {urlparse(url).netloc}"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true needs the real services", pytrace=False)
    pytest.skip(message)
