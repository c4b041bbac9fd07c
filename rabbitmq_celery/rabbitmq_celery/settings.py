"""Settings of the worker project, read from the environment.

Both Django projects read the same variables; see docs/configuration.md.
With no broker or result backend set, Celery runs on kombu's
filesystem transport and the filesystem result backend in EMBEDDED_BROKER_DIR,
so the whole flow works on a machine with only Python.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent

# https://django-environ.readthedocs.io/en/latest/
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it in the environment (or in .env); "
        "`make run` generates a development key in .django-secret-key."
    )

# The worker serves no pages and keeps no data: no URLs, no WSGI application, no database
# (Celery's Django fixup closes connections around each task, which costs nothing without one).
INSTALLED_APPS = ["adding"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

# Celery
# ------------------------------------------------------------------------------
# A relative path is taken from the repository root, whichever folder the process starts in.
EMBEDDED_BROKER_DIR = REPO_DIR / env.str("EMBEDDED_BROKER_DIR", default=".embedded-broker")

# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=(EMBEDDED_BROKER_DIR / "results").as_uri())
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend-transport-options
# Under Sentinel (sentinel://HOST:PORT/DB;...): the primary the sentinels monitor, and bounded waits for them,
# one try each (Celery sets no timeout; redis-py's default retries cost seconds a sentinel that is down).
if CELERY_RESULT_BACKEND.startswith("sentinel://"):
    if not (REDIS_SENTINEL_MASTER := env.str("REDIS_SENTINEL_MASTER", default="")):
        raise ImproperlyConfigured("CELERY_RESULT_BACKEND names Redis sentinels, so REDIS_SENTINEL_MASTER must be set.")
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
        "master_name": REDIS_SENTINEL_MASTER,
        "sentinel_kwargs": {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": None},
    }
    # The sentinels' own requirepass, if any; the URL's password is the primary's.
    if REDIS_SENTINEL_PASSWORD := env.str("REDIS_SENTINEL_PASSWORD", default=""):
        CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["sentinel_kwargs"]["password"] = REDIS_SENTINEL_PASSWORD
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#redis-socket-connect-timeout
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#redis-socket-timeout
# A store to a Redis whose host vanished (no reset ever comes) fails after this many seconds, and is tried
# again (CELERY_RESULT_BACKEND_ALWAYS_RETRY), under Sentinel on the promoted replica, instead of hanging.
CELERY_REDIS_SOCKET_TIMEOUT = 5
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport-options
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        # Seconds between looks at the queue folder: the embedded round trip's floor.
        "polling_interval": 0.05,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-retry-on-startup
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#accept-content
CELERY_ACCEPT_CONTENT = ["json"]
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-accept-content
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-serializer
CELERY_TASK_SERIALIZER = "json"
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-serializer
CELERY_RESULT_SERIALIZER = "json"
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-default-queue
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-default-queue-type
CELERY_TASK_DEFAULT_QUEUE_TYPE = env.str("CELERY_TASK_DEFAULT_QUEUE_TYPE", default="classic")
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-reject-on-worker-lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-retry-on-worker-lost
# A task whose pool process dies is sent again as a retry, counted in the message on every transport,
# rather than handed back to the queue, which counts nothing on a classic queue or the embedded broker:
# the task's max_retries (adding.worker_crashes) bounds how often one input can crash a pool process.
# The reject above still applies when sending the retry fails.
CELERY_TASK_RETRY_ON_WORKER_LOST = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-expires
# Seconds Redis keeps a result the web app has not recorded (it deletes the ones it records).
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=3600)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend-always-retry
# The message is acknowledged once the task has run, so a result that cannot be stored
# (Redis restarting) would be lost: retry storing it for about a minute instead.
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 40
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 2000
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-soft-time-limit
# A task still running after this many seconds gets SoftTimeLimitExceeded (and fails with it).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-time-limit
# After this many seconds the prefork pool kills the process running it and starts a new one.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-prefetch-multiplier
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-hijack-root-logger
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
