"""Is each part the web app depends on up: the broker, the result backend, the workers, the results file?

Every check is bounded by a short timeout and reports a fault instead of
raising it: a health check that fails with the thing it checks is no use.
Health endpoints are called often and at once (load balancers, orchestrators,
uptime monitors), so each process runs at most one check at a time and serves
its answer to every caller for HEALTH_CACHE_SECONDS.

What the pages say about the workers is one answer for every web process: the
newest check of any of them, shared through the result store.

Why a part is down (an exception's text, a host or a path) goes to the log, and
to staff; the public answer says up or down, as a load balancer needs.
"""

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import cast

from django.conf import settings
from django.utils import timezone

from web_app.celery import app

from .broker import HealthControl, health_connection
from .result_backend import result_store
from .services.waiting import result_came_since
from .single_flight import HealthReport, SingleFlight

logger = logging.getLogger(__name__)

# The result backend key read to prove the backend answers; no task has this id.
BACKEND_PROBE_TASK_ID = "healthz-probe"


@dataclass
class PartState:
    """One part's state, as /healthz reports it."""

    up: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)

    def public_dict(self) -> dict:
        """What anyone may know: up or down, none of the detail."""
        return {"up": self.up}


@dataclass
class WorkersState(PartState):
    """The workers' state, with the names of those that answered for this app's queue."""

    workers: list[str] = field(default_factory=list)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def down(part: str, detail: str) -> PartState:
    """A part found down; why, in the log."""
    logger.warning("Health: %s down: %s", part, detail)
    return PartState(up=False, detail=detail)


def workers_down(detail: str) -> "WorkersState":
    logger.warning("Health: workers down: %s", detail)
    return WorkersState(up=False, detail=detail)


def check_broker() -> PartState:
    """Open a connection to the broker, trying once, within HEALTH_TIMEOUT."""
    try:
        with health_connection() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=settings.HEALTH_TIMEOUT)
    except Exception as exc:  # any failure to connect means the broker is down for us
        return down("broker", describe(exc))
    return PartState(up=True, detail="connected")


def check_result_backend() -> PartState:
    """Read one key from the result backend (a Redis GET, or a file read on the embedded one)."""
    backend = result_store()
    try:
        backend.get(backend.get_key_for_task(BACKEND_PROBE_TASK_ID))
    except Exception as exc:  # any failure to read means results cannot be fetched
        return down("result_backend", describe(exc))
    return PartState(up=True, detail="reachable")


def check_results_file() -> PartState:
    """The results file can be appended to, and its disk has at least RESULTS_MIN_FREE_MB free.

    Nothing is created: the check looks at the file, or at the nearest folder that
    exists on its way, where the first result will create the rest.
    """
    target = Path(settings.RESULTS_FILE)
    existing = next((path for path in (target, *target.parents) if path.exists()), None)
    if existing is None or (existing != target and not existing.is_dir()):
        return down("results_file", f"{existing or target} is not a folder, so {target} cannot be created")
    if not os.access(existing, os.W_OK if existing == target else os.W_OK | os.X_OK):
        return down("results_file", f"{existing} is not writable")
    free_mb = shutil.disk_usage(existing if existing.is_dir() else existing.parent).free / 2**20
    if free_mb < settings.RESULTS_MIN_FREE_MB:
        return down("results_file", f"{free_mb:.0f} MB free beside {target}, under {settings.RESULTS_MIN_FREE_MB:g} MB")
    return PartState(up=True, detail=f"writable, {free_mb:.0f} MB free")


class OurWorkerAnswered(Exception):
    """Ends a broadcast as soon as a worker of this app's queue has replied."""


def check_workers(broker: PartState | None = None) -> WorkersState:
    """Ask the workers which queues they consume; up as soon as one consumes ours.

    Other projects' workers may share the broker, so a worker counts only when
    it consumes this app's queue; the broadcast ends at the first such reply, or
    HEALTH_TIMEOUT after the last reply (twice that at most). Without a broker no
    worker can answer, and the broadcast is not even tried.
    """
    broker = broker or check_broker()
    if not broker.up:
        return workers_down("the broker is unavailable, so no worker can answer")
    queue = app.conf.task_default_queue
    answering = []
    deadline = time.monotonic() + 2 * settings.HEALTH_TIMEOUT

    def on_reply(reply: dict):
        for name, queues in reply.items():
            if any(q.get("name") == queue for q in queues or []):
                answering.append(name)
                raise OurWorkerAnswered
        if time.monotonic() > deadline:
            raise TimeoutError(f"other workers kept replying for {2 * settings.HEALTH_TIMEOUT:g} s")

    try:
        with health_connection() as connection:
            HealthControl(app).broadcast(
                "active_queues",
                connection=connection,
                reply=True,
                timeout=settings.HEALTH_TIMEOUT,
                callback=on_reply,
            )
    except OurWorkerAnswered:
        return WorkersState(up=True, detail=f"a worker answers for queue {queue!r}", workers=answering)
    except Exception as exc:  # a broadcast that fails reaches no worker
        return workers_down(f"the broadcast failed: {describe(exc)}")
    return workers_down(f"no worker answered for queue {queue!r}")


def check_parts() -> dict[str, PartState]:
    """Check every part now."""
    broker = check_broker()
    return {
        "broker": broker,
        "result_backend": check_result_backend(),
        "workers": check_workers(broker),
        "results_file": check_results_file(),
    }


