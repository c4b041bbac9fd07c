"""/healthz against real processes: each part reported up, and down when it is stopped or unreachable."""
import pytest
import requests

from .processes import free_port


def health_of(stack) -> tuple[int, dict]:
    response = requests.get(stack.base_url + "/healthz", timeout=30)
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, response.json()


def up_and_down(body) -> dict:
    return {part: body[part]["up"] for part in ("broker", "result_backend", "workers")}


@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_all_up_is_200_and_names_the_worker(make_stack, transport):
    stack = make_stack(transport)
    stack.start_worker()
    stack.start_web()

    status, body = health_of(stack)

    assert status == 200, body
    assert body["status"] == "ok"
    assert up_and_down(body) == {"broker": True, "result_backend": True, "workers": True}, body
    assert len(body["workers"]["workers"]) == 1
    assert body["workers"]["workers"][0].startswith(stack.queue)


@pytest.mark.parametrize("transport", ["rabbitmq", "embedded"])
def test_a_stopped_worker_is_503_with_the_workers_down(make_stack, transport):
    stack = make_stack(transport)
    worker = stack.start_worker()
    stack.start_web()
    assert health_of(stack)[0] == 200

    worker.stop()
    status, body = health_of(stack)

    assert status == 503, body
    assert body["status"] == "unavailable"
    assert up_and_down(body) == {"broker": True, "result_backend": True, "workers": False}, body
    assert stack.queue in body["workers"]["detail"]


def test_another_queue_s_worker_does_not_count(make_stack):
    ours = make_stack("rabbitmq")
    theirs = make_stack("rabbitmq")
    theirs.start_worker()
    ours.start_web()

    status, body = health_of(ours)

    assert status == 503, body
    assert body["workers"]["up"] is False


def test_an_unreachable_broker_is_503_with_the_broker_down(make_stack):
    stack = make_stack("rabbitmq", CELERY_BROKER_URL=f"amqp://django:django@127.0.0.1:{free_port()}/rabbit")
    stack.start_web()

    status, body = health_of(stack)

    assert status == 503, body
    assert up_and_down(body) == {"broker": False, "result_backend": True, "workers": False}, body
    assert "Connection refused" in body["broker"]["detail"]
    assert "django:django" not in str(body), "no credentials in the answer"


def test_an_unreachable_result_backend_is_503_with_the_backend_down(make_stack):
    stack = make_stack("rabbitmq")
    stack.start_worker()
    stack.start_web(env={**stack.env, "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{free_port()}/0"})

    status, body = health_of(stack)

    assert status == 503, body
    assert up_and_down(body) == {"broker": True, "result_backend": False, "workers": True}, body
    assert "Connection refused" in body["result_backend"]["detail"]


def test_the_form_page_stays_up_with_the_broker_unreachable(make_stack):
    stack = make_stack("rabbitmq", CELERY_BROKER_URL=f"amqp://django:django@127.0.0.1:{free_port()}/rabbit")
    stack.start_web()

    page = requests.get(stack.base_url + "/", timeout=30)

    assert page.status_code == 200
    assert 'name="first"' in page.text
