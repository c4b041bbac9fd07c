from celery import shared_task

from .services import join_strings
from .worker_crashes import MAX_WORKER_CRASHES, refuse_after_worker_crashes

# The task name is the whole contract with web_app, which sends it by name.
ADDING_TASK_NAME = "adding_taski"


# A run whose pool process died is sent again at once, behind what is queued (no retry delay), each
# counted in `retries`; the run after the last allowed crash fails with the reason instead of running.
@shared_task(name=ADDING_TASK_NAME, max_retries=MAX_WORKER_CRASHES, default_retry_delay=0)
def adding_taski(first: str, second: str) -> str:
    # Idempotent (a pure function of its arguments), so a redelivery after a
    # lost worker is harmless; that is what makes acks_late safe here.
    refuse_after_worker_crashes(adding_taski.request.retries or 0)
    return join_strings(first, second)
