"""Settings of the web project, read from the environment.

Both Django projects read the same variables; see docs/configuration.md.
With no broker or result backend set, Celery runs on kombu's
filesystem transport and the filesystem result backend in EMBEDDED_BROKER_DIR,
so the whole flow works on a machine with only Python.
"""

import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from web_app.redis_sentinel import cache_from_url, result_backend_sentinel_options

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent

# https://django-environ.readthedocs.io/en/latest/
env = environ.Env()

# Where the embedded broker (and the cache of `make run`) keeps its files; a relative path is
# taken from the repository root, whichever folder the process starts in.
EMBEDDED_BROKER_DIR = REPO_DIR / env.str("EMBEDDED_BROKER_DIR", default=".embedded-broker")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it in the environment (or in .env); "
        "`make run` generates a development key in .django-secret-key."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "submissions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads request.POST (CsrfViewMiddleware does), so that no file part is spooled.
    "submissions.middleware.form_bodies_only",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A login whose row is gone (logged out, revoked, ended) is logged out (submissions/staff_logins.py).
    "submissions.staff_logins.current_staff_logins_only",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

# https://django-axes.readthedocs.io/en/latest/2_installation.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "web_app.urls"
WSGI_APPLICATION = "web_app.wsgi.application"

TEMPLATES = [
    {
        # The submission pages (submissions/jinja2/); Django's templates serve the admin.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "submissions.jinja2_environment.environment"},
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL (postgres://USER:PASSWORD@HOST:5432/NAME, as docker-compose.yml sets)
# chooses the database; without it, the SQLite file of `make run`.
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
if "DATABASE_URL" in env:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("DJANGO_DATABASE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # Several gunicorn processes write at once: WAL lets readers go on,
                # IMMEDIATE takes the write lock up front instead of failing mid-transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
# https://docs.djangoproject.com/en/5.2/ref/settings/#conn-max-age
# 0: Django keeps a connection per thread, which gevent makes one per request; kept, each would leak.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
# On PostgreSQL a pool each process keeps, shared by its greenlets, of DATABASE_POOL_MAX_SIZE
# connections (0: none): opening one per request was most of what PostgreSQL cost more than SQLite.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=10)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Files served at the site's root by whitenoise, such as /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "public"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# A form post is two short fields; refuse anything much larger before parsing it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024
# Seconds a form post's body may take to arrive, once its headers came (gunicorn bounds those by its keepalive).
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=5)

# Content-Security-Policy (django-csp): every page, the admin's included, loads only its own
# scripts, styles and images, from this site, none inline; no plugin, no framing, forms post here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
    },
}

# https://docs.djangoproject.com/en/5.2/topics/http/sessions/#using-cookie-based-sessions
# A signed cookie: a visitor's random id (and an admin's login), no database or cache write. An admin
# login also has a row of the site's (submissions/staff_logins.py), so a logout ends it at once.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
# Seconds a staff login lasts, from the login on (submissions/staff_logins.py); a visitor's session lasts
# SESSION_COOKIE_AGE (two weeks) from its first submission.
ADMIN_SESSION_SECONDS = env.int("ADMIN_SESSION_SECONDS", default=3600)

# The cache every web process shares, where the rate limit counts: files, or Redis (see redis_sentinel.cache_from_url).
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="")  # The primary sentinel:// URLs' sentinels monitor.
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")  # The sentinels' own requirepass, if any.
# Files by default: Django's file cache pickles, in a folder it makes readable and writable by this user only.
CACHE_URL = env.str("CACHE_URL", default=f"filecache://{EMBEDDED_BROKER_DIR / 'cache'}")
CACHES = {"default": cache_from_url(CACHE_URL, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD)}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Submissions a client may make, per client address: "30/m" (per second, minute, hour or day),
# or "off". https://django-ratelimit.readthedocs.io/en/stable/rates.html
SUBMISSIONS_RATE = env.str("SUBMISSIONS_RATE", default="30/m")
if SUBMISSIONS_RATE != "off" and not re.fullmatch(r"\d+/\d*[smhd]", SUBMISSIONS_RATE):
    raise ImproperlyConfigured(f"SUBMISSIONS_RATE={SUBMISSIONS_RATE!r}: give a rate such as 30/m, or off.")
# https://django-ratelimit.readthedocs.io/en/stable/settings.html
RATELIMIT_IP_META_KEY = "submissions.clients.client_address"
# A cache out of reach limits nobody.
RATELIMIT_FAIL_OPEN = True
# The proxies in front (addresses, networks, host names) whose X-Forwarded-For names the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Failed admin logins from an address, or naming a user, before that address, or that account, is
# refused for AXES_COOLOFF_TIME hours (axes_reset): by address alone, a guesser with many addresses
# could try an account's password without end.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "submissions.clients.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "submissions/locked_out.html"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Served over HTTPS behind a proxy that terminates TLS and sets X-Forwarded-Proto:
# cookies only over HTTPS, and HSTS on HTTPS answers. The proxy redirects plain HTTP.
BEHIND_HTTPS_PROXY = env.bool("DJANGO_BEHIND_HTTPS_PROXY", default=False)
if BEHIND_HTTPS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

