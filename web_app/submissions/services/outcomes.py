"""What a task's stored result says, read as plain data: never rebuilt as an exception."""

from dataclasses import dataclass
from datetime import UTC, datetime

from celery import states
from django.utils import timezone

from ..models import Submission
from ..result_backend import result_store

# Error messages are the task's words or a forged result's: keep what a page shows short.
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Outcome:
    """What became of a task, as the web app records it."""

    status: str
    result: str = ""
    error: str = ""
    finished_at: datetime | None = None


def expected_result(first: str, second: str) -> str:
    """The only result the worker's task (rabbitmq_celery's join_strings) gives for these inputs."""
    return f"{first} es {second}"


# Whoever can publish to the broker or write to the result backend could otherwise have any text written.
MISMATCH_ERROR = "The result does not match its inputs, so it was not written to the results file."


def checked_against_inputs(outcome: Outcome, first: str, second: str) -> Outcome:
    """The outcome, or a failure when it is a success whose result is not what its inputs give."""
    if outcome.status == Submission.Status.DONE and outcome.result != expected_result(first, second):
        return Outcome(Submission.Status.FAILED, error=MISMATCH_ERROR, finished_at=outcome.finished_at)
    return outcome


def malformed(reason: str) -> Outcome:
    return Outcome(Submission.Status.FAILED, error=f"The result backend holds a result that cannot be used: {reason}")


def outcome_from_meta(meta) -> Outcome | None:
    """The outcome a task's stored meta-data says, None while the task has not finished.

    Reads only plain data: a failure is described from the names it carries,
    never rebuilt as an exception (a forged one could name any type), and
    anything that is not what rabbitmq_celery stores is a failure with a reason.
    """
    if not isinstance(meta, dict):
        return malformed(f"expected an object, found {type(meta).__name__}")
    status = meta.get("status")
    if status not in states.READY_STATES:
        return None
    finished_at = parse_date_done(meta.get("date_done"))
    result = meta.get("result")
    if status == states.SUCCESS:
        if not isinstance(result, str):
            return malformed(f"the task returned {type(result).__name__}, not text")
        return Outcome(Submission.Status.DONE, result=result, finished_at=finished_at)
    return Outcome(Submission.Status.FAILED, error=describe_failure(status, result), finished_at=finished_at)


def parse_date_done(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
    return None


def describe_failure(status: str, exception) -> str:
    """A failure in words, from the type name and message the worker stored (plain JSON, never an exception)."""
    if isinstance(exception, dict) and isinstance(exception.get("exc_type"), str):
        message = exception.get("exc_message", "")
        if isinstance(message, (list, tuple)):
            message = " ".join(str(part) for part in message)
        text = f"{exception['exc_type']}: {message}"
    else:
        text = f"The task ended in state {status}."
    return text[:MAX_ERROR_LENGTH]


def read_outcome(task_id) -> Outcome | None:
    """The task's outcome from the result backend, None while it has none; bad data is a failure.

    Raises the backend's own errors when it cannot be reached.
    """
    backend = result_store()
    payload = backend.get(backend.get_key_for_task(str(task_id)))
    return outcome_from_payload(payload)


def outcome_from_payload(payload) -> Outcome | None:
    if payload is None:
        return None
    try:
        meta = result_store().decode(payload)
    except Exception as exc:  # whatever a stored value holds, it must not break a page
        return malformed(f"it is not JSON ({type(exc).__name__})")
    return outcome_from_meta(meta)


def read_outcomes(task_ids: list[str]) -> dict[str, Outcome | None]:
    """Outcomes of many tasks in one round trip to the result backend."""
    backend = result_store()
    payloads = list(backend.mget([backend.get_key_for_task(task_id) for task_id in task_ids]))
    return {task_id: outcome_from_payload(payload) for task_id, payload in zip(task_ids, payloads, strict=False)}
