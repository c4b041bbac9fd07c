"""Is each part the web app depends on up: the broker, the result backend, the workers?

Every check is bounded by a short timeout and reports a fault instead of
raising it: a health check that fails with the thing it checks is no use.
"""
import logging
import threading
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.cache import cache

from web_app.celery import app

logger = logging.getLogger(__name__)

WORKERS_CACHE_KEY = "health:workers"
WORKERS_FRESH_KEY = "health:workers:fresh"
WORKERS_REFRESHING_KEY = "health:workers:refreshing"
# The result backend key read to prove the backend answers; no task has this id.
BACKEND_PROBE_TASK_ID = "healthz-probe"


@dataclass
class PartState:
    """One part's state, as /healthz reports it."""

    up: bool
    detail: str
    workers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def check_broker() -> PartState:
    """Open a connection to the broker, trying once, within the broker connection timeout."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=settings.HEALTH_TIMEOUT)
    except Exception as exc:  # any failure to connect means the broker is down for us
        logger.warning("Health: broker unavailable: %s", exc)
        return PartState(up=False, detail=describe(exc))
    return PartState(up=True, detail="connected")


def check_result_backend() -> PartState:
    """Read one key from the result backend (a Redis GET, or a file read on the embedded one)."""
    backend = app.backend
    try:
        backend.get(backend.get_key_for_task(BACKEND_PROBE_TASK_ID))
    except Exception as exc:  # any failure to read means results cannot be fetched
        logger.warning("Health: result backend unavailable: %s", exc)
        return PartState(up=False, detail=describe(exc))
    return PartState(up=True, detail="reachable")


def check_workers(broker: PartState | None = None) -> PartState:
    """Ask every worker which queues it consumes; up when one consumes ours.

    Other projects' workers may share the broker, so a worker counts only when
    it consumes this app's queue. Without a broker no worker can answer, and
    the broadcast is not even tried.
    """
    broker = broker or check_broker()
    if not broker.up:
        return PartState(up=False, detail="the broker is unavailable, so no worker can answer")
    queue = app.conf.task_default_queue
    try:
        replies = app.control.inspect(timeout=settings.HEALTH_TIMEOUT).active_queues() or {}
    except Exception as exc:  # a broadcast that fails reaches no worker
        logger.warning("Health: worker broadcast failed: %s", exc)
        return PartState(up=False, detail=describe(exc))
    names = sorted(
        name for name, queues in replies.items() if any(q.get("name") == queue for q in queues or [])
    )
    if not names:
        return PartState(up=False, detail=f"no worker answered for queue {queue!r}")
    return PartState(up=True, detail=f"{len(names)} answering for queue {queue!r}", workers=names)


def cached_worker_state() -> PartState | None:
    """The workers' last known state, None before the first answer; pages never wait for a ping.

    A state older than HEALTH_CACHE_SECONDS is still returned, while one
    background thread asks the workers again.
    """
    state = cache.get(WORKERS_CACHE_KEY)
    if cache.get(WORKERS_FRESH_KEY) is None and cache.add(
        WORKERS_REFRESHING_KEY, True, settings.HEALTH_TIMEOUT * 10
    ):
        threading.Thread(target=refresh_worker_state, name="worker-health", daemon=True).start()
    return state


def refresh_worker_state() -> PartState:
    """Ask the workers now and keep the answer for the pages."""
    try:
        state = check_workers()
        remember_worker_state(state)
    finally:
        cache.delete(WORKERS_REFRESHING_KEY)
    return state


def remember_worker_state(state: PartState) -> None:
    # The state outlives its freshness so that a page shows the last one while it is asked again.
    cache.set(WORKERS_CACHE_KEY, state, settings.HEALTH_CACHE_SECONDS * 10)
    cache.set(WORKERS_FRESH_KEY, True, settings.HEALTH_CACHE_SECONDS)


def check_all() -> tuple[bool, dict]:
    """Check the three parts now; True when all are up, with each part's state."""
    broker = check_broker()
    workers = check_workers(broker)
    remember_worker_state(workers)
    parts = {"broker": broker, "result_backend": check_result_backend(), "workers": workers}
    healthy = all(part.up for part in parts.values())
    return healthy, {name: part.as_dict() for name, part in parts.items()}