# The workers' state as the last check of any web process of the deployment found it, in the
# result store they all share (under the key of this id, which no task has): one answer for
# every process, whichever serves a request.
SHARED_WORKERS_STATE_ID = "web_app-workers-state"


def shared_workers_state_key():
    """The key of the shared state of the workers of this app's queue: web apps of other queues
    may share the result store, and their workers' state is not this one's."""
    return result_store().get_key_for_task(f"{SHARED_WORKERS_STATE_ID}:{app.conf.task_default_queue}")


# Seconds between a process's reads of the shared workers' state while its pages are viewed:
# about the longest two web processes can disagree about the workers.
SHARED_STATE_READ_INTERVAL = 1.0


def share_workers_state(report: HealthReport) -> None:
    """Store the report's workers part, with the time it was checked, for the other web processes."""
    workers = report.parts["workers"]
    payload = {"checked_at": time.time() - report.age(), **workers.as_dict()}
    try:
        result_store().set(shared_workers_state_key(), json.dumps(payload))
    except Exception as exc:  # this process keeps its own answer; the others check for themselves
        logger.warning("Health: could not share the workers' state: %s", exc)


def shared_workers_report() -> HealthReport | None:
    """The workers' state another web process (or this one) shared, None when none is to be had."""
    try:
        payload = result_store().get(shared_workers_state_key())
    except Exception as exc:  # an unreachable store: this process checks for itself
        logger.warning("Health: could not read the shared workers' state: %s", exc)
        return None
    if not payload:
        return None
    try:
        shared = json.loads(payload)
        state = WorkersState(
            up=shared["up"] is True, detail=str(shared["detail"]), workers=[str(name) for name in shared["workers"]]
        )
        age = max(time.time() - float(shared["checked_at"]), 0.0)
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("Health: the shared workers' state is unreadable: %s", exc)
        return None
    return HealthReport({"workers": state}, checked_at=time.monotonic() - age)


def check_and_share_parts() -> HealthReport:
    """Check every part now (for /healthz) and share the workers' state it found."""
    report = HealthReport(check_parts())
    share_workers_state(report)
    return report


def known_workers_state() -> HealthReport:
    """The workers' part: the shared state while it is at most HEALTH_CACHE_SECONDS old, else checked
    now and shared. This is what the pages' banner needs."""
    shared = shared_workers_report()
    if shared is not None and shared.age() <= settings.HEALTH_CACHE_SECONDS:
        return shared
    report = HealthReport({"workers": check_workers()})
    share_workers_state(report)
    return report


health_checks = SingleFlight(check_and_share_parts)

# The pages' own checks, of the workers alone: reading the result backend and the results
# file's disk, as /healthz does, would cost every page view's refresh a backend command.
worker_checks = SingleFlight(known_workers_state)


# The broker check, then the workers' broadcast of up to twice HEALTH_TIMEOUT, the result
# backend's read and the results file's look, each bounded by HEALTH_TIMEOUT or so.
LONGEST_CHECK_TIMEOUTS = 5


def longest_check_seconds() -> float:
    """About the longest a whole check can take."""
    return LONGEST_CHECK_TIMEOUTS * settings.HEALTH_TIMEOUT + 1


def check_all(with_details: bool = False) -> tuple[bool, dict]:
    """Every part's state, checked at most HEALTH_CACHE_SECONDS ago; True when all are up.

    Each part says only whether it is up, unless `with_details` (for staff): then why, and
    which workers answered.
    """
    report = health_checks.report(max_age=settings.HEALTH_CACHE_SECONDS, wait=longest_check_seconds())
    if report is None:
        detail = f"the first health check has not finished within {longest_check_seconds():g} s"
        logger.warning("Health: every part down: %s", detail)
        parts = {name: PartState(up=False, detail=detail) for name in ("broker", "result_backend", "results_file")}
        report = HealthReport({**parts, "workers": WorkersState(up=False, detail=detail)})
    return report.healthy, {
        name: part.as_dict() if with_details else part.public_dict() for name, part in report.parts.items()
    }


def cached_worker_state(wait: float = 0) -> WorkersState | None:
    """The workers' newest known state, from /healthz's checks or the pages' own; None before the first.

    When this process last came to know it more than SHARED_STATE_READ_INTERVAL
    ago, one background thread reads the shared state again (and checks the
    workers when that is older than HEALTH_CACHE_SECONDS); the caller waits for
    it `wait` seconds at most. Pages wait for nothing: they show what is known.
    """
    worker_checks.refresh_in_background(max_age=SHARED_STATE_READ_INTERVAL, wait=wait)
    reports = [report for report in (health_checks.last, worker_checks.last) if report is not None]
    newest = max(reports, key=lambda report: report.checked_at, default=None)
    return cast(WorkersState, newest.parts["workers"]) if newest is not None else None


def no_worker_answering(recent=(), wait: float = 0) -> bool | None:
    """True when the last worker state says no worker answers, None before the first answer
    (waiting `wait` seconds at most for a newer state when this process's is due a refresh).

    A result that came to this process, or a submission among `recent` that
    finished, since that state could have been asked is newer news of a worker
    than the state itself: under load a worker's answer to the check can come
    too late for it while its results keep coming.
    """
    workers = cached_worker_state(wait)
    if workers is None:
        return None
    since = timezone.now() - timedelta(seconds=settings.HEALTH_CACHE_SECONDS + settings.HEALTH_TIMEOUT)
    if result_came_since(since):
        return False
    if any(submission.finished_at and submission.finished_at > since for submission in recent):
        return False
    return not workers.up