# The results file: a joined string a line, appended; a relative RESULTS_DIR is from the repository root.
RESULTS_DIR = REPO_DIR / env.str("RESULTS_DIR", default="results")
RESULTS_FILE = RESULTS_DIR / "results.txt"
# The host whose results file this process writes, shared by the processes of one RESULTS_DIR (empty on one host).
RESULTS_HOST = env.str("RESULTS_HOST", default="")
# Seconds a submission waits for its result before the page says "pending".
RESULT_TIMEOUT = env.float("RESULT_TIMEOUT", default=10)
# Seconds a publish waits for RabbitMQ's confirm before it counts as failed (and is retried
# within CELERY_TASK_PUBLISH_RETRY_POLICY).
PUBLISH_CONFIRM_TIMEOUT = env.float("PUBLISH_CONFIRM_TIMEOUT", default=3)
# Seconds a write waits for the database's (and the results file's) writer lock before it gives up.
WRITE_LOCK_TIMEOUT = env.float("WRITE_LOCK_TIMEOUT", default=5)
# Submissions each web process saves and sends, or records, at once; the others wait their turn,
# first come, first served, SUBMISSION_SLOT_TIMEOUT s at most, without taking the processor from the pages.
SUBMISSION_SLOTS = env.int("SUBMISSION_SLOTS", default=2)
SUBMISSION_SLOT_TIMEOUT = env.float("SUBMISSION_SLOT_TIMEOUT", default=10)
# Tasks that may wait in the task queue, for all web processes together; past it a submission gets a
# 503, nothing saved. RabbitMQ's max-length policy (rabbitmq/setup-rabbitmq.sh) holds it too.
SUBMISSIONS_MAX_QUEUED = env.int("SUBMISSIONS_MAX_QUEUED", default=10_000)
# Seconds a health check waits for the broker, the result backend or a worker's reply.
HEALTH_TIMEOUT = env.float("HEALTH_TIMEOUT", default=1)
# Seconds a health check's answer is reused by /healthz and the pages' banner before one is run again.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5)
# /healthz reports the results file down when its disk has fewer MB free.
RESULTS_MIN_FREE_MB = env.float("RESULTS_MIN_FREE_MB", default=50)

# Celery
# ------------------------------------------------------------------------------

# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=(EMBEDDED_BROKER_DIR / "results").as_uri())
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport-options
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        # Seconds between looks for replies to a broadcast, such as /healthz's worker ping.
        "polling_interval": 0.05,
    }
else:
    # Publisher confirms: send_task returns only once RabbitMQ has the message. py-amqp's socket read and
    # write timeouts (SO_RCVTIMEO, SO_SNDTIMEO): a broker that stops answering on an open connection (a
    # host cut off, no reset ever comes) fails a blocking call, the collector's included, instead of
    # hanging it. Under gevent the web's sockets wait on their own timeouts.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True, "read_timeout": 10, "write_timeout": 10}
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-timeout
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-publish-retry-policy
# Bounded, so that a stopped broker gives the user a 503 within a few seconds.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#redis-socket-connect-timeout
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#redis-socket-timeout
CELERY_REDIS_SOCKET_TIMEOUT = 5
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend-transport-options
# Bounded reconnects of the result channel (Celery's default: 20, a second apart): a clear page soon.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
} | result_backend_sentinel_options(CELERY_RESULT_BACKEND, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD)
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-backend-thread-safe
# One result backend a process: gevent makes Celery's thread-local one a backend a request, each
# with Redis connections and a drainer greenlet that never stop. Its consumer serialises pub/sub use.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
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
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-expires
# Seconds an unrecorded result stays in the backend (a recorded one is deleted at once); longer than
# the collector and the sends again after STALE_PENDING_SECONDS need.
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=3600)

# Seconds a submission may stay pending before the collector checks whether its task was lost.
STALE_PENDING_SECONDS = env.float("STALE_PENDING_SECONDS", default=300)
# How often a lost task is sent again before its submission is marked failed.
STALE_PENDING_MAX_RESENDS = env.int("STALE_PENDING_MAX_RESENDS", default=3)
# Seconds between the collector's sweeps.
COLLECT_INTERVAL = env.float("COLLECT_INTERVAL", default=2)
# Days a done or failed submission is kept (a pending one, or one still being recorded, always is);
# 0 keeps everything. The collector prunes every SUBMISSIONS_PRUNE_INTERVAL seconds, and
# `manage.py prune_submissions` at once. The results file is not touched.
SUBMISSIONS_KEEP_DAYS = env.int("SUBMISSIONS_KEEP_DAYS", default=30)
SUBMISSIONS_PRUNE_INTERVAL = env.float("SUBMISSIONS_PRUNE_INTERVAL", default=3600)
# A file the collector touches after each sweep, so a healthcheck can tell one that hangs (none when empty).
COLLECTOR_HEARTBEAT_FILE = env.str("COLLECTOR_HEARTBEAT_FILE", default="")
# Tests only: the point of recording a result where the process kills itself (see services.fault_point).
RECORD_FAULT_POINT = env.str("RECORD_FAULT_POINT", default="")
