"""Who a request comes from: the client's address, as the connection or a trusted proxy tells it.

The rate limit and the admin's login throttle both count by this address.
"""

import functools
import ipaddress
import logging
import socket
import time

from django.conf import settings
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Seconds a proxy's host name stays resolved: a proxy restarted with a new address is
# trusted again this long after, and no request waits for a lookup more often.
PROXY_NAMES_TTL = 30


def submission_retry_after(request) -> int | None:
    """Count a submission of the request's client against SUBMISSIONS_RATE: the seconds until it
    may submit again when it is over the rate, else None.

    django-ratelimit counts in the cache that every web process shares, in fixed
    windows of the rate's period, per client address (IPv6 clients per /64, IPv4 ones per address).
    """
    if settings.SUBMISSIONS_RATE == "off":
        return None
    usage = get_usage(request, group="submissions", key="ip", rate=settings.SUBMISSIONS_RATE, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)


def client_address(request) -> str:
    """The address of the client a request comes from, in its canonical form.

    The connection's address, unless that is a proxy of TRUSTED_PROXIES: then
    the last address of X-Forwarded-For that is not such a proxy. A client
    that writes its own X-Forwarded-For can only add addresses before the
    ones the proxies append, so it cannot pass for another client.

    The rate limit masks an address with a colon as IPv6 (per /64), so an IPv4
    client seen through an IPv6 socket (::ffff:1.2.3.4) is given as 1.2.3.4:
    else every IPv4 client of a server bound to [::] would count as one.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    connection = parsed_address(remote)
    if connection is None:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or not settings.TRUSTED_PROXIES or not is_trusted_proxy(connection):
        return str(connection)
    for hop in reversed(forwarded.split(",")):
        parsed = parsed_address(without_port(hop.strip()))
        if parsed is None:
            return str(connection)
        if not is_trusted_proxy(parsed):
            return str(parsed)
    return str(connection)


def is_trusted_proxy(address: IPAddress | None) -> bool:
    return address is not None and any(address in network for network in trusted_networks())


def without_port(hop: str) -> str:
    """A forwarded hop's address without the port some proxies add: 1.2.3.4:5678, [2001:db8::1]:443."""
    if hop.startswith("["):
        address, bracket, _ = hop[1:].partition("]")
        return address if bracket else hop
    address, colon, port = hop.partition(":")
    # One colon only: a bare IPv6 address has several.
    return address if colon and port.isdigit() else hop


def parsed_address(address: str) -> IPAddress | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket.
    mapped = getattr(parsed, "ipv4_mapped", None)
    return mapped or parsed


def trusted_networks() -> list[IPNetwork]:
    """TRUSTED_PROXIES as networks: addresses, networks (10.0.0.0/8) and host names, resolved."""
    return networks_of(tuple(settings.TRUSTED_PROXIES), int(time.monotonic() // PROXY_NAMES_TTL))


@functools.lru_cache(maxsize=4)
def networks_of(entries: tuple[str, ...], period: int) -> list[IPNetwork]:
    """The networks `entries` stand for; `period` changes every PROXY_NAMES_TTL seconds, so
    that host names are looked up again."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(canonical_network(ipaddress.ip_network(entry, strict=False)))
            continue
        except ValueError:
            pass
        try:
            _, _, addresses = socket.gethostbyname_ex(entry)
        except OSError as exc:
            logger.warning("Trusted proxy %r does not resolve, not trusted for now: %s", entry, exc)
            continue
        networks.extend(ipaddress.ip_network(address) for address in addresses)
    return networks


def canonical_network(network: IPNetwork) -> IPNetwork:
    """An IPv4-mapped network (::ffff:10.0.0.0/104) as the IPv4 one it maps (10.0.0.0/8): client
    addresses are compared in their canonical form (parsed_address), where such an entry would
    otherwise match none."""
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
