"""Bad input over HTTP against the real gunicorn, and bad messages straight to the queue.

Each bad request gets its status and a message, and nothing is queued or written.
"""

import json
import pickle
import uuid
from pathlib import Path

import pytest
import requests

from harness.external_services import declare_queue, existing_queue_depth, publish_raw, stored_result
from harness.processes import RABBITMQ_URL, REDIS_URL, HttpClient, wait_until

REQUIRED = "Enter some text, not only spaces."
TOO_LONG = "Ensure this value has at most 200 characters (it has 201)."
CONTROL = "Line breaks and control characters are not allowed."
NOT_UTF8 = "The text is not valid UTF-8."
CSRF_FAILED = "CSRF verification failed"


@pytest.fixture(scope="module")
def web_without_worker(make_module_stack):
    """The web app on RabbitMQ and Redis with no worker: whatever is sent stays in the queue."""
    stack = make_module_stack(RESULT_TIMEOUT="1")
    declare_queue(RABBITMQ_URL, stack.queue)
    stack.start_web()
    return stack


@pytest.fixture(scope="module")
def full_stack(make_module_stack):
    stack = make_module_stack()
    worker = stack.start_worker()
    stack.start_web()
    return stack, worker


def assert_nothing_queued_or_written(stack):
    assert existing_queue_depth(stack.queue).total == 0, "nothing queued"
    assert stack.submissions() == [], "nothing saved"
    assert stack.results_lines() == [], "nothing written"


def form_post(browser: HttpClient, fields: dict, token: str | None = "valid") -> requests.Response:
    data = dict(fields)
    if token == "valid":
        data["csrfmiddlewaretoken"] = browser.csrf_token()
    elif token is not None:
        browser.csrf_token()  # the cookie, without the matching token
        data["csrfmiddlewaretoken"] = token
    return browser.session.post(browser.base_url + "/", data=data, timeout=30)


def raw_post(browser: HttpClient, body: bytes) -> requests.Response:
    token = browser.csrf_token().encode()
    return browser.session.post(
        browser.base_url + "/",
        data=b"csrfmiddlewaretoken=" + token + b"&" + body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )


FORM_CASES = [
    pytest.param({"first": "", "second": "dogs"}, "valid", 400, REQUIRED, id="empty"),
    pytest.param({"first": "cats"}, "valid", 400, REQUIRED, id="missing-field"),
    pytest.param({}, "valid", 400, REQUIRED, id="no-fields"),
    pytest.param({"first": "   \t ", "second": "dogs"}, "valid", 400, REQUIRED, id="whitespace-only"),
    pytest.param({"first": "x" * 201, "second": "dogs"}, "valid", 400, TOO_LONG, id="over-long"),
    pytest.param({"first": "ca\x07ts", "second": "dogs"}, "valid", 400, CONTROL, id="control-character"),
    pytest.param({"first": "ca\x00ts", "second": "dogs"}, "valid", 400, CONTROL, id="nul"),
    pytest.param({"first": "two\nlines", "second": "dogs"}, "valid", 400, CONTROL, id="newline"),
    pytest.param({"first": "cats", "second": "car\r\nriage"}, "valid", 400, CONTROL, id="crlf"),
    pytest.param({"first": "line\u2028separator", "second": "dogs"}, "valid", 400, CONTROL, id="line-separator"),
    pytest.param({"first": "cats", "second": "para\u2029graph"}, "valid", 400, CONTROL, id="paragraph-separator"),
    pytest.param({"first": "txt.exe\u202egpj", "second": "dogs"}, "valid", 400, "(such as U+202E)", id="bidi-override"),
    pytest.param({"first": "cats", "second": "dogs"}, None, 403, CSRF_FAILED, id="missing-csrf-token"),
    pytest.param({"first": "cats", "second": "dogs"}, "x" * 64, 403, CSRF_FAILED, id="wrong-csrf-token"),
    pytest.param({"first": "a" * 20_000, "second": "dogs"}, "valid", 400, "Bad Request", id="oversized-body"),
]


