"""The producer half of Celery's Django example: web_app sends tasks by name and defines none."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web_app.settings")

app = Celery("web_app")

# Every Celery setting lives in Django's settings with the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
