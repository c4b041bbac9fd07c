import uuid

import pytest

from submissions.models import Submission

from ..conftest import VISITOR


@pytest.fixture
def submission(db):
    return Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4(), visitor=VISITOR)


@pytest.fixture
def results_file(settings, tmp_path):
    settings.RESULTS_FILE = tmp_path / "results" / "results.txt"
    return settings.RESULTS_FILE
