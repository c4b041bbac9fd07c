"""Reach the machine's RabbitMQ and Redis, look inside them and break them; with CI=true a missing one fails the run."""

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

IN_CI = os.environ.get("CI", "").lower() == "true"
# The local PostgreSQL server (trust authentication for the user postgres).
POSTGRES_URL = os.environ.get("E2E_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
POSTGRES_TIMEOUT = 10


def reachable(url: str, timeout: float = 2) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout):
            return True
    except OSError:
        return False


# How a skip for a missing service begins, so that the run's summary can name each one.
UNAVAILABLE_PREFIX = "needs "
SETUP_HINT = "make test-services installs and starts what the suites need"


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip the test for want of `what` (or, with CI=true, fail it), saying why."""
    message = f"{UNAVAILABLE_PREFIX}{what}: {reason}"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true needs it ({SETUP_HINT})", pytrace=False)
    pytest.skip(message)


def require(url: str, what: str):
    """Skip (or, with CI=true, fail) when the service at `url` does not answer."""
    if not reachable(url):
        parsed = urlparse(url)
        unavailable(what, f"not reachable at {parsed.hostname}:{parsed.port}")


def require_program(name: str, what: str):
    """Skip (or, with CI=true, fail) when the program `name` is not installed."""
    if not shutil.which(name):
        unavailable(what, f"{name} is not on PATH")


# ---------------------------------------------------------------------------
# Looking inside RabbitMQ and Redis, and breaking them, for the fault tests.
# Every command here has a timeout.

RABBITMQ_VHOST = "rabbit"
RABBITMQCTL_TIMEOUT = 60


def rabbitmqctl(*args: str, timeout: float = RABBITMQCTL_TIMEOUT) -> str:
    completed = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout, check=True
    )
    return completed.stdout


@dataclass
class QueueDepth:
    ready: int
    unacknowledged: int
    type: str
    arguments: str

    @property
    def total(self) -> int:
        return self.ready + self.unacknowledged


def queue_depth(queue: str) -> QueueDepth | None:
    """Messages waiting and delivered-but-unacknowledged in a queue of vhost rabbit; None if absent."""
    listing = rabbitmqctl(
        "list_queues",
        "-p",
        RABBITMQ_VHOST,
        "--no-table-headers",
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "type",
        "arguments",
    )
    for line in listing.splitlines():
        name, ready, unacknowledged, queue_type, arguments = line.split("\t", 4)
        if name == queue:
            return QueueDepth(int(ready), int(unacknowledged), queue_type, arguments)
    return None


def existing_queue_depth(queue: str) -> QueueDepth:
    """The depth of a queue the test knows exists; fails the test when it does not."""
    depth = queue_depth(queue)
    assert depth is not None, f"queue {queue} exists"
    return depth


def amqp_channel(connection) -> Any:
    """The connection's default channel, with the AMQP methods kombu's type stubs leave out."""
    return connection.default_channel


def declare_queue(broker_url: str, queue: str):
    """Declare the queue as Celery does (durable, direct exchange of its name) so it can be watched."""
    from kombu import Connection, Exchange, Queue

    with Connection(broker_url, connect_timeout=5) as connection:
        Queue(queue, Exchange(queue, type="direct"), routing_key=queue)(amqp_channel(connection)).declare()


def delete_queue(broker_url: str, queue: str):
    """Delete a queue a test or benchmark declared, so that runs leave none behind."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        amqp_channel(connection).queue_delete(queue)


def publish_raw(broker_url: str, queue: str, body: bytes, content_type: str, headers: dict):
    """Put a message straight into the queue, the way any client of the broker could."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        amqp_channel(connection).basic_publish(
            amqp_channel(connection).prepare_message(
                body,
                content_type=content_type,
                content_encoding="binary" if content_type.endswith("serialize") else "utf-8",
                headers=headers,
                properties={"delivery_mode": 2},
            ),
            exchange="",
            routing_key=queue,
        )


def rabbitmq_running() -> bool:
    completed = subprocess.run(
        ["rabbitmq-diagnostics", "-q", "check_running"], capture_output=True, timeout=RABBITMQCTL_TIMEOUT
    )
    return completed.returncode == 0


@contextmanager
def rabbitmq_stopped(start_timeout: float = 60):
    """Stop the local RabbitMQ application for the block; it is started again whatever happens."""
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        deadline = time.monotonic() + start_timeout
        while not rabbitmq_running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"RabbitMQ not running again within {start_timeout} s")
            time.sleep(0.5)


def stored_result(backend_url: str, task_id: str) -> dict | None:
    """The result Celery's Redis backend stored for a task, or None when it has none."""
    import json

    import redis

    client = redis.Redis.from_url(backend_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        meta = client.get(f"celery-task-meta-{task_id}")
    finally:
        client.close()
    return json.loads(meta) if meta else None


# ---------------------------------------------------------------------------
# Databases of their own on the local PostgreSQL server, for stacks on PostgreSQL.


def create_database(name: str) -> str:
    """Create an empty database on the local PostgreSQL server; its URL."""
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True, connect_timeout=POSTGRES_TIMEOUT) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{POSTGRES_URL}/{name}"


def drop_database(name: str):
    """Drop the database, ending the connections still open to it."""
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True, connect_timeout=POSTGRES_TIMEOUT) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
