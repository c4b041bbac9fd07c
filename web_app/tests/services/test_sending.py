"""Sending a submission's task."""

from submissions import services
from web_app.celery import app


def test_a_publish_waits_for_the_broker_s_confirm_for_a_bounded_time(submission, settings, monkeypatch):
    settings.PUBLISH_CONFIRM_TIMEOUT = 1.5
    sent = {}
    real_send_task = app.send_task

    def send_task(name, **options):
        sent.update(options)
        return real_send_task(name, **options)

    monkeypatch.setattr(app, "send_task", send_task)

    services.send(submission)

    assert sent["confirm_timeout"] == 1.5
