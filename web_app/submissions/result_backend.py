"""The result backend as both of this project's backends are (Redis, files): a key-value store, and
the errors that say it cannot be reached."""

from typing import cast

from celery.backends.base import KeyValueStoreBackend
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from web_app.celery import app

# What a stopped or unreachable result backend raises.
BACKEND_ERRORS = (RedisError, OSError, OperationalError)


def result_store() -> KeyValueStoreBackend:
    """The result backend, as the key-value store both of this project's backends are (Redis, files)."""
    return cast(KeyValueStoreBackend, app.backend)


def is_backend_unreachable(exc: BaseException) -> bool:
    """True for a backend error, also as the RuntimeError Celery's Redis result channel
    raises from one when its bounded reconnects give up (a later call reconnects)."""
    return isinstance(exc, BACKEND_ERRORS) or (
        isinstance(exc, RuntimeError) and isinstance(exc.__cause__, BACKEND_ERRORS)
    )
