"""Sending a submission's task."""

from submissions import services
from submissions.services import sending
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


def counting_reads(monkeypatch, counts):
    """Make the queue's count answer `counts` in turn, and note each read."""
    reads: list[int] = []

    def waiting_tasks(producer):
        reads.append(counts[min(len(reads), len(counts) - 1)])
        return reads[-1]

    monkeypatch.setattr(sending, "waiting_tasks", waiting_tasks)
    return reads


def test_far_from_the_bound_the_queue_is_counted_once_an_interval(settings, monkeypatch):
    settings.SUBMISSIONS_MAX_QUEUED = 100
    reads = counting_reads(monkeypatch, [10])
    count = sending.QueueCount()

    estimates = []
    for _ in range(5):
        estimates.append(count.estimate(None))
        count.sent_one()

    assert estimates == [10, 11, 12, 13, 14]
    assert len(reads) == 1


def test_from_half_the_bound_on_every_submission_reads_the_count(settings, monkeypatch):
    settings.SUBMISSIONS_MAX_QUEUED = 20
    reads = counting_reads(monkeypatch, [8, 12, 13])
    count = sending.QueueCount()

    estimates = []
    for _ in range(4):
        estimates.append(count.estimate(None))
        count.sent_one()

    # 8, then 8 + 1 from memory; from 10 (half the bound) on, each is read.
    assert estimates == [8, 9, 12, 13]
    assert len(reads) == 3


def test_an_old_count_is_read_again(settings, monkeypatch):
    settings.SUBMISSIONS_MAX_QUEUED = 100
    reads = counting_reads(monkeypatch, [3, 30])
    count = sending.QueueCount()
    count.estimate(None)
    count.read_at -= count.READ_INTERVAL

    assert count.estimate(None) == 30
    assert len(reads) == 2
