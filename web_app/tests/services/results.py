"""Results stored as the worker stores them, in the test settings' filesystem result backend."""

from submissions import services
from submissions.models import Submission
from submissions.result_backend import result_store
from web_app.celery import app


def store(task_id, result, state="SUCCESS"):
    """Store a result the way the worker does, in the test's (filesystem) result backend."""
    app.backend.store_result(task_id, result, state)


def done(result):
    return services.Outcome(Submission.Status.DONE, result=result)


def store_raw(task_id, payload: bytes):
    backend = result_store()
    backend.set(backend.get_key_for_task(str(task_id)), payload)
