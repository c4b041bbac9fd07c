"""The project's settings for its test suite: a throwaway key and scratch folders."""

import os
import tempfile

_scratch = tempfile.mkdtemp(prefix="pytest-rabbitmq_celery-")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("EMBEDDED_BROKER_DIR", os.path.join(_scratch, "embedded-broker"))
os.environ.setdefault("RESULTS_DIR", os.path.join(_scratch, "results"))

from rabbitmq_celery.settings import *  # noqa: E402,F403
