"""Every way the broker can refuse a publish is the 503 page, with nothing saved and nothing pending."""

import pytest

from harness.external_services import queue_depth
from harness.processes import HttpClient


@pytest.mark.parametrize(
    "broker_url",
    [
        "amqp://django:wrong-password@127.0.0.1:5672/rabbit",
        "amqp://django:django@127.0.0.1:5672/no-such-vhost",
        # guest may log in, but has no permission on the vhost rabbit.
        "amqp://guest:guest@127.0.0.1:5672/rabbit",
        "amqp://django:django@127.0.0.1:1/rabbit",
    ],
    ids=["refused credentials", "missing vhost", "no permission", "unreachable"],
)
def test_a_broker_that_refuses_is_a_503_with_nothing_saved(make_stack, broker_url):
    stack = make_stack(CELERY_BROKER_URL=broker_url)
    stack.start_web()

    page = HttpClient(stack.base_url).submit("cats", "dogs")

    assert page.status_code == 503
    assert "The message broker is unavailable, so nothing was sent." in page.text
    assert stack.submissions() == []
    depth = queue_depth(stack.queue)
    assert depth is None or depth.total == 0
