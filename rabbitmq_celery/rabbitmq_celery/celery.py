import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rabbitmq_celery.settings")

app = Celery("rabbitmq_celery")

# Every Celery setting lives in Django's settings with the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")

app.autodiscover_tasks()

# Replaces the worker's `conf` and `report` remote control commands with ones that mask passwords.
from . import control  # noqa: E402,F401
