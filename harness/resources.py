"""What running processes hold: open files, TCP connections to a port, memory; and Redis's clients.

The leak tests and the soak read these, so that a resource a request takes and
never gives back shows up as a number that grows with the submissions.
"""

import contextlib
from dataclasses import dataclass
from urllib.parse import urlparse

import psutil
import redis


@dataclass(frozen=True)
class Holdings:
    """What a set of processes holds at one moment, summed over them."""

    open_files: int
    redis_connections: int
    rss_bytes: int


def gunicorn_workers(master_pid: int) -> list[psutil.Process]:
    """The worker processes of a gunicorn master (the web processes that serve requests)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(master_pid).children()
    return []


def holdings(processes: list[psutil.Process], redis_port: int) -> Holdings:
    """Open file descriptors, established TCP connections to `redis_port`, and RSS of `processes`."""
    open_files = redis_connections = rss = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            open_files += process.num_fds()
            rss += process.memory_info().rss
            redis_connections += sum(
                1
                for connection in process.net_connections(kind="tcp")
                if connection.raddr
                and connection.raddr.port == redis_port
                and connection.status == psutil.CONN_ESTABLISHED
            )
    return Holdings(open_files=open_files, redis_connections=redis_connections, rss_bytes=rss)


def redis_port(url: str) -> int:
    return urlparse(url).port or 6379


def redis_clients(url: str) -> int:
    """Redis's connected_clients, server-wide (this query's own connection included)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return int(client.info("clients")["connected_clients"])
    finally:
        client.close()
