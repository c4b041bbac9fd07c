from django.core.management.base import BaseCommand

from submissions import services


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
        counts = services.collect_pending(older_than_seconds=older_than)
        self.stdout.write(
            f"done: {counts['done']}, failed: {counts['failed']}, still pending: {counts['pending']}"
        )
