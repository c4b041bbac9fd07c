"""Whatever the result backend holds for a task, its submission's pages answer, and the others are collected."""

import json
import uuid

import pytest
import redis

from harness.processes import REDIS_URL, HttpClient


def store_raw(task_id: str, payload: bytes):
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    client.set(f"celery-task-meta-{uuid.UUID(str(task_id))}", payload)


FORGED = {
    "failure naming os.system": json.dumps(
        {"status": "FAILURE", "result": {"exc_module": "os", "exc_type": "system", "exc_message": ["id"]}}
    ).encode(),
    "not JSON": b"\x80\x04\x95 pickled?",
    "a number as the result": json.dumps({"status": "SUCCESS", "result": 42}).encode(),
}


@pytest.fixture(scope="module")
def stack(make_module_stack):
    stack = make_module_stack(RESULT_TIMEOUT="0.5")
    stack.start_web()
    return stack


@pytest.mark.parametrize("forged", FORGED, ids=list(FORGED))
def test_a_forged_result_fails_its_submission_with_a_reason_never_a_500(stack, forged):
    browser = HttpClient(stack.base_url)
    page = browser.submit("cats", forged)
    task_id = next(row["task_id"] for row in stack.submissions() if row["second"] == forged)
    store_raw(task_id, FORGED[forged])
    path = browser.path_of(page)

    status = browser.get(path + "status.json")
    detail = browser.get(path)

    assert status.status_code == 200 and detail.status_code == 200
    assert status.json()["status"] == "failed"
    assert "Failed" in detail.text
    assert "cats es" not in "\n".join(stack.results_lines())


def test_a_forged_result_does_not_stop_the_collection_of_the_others(stack):
    browser = HttpClient(stack.base_url)
    browser.submit("bad", "one")
    browser.submit("good", "one")
    rows = {row["first"]: row["task_id"] for row in stack.submissions()}
    store_raw(rows["bad"], b"not json at all")
    store_raw(rows["good"], json.dumps({"status": "SUCCESS", "result": "good es one"}).encode())

    collected = stack.manage("collect_results")

    assert collected.returncode == 0, collected.stderr
    assert "good es one" in stack.results_lines()
    statuses = {row["first"]: row["status"] for row in stack.submissions()}
    assert (statuses["bad"], statuses["good"]) == ("failed", "done")


def test_a_success_that_is_not_the_join_of_its_inputs_fails_and_writes_no_line(stack):
    """Anyone who can write to the result backend could otherwise have any text appended to the results file."""
    browser = HttpClient(stack.base_url)
    page = browser.submit("cats", "forged success")
    task_id = next(row["task_id"] for row in stack.submissions() if row["second"] == "forged success")
    forged = "\x1b]0;owned\x07\\n" + "owned " * 20_000
    store_raw(task_id, json.dumps({"status": "SUCCESS", "result": forged}).encode())
    path = browser.path_of(page)

    status = browser.get(path + "status.json").json()
    detail = browser.get(path)

    assert status["status"] == "failed"
    assert "does not match its inputs" in status["error"]
    assert "Failed" in detail.text and "does not match its inputs" in detail.text
    assert "owned" not in detail.text
    assert not any("owned" in line or "forged success" in line for line in stack.results_lines())
    assert next(row for row in stack.submissions() if row["task_id"] == task_id)["status"] == "failed"
