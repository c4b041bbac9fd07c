import logging
import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from submissions import services
from submissions.broker import masked_url
from web_app.celery import app

CONFIGURATION_VARIABLES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def configuration_notice() -> str:
    """One line naming the broker and result backend in use (passwords masked), and any left unset."""
    notice = f"Broker {masked_url(app.conf.broker_url)}, result backend {masked_url(app.conf.result_backend)}"
    unset = [name for name in CONFIGURATION_VARIABLES if not os.environ.get(name)]
    if unset:
        notice += (
            f" ({' and '.join(unset)} not set, so the embedded one; `make manage ARGS=collect_results` reads .env)"
        )
    return notice


logger = logging.getLogger("submissions.collector")

# Batches of old submissions removed between two sweeps: a large backlog is pruned over several
# sweeps, which go on meanwhile.
PRUNE_BATCHES_PER_SWEEP = 10

# The longest a stop waits for the collector's sleep between sweeps to notice it.
STOP_CHECK_INTERVAL = 0.1


def sleep_unless(stopping: list, seconds: float) -> None:
    """Sleep `seconds`, or until `stopping` holds something."""
    deadline = time.monotonic() + seconds
    while not stopping and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, STOP_CHECK_INTERVAL))


def beat() -> None:
    """Touch COLLECTOR_HEARTBEAT_FILE: a sweep has ended, failed or not, so the loop is not stuck."""
    if settings.COLLECTOR_HEARTBEAT_FILE:
        Path(settings.COLLECTOR_HEARTBEAT_FILE).touch()


class Command(BaseCommand):
    help = (
        "Record the results of pending submissions whose request stopped waiting, send again the tasks "
        "that were lost, and finish recordings a crash interrupted. Once, or with --watch for ever."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Only look at submissions sent at least this long ago.",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help="Sweep every COLLECT_INTERVAL seconds until SIGTERM or SIGINT (the collector process).",
        )

    def handle(self, *args, older_than, watch, **options):
        self.stderr.write(configuration_notice())
        if not watch:
            report = services.collect_pending(older_than_seconds=older_than, report_each=self.report_one)
            self.stdout.write(
                f"done: {report.done}, failed: {report.failed + report.lost}, "
                f"still pending: {report.still_pending + report.not_recorded}, sent again: {report.resent}"
            )
            return
        # A flag, not a threading.Event: a handler that set() an Event could run while the main
        # thread held the Event's own lock (in wait()), and a second signal would deadlock it.
        stopping: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: stopping.append(signum))
        logger.info("Collector started: a sweep every %g s", settings.COLLECT_INTERVAL)
        # The first pruning at the start, then every SUBMISSIONS_PRUNE_INTERVAL.
        next_prune = time.monotonic()
        while not stopping:
            try:
                services.collect_pending(older_than_seconds=older_than, report_each=self.report_one)
            except Exception as exc:  # a sweep that fails (database, backend down) is tried again next time
                logger.warning("Sweep failed, trying again in %g s: %s", settings.COLLECT_INTERVAL, exc)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + settings.SUBMISSIONS_PRUNE_INTERVAL
                try:
                    if services.submissions_prune(max_batches=PRUNE_BATCHES_PER_SWEEP).more:
                        next_prune = time.monotonic()
                    else:
                        services.logins_prune()
                except Exception as exc:  # as a sweep: what is left is pruned next time
                    logger.warning("Pruning failed, trying again in %g s: %s", settings.SUBMISSIONS_PRUNE_INTERVAL, exc)
            beat()
            sleep_unless(stopping, settings.COLLECT_INTERVAL)
        logger.info("Collector stopped")

    @staticmethod
    def report_one(submission):
        if submission.status == submission.Status.DONE:
            logger.info("Recorded submission %s: %r written to the results file", submission.pk, submission.result)
        else:
            logger.info("Recorded submission %s: failed: %s", submission.pk, submission.error)
