"""The slow-task scenario's worker: `adding_taski` as the project's worker has it, but taking
SLOW_TASK_SECONDS (0.5 s), as a task that does real work would.

    celery -A bench.slow_worker worker --pool threads --concurrency 320 -Q QUEUES

Its thread pool is wider than the benchmark's largest load level, so that the
worker is never what the web apps wait for; it serves the project and the seed
alike, each on its own queue.
"""

import os
import time

from celery import Celery

SLOW_TASK_SECONDS = float(os.environ.get("SLOW_TASK_SECONDS", "0.5"))

app = Celery("slow_worker", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_RESULT_BACKEND"])
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    result_serializer="json",
    worker_hijack_root_logger=False,
)


@app.task(name="adding_taski")
def adding_taski(first: str, second: str) -> str:
    time.sleep(SLOW_TASK_SECONDS)
    return f"{first} es {second}"
