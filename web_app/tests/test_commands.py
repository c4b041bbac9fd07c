import uuid
from io import StringIO

import pytest
from django.core.management import call_command

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
