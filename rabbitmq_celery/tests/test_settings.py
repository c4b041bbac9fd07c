import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from rabbitmq_celery.celery import app

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_json_is_the_only_accepted_content():
    assert app.conf.accept_content == ["json"]
    assert app.conf.result_accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"


def test_a_lost_worker_gives_its_task_back():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_a_lost_worker_sends_its_task_again_as_a_counted_retry_with_no_delay():
    from adding.tasks import adding_taski
    from adding.worker_crashes import MAX_WORKER_CRASHES

    assert app.conf.task_retry_on_worker_lost is True
    assert adding_taski.max_retries == MAX_WORKER_CRASHES == 3
    assert adding_taski.default_retry_delay == 0


def test_debug_is_off_unless_asked():
    assert settings.DEBUG is False


def test_missing_secret_key_stops_the_start_with_a_clear_message():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    completed = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "rabbitmq_celery.settings"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in completed.stderr


def test_a_result_that_cannot_be_stored_yet_is_retried_for_a_bounded_time():
    assert app.conf.result_backend_always_retry is True
    assert app.conf.result_backend_max_retries == 40
    assert app.conf.result_backend_max_sleep_between_retries_ms == 2000


SENTINELS = "sentinel://127.0.0.1:26379/0;sentinel://127.0.0.1:26380/0"


def settings_under(**variables) -> subprocess.CompletedProcess:
    """Load the worker's settings in a process of their own with these variables; it prints the backend's options."""
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(getattr(s, 'CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS', None))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "rabbitmq_celery.settings", **variables},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_sentinel_backend_names_the_master_and_bounds_the_waits_on_the_sentinels():
    completed = settings_under(CELERY_RESULT_BACKEND=SENTINELS, REDIS_SENTINEL_MASTER="results")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == (
        "{'master_name': 'results', 'sentinel_kwargs': "
        "{'socket_connect_timeout': 1, 'socket_timeout': 1, 'retry': None}}"
    )


def test_a_sentinel_backend_without_a_master_name_stops_the_start_with_a_clear_message():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_SENTINEL_MASTER"}
    completed = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "rabbitmq_celery.settings", "CELERY_RESULT_BACKEND": SENTINELS},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert completed.returncode != 0
    assert "ImproperlyConfigured" in completed.stderr and "REDIS_SENTINEL_MASTER must be set" in completed.stderr


def test_a_plain_redis_backend_gets_no_sentinel_options():
    completed = settings_under(CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/0", REDIS_SENTINEL_MASTER="results")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "None"
