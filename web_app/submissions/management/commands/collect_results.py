import os

from django.core.management.base import BaseCommand
from kombu.utils.url import maybe_sanitize_url

from submissions import services
from web_app.celery import app

CONFIGURATION_VARIABLES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def configuration_notice() -> str:
    """One line naming the broker and result backend in use (passwords masked), and any left unset."""
    notice = (
        f"Broker {maybe_sanitize_url(app.conf.broker_url)}, "
        f"result backend {maybe_sanitize_url(app.conf.result_backend)}"
    )
    unset = [name for name in CONFIGURATION_VARIABLES if not os.environ.get(name)]
    if unset:
        notice += (
            f" ({' and '.join(unset)} not set, so the embedded one; "
            "`make manage ARGS=collect_results` reads .env)"
        )
    return notice


class Command(BaseCommand):
    help = "Record the results of pending submissions whose tasks finished after their request gave up."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Only look at submissions sent at least this long ago.",
        )

    def handle(self, *args, older_than, **options):
        self.stderr.write(configuration_notice())
        counts = services.collect_pending(older_than_seconds=older_than)
        self.stdout.write(
            f"done: {counts['done']}, failed: {counts['failed']}, still pending: {counts['pending']}"
        )
