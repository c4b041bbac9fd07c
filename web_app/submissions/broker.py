"""Connections to the broker that never wait for long, and broadcasts on them.

The submissions publish through Celery's pool of connections; what checks the
broker or asks the workers uses connections of its own, with bounded waits, so
that it can neither starve the submissions of a connection nor hang on one.
"""

import contextlib
from contextlib import contextmanager
from typing import Any

from celery.app.control import Control
from django.conf import settings
from kombu import Producer
from kombu.pidbox import Mailbox
from kombu.utils.url import maybe_sanitize_url

from web_app.celery import app


def health_connection():
    """A broker connection of the check's own, outside Celery's pool, with bounded socket waits.

    The submissions publish through Celery's pool of connections; a check that held
    one of them while waiting for another could starve them (or itself).
    """
    socket_timeout = settings.HEALTH_TIMEOUT + 1
    return app.connection_for_write(
        connect_timeout=settings.HEALTH_TIMEOUT,
        transport_options={"read_timeout": socket_timeout, "write_timeout": socket_timeout},
    )


class BoundedRetryProducer(Producer):
    """A producer whose publish retries once and waits for the broker's confirm HEALTH_TIMEOUT at most.

    The remote control publishes with retry=True and kombu's default policy, which retries for ever.
    """

    def publish(self, body: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["retry_policy"] = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
        kwargs.setdefault("timeout", settings.HEALTH_TIMEOUT)
        return super().publish(body, *args, **kwargs)


class OwnConnectionMailbox(Mailbox):
    """Celery's broadcast mailbox, publishing on the broadcast's own connection, not a pooled producer."""

    def __init__(self, *args, producer_pool=None, **kwargs):
        super().__init__(*args, **kwargs)

    @contextmanager
    def producer_or_acquire(self, producer=None, channel=None):
        yield producer or BoundedRetryProducer(channel, auto_declare=False)


class HealthControl(Control):
    """Celery's remote control (the same exchange and serializer) for the health check's broadcasts."""

    Mailbox = OwnConnectionMailbox


def ready_messages_and_consumers(connection, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of the queue; (0, 0) when it does not exist."""
    channel = connection.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=queue, passive=True)
    except connection.channel_errors:
        # AMQP answers a passive declare of a missing queue with 404, closing the channel.
        return 0, 0
    finally:
        # The broker's 404 answer may have closed it already.
        with contextlib.suppress(*connection.channel_errors, *connection.connection_errors):
            channel.close()
    return messages, consumers


def masked_url(url: str) -> str:
    """A broker or result backend URL for the log, every password masked, in each URL of a `;`-separated
    list too (the sentinels'): kombu's maybe_sanitize_url masks only the first."""
    return ";".join(maybe_sanitize_url(part) for part in url.split(";"))
