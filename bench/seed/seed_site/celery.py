"""The seed's Celery client: Celery's defaults (JSON, no publisher confirms), the broker and
backend from the environment, and a queue of its own in the benchmark."""

import os

from celery import Celery

app = Celery("web_app", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_RESULT_BACKEND"])
app.conf.task_default_queue = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
