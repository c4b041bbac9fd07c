"""The project's settings for its test suite: a throwaway key and scratch folders."""

import os
import tempfile

_scratch = tempfile.mkdtemp(prefix="pytest-web_app-")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("EMBEDDED_BROKER_DIR", os.path.join(_scratch, "embedded-broker"))
os.environ.setdefault("RESULTS_DIR", os.path.join(_scratch, "results"))
os.environ.setdefault("DJANGO_STATIC_ROOT", os.path.join(_scratch, "static"))
os.makedirs(os.environ["DJANGO_STATIC_ROOT"], exist_ok=True)

from web_app.settings import *  # noqa: E402,F403

# The tests do not run collectstatic, so they need no manifest of hashed names.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# Tests post the form from one address far more often than a person would; the rate limit's
# own tests turn it on (test_clients.py, test_views.py).
SUBMISSIONS_RATE = "off"
