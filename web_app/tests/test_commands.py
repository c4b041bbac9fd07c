import uuid
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone

from submissions import services
from submissions.management.commands import collect_results
from submissions.models import Submission
from web_app.celery import app


@pytest.mark.django_db
def test_collect_results_writes_late_results_and_reports_counts(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results.txt"
    late, lost_worker = (
        Submission.objects.create(first=first, second="dogs", task_id=uuid.uuid4()) for first in ("cats", "owls")
    )
    app.backend.store_result(str(late.task_id), "cats es dogs", "SUCCESS")
    output = StringIO()

    call_command("collect_results", stdout=output)

    assert output.getvalue().strip() == "done: 1, failed: 0, still pending: 1, sent again: 0"
    assert settings.RESULTS_FILE.read_text() == "cats es dogs\n"
    assert Submission.objects.get(pk=lost_worker.pk).status == Submission.Status.PENDING


@pytest.mark.django_db
def test_collect_results_with_no_configuration_says_it_uses_the_embedded_broker(monkeypatch):
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    errors = StringIO()

    call_command("collect_results", stdout=StringIO(), stderr=errors)

    notice = errors.getvalue()
    assert notice.count("\n") == 1
    assert "Broker filesystem://" in notice
    assert f"result backend {app.conf.result_backend}" in notice
    assert "CELERY_BROKER_URL and CELERY_RESULT_BACKEND not set, so the embedded one" in notice
    assert "make manage ARGS=collect_results" in notice


@pytest.mark.django_db
def test_collect_results_names_the_configured_services_with_passwords_masked(monkeypatch):
    broker, backend = "amqp://django:secret@localhost:5672/rabbit", "redis://:secret@localhost:6379/0"
    monkeypatch.setenv("CELERY_BROKER_URL", broker)
    monkeypatch.setenv("CELERY_RESULT_BACKEND", backend)
    # The command's view of the app only: the real app keeps its embedded broker for the other tests.
    conf = SimpleNamespace(broker_url=broker, result_backend=backend)
    monkeypatch.setattr(collect_results, "app", SimpleNamespace(conf=conf))
    monkeypatch.setattr(services, "collect_pending", lambda **options: services.CollectReport())
    errors = StringIO()

    call_command("collect_results", stdout=StringIO(), stderr=errors)

    notice = errors.getvalue()
    assert "Broker amqp://django:**@localhost:5672/rabbit, result backend redis://" in notice
    assert "localhost:6379/0" in notice
    assert "secret" not in notice
    assert "not set" not in notice


@pytest.mark.django_db
def test_prune_submissions_says_how_many_it_removed(settings):
    settings.SUBMISSIONS_KEEP_DAYS = 30
    for days_ago in (31, 32, 1):
        submission = Submission.objects.create(
            first="cats", second="dogs", task_id=uuid.uuid4(), status=Submission.Status.DONE
        )
        Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    output = StringIO()

    call_command("prune_submissions", stdout=output)

    assert output.getvalue().strip() == "removed 2 submissions older than 30 days and 0 ended admin logins"
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_prune_submissions_with_keep_days_0_says_it_keeps_everything(settings):
    settings.SUBMISSIONS_KEEP_DAYS = 0
    output = StringIO()

    call_command("prune_submissions", stdout=output)

    assert "every submission is kept" in output.getvalue()


def test_the_collectors_notice_masks_every_sentinels_password(monkeypatch):
    backend = ";".join(f"sentinel://:secret{n}@redis-sentinel-{n}:26379/0" for n in (1, 2, 3))
    monkeypatch.setitem(app.conf, "result_backend", backend)

    notice = collect_results.configuration_notice()

    assert "secret" not in notice
    assert notice.count(":**@redis-sentinel-") == 3
