# Load the Celery app whenever Django starts, so send_task uses its settings.
from .celery import app as celery_app

__all__ = ("celery_app",)
