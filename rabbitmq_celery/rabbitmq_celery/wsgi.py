"""WSGI entry point; the worker project serves no pages, but Django expects one."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rabbitmq_celery.settings")

application = get_wsgi_application()
