"""Submissions in the Django admin: listed with their task ids, and searchable by them."""
import uuid

import pytest

from submissions.models import Submission


@pytest.fixture
def submissions(db):
    return [
        Submission.objects.create(first="cats", second="dogs", task_id=uuid.uuid4()),
        Submission.objects.create(
            first="birds", second="fish", task_id=uuid.uuid4(), status=Submission.Status.DONE, result="birds es fish"
        ),
    ]


def changelist(admin_client, query=""):
    response = admin_client.get("/admin/submissions/submission/", {"q": query} if query else {})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_list_shows_every_submission_with_its_task_id(admin_client, submissions):
    response = admin_client.get("/admin/submissions/submission/")

    page = response.content.decode()
    for submission in submissions:
        assert str(submission.task_id) in page


@pytest.mark.parametrize("which", [0, 1])
def test_a_whole_task_id_finds_its_submission(admin_client, submissions, which):
    assert changelist(admin_client, str(submissions[which].task_id)) == [submissions[which]]


def test_part_of_a_task_id_finds_its_submission(admin_client, submissions):
    part = str(submissions[1].task_id).split("-")[-1]
    assert changelist(admin_client, part) == [submissions[1]]


@pytest.mark.parametrize("query, which", [("cats", 0), ("fish", 1), ("birds es", 1)])
def test_inputs_and_results_are_searchable(admin_client, submissions, query, which):
    assert changelist(admin_client, query) == [submissions[which]]


def test_a_search_that_matches_nothing_lists_nothing(admin_client, submissions):
    assert changelist(admin_client, str(uuid.uuid4())) == []


def test_the_change_page_shows_the_task_id_read_only(admin_client, submissions):
    submission = submissions[1]

    page = admin_client.get(f"/admin/submissions/submission/{submission.pk}/change/").content.decode()

    assert str(submission.task_id) in page
    assert 'name="task_id"' not in page
    assert 'name="result"' not in page


def test_the_admin_needs_a_login(client, submissions):
    response = client.get("/admin/submissions/submission/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