@pytest.mark.parametrize("fields, token, status, message", FORM_CASES)
def test_a_bad_form_post_is_refused_with_a_message(web_without_worker, fields, token, status, message):
    browser = HttpClient(web_without_worker.base_url)

    page = form_post(browser, fields, token)

    assert page.status_code == status
    assert message in page.text
    assert_nothing_queued_or_written(web_without_worker)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"first=\xff\xfecats&second=dogs", id="raw-bytes"),
        pytest.param(b"first=cats&second=%C3%28", id="percent-encoded"),
    ],
)
def test_a_body_that_is_not_utf8_is_refused(web_without_worker, body):
    page = raw_post(HttpClient(web_without_worker.base_url), body)

    assert page.status_code == 400
    assert NOT_UTF8 in page.text
    assert_nothing_queued_or_written(web_without_worker)


def test_a_get_with_parameters_only_shows_the_form(web_without_worker):
    page = HttpClient(web_without_worker.base_url).get("/?first=cats&second=dogs")

    assert page.status_code == 200
    assert "cats es dogs" not in page.text
    assert_nothing_queued_or_written(web_without_worker)


def test_other_methods_are_refused(web_without_worker):
    browser = HttpClient(web_without_worker.base_url)
    headers = {"X-CSRFToken": browser.csrf_token()}

    page = browser.session.put(browser.base_url + "/", data={"first": "a", "second": "b"}, headers=headers, timeout=10)

    assert page.status_code == 405
    assert_nothing_queued_or_written(web_without_worker)


def test_html_and_script_in_the_fields_are_shown_escaped_and_never_run(full_stack):
    stack, _ = full_stack
    browser = HttpClient(stack.base_url)

    page = browser.submit("<script>alert(1)</script>", "<b>bold</b>")

    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "<b>bold" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; es &lt;b&gt;bold&lt;/b&gt;" in page.text
    form = browser.get("/")
    assert "<script>alert(1)" not in form.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in form.text
    assert "<script>alert(1)</script> es <b>bold</b>" in stack.results_lines(), "the file keeps the text as sent"


class TouchOnUnpickle:
    """Unpickling this creates a file: proof that whoever unpickled it ran our code."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def task_headers(task_name: str, task_id: str) -> dict:
    return {"lang": "py", "task": task_name, "id": task_id, "root_id": task_id, "parent_id": None, "group": None}


def test_a_pickle_message_is_refused_by_the_worker_and_nothing_runs(full_stack, tmp_path):
    stack, worker = full_stack
    marker = tmp_path / "unpickled"
    task_id = str(uuid.uuid4())
    body = pickle.dumps(((TouchOnUnpickle(marker), "dogs"), {}, {}))

    publish_raw(
        RABBITMQ_URL, stack.queue, body, "application/x-python-serialize", task_headers("adding_taski", task_id)
    )

    wait_until(lambda: "untrusted content of type pickle" in worker.log(), timeout=15, what="the refusal in the log")
    assert not marker.exists(), "the pickle was never loaded"
    assert stored_result(REDIS_URL, task_id) is None
    assert task_id not in worker.log().split("untrusted content")[-1], "no task started after the refusal"
    assert existing_queue_depth(stack.queue).total == 0, "the message was dropped, not redelivered for ever"
    worker.check_running()


def test_a_message_for_an_unknown_task_is_refused_and_nothing_runs(full_stack):
    stack, worker = full_stack
    task_id = str(uuid.uuid4())
    body = json.dumps([["cats", "dogs"], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])

    publish_raw(RABBITMQ_URL, stack.queue, body.encode(), "application/json", task_headers("no_such_task", task_id))

    wait_until(
        lambda: "Received unregistered task of type 'no_such_task'" in worker.log(),
        timeout=15,
        what="the refusal in the log",
    )
    # The worker tells the sender why: a failure, never a result.
    stored = wait_until(lambda: stored_result(REDIS_URL, task_id), timeout=10, what="the failure stored")
    assert stored["status"] == "FAILURE"
    assert stored["result"]["exc_type"] == "NotRegistered"
    assert existing_queue_depth(stack.queue).total == 0
    assert "cats es dogs" not in worker.log()
    worker.check_running()
