from celery import shared_task

from .services import join_strings

# The task name is the whole contract with web_app, which sends it by name.
ADDING_TASK_NAME = "adding_taski"


@shared_task(name=ADDING_TASK_NAME)
def adding_taski(first: str, second: str) -> str:
    # Idempotent (a pure function of its arguments), so a redelivery after a
    # lost worker is harmless; that is what makes acks_late safe here.
    return join_strings(first, second)
