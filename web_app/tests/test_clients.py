"""The client address behind trusted proxies, and the submission rate limit per address."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from submissions import clients

REQUESTS = RequestFactory()


def request_from(remote: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return REQUESTS.post("/", REMOTE_ADDR=remote, headers=headers)


@pytest.mark.parametrize(
    "trusted, remote, forwarded, client",
    [
        # No trusted proxy: the header is the client's own word, and ignored.
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # From a trusted proxy: the address it appended, not what the client wrote before it.
        (["10.0.0.2"], "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        (["10.0.0.2"], "10.0.0.2", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        # A chain of trusted proxies (a network of them) is walked from the right.
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        # From anyone else the header changes nothing.
        (["10.0.0.2"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # A trusted proxy that forwards rubbish: the proxy's own address.
        (["10.0.0.2"], "10.0.0.2", "not-an-address", "10.0.0.2"),
        (["10.0.0.2"], "10.0.0.2", "", "10.0.0.2"),
        # IPv6, and an IPv4 proxy seen through an IPv6 socket.
        (["fd00::2"], "fd00::2", "2001:db8::1", "2001:db8::1"),
        (["10.0.0.2"], "::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # A hop with the port the proxy saw it from is that address.
        (["10.0.0.2"], "10.0.0.2", "198.51.100.1:5678", "198.51.100.1"),
        (["10.0.0.2"], "10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        (["10.0.0.2"], "10.0.0.2", "[2001:db8::1]", "2001:db8::1"),
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.1:5678, 10.0.0.7:80", "198.51.100.1"),
        # Each address in its one canonical form, whichever way it was written.
        ([], "::ffff:203.0.113.9", None, "203.0.113.9"),
        (["10.0.0.2"], "10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        (["10.0.0.2"], "10.0.0.2", "2001:DB8:0::1", "2001:db8::1"),
        # A proxy (or a network of them) written IPv4-mapped is its IPv4 address.
        (["::ffff:10.0.0.2"], "10.0.0.2", "198.51.100.1", "198.51.100.1"),
        (["::ffff:10.0.0.0/104"], "::ffff:10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
    ],
)
def test_the_client_is_the_last_address_no_trusted_proxy_wrote(settings, trusted, remote, forwarded, client):
    settings.TRUSTED_PROXIES = trusted

    assert clients.client_address(request_from(remote, forwarded)) == client


def test_a_proxy_named_by_host_name_is_trusted_at_its_address(settings):
    settings.TRUSTED_PROXIES = ["localhost"]

    assert clients.client_address(request_from("127.0.0.1", "198.51.100.1")) == "198.51.100.1"
    assert clients.client_address(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_a_proxy_name_that_does_not_resolve_trusts_nobody(settings):
    settings.TRUSTED_PROXIES = ["no-such-proxy.invalid"]

    assert clients.client_address(request_from("127.0.0.1", "198.51.100.1")) == "127.0.0.1"


@pytest.fixture
def rate(settings):
    cache.clear()
    settings.SUBMISSIONS_RATE = "3/m"
    yield
    cache.clear()


def test_a_client_over_the_rate_is_told_when_to_come_back_and_others_are_not(rate):
    answers = [clients.submission_retry_after(request_from("203.0.113.9")) for _ in range(5)]

    assert answers[:3] == [None, None, None]
    assert all(answer is not None and 1 <= answer <= 60 for answer in answers[3:])
    assert clients.submission_retry_after(request_from("203.0.113.10")) is None


def test_the_count_is_per_client_behind_the_proxy(rate, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    for _ in range(3):
        clients.submission_retry_after(request_from("10.0.0.2", "198.51.100.1"))

    assert clients.submission_retry_after(request_from("10.0.0.2", "spoofed, 198.51.100.1")) is not None
    assert clients.submission_retry_after(request_from("10.0.0.2", "198.51.100.2")) is None


def test_ipv4_clients_seen_through_an_ipv6_socket_are_counted_apart(rate):
    """gunicorn bound to [::] gives IPv4 clients as ::ffff:a.b.c.d, which must not share the IPv6 /64 count."""
    for _ in range(3):
        clients.submission_retry_after(request_from("::ffff:203.0.113.9"))

    assert clients.submission_retry_after(request_from("::ffff:203.0.113.9")) is not None
    assert clients.submission_retry_after(request_from("::ffff:203.0.113.10")) is None


def test_clients_behind_a_proxy_that_adds_ports_are_counted_apart(rate, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    for _ in range(3):
        clients.submission_retry_after(request_from("10.0.0.2", "198.51.100.1:5678"))

    assert clients.submission_retry_after(request_from("10.0.0.2", "198.51.100.1:6789")) is not None
    assert clients.submission_retry_after(request_from("10.0.0.2", "198.51.100.2:5678")) is None


def test_off_counts_nothing(settings):
    settings.SUBMISSIONS_RATE = "off"

    assert all(clients.submission_retry_after(request_from("203.0.113.9")) is None for _ in range(100))
